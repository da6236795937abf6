"""`escalation-bot people import FILE.csv`, run as a person runs it: every problem at once with its
row, column and fix and nothing imported, or the people added to the store the bot uses (a real
SQLite file, a real Redis) and then found by a case like anyone in the configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis_support import URL, fresh_prefix
from support import EXAMPLE_CONFIG, app_for, pending, person_notes, raise_case, someone

from adapters.storage.redis import RedisStore
from adapters.storage.sqlite import SqliteStore
from bot.cli import main

HEADER = "email,name,agency,role,line_manager,prefers,teams_aad_object_id"
KIT = "kit.lowe@health.northbay.example"
ROZ = "roz.kerr@health.northbay.example"
GUS = "gus.penn@health.northbay.example"
DANA_AAD = "00000000-0000-0000-0000-0000000000020"
GOOD = [
    f"{KIT},Kit Lowe,northbay-health,practitioner,{GUS},slack,",
    f"{ROZ},Roz Kerr,northbay-health,line_manager,{GUS},,AAAA0000-0000-0000-0000-000000000999",
]


def write(tmp_path: Path, *rows: str, header: str = HEADER, name: str = "people.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def run(csv: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["people", "import", str(csv), "--config", str(EXAMPLE_CONFIG), "--db", str(db)])
    out, err = capsys.readouterr()
    return code, out, err


def test_every_problem_is_named_by_row_and_column_and_nothing_is_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = write(
        tmp_path,
        GOOD[0],  # row 2 is fine, but is not imported either
        "not-an-address,Bo Ray,northbay-nowhere,practitioner,,,",  # row 3: two problems
        "ann.ode@council.northbay.example,Ann Ode,northbay-council,wizard,nobody@x.example,,",
        f"{KIT.upper()},Kit Twice,northbay-health,practitioner,,whatsapp,",  # row 5
        f"eve.oak@health.northbay.example,Eve Oak,northbay-health,practitioner,,,{DANA_AAD}",
    )
    db = tmp_path / "bot.sqlite3"
    code, out, err = run(csv, db, capsys)
    assert code == 1 and out == ""
    assert "nothing imported" in err
    expected = [
        ("row 3, email:", "fix: give the person's work email address"),
        ("row 3, agency: 'northbay-nowhere' is not an agency", "fix: use one of: northbay-council"),
        ("row 4, role: role 'wizard' is not a role of policy nsscp", "fix: use one of:"),
        ("row 4, line_manager: nobody@x.example is not in the directory", "fix: add them"),
        ("row 5, prefers:", "fix: write teams or slack, or leave it empty"),
        # Dana's Teams account is in the configuration: one account cannot be two people
        (f"row 6, teams_aad_object_id: '{DANA_AAD}' is also the directory's entry for"
         " dana.marsh@council.northbay.example", "fix: give each person their own"),
    ]
    lines = err.splitlines()
    for problem, fix in expected:
        (at,) = [i for i, line in enumerate(lines) if line.strip().startswith(problem)]
        assert lines[at + 1].strip().startswith(fix), (problem, lines[at + 1])
    assert f"{len(expected)} problem(s)" in err
    with SqliteStore(db) as store:
        assert store.person(KIT) is None
        assert store.person("eve.oak@health.northbay.example") is None


def test_the_header_must_name_the_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = write(tmp_path, GOOD[0], header="email,full name,agency,role,prefers,team")
    code, _, err = run(csv, tmp_path / "bot.sqlite3", capsys)
    assert code == 1
    assert "row 1, full_name: is not a column this import knows" in err
    assert "row 1, name: the column is missing" in err
    assert "row 1, line_manager: the column is missing" in err
    assert "leave it empty for people with none" in err


def test_a_file_that_is_not_utf8_is_refused_with_how_to_save_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "people.csv"
    csv.write_bytes((HEADER + "\n" + GOOD[0].replace("Kit", "K\xeft") + "\n").encode("latin-1"))
    code, _, err = run(csv, tmp_path / "bot.sqlite3", capsys)
    assert code == 1
    assert "row 2: the file is not UTF-8 text" in err and "CSV UTF-8" in err


def test_imported_people_are_in_the_directory_and_a_case_finds_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "bot.sqlite3"
    dana = "dana.marsh@council.northbay.example,Dana Marsh,northbay-council,practitioner,,,"
    csv = write(tmp_path, *GOOD, dana)
    code, out, err = run(csv, db, capsys)
    assert (code, err) == (0, "")
    assert "imported 2 people - 2 added, 0 updated, 0 unchanged" in out
    assert "left as configured there: dana.marsh@council.northbay.example" in out
    # again, with Kit renamed: one updated, one unchanged
    code, out, _ = run(write(tmp_path, GOOD[0].replace("Kit Lowe", "Kit Lowe-Ash"), GOOD[1]),
                       db, capsys)
    assert code == 0 and "0 added, 1 updated, 1 unchanged" in out

    app, _ = app_for(tmp_path)  # the bot starting on the same file keeps the imported people
    try:
        kit = someone(app, "northbay", KIT)
        assert (kit.name, kit.line_manager, kit.prefers) == ("Kit Lowe-Ash", GUS, "slack")
        dana_now = app.store.person("dana.marsh@council.northbay.example")
        assert dana_now is not None and dana_now.line_manager  # the configuration's, not the row's
        assert app.store.identity("teams", ROZ) == "aaaa0000-0000-0000-0000-000000000999"
        case = raise_case(app, "northbay", counterpart=kit)
        assert kit.email in {p.email for p in case.participants}
        assert person_notes(pending(app, case), KIT)
    finally:
        app.close()


def test_the_import_writes_to_redis_when_the_bot_uses_redis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with fresh_prefix("import") as prefix:
        monkeypatch.setenv("ESCALATION_BOT_REDIS_URL", URL)
        monkeypatch.setenv("ESCALATION_BOT_REDIS_PREFIX", prefix)
        code = main(["people", "import", str(write(tmp_path, *GOOD)),
                     "--config", str(EXAMPLE_CONFIG)])
        assert code == 0, capsys.readouterr().err
        with RedisStore(URL, prefix=prefix) as store:
            found = store.person(KIT)
            assert found is not None and found.partnership_id == "northbay"
            assert store.email_for_identity("teams", "aaaa0000-0000-0000-0000-000000000999") == ROZ
