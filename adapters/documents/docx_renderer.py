"""A form as DOCX, for agencies to edit and upload to their own case systems: python-docx, so the
file is built from the pack's form definition with no template and no office suite.

Word draws what python-docx cannot compute (page numbers) from fields, so the footer carries
PAGE and NUMPAGES fields that Word and LibreOffice fill in when the file is opened.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from typing import cast

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.table import Table, _Cell, _Row
from docx.text.paragraph import Paragraph

from adapters.documents.colours import Rgb, hex_of
from adapters.documents.layout import Layout, Row, layout_of
from dialogs import texts
from dialogs.documents import FormDocument

PAGE_WIDTH, PAGE_HEIGHT, MARGIN = Cm(21.0), Cm(29.7), Cm(1.8)
TEXT_WIDTH_CM = 21.0 - 2 * 1.8
LABEL_WIDTH = Cm(TEXT_WIDTH_CM * 0.36)
VALUE_WIDTH = Cm(TEXT_WIDTH_CM * 0.64)
LABEL_FILL, SECTION_FILL = "F2F2F2", "D9D9D9"
# What XML 1.0 cannot hold (python-docx refuses it): C0 controls other than tab and line feed,
# lone surrogates and the two non-characters.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_FIELD = re.compile(r"\{(page|pages)\}")


def _xml_safe(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _shade(cell: _Cell, fill: str) -> None:
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    cell._tc.get_or_add_tcPr().append(shading)


def _repeat_as_header(row: _Row) -> None:
    """A section's title row is repeated at the top of each page its table runs onto."""
    flag = OxmlElement("w:tblHeader")
    flag.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(flag)


def _field(paragraph: Paragraph, instruction: str, size: float) -> None:
    """A Word field (PAGE, NUMPAGES) showing "1" until the reader's application updates it."""
    run = paragraph.add_run()
    run.font.size = Pt(size)
    begin, text, separate, shown, end = (
        OxmlElement("w:fldChar"),
        OxmlElement("w:instrText"),
        OxmlElement("w:fldChar"),
        OxmlElement("w:t"),
        OxmlElement("w:fldChar"),
    )
    begin.set(qn("w:fldCharType"), "begin")
    text.set(qn("xml:space"), "preserve")
    text.text = f" {instruction} "
    separate.set(qn("w:fldCharType"), "separate")
    shown.text = "1"
    end.set(qn("w:fldCharType"), "end")
    for element in (begin, text, separate, shown, end):
        run._r.append(element)


def _write(paragraph: Paragraph, text: str, *, bold: bool = False, size: float | None = None,
           colour: Rgb | None = None) -> None:
    run = paragraph.add_run(text)  # python-docx turns "\n" into line breaks
    run.bold = bold
    if size is not None:
        run.font.size = Pt(size)
    if colour is not None:
        run.font.color.rgb = RGBColor(*colour)


def _table(doc: DocxDocument) -> Table:
    table: Table = doc.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    # Word reads each cell's width, LibreOffice the table grid: set both.
    table.columns[0].width, table.columns[1].width = LABEL_WIDTH, VALUE_WIDTH
    return table


def _add_row(table: Table) -> _Row:
    return cast(_Row, table.add_row())  # type: ignore[no-untyped-call]


def _pair(table: Table, row: Row) -> None:
    cells = _add_row(table).cells
    cells[0].width, cells[1].width = LABEL_WIDTH, VALUE_WIDTH
    _shade(cells[0], LABEL_FILL)
    _write(cells[0].paragraphs[0], row.label, bold=True)
    _write(cells[1].paragraphs[0], row.value)


def _spanning(table: Table, first: str, rest: str | None, *, fill: str, bold_first: bool) -> _Row:
    row = _add_row(table)
    cells = row.cells
    cells[0].width, cells[1].width = LABEL_WIDTH, VALUE_WIDTH
    cell = cells[0].merge(cells[1])
    _write(cell.paragraphs[0], first, bold=bold_first)
    if rest is not None:
        _write(cell.add_paragraph(), rest)
    if fill:
        _shade(cell, fill)
    return row


def _page_setup(doc: DocxDocument, page: Layout) -> None:
    section = doc.sections[0]
    section.page_width, section.page_height = PAGE_WIDTH, PAGE_HEIGHT
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, MARGIN)
    normal = doc.styles["Normal"]
    normal.font.size = Pt(10)
    normal.paragraph_format.space_before = Pt(1)
    normal.paragraph_format.space_after = Pt(2)
    _write(section.header.paragraphs[0], page.running_head, size=8)
    footer = section.footer.paragraphs[0]
    _write(footer, f"{page.footer_lead} · ", size=8)
    template = texts.DOCUMENT_PAGE
    at = 0
    for match in _FIELD.finditer(template):
        _write(footer, template[at : match.start()], size=8)
        _field(footer, "PAGE" if match.group(1) == "page" else "NUMPAGES", 8)
        at = match.end()
    _write(footer, template[at:], size=8)


def _metadata(doc: DocxDocument, page: Layout) -> None:
    """The form and the case, never the child; the partnership as author, no one's email."""
    now = datetime.now(UTC).replace(microsecond=0)
    props = doc.core_properties
    props.title = page.metadata_title
    props.author = page.partnership
    props.last_modified_by = page.partnership
    props.subject = ""
    props.keywords = ""
    props.comments = ""
    props.category = ""
    props.created = now
    props.modified = now
    props.revision = 1


def render_docx(document: FormDocument) -> bytes:
    """The form as DOCX bytes: a coloured band, the case facts, then one table per section."""
    page = layout_of(document, _xml_safe)
    doc = Document()
    _page_setup(doc, page)
    _metadata(doc, page)
    first = doc.paragraphs[0] if doc.paragraphs else doc.add_paragraph()
    _write(first, page.partnership, bold=True, size=13)

    band = doc.add_table(rows=1, cols=1)
    band.alignment = WD_TABLE_ALIGNMENT.CENTER
    cell = band.rows[0].cells[0]
    _shade(cell, hex_of(page.band))
    _write(cell.paragraphs[0], page.title, bold=True, size=16, colour=page.band_text)
    if page.colour_word:
        _write(cell.add_paragraph(), page.colour_word, bold=True, colour=page.band_text)

    doc.add_paragraph()
    facts = _table(doc)
    for row in page.facts:
        _pair(facts, row)
    privacy = doc.add_paragraph()
    privacy.paragraph_format.space_before = Pt(8)
    privacy.paragraph_format.space_after = Pt(8)
    _write(privacy, page.privacy, bold=True, size=9)

    for section in page.sections:
        table = _table(doc)
        _repeat_as_header(
            _spanning(table, section.title, None, fill=SECTION_FILL, bold_first=True)
        )
        for row in section.rows:
            if row.full_width:
                _spanning(table, row.label, row.value, fill="", bold_first=True)
            else:
                _pair(table, row)
        doc.add_paragraph()

    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
