"""Forms go where and when each seed says, and no others (issue 8). The rules are pack data
(`files:` per stage, with citations); these tests read them back through the engine."""

from __future__ import annotations

from datetime import timedelta

from support import (
    app,
    clock_of,
    current,
    escalate,
    handle,
    pending,
    raise_case,
    record,
    resolve,
)

from bot.bootstrap import App
from dialogs.commands import RecordDiscussion
from dialogs.notifications import Notification, RecipientKind

__all__ = ["app"]

BUSINESS_MANAGER = "ivo.fell@partnership.northbay.example"
COUNCIL_HEAD = "alex.rowe@council.northbay.example"
HEALTH_HEAD = "eli.wren@health.northbay.example"
ST_HELENS_MAILBOX = "scpescalations@sthelens.gov.uk"


def filed(notes: list[Notification]) -> list[tuple[str, str, int | None]]:
    """(form kind, recipient, stage the copy was produced for), in queue order."""
    return [
        (n.kind.removeprefix("form-"), n.recipient.address, n.documents[0].stage)
        for n in notes
        if n.kind.startswith("form-") and n.recipient.kind is not RecipientKind.WEBHOOK
    ]


def test_nsscp_files_no_appendix_1_for_a_stage_1_resolution(app: App) -> None:
    case = resolve(app, raise_case(app, "northbay"))
    assert filed(pending(app, case)) == []


def test_nsscp_files_appendix_1_when_stages_2_and_3_are_recorded_escalated_or_resolved(
    app: App,
) -> None:
    case = escalate(app, raise_case(app, "northbay"))  # into stage 2: nothing filed yet
    assert filed(pending(app, case)) == []
    before = len(pending(app, case))
    handle(app, RecordDiscussion(actor=case.raised_by, case_id=case.id,
                                 record=record("Managers spoke.")))
    recorded = filed(pending(app, case)[before:])
    assert recorded == [("appendix-1", BUSINESS_MANAGER, 2)]

    clock_of(app).advance(timedelta(hours=1))
    before = len(pending(app, case))
    case = escalate(app, current(app, case))  # stage 2 left: its copy goes with it
    assert filed(pending(app, case)[before:]) == [("appendix-1", BUSINESS_MANAGER, 2)]

    before = len(pending(app, case))
    case = resolve(app, case)
    at_three = filed(pending(app, case)[before:])
    assert sorted(at_three) == [
        ("appendix-1", COUNCIL_HEAD, 3),
        ("appendix-1", BUSINESS_MANAGER, 3),
    ]
    assert HEALTH_HEAD not in {who for _, who, _ in at_three}  # the raising agency's Head only


def test_nsscp_date_stage_2_started_is_when_stage_2_started(app: App) -> None:
    case = escalate(app, raise_case(app, "northbay"))
    started_two = current(app, case).span(2)
    assert started_two is not None
    clock_of(app).advance(timedelta(days=1))
    case = resolve(app, escalate(app, current(app, case)))  # resolved at stage 3
    (copy, *_) = [n for n in pending(app, case)
                  if n.kind == "form-appendix-1" and n.documents[0].stage == 3]
    rows = {r.label: r.value for s in copy.documents[0].sections for r in s.rows}
    assert rows["Date Stage 2 started"] == started_two.started_at.strftime("%d/%m/%Y")


def test_st_helens_sends_each_colour_at_its_stage_and_purple_on_resolution(app: App) -> None:
    case = raise_case(app, "havenport")
    case = escalate(app, case)
    case = resolve(app, case)
    to_mailbox = [(form, stage) for form, who, stage in filed(pending(app, case))
                  if who == ST_HELENS_MAILBOX]
    assert to_mailbox == [
        ("notification-stage-1", 1),
        ("notification-stage-2", 2),
        ("resolution-outcome", 2),
    ]
    purple = next(n for n in pending(app, case) if n.kind == "form-resolution-outcome")
    rows = {r.label: r.value for s in purple.documents[0].sections for r in s.rows}
    stage_two = current(app, case)
    managers = [p for p in stage_two.participants if p.stage == 2]
    # "Your name" / "Raised with" at stage 2 are the line managers, not the practitioners
    assert rows["Your name"] in {p.name for p in managers}
    assert rows["Raised with"] in {p.name for p in managers}
    assert "ICS Number (if known)" in rows and "NHS Number (if known)" in rows


def test_jersey_2014_files_appendix_2_only_when_stage_6_starts(app: App) -> None:
    case = raise_case(app, "carrow-board")
    for _ in range(4):
        case = escalate(app, case)
    assert case.stage == 5 and filed(pending(app, case)) == []
    case = escalate(app, case)
    assert [(form, stage) for form, _, stage in filed(pending(app, case))] == [("appendix-2", 6)]


def test_sp_jersey_files_no_form(app: App) -> None:
    case = raise_case(app, "carrow")
    for _ in range(3):
        case = escalate(app, case)
    case = resolve(app, case)
    assert filed(pending(app, case)) == []
