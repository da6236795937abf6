"""What a business manager met writing and trying their own packs from the docs alone (a
fresh-clone trial of issue 9), each fixed at its cause: the terminal chat could not mark an
"Agreed?" step done, nor find a step by what people are shown; a long `wait` fired every
deadline at its end; the urgent mark never reached the terminal; `policy check` stopped at one
calendar problem, passed a `.yml` file the bot never installs, and took a raiser on the
receiving side or a business team inside one agency; a wrong ESCALATION_BOT_PACKS was ignored;
the history and `timeline` showed ids.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import LONDON, REPO, app_for, current, escalate_to, history, raise_case
from test_step_outcomes import CAL, lowmoor_app, lowmoor_pack

from bot.bootstrap import App
from bot.chat import Chat
from dialogs import texts
from dialogs.clock import SimulatedClock
from dialogs.events import EventType
from dialogs.notifications import Notification, Recipient

CLI = [sys.executable, "-m", "bot.cli"]


def cli(*args: str, packs: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ESCALATION_BOT_PACKS"}
    if packs is not None:
        env["ESCALATION_BOT_PACKS"] = str(packs)
    return subprocess.run([*CLI, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)


def nsscp_as(pack_id: str, **calendar: Any) -> dict[str, Any]:
    data = yaml.safe_load((REPO / "policy" / "packs" / "nsscp.yaml").read_text("utf-8"))
    data["id"] = pack_id
    data["calendar"].update(calendar)
    return data


# ---- the terminal chat -------------------------------------------------------------------------


@pytest.fixture
def lowmoor(tmp_path: Path) -> Iterator[App]:
    built = lowmoor_app(tmp_path)
    yield built
    built.close()


@pytest.mark.parametrize("typed", ["meeting agreed", "1 agreed", "Hold the resolution meeting"])
def test_the_chat_marks_an_agreed_step_done_by_number_name_or_id(
    lowmoor: App, typed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    case = escalate_to(lowmoor, raise_case(lowmoor, "northbay"), 2)
    clock = lowmoor.clock
    assert isinstance(clock, SimulatedClock)
    asked: list[str] = []

    def answer(prompt: str) -> str:
        asked.append(prompt)
        return "2"

    chat = Chat(lowmoor, clock, CAL, ask=answer)
    chat.handle_line(f"done {case.reference} {typed}")
    step = current(lowmoor, case).step("meeting")
    assert step is not None and step.done
    if typed.endswith("agreed"):
        assert asked == [] and step.outcome == "agreed"
    else:  # no answer given: asked, and "2" is Not agreed
        assert asked == [texts.CHAT_PROMPT.format(question=texts.STEP_OUTCOME_PROMPT)]
        assert step.outcome == "not_agreed"
    assert "outcome:" not in capsys.readouterr().out


def test_the_chat_lists_the_steps_when_it_cannot_tell_which(
    lowmoor: App, capsys: pytest.CaptureFixture[str]
) -> None:
    case = escalate_to(lowmoor, raise_case(lowmoor, "northbay"), 2)
    clock = lowmoor.clock
    assert isinstance(clock, SimulatedClock)
    Chat(lowmoor, clock, CAL, ask=lambda p: "").handle_line(f"done {case.reference} refer")
    out = capsys.readouterr().out
    assert "1. Hold the resolution meeting" in out and "meeting:" not in out


def test_a_long_wait_fires_each_deadline_at_its_own_moment(tmp_path: Path) -> None:
    app, clock = app_for(tmp_path)  # Monday 1 February 2027, 10:00 UTC
    try:
        case = raise_case(app, "northbay")
        Chat(app, clock, case.raised_by, ask=lambda p: "").handle_line("wait 2d")
        lapsed = [e for e in history(app, case) if e.type is EventType.DEADLINE_LAPSED]
        # NSSCP stage 1 is due Tuesday 17:00: it lapses then, not at the end of the wait
        assert [e.at for e in lapsed][:1] == [datetime(2027, 2, 2, 17, 0, tzinfo=LONDON)]
    finally:
        app.close()


def test_the_terminal_marks_an_urgent_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app, clock = app_for(tmp_path)
    try:
        chat = Chat(app, clock, "someone@x.example", ask=lambda p: "")
        from dialogs.cards import Card

        note = Notification(key="k", case_id="c", recipient=Recipient.person("someone@x.example"),
                            card=Card(title="Now: a step needs you"), deliver_at=clock.now(),
                            kind="step-now-x", reference="NB-0001", stage=1, urgent=True)
        chat.inbox.unread["someone@x.example"] = [note]
        chat.pump()
        out = capsys.readouterr().out
        assert texts.CHAT_URGENT in out and out.index(texts.CHAT_URGENT) < out.index("Now:")
    finally:
        app.close()


# ---- policy check ------------------------------------------------------------------------------


def test_check_reports_the_region_and_the_time_zone_together(tmp_path: Path) -> None:
    path = tmp_path / "guernsey.yaml"
    data = nsscp_as("guernsey", country="GG", subdivision="ENG", time_zone="Europe/Lundon")
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    result = cli("policy", "check", str(path))
    assert result.returncode == 1
    assert "calendar.subdivision" in result.stdout + result.stderr
    assert "calendar.time_zone" in result.stdout + result.stderr
    assert "Europe/London" in result.stdout + result.stderr  # the closest zone, as the fix


def test_a_yml_file_is_refused_by_check_and_named_by_list(tmp_path: Path) -> None:
    packs = tmp_path / "packs"
    packs.mkdir()
    path = packs / "seabrook.yml"
    path.write_text(yaml.safe_dump(nsscp_as("seabrook"), sort_keys=False), encoding="utf-8")
    checked = cli("policy", "check", str(path))
    assert checked.returncode == 1
    assert "rename the file to seabrook.yaml" in checked.stdout + checked.stderr
    listed = cli("policy", "list", packs=packs)
    assert listed.returncode == 1
    assert "seabrook.yml" in listed.stderr and "nsscp" in listed.stdout


@pytest.mark.parametrize("where", ["missing", "a-file"])
def test_a_wrong_packs_folder_is_named_not_ignored(tmp_path: Path, where: str) -> None:
    target = tmp_path / where
    if where == "a-file":
        target.write_text("not a folder", encoding="utf-8")
    result = cli("policy", "list", packs=target)
    assert result.returncode == 1
    assert "ESCALATION_BOT_PACKS" in result.stderr and str(target) in result.stderr
    assert "Traceback" not in result.stderr


def test_check_refuses_a_receiving_raiser_and_a_business_team_inside_one_agency(
    tmp_path: Path,
) -> None:
    data = nsscp_as("oddities")
    for role in data["roles"]:
        if role["id"] == data["raiser_role"]:
            role["side"] = "receiving"
    data["business_team_role"] = "line_manager"
    path = tmp_path / "oddities.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    result = cli("policy", "check", str(path))
    said = result.stdout + result.stderr
    assert result.returncode == 1
    assert "raiser_role" in said and "business_team_role" in said
    assert "tier: 0" in said


# ---- plain words -------------------------------------------------------------------------------


def test_timeline_names_the_step_a_deadline_counts_from(tmp_path: Path) -> None:
    path = tmp_path / "lowmoor-lscb.yaml"
    path.write_text(yaml.safe_dump(lowmoor_pack(), sort_keys=False), encoding="utf-8")
    result = cli("timeline", "--pack", str(path), "--start", "2027-02-01T10:00")
    assert result.returncode == 0, result.stderr
    assert "counted from the end of 'Hold the resolution meeting'" in result.stdout
    assert "counted from meeting" not in result.stdout
