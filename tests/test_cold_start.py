"""Cold start (issue 13): packs and the configuration are parsed by libyaml when PyYAML has it,
with their problems still at their lines; the holidays package's full country list (every
country's module) is not imported to start the bot, only each partnership's own country; the
form libraries (python-docx, fpdf2) load with the first form drawn."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from policy import calendar, loader
from policy.errors import FileProblems

ROOT = Path(__file__).resolve().parents[1]


def test_yaml_is_parsed_by_libyaml_when_available() -> None:
    expected = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    assert loader._LOADER is expected


def test_yaml_errors_and_duplicate_keys_keep_their_lines(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: x\nname: y\nstages: [\n", encoding="utf-8")
    with pytest.raises(FileProblems) as raised:
        loader.read_yaml_document(broken)
    assert raised.value.problems[0].field.startswith("line 4")
    twice = tmp_path / "twice.yaml"
    twice.write_text("id: x\nname: y\nname: z\n", encoding="utf-8")
    document = loader.read_yaml_document(twice)
    assert [(p.field, p.line) for p in document.duplicate_keys] == [("name", 3)]
    assert document.line_of("id") == 1 and document.line_of("name") in (2, 3)


def test_one_country_is_checked_as_the_full_list_says() -> None:
    regions = calendar.supported_regions()
    assert all(calendar.subdivisions_of(code) == subs for code, subs in regions.items())
    assert calendar.subdivisions_of("XX") is None and calendar.subdivisions_of("UK") is None


def test_starting_the_bot_does_not_build_every_countrys_calendar(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path\n"
        "from bot.bootstrap import bootstrap\nfrom dialogs.clock import SystemClock\n"
        "from policy import calendar\n"
        f"bootstrap(Path('examples/partnerships.yaml'), Path({str(tmp_path / 'b.sqlite3')!r}),"
        " SystemClock())\n"
        "import bot.server, bot.serve\n"
        "print(calendar.supported_regions.cache_info().currsize,"
        " sorted(m for m in ('docx', 'fpdf') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # no country list built, and no form library loaded until a form is drawn
    assert done.stdout.strip() == "0 []"
