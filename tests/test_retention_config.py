"""A partnership's retention period in the configuration: each mistake named by its line, field
and fix, as every other configuration check (issue 12)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_config_checks import REGISTRY, only, problems, write

from bot.cli import main
from policy.config import load_config


def _retention(value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["partnerships"][0]["retention"] = value

    return change


def test_the_example_keeps_closed_cases_six_years_but_the_board_has_none(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, lambda data: None), REGISTRY)
    years = {p.id: p.retention.closed_cases_years if p.retention else None
             for p in config.partnerships}
    assert years == {"northbay": 6, "havenport": 6, "carrow": 6, "carrow-board": None}


@pytest.mark.parametrize(
    ("value", "fix"),
    [
        ({"closed_cases_years": 0}, "give a larger number"),
        ({"closed_cases_years": 101}, "give a smaller number"),
        ({"closed_cases_years": "six"}, "give a whole number"),
        ({"closed_cases_years": 6.5}, "give a whole number"),
    ],
)
def test_a_retention_period_must_be_whole_years_from_1_to_100(
    tmp_path: Path, value: Any, fix: str
) -> None:
    problem = only(problems(write(tmp_path, _retention(value))))
    assert problem.field == "partnerships[0].retention.closed_cases_years"
    assert problem.fix == fix
    assert problem.line is not None


def test_a_misspelt_or_missing_period_is_named(tmp_path: Path) -> None:
    found = problems(write(tmp_path, _retention({"closed_case_years": 6})))
    assert {(p.field, p.fix) for p in found} == {
        ("partnerships[0].retention.closed_case_years",
         "remove this field or correct its spelling (see docs/policy-format.md)"),
        ("partnerships[0].retention.closed_cases_years", "add this field"),
    }
    missing = only(problems(write(tmp_path, _retention({}))))
    assert missing.field == "partnerships[0].retention.closed_cases_years"
    assert missing.fix == "add this field"


def test_config_check_prints_the_problem_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, _retention({"closed_cases_years": 0}))
    assert main(["config", "check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "partnerships[0].retention.closed_cases_years" in err
    assert "fix: give a larger number" in err
