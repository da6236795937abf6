"""The partnership's forms as files: DOCX for agencies to edit and upload to their own case
systems, PDF for the archive. Each renderer draws a neutral ``dialogs.documents.FormDocument``
and nothing else, so a new partnership's form needs no code here."""

from adapters.documents.docx_renderer import render_docx
from adapters.documents.fonts import FontMissing
from adapters.documents.pdf_renderer import render_pdf
from adapters.documents.report_data import render_report_csv, render_report_json
from adapters.documents.report_html import render_report_html
from adapters.documents.report_pdf import render_report_pdf

__all__ = [
    "FontMissing",
    "render_docx",
    "render_pdf",
    "render_report_csv",
    "render_report_html",
    "render_report_json",
    "render_report_pdf",
]
