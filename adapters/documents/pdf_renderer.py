"""A form as PDF, for the archive: fpdf2, declared PDF/A-2U, with DejaVu Sans embedded.

fpdf2's own tables keep a row on one page, and a 5,000-character account of a disagreement is
taller than a page, so rows are drawn here with ``multi_cell``: a label/value row moves whole to
the next page when it does not fit, and a full-width row's text flows over as many pages as it
needs. Nothing is ever cut.
"""

from __future__ import annotations

import unicodedata
from typing import cast

from fpdf import FPDF
from fpdf.enums import MethodReturnValue, XPos, YPos
from fpdf.util import Padding

from adapters.documents.colours import Rgb
from adapters.documents.fonts import Fonts, find_fonts
from adapters.documents.layout import Layout, Row, Section, layout_of
from dialogs import texts
from dialogs.documents import FormDocument

PDF_A = "PDF/A-2U"
FAMILY = "DejaVuSans"
LINE = 5.0  # mm per line of 10 pt text
PAD = 1.5  # mm inside each cell
PADDING = Padding(PAD, PAD, PAD, PAD)
LABEL_SHARE = 0.36  # of the text width, for the label column
LABEL_FILL: Rgb = (0xF2, 0xF2, 0xF2)
SECTION_FILL: Rgb = (0xD9, 0xD9, 0xD9)
MARK = "\ufffd"  # what a character the font cannot draw becomes
# fpdf2 puts the page count wherever this appears in text. The default, "{nb}", could be typed by
# a person; a control character cannot reach the page (``_Glyphs`` replaces them).
PAGE_COUNT_ALIAS = "\x01nb\x01"


class _Glyphs:
    """Makes text drawable in the embedded font: a character the font lacks, or a control
    character, becomes a visible mark (fpdf2 would drop it, and log it), and ``replaced`` says a
    note is owed to the reader."""

    def __init__(self, coverage: frozenset[int]) -> None:
        self.coverage = coverage
        self.mark = MARK if ord(MARK) in coverage else "?"
        self.replaced = False

    def __call__(self, text: str) -> str:
        out = []
        for char in text:
            if char == "\n" or (
                ord(char) in self.coverage and unicodedata.category(char) != "Cc"
            ):
                out.append(char)
            else:
                out.append(self.mark)
                self.replaced = True
        return "".join(out)


class _FormPdf(FPDF):
    def __init__(self, page: Layout, fonts: Fonts) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4", enforce_compliance=PDF_A)
        self.form_layout = page
        self.add_font(FAMILY, "", str(fonts.regular))
        self.add_font(FAMILY, "B", str(fonts.bold))
        self.set_margins(18, 22, 18)
        self.set_auto_page_break(auto=True, margin=20)
        self.alias_nb_pages(PAGE_COUNT_ALIAS)
        self.c_margin = PAD
        self.set_draw_color(0x80, 0x80, 0x80)
        self.set_line_width(0.2)

    # ---- every page --------------------------------------------------------------------------
    def header(self) -> None:
        self.set_xy(self.l_margin, 9)
        self.set_font(FAMILY, "B", 8)
        self.set_text_color(0x40, 0x40, 0x40)
        self.multi_cell(
            0, 3.5, self.form_layout.running_head, padding=0, align="L",
            new_x=XPos.LMARGIN, new_y=YPos.NEXT,
        )
        self.set_y(max(self.y + 2, self.t_margin))
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(FAMILY, "", 8)
        self.set_text_color(0x40, 0x40, 0x40)
        page = texts.DOCUMENT_PAGE.format(page=self.page_no(), pages=PAGE_COUNT_ALIAS)
        width = self.epw / 2
        self.cell(width, 4, self.form_layout.footer_lead, align="L")
        self.cell(width, 4, page, align="R")
        self.set_text_color(0, 0, 0)

    # ---- building blocks ---------------------------------------------------------------------
    def _font(self, bold: bool = False, size: float = 10) -> None:
        self.set_font(FAMILY, "B" if bold else "", size)

    def _height(self, width: float, text: str, bold: bool = False) -> float:
        self._font(bold)
        height = self.multi_cell(
            width, LINE, text, dry_run=True, output=MethodReturnValue.HEIGHT, padding=PADDING
        )
        return cast(float, height)

    def band(self) -> None:
        page = self.form_layout
        self._font(True, 12)
        self.cell(0, 7, page.partnership, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)
        self.set_fill_color(*page.band)
        self.set_text_color(*page.band_text)
        self._font(True, 15)
        self.multi_cell(
            0, 7.5, page.title, fill=True, padding=Padding(3, 3, 1 if page.colour_word else 3, 3),
            align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT,
        )
        if page.colour_word:
            self._font(True, 10)
            self.multi_cell(
                0, LINE, page.colour_word, fill=True, padding=Padding(0, 3, 2, 3), align="L",
                new_x=XPos.LMARGIN, new_y=YPos.NEXT,
            )
        self.set_text_color(0, 0, 0)
        self.ln(3)

    def facts(self) -> None:
        for row in self.form_layout.facts:
            self.pair(row, None)
        self.ln(2)
        self._font(True, 9)
        self.multi_cell(
            0, 4.5, self.form_layout.privacy, border=1, padding=2, align="L",
            new_x=XPos.LMARGIN, new_y=YPos.NEXT,
        )
        self.ln(4)

    def section_title(self, title: str) -> None:
        self._font(True, 11)
        self.set_fill_color(*SECTION_FILL)
        self.multi_cell(
            0, 6, title, border=1, fill=True, padding=PADDING, align="L",
            new_x=XPos.LMARGIN, new_y=YPos.NEXT,
        )

    def pair(self, row: Row, section: Section | None) -> None:
        """Label left, value right, both wrapped; the row moves whole to the next page when it
        does not fit, unless it is taller than a page, when it spans the page instead."""
        label_w = self.epw * LABEL_SHARE
        value_w = self.epw - label_w
        height = max(self._height(label_w, row.label, True), self._height(value_w, row.value))
        if height > self.eph - 2 * LINE:
            self.full_width(row, section)
            return
        if self.will_page_break(height):
            self.add_page()
            if section is not None:
                self.section_title(texts.DOCUMENT_CONTINUED.format(title=section.title))
        x, y = self.l_margin, self.y
        self.set_fill_color(*LABEL_FILL)
        self.rect(x, y, label_w, height, style="DF")
        self.rect(x + label_w, y, value_w, height, style="D")
        self._font(True)
        self.set_xy(x, y)
        self.multi_cell(label_w, LINE, row.label, padding=PADDING, align="L")
        self._font()
        self.set_xy(x + label_w, y)
        self.multi_cell(value_w, LINE, row.value, padding=PADDING, align="L")
        self.set_xy(x, y + height)

    def full_width(self, row: Row, section: Section | None) -> None:
        """The label across the page, then the text below it, flowing over pages."""
        label_h = self._height(self.epw, row.label, True)
        if self.will_page_break(label_h + 3 * LINE):  # never a label alone at a page's foot
            self.add_page()
            if section is not None:
                self.section_title(texts.DOCUMENT_CONTINUED.format(title=section.title))
        self._font(True)
        self.set_fill_color(*LABEL_FILL)
        self.multi_cell(
            0, LINE, row.label, border=1, fill=True, padding=PADDING, align="L",
            new_x=XPos.LMARGIN, new_y=YPos.NEXT,
        )
        self._font()
        self.multi_cell(
            0, LINE, row.value, border=1, padding=PADDING, align="L",
            new_x=XPos.LMARGIN, new_y=YPos.NEXT,
        )

    def section(self, section: Section) -> None:
        first = section.rows[0] if section.rows else None
        needed = 6 + 2 * PAD + (3 * LINE if first else 0)
        if self.will_page_break(needed):
            self.add_page()
        self.section_title(section.title)
        for row in section.rows:
            if row.full_width:
                self.full_width(row, section)
            else:
                self.pair(row, section)
        self.ln(4)

    def note(self, text: str) -> None:
        self._font(False, 9)
        self.multi_cell(0, 4.5, text, padding=1, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def render_pdf(document: FormDocument, fonts: Fonts | None = None) -> bytes:
    """The form as PDF bytes. Raises FontMissing (naming the package) without DejaVu Sans."""
    fonts = fonts or find_fonts()
    glyphs = _Glyphs(fonts.coverage)
    page = layout_of(document, glyphs)
    pdf = _FormPdf(page, fonts)
    # Metadata names the form and the case, never the child, and no one's email.
    pdf.set_title(page.metadata_title)
    pdf.set_author(page.partnership)
    pdf.set_creator("escalation-bot")
    pdf.set_lang("en-GB")
    pdf.add_page()
    pdf.band()
    pdf.facts()
    for section in page.sections:
        pdf.section(section)
    if glyphs.replaced:
        pdf.note(texts.DOCUMENT_UNSHOWN_CHARACTERS.format(mark=glyphs.mark))
    return bytes(pdf.output())
