"""Timers chain: every deadline the `timeline` command shows is one the engine keeps (issue 9).

`policy/timeline.py` is the what-if a safeguarding lead reads ("if nobody resolves anything, stage 6
falls due on ..., the Chair's recommendation on ..."). These tests drive a real case through every
bundled pack on the simulated clock, letting each deadline lapse in turn through the scheduler, and
compare every stage and every step the engine ran with the timeline's. Before the fix a step that
lapsed with ``on_lapse: remind`` never started the step after it: Jersey 2014's Board Chair was
never prompted and their five working days never ran, though the timeline showed them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import (
    JERSEY,
    PARTNERSHIPS,
    REPO,
    START,
    app_for,
    clock_of,
    current,
    derived_config,
    escalate_to,
    fire,
    local,
    pending,
    policy_of,
    raise_case,
)

from bot.bootstrap import App, bootstrap
from dialogs.case import Case
from dialogs.clock import SimulatedClock
from dialogs.events import EventType
from policy.timeline import what_if_timeline

OLI_R = "oli.rowe@partnership.carrow-board.example"  # Jersey 2014's Board Chair
CB = "carrow-board"
BEA = "bea.lane@council.northbay.example"  # senior manager, council
FERN = "fern.ash@health.northbay.example"  # senior manager, health

# Raised on a Monday morning, on a Friday after hours, and just before Christmas (holidays in
# the chain), so the same-day and weekend rules are crossed on the way through.
STARTS = {
    "monday-morning": datetime(2027, 2, 1, 10, 0, tzinfo=UTC),
    "friday-evening": datetime(2027, 2, 5, 18, 30, tzinfo=UTC),
    "before-christmas": datetime(2027, 12, 20, 11, 0, tzinfo=UTC),
}

Windows = dict[tuple[int, str], tuple[datetime, datetime]]


def _run_to_the_end(app: App, case: Case) -> tuple[Windows, list[Any]]:
    """Let every stage and step deadline lapse in time order, through the scheduler; return each
    (stage, step) the engine started with its start and due time, and the stage spans it ran."""
    clock = clock_of(app)
    steps: Windows = {}
    for _ in range(200):
        now = current(app, case)
        for state in now.steps:
            steps[(now.stage, state.id)] = (state.started_at, state.due_at)
        timed = [
            d for d in app.store.deadlines_for_case(case.id) if d.kind in {"stage", "step"}
        ]
        if not timed:
            return steps, now.stages_run
        clock.set(min(d.due_at for d in timed))
        fire(app)
    raise AssertionError("the case never came to rest")


@pytest.mark.parametrize("raised", list(STARTS.values()), ids=list(STARTS))
@pytest.mark.parametrize("partnership", list(PARTNERSHIPS))
def test_every_deadline_the_timeline_shows_is_kept_by_the_engine(
    tmp_path: Path, partnership: str, raised: datetime
) -> None:
    app, _ = app_for(tmp_path, start=raised)
    policy = policy_of(app, partnership)
    calendar = app.engine.calendar_for(app.config.partnership(partnership), policy)
    case = raise_case(app, partnership)

    steps, spans = _run_to_the_end(app, case)

    timeline = what_if_timeline(policy, raised, calendar)
    assert [(s.number, s.started_at, s.due_at) for s in spans] == [
        (w.number, w.starts, w.due) for w in timeline
    ]
    expected = {(w.number, s.id): (s.starts, s.due) for w in timeline for s in w.steps}
    assert steps == expected
    # every pack's steps are all covered: none of them is left out of the comparison
    assert len(expected) == sum(len(stage.steps) for stage in policy.stages)


@pytest.mark.parametrize("raised", list(STARTS.values()), ids=list(STARTS))
@pytest.mark.parametrize("partnership", list(PARTNERSHIPS))
def test_no_step_of_any_pack_is_due_the_moment_it_starts(
    tmp_path: Path, partnership: str, raised: datetime
) -> None:
    """Stages are entered by lapse at end of business: a same-day step started then must not be
    overdue at birth (NSSCP stage 4's referral was)."""
    app, _ = app_for(tmp_path, start=raised)
    steps, _spans = _run_to_the_end(app, raise_case(app, partnership))
    assert [key for key, (start, due) in steps.items() if due <= start] == []


def test_jersey_2014_the_chair_is_prompted_when_the_referral_lapses(tmp_path: Path) -> None:
    """Stage 6: nobody refers to the Board Chair within 2 working days. The referral is chased
    (``remind``), and the Chair's step starts at its due time all the same: the Chair joins,
    is prompted, and has five working days from then."""
    app, clock = app_for(tmp_path)
    case = escalate_to(app, raise_case(app, CB), 6)  # Mon 1 Feb 10:00: refer due Wed 3 Feb
    refer = case.step("refer-to-board-chair")
    assert refer is not None
    referral_due = datetime(2027, 2, 3, 17, 0, tzinfo=JERSEY)
    assert refer.due_at == referral_due

    clock.set(referral_due)
    fire(app)

    case = current(app, case)
    refer = case.step("refer-to-board-chair")
    assert refer is not None and refer.lapsed and not refer.done
    chair = case.step("chair-recommendation")
    assert chair is not None, "the Chair's step never started"
    assert (chair.started_at, chair.due_at) == (referral_due, local(10, 17, zone=JERSEY))
    assert case.participant(OLI_R) is not None
    prompts = [n for n in pending(app, case) if n.kind == "step-prompt"]
    assert [(n.recipient.address, n.card.title) for n in prompts] == [
        (OLI_R, "Case CB-0001: 'Chair's recommendation' is now yours")
    ]
    started = [e for e in app.store.history(case.id) if e.type is EventType.STEP_STARTED]
    assert [e.data["step"] for e in started][-1] == "chair-recommendation"

    # the referral made late, after the Chair's step began, does not restart the Chair's clock
    from dialogs.commands import CompleteStep

    clock.set(local(4, 10, zone=JERSEY))
    rep = next(p for p in case.participants if p.role == "board_representative")
    app.engine.handle(
        CompleteStep(
            actor=rep.email,
            case_id=case.id,
            expected_version=case.version,
            step_id="refer-to-board-chair",
        )
    )
    chair_now = current(app, case).step("chair-recommendation")
    assert chair_now is not None and chair_now.due_at == chair.due_at


def _pack_with_a_step_for_senior_managers(tmp_path: Path) -> Path:
    """NSSCP with one more stage-2 step, owned by a role that does not hold stage 2: the senior
    managers are asked to be told within a day (an invented variant, for the rule)."""
    data = yaml.safe_load((REPO / "policy" / "packs" / "nsscp.yaml").read_text(encoding="utf-8"))
    data["id"] = "nsscp-steps"
    data["stages"][1]["steps"] = [
        {
            "id": "brief-senior-managers",
            "name": "Brief the senior managers",
            "owner_role": "senior_manager",
            "allowance_working_days": 1,
            "cite": {"seed": "001_9a127cc8a84eb14f.txt", "section": "Procedure: Stage 2"},
        }
    ]
    packs = tmp_path / "packs"
    packs.mkdir()
    (packs / "nsscp-steps.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return packs


def _northbay_on(policy_id: str) -> Any:
    def edit(data: dict[str, Any]) -> None:
        for partnership in data["partnerships"]:
            if partnership["id"] == "northbay":
                partnership["policy"] = policy_id

    return edit


def test_a_step_brings_in_its_owners_when_it_starts_with_the_stage(tmp_path: Path) -> None:
    """A step owner who holds no role at the stage joins when the step starts, and is prompted
    with the step, or nobody would be chased when it lapses."""
    packs = _pack_with_a_step_for_senior_managers(tmp_path)
    config = derived_config(tmp_path, _northbay_on("nsscp-steps"))
    app = bootstrap(config, tmp_path / "bot.sqlite3", SimulatedClock(START), packs)
    case = escalate_to(app, raise_case(app, "northbay"), 2)

    seniors = {BEA, FERN}
    assert seniors <= {p.email for p in case.participants if p.stage == 2}
    prompts = [n for n in pending(app, case) if n.kind == "step-prompt"]
    assert {n.recipient.address for n in prompts} == seniors
    assert {n.card.title for n in prompts} == {
        "Case NB-0001: 'Brief the senior managers' is now yours"
    }
    app.close()


# Hour allowances (issue 9, "Pack format"): the same comparison on Saltmere's invented pack,
# whose stages and steps are in working hours, elapsed hours and working days, one of them
# prompted immediately; started also at 22:00, when only the elapsed hours run.
HOUR_STARTS = {**STARTS, "monday-10pm": datetime(2027, 2, 1, 22, 0, tzinfo=UTC)}


@pytest.mark.parametrize("raised", list(HOUR_STARTS.values()), ids=list(HOUR_STARTS))
def test_every_hour_deadline_the_timeline_shows_is_kept_by_the_engine(
    tmp_path: Path, raised: datetime
) -> None:
    from hour_packs import HOURS_PACK, hours_pack_data, on_pack, write_pack

    packs = write_pack(tmp_path, hours_pack_data())
    config = derived_config(tmp_path, on_pack(HOURS_PACK))
    app = bootstrap(config, tmp_path / "bot.sqlite3", SimulatedClock(raised), packs)
    policy = policy_of(app, "northbay")
    calendar = app.engine.calendar_for(app.config.partnership("northbay"), policy)

    steps, spans = _run_to_the_end(app, raise_case(app, "northbay"))

    timeline = what_if_timeline(policy, raised, calendar)
    assert [(s.number, s.started_at, s.due_at) for s in spans] == [
        (w.number, w.starts, w.due) for w in timeline
    ]
    assert steps == {(w.number, s.id): (s.starts, s.due) for w in timeline for s in w.steps}
    assert len(steps) == sum(len(stage.steps) for stage in policy.stages)
    assert [key for key, (start, due) in steps.items() if due <= start] == []
    app.close()


# ---- conditional steps and counted-from deadlines (issue 9: the invented Lowmoor LSCB pack) ----


@pytest.mark.parametrize("raised", list(STARTS.values()), ids=list(STARTS))
def test_the_timeline_of_a_pack_with_branches_is_kept_on_both_paths(
    tmp_path: Path, raised: datetime
) -> None:
    """The timeline's path is "nothing is done": the meeting lapses unanswered, which the engine
    takes as not agreed, so the further meeting runs. The agreed branch is shown too, as if
    agreed at the meeting's deadline; agreeing at that moment makes the engine keep it, with the
    written confirmation counted from the decision."""
    from test_step_outcomes import CAL, lowmoor_app

    from dialogs.commands import CompleteStep

    for agreed in (False, True):
        app = lowmoor_app(tmp_path / ("agreed" if agreed else "lapsed"), start=raised)
        policy = policy_of(app, "northbay")
        calendar = app.engine.calendar_for(app.config.partnership("northbay"), policy)
        timeline = what_if_timeline(policy, raised, calendar)
        case = raise_case(app, "northbay")
        branch = "agreed" if agreed else "not_agreed"
        if agreed:  # let stage 1 lapse, then agree the meeting at its deadline
            clock = clock_of(app)
            clock.set(current(app, case).stage_due_at)
            fire(app)
            meeting = current(app, case).step("meeting")
            assert meeting is not None
            clock.set(meeting.due_at)
            case = current(app, case)
            app.engine.handle(CompleteStep(actor=CAL, case_id=case.id,
                                           expected_version=case.version,
                                           step_id="meeting", outcome="agreed"))
        steps, spans = _run_to_the_end(app, case)

        assert [(s.number, s.started_at, s.due_at) for s in spans] == [
            (w.number, w.starts, w.due) for w in timeline
        ]
        expected = {
            (w.number, s.id): (s.starts, s.due)
            for w in timeline for s in w.steps if s.when in (None, branch)
        }
        assert {k: v for k, v in steps.items() if k in expected} == expected
        skipped = {k for k in steps if k not in expected}
        assert skipped == {
            (2, s.id) for s in policy.stage(2).steps if s.when not in (None, branch)
        }
        shown = {s.id: s for s in timeline[1].steps}
        assert shown["confirm"].counted_from == "meeting"
        assert shown["confirm"].default_path is False and shown["further-meeting"].default_path
        app.close()
