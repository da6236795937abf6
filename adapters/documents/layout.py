"""What goes on the page, decided once for every format from the neutral FormDocument.

The DOCX and the PDF must say the same thing in the same order (an agency's edited DOCX and the
archived PDF are two copies of one record), so the words, the blanks, which rows span the page and
the band's colour are chosen here, and each renderer only draws them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from adapters.documents.colours import Rgb, band_colours
from dialogs import texts
from dialogs.documents import DocumentRow, FormDocument

# Past this many characters, or with a line break, a value reads better across the page than
# squeezed into the right-hand column, whatever the field's kind.
LONG_VALUE = 200


@dataclass(frozen=True)
class Row:
    label: str
    value: str
    full_width: bool


@dataclass(frozen=True)
class Section:
    title: str
    rows: list[Row]


@dataclass(frozen=True)
class Layout:
    partnership: str
    title: str
    colour_word: str | None
    band: Rgb
    band_text: Rgb
    facts: list[Row]
    privacy: str
    sections: list[Section]
    running_head: str
    footer_lead: str
    metadata_title: str


Clean = Callable[[str], str]


def normalise(text: str) -> str:
    """One spelling of each character (NFC: "Zoë" typed as e + combining diaeresis becomes ë)
    and one kind of line break, so both formats draw, and search, the same text."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return unicodedata.normalize("NFC", text)


def layout_of(document: FormDocument, clean: Clean) -> Layout:
    """``clean`` makes text safe for the format (XML characters for DOCX, the font's glyphs for
    PDF); it never drops a character silently."""

    def text(value: str) -> str:
        return clean(normalise(value))

    def shown(value: str) -> str:
        value = text(value).strip()
        return value or texts.DOCUMENT_BLANK

    band, band_text = band_colours(document.colour)
    stage = str(document.stage) if document.stage is not None else ""
    def row_of(row: DocumentRow) -> Row:
        value = shown(row.value)
        return Row(
            label=text(row.label),
            value=value,
            full_width=row.long or "\n" in value or len(value) > LONG_VALUE,
        )

    sections = [
        Section(title=text(section.title), rows=[row_of(row) for row in section.rows])
        for section in document.sections
    ]
    reference = text(document.case_reference)
    title = text(document.title)
    return Layout(
        partnership=text(document.partnership),
        title=title,
        colour_word=(
            texts.DOCUMENT_COLOUR.format(colour=text(document.colour)) if document.colour else None
        ),
        band=band,
        band_text=band_text,
        facts=[
            Row(texts.DOCUMENT_REFERENCE, reference or texts.DOCUMENT_BLANK, False),
            Row(texts.DOCUMENT_STAGE, stage or texts.DOCUMENT_BLANK, False),
            Row(texts.DOCUMENT_PRODUCED, shown(document.produced_at), False),
        ],
        privacy=texts.DOCUMENT_PRIVACY,
        sections=sections,
        running_head=f"{text(document.partnership)} · {title} · {reference}",
        footer_lead=reference,
        metadata_title=f"{title} {reference}",
    )
