"""What the pack says reaches a person at the moment it matters (issue 9, "Showing what the pack
says"): factors to consider at intake, the step's description on its owner's prompt, the role
described when someone must be named for it, where the record is kept and the procedure's
principles beside the record, the pack's hand-over guidance when handing over, the debrief after
an NSSCP resolution, and the data the partnership collects on its business team's alert.

Every line comes from the pack: the tests read the pack for the words they expect, so a pack
author's change shows, and a pack without the field shows nothing in its place.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import (
    PARTNERSHIPS,
    app_for,
    business_team_channel,
    channel_notes,
    current,
    derived_config,
    escalate,
    pending,
    person_notes,
    policy_of,
    raise_case,
    resolve,
)

from adapters.console.render import render_card
from adapters.teams.cards import adaptive_card
from bot.bootstrap import App
from dialogs import record_dialog, texts
from dialogs.conversation import ConversationService, intake_card

GUS = "gus.penn@health.northbay.example"  # the health line manager in the example directory
FERN = "fern.ash@health.northbay.example"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    built, _ = app_for(tmp_path)
    yield built
    built.close()


def service(app: App) -> ConversationService:
    return ConversationService(app.engine, app.store, today=lambda: app.clock.now().date())


@pytest.mark.parametrize("partnership", sorted(PARTNERSHIPS))
def test_factors_to_consider_come_before_the_first_question(app: App, partnership: str) -> None:
    policy = policy_of(app, partnership)
    card = intake_card(policy)
    manager = next(p for p in app.store.people(partnership) if p.role == policy.raiser_role)
    replies = service(app).on_text(manager.email, "escalate")
    said = "\n".join(r.text for r in replies)
    if policy.at_intake is None:
        assert len(card.sections) == 1 + bool(policy.special_routes)
        return
    assert (policy.at_intake.heading, list(policy.at_intake.items)) in card.sections
    # typed instead of the card: the factors come before the first question
    assert policy.at_intake.items[0] in said
    assert said.index(policy.at_intake.items[-1]) < said.index(texts.CARD_OR_TYPE)


def test_jersey_2014_shows_its_factors_and_the_others_none(app: App) -> None:
    shown = {p: policy_of(app, p).at_intake is not None for p in PARTNERSHIPS}
    assert shown == {"carrow-board": True, "northbay": False, "havenport": False,
                     "carrow": False}


@pytest.mark.parametrize("partnership", sorted(PARTNERSHIPS))
def test_the_record_card_says_where_it_is_kept_and_folds_the_principles(
    app: App, partnership: str
) -> None:
    policy = policy_of(app, partnership)
    case = raise_case(app, partnership)
    card = service(app).case_card(current(app, case), case.raised_by)
    recording = policy.stage(case.stage).recording
    notes = {n.title: n for n in card.notes}
    if recording.kept_on:
        kept = notes[texts.KEPT_ON_TITLE]
        assert not kept.collapsed and len(kept.lines) == 1
        assert all(place in kept.lines[0] for place in recording.kept_on)
        assert recording.recorded_by in kept.lines[0]
    else:
        assert texts.KEPT_ON_TITLE not in notes
    principles = notes[texts.PRINCIPLES_TITLE]
    assert principles.collapsed and principles.lines == list(policy.principles)

    # Teams: the principles open with a tap; the console names them without printing them all
    rendered = adaptive_card(card)
    folded = [e for e in rendered["body"] if e.get("id", "").startswith("note-")]
    assert [e["isVisible"] for e in folded][-1] is False
    toggles = [e["selectAction"]["targetElements"] for e in rendered["body"]
               if e.get("selectAction", {}).get("type") == "Action.ToggleVisibility"]
    assert [folded[-1]["id"]] in toggles
    text = render_card(card)
    assert f"▸ {texts.PRINCIPLES_TITLE} ({len(policy.principles)})" in text
    assert policy.principles[-1] not in text


def test_handing_over_shows_the_packs_guidance(app: App) -> None:
    policy = policy_of(app, "northbay")
    (to_email, _) = record_dialog.questions(policy, 1, record_dialog.Purpose.HANDOVER)
    assert to_email.help == policy.handover_guidance.strip()
    case = raise_case(app, "northbay")
    card = service(app).purpose_card(case, record_dialog.Purpose.HANDOVER, case.raised_by,
                                     case.version)
    assert card.inputs[0].help == policy.handover_guidance.strip()
    # typed: the guidance comes with the first question
    session = record_dialog.start(case, record_dialog.Purpose.HANDOVER, case.raised_by)
    assert record_dialog.prompt(policy, session).guidance == policy.handover_guidance.strip()
    # a pack without guidance asks the same question with nothing added
    (plain, _) = record_dialog.questions(policy_of(app, "havenport"), 1,
                                         record_dialog.Purpose.HANDOVER)
    assert plain.help == ""


def test_an_nsscp_resolution_suggests_the_reflective_debrief(app: App) -> None:
    policy = policy_of(app, "northbay")
    assert policy.after_resolution is not None
    case = resolve(app, raise_case(app, "northbay"))
    told = [n for n in person_notes(pending(app, case)) if n.kind == "resolved"]
    assert told
    for note in told:
        assert (policy.after_resolution.heading, list(policy.after_resolution.items)
                ) in note.card.sections
        assert "reflective debrief" in note.card.all_text()
    other = resolve(app, raise_case(app, "havenport"))
    for note in person_notes(pending(app, other)):
        assert "reflective debrief" not in note.card.all_text()


def _without_health_line_manager(data: dict[str, Any]) -> None:
    data["people"] = [p for p in data["people"] if p["email"] != GUS]
    for entry in data["people"]:
        if entry.get("line_manager") == GUS:
            entry["line_manager"] = FERN


def test_asking_for_a_name_says_what_the_role_is(tmp_path: Path) -> None:
    config = derived_config(tmp_path, _without_health_line_manager)
    app, _ = app_for(tmp_path, config=config)
    try:
        case = raise_case(app, "northbay")
        other = next(p.email for p in case.participants if p.email != case.raised_by)
        case = escalate(app, case, actor=other)
        asked = [n for n in person_notes(pending(app, case)) if n.kind.startswith("tier-empty")]
        (note,) = asked
        role = policy_of(app, "northbay").role("line_manager")
        assert role.description
        assert note.card.text == texts.ROLE_IS.format(role=role.name,
                                                      description=role.description)
    finally:
        app.close()


def test_the_business_team_alert_names_the_data_the_partnership_collects(app: App) -> None:
    policy = policy_of(app, "carrow")
    stage = next(s for s in policy.stages if s.data_collection and s.number > 1)
    case = raise_case(app, "carrow")
    while current(app, case).stage < stage.number:
        case = escalate(app, case)
    alerts = [n for n in channel_notes(pending(app, case)) if n.kind == "business-alert"
              and n.recipient.address == business_team_channel(app, "carrow")
              and n.stage == stage.number]
    (alert,) = alerts
    for duty in stage.data_collection:
        assert duty.description in alert.card.text and duty.frequency in alert.card.text
    quiet = [n for n in channel_notes(pending(app, case)) if n.kind == "business-alert"
             and n.stage not in {s.number for s in policy.stages if s.data_collection}]
    assert all(n.card.text == "" for n in quiet)
