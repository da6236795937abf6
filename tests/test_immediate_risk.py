"""Immediate risk that acts (issue 9).

Before: NSSCP's guidance said "don't start with a peer discussion", then a stage-1 peer case opened
and the counterpart was asked to discuss it; the line manager the seed says to tell "immediately"
(seed 001, "Procedure: Stage 1") heard nothing. Now the pack says where a case at immediate risk
starts (`immediate_risk.start_stage`) and whom to tell at once (`immediate_risk.tell`): the raiser
is shown what to do now, and those people are told at once, outside working hours too, flagged
urgent. Real engine, SQLite store, scheduler and clock; nothing mocked.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import (
    PARTNERSHIPS,
    REPO,
    app_for,
    deliveries,
    derived_config,
    handle,
    local,
    pending,
    policy_of,
    raise_command,
)

from adapters.email.message import build_message
from bot.delivery import form_attachments
from dialogs.errors import InvalidInput
from dialogs.events import EventType
from dialogs.notifications import Notification, RecipientKind

NB, HP = "northbay", "havenport"
DANA = "dana.marsh@council.northbay.example"  # practitioner (raiser)
HANA = "hana.moss@health.northbay.example"  # practitioner (counterpart)
CAL = "cal.birch@council.northbay.example"  # Dana's line manager
GUS = "gus.penn@health.northbay.example"  # Hana's line manager
MONDAY_EVENING = local(1, 20)  # out of hours: ordinary messages wait for Tuesday 09:00


def _urgent(notes: list[Notification]) -> list[Notification]:
    return [n for n in notes if n.kind == "immediate-risk"]


def test_nsscp_at_risk_skips_the_peer_stage_and_tells_the_line_manager_at_once(
    tmp_path: Path,
) -> None:
    app, _ = app_for(tmp_path, start=MONDAY_EVENING)
    outcome = handle(app, raise_command(app, NB, immediate_risk="yes"))
    case = outcome.case
    assert case is not None

    # not the peer discussion the guidance told them to skip: line management, stage 2
    assert case.stage == 2
    entered = [e for e in app.store.history(case.id) if e.type is EventType.STAGE_ENTERED]
    assert [e.stage for e in entered] == [2]
    assert case.stage_due_at == local(3, 17)  # 2 working days from Monday

    # the raiser is shown what to do now, in the pack's words
    action = policy_of(app, NB).immediate_risk.action
    assert action in outcome.reply
    assert "Cal Birch" in outcome.reply

    # the line manager is told at once, in the evening, flagged urgent
    sent = deliveries(app)
    told = _urgent(sent)
    assert [(n.recipient.kind, n.recipient.address) for n in told] == [
        (RecipientKind.PERSON, CAL)
    ]
    assert told[0].urgent and told[0].deliver_at == MONDAY_EVENING
    assert told[0].card.title.startswith("Urgent")
    assert "Jamie" not in told[0].card.title  # a headline never names the child
    confirm = next(n for n in sent if n.kind == "raised-confirm")
    assert action in confirm.card.text
    assert [n for n in pending(app, case) if n.kind == "immediate-risk"] == []


def test_nsscp_without_risk_starts_with_the_peer_discussion_and_tells_nobody_urgently(
    tmp_path: Path,
) -> None:
    app, _ = app_for(tmp_path, start=MONDAY_EVENING)
    case = handle(app, raise_command(app, NB)).case
    assert case is not None and case.stage == 1
    assert _urgent(pending(app, case)) == []
    assert all(not n.urgent for n in pending(app, case))


@pytest.mark.parametrize("asked", [3, 4])
def test_nsscp_at_risk_may_not_choose_another_stage(tmp_path: Path, asked: int) -> None:
    app, _ = app_for(tmp_path)
    with pytest.raises(InvalidInput) as refused:
        handle(app, raise_command(app, NB, immediate_risk="yes", start_stage=asked))
    assert "starts at stage 2" in refused.value.field_errors["start_stage"]


def test_st_helens_at_risk_without_a_choice_starts_where_its_pack_says(tmp_path: Path) -> None:
    """St Helens leaves the stage to the raiser's discretion; with no choice made it is the
    pack's start_stage (1), and its pack names nobody to tell at once."""
    app, _ = app_for(tmp_path)
    case = handle(app, raise_command(app, HP, immediate_risk="yes")).case
    assert case is not None
    assert case.stage == policy_of(app, HP).immediate_risk.start_stage == 1
    assert _urgent(pending(app, case)) == []


@pytest.mark.parametrize("partnership", list(PARTNERSHIPS))
def test_every_pack_starts_a_case_at_risk_where_it_says_and_tells_whom_it_names(
    tmp_path: Path, partnership: str
) -> None:
    app, _ = app_for(tmp_path, start=MONDAY_EVENING)
    risk = policy_of(app, partnership).immediate_risk
    case = handle(app, raise_command(app, partnership, immediate_risk="yes")).case
    assert case is not None
    assert case.stage == risk.start_stage
    told = _urgent(deliveries(app))
    assert len(told) == len(risk.tell)
    assert all(n.urgent for n in told)


@pytest.mark.parametrize("pack", sorted((REPO / "policy" / "packs").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_every_seed_pack_says_where_a_case_at_risk_starts_and_whom_to_tell(pack: Path) -> None:
    """Written out in each pack, not left to defaults, each with where the seed says so."""
    risk = yaml.safe_load(pack.read_text(encoding="utf-8"))["immediate_risk"]
    assert "start_stage" in risk and "tell" in risk
    assert risk["cite"]["seed"] and risk["cite"]["section"]
    for contact in risk["tell"]:
        assert contact["cite"]["seed"] and contact["cite"]["section"]


def test_an_urgent_email_says_so_in_its_subject_and_headers(tmp_path: Path) -> None:
    app, _ = app_for(tmp_path, start=MONDAY_EVENING)
    handle(app, raise_command(app, NB, immediate_risk="yes"))
    sent = deliveries(app)
    note = _urgent(sent)[0]
    message = build_message(
        note, sender="bot@northbay.example", to=CAL, attachments=form_attachments(),
        now=datetime(2027, 2, 1, 20, 0, tzinfo=UTC),
    )
    assert message["Subject"].startswith("[NB-0001] Urgent")
    assert "Jamie" not in message["Subject"]
    assert message["Importance"] == "High"
    assert message["X-Priority"] == "1"
    # the case's other messages go at once too (immediate risk), but are not flagged
    ordinary = next(n for n in sent if n.kind == "stage-prompt" and n.recipient.address == GUS)
    plain = build_message(
        ordinary, sender="bot@northbay.example", to=GUS, attachments=form_attachments(),
        now=datetime(2027, 2, 1, 20, 0, tzinfo=UTC),
    )
    assert plain["Importance"] is None and "Urgent" not in plain["Subject"]


def test_nsscp_at_risk_may_name_the_stage_its_pack_starts_at(tmp_path: Path) -> None:
    app, _ = app_for(tmp_path)
    case = handle(app, raise_command(app, NB, immediate_risk="yes", start_stage=2)).case
    assert case is not None and case.stage == 2


def _dana_without_a_line_manager(data: dict[str, Any]) -> None:
    for entry in data["people"]:
        if entry["email"] == DANA:
            entry.pop("line_manager", None)


def test_nobody_to_tell_at_once_alerts_the_business_team_at_once(tmp_path: Path) -> None:
    config = derived_config(tmp_path, _dana_without_a_line_manager)
    app, _ = app_for(tmp_path, start=MONDAY_EVENING, config=config)
    outcome = handle(app, raise_command(app, NB, immediate_risk="yes"))
    assert "Nobody could be found to tell now" in outcome.reply
    sent = deliveries(app)
    alerts = [n for n in sent if n.kind == "immediate-risk-nobody"]
    assert [(n.recipient.address, n.card.title) for n in alerts] == [
        ("console:northbay-business-team",
         "Urgent: case NB-0001 is at immediate risk and nobody is known to tell at once"
         " (line manager); please contact the raising agency now")
    ]
    assert alerts[0].urgent and alerts[0].deliver_at == MONDAY_EVENING
