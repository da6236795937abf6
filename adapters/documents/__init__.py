"""The partnership's forms as files: DOCX for agencies to edit and upload to their own case
systems, PDF for the archive. Each renderer draws a neutral ``dialogs.documents.FormDocument``
and nothing else, so a new partnership's form needs no code here.

python-docx and fpdf2 are imported on the first form drawn, not when the bot starts: together
they were ~40 % of the imports before ``serve`` answers /readyz, and most turns draw no form."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.documents.fonts import FontMissing

if TYPE_CHECKING:
    from adapters.documents.fonts import Fonts
    from dialogs.documents import FormDocument
    from dialogs.reports.model import Report


def render_docx(document: FormDocument) -> bytes:
    from adapters.documents.docx_renderer import render_docx as draw

    return draw(document)


def render_pdf(document: FormDocument, fonts: Fonts | None = None) -> bytes:
    from adapters.documents.pdf_renderer import render_pdf as draw

    return draw(document, fonts)


# reports draw charts with matplotlib: imported when a report is drawn, never at start-up
def render_report_json(report: Report) -> bytes:
    from adapters.documents.report_data import render_report_json as draw

    return draw(report)


def render_report_csv(report: Report) -> bytes:
    from adapters.documents.report_data import render_report_csv as draw

    return draw(report)


def render_report_html(report: Report) -> bytes:
    from adapters.documents.report_html import render_report_html as draw

    return draw(report)


def render_report_pdf(report: Report) -> bytes:
    from adapters.documents.report_pdf import render_report_pdf as draw

    return draw(report)


__all__ = [
    "FontMissing",
    "render_docx",
    "render_pdf",
    "render_report_csv",
    "render_report_html",
    "render_report_json",
    "render_report_pdf",
]
