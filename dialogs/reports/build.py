"""One report from a store: the cases of a partnership and their histories, counted and
published. Shared by `escalation-bot report` and the scheduler, so both say the same."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from dialogs.case import Case
from dialogs.events import Event
from dialogs.reports.figures import Figures, Period, count, in_period
from dialogs.reports.model import Report
from dialogs.reports.publish import publish
from policy.config import Config
from policy.loader import PolicyRegistry


class CaseReader(Protocol):
    def partnership_cases(self, partnership_id: str) -> list[Case]: ...

    def history(self, case_id: str) -> list[Event]: ...


@dataclass(frozen=True)
class Built:
    figures: Figures
    report: Report


def build_report(
    reader: CaseReader,
    config: Config,
    policies: PolicyRegistry,
    *,
    partnership_id: str,
    period: Period,
    now: datetime,
    agency: str | None = None,
    audience: str = "",
) -> Built:
    partnership = config.partnership(partnership_id)
    policy = policies.get(partnership.policy)
    calendar = partnership.calendar(policy)
    cases = in_period(reader.partnership_cases(partnership_id), period, calendar, agency)
    histories = {case.id: reader.history(case.id) for case in cases}
    figures = count(
        cases, histories, policy, calendar,
        partnership_id=partnership_id, period=period, now=now, agency=agency,
    )
    names = {a.id: a.name for a in config.agencies if a.partnership == partnership_id}
    report = publish(
        figures, policy, partnership=partnership.name, agency_names=names,
        produced_at=calendar.local(now), audience=audience,
    )
    return Built(figures, report)
