"""Agreed actions typed one at a time (issue 10, point 5): what, then who, then by when, then
"another?", so Enter never sends half a list; each part is checked as it is typed; a stage-1
record asks for its summary as required instead of saying "optional" and refusing the skip at
the end with every answer lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import app_for, current, handle, policy_of, raise_case

from bot.bootstrap import App
from dialogs import record_dialog, texts
from dialogs.record_dialog import DialogState, Purpose


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    built, _ = app_for(tmp_path)
    yield built
    built.close()


def test_actions_are_asked_one_part_at_a_time_and_all_are_kept(app: App) -> None:
    case = raise_case(app, "northbay")
    policy = policy_of(app, "northbay")
    people = app.engine.people("northbay")
    today = app.clock.now().date()
    session = record_dialog.start(case, Purpose.RECORD, case.raised_by)
    asked: list[str] = []

    def say(text: str) -> str:
        nonlocal session
        asked.append(record_dialog.prompt(policy, session).text)
        reply = record_dialog.answer(policy, session, text, today, people)
        session = reply.session
        return reply.error

    first = record_dialog.prompt(policy, session)
    assert first.field is not None and first.field.id == "summary"
    assert "optional" not in first.text  # the discussion is needed: never offered as a skip
    assert say("-") == texts.REQUIRED
    assert say("Both views heard.") == ""
    assert say("Share the chronology") == ""
    assert asked[-1].endswith(texts.ACTION_ASK_WHAT.format(n=1) + texts.ACTION_ASK_WHAT_SKIP)
    assert say("") == texts.ACTION_NEEDS_WHO
    assert say("Dana Marsh") == ""
    assert "not a date" in say("ASAP")  # kept at the date, with what and who
    assert say("04/02/2027") == ""
    assert asked[-1] == texts.ACTION_ASK_WHEN
    assert say("1") == ""  # another: yes, by its number
    assert say("Visit together") == ""
    assert say("Hana Moss") == ""
    assert say("back") == ""  # starts this action again, keeps the first
    assert say("Joint visit") == ""
    assert say("Hana Moss") == ""
    assert say("05/02/2027") == ""
    assert say("2") == ""  # no more
    while session.state is DialogState.ASKING:
        assert say("-") == ""
    handle(app, record_dialog.to_command(policy, session))
    actions = current(app, case).record[-1].agreed_actions
    assert [(a.description, a.owner, a.due.isoformat()) for a in actions] == [
        # chosen from the case's parties (by name here): kept as their email
        ("Share the chronology", "dana.marsh@council.northbay.example", "2027-02-04"),
        ("Joint visit", "hana.moss@health.northbay.example", "2027-02-05"),
    ]
