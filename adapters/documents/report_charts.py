"""The report's four charts, drawn with matplotlib: SVG for the HTML file, PNG for the PDF.

Only the object-oriented API (``Figure``) is used, never ``pyplot``: pyplot keeps global state
and picks a GUI backend, while a ``Figure`` drawn by the Agg or SVG canvas needs no display and
can be drawn from any thread of a server. SVG text is left as text (``svg.fonttype: none``), so
the HTML stays small, searchable, and uses the reader's own sans-serif font: nothing is fetched.
"""

from __future__ import annotations

import io
import re
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from dialogs import texts
from dialogs.reports.model import ReportChart

PALETTE = ["#1f5f8b", "#e07b39", "#4f9d69", "#b84a62", "#7a5fa8", "#8c7a3e", "#3d8d9c",
           "#c9a227", "#6b6b6b"]
_STYLE: Any = {
    "svg.fonttype": "none",
    "svg.hashsalt": "escalation-bot-report",  # the same ids on every run: reproducible files
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _figure(chart: ReportChart) -> Figure:
    figure = Figure(figsize=(7.0, 3.2), dpi=100, facecolor="white")
    FigureCanvasAgg(figure)  # the raster canvas, whatever backend the process chose
    axes = figure.add_subplot()
    positions = list(range(len(chart.categories)))
    if chart.empty:
        axes.text(0.5, 0.5, texts.REPORT_CHART_EMPTY, ha="center", va="center",
                  transform=axes.transAxes)
    bottoms = [0.0] * len(positions)
    for index, series in enumerate(chart.series):
        colour = PALETTE[index % len(PALETTE)]
        if chart.kind == "stacked":
            axes.bar(positions, series.values, bottom=bottoms, color=colour, label=series.name)
            bottoms = [b + v for b, v in zip(bottoms, series.values, strict=True)]
        else:
            bars = axes.bar(positions, series.values, color=colour, label=series.name)
            axes.bar_label(bars, labels=[f"{v:g}" if v else "" for v in series.values],
                           fontsize=8)
    axes.set_xticks(positions, chart.categories, rotation=30 if len(positions) > 8 else 0,
                    ha="right" if len(positions) > 8 else "center")
    axes.set_xlabel(chart.x_label)
    axes.set_ylabel(chart.y_label)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    tallest = max(bottoms) if chart.kind == "stacked" else max(
        (v for s in chart.series for v in s.values), default=0.0)
    axes.set_ylim(0, max(1.0, tallest * 1.12))  # room above the tallest bar for its label
    if chart.kind == "stacked" and chart.series:
        axes.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    return figure


def chart_svg(chart: ReportChart) -> str:
    """The chart as an ``<svg>`` element to put inline in HTML (no XML prologue)."""
    with matplotlib.rc_context(_STYLE):
        figure = _figure(chart)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    # the RDF block names the Dublin Core and Creative Commons vocabularies by address; inline,
    # it only adds addresses a reader's tools may look up, so it is left out
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.DOTALL)
    return text[text.index("<svg"):]


def chart_png(chart: ReportChart, dpi: int = 150) -> bytes:
    with matplotlib.rc_context(_STYLE):
        figure = _figure(chart)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()
