"""The `escalation-bot` command as people use it: right answers, and for bad input a message that
names the file, the field and the fix, with a non-zero exit and no traceback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from policy.loader import PolicyRegistry, bundled_pack_paths, load_policy_file

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = ROOT / "examples" / "partnerships.yaml"
CLI = [sys.executable, "-m", "bot.cli"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---- policy --------------------------------------------------------------------------------


def test_policy_list_names_every_bundled_pack(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "policy", "list", "--json")
    assert code == 0
    rows = {row["id"]: row for row in json.loads(out)}
    assert set(rows) == {"sp-jersey", "nsscp", "jersey-spb-2014", "st-helens"}
    assert rows["nsscp"]["stages"] == [1, 2, 2, 3]
    assert rows["st-helens"]["stages"] == [1, 2, 5, 3]
    assert rows["jersey-spb-2014"]["region"] == "JE"
    assert rows["nsscp"]["region"] == "GB-ENG"


def test_policy_show_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "policy", "show", "nsscp")
    assert code == 0
    assert "Stage 4: Safeguarding Partnership - 3 working day(s)" in out
    assert "final and binding" in out
    assert "001_9a127cc8a84eb14f.txt" in out


def test_policy_show_unknown_id(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "policy", "show", "nowhere")
    assert code == 1
    assert "no policy 'nowhere'" in err
    assert "nsscp" in err  # the known ids are listed


def test_policy_check_accepts_a_bundled_pack(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "policy", "check", str(ROOT / "policy/packs/st-helens.yaml"))
    assert code == 0
    assert "OK - st-helens v3, 4 stages" in out


def test_policy_check_names_file_field_and_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = yaml.safe_load((ROOT / "policy/packs/nsscp.yaml").read_text())
    data["stages"][1]["allowance_working_days"] = "two"
    bad = tmp_path / "nsscp.yaml"
    bad.write_text(yaml.safe_dump(data))
    code, out, err = run(capsys, "policy", "check", str(bad))
    assert code == 1
    assert out == ""
    assert str(bad) in err
    assert "stages[1].allowance_working_days" in err
    assert "fix: give a whole number" in err
    assert "Traceback" not in err


def test_policy_check_reports_bad_yaml_by_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("id: x\nstages: [1, 2\n")
    code, _, err = run(capsys, "policy", "check", str(bad))
    assert code == 1
    assert "line 3" in err and "not valid YAML" in err


def test_policy_check_refuses_a_file_named_other_than_its_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # issue 9: `check` said OK and the bot then refused the same file at load
    other = tmp_path / "other-name.yaml"
    other.write_text((ROOT / "policy/packs/nsscp.yaml").read_text(encoding="utf-8"))
    code, out, err = run(capsys, "policy", "check", str(other))
    assert code == 1
    assert out == ""
    assert err.startswith(f"{other}: 1 problem(s)\n")
    assert "id 'nsscp' does not match the file name 'other-name.yaml'" in err
    assert "fix: rename the file to nsscp.yaml or change the id" in err


def test_policy_check_reports_every_problem_in_one_run_with_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (ROOT / "policy/packs/st-helens.yaml").read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    first_allowance = next(i for i, line in enumerate(lines) if "allowance_working_days:" in line)
    lines[first_allowance] = lines[first_allowance].replace("allowance", "alowance")
    raiser = next(i for i, line in enumerate(lines) if line.startswith("raiser_role:"))
    lines[raiser] = "raiser_role: social_worker_x\n"
    bad = tmp_path / "st-helens.yaml"
    bad.write_text("".join(lines), encoding="utf-8")
    code, _, err = run(capsys, "policy", "check", str(bad))
    assert code == 1
    assert f"  line {first_allowance + 1}, stages[" in err  # the misspelt key, with its line
    assert f"  line {raiser + 1}, raiser_role: names role 'social_worker_x'" in err  # not hidden
    assert "Traceback" not in err


# ---- timeline ------------------------------------------------------------------------------


def test_timeline_json_across_christmas(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "timeline", "--policy", "nsscp", "--start", "2026-12-21T10:00", "--json"
    )
    assert code == 0
    timeline = json.loads(out)
    assert timeline["policy"] == "nsscp"
    # Stage 1: 1 working day after Mon 21 Dec -> Tue 22. Stage 2: +2 -> Wed 23, Thu 24.
    # Stage 3: +2 skipping Fri 25 (Christmas), the weekend and Mon 28 (Boxing Day substitute)
    # -> Tue 29, Wed 30. Stage 4: +3 skipping Fri 1 Jan -> Thu 31, Mon 4, Tue 5 Jan.
    dues = [stage["due"] for stage in timeline["stages"]]
    assert dues == [
        "2026-12-22T17:00:00+00:00",
        "2026-12-24T17:00:00+00:00",
        "2026-12-30T17:00:00+00:00",
        "2027-01-05T17:00:00+00:00",
    ]
    assert [s["starts"] for s in timeline["stages"]][1:] == dues[:3]
    referral, response = timeline["stages"][3]["steps"]
    # "on Day 5": stage 3 runs out at 17:00 on Day 5, so the referral it starts has until the
    # end of the next working day (Thu 31 Dec), never due the moment it begins (issue 9)
    assert referral["due"] == "2026-12-31T17:00:00+00:00"
    assert response["due"] == "2027-01-05T17:00:00+00:00"  # "within 3 working days, by Day 8"


def test_timeline_json_in_summer_time_jersey(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "timeline", "--policy", "jersey-spb-2014", "--start", "2028-05-08T09:30", "--json"
    )
    assert code == 0
    stages = json.loads(out)["stages"]
    # 5 working days after Mon 8 May 2028, skipping Tue 9 May (Liberation Day): 10, 11, 12, 15, 16.
    assert stages[0]["due"] == "2028-05-16T17:00:00+01:00"
    chair = stages[5]["steps"][1]
    assert chair["id"] == "chair-recommendation"
    assert stages[5]["due"] == chair["due"]  # the stage's 7 days are the referral's 2 + 5


def test_timeline_rejects_a_bad_start(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "timeline", "--policy", "nsscp", "--start", "next tuesday")
    assert code == 2
    assert "--start" in err


def _own_pack(folder: Path, pack_id: str, **changes: object) -> Path:
    """NSSCP's pack under another id, with ``changes`` made at its top level."""
    data = yaml.safe_load((ROOT / "policy/packs/nsscp.yaml").read_text(encoding="utf-8"))
    data.update(id=pack_id, name=f"{pack_id} resolution", **changes)
    folder.mkdir(exist_ok=True)
    path = folder / f"{pack_id}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_timeline_dry_runs_a_pack_that_is_not_installed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = _own_pack(tmp_path, "coastal-scp")
    code, out, _ = run(
        capsys, "timeline", "--pack", str(pack), "--start", "2026-12-21T10:00", "--json"
    )
    assert code == 0, out
    timeline = json.loads(out)
    assert timeline["policy"] == "coastal-scp"
    code, installed, _ = run(
        capsys, "timeline", "--policy", "nsscp", "--start", "2026-12-21T10:00", "--json"
    )
    assert timeline["stages"] == json.loads(installed)["stages"]  # the same rules, the same dates
    code, text, _ = run(capsys, "timeline", "--pack", str(pack), "--start", "2026-12-21T10:00")
    assert code == 0
    assert text.startswith("coastal-scp resolution: if nothing is resolved (Europe/London)")


def test_timeline_of_a_broken_pack_file_prints_the_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = _own_pack(tmp_path, "coastal-scp", raiser_role="worker")
    code, out, err = run(capsys, "timeline", "--pack", str(pack), "--start", "2026-12-21T10:00")
    assert code == 1
    assert out == ""
    assert err.startswith(f"{pack}: 1 problem(s)")
    assert "raiser_role: names role 'worker'" in err
    code, _, err = run(
        capsys, "timeline", "--pack", str(tmp_path / "absent.yaml"), "--start", "2026-12-21"
    )
    assert code == 1
    assert "file not found" in err


def test_timeline_takes_a_policy_or_a_pack_not_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = _own_pack(tmp_path, "coastal-scp")
    for argv in (
        ["timeline", "--start", "2026-12-21T10:00"],
        ["timeline", "--policy", "nsscp", "--pack", str(pack), "--start", "2026-12-21T10:00"],
    ):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
        assert "--policy" in capsys.readouterr().err


# ---- a starter pack ---------------------------------------------------------------------------


def test_policy_new_prints_a_starter_pack_that_passes_the_check_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, starter, err = run(capsys, "policy", "new", "coastal-scp")
    assert code == 0 and err == ""
    path = tmp_path / "coastal-scp.yaml"  # escalation-bot policy new coastal-scp > coastal-scp.yaml
    path.write_text(starter, encoding="utf-8")
    code, out, err = run(capsys, "policy", "check", str(path))
    assert (code, err) == (0, "")
    assert out == f"{path}: OK - coastal-scp v1, 3 stages\n"
    policy = load_policy_file(path)
    assert policy.id == "coastal-scp"
    registry = PolicyRegistry.load_each([*bundled_pack_paths(), path])
    assert registry.get("coastal-scp") == policy and not registry.broken
    code, out, _ = run(capsys, "timeline", "--pack", str(path), "--start", "2026-12-21T10:00")
    assert code == 0 and "Stage 3" in out


def test_a_partnership_can_run_the_starter_pack_once_installed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    packs = tmp_path / "packs"
    packs.mkdir()
    _, starter, _ = run(capsys, "policy", "new", "coastal-scp")
    (packs / "coastal-scp.yaml").write_text(starter, encoding="utf-8")
    monkeypatch.setenv("ESCALATION_BOT_PACKS", str(packs))
    config = tmp_path / "config.yaml"
    people = [
        ("ana.ray@council.coast.example", "council", "practitioner", "bo.ng@council.coast.example"),
        ("bo.ng@council.coast.example", "council", "line_manager", "cy.ito@council.coast.example"),
        ("cy.ito@council.coast.example", "council", "senior_manager", None),
        ("di.oak@health.coast.example", "health", "practitioner", None),
        ("em.fox@coast.example", "council", "business_manager", None),
    ]
    config.write_text(
        yaml.safe_dump(
            {
                "partnerships": [
                    {
                        "id": "coast",
                        "name": "Coast Safeguarding Children Partnership",
                        "policy": "coastal-scp",
                        "reference_prefix": "CO",
                        "alerts": {"business_team": "console:coast"},
                    }
                ],
                "agencies": [
                    {"id": "council", "name": "Coast Council", "partnership": "coast"},
                    {"id": "health", "name": "Coast Health", "partnership": "coast"},
                ],
                "people": [
                    {"email": email, "name": email.split("@")[0], "agency": agency, "role": role}
                    | ({"line_manager": manager} if manager else {})
                    for email, agency, role, manager in people
                ],
            }
        )
    )
    code, out, err = run(capsys, "config", "check", str(config))
    assert (code, err) == (0, ""), err
    assert "1 partnership(s)" in out


def test_the_starter_pack_explains_itself_to_someone_new_to_yaml(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, starter, _ = run(capsys, "policy", "new", "coastal-scp")
    lines = starter.splitlines()
    assert "\t" not in starter  # tabs break YAML; the comments say to use spaces
    assert "id: coastal-scp" in lines
    assert "escalation-bot policy check coastal-scp.yaml" in starter
    assert "escalation-bot timeline --pack coastal-scp.yaml" in starter
    assert "docs/policy-format.md" in starter
    # every top-level setting has a comment just above it or its group
    data = yaml.safe_load(starter)
    for key in data:
        (index,) = [i for i, line in enumerate(lines) if line.startswith(f"{key}:")]
        above = [line for line in lines[max(0, index - 8) : index] if line.startswith("#")]
        assert above, key


@pytest.mark.parametrize("bad", ["Coastal SCP", "coastal_SCP", "coastal.scp", "x" * 65])
def test_policy_new_refuses_an_id_that_cannot_be_a_pack_id(
    capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    code, out, err = run(capsys, "policy", "new", bad)
    assert code == 2 and out == ""
    assert f"'{bad}' cannot be a pack id" in err


# ---- a broken pack among the installed ones -------------------------------------------------


def test_policy_list_lists_the_good_packs_and_names_the_broken_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    packs = tmp_path / "packs"
    _own_pack(packs, "coastal-scp")
    broken = _own_pack(packs, "harbour-scp", raiser_role="worker")
    monkeypatch.setenv("ESCALATION_BOT_PACKS", str(packs))
    code, out, err = run(capsys, "policy", "list")
    assert code == 1
    listed = [line.split()[0] for line in out.splitlines()]
    assert listed == ["coastal-scp", "jersey-spb-2014", "nsscp", "sp-jersey", "st-helens"]
    assert f"{broken}: 1 problem(s)" in err
    assert "raiser_role: names role 'worker'" in err
    assert "Traceback" not in err
    code, out, err = run(capsys, "policy", "list", "--json")
    assert code == 1
    assert {row["id"] for row in json.loads(out)} == set(listed)
    assert str(broken) in err


def test_the_other_commands_name_the_broken_file_only_when_they_need_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    packs = tmp_path / "packs"
    broken = _own_pack(packs, "harbour-scp", raiser_role="worker")
    monkeypatch.setenv("ESCALATION_BOT_PACKS", str(packs))
    assert run(capsys, "policy", "show", "nsscp")[0] == 0
    code, _, err = run(capsys, "config", "check", str(EXAMPLE_CONFIG))
    assert code == 0  # it uses no broken pack, and is told the file is there
    assert err == (
        f"note: {broken} has 1 problem(s) and is not loaded; no partnership in this"
        f" configuration uses it (`escalation-bot policy check {broken}` lists them)\n"
    )
    code, _, err = run(capsys, "policy", "show", "harbour-scp")
    assert code == 1
    assert str(broken) in err and "policy check" in err
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["partnerships"][0]["policy"] = "harbour-scp"
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(data))
    code, _, err = run(capsys, "config", "check", str(config))
    assert code == 1
    assert "partnerships[0].policy: the pack for policy 'harbour-scp'" in err
    assert str(broken) in err
    assert f"fix: escalation-bot policy check {broken}" in err


# ---- config --------------------------------------------------------------------------------


def test_config_check_accepts_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "config", "check", str(EXAMPLE_CONFIG))
    assert code == 0
    assert "4 partnership(s), 8 agencies" in out


def _broken_config(tmp_path: Path, change: str) -> Path:
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    if change == "role":
        data["people"][0]["role"] = "team_leader"
    elif change == "policy":
        data["partnerships"][0]["policy"] = "nowhere"
    elif change == "manager":
        data["people"][0]["line_manager"] = "ghost@nowhere.example"
    elif change == "email":
        data["people"][0]["email"] = "not-an-email"
    elif change == "stage":
        data["partnerships"][0]["alerts"]["stages"][9] = "console:x"
    elif change == "zone":
        data["partnerships"][0]["time_zone"] = "Europe/Atlantis"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ("role", "people[0].role", "use one of"),
        ("policy", "partnerships[0].policy", "no policy 'nowhere'"),
        ("manager", "people[0].line_manager", "ghost@nowhere.example"),
        ("email", "people[0].email", "email"),
        ("stage", "partnerships[0].alerts.stages.9", "has no stage 9"),
        ("zone", "partnerships[0].time_zone", "unknown time zone"),
    ],
)
def test_config_check_names_file_field_and_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str, field: str, words: str
) -> None:
    path = _broken_config(tmp_path, change)
    code, _, err = run(capsys, "config", "check", str(path))
    assert code == 1
    assert str(path) in err
    assert f", {field}:" in err
    assert words in err
    assert "fix:" in err
    assert "Traceback" not in err


def _colliding_config(tmp_path: Path, change: str) -> Path:
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    people = data["people"]
    if change == "teams-id":  # the business manager (8) given a line manager's (5) Teams id
        people[8]["teams_aad_object_id"] = people[5]["teams_aad_object_id"].upper()
    elif change == "slack-id":
        people[1]["slack_user_id"], people[4]["slack_user_id"] = "U01NB", "U01NB"
    elif change == "email":
        people[10]["email"] = people[9]["email"].upper()
    elif change == "cycle":  # Cal -> Bea -> Alex -> Cal
        people[3]["line_manager"] = people[1]["email"]
    elif change == "own-manager":
        people[3]["line_manager"] = people[3]["email"]
    elif change == "other-partnership":  # Dana (Northbay) managed from Havenport Academy
        people[0]["line_manager"] = people[12]["email"]
    elif change == "secret":
        data["webhooks"] = [
            {"id": "flow", "url": "https://example.invalid/", "secret_env": "CLI_FLOW_SECRET"}
        ]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("change", "field", "words", "fix"),
    [
        ("teams-id", "people[8].teams_aad_object_id", "people[5].teams_aad_object_id",
         "fix: give each person their own"),
        ("slack-id", "people[4].slack_user_id", "people[1].slack_user_id",
         "fix: give each person their own"),
        ("email", "people[10].email", "people[9].email", "fix: keep one entry per person"),
        ("cycle", "people[1].line_manager", "(people[3]) -> cal.birch@council.northbay.example",
         "fix: correct one of these line_manager entries"),
        ("own-manager", "people[3].line_manager", "is their own line manager",
         "fix: correct one of these line_manager entries"),
        ("other-partnership", "people[0].line_manager", "in partnership 'havenport'",
         "fix: name a line manager in partnership 'northbay'"),
        ("secret", "webhooks[0].secret_env", "$CLI_FLOW_SECRET is not set",
         "fix: export CLI_FLOW_SECRET="),
    ],
)
def test_config_check_refuses_identity_collisions_and_unset_secrets(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    change: str,
    field: str,
    words: str,
    fix: str,
) -> None:
    monkeypatch.delenv("CLI_FLOW_SECRET", raising=False)
    path = _colliding_config(tmp_path, change)
    code, out, err = run(capsys, "config", "check", str(path))
    assert code == 1
    assert out == ""
    assert err.startswith(f"{path}: 1 problem(s)\n")
    assert f", {field}: " in err
    assert words in err
    assert f"    {fix}" in err
    assert "Traceback" not in err


def test_config_check_passes_once_the_webhook_secret_is_exported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _colliding_config(tmp_path, "secret")
    monkeypatch.setenv("CLI_FLOW_SECRET", "")
    assert run(capsys, "config", "check", str(path))[0] == 1  # set but empty signs nothing
    monkeypatch.setenv("CLI_FLOW_SECRET", "s3cret")
    code, out, _ = run(capsys, "config", "check", str(path))
    assert code == 0
    assert "OK" in out


def test_config_check_reports_every_problem_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLI_FLOW_SECRET", raising=False)
    data = yaml.safe_load(_colliding_config(tmp_path, "secret").read_text())
    people = data["people"]
    people[8]["teams_aad_object_id"] = people[5]["teams_aad_object_id"]
    people[3]["line_manager"] = people[3]["email"]
    people[0]["line_manager"] = "ghost@nowhere.example"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    code, _, err = run(capsys, "config", "check", str(path))
    assert code == 1
    assert err.startswith(f"{path}: 4 problem(s)\n")
    for field in (
        "people[8].teams_aad_object_id",
        "people[3].line_manager",
        "people[0].line_manager",
        "webhooks[0].secret_env",
    ):
        assert f", {field}: " in err


def test_config_check_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "config", "check", str(tmp_path / "absent.yaml"))
    assert code == 1
    assert "file not found" in err


# ---- demo and chat as real processes --------------------------------------------------------


@pytest.mark.parametrize("policy", ["sp-jersey", "nsscp", "jersey-spb-2014", "st-helens"])
def test_demo_runs_every_procedure(policy: str) -> None:
    result = subprocess.run(
        [*CLI, "demo", "--policy", policy], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "types /escalate" in out
    assert "has raised a professional difference with you" in out  # counterpart pinged
    assert "is yours" in out  # managers prompted
    assert "deadline lapsed; now stage" in out  # automatic escalation, channel alert
    assert "'ASAP' is not a date" in out
    assert "resolved at stage" in out or "decision recorded" in out
    assert "Traceback" not in result.stderr


def test_demo_unknown_policy() -> None:
    result = subprocess.run(
        [*CLI, "demo", "--policy", "nowhere"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "No configured partnership runs policy 'nowhere'" in result.stdout


def test_chat_plays_two_roles(tmp_path: Path) -> None:
    script = "\n".join(
        [
            "escalate",
            "no",  # immediate risk
            "hana.moss@health.northbay.example",
            "Jamie Example",
            "31/02/2016",  # not a date: asked again
            "12/04/2016",
            "ICS 1",
            "1",
            "We disagree about the assessment",
            "Jamie is missing school",
            "Joint assessment",
            "-",
            "-",
            "yes",
            "status",
            "as hana.moss@health.northbay.example",
            "wait 1d",
            "ack NB-0001",
            "as nia.stone@school.havenport.example",  # in the directory, not on the case
            "show NB-0001",
            "quit",
        ]
    )
    result = subprocess.run(
        [*CLI, "chat", "--as", "dana.marsh@council.northbay.example",
         "--db", str(tmp_path / "chat.sqlite3")],
        cwd=ROOT, input=script + "\n", capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "'31/02/2016' is not a date I can read" in out
    # the chat's clock starts at the real time: either is the truth, depending on the hour
    assert re.search(r"Case NB-0001 raised: Hana Moss (is being told now|will be told at"
                     r" \d\d:\d\d on \w{3} \d{1,2} \w{3} \(outside working hours now\))\.", out)
    assert "NB-0001: stage 1, Practitioner to practitioner; due" in out  # status, as in Teams
    assert "Hana Moss has acknowledged case NB-0001" in out
    assert "I can't find case NB-0001" in out  # an outsider is not told the case exists
    assert "Traceback" not in result.stderr
