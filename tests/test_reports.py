"""The report's figures against a ledger of 520 cases the test drove itself, across the four
seed procedures (see report_cases.py), and its four formats read back: the HTML in headless
Chromium (screenshotted for the README), the PDF's text through pypdf, CSV and JSON parsed.

Every expected number here is counted from the ledger (what the test did and saw), never by
the report code; time to resolve is counted with the holidays package directly.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import statistics
import tempfile
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader
from report_cases import (
    FIRST_DAY,
    WORRIED,
    Generated,
    Planned,
    generate,
    working_days_between,
)
from support import CHILD_DOB, CHILD_IDS, CHILD_NAME, PARTNERSHIPS, policy_of

from adapters.documents import (
    render_report_csv,
    render_report_html,
    render_report_json,
    render_report_pdf,
)
from dialogs.reports.build import Built, build_report
from dialogs.reports.figures import Period
from dialogs.reports.scrub import REMOVED

REPO = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO / "docs" / "images" / "report.png"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SECRETS = [CHILD_NAME, "Jamie", CHILD_DOB.isoformat(), CHILD_DOB.strftime("%d/%m/%Y"), CHILD_IDS,
           "000000"]


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s.lower() in text.lower()]


@pytest.fixture(scope="module")
def generated() -> Iterator[Generated]:
    # tmpfs when there is one: 520 cases are ~3,000 fsynced SQLite commits
    where = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=where) as folder:
        built = generate(Path(folder))
        yield built
        built.app.close()


def period_of(generated: Generated) -> Period:
    return Period(FIRST_DAY, generated.last_day)


def built_for(generated: Generated, partnership: str, agency: str | None = None) -> Built:
    app = generated.app
    return build_report(app.store, app.config, app.policies, partnership_id=partnership,
                        period=period_of(generated), now=generated.now, agency=agency)


def ledger(generated: Generated, partnership: str, agency: str | None = None) -> list[Planned]:
    return [p for p in generated.cases if p.partnership == partnership
            and (agency is None or agency in (p.raising_agency, p.receiving_agency))]


def action_state(planned: Planned, today: date) -> str | None:
    if planned.action_due is None:
        return None
    if planned.action_done_on is not None:
        return "done_on_time" if planned.action_done_on <= planned.action_due else "done_late"
    return "open_overdue" if today > planned.action_due else "open_not_due"


def test_the_set_is_big_and_varied(generated: Generated) -> None:
    cases = generated.cases
    assert len(cases) >= 500
    assert {p.partnership for p in cases} == set(PARTNERSHIPS)
    assert sum(p.lapses for p in cases) > 100 and sum(p.person for p in cases) > 100
    assert Counter(p.status for p in cases).keys() == {"open", "resolved", "withdrawn"}
    assert {action_state(p, generated.now.date()) for p in cases} >= {
        "done_on_time", "done_late", "open_overdue"}


@pytest.mark.parametrize("partnership", list(PARTNERSHIPS))
def test_figures_match_the_ledger(generated: Generated, partnership: str) -> None:
    figures = built_for(generated, partnership).figures
    mine = ledger(generated, partnership)
    today = generated.now.date()
    assert figures.cases == len(mine)
    assert figures.outcomes == Counter(p.status for p in mine)
    assert figures.raised_by_agency == Counter(p.raising_agency for p in mine)
    assert figures.received_by_agency == Counter(p.receiving_agency for p in mine)
    assert figures.by_reason == Counter(p.reason for p in mine)
    months = Counter((p.raised_on.strftime("%Y-%m"), p.reason) for p in mine)
    assert {(m, r): n for m, c in figures.reasons_by_month.items() for r, n in c.items()} == months
    assert figures.stage_reached == Counter(p.reached for p in mine)
    resolved = [p for p in mine if p.status == "resolved"]
    assert figures.resolved_at_stage == Counter(p.closed_stage for p in resolved)
    days = sorted(working_days_between(partnership, p.raised_on, p.closed_on)
                  for p in resolved if p.closed_on)
    assert figures.days_to_resolve == days
    assert figures.median_days == statistics.median(days)
    assert figures.p90_days == days[math.ceil(len(days) * 9 / 10) - 1]
    missed: Counter[int] = Counter()
    met: Counter[int] = Counter()
    by_agency: Counter[str] = Counter()
    for p in mine:
        missed.update(p.missed)
        met.update(p.met)
        for agency in {p.raising_agency, p.receiving_agency}:
            by_agency[agency] += sum(p.missed.values())
    assert figures.deadlines_missed == missed
    assert figures.deadlines_met == met
    assert +figures.missed_by_agency == +by_agency
    assert figures.escalated_by_person == sum(p.person for p in mine)
    assert figures.escalated_by_lapse == sum(p.lapses for p in mine)
    states = Counter(s for p in mine if (s := action_state(p, today)))
    assert +figures.actions == states


def test_reflections_are_the_answers_with_the_child_taken_out(generated: Generated) -> None:
    figures = built_for(generated, "havenport").figures  # St Helens' purple form asks all three
    worried = figures.reflections["what_worried_you"]
    resolved = [p for p in ledger(generated, "havenport") if p.status == "resolved"]
    assert len(worried) == len(resolved)
    assert set(worried) == {f"We worried {REMOVED} would wait; {REMOVED}'s school place mattered"}
    assert WORRIED not in worried
    assert set(figures.reflections) == {"what_worked_well", "what_worried_you",
                                        "what_needs_to_change"}
    nsscp = built_for(generated, "northbay").figures.reflections
    assert set(nsscp) == {"policy_helpfulness"}  # NSSCP's monitoring asks how helpful it was


def test_the_final_stage_list_is_kept_where_the_pack_keeps_one(generated: Generated) -> None:
    app = generated.app
    final = policy_of(app, "carrow-board").final_stage.number
    figures = built_for(generated, "carrow-board").figures
    assert figures.final_stage is not None
    expected = sorted(p.reference for p in ledger(generated, "carrow-board") if p.reached >= final)
    assert sorted(row.reference for row in figures.final_stage) == expected
    assert expected
    report = built_for(generated, "carrow-board").report
    table = next(t for t in report.tables if t.id == "final-stage")
    assert sorted(row[0] for row in table.rows) == expected
    assert built_for(generated, "northbay").figures.final_stage is None  # NSSCP keeps none


def test_an_agency_cut_counts_only_its_cases_and_suppresses_small_cells(
    generated: Generated,
) -> None:
    app = generated.app
    agencies = [a.id for a in app.config.agencies if a.partnership == "havenport"]
    for agency in agencies:
        built = built_for(generated, "havenport", agency)
        mine = ledger(generated, "havenport", agency)
        assert built.figures.cases == len(mine)
        assert built.figures.escalated_by_lapse == sum(p.lapses for p in mine)
        table = next(t for t in built.report.tables if t.id == "by-agency")
        for row in table.rows:
            for cell in row[1:]:
                assert cell == "<5" or cell == "0" or int(cell) >= 5
    small = [a.id for a in app.config.agencies if a.partnership == "havenport"]
    raised = Counter(p.raising_agency for p in ledger(generated, "havenport"))
    report = built_for(generated, "havenport").report
    table = next(t for t in report.tables if t.id == "by-agency")
    names = {a.id: a.name for a in app.config.agencies}
    shown = {row[0]: row[1] for row in table.rows}
    for agency in small:
        if agency in raised:
            want = "<5" if raised[agency] < 5 else str(raised[agency])
            assert shown[names[agency]] == want


def test_suppression_shows_one_to_four_as_under_five() -> None:
    from dialogs.reports.publish import suppressed

    assert [suppressed(n) for n in (0, 1, 4, 5, 17)] == ["0", "<5", "<5", "5", "17"]


def test_csv_and_json_carry_the_figures(generated: Generated) -> None:
    built = built_for(generated, "northbay")
    rows = list(csv.DictReader(io.StringIO(render_report_csv(built.report).decode())))
    lapse = next(r for r in rows if r["table"] == "escalations" and r["row"] ==
                 "By a lapsed deadline")
    assert int(lapse["value"]) == sum(p.lapses for p in ledger(generated, "northbay"))
    cases = next(r for r in rows if r["table"] == "headline" and r["row"] == "Cases raised")
    assert int(cases["value"]) == len(ledger(generated, "northbay"))
    data = json.loads(render_report_json(built.report))
    chart = next(c for c in data["charts"] if c["id"] == "stage-reached")
    assert sum(chart["series"][0]["values"]) == len(ledger(generated, "northbay"))
    for fmt in (render_report_csv, render_report_json):
        assert leaks(fmt(built.report).decode()) == []


def test_the_pdf_says_what_the_html_says(generated: Generated) -> None:
    built = built_for(generated, "carrow-board")
    reader = PdfReader(io.BytesIO(render_report_pdf(built.report)))
    text = "\n".join(page.extract_text() for page in reader.pages)
    squashed = " ".join(text.split())
    for phrase in ("How the procedure was used", "Cases by reason", "Time to resolve",
                   "Concerns that reached the final stage", "What people said about the process",
                   "Median working days to resolve", built.report.partnership):
        assert phrase in squashed, phrase
    assert len(reader.pages) >= 3
    assert sum(len(page.images) for page in reader.pages) == 4  # the four charts
    assert leaks(text) == []
    final = next(t for t in built.report.tables if t.id == "final-stage")
    assert all(row[0] in squashed for row in final.rows)


def test_the_html_report_is_self_contained_and_opens_in_chromium(
    generated: Generated, tmp_path: Path
) -> None:
    built = built_for(generated, "havenport")
    html = render_report_html(built.report).decode()
    assert leaks(html.replace("#000000", "")) == []  # black, in the charts' SVG
    names_only = re.sub(r'xmlns(:\w+)?="[^"]*"', "", html)  # XML namespaces are names
    for outside in ("<script", "http://", "https://", "@import", r"url\((?!#)", "<link",
                    "src=", "<img", "@font-face"):
        assert re.search(outside, names_only) is None, outside  # url(#clip) is in the file
    assert html.count("<svg") == 4
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is needed at {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium); CI fails instead")
    from playwright.sync_api import sync_playwright

    page_file = tmp_path / "report.html"
    page_file.write_text(html, encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            fetched: list[str] = []
            page.on("request", lambda request: fetched.append(request.url))
            page.goto(page_file.as_uri())
            assert [u for u in fetched if not u.startswith("file:")] == []
            assert page.locator("figure svg").count() == 4
            for chart in built.report.charts:
                box = page.locator(f"#chart-{chart.id} svg").bounding_box()
                assert box is not None and box["width"] > 400 and box["height"] > 150
            assert page.locator("h1").inner_text() == "How the procedure was used"
            reasons = page.locator("#by-reason tbody tr")
            assert reasons.count() == len(next(t for t in built.report.tables
                                               if t.id == "by-reason").rows)
            body = page.locator("body").inner_text()
            assert leaks(body) == []
            assert "Lack of communication" in body  # St Helens' own reason categories
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=False)
        finally:
            browser.close()
    assert SCREENSHOT.stat().st_size > 20_000
