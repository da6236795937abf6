"""No field id, step id or Python name in what a person is told (issue 10, point 2): a refusal
where no card can show the error beside its field names the field as people read it.

Each case here was seen saying an id: `to_email: … is already involved`, `counterpart: … works
in your own agency`, `Please correct: agreed_actions: Action 1: …`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import (
    app_for,
    current,
    handle,
    policy_of,
    practitioners,
    raise_command,
    record,
)

from bot.bootstrap import App
from dialogs.commands import ActionInput, HandOver, RecordDiscussion
from dialogs.errors import InvalidInput


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    built, _ = app_for(tmp_path)
    yield built
    built.close()


def ids_of(app: App, partnership: str) -> set[str]:
    """Every id a pack author gives a question or a step, and the core commands' fields."""
    policy = policy_of(app, partnership)
    found = {f.id for f in policy.intake}
    found |= {f.id for form in policy.forms for s in form.sections for f in s.fields}
    found |= {s.id for stage in policy.stages for s in stage.steps}
    found |= {"to_email", "agreed_actions", "new_due", "start_stage", "corrects"}
    return {i for i in found if "_" in i or "-" in i}  # one-word ids read as words anyway


def assert_plain(message: str, ids: set[str]) -> None:
    for field_id in ids:
        assert not re.search(rf"(?<![\w-]){re.escape(field_id)}(?![\w-])", message), (
            field_id, message)


def test_refusals_name_fields_in_words(app: App) -> None:
    ids = ids_of(app, "northbay")
    messages: list[str] = []
    raiser, _ = practitioners(app, "northbay")
    same_agency = next(p for p in app.store.people("northbay")
                       if p.agency == raiser.agency and p.email != raiser.email)
    for command in (
        raise_command(app, "northbay", counterpart=same_agency),
        raise_command(app, "northbay", child_dob="31/02/2016", summary=""),
    ):
        with pytest.raises(InvalidInput) as refused:
            handle(app, command)
        messages.append(refused.value.message)
    raised = handle(app, raise_command(app, "northbay")).case
    assert raised is not None
    case = current(app, raised)
    other = next(p.email for p in case.participants if p.email != case.raised_by)
    for command in (
        HandOver(actor=case.raised_by, case_id=case.id, to_email=other, reason="Leave"),
        RecordDiscussion(actor=case.raised_by, case_id=case.id, record=record(
            agreed_actions=[ActionInput(description="Visit", owner="Dana", due="ASAP")])),
    ):
        with pytest.raises(InvalidInput) as refused:
            handle(app, command)
        messages.append(refused.value.message)
    assert len(messages) == 4
    for message in messages:
        assert_plain(message, ids)
    asked = next(f.label for f in policy_of(app, "northbay").intake if f.id == "counterpart")
    assert messages[0].startswith(f"Please correct: {asked} ")  # the pack's own question
    assert "Agreed actions" in messages[3] and "'ASAP' is not a date" in messages[3]
    assert "Hand over to:" in messages[2]
