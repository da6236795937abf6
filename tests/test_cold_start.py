"""Cold start (issue 13): packs and the configuration are parsed by libyaml when PyYAML has it,
with their problems still at their lines; the holidays package's full country list (every
country's module) is not imported to start the bot, only each partnership's own country, and
not even the package that re-exports them all; the form libraries (python-docx, fpdf2) load
with the first form drawn; Slack's SDKs, the Redis client and the SMTP client only when they
are configured; the garbage collector stays off while start-up builds its objects and is on
again once serving."""

from __future__ import annotations

import gc
import json
import os
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


# What `serve` on its embedded defaults imports before it is ready, run in a fresh interpreter:
# the start-up path of bot.serve (settings, bootstrap, the web app) without opening a socket.
STARTUP_PROBE = """
import json, os, sys
import bot.serve
from bot.bootstrap import bootstrap_from_settings
from bot.server import build_web_app
from bot.settings import Settings
from dialogs.clock import SystemClock

settings = Settings.from_env()
app = bootstrap_from_settings(settings, SystemClock(), os.environ)
build_web_app(app, settings)
countries = {policy.calendar.country for policy in app.policies.all()}
countries |= {p.country for p in app.config.partnerships if p.country}
print(json.dumps({"modules": sorted(sys.modules), "countries": sorted(countries)}))
app.close()
"""

# Imported only when configured (or, for the form and chart libraries, on first use)
NOT_AT_START = (
    "slack_bolt", "slack_sdk", "adapters.slack", "redis", "adapters.storage.redis",
    "aiosmtplib", "fontTools", "docx", "fpdf", "matplotlib",
)


def _started_modules(tmp_path: Path) -> tuple[set[str], list[str]]:
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "ESCALATION_BOT_")) and k != "PYTHONPATH"
    }
    env["ESCALATION_BOT_DATABASE"] = str(tmp_path / "start.sqlite3")
    done = subprocess.run([sys.executable, "-c", STARTUP_PROBE], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return set(found["modules"]), found["countries"]


def test_serve_on_its_defaults_imports_no_unconfigured_platform_or_all_countries(
    tmp_path: Path,
) -> None:
    import holidays.registry

    modules, countries = _started_modules(tmp_path)
    # the probe is real: the bot was built, with Teams and one country's calendar at least
    assert {"botbuilder.core", "bot.server", "holidays"} <= modules and countries
    early = sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in NOT_AT_START))
    assert early == []
    # each used country's module alone: not the package that imports all ~250 of them
    needed = {
        f"holidays.countries.{module}" for module, names in holidays.registry.COUNTRIES.items()
        if set(names) & set(countries)
    }
    assert "holidays.countries" not in modules
    assert {m for m in modules if m.startswith("holidays.countries.")} == needed


LONE_COUNTRIES = """
import json, sys
from policy import calendar

regions = {"GB": ["ENG", "NIR", "SCT", "WLS"], "JE": [None], "GG": [None], "IM": [None],
           "IE": [None]}
classes = {code: calendar.country_class(code) for code in regions}
loaded = sorted(m for m in sys.modules if m.startswith("holidays.countries"))
ours = {f"{code} {sub}": sorted(d.isoformat() for year in range(2024, 2031)
                                for d in calendar._public_holidays(code, sub, year))
        for code, subs in regions.items() for sub in subs}
import holidays
import holidays.countries  # the whole package, as the package itself loads it
same = {code: type(holidays.country_holidays(code)) is cls for code, cls in classes.items()}
theirs = {f"{code} {sub}": sorted(d.isoformat() for d in holidays.country_holidays(
              code, subdiv=sub, years=range(2024, 2031)))
          for code, subs in regions.items() for sub in subs}
print(json.dumps({"loaded": loaded, "same": same, "equal": ours == theirs,
                  "total": sum(map(len, ours.values()))}))
"""


def test_a_country_loads_alone_as_the_holidays_package_would_load_it() -> None:
    """policy.calendar imports one country's module without the package that imports them all
    (its own machinery, in a way the package does not promise): if a release of holidays
    changes that, this fails rather than the start silently getting slower or the dates
    different. The Isle of Man's module imports the United Kingdom's itself."""
    done = subprocess.run([sys.executable, "-c", LONE_COUNTRIES], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["loaded"] == [
        "holidays.countries.guernsey", "holidays.countries.ireland",
        "holidays.countries.isle_of_man", "holidays.countries.jersey",
        "holidays.countries.united_kingdom",
    ]
    assert found["same"] == {code: True for code in ("GB", "JE", "GG", "IM", "IE")}
    assert found["equal"] and found["total"] > 200  # seven years of eight regions' holidays


def test_serve_turns_the_collector_back_on_when_it_cannot_start(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot import cli

    assert gc.isenabled()
    try:
        assert cli.main(["serve", "--port", "70000"]) == 1
        assert gc.isenabled()
    finally:
        gc.enable()
    assert "70000 is not a port number" in capsys.readouterr().err


async def test_serving_freezes_start_up_objects_and_collects_again(tmp_path: Path) -> None:
    """...with young collections far rarer than Python's 700 (bot.heap, issue 13's catch-up)."""
    from aiohttp.test_utils import TestServer

    from bot.bootstrap import bootstrap
    from bot.heap import MIDDLE_EVERY, OLD_EVERY, YOUNG_EVERY
    from bot.server import build_web_app
    from bot.settings import Settings
    from dialogs.clock import SystemClock

    config = ROOT / "examples" / "partnerships.yaml"
    app = bootstrap(config, tmp_path / "bot.sqlite3", SystemClock())
    settings = Settings(config_path=config, database_path=tmp_path / "bot.sqlite3",
                        extra_packs=None, tick_seconds=3600, worker_id="test")
    server = TestServer(build_web_app(app, settings), host="127.0.0.1")
    threshold = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # Python's defaults
    gc.disable()  # as `serve` starts
    try:
        await server.start_server()
        assert gc.isenabled() and gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_EVERY, MIDDLE_EVERY, OLD_EVERY)
    finally:
        gc.enable()
        gc.set_threshold(*threshold)
        await server.close()
