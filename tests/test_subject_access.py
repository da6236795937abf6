"""`escalation-bot subject-access` (issue 12): every case about one child, as a PDF and a JSON
file whose names say nothing about the child, and nothing about any other child inside them."""

from __future__ import annotations

import io
import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader
from support import EXAMPLE_CONFIG, app_for, drain, handle, raise_case, record, resolve

from bot.cli import main
from bot.subject_access import run_subject_access
from dialogs.commands import RecordDiscussion
from dialogs.subject_access import matches

ASKED = ("Rowan Askedfor", "14/09/2015", "2015-09-14")
NAMESAKE = ("Rowan Askedfor", "15/09/2015")  # same name, another child
OTHER = ("Tamsin Otherchild", "14/09/2015")  # same birthday, another child


def _database(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    app, _ = app_for(tmp_path, start=datetime(2026, 3, 2, 10, tzinfo=UTC))
    refs: dict[str, str] = {}
    for label, (name, dob), partnership in [
        ("asked", ASKED[:2], "northbay"), ("namesake", NAMESAKE, "northbay"),
        ("other", OTHER, "northbay"), ("asked-again", ASKED[:2], "havenport"),
    ]:
        first = name.split()[0]
        case = raise_case(app, partnership, child_name=name if label != "asked-again"
                          else f"  {name.upper()} ", child_dob=dob,
                          summary=f"About {first}: {label}.")
        handle(app, RecordDiscussion(actor=case.raised_by, case_id=case.id,
                                     record=record(f"Talked about {first} ({label}).")))
        if label == "asked":
            resolve(app, case)
        refs[label] = case.reference
    drain(app)
    app.close()
    return tmp_path / "bot.sqlite3", refs


def _run(db: Path, out: Path, name: str = "rowan askedfor", dob: str = ASKED[2]) -> int:
    return main(["subject-access", "--child-name", name, "--dob", dob, "--out", str(out),
                 "--db", str(db), "--config", str(EXAMPLE_CONFIG)])


def test_every_case_of_the_child_in_one_pdf_and_one_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, refs = _database(tmp_path)
    out = tmp_path / "export"
    out.mkdir()
    assert _run(db, out) == 0
    printed = capsys.readouterr()
    assert "Rowan" not in printed.out + printed.err and "2015" not in printed.out
    assert f"2 case(s) matched: {refs['asked']}, {refs['asked-again']}" in printed.out
    files = sorted(p.name for p in out.iterdir())
    day = datetime.now(UTC).date().isoformat()
    assert files == [f"subject-access-{day}-1.json", f"subject-access-{day}-1.pdf"]
    for path in out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds a child's details

    pdf = out / f"subject-access-{day}-1.pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.read_bytes())).pages)
    flat = " ".join(text.split())
    for ref in (refs["asked"], refs["asked-again"]):
        assert ref in flat
    assert "Rowan Askedfor" in flat and "2015-09-14" in flat
    assert "Talked about Rowan (asked)." in flat and "Talked about Rowan (asked-again)." in flat
    assert "resolved" in flat and "concern_raised" in flat  # the history is there too
    for ref in (refs["namesake"], refs["other"]):
        assert ref not in flat
    assert "Tamsin" not in flat and "namesake" not in flat and "2015-09-15" not in flat
    assert "ignoring upper and lower case" in flat  # the export says how it matched

    data = json.loads((out / f"subject-access-{day}-1.json").read_text(encoding="utf-8"))
    assert [c["case"]["reference"] for c in data["cases"]] == [refs["asked"], refs["asked-again"]]
    for item in data["cases"]:
        assert item["case"]["child"]["date_of_birth"] == "2015-09-14"
        assert item["case"]["child"]["name"].strip().lower() == "rowan askedfor"
        assert item["history"][0]["type"] == "concern_raised"
    dumped = json.dumps(data)
    assert "Tamsin" not in dumped and "namesake" not in dumped and "2015-09-15" not in dumped

    # a second export never overwrites the first
    assert _run(db, out, name="ROWAN ASKEDFOR ") == 0
    assert f"subject-access-{day}-2.pdf" in {p.name for p in out.iterdir()}


def test_matching_is_the_name_ignoring_case_and_the_date_exactly(tmp_path: Path) -> None:
    app, _ = app_for(tmp_path)
    case = raise_case(app, "northbay", child_name="Zoë Smith", child_dob="01/02/2014")
    born = case.child.date_of_birth
    assert born is not None
    assert matches(case, " zoë SMITH ", born)
    assert not matches(case, "Zoe Smith", born)  # no guessing at spellings
    assert not matches(case, "Zoë Smit", born)
    assert not matches(case, "Zoë Smith", born.replace(day=2))
    app.close()


def test_bad_input_is_answered_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, _ = _database(tmp_path)
    out = tmp_path / "export"
    out.mkdir()
    assert _run(db, out, dob="14/09/2015") == 2
    assert "--dob '14/09/2015' is not a date. Give the date of birth as YYYY-MM-DD" \
        in capsys.readouterr().err
    assert _run(db, out, name="  ") == 2
    assert "--child-name is empty" in capsys.readouterr().err
    assert _run(db, out, name="Nobody Known") == 1
    err = capsys.readouterr().err
    assert "no case matches that name and date of birth" in err and "Nobody" not in err
    assert _run(db, tmp_path / "missing-folder") == 2
    assert "is not a folder" in capsys.readouterr().err
    assert list(out.iterdir()) == []
    assert run_subject_access("Rowan Askedfor", ASKED[2], str(out), str(tmp_path / "no.db"),
                              str(EXAMPLE_CONFIG)) == 1
    assert "subject-access: there is no database at" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["subject-access", "--dob", ASKED[2]])
    assert usage.value.code == 2
