"""When a scheduled report is owed, over which period, for whom, and what is queued for it.

A partnership's ``reports:`` dates (DD-MM) close its periods: on 01-10 the report covers 01-04
to 30-09. Without dates, the pack's data-collection duties decide: "twice a year" gives 01-04 and
01-10, "yearly" 01-04 (the SPB Annual Report's year). A report is owed from its date for
``GRACE_DAYS``, so a bot that was down on the day still sends it when it is back, and a
report is never sent for a date long past (a new deployment does not send last year's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dialogs import texts
from dialogs.cards import Card, Fact
from dialogs.notifications import Notification, Recipient
from dialogs.reports.figures import Figures, Period
from dialogs.reports.model import Report
from policy.config import Partnership, ReportSchedule
from policy.model import Policy

TWICE_A_YEAR = ["01-04", "01-10"]
YEARLY = ["01-04"]
GRACE_DAYS = 7
SUMMARY_KIND = "report-summary"
EMAIL_KIND = "report"


@dataclass(frozen=True)
class Due:
    on: date  # the scheduled date
    period: Period

    def key(self, partnership_id: str, part: str) -> str:
        return f"report:{partnership_id}:{self.on.isoformat()}:{part}"


def duties(policy: Policy) -> list[tuple[str, str]]:
    """(frequency, recipient) of every data-collection duty in the pack, stage by stage."""
    return [(d.frequency, d.recipient) for s in policy.stages for d in s.data_collection]


def dates_for(schedule: ReportSchedule, policy: Policy) -> list[str]:
    if schedule.dates:
        return list(schedule.dates)
    frequencies = " ".join(f.lower() for f, _ in duties(policy))
    if "twice" in frequencies or not frequencies:
        return TWICE_A_YEAR
    return YEARLY if "year" in frequencies else TWICE_A_YEAR


def audience_for(schedule: ReportSchedule, policy: Policy) -> str:
    if schedule.audience:
        return schedule.audience
    recipients = [r for _, r in duties(policy)]
    return recipients[-1] if recipients else ""


def _on(text: str, year: int) -> date:
    return date(year, int(text[3:]), int(text[:2]))


def due_report(dates: list[str], today: date, grace_days: int = GRACE_DAYS) -> Due | None:
    """The report owed today: the latest scheduled date on or before today, within the grace
    days; its period runs from the scheduled date before it to the day before it."""
    moments = sorted(_on(d, y) for y in (today.year - 1, today.year) for d in dates)
    past = [m for m in moments if m <= today]
    if not past or (today - past[-1]).days >= grace_days:
        return None
    on = past[-1]
    earlier = [m for m in moments if m < on]
    start = earlier[-1] if earlier else _on(dates[0], on.year - 1)
    return Due(on=on, period=Period(start, on - timedelta(days=1)))


def summary_card(figures: Figures, report: Report, mailbox: str) -> Card:
    """What the business team's channel reads: counts only, no reference, no child."""
    median = figures.median_days
    return Card(
        title=texts.REPORT_SUMMARY_TITLE.format(
            start=report.period_start.strftime("%d/%m/%Y"),
            end=report.period_end.strftime("%d/%m/%Y"),
        ),
        text=texts.REPORT_SUMMARY_TEXT.format(
            cases=texts.counted(figures.cases, "case"),
            resolved=figures.outcomes["resolved"] + figures.outcomes["final_decision"],
            median=f"{median:g}" if median is not None else texts.REPORT_NONE,
            open=figures.outcomes["open"],
            missed=texts.counted(sum(figures.deadlines_missed.values()), "stage deadline"),
            mailbox=mailbox,
        ),
        facts=[Fact(label=f.label, value=f.value) for f in report.headline],
    )


def report_notifications(
    partnership: Partnership,
    due: Due,
    built: list[tuple[Figures, Report]],
    mailbox: str,
    deliver_at: datetime,
) -> list[Notification]:
    """The channel summary (of the partnership-wide report, the first) and one email per
    report to the mailbox. Keys name the partnership, the date and the part, so queuing them
    again, from this replica or another, adds nothing."""
    figures, report = built[0]
    notes = [
        Notification(
            key=due.key(partnership.id, "summary"),
            case_id="",
            recipient=Recipient.channel(partnership.alerts.business_team),
            card=summary_card(figures, report, mailbox),
            deliver_at=deliver_at,
            kind=SUMMARY_KIND,
        )
    ]
    for figures_, report_ in built:
        part = f"email-{report_.agency_id}" if report_.agency_id else "email"
        notes.append(
            Notification(
                key=due.key(partnership.id, part),
                case_id="",
                recipient=Recipient.mailbox(mailbox),
                card=summary_card(figures_, report_, mailbox),
                deliver_at=deliver_at,
                kind=EMAIL_KIND,
                report=report_,
            )
        )
    return notes
