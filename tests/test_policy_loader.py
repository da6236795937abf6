"""Broken packs give errors a partnership can act on: which file, which field, what, and a fix.

Each test copies a bundled pack's parsed data, breaks one thing, writes it to a real file and
loads it exactly as the bot would.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from policy.errors import FileProblems, Problem
from policy.loader import PolicyRegistry, bundled_pack_paths, load_policy_file

TOP_LEVEL = "(top level)"


def _bundled_data(pack_id: str) -> dict[str, Any]:
    (path,) = [p for p in bundled_pack_paths() if p.stem == pack_id]
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return copy.deepcopy(data)


def _write(tmp_path: Path, data: dict[str, Any], name: str | None = None) -> Path:
    path = tmp_path / f"{name or data['id']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _problems(path: Path) -> FileProblems:
    with pytest.raises(FileProblems) as caught:
        load_policy_file(path)
    return caught.value


def _only(problems: FileProblems, path: Path) -> Problem:
    """The error names the file and holds exactly one problem, which has a fix."""
    assert problems.path == str(path)
    assert len(problems.problems) == 1, problems.render()
    (problem,) = problems.problems
    assert problem.field
    assert problem.message
    assert problem.fix
    rendered = problems.render()
    assert rendered.startswith(str(path))
    assert problem.field in rendered
    assert f"fix: {problem.fix}" in rendered
    return problem


@pytest.mark.parametrize("path", bundled_pack_paths(), ids=lambda p: p.stem)
def test_a_bundled_pack_copied_unchanged_still_loads(tmp_path: Path, path: Path) -> None:
    # The copy-and-break approach below starts from a valid file.
    data = _bundled_data(path.stem)
    policy = load_policy_file(_write(tmp_path, data))
    assert policy.id == path.stem


def test_missing_field(tmp_path: Path) -> None:
    data = _bundled_data("sp-jersey")
    del data["immediate_risk"]
    path = _write(tmp_path, data)
    problem = _only(_problems(path), path)
    assert problem.field == "immediate_risk"
    assert problem.message == "Field required"
    assert problem.fix == "add this field"


def test_missing_nested_field_names_its_path(tmp_path: Path) -> None:
    data = _bundled_data("nsscp")
    del data["stages"][1]["recording"]["recorded_by"]
    path = _write(tmp_path, data)
    problem = _only(_problems(path), path)
    assert problem.field == "stages[1].recording.recorded_by"
    assert problem.fix == "add this field"


def test_unknown_key(tmp_path: Path) -> None:
    data = _bundled_data("sp-jersey")
    data["stages"][0]["alowance_working_days"] = 5
    path = _write(tmp_path, data)
    problem = _only(_problems(path), path)
    assert problem.field == "stages[0].alowance_working_days"
    assert "not permitted" in problem.message
    assert "spelling" in problem.fix
    assert "docs/policy-format.md" in problem.fix


def test_wrong_type(tmp_path: Path) -> None:
    data = _bundled_data("st-helens")
    data["stages"][2]["allowance_working_days"] = "five"
    path = _write(tmp_path, data)
    problem = _only(_problems(path), path)
    assert problem.field == "stages[2].allowance_working_days"
    assert "integer" in problem.message
    assert problem.fix == "give a whole number"


def test_wrong_enum_value_lists_the_fix(tmp_path: Path) -> None:
    data = _bundled_data("sp-jersey")
    data["stages"][0]["steps"][0]["on_lapse"] = "escalate"
    path = _write(tmp_path, data)
    problem = _only(_problems(path), path)
    assert problem.field == "stages[0].steps[0].on_lapse"
    assert "'advance'" in problem.message
    assert "'remind'" in problem.message
    assert problem.fix == "use one of the allowed values listed"


def test_stage_numbering_gap(tmp_path: Path) -> None:
    data = _bundled_data("nsscp")
    for stage, number in zip(data["stages"], [1, 3, 4, 5], strict=True):
        stage["number"] = number
    path = _write(tmp_path, data)
    problem = _only(_problems(path), path)
    # Cross-checks run over the whole pack, yet still name the field and a specific fix.
    assert problem.field == "stages"
    assert "stages must be numbered 1, 2, 3" in problem.message
    assert "[1, 3, 4, 5]" in problem.message
    assert problem.fix == "renumber the stages from 1 with no gaps"


def test_step_naming_an_unknown_role(tmp_path: Path) -> None:
    data = _bundled_data("sp-jersey")
    data["stages"][0]["steps"][0]["owner_role"] = "team_leader"
    path = _write(tmp_path, data)
    problem = _only(_problems(path), path)
    assert problem.field == "stages[0].steps[0].owner_role"
    assert "'team_leader'" in problem.message
    assert "first_line_manager" in problem.fix  # the known roles are listed


def test_holder_naming_an_unknown_role(tmp_path: Path) -> None:
    data = _bundled_data("st-helens")
    data["stages"][3]["holder_roles"] = ["board_chair"]
    path = _write(tmp_path, data)
    problem = _only(_problems(path), path)
    assert problem.field == "stages[3].holder_roles[0]"
    assert "'board_chair'" in problem.message
    assert "second_tier_manager" in problem.fix


def test_first_step_cannot_start_after_previous(tmp_path: Path) -> None:
    data = _bundled_data("jersey-spb-2014")
    data["stages"][5]["steps"][0]["starts"] = "after_previous"
    path = _write(tmp_path, data)
    problem = _only(_problems(path), path)
    assert problem.field == "stages[5].steps[0].starts"
    assert "after_previous" in problem.message
    assert problem.fix == "use with_stage"


def test_gb_calendar_without_subdivision(tmp_path: Path) -> None:
    data = _bundled_data("nsscp")
    del data["calendar"]["subdivision"]
    path = _write(tmp_path, data)
    problem = _only(_problems(path), path)
    assert problem.field == "calendar.subdivision"
    assert "needs a subdivision: ENG, NIR, SCT, WLS" in problem.message
    assert problem.fix == "add subdivision: one of ENG, NIR, SCT, WLS"


def test_je_calendar_with_subdivision(tmp_path: Path) -> None:
    data = _bundled_data("sp-jersey")
    data["calendar"]["subdivision"] = "ENG"
    path = _write(tmp_path, data)
    problem = _only(_problems(path), path)
    assert problem.field == "calendar.subdivision"
    assert "remove it" in problem.message


def test_core_intake_field_missing(tmp_path: Path) -> None:
    data = _bundled_data("st-helens")
    data["intake"] = [f for f in data["intake"] if f["id"] != "reason"]
    path = _write(tmp_path, data)
    problem = _only(_problems(path), path)
    assert problem.field == "intake"
    assert "intake must ask 'reason' (choice)" in problem.message
    assert "add it" in problem.fix


def test_core_intake_field_of_the_wrong_kind(tmp_path: Path) -> None:
    data = _bundled_data("nsscp")
    (dob,) = [f for f in data["intake"] if f["id"] == "child_dob"]
    dob["kind"] = "text"
    path = _write(tmp_path, data)
    problem = _only(_problems(path), path)
    assert problem.field.startswith("intake[") and problem.field.endswith("].kind")
    assert "'child_dob' must be kind date" in problem.message
    assert problem.fix == "set kind: date"


def test_intake_child_field_not_sensitive(tmp_path: Path) -> None:
    data = _bundled_data("jersey-spb-2014")
    (name,) = [f for f in data["intake"] if f["id"] == "child_name"]
    name["sensitive"] = False
    path = _write(tmp_path, data)
    problem = _only(_problems(path), path)
    assert problem.field.startswith("intake[") and problem.field.endswith("].sensitive")
    assert "'child_name' holds child data" in problem.message
    assert "sensitive: true" in problem.fix


def test_computed_child_field_in_a_form_not_sensitive(tmp_path: Path) -> None:
    data = _bundled_data("nsscp")
    field = data["forms"][0]["sections"][0]["fields"][1]
    assert field["computed"] == "child_dob"
    field["sensitive"] = False
    path = _write(tmp_path, data)
    problem = _only(_problems(path), path)
    assert problem.field == "forms[0].sections[0].fields[1]"
    assert "'child_dob' holds child data; mark it sensitive: true" in problem.message


def test_citation_of_a_document_not_in_sources(tmp_path: Path) -> None:
    data = _bundled_data("nsscp")
    data["stages"][0]["cite"]["seed"] = "004_9fc97d70d89f1d3e.txt"
    path = _write(tmp_path, data)
    problem = _only(_problems(path), path)
    assert problem.field == "stages[0].cite.seed"
    assert "cites '004_9fc97d70d89f1d3e.txt'" in problem.message
    assert "not in sources" in problem.message
    assert "sources" in problem.fix


def test_copy_with_both_role_and_mailbox(tmp_path: Path) -> None:
    data = _bundled_data("st-helens")
    data["stages"][0]["copies_to"][0]["role"] = "business_unit"
    path = _write(tmp_path, data)
    problem = _only(_problems(path), path)
    assert problem.field == "stages[0].copies_to[0]"
    assert "exactly one of role or mailbox" in problem.message


def test_several_problems_are_all_reported(tmp_path: Path) -> None:
    data = _bundled_data("sp-jersey")
    del data["name"]
    data["stages"][1]["allowance_working_days"] = 0
    data["colour_scheme"] = "blue"
    path = _write(tmp_path, data)
    problems = _problems(path)
    fields = {p.field for p in problems.problems}
    assert fields == {"name", "stages[1].allowance_working_days", "colour_scheme"}
    assert all(p.fix for p in problems.problems)
    assert problems.render().startswith(f"{path}: 3 problem(s)")


def test_invalid_yaml_syntax(tmp_path: Path) -> None:
    path = tmp_path / "sp-jersey.yaml"
    path.write_text('id: sp-jersey\nversion: "1"\nstages: [\n  - number: 1\n', encoding="utf-8")
    problem = _only(_problems(path), path)
    assert problem.field.startswith("line ")
    assert ", column " in problem.field
    assert problem.message.startswith("not valid YAML")
    assert problem.fix == "fix the YAML syntax there"


def test_bad_indentation_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "nsscp.yaml"
    path.write_text('id: nsscp\n  version: "1"\nname: x\n', encoding="utf-8")
    problem = _only(_problems(path), path)
    assert problem.field.startswith("line 2,")


def test_file_name_differs_from_id(tmp_path: Path) -> None:
    data = _bundled_data("st-helens")
    path = _write(tmp_path, data, name="st-helens-v2")
    with pytest.raises(FileProblems) as caught:
        PolicyRegistry.load([path])
    problem = _only(caught.value, path)
    assert problem.field == "id"
    assert "'st-helens'" in problem.message
    assert "'st-helens-v2.yaml'" in problem.message
    assert "rename the file to st-helens.yaml" in problem.fix


@pytest.mark.parametrize("content", ["", "\n", "# only a comment\n"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(content, encoding="utf-8")
    problem = _only(_problems(path), path)
    assert problem.field == TOP_LEVEL
    assert "expected a mapping" in problem.message
    assert "id:" in problem.fix


def test_a_list_instead_of_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- id: sp-jersey\n", encoding="utf-8")
    problem = _only(_problems(path), path)
    assert problem.field == TOP_LEVEL


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    problem = _only(_problems(path), path)
    assert problem.message == "file not found"
    assert problem.fix == "check the path"


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("id: caf\xe9\n".encode("latin-1"))
    problem = _only(_problems(path), path)
    assert problem.message.startswith("cannot read")
    assert "UTF-8" in problem.fix


def test_an_id_with_capitals_is_told_the_id_rule(tmp_path: Path) -> None:
    data = _bundled_data("nsscp")
    data["roles"][0]["id"] = "Business Manager"
    path = _write(tmp_path, data)
    problems = _problems(path).problems
    (problem,) = [p for p in problems if p.field == "roles[0].id"]
    assert "'Business Manager' must be an id" in problem.message
    assert problem.fix.startswith("use lower-case letters, digits, '-' or '_' only")
