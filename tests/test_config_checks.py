"""Who is who must be unambiguous before the bot starts (issue 7, defect 5).

A Teams id given to two people once let a manager's account act as the business manager: it saw
a child's details on a case he was not on and withdrew it. Each test copies the example
configuration, breaks one thing, writes it to a real file and loads it as `config check` and
`serve` do, expecting one problem that names the field, the other entry and the fix.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from policy.config import PersonEntry, load_config
from policy.errors import FileProblems, Problem
from policy.loader import PolicyRegistry

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = yaml.safe_load((ROOT / "examples" / "partnerships.yaml").read_text(encoding="utf-8"))
REGISTRY = PolicyRegistry.bundled()

# people[...] in examples/partnerships.yaml
DANA, CAL, BEA, ALEX, HANA, GUS, FERN, ELI, IVO, JO, KIT = range(11)
MAX_VALE = 12  # Havenport Academy's first line manager


def email(index: int) -> str:
    address = EXAMPLE["people"][index]["email"]
    assert isinstance(address, str)
    return address


def write(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    data = copy.deepcopy(EXAMPLE)
    change(data)
    path = tmp_path / "partnerships.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def problems(path: Path, environ: dict[str, str] | None = None) -> list[Problem]:
    with pytest.raises(FileProblems) as caught:
        if environ is None:
            load_config(path, REGISTRY)
        else:
            load_config(path, REGISTRY, environ)
    assert caught.value.path == str(path)
    return caught.value.problems


def only(found: list[Problem]) -> Problem:
    assert len(found) == 1, found
    return found[0]


# ---- platform ids ------------------------------------------------------------------------------


def test_a_teams_id_on_two_people_is_refused_ignoring_case(tmp_path: Path) -> None:
    # the issue: the business manager's entry was given a manager's Teams id, and the later won
    def share(data: dict[str, Any]) -> None:
        people = data["people"]
        people[IVO]["teams_aad_object_id"] = people[GUS]["teams_aad_object_id"].upper()

    problem = only(problems(write(tmp_path, share)))
    assert problem.field == f"people[{IVO}].teams_aad_object_id"
    assert f"people[{GUS}].teams_aad_object_id" in problem.message
    assert email(GUS) in problem.message and email(IVO) in problem.message
    assert "Entra ID object id" in problem.fix


def test_a_slack_id_on_two_people_is_refused(tmp_path: Path) -> None:
    def share(data: dict[str, Any]) -> None:
        data["people"][CAL]["slack_user_id"] = "U01NORTHBAY"
        data["people"][HANA]["slack_user_id"] = "u01northbay"

    problem = only(problems(write(tmp_path, share)))
    assert problem.field == f"people[{HANA}].slack_user_id"
    assert f"people[{CAL}].slack_user_id" in problem.message
    assert "their own" in problem.fix


@pytest.mark.parametrize(
    "field", [name for name in PersonEntry.model_fields if name.endswith("_id")]
)
def test_every_platform_id_of_the_person_model_is_checked(tmp_path: Path, field: str) -> None:
    # a platform added to the person model later must not escape the collision check
    def share(data: dict[str, Any]) -> None:
        data["people"][JO][field] = "SHARED-ID"
        data["people"][KIT][field] = "shared-id"

    problem = only(problems(write(tmp_path, share)))
    assert problem.field == f"people[{KIT}].{field}"
    assert f"people[{JO}].{field}" in problem.message


# ---- emails --------------------------------------------------------------------------------------


def test_the_same_email_on_two_people_is_refused_ignoring_case(tmp_path: Path) -> None:
    def share(data: dict[str, Any]) -> None:
        data["people"][KIT]["email"] = email(JO).title()

    problem = only(problems(write(tmp_path, share)))
    assert problem.field == f"people[{KIT}].email"
    assert f"people[{JO}].email" in problem.message
    assert email(JO) in problem.message
    assert "one entry per person" in problem.fix


# ---- line managers -------------------------------------------------------------------------------


def test_a_person_who_is_their_own_line_manager_is_refused(tmp_path: Path) -> None:
    def loop(data: dict[str, Any]) -> None:
        data["people"][ALEX]["line_manager"] = email(ALEX)

    problem = only(problems(write(tmp_path, loop)))
    assert problem.field == f"people[{ALEX}].line_manager"
    assert f"{email(ALEX)} (people[{ALEX}]) is their own line manager" in problem.message
    assert "line_manager" in problem.fix


def test_two_people_managing_each_other_are_refused(tmp_path: Path) -> None:
    def loop(data: dict[str, Any]) -> None:
        data["people"][ELI]["line_manager"] = email(FERN)  # Fern's manager is already Eli

    problem = only(problems(write(tmp_path, loop)))
    assert problem.field == f"people[{FERN}].line_manager"
    assert f"{email(FERN)} (people[{FERN}]) -> {email(ELI)} (people[{ELI}]) -> {email(FERN)}" in (
        problem.message
    )


def test_a_longer_line_manager_cycle_is_named_once_with_its_chain(tmp_path: Path) -> None:
    def loop(data: dict[str, Any]) -> None:
        data["people"][ALEX]["line_manager"] = email(CAL)  # Cal -> Bea -> Alex -> Cal

    problem = only(problems(write(tmp_path, loop)))  # Dana, who leads into it, is not in it
    assert problem.field == f"people[{CAL}].line_manager"
    chain = " -> ".join(f"{email(i)} (people[{i}])" for i in (CAL, BEA, ALEX))
    assert f"{chain} -> {email(CAL)}" in problem.message
    assert "correct one of these line_manager entries" in problem.fix


def test_a_line_manager_in_another_partnership_is_refused(tmp_path: Path) -> None:
    def cross(data: dict[str, Any]) -> None:
        data["people"][DANA]["line_manager"] = email(MAX_VALE)

    problem = only(problems(write(tmp_path, cross)))
    assert problem.field == f"people[{DANA}].line_manager"
    assert email(MAX_VALE) in problem.message and f"people[{MAX_VALE}]" in problem.message
    assert "'havenport'" in problem.message and "'northbay'" in problem.message
    assert "in partnership 'northbay'" in problem.fix


# ---- webhook secrets -----------------------------------------------------------------------------


def with_webhook(data: dict[str, Any]) -> None:
    data["webhooks"] = [
        {"id": "flow", "url": "https://example.invalid/flow", "secret_env": "FLOW_SECRET"}
    ]


@pytest.mark.parametrize("environ", [{}, {"FLOW_SECRET": ""}, {"FLOW_SECRET": "  "}])
def test_an_unset_or_empty_webhook_secret_is_refused(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    problem = only(problems(write(tmp_path, with_webhook), environ))
    assert problem.field == "webhooks[0].secret_env"
    assert "$FLOW_SECRET" in problem.message and "'flow'" in problem.message
    assert problem.fix.startswith("export FLOW_SECRET=")


def test_a_set_webhook_secret_is_accepted(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, with_webhook), REGISTRY, {"FLOW_SECRET": "s3cret"})
    assert [hook.id for hook in config.webhooks] == ["flow"]


# ---- everything at once --------------------------------------------------------------------------


def test_every_problem_is_reported_in_one_run(tmp_path: Path) -> None:
    def break_all(data: dict[str, Any]) -> None:
        people = data["people"]
        people[IVO]["teams_aad_object_id"] = people[GUS]["teams_aad_object_id"]
        people[KIT]["email"] = email(JO)
        people[ELI]["line_manager"] = email(FERN)
        people[DANA]["line_manager"] = email(MAX_VALE)
        people[BEA]["line_manager"] = "ghost@nowhere.example"
        people[HANA]["role"] = "team_leader"
        with_webhook(data)

    fields = [p.field for p in problems(write(tmp_path, break_all), environ={})]
    assert sorted(fields) == sorted(
        [
            f"people[{IVO}].teams_aad_object_id",
            f"people[{KIT}].email",
            f"people[{FERN}].line_manager",
            f"people[{DANA}].line_manager",
            f"people[{BEA}].line_manager",
            f"people[{HANA}].role",
            "webhooks[0].secret_env",
        ]
    )


# ---- a partnership's own region (issue 9) --------------------------------------------------------


def _northbay_calendar(tmp_path: Path, **region: str) -> tuple[str, str | None, str]:
    def change(data: dict[str, Any]) -> None:
        data["partnerships"][0].update(region)

    config = load_config(write(tmp_path, change), REGISTRY)
    northbay = config.partnership("northbay")
    calendar = northbay.calendar(REGISTRY.get(northbay.policy))
    return calendar.country, calendar.subdivision, calendar.time_zone


def test_a_partnership_may_run_its_pack_in_any_region_the_holidays_package_knows(
    tmp_path: Path,
) -> None:
    assert _northbay_calendar(tmp_path, country="IE", time_zone="Europe/Dublin") == (
        "IE",
        None,
        "Europe/Dublin",
    )
    assert _northbay_calendar(tmp_path, country="GG", time_zone="Europe/Guernsey")[0] == "GG"


def test_a_subdivision_alone_keeps_the_packs_country(tmp_path: Path) -> None:
    # an English pack run by a Scottish partnership: once silently England's holidays
    assert _northbay_calendar(tmp_path, subdivision="SCT") == ("GB", "SCT", "Europe/London")


@pytest.mark.parametrize(
    ("region", "field", "words", "fix"),
    [
        ({"country": "XX"}, "country", "'XX' is not a country code", "ISO 3166"),
        ({"country": "GB", "subdivision": "ENGLAND"}, "subdivision", "'ENGLAND'",
         "use one of ENG, NIR, SCT, WLS"),
        ({"country": "IE", "subdivision": "D"}, "subdivision", "IE has no subdivisions",
         "remove subdivision"),
        ({"time_zone": "Europe/Atlantis"}, "time_zone", "unknown time zone", "IANA"),
    ],
)
def test_an_unknown_region_names_the_field_and_the_valid_codes(
    tmp_path: Path, region: dict[str, str], field: str, words: str, fix: str
) -> None:
    def change(data: dict[str, Any]) -> None:
        data["partnerships"][0].update(region)

    problem = only(problems(write(tmp_path, change)))
    assert problem.field == f"partnerships[0].{field}"
    assert words in problem.message
    assert fix in problem.fix


# ---- reference prefixes (issue 9) ----------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["nb", "N", "NORTHBAY", "N1"])
def test_a_bad_reference_prefix_is_told_the_rule_it_breaks(tmp_path: Path, prefix: str) -> None:
    def change(data: dict[str, Any]) -> None:
        data["partnerships"][0]["reference_prefix"] = prefix

    problem = only(problems(write(tmp_path, change)))
    assert problem.field == "partnerships[0].reference_prefix"
    assert "2 to 6 capital letters" in problem.fix
    assert "lower-case" not in problem.fix


def test_a_good_reference_prefix_passes(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["partnerships"][0]["reference_prefix"] = "NBSCP"

    assert load_config(write(tmp_path, change), REGISTRY).partnership("northbay")


# ---- line numbers (issue 9) ------------------------------------------------------------------


def test_each_problem_names_its_line(tmp_path: Path) -> None:
    text = (ROOT / "examples" / "partnerships.yaml").read_text(encoding="utf-8")
    old = "  role: practitioner\n"
    assert old in text
    path = tmp_path / "partnerships.yaml"
    path.write_text(text.replace(old, "  role: team_leader\n", 1), encoding="utf-8")
    problem = only(problems(path))
    assert problem.field == "people[0].role"
    assert problem.line == text.count("\n", 0, text.index(old)) + 1


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    text = (ROOT / "examples" / "partnerships.yaml").read_text(encoding="utf-8")
    path = tmp_path / "partnerships.yaml"
    path.write_text(text.replace("  policy: nsscp\n", "  policy: nsscp\n  policy: nsscp\n", 1))
    problem = only(problems(path))
    assert problem.field == "partnerships[0].policy"
    assert "twice" in problem.message
