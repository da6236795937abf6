"""Every card the bot can send to Teams is a valid Adaptive Card 1.5, checked with Microsoft's own
`adaptivecards` library (tools/validate-adaptive-cards.js)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.teams.cards import adaptive_card
from bot.bootstrap import bootstrap
from bot.demo import demo_answers
from dialogs import record_dialog
from dialogs.cards import Card
from dialogs.clock import SimulatedClock
from dialogs.commands import Escalate, RaiseConcern
from dialogs.conversation import ConversationService, intake_card

ROOT = Path(__file__).resolve().parents[1]
VALIDATOR = ROOT / "tools" / "validate-adaptive-cards.js"
LIBRARY = ROOT / "node_modules" / "adaptivecards" / "dist" / "adaptivecards.js"
PARTNERSHIPS = {"nsscp": "northbay", "st-helens": "havenport", "sp-jersey": "carrow",
                "jersey-spb-2014": "carrow-board"}


def require_node() -> None:
    if shutil.which("node") and LIBRARY.exists():
        return
    reason = "node and node_modules/adaptivecards are needed: run `npm ci` at the repository root"
    if os.environ.get("CI"):
        pytest.fail(f"CI must validate every card: {reason}")
    pytest.skip(reason)


def validate(cards: list[dict[str, Any]], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    listing = tmp_path / "cards.json"
    listing.write_text(json.dumps(cards))
    return subprocess.run(["node", str(VALIDATOR), str(listing)], capture_output=True, text=True,
                          timeout=60)


def every_card(tmp_path: Path) -> list[Card]:
    """Real cards from real cases: intake forms (blank and with errors), every purpose form,
    case cards at every stage of every procedure, channel alerts, filled forms, status."""
    clock = SimulatedClock(datetime(2027, 2, 1, 10, tzinfo=UTC))
    app = bootstrap(ROOT / "examples/partnerships.yaml", tmp_path / "db.sqlite3", clock)
    conversation = ConversationService(app.engine, app.store, today=lambda: clock.now().date())
    cards: list[Card] = []
    try:
        for policy_id, partnership in PARTNERSHIPS.items():
            policy = app.policies.get(policy_id)
            cards.append(intake_card(policy))
            cards.append(intake_card(policy, {"child_dob": "31/02"},
                                     {"child_dob": "not a date", "counterpart": "needed"}))
            people = app.engine.people(partnership)
            agencies = [a.id for a in app.config.agencies if a.partnership == partnership]
            raiser, counterpart = (
                next(p for p in people.values()
                     if p.agency == agency and p.role == policy.raiser_role)
                for agency in agencies
            )
            answers = demo_answers(policy, counterpart)
            pathway = (next(o.id for o in policy.pathway.options if o.continues_to_procedure)
                       if policy.pathway else None)
            outcome = app.engine.handle(RaiseConcern(actor=raiser.email,
                                                     partnership_id=partnership,
                                                     answers=answers, pathway_choice=pathway))
            case = outcome.case
            assert case is not None
            while True:
                cards.append(conversation.case_card(case, raiser.email))
                for purpose in record_dialog.Purpose:
                    cards.append(conversation.purpose_card(case, purpose, raiser.email,
                                                           case.version))
                cards.append(conversation.purpose_card(
                    case, record_dialog.Purpose.RESOLVE, raiser.email, case.version,
                    {"agreed_actions": "x; y; ASAP"}, {"agreed_actions": "not a date"}))
                # agreed actions as rows: two entered, one more added, a row's errors shown
                rows = {"agreed_actions.1.what": "Visit", "agreed_actions.1.who": raiser.email,
                        "agreed_actions.1.due": "2027-02-04", "agreed_actions.2.what": "Call",
                        "agreed_actions.2.due": "31/02/2027"}
                cards.append(conversation.purpose_card(
                    case, record_dialog.Purpose.RECORD, raiser.email, case.version, rows,
                    {"agreed_actions.2.due": "Action 2 — by when: not a date"}, ("add", "")))
                if case.stage == policy.final_stage.number:
                    break
                case = app.engine.handle(Escalate(actor=raiser.email, case_id=case.id,
                                                  expected_version=case.version,
                                                  unresolved="Still disagree.")).case
                assert case is not None
            cards.extend(reply.card for reply in conversation.on_text(raiser.email, "status")
                         if reply.card)
        far = datetime(2030, 1, 1, tzinfo=UTC)
        cards.extend(item.notification.card for item in app.store.due_notifications(far, 100_000))
    finally:
        app.close()
    return cards


def test_every_card_the_bot_sends_is_adaptive_card_1_5(tmp_path: Path) -> None:
    require_node()
    cards = every_card(tmp_path)
    rendered = [adaptive_card(card, refresh_for=["29:someone"]) for card in cards]
    assert len(rendered) > 150
    kinds = {element["type"] for card in rendered for element in card["body"]}
    assert {"Input.Text", "Input.ChoiceSet", "Input.Date", "FactSet", "TextBlock",
            "ActionSet", "Container"} <= kinds
    result = validate(rendered, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"VALID {len(rendered)} card(s)" in result.stdout


def test_the_validator_catches_a_broken_card(tmp_path: Path) -> None:
    require_node()
    good = adaptive_card(Card(title="Fine"))
    unknown = {**good, "body": [*good["body"], {"type": "Input.Bogus", "id": "x"}]}
    duplicate = {**good, "body": [{"type": "Input.Text", "id": "a"},
                                  {"type": "Input.Text", "id": "a"}]}
    result = validate([good, unknown, duplicate, {**good, "version": "1.6"}], tmp_path)
    assert result.returncode == 1
    assert "Input.Bogus" in result.stderr
    assert "card 2" in result.stderr and "card 3" in result.stderr
    assert "card 0" not in result.stderr
