"""The partnership's forms as files: DOCX for agencies to edit and upload to their own case
systems, PDF for the archive. Each renderer draws a neutral ``dialogs.documents.FormDocument``
and nothing else, so a new partnership's form needs no code here."""

from adapters.documents.docx_renderer import render_docx
from adapters.documents.fonts import FontMissing
from adapters.documents.pdf_renderer import render_pdf

__all__ = ["FontMissing", "render_docx", "render_pdf"]
