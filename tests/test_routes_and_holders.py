"""Holders that are all of several roles, roles on one side only, and routes chosen by a party
(issue 9, "Pack format").

The pack is invented (Wendover, a joint adults and children escalation protocol, as the issue
describes one): stage 1 is held by the practitioner *and* their team manager together; stage 2
by the receiving agency's duty manager only, who answers "Is this urgent?". Urgent goes to an
independently chaired meeting (stage 3), which then skips the ordinary senior-manager tier
(stage 4) on its way to the partnership's decision (stage 5); not urgent, and a lapse with
nobody choosing, go to stage 4. The YAML is written here and loaded through the real loader
and configuration; cases run on the real engine, SQLite store and scheduler, on the simulated
clock.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import (
    LONDON,
    REPO,
    START,
    clock_of,
    current,
    derived_config,
    fire,
    history,
    pending,
)

from bot.bootstrap import App, bootstrap
from bot.cli import main
from dialogs import record_dialog, texts
from dialogs.case import Case, EntryKind
from dialogs.clock import SimulatedClock
from dialogs.commands import AddParticipant, Escalate, RaiseConcern, RecordDecision, RecordInput
from dialogs.conversation import ConversationService
from dialogs.errors import InvalidInput, NotAllowed
from dialogs.events import EventType
from dialogs.routing import stage_holders
from policy.calendar import WorkingCalendar
from policy.loader import load_policy_file
from policy.model import CORE_INTAKE
from policy.timeline import timeline_as_json, what_if_timeline

PACK_ID = "wendover-joint"
SEED = "wendover_joint_protocol.txt"
CITE = {"seed": SEED, "section": "Escalation"}

# Wendover Council (adults' and children's services) raises; Wendover Health receives.
PIA = "pia.cole@council.wendover.example"  # practitioner, council
TOM = "tom.reed@council.wendover.example"  # team manager, council
DEE = "dee.park@council.wendover.example"  # duty manager, council: the raising side
SUE = "sue.hill@council.wendover.example"  # senior manager, council
HAN = "han.lowe@health.wendover.example"  # practitioner, health
TIA = "tia.moss@health.wendover.example"  # team manager, health
DAN = "dan.frost@health.wendover.example"  # duty manager, health: the receiving side
SAM = "sam.burke@health.wendover.example"  # senior manager, health
IVY = "ivy.shaw@partnership.wendover.example"  # independent chair
BOB = "bob.kerr@partnership.wendover.example"  # business manager
CARA = "cara.west@partnership.wendover.example"  # partnership chair

UNRESOLVED = "Whether the adult's carer assessment and the child's plan go together."


def _stage(number: int, name: str, roles: list[str], days: int, **more: Any) -> dict[str, Any]:
    return {
        "number": number,
        "name": name,
        "holder_roles": roles,
        "allowance_working_days": days,
        "recording": {"recorded_by": "raising agency", "cite": CITE},
        "cite": CITE,
        **more,
    }


ROUTES = {
    "question": "Is this urgent?",
    "chosen_by_role": "duty_manager",
    "options": [
        {"id": "urgent", "label": "Yes: an independently chaired meeting", "next_stage": 3},
        {"id": "not_urgent", "label": "No: the senior managers", "next_stage": 4},
    ],
    "default": "not_urgent",
    "cite": {"seed": SEED, "section": "Urgent matters"},
}


def pack_data() -> dict[str, Any]:
    nsscp = yaml.safe_load((REPO / "policy" / "packs" / "nsscp.yaml").read_text("utf-8"))
    intake = [f for f in nsscp["intake"] if f["id"] in CORE_INTAKE]
    for field in intake:
        if "cite" in field:
            field["cite"] = CITE
    role = lambda i, n, t, **k: {"id": i, "name": n, "tier": t, **k}  # noqa: E731
    return {
        "id": PACK_ID,
        "version": "1",
        "name": "Wendover joint adults and children escalation protocol",
        "partnership": "Wendover Safeguarding Adults and Children Partnership",
        "sources": [SEED],
        "scope": ["children", "adults_at_risk"],
        "calendar": {"country": "GB", "subdivision": "ENG", "time_zone": "Europe/London",
                     "cite": CITE},
        "working_day_definition": "Monday to Friday, not bank holidays",
        "roles": [
            role("practitioner", "Practitioner", 1),
            role("team_manager", "Team manager", 2),
            role("duty_manager", "Duty manager", 2, side="receiving",
                 description="The receiving agency's duty manager that day"),
            role("senior_manager", "Senior manager", 3),
            role("independent_chair", "Independent chair", 0),
            role("partnership_chair", "Partnership chair", 0),
            role("business_manager", "Business manager", 0),
        ],
        "raiser_role": "practitioner",
        "business_team_role": "business_manager",
        "immediate_risk": {
            "guidance": "Act on immediate risk through your own agency first.",
            "action": "Follow your agency's safeguarding procedure now.",
            "cite": CITE,
        },
        "intake_cite": CITE,
        "intake": intake,
        "stages": [
            _stage(1, "Practitioners and their team managers",
                   ["practitioner", "team_manager"], 2, holders="all"),
            _stage(2, "Receiving agency's duty manager", ["duty_manager"], 1, routes=ROUTES),
            _stage(3, "Independently chaired meeting", ["independent_chair"], 1, next_stage=5),
            _stage(4, "Senior managers", ["senior_manager"], 5),
            _stage(5, "Partnership decision", ["partnership_chair"], 10,
                   decision_by="partnership_chair"),
        ],
    }


def _person(email: str, name: str, agency: str, role: str, manager: str | None = None
            ) -> dict[str, Any]:
    entry: dict[str, Any] = {"email": email, "name": name, "agency": agency, "role": role}
    if manager:
        entry["line_manager"] = manager
    return entry


def _add_wendover(data: dict[str, Any]) -> None:
    data["partnerships"].append({
        "id": "wendover",
        "name": "Wendover Safeguarding Adults and Children Partnership",
        "policy": PACK_ID,
        "reference_prefix": "WJ",
        "alerts": {"business_team": "console:wendover-business-team"},
    })
    council, health = "wendover-council", "wendover-health"
    data["agencies"] += [
        {"id": council, "name": "Wendover Council", "partnership": "wendover"},
        {"id": health, "name": "Wendover Health", "partnership": "wendover"},
    ]
    data["people"] += [
        _person(PIA, "Pia Cole", council, "practitioner", TOM),
        _person(TOM, "Tom Reed", council, "team_manager", SUE),
        _person(DEE, "Dee Park", council, "duty_manager", SUE),
        _person(SUE, "Sue Hill", council, "senior_manager"),
        _person(HAN, "Han Lowe", health, "practitioner", TIA),
        _person(TIA, "Tia Moss", health, "team_manager", SAM),
        _person(DAN, "Dan Frost", health, "duty_manager", SAM),
        _person(SAM, "Sam Burke", health, "senior_manager"),
        _person(IVY, "Ivy Shaw", council, "independent_chair"),
        _person(BOB, "Bob Kerr", council, "business_manager"),
        _person(CARA, "Cara West", council, "partnership_chair"),
    ]


def write_pack(folder: Path, data: dict[str, Any]) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / f"{data['id']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def app(tmp_path: Path) -> Any:
    packs = tmp_path / "packs"
    write_pack(packs, pack_data())
    config = derived_config(tmp_path, _add_wendover)
    built = bootstrap(config, tmp_path / "bot.sqlite3", SimulatedClock(START), packs)
    yield built
    built.close()


def conversation(app: App) -> ConversationService:
    return ConversationService(app.engine, app.store, today=lambda: app.clock.now().date())


def raise_one(app: App) -> Case:
    from bot.demo import demo_answers

    policy = app.policies.get(PACK_ID)
    answers = demo_answers(policy, app.engine.people("wendover")[HAN])
    outcome = app.engine.handle(
        RaiseConcern(actor=PIA, partnership_id="wendover", answers=answers)
    )
    assert outcome.case is not None
    return outcome.case


def escalate(app: App, case: Case, actor: str, route: str | None = None) -> Case:
    case = current(app, case)
    app.engine.handle(Escalate(actor=actor, case_id=case.id, expected_version=case.version,
                               unresolved=UNRESOLVED, route=route))
    return current(app, case)


def roles_at(case: Case, stage: int) -> set[tuple[str, str]]:
    return {(p.email, p.side.value) for p in case.participants if p.stage == stage}


def calendar() -> WorkingCalendar:
    return WorkingCalendar(country="GB", subdivision="ENG", time_zone="Europe/London")


# ---- all of several roles; one side only -----------------------------------------------------


def test_a_stage_held_by_all_of_its_roles_brings_in_and_prompts_every_one(app: App) -> None:
    case = raise_one(app)
    assert roles_at(case, 1) == {
        (PIA, "raising"), (HAN, "receiving"), (TOM, "raising"), (TIA, "receiving"),
    }
    prompts = {n.recipient.address for n in pending(app, case) if n.kind == "stage-prompt"}
    assert prompts == {TOM, TIA}
    assert {p.email for p in stage_holders(case, app.policies.get(PACK_ID))} == {
        PIA, HAN, TOM, TIA,
    }
    # "your move" for the team manager, who holds the stage with the practitioner
    (reply,) = conversation(app).on_text(TOM, "status")
    assert reply.card is not None and "your move" in reply.card.facts[0].value.lower()
    # the day's reminder goes to all four holders
    clock_of(app).set(datetime(2027, 2, 3, 9, 0, tzinfo=LONDON))
    fire(app)
    reminded = {n.recipient.address for n in pending(app, case) if n.kind == "reminder"}
    assert reminded == {PIA, HAN, TOM, TIA}


@pytest.mark.parametrize("holders", ["any", "all"])
def test_any_of_holders_bring_in_one_role_for_each_agency_all_of_every_one(
    tmp_path: Path, holders: str
) -> None:
    """With ``holders: any`` (the default, as every bundled pack) the roles are alternatives as
    before: for each agency the first role not yet held is brought in, the team manager, and
    not the senior manager; with ``all`` both are."""
    data = pack_data()
    data["stages"][0]["holder_roles"] = ["practitioner", "team_manager", "senior_manager"]
    data["stages"][0]["holders"] = holders
    packs = tmp_path / "packs"
    write_pack(packs, data)
    built = bootstrap(derived_config(tmp_path, _add_wendover), tmp_path / "b.sqlite3",
                      SimulatedClock(START), packs)
    case = raise_one(built)
    expected = {(PIA, "raising"), (HAN, "receiving"), (TOM, "raising"), (TIA, "receiving")}
    if holders == "all":
        expected |= {(SUE, "raising"), (SAM, "receiving")}
    assert roles_at(case, 1) == expected
    built.close()


def test_a_receiving_side_role_is_brought_in_on_that_side_only(app: App) -> None:
    case = escalate(app, raise_one(app), PIA)
    assert case.stage == 2
    assert roles_at(case, 2) == {(DAN, "receiving")}  # not Dee, the council's duty manager
    assert not [e for e in history(app, case) if e.type is EventType.TIER_EMPTY]
    # the raising agency's duty manager, added by hand, does not hold the receiving side's stage
    app.engine.handle(AddParticipant(actor=PIA, case_id=case.id, expected_version=case.version,
                                     email=DEE))
    case = current(app, case)
    assert case.participant(DEE) is not None
    assert [p.email for p in stage_holders(case, app.policies.get(PACK_ID))] == [DAN]
    (reply,) = conversation(app).on_text(DEE, "status")
    assert reply.card is not None and "your move" not in reply.card.facts[0].value.lower()


# ---- routes ------------------------------------------------------------------------------------


def test_urgent_route_chosen_on_the_card_goes_to_the_chaired_meeting_then_skips_a_tier(
    app: App,
) -> None:
    talk = conversation(app)
    case = escalate(app, raise_one(app), PIA)
    clock_of(app).set(datetime(2027, 2, 3, 11, 0, tzinfo=LONDON))
    card = talk.on_action(DAN, "escalate", {"case_id": case.id, "version": str(case.version)},
                          {}).card
    route = next(i for i in card.inputs if i.id == "route")
    assert route.label == "Is this urgent?" and route.required
    assert route.choices == [("urgent", "Yes: an independently chaired meeting"),
                             ("not_urgent", "No: the senior managers")]
    assert route.help == "Chosen by the Duty manager."

    # sent without an answer: the card comes back with the field's error, nothing changes
    data = {"case_id": case.id, "version": str(case.version), "submit": "1"}
    back = talk.on_action(DAN, "escalate", data, {"unresolved": UNRESOLVED})
    errors = {i.id: i.error for i in back.card.inputs}
    assert errors["route"] == (
        "Pick one of: Yes: an independently chaired meeting, No: the senior managers."
    )
    assert back.message == texts.FIX_THE_CARD
    assert current(app, case).stage == 2

    result = talk.on_action(DAN, "escalate", data, {"route": "urgent", "unresolved": UNRESOLVED})
    case = current(app, case)
    assert case.stage == 3, result.message
    assert IVY in {p.email for p in case.participants if p.stage == 3}
    # the chaired meeting's own allowance: one working day from now
    assert case.stage_due_at == calendar().due(clock_of(app).now(), 1)
    (entry,) = [e for e in case.record if e.kind is EntryKind.ROUTE_CHOSEN]
    assert (entry.stage, entry.by, entry.answers) == (2, DAN, {"route": "urgent"})
    assert "Is this urgent? Yes: an independently chaired meeting" in entry.text
    (event,) = [e for e in history(app, case) if e.type is EventType.ROUTE_CHOSEN]
    assert event.data == {"route": "urgent", "to_stage": "3"}
    assert "Jamie" not in event.summary and case.child.name not in event.summary

    # the meeting cannot agree: on to the partnership's decision, past the senior managers
    case = escalate(app, case, IVY)
    assert case.stage == 5
    assert not [p for p in case.participants if p.stage == 4]
    assert [s.number for s in case.stages_run] == [1, 2, 3, 5]
    app.engine.handle(RecordDecision(actor=CARA, case_id=case.id, expected_version=case.version,
                                     decision="A joint plan, led by the council.",
                                     record=RecordInput()))
    assert current(app, case).status.value == "final_decision"


def test_not_urgent_route_answered_by_typing_a_number_goes_to_the_ordinary_tier(
    app: App,
) -> None:
    case = escalate(app, raise_one(app), PIA)
    policy = app.policies.get(PACK_ID)
    people = app.engine.people("wendover")
    today = app.clock.now().date()
    session = record_dialog.start(case, record_dialog.Purpose.ESCALATE, DAN)
    asked = record_dialog.prompt(policy, session)
    assert asked.text.startswith("Is this urgent?")
    reply = record_dialog.answer(policy, session, "3", today, people)
    assert reply.error == "Pick one of: Yes: an independently chaired meeting, No: the senior" \
        " managers."
    reply = record_dialog.answer(policy, reply.session, "2", today, people)
    reply = record_dialog.answer(policy, reply.session, UNRESOLVED, today, people)
    assert reply.session.state is record_dialog.DialogState.DONE
    command = record_dialog.to_command(policy, reply.session)
    assert isinstance(command, Escalate) and command.route == "not_urgent"
    app.engine.handle(command)
    case = current(app, case)
    assert case.stage == 4
    assert {p.email for p in case.participants if p.stage == 4} == {SUE, SAM}
    assert case.stage_due_at == calendar().due(app.clock.now(), 5)


def test_a_lapse_with_nobody_choosing_takes_the_default(app: App) -> None:
    case = escalate(app, raise_one(app), PIA)
    due = case.stage_due_at
    clock_of(app).set(due)
    fire(app)
    case = current(app, case)
    assert case.stage == 4
    assert case.stage_started_at == due
    (entry,) = [e for e in case.record if e.kind is EntryKind.ROUTE_CHOSEN]
    assert entry.answers == {"route": "not_urgent"} and "Nobody chose" in entry.text
    (event,) = [e for e in history(app, case) if e.type is EventType.ROUTE_CHOSEN]
    assert "by default" in event.summary


def test_only_the_named_party_may_choose(app: App) -> None:
    case = escalate(app, raise_one(app), PIA)
    for who in (PIA, TIA):  # a party on the wrong side, or with the wrong role
        with pytest.raises(NotAllowed) as refused:
            escalate(app, case, who, route="urgent")
        assert "'Is this urgent?' is for the Duty manager to answer" in refused.value.message
    with pytest.raises(NotAllowed):  # not on the case at all
        escalate(app, case, SUE, route="urgent")
    with pytest.raises(InvalidInput) as wrong:
        escalate(app, case, DAN, route="soon")
    assert set(wrong.value.field_errors) == {"route"}
    assert current(app, case).stage == 2
    # the card shows a refusal to someone else, and the case stays where it was
    talk = conversation(app)
    data = {"case_id": case.id, "version": str(case.version), "submit": "1"}
    result = talk.on_action(PIA, "escalate", data, {"route": "urgent", "unresolved": UNRESOLVED})
    assert "is for the Duty manager to answer" in result.message
    assert current(app, case).stage == 2
    # the business team runs the procedure and may choose
    assert escalate(app, case, BOB, route="urgent").stage == 3


def test_the_timeline_follows_the_default_path_and_names_the_alternative(
    tmp_path: Path,
) -> None:
    policy = load_policy_file(write_pack(tmp_path, pack_data()))
    windows = what_if_timeline(policy, START, calendar())
    assert [w.number for w in windows] == [1, 2, 4, 5]
    assert windows[1].alternatives == (("Yes: an independently chaired meeting", 3),)
    # each stage starts when the one before it lapses, with its own allowance
    assert windows[2].starts == windows[1].due
    urgent = what_if_timeline(policy, START, calendar(), first_stage=3)
    assert [w.number for w in urgent] == [3, 5]
    assert timeline_as_json(policy, windows)["stages"][1]["alternatives"] == [  # type: ignore[index]
        {"label": "Yes: an independently chaired meeting", "stage": 3}
    ]


# ---- pack errors ---------------------------------------------------------------------------


def _broken(edit: Any) -> dict[str, Any]:
    data = copy.deepcopy(pack_data())
    edit(data)
    return data


BROKEN = {
    "unknown target": (
        lambda d: d["stages"][1]["routes"]["options"][0].update(next_stage=9),
        "stages[1].routes.options[0].next_stage", "stage 9 is not in the pack",
    ),
    "route to itself": (
        lambda d: d["stages"][1]["routes"]["options"][0].update(next_stage=2),
        "stages[1].routes.options[0].next_stage", "stage 2 leads back to itself",
    ),
    "backwards next_stage": (
        lambda d: d["stages"][3].update(next_stage=2),
        "stages[3].next_stage", "stage 4 leads back to stage 2, before it",
    ),
    "unknown chooser": (
        lambda d: d["stages"][1]["routes"].update(chosen_by_role="duty_officer"),
        "stages[1].routes.chosen_by_role", "names role 'duty_officer', which is not in roles",
    ),
    "default not an option": (
        lambda d: d["stages"][1]["routes"].update(default="later"),
        "stages[1].routes.default", "default 'later' is not one of the options",
    ),
    "last stage leads on": (
        lambda d: d["stages"][4].update(next_stage=3),
        "stages[4].next_stage", "the last stage is where every path ends",
    ),
    "routes and next_stage": (
        lambda d: d["stages"][1].update(next_stage=4),
        "stages[1].next_stage", "the stage has routes, so its next stage is the route chosen",
    ),
    "unknown side": (
        lambda d: d["roles"][2].update(side="both"),
        "roles[2].side", "Input should be 'raising' or 'receiving'",
    ),
}


@pytest.mark.parametrize("case_name", list(BROKEN))
def test_policy_check_names_each_route_problem_with_its_field_and_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case_name: str
) -> None:
    edit, field, message = BROKEN[case_name]
    path = write_pack(tmp_path, _broken(edit))
    code = main(["policy", "check", str(path)])
    err = capsys.readouterr().err
    assert code != 0
    line = next((x for x in err.splitlines() if field in x), "")
    assert message in line, err
    assert "fix" in line.lower() or "fix" in err.lower()


def test_policy_check_accepts_the_joint_protocol(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_pack(tmp_path, pack_data())
    assert main(["policy", "check", str(path)]) == 0, capsys.readouterr().err


def test_typed_in_the_chat_the_question_comes_first_and_a_number_answers_it(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    """The typed conversation (`escalation-bot chat`, as Teams and Slack users who type): the
    duty manager is asked "Is this urgent?" with numbered options; a practitioner is refused."""
    from bot.chat import Chat

    case = escalate(app, raise_one(app), PIA)
    asked: list[str] = []
    answers = iter(["1", UNRESOLVED])

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return next(answers)

    theirs = iter(["2", UNRESOLVED])
    Chat(app, clock_of(app), PIA, ask=lambda prompt: next(theirs)).handle_line(
        f"escalate {case.reference}"
    )
    assert "is for the Duty manager to answer" in capsys.readouterr().out
    assert current(app, case).stage == 2
    Chat(app, clock_of(app), DAN, ask=ask).handle_line(f"escalate {case.reference}")
    assert asked[0].startswith("Is this urgent?")
    assert "1. Yes: an independently chaired meeting" in asked[0]
    assert current(app, case).stage == 3


def test_the_routed_stages_card_says_the_question_who_answers_and_the_default(app: App) -> None:
    case = escalate(app, raise_one(app), PIA)
    prompt = next(n for n in pending(app, case) if n.kind == "stage-prompt"
                  and n.recipient.address == DAN)
    assert prompt.card.text == (
        "Is this urgent? The Duty manager answers when escalating. If nothing is agreed or"
        " chosen by Tue 02 Feb 2027, 17:00, the bot takes 'No: the senior managers' to stage 4"
        " by itself."
    )


def test_policy_show_describes_all_of_holders_sides_and_routes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_pack(tmp_path / "packs", pack_data())
    monkeypatch.setenv("ESCALATION_BOT_PACKS", str(tmp_path / "packs"))
    assert main(["policy", "show", PACK_ID]) == 0
    out = capsys.readouterr().out
    assert "held by all of these roles together" in out
    assert "Duty manager: the receiving agency's only" in out
    assert "Is this urgent? (default on lapse: not_urgent)" in out
    assert "urgent: Yes: an independently chaired meeting -> stage 3" in out
    assert "then stage 5" in out


def test_the_urgent_stage_keeps_its_own_allowance_in_hours(tmp_path: Path) -> None:
    """'Each route with its own allowances': the allowance is the target stage's, in whatever
    unit the pack gives it (here the chaired meeting within 4 hours, day or night)."""
    data = pack_data()
    del data["stages"][2]["allowance_working_days"]
    data["stages"][2]["allowance"] = {"amount": 4, "unit": "elapsed_hours"}
    packs = tmp_path / "packs"
    write_pack(packs, data)
    built = bootstrap(derived_config(tmp_path, _add_wendover), tmp_path / "b.sqlite3",
                      SimulatedClock(START), packs)
    case = escalate(built, escalate(built, raise_one(built), PIA), DAN, route="urgent")
    assert case.stage == 3
    assert case.stage_due_at == built.clock.now() + timedelta(hours=4)
    built.close()
