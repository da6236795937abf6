"""The two procedures the issue found the format could not say, written as packs of our own and
run as whole cases through the engine and the scheduler (issue 9, "Done when").

**Wendover joint adults and children escalation protocol** (invented): the receiving agency
acknowledges *immediately* (prompted at once at any hour, 2 working hours to do it); stage 1 is
held by each practitioner *and* their team manager, within *48 working hours*; stage 2 belongs to
the receiving agency's duty manager only, who answers "Is this urgent?": urgent goes to an
independently chaired meeting, which skips the senior managers on its way to the partnership's
decision. The LSCB procedure with outcome letters (Lowmoor) runs whole in
tests/test_step_outcomes.py; its construct-by-construct cases live there.

Every time below comes from the clock and the scheduler; nothing sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from support import LONDON, clock_of, current, derived_config, fire, history, pending
from test_routes_and_holders import (
    CARA,
    DAN,
    HAN,
    IVY,
    PACK_ID,
    PIA,
    TIA,
    TOM,
    _add_wendover,
    conversation,
    pack_data,
    write_pack,
)

from bot.bootstrap import App, bootstrap
from bot.demo import demo_answers
from dialogs.case import CaseStatus, EntryKind
from dialogs.clock import SimulatedClock
from dialogs.commands import RaiseConcern, RecordDecision
from dialogs.events import EventType

FRIDAY_1600 = datetime(2027, 2, 5, 16, 0, tzinfo=LONDON)
ACK_CITE = {"seed": "wendover_joint_protocol.txt", "section": "Acknowledging a concern"}


def joint_protocol() -> dict[str, object]:
    data = pack_data()
    first = data["stages"][0]  # type: ignore[index]
    del first["allowance_working_days"]
    first["allowance"] = {"amount": 48, "unit": "working_hours"}
    first["steps"] = [{
        "id": "acknowledge",
        "name": "Acknowledge the concern",
        "owner_role": "practitioner",
        "prompt": "immediately",
        "allowance": {"amount": 2, "unit": "working_hours"},
        "description": "Reply to say you have seen it, and when you can talk.",
        "cite": ACK_CITE,
    }]
    return data


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    packs = tmp_path / "packs"
    write_pack(packs, joint_protocol())
    config = derived_config(tmp_path, _add_wendover)
    built = bootstrap(config, tmp_path / "bot.sqlite3", SimulatedClock(FRIDAY_1600), packs)
    yield built
    built.close()


def test_the_joint_protocol_runs_whole_through_every_construct(app: App) -> None:
    policy = app.policies.get(PACK_ID)
    answers = demo_answers(policy, app.engine.people("wendover")[HAN])
    clock_of(app).set(FRIDAY_1600 + timedelta(hours=6))  # Friday 22:00: out of hours
    raised = app.engine.handle(RaiseConcern(actor=PIA, partnership_id="wendover",
                                            answers=answers)).case
    assert raised is not None
    case = current(app, raised)

    # all of the stage's roles hold it: both practitioners and both team managers
    assert {p.email for p in case.participants if p.stage == 1} == {PIA, HAN, TOM, TIA}
    # "acknowledge immediately": the receiving practitioner is prompted now, at 22:00, urgent
    now_prompts = [n for n in pending(app, case) if n.kind.startswith("step-now")]
    assert HAN in {n.recipient.address for n in now_prompts}
    assert all(n.urgent and n.deliver_at == app.clock.now() for n in now_prompts)
    step = case.step("acknowledge")
    assert step is not None
    # 2 working hours from a Friday-night start: Monday 11:00
    assert step.due_at == datetime(2027, 2, 8, 11, 0, tzinfo=LONDON)
    # 48 working hours from Friday 22:00 is six business days from Monday 09:00: the next
    # Monday at 17:00
    assert case.stage_due_at == datetime(2027, 2, 15, 17, 0, tzinfo=LONDON)

    # nobody acknowledges: the step lapses through the scheduler on Monday at 11:00
    clock_of(app).set(datetime(2027, 2, 8, 11, 0, tzinfo=LONDON))
    fire(app)
    lapsed = [e for e in history(app, case) if e.type is EventType.STEP_LAPSED]
    assert [e.data.get("step") for e in lapsed] == ["acknowledge"]

    # the 48 working hours run out: stage 2, held by the receiving side's duty manager only
    clock_of(app).set(datetime(2027, 2, 15, 17, 0, tzinfo=LONDON))
    fire(app)
    case = current(app, case)
    assert case.stage == 2
    assert {p.email for p in case.participants if p.stage == 2} == {DAN}

    # Dan answers "Is this urgent?" on the escalate card: yes, the chaired meeting (stage 3)
    talk = conversation(app)
    clock_of(app).set(datetime(2027, 2, 16, 10, 0, tzinfo=LONDON))
    data = {"case_id": case.id, "version": str(case.version), "submit": "1"}
    result = talk.on_action(DAN, "escalate", data,
                            {"route": "1", "unresolved": "Whether the plans go together."})
    case = current(app, case)
    assert case.stage == 3, result.message
    assert IVY in {p.email for p in case.participants if p.stage == 3}
    assert any(e.kind is EntryKind.ROUTE_CHOSEN for e in case.record)
    # the history names the answer as people read it, not the option's id
    routes = [e.summary for e in history(app, case) if e.type is EventType.ROUTE_CHOSEN]
    assert routes == ["route chosen: 'Yes: an independently chaired meeting', on to stage 3"]

    # the meeting's day lapses: the senior managers' stage is skipped, the partnership decides
    clock_of(app).set(case.stage_due_at)
    fire(app)
    case = current(app, case)
    assert case.stage == 5 and 4 not in {s.number for s in case.stages_run}
    app.engine.handle(RecordDecision(actor=CARA, case_id=case.id,
                                     expected_version=case.version,
                                     decision="One joint plan, led by adult services."))
    case = current(app, case)
    assert case.status is CaseStatus.FINAL_DECISION
    assert [s.number for s in case.stages_run] == [1, 2, 3, 5]
