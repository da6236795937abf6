"""The report's figures as data: JSON (the whole published report, charts' numbers included) and
CSV (one line per table cell), for a partnership that makes its own charts or keeps a series."""

from __future__ import annotations

import csv
import io

from dialogs.reports.model import Report


def render_report_json(report: Report) -> bytes:
    return (report.model_dump_json(indent=2) + "\n").encode("utf-8")


def render_report_csv(report: Report) -> bytes:
    """Columns: table, row, column, value; the headline first, as table "headline"."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["table", "row", "column", "value"])
    for fact in report.headline:
        writer.writerow(["headline", fact.label, "", fact.value])
    for table in report.tables:
        for row in table.rows:
            for column, cell in zip(table.columns[1:], row[1:], strict=True):
                writer.writerow([table.id, row[0], column, cell])
    for block in report.reflections:
        for answer in block.answers:
            writer.writerow(["reflections", block.question, "", answer])
    return buffer.getvalue().encode("utf-8")
