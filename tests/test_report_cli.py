"""`escalation-bot report` on a real SQLite file: each format to standard output or a file, an
agency's cut, and every wrong option answered in one line that names it and the fix."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from support import CHILD_NAME, EXAMPLE_CONFIG, app_for, escalate, raise_case, resolve

from bot.cli import main


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report-cli")
    app, _ = app_for(folder)
    cases = [raise_case(app, "northbay") for _ in range(3)]
    resolve(app, cases[0])
    escalate(app, cases[1])
    raise_case(app, "havenport")
    app.close()
    return folder / "bot.sqlite3"


def run(database: Path, *options: str) -> list[str]:
    return ["report", "--db", str(database), "--config", str(EXAMPLE_CONFIG), *options]


NORTHBAY_FEB = ["--partnership", "northbay", "--from", "2027-02-01", "--to", "2027-02-28"]


def test_json_to_standard_output(
    database: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert main(run(database, *NORTHBAY_FEB, "--format", "json")) == 0
    out = capsysbinary.readouterr().out
    report = json.loads(out)
    facts = {f["label"]: f["value"] for f in report["headline"]}
    assert facts["Cases raised"] == "3" and facts["Resolved"] == "1"
    escalations = next(t for t in report["tables"] if t["id"] == "escalations")
    assert escalations["rows"][0] == ["By a person", "1"]
    assert CHILD_NAME.encode() not in out


def test_each_format_to_a_file(database: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    for fmt, starts in (("csv", b"table,row,column,value"), ("html", b"<!DOCTYPE html>"),
                        ("pdf", b"%PDF-")):
        target = tmp_path / f"out.{fmt}"
        assert main(run(database, *NORTHBAY_FEB, "--format", fmt, "--out", str(target))) == 0
        assert target.read_bytes().startswith(starts)
        assert f"Wrote {target}" in capsys.readouterr().err
        assert CHILD_NAME.encode() not in target.read_bytes()


def test_an_agency_cut(database: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert main(run(database, *NORTHBAY_FEB, "--agency", "northbay-health",
                    "--format", "csv")) == 0
    rows = list(csv.DictReader(io.StringIO(capsysbinary.readouterr().out.decode())))
    cases = next(r for r in rows if r["row"] == "Cases raised")
    assert cases["value"] == "3"  # every one was raised with Northbay Community Health
    cells = [r["value"] for r in rows if r["table"] == "by-agency"]
    assert "<5" in cells and "3" not in cells


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--partnership", "northbay", "--from", "2027-13-01", "--to", "2027-02-28"],
         "report: --from '2027-13-01' is not a date; fix: write it as YYYY-MM-DD"),
        (["--partnership", "northbay", "--from", "2027-02-01", "--to", "28/02/2027"],
         "report: --to '28/02/2027' is not a date; fix:"),
        (["--partnership", "northbay", "--from", "2027-03-01", "--to", "2027-02-01"],
         "report: --from 2027-03-01 is after --to 2027-02-01; fix:"),
        (["--partnership", "nowhere", "--from", "2027-02-01", "--to", "2027-02-28"],
         "report: --partnership 'nowhere' is not configured; fix: use one of northbay,"),
        ([*NORTHBAY_FEB, "--agency", "havenport-school"],
         "report: --agency 'havenport-school' is not an agency of northbay; fix: use one of"),
    ],
)
def test_a_wrong_option_is_named_with_its_fix(
    database: Path, capsys: pytest.CaptureFixture[str], options: list[str], says: str
) -> None:
    assert main(run(database, *options, "--format", "html")) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(says), lines


def test_a_missing_database_is_refused_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.sqlite3"
    assert main(run(missing, *NORTHBAY_FEB, "--format", "json")) == 1
    assert capsys.readouterr().err.startswith(f"report: there is no database at {missing}")
    assert not missing.exists()
