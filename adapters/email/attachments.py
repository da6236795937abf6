"""How a form filed with a message becomes its attachments.

Drawing a form is another adapter's job (``adapters.documents``: DOCX for agencies to edit and
upload, PDF for the archive). The email adapter needs only this seam, which the composition root
fills, so neither adapter imports the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dialogs.documents import FormDocument
from dialogs.reports.model import Report

DocumentRenderer = Callable[[FormDocument, str], bytes]
"""Draw ``document`` in one format ("docx" or "pdf") and return the file's bytes."""
ReportRenderer = Callable[[Report], bytes]
"""Draw the report on the procedure's use as one self-contained HTML file."""

MIME_TYPES: dict[str, tuple[str, str]] = {
    "docx": ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "pdf": ("application", "pdf"),
    "txt": ("text", "plain"),
    "html": ("text", "html"),
    "json": ("application", "json"),
}


@dataclass(frozen=True)
class Attachments:
    """Which formats each form is attached in, and what draws them."""

    render: DocumentRenderer
    formats: tuple[str, ...] = ("docx", "pdf")
    report: ReportRenderer | None = None  # without one, a report is attached as its JSON

    def __post_init__(self) -> None:
        unknown = [f for f in self.formats if f not in MIME_TYPES]
        if unknown:
            raise ValueError(f"no MIME type known for {', '.join(unknown)}")


def text_form(document: FormDocument, fmt: str) -> bytes:
    """The form as plain text: what the composition root attaches (as ``.txt``) while no DOCX or
    PDF renderer is installed, so a form is never silently left off."""
    lines = [document.partnership, document.title, document.case_reference, ""]
    for section in document.sections:
        lines.append(section.title)
        lines.extend(f"  {row.label}: {row.value}" for row in section.rows)
        lines.append("")
    return "\n".join(lines).encode("utf-8")


TEXT_ONLY = Attachments(text_form, ("txt",))
