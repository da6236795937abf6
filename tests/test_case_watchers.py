"""Engine.watch: whoever changes a case (a person on any platform, the scheduler), every watcher
hears of it once per saved change, after it is saved; a watcher's failure undoes nothing."""

from __future__ import annotations

import logging

import pytest
from support import app, clock_of, escalate, fire, raise_case  # noqa: F401 (app: a fixture)

from bot.bootstrap import App
from dialogs.case import Case
from dialogs.commands import Escalate
from dialogs.errors import StaleCase


def test_every_saved_change_is_heard_once_with_its_new_version(app: App) -> None:  # noqa: F811
    heard: list[tuple[str, int]] = []
    app.engine.watch(lambda case: heard.append((case.id, case.version)))
    case = raise_case(app, "northbay")
    assert heard == [(case.id, case.version)]
    moved = escalate(app, case)
    assert heard[-1] == (case.id, moved.version) and len(heard) == 2
    with pytest.raises(StaleCase):  # refused: nothing saved, nobody told
        app.engine.handle(Escalate(actor=case.raised_by, case_id=case.id,
                                   expected_version=case.version, unresolved="again"))
    assert len(heard) == 2
    clock_of(app).set(moved.stage_due_at.replace(year=moved.stage_due_at.year + 1))
    fire(app)  # the scheduler's lapse is a change like any other
    assert len(heard) > 2 and heard[-1][1] > moved.version


def test_a_failing_watcher_is_logged_and_the_change_kept(
    app: App, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    heard: list[Case] = []

    def broken(case: Case) -> None:
        raise RuntimeError("boom")

    app.engine.watch(broken)
    app.engine.watch(heard.append)
    with caplog.at_level(logging.WARNING, logger="escalation_bot.engine"):
        case = raise_case(app, "northbay")
    assert app.store.get_case(case.id) is not None and [c.id for c in heard] == [case.id]
    assert [r.getMessage() for r in caplog.records] == ["a case watcher failed: RuntimeError"]
