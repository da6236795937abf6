"""From counts to what may be shown: labels from the pack and the configuration, small numbers
in an agency's cells suppressed, and the four charts' data."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from dialogs import texts
from dialogs.reports.figures import ACTION_STATES, OTHER_REASON, Figures, reason_ids
from dialogs.reports.model import (
    ChartSeries,
    ReflectionBlock,
    Report,
    ReportChart,
    ReportFact,
    ReportTable,
)
from policy.model import Policy

SUPPRESS_BELOW = 5
# time to resolve, in working days: one bar per day up to ten, then wider bins
DAY_BINS: list[tuple[int, int | None]] = [(d, d) for d in range(11)] + [
    (11, 15), (16, 20), (21, None)
]


def suppressed(count: int) -> str:
    """An agency's cell: 1 to 4 is shown as "<5"; 0 identifies nobody and is shown."""
    return texts.REPORT_SUPPRESSED if 0 < count < SUPPRESS_BELOW else str(count)


def _day(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _days(value: float | None) -> str:
    if value is None:
        return texts.REPORT_NONE
    return f"{value:g}"


def _reason_labels(policy: Policy) -> dict[str, str]:
    field_ = next((f for f in policy.intake if f.id == "reason"), None)
    labels = {c.id: c.label for c in field_.choices} if field_ is not None else {}
    labels[OTHER_REASON] = texts.REPORT_REASON_NOT_LISTED
    return labels


def _bin_label(low: int, high: int | None) -> str:
    if high is None:
        return f"{low}+"
    return str(low) if low == high else f"{low}-{high}"


def _months(start: date, end: date) -> list[str]:
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def publish(
    figures: Figures,
    policy: Policy,
    *,
    partnership: str,
    agency_names: Mapping[str, str],
    produced_at: datetime,
    audience: str = "",
) -> Report:
    """``produced_at`` in the partnership's zone, as people read it."""
    stages = [s.number for s in policy.stages]
    stage_names = {s.number: s.name for s in policy.stages}
    reasons = _reason_labels(policy)
    agency = figures.agency
    name_of = {**agency_names}
    subtitle = [
        texts.REPORT_PERIOD.format(
            start=_day(figures.period.start), end=_day(figures.period.end)
        ),
        texts.REPORT_POLICY.format(policy=policy.name),
    ]
    if audience:
        subtitle.append(texts.REPORT_FOR.format(audience=audience))
    subtitle.append(texts.REPORT_PRODUCED.format(at=produced_at.strftime("%d/%m/%Y %H:%M")))
    outcomes = figures.outcomes
    headline = [
        ReportFact(label=texts.REPORT_CASES, value=str(figures.cases)),
        ReportFact(label=texts.REPORT_RESOLVED, value=str(outcomes["resolved"])),
        ReportFact(label=texts.REPORT_DECIDED, value=str(outcomes["final_decision"])),
        ReportFact(label=texts.REPORT_WITHDRAWN, value=str(outcomes["withdrawn"])),
        ReportFact(label=texts.REPORT_OPEN, value=str(outcomes["open"])),
        ReportFact(label=texts.REPORT_MEDIAN, value=_days(figures.median_days)),
        ReportFact(label=texts.REPORT_P90, value=_days(figures.p90_days)),
    ]
    agencies = sorted(
        set(figures.raised_by_agency) | set(figures.received_by_agency),
        key=lambda a: name_of.get(a, a),
    )
    tables = [
        ReportTable(
            id="by-agency",
            title=texts.REPORT_BY_AGENCY,
            columns=[texts.REPORT_AGENCY, texts.REPORT_RAISED_BY, texts.REPORT_RECEIVED_BY,
                     texts.REPORT_MISSED_ON],
            rows=[
                [
                    name_of.get(a, a),
                    suppressed(figures.raised_by_agency[a]),
                    suppressed(figures.received_by_agency[a]),
                    suppressed(figures.missed_by_agency[a]),
                ]
                for a in agencies
            ],
            note=texts.REPORT_SUPPRESSION_NOTE,
        ),
        ReportTable(
            id="by-reason",
            title=texts.REPORT_BY_REASON,
            columns=[texts.REPORT_REASON, texts.REPORT_COUNT],
            rows=[
                [reasons[r], str(figures.by_reason[r])]
                for r in [*reason_ids(policy), OTHER_REASON]
                if r in reasons and (figures.by_reason[r] or r != OTHER_REASON)
            ],
        ),
        ReportTable(
            id="stages",
            title=texts.REPORT_STAGES,
            columns=[texts.REPORT_STAGE, texts.REPORT_REACHED, texts.REPORT_RESOLVED_AT,
                     texts.REPORT_MET, texts.REPORT_MISSED],
            rows=[
                [
                    texts.REPORT_STAGE_LABEL.format(number=n, name=stage_names[n]),
                    str(figures.stage_reached[n]),
                    str(figures.resolved_at_stage[n]),
                    str(figures.deadlines_met[n]),
                    str(figures.deadlines_missed[n]),
                ]
                for n in stages
            ],
        ),
        ReportTable(
            id="time-to-resolve",
            title=texts.REPORT_TIME,
            columns=[texts.REPORT_DAYS, texts.REPORT_COUNT],
            rows=[[label, str(n)] for label, n in _time_bins(figures)],
        ),
        ReportTable(
            id="escalations",
            title=texts.REPORT_ESCALATIONS,
            columns=[texts.REPORT_HOW, texts.REPORT_COUNT],
            rows=[
                [texts.REPORT_BY_PERSON, str(figures.escalated_by_person)],
                [texts.REPORT_BY_LAPSE, str(figures.escalated_by_lapse)],
            ],
        ),
        ReportTable(
            id="actions",
            title=texts.REPORT_ACTIONS,
            columns=[texts.REPORT_STATE, texts.REPORT_ACTIONS_COUNT],
            rows=[[texts.REPORT_ACTION_STATES[s], str(figures.actions[s])] for s in ACTION_STATES],
        ),
    ]
    if figures.final_stage is not None:
        final = policy.final_stage
        tables.append(
            ReportTable(
                id="final-stage",
                title=texts.REPORT_FINAL_STAGE,
                columns=[texts.REPORT_REFERENCE, texts.REPORT_RAISED_ON, texts.REPORT_REACHED_ON,
                         texts.REPORT_RAISED_BY, texts.REPORT_RECEIVED_BY, texts.REPORT_OUTCOME],
                rows=[
                    [
                        row.reference,
                        _day(row.raised_on),
                        _day(row.reached_on),
                        name_of.get(row.raising_agency, row.raising_agency),
                        name_of.get(row.receiving_agency, row.receiving_agency),
                        texts.REPORT_OUTCOMES.get(row.outcome, row.outcome),
                    ]
                    for row in figures.final_stage
                ],
                note=texts.REPORT_FINAL_STAGE_NOTE.format(
                    stage=texts.REPORT_STAGE_LABEL.format(number=final.number, name=final.name)
                ),
            )
        )
    return Report(
        partnership_id=figures.partnership_id,
        partnership=partnership,
        policy=policy.name,
        agency_id=agency or "",
        title=(
            texts.REPORT_TITLE_AGENCY.format(agency=name_of.get(agency, agency))
            if agency
            else texts.REPORT_TITLE
        ),
        period_start=figures.period.start,
        period_end=figures.period.end,
        subtitle=subtitle,
        headline=headline,
        charts=_charts(figures, stages, reasons),
        tables=tables,
        reflections=_reflections(figures, policy),
        notes=[texts.REPORT_PRIVACY_NOTE, texts.REPORT_SUPPRESSION_NOTE],
    )


def _time_bins(figures: Figures) -> list[tuple[str, int]]:
    return [
        (
            _bin_label(low, high),
            sum(1 for d in figures.days_to_resolve if low <= d and (high is None or d <= high)),
        )
        for low, high in DAY_BINS
    ]


def _charts(figures: Figures, stages: list[int], reasons: dict[str, str]) -> list[ReportChart]:
    short = [texts.REPORT_STAGE_SHORT.format(number=n) for n in stages]
    months = _months(figures.period.start, figures.period.end)
    bins = _time_bins(figures)
    used = [r for r in reasons if figures.by_reason[r]]
    return [
        ReportChart(
            id="stage-reached", title=texts.REPORT_CHART_STAGE_REACHED, kind="bar",
            categories=short, x_label=texts.REPORT_STAGE, y_label=texts.REPORT_COUNT,
            series=[ChartSeries(name=texts.REPORT_COUNT,
                                values=[figures.stage_reached[n] for n in stages])],
        ),
        ReportChart(
            id="time-to-resolve", title=texts.REPORT_CHART_TIME, kind="bar",
            categories=[label for label, _ in bins], x_label=texts.REPORT_DAYS,
            y_label=texts.REPORT_COUNT,
            series=[ChartSeries(name=texts.REPORT_COUNT, values=[n for _, n in bins])],
        ),
        ReportChart(
            id="reasons-over-time", title=texts.REPORT_CHART_REASONS, kind="stacked",
            categories=months, x_label=texts.REPORT_MONTH, y_label=texts.REPORT_COUNT,
            series=[
                ChartSeries(
                    name=reasons[r],
                    values=[_month_count(figures, m, r) for m in months],
                )
                for r in used
            ],
        ),
        ReportChart(
            id="deadlines", title=texts.REPORT_CHART_DEADLINES, kind="stacked",
            categories=short, x_label=texts.REPORT_STAGE, y_label=texts.REPORT_COUNT,
            series=[
                ChartSeries(name=texts.REPORT_MET,
                            values=[figures.deadlines_met[n] for n in stages]),
                ChartSeries(name=texts.REPORT_MISSED,
                            values=[figures.deadlines_missed[n] for n in stages]),
            ],
        ),
    ]


def _month_count(figures: Figures, month: str, reason: str) -> int:
    found = figures.reasons_by_month.get(month)
    return found[reason] if found is not None else 0


def _reflections(figures: Figures, policy: Policy) -> list[ReflectionBlock]:
    labels = {
        f.id: f.label
        for form in policy.forms
        for section in form.sections
        for f in section.fields
    }
    return [
        ReflectionBlock(question=labels.get(field_id, field_id), answers=answers)
        for field_id, answers in figures.reflections.items()
    ]
