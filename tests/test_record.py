"""The written record, kept whole (issue 8): every discussion, agreed resolution, escalation
reason, step completion and decision is its own dated, signed entry; nothing a person wrote is
overwritten; stages keep when they started and ended."""

from __future__ import annotations

import json

import pytest
from support import (
    PARTNERSHIPS,
    app,
    current,
    decide,
    escalate,
    escalate_to,
    handle,
    pending,
    people_with,
    person_notes,
    policy_of,
    raise_case,
    record,
)

from bot.bootstrap import App
from bot.demo import outcome_answers
from dialogs import texts
from dialogs.case import Case, EntryKind, Resolution
from dialogs.commands import ActionInput, RecordDiscussion, Resolve
from dialogs.errors import InvalidInput
from dialogs.record_view import outcome_lines

__all__ = ["app"]


def test_a_resolve_after_a_record_keeps_both_texts(app: App) -> None:
    case = raise_case(app, "northbay")
    counterpart = case.participants[1].email
    handle(app, RecordDiscussion(actor=counterpart, case_id=case.id, record=record(
        "Health think the plan is enough; the council wants an assessment.")))
    case = current(app, case)
    handle(app, Resolve(actor=case.raised_by, case_id=case.id, expected_version=case.version,
                        record=record("Agreed: a joint assessment starts on Monday."),
                        outcome_answers=outcome_answers(app.policies.get("nsscp"))))
    closed = current(app, case)
    kinds = [(e.kind, e.by) for e in closed.record]
    assert kinds == [(EntryKind.DISCUSSION, counterpart), (EntryKind.RESOLUTION, case.raised_by)]
    assert [e.id for e in closed.record] == ["1.1", "1.2"]
    summary = closed.record_for(1).summary
    assert "Health think the plan is enough" in summary
    assert "Agreed: a joint assessment starts on Monday." in summary
    assert closed.resolution is not None
    assert closed.resolution.summary == "Agreed: a joint assessment starts on Monday."


def test_what_remains_unresolved_is_its_own_entry_and_stages_keep_their_dates(app: App) -> None:
    case = raise_case(app, "northbay")
    case = escalate(app, case, unresolved="Whether the assessment is needed now.")
    (left,) = [e for e in case.record if e.kind is EntryKind.UNRESOLVED]
    assert left.stage == 1 and left.text == "Whether the assessment is needed now."
    assert left.by_name and left.by == case.raised_by
    one, two = case.stages_run
    assert (one.number, two.number) == (1, 2)
    assert one.ended_at == two.started_at and one.ended_by == "a party could not agree"
    assert two.ended_at is None


def test_a_correction_is_a_new_entry_naming_the_one_it_corrects(app: App) -> None:
    case = raise_case(app, "northbay")
    handle(app, RecordDiscussion(actor=case.raised_by, case_id=case.id,
                                 record=record("Spoke on Tuseday.")))
    handle(app, RecordDiscussion(actor=case.raised_by, case_id=case.id,
                                 record=record("Spoke on Tuesday.").model_copy(
                                     update={"corrects": "1.1"})))
    first, second = current(app, case).record
    assert first.text == "Spoke on Tuseday."  # what was written stays
    assert second.corrects == "1.1" and second.text == "Spoke on Tuesday."
    with pytest.raises(InvalidInput) as refused:
        handle(app, RecordDiscussion(actor=case.raised_by, case_id=case.id,
                                     record=record("x").model_copy(update={"corrects": "9.9"})))
    assert "no entry 9.9" in refused.value.message


def test_a_case_stored_with_the_old_merged_records_keeps_what_was_written(app: App) -> None:
    """Cases saved before the record was append-only load with their text as entries."""
    case = escalate_to(app, raise_case(app, "northbay"), 2)
    data = json.loads(case.model_dump_json())
    data.pop("record")
    data["stage_records"] = {
        "1": {"stage": 1, "summary": "Talked it through.", "unresolved": "The plan.",
              "agreed_actions": [{"description": "Visit", "owner": "Cal", "due": "2027-02-15"}],
              "answers": {}, "recorded_by": [case.raised_by], "updated_at": data["raised_at"]},
    }
    old = Case.model_validate(data)
    assert [e.kind for e in old.record] == [EntryKind.DISCUSSION, EntryKind.UNRESOLVED]
    assert old.record_for(1).summary == "Talked it through."
    assert old.record_for(1).unresolved == "The plan."
    assert old.record_for(1).agreed_actions[0].owner == "Cal"


# ---- shown to the right people (every bundled procedure) -----------------------------------

UNRESOLVED = "Whether the assessment must start before the review meeting."
AGREED = "Agreed: the council starts a joint assessment; health shares the plan."


def _to_stage_two(app: App, partnership: str) -> Case:
    case = raise_case(app, partnership)
    for _ in range(3):  # SP Jersey's stage 1 has two steps to climb
        if case.stage >= 2:
            break
        case = escalate(app, case, unresolved=UNRESOLVED)
    assert case.stage == 2
    return case


@pytest.mark.parametrize("partnership", list(PARTNERSHIPS), ids=list(PARTNERSHIPS.values()))
def test_the_next_tier_starts_from_what_the_last_left(app: App, partnership: str) -> None:
    case = _to_stage_two(app, partnership)
    prompts = [n for n in pending(app, case) if n.kind == "stage-prompt"]
    assert prompts, "nobody was prompted at stage 2"
    for note in prompts:
        card = note.card
        assert (texts.LEFT_UNRESOLVED, [UNRESOLVED]) in card.sections
        assert card.sections[0][0] == texts.LEFT_UNRESOLVED  # it comes first
        stage_one = card.record[0]
        assert stage_one.collapsed and UNRESOLVED in "\n".join(stage_one.lines)
        assert not card.record[-1].collapsed  # the stage that matters now is open


@pytest.mark.parametrize("partnership", list(PARTNERSHIPS), ids=list(PARTNERSHIPS.values()))
def test_every_party_is_sent_the_agreed_resolution_and_its_actions(
    app: App, partnership: str
) -> None:
    case = current(app, _to_stage_two(app, partnership))
    actions = [ActionInput(description="Joint home visit", owner="Cal Birch", due="15/02/2027")]
    handle(app, Resolve(actor=case.raised_by, case_id=case.id, expected_version=case.version,
                        record=record(AGREED, agreed_actions=actions),
                        outcome_answers=outcome_answers(policy_of(app, partnership))))
    closed = current(app, case)
    told = {n.recipient.address: n.card for n in person_notes(pending(app, case))
            if n.kind == "resolved"}
    assert set(told) >= {p.email for p in closed.active_participants()}
    resolution = next(e for e in closed.record if e.kind is EntryKind.RESOLUTION)
    # each action carries its id (the first of the resolution's entry): owners answer by it
    line = f"{resolution.id}.1 Joint home visit: Cal Birch, by Mon 15/02/2027"
    for card in told.values():
        shown = card.all_text()
        assert AGREED in shown
        assert f"• {line}" in shown  # in the record, as a bullet of its entry
        # and under the outcome, a section the client draws its own bullets for
        assert (texts.OUTCOME_RESOLUTION, [AGREED, line]) in card.sections


@pytest.mark.parametrize("partnership", list(PARTNERSHIPS), ids=list(PARTNERSHIPS.values()))
def test_every_party_is_sent_the_final_word_in_the_procedures_own_name(
    app: App, partnership: str
) -> None:
    policy = policy_of(app, partnership)
    final = policy.final_stage
    case = escalate_to(app, raise_case(app, partnership), final.number)
    decider = people_with(app, partnership, final.decision_by or final.holder_roles[0])[0]
    decide(app, case, decider.email)
    closed = current(app, case)
    told = [n for n in person_notes(pending(app, case)) if n.kind == "decided"]
    assert {n.recipient.address for n in told} >= {p.email for p in closed.active_participants()}
    word = final.decision_word
    for note in told:
        assert "A joint assessment starts next week." in note.card.all_text()
        assert note.card.title.endswith(f"the partnership's {word}")
    assert word == ("recommendation" if partnership == "carrow-board" else "decision")


def test_an_outcome_without_words_of_its_own_shows_the_stages_record(app: App) -> None:
    """The agreed text recorded just before a resolve that adds none: the heading is never
    shown empty."""
    case = current(app, _to_stage_two(app, "northbay"))
    handle(app, RecordDiscussion(actor=case.raised_by, case_id=case.id, record=record(AGREED)))
    case = current(app, case)
    closed = current(app, case).model_copy(deep=True)
    closed.record = [e for e in closed.record if e.stage != 2 or e.text]  # as stored: the text
    closed.resolution = Resolution(at=case.raised_at, stage=2, by=case.raised_by, summary="")
    label, lines = outcome_lines(closed, policy_of(app, "northbay"))
    assert label == texts.OUTCOME_RESOLUTION
    assert lines and AGREED in lines[0]


def test_nsscp_shares_a_stage_1_outcome_with_the_raisers_line_manager(app: App) -> None:
    """Seed 001, Recording: "shared with relevant personnel, beginning with the practitioner
    who raised the issue and their line manager", who is not on a stage-1 case."""
    case = raise_case(app, "northbay")
    manager = app.engine.people("northbay")[case.raised_by].line_manager
    assert manager is not None and not case.is_party(manager)
    case = current(app, case)
    handle(app, Resolve(actor=case.raised_by, case_id=case.id, expected_version=case.version,
                        record=record(AGREED),
                        outcome_answers=outcome_answers(policy_of(app, "northbay"))))
    (told,) = [n for n in person_notes(pending(app, case), manager) if n.kind == "resolved"]
    assert AGREED in told.card.all_text() and told.card.actions == []


def test_a_line_manager_already_on_the_case_is_told_once(app: App) -> None:
    case = current(app, _to_stage_two(app, "northbay"))
    manager = app.engine.people("northbay")[case.raised_by].line_manager
    assert manager is not None and case.is_party(manager)
    handle(app, Resolve(actor=case.raised_by, case_id=case.id, expected_version=case.version,
                        record=record(AGREED),
                        outcome_answers=outcome_answers(policy_of(app, "northbay"))))
    told = [n for n in person_notes(pending(app, case), manager) if n.kind == "resolved"]
    assert len(told) == 1


def test_a_long_record_still_fits_a_card_and_says_where_the_rest_is(app: App) -> None:
    """Teams refuses cards over ~28 KB: older stages give way, with a note, never silently."""
    case = raise_case(app, "northbay")
    long_text = "We went over the chronology again in detail. " * 25  # ~1,100 characters
    for _ in range(12):
        case = current(app, case)
        handle(app, RecordDiscussion(actor=case.raised_by, case_id=case.id,
                                     record=record(long_text)))
    case = escalate(app, current(app, case), unresolved=UNRESOLVED)
    card = next(n.card for n in pending(app, case) if n.kind == "stage-prompt")
    total = sum(len(b.title) + sum(len(line) for line in b.lines) for b in card.record)
    assert total <= 9000
    first, last = card.record[0], card.record[-1]
    assert len(first.lines) == 1 and "left off this card" in first.lines[0]
    assert f"escalation-bot record {case.reference}" in first.lines[0]
    assert (texts.LEFT_UNRESOLVED, [UNRESOLVED]) in card.sections  # the next tier still sees it
    assert last.lines  # the current stage is whole


def test_what_happens_at_the_due_time_names_the_due_time(app: App) -> None:
    """'If nothing is agreed by then' came before the date it meant (issue 10, point 6)."""
    case = current(app, raise_case(app, "northbay"))
    note = next(n for n in pending(app, case) if n.kind == "raised-counterpart")
    assert note.card.text == (
        "If nothing is agreed by Tue 02 Feb 2027, 17:00, the bot escalates to stage 2 by itself."
    )
