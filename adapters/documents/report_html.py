"""The report as one self-contained HTML file: inline CSS and inline SVG charts, no script, no
font and no address to fetch, so it opens the same offline, in a mail client's preview, or
years later from an archive."""

from __future__ import annotations

from html import escape

from adapters.documents.report_charts import chart_svg
from dialogs import texts
from dialogs.reports.model import Report, ReportTable

_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; color: #1b1b1b; margin: 2rem auto;
       max-width: 78rem; padding: 0 1rem; line-height: 1.4; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; } h2 { font-size: 1.2rem; margin-top: 2rem;
       border-bottom: 2px solid #1f5f8b; padding-bottom: .2rem; }
.sub { color: #444; margin: 0; } .facts { display: flex; flex-wrap: wrap; gap: .75rem;
       margin: 1rem 0; padding: 0; list-style: none; }
.facts li { background: #eef3f7; border-radius: 6px; padding: .5rem .8rem; }
.facts b { display: block; font-size: 1.3rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(30rem, 1fr));
       gap: 1rem; }
figure { margin: 0; } figcaption { font-weight: bold; margin-bottom: .25rem; }
figure svg { width: 100%; height: auto; }
table { border-collapse: collapse; margin: .5rem 0; } th, td { border: 1px solid #bbb;
       padding: .25rem .6rem; text-align: left; } th { background: #eef3f7; }
td.n { text-align: right; } .note { color: #555; font-size: .9rem; }
blockquote { margin: .3rem 0 .3rem 1rem; padding-left: .6rem; border-left: 3px solid #ccc; }
"""


def _table(table: ReportTable) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns)
    rows = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{escape(cell)}</td>' if i else f"<td>{escape(cell)}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in table.rows
    )
    note = f'<p class="note">{escape(table.note)}</p>' if table.note else ""
    return (
        f'<section id="{escape(table.id)}"><h2>{escape(table.title)}</h2>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{note}</section>"
    )


def render_report_html(report: Report) -> bytes:
    facts = "".join(
        f"<li>{escape(f.label)}<b>{escape(f.value)}</b></li>" for f in report.headline
    )
    charts = "".join(
        f'<figure id="chart-{escape(c.id)}"><figcaption>{escape(c.title)}</figcaption>'
        f"{chart_svg(c)}</figure>"
        for c in report.charts
    )
    reflections = "".join(
        f"<h3>{escape(block.question)}</h3>"
        + "".join(f"<blockquote>{escape(a)}</blockquote>" for a in block.answers)
        for block in report.reflections
    ) or f"<p>{escape(texts.REPORT_NO_REFLECTIONS)}</p>"
    subtitle = "".join(f'<p class="sub">{escape(line)}</p>' for line in report.subtitle)
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in report.notes)
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(report.partnership)}: {escape(report.title)}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<header><p class=\"sub\">{escape(report.partnership)}</p>"
        f"<h1>{escape(report.title)}</h1>{subtitle}</header>"
        f'<h2>{escape(texts.REPORT_HEADLINE)}</h2><ul class="facts">{facts}</ul>'
        f'<div class="charts">{charts}</div>'
        + "".join(_table(t) for t in report.tables)
        + f'<section id="reflections"><h2>{escape(texts.REPORT_REFLECTIONS)}</h2>'
        f"{reflections}</section><footer>{notes}</footer></body></html>\n"
    )
    return page.encode("utf-8")
