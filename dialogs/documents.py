"""A partnership's form, filled in from a case, as a document any renderer can draw.

The engine decides what a form says (dialogs/forms.py fills the values); adapters decide how it
looks (DOCX for agencies to edit and upload to their case systems, PDF for the archive). Between
them sits this neutral model, which travels in the outbox with the notification that files the
form, so a renderer at delivery time draws exactly what the engine decided at the transition.

A document holds the child's details (it is filed on the child's record): it goes only to the
people and mailboxes the policy names, never to a channel, and its file name carries none of it.
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from policy.calendar import WorkingCalendar
from policy.model import FieldKind, Form


class _Neutral(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DocumentRow(_Neutral):
    label: str
    value: str = ""
    long: bool = Field(default=False, description="Free text that deserves a full-width cell")
    sensitive: bool = Field(default=False, description="The child's details")


class DocumentSection(_Neutral):
    title: str
    rows: list[DocumentRow]


class FormDocument(_Neutral):
    partnership: str = Field(description="The partnership's name, as on its own forms")
    form_id: str
    title: str = Field(description="The form's name, e.g. 'Appendix 1: Recording Form ...'")
    colour: str | None = Field(default=None, description="St Helens' forms go by colour")
    case_reference: str
    stage: int | None = Field(default=None, description="The stage this copy was produced for")
    produced_at: str = Field(description="When, in the partnership's time zone, as people write it")
    sections: list[DocumentSection]

    def all_text(self) -> str:
        """Everything a reader sees, for tests and privacy checks."""
        parts = [self.partnership, self.title, self.colour or "", self.case_reference]
        for section in self.sections:
            parts.append(section.title)
            for row in section.rows:
                parts += [row.label, row.value]
        return "\n".join(parts)


def form_document(
    form: Form,
    values: dict[str, str],
    *,
    partnership: str,
    case_reference: str,
    stage: int | None,
    calendar: WorkingCalendar,
    now: datetime,
) -> FormDocument:
    """``values`` are keyed ``section.field`` as ``dialogs.forms.form_values`` returns them.
    Sections for stages the case has not reached are left out, as on the card."""
    sections = []
    for section in form.sections:
        if section.stage is not None and stage is not None and section.stage > stage:
            continue
        rows = [
            DocumentRow(
                label=field.label,
                value=values.get(f"{section.id}.{field.id}", ""),
                long=field.kind in {FieldKind.LONG_TEXT, FieldKind.ACTIONS},
                sensitive=field.sensitive,
            )
            for field in section.fields
        ]
        sections.append(DocumentSection(title=section.title, rows=rows))
    return FormDocument(
        partnership=partnership,
        form_id=form.id,
        title=form.name,
        colour=form.colour,
        case_reference=case_reference,
        stage=stage,
        produced_at=calendar.local(now).strftime("%d/%m/%Y %H:%M"),
        sections=sections,
    )


_UNSAFE = re.compile(r"[^A-Za-z0-9-]+")


def document_file_name(document: FormDocument, extension: str) -> str:
    """``NB-0001-appendix-1-stage-2.pdf``: the case reference, the form and the stage, and never
    the child's details, so a file name seen in a download folder or an upload log says nothing
    about the child."""
    parts = [document.case_reference, document.form_id]
    if document.stage is not None:
        parts.append(f"stage-{document.stage}")
    stem = "-".join(_UNSAFE.sub("-", part).strip("-") for part in parts if part)
    return f"{stem}.{extension.lstrip('.')}"
