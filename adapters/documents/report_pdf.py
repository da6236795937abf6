"""The report as PDF: the same words, tables and charts as the HTML file, the charts as PNG
images, in the DejaVu Sans the forms embed (so every name an agency has prints)."""

from __future__ import annotations

import io

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from adapters.documents.fonts import Fonts, find_fonts
from adapters.documents.report_charts import chart_png
from dialogs import texts
from dialogs.reports.model import Report, ReportTable

FAMILY = "DejaVuSans"
LINE = 5.0


class _ReportPdf(FPDF):
    def __init__(self, report: Report, fonts: Fonts) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.report = report
        self.add_font(FAMILY, "", str(fonts.regular))
        self.add_font(FAMILY, "B", str(fonts.bold))
        self.set_margins(18, 18, 18)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_title(f"{report.partnership}: {report.title}")
        self.set_creator("escalation-bot")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, "", 8)
        self.set_text_color(0x55, 0x55, 0x55)
        self.cell(0, 4, texts.DOCUMENT_PAGE.format(page=self.page_no(), pages="{nb}"),
                  align="C")
        self.set_text_color(0, 0, 0)

    def heading(self, text: str, size: int = 13) -> None:
        self.set_font(FAMILY, "B", size)
        self.multi_cell(0, LINE + 1, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FAMILY, "", 10)

    def para(self, text: str, size: int = 10) -> None:
        self.set_font(FAMILY, "", size)
        self.multi_cell(0, LINE, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def table_of(self, table: ReportTable) -> None:
        self.ln(2)
        self.heading(table.title, 12)
        self.set_font(FAMILY, "", 9)
        with self.table(first_row_as_headings=True, line_height=LINE,
                        text_align="LEFT") as grid:
            head = grid.row()
            for column in table.columns:
                head.cell(column)
            for values in table.rows:
                row = grid.row()
                for cell in values:
                    row.cell(cell)
        if table.note:
            self.para(table.note, 8)


def render_report_pdf(report: Report) -> bytes:
    pdf = _ReportPdf(report, find_fonts())
    pdf.add_page()
    pdf.para(report.partnership, 10)
    pdf.heading(report.title, 16)
    for line in report.subtitle:
        pdf.para(line, 9)
    pdf.ln(2)
    pdf.heading(texts.REPORT_HEADLINE, 12)
    for fact in report.headline:
        pdf.para(f"{fact.label}: {fact.value}")
    for chart in report.charts:
        pdf.ln(2)
        pdf.heading(chart.title, 11)
        pdf.image(io.BytesIO(chart_png(chart)), w=pdf.epw)
    for table in report.tables:
        pdf.table_of(table)
    pdf.ln(2)
    pdf.heading(texts.REPORT_REFLECTIONS, 12)
    if not report.reflections:
        pdf.para(texts.REPORT_NO_REFLECTIONS)
    for block in report.reflections:
        pdf.heading(block.question, 10)
        for answer in block.answers:
            pdf.para(f"“{answer}”", 9)
    pdf.ln(2)
    for note in report.notes:
        pdf.para(note, 8)
    return bytes(pdf.output())
