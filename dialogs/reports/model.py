"""The report as it may be shown: already suppressed and free of child details, so a renderer
(HTML, PDF, CSV, JSON) only draws it. It travels in the outbox with the scheduled email, as a
form's document does, and is drawn when the email is sent."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Neutral(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReportFact(_Neutral):
    label: str
    value: str


class ReportTable(_Neutral):
    id: str
    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""


class ChartSeries(_Neutral):
    name: str
    values: list[float]


class ReportChart(_Neutral):
    id: str
    title: str
    kind: Literal["bar", "stacked"]
    categories: list[str]
    series: list[ChartSeries]
    x_label: str
    y_label: str

    @property
    def empty(self) -> bool:
        return not any(v for s in self.series for v in s.values)


class ReflectionBlock(_Neutral):
    question: str
    answers: list[str]


class Report(_Neutral):
    partnership_id: str
    partnership: str
    policy: str
    agency_id: str = ""
    title: str
    period_start: date
    period_end: date
    subtitle: list[str] = Field(description="Period, procedure, audience, when produced")
    headline: list[ReportFact]
    charts: list[ReportChart]
    tables: list[ReportTable]
    reflections: list[ReflectionBlock]
    notes: list[str]

    def all_text(self) -> str:
        """Everything a reader sees, for tests and privacy checks."""
        parts = [self.partnership, self.title, *self.subtitle, *self.notes]
        parts += [f"{f.label}: {f.value}" for f in self.headline]
        for chart in self.charts:
            parts += [chart.title, *chart.categories, *(s.name for s in chart.series)]
        for table in self.tables:
            parts += [table.title, table.note, *table.columns]
            parts += [cell for row in table.rows for cell in row]
        for block in self.reflections:
            parts += [block.question, *block.answers]
        return "\n".join(parts)

    def file_stem(self) -> str:
        """``report-northbay-2027-04-01-2027-09-30``: the partnership and the period only."""
        agency = f"-{self.agency_id}" if self.agency_id else ""
        return (
            f"report-{self.partnership_id}{agency}-{self.period_start.isoformat()}"
            f"-{self.period_end.isoformat()}"
        )
