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


# ---- every problem in one run, each with its line (issue 9) ------------------------------------
#
# These edit the bundled file's own text, comments and all, so the line numbers expected are the
# lines an author sees in their editor.

NSSCP_TEXT = (Path(__file__).resolve().parents[1] / "policy/packs/nsscp.yaml").read_text("utf-8")


def _edited(tmp_path: Path, *edits: tuple[str, str], name: str = "nsscp") -> tuple[Path, str]:
    """The NSSCP pack with each (old, new) line edit made once, at the old text's first line."""
    text = NSSCP_TEXT
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text


def _line(text: str, fragment: str, after: str = "") -> int:
    """The 1-based line of the first ``fragment`` after the first ``after``."""
    start = text.index(after) if after else 0
    return text.count("\n", 0, text.index(fragment, start)) + 1


def test_a_misspelt_key_does_not_hide_an_unknown_role_or_a_bad_reference(tmp_path: Path) -> None:
    path, text = _edited(
        tmp_path,
        ("    allowance_working_days: 1\n", "    alowance_working_days: 1\n"),  # stage 1
        ("holder_roles: [senior_manager]", "holder_roles: [senior_managr]"),  # stage 3
        ("raiser_role: practitioner", "raiser_role: practitioner\ncolour: blue"),
        ("    recording:\n      form: appendix-1", "    recording:\n      form: appendix-9"),
    )
    found = {p.field: p for p in _problems(path).problems}
    assert set(found) >= {
        "stages[0].alowance_working_days",  # the misspelt key
        "stages[0].allowance_working_days",  # and so the real one is missing
        "stages[2].holder_roles[0]",  # the unknown role, found despite the field errors
        "colour",  # an unknown top-level key
    }
    assert "'appendix-9'" in found["stages[1].recording.form"].message  # a bad form reference
    assert "'senior_managr'" in found["stages[2].holder_roles[0]"].message
    assert "senior_manager" in found["stages[2].holder_roles[0]"].fix
    assert found["stages[0].alowance_working_days"].line == _line(text, "alowance_working_days")
    assert found["stages[2].holder_roles[0]"].line == _line(text, "senior_managr")
    assert found["colour"].line == _line(text, "colour: blue")
    assert found["stages[1].recording.form"].line == _line(text, "form: appendix-9")
    assert all(p.fix for p in found.values())


def test_each_problem_is_rendered_with_its_line_field_and_fix(tmp_path: Path) -> None:
    path, text = _edited(
        tmp_path,
        ("holder_roles: [senior_manager]", "holder_roles: [senior_managr]"),
        ("    allowance_working_days: 2\n", "    allowance_working_days: two\n"),
    )
    rendered = _problems(path).render()
    assert rendered.startswith(f"{path}: 2 problem(s)\n")
    assert (
        f"  line {_line(text, 'senior_managr')}, stages[2].holder_roles[0]:"
        " names role 'senior_managr', which is not in roles\n"
    ) in rendered
    two = _line(text, "allowance_working_days: two")
    assert f"  line {two}, stages[1].allowance_working_days:" in rendered
    assert rendered.count("\n    fix: ") == 2


def test_a_missing_field_points_at_the_mapping_it_belongs_in(tmp_path: Path) -> None:
    path, text = _edited(tmp_path, ("      recorded_by: Agency raising the issue\n", ""))
    (problem,) = _problems(path).problems
    assert problem.field == "stages[1].recording.recorded_by"
    assert problem.line == _line(text, "    recording:", after="number: 2")


def test_a_missing_top_level_field_has_no_line_to_point_at(tmp_path: Path) -> None:
    path, _ = _edited(tmp_path, ("name: NSSCP issue resolution\n", ""))
    (problem,) = _problems(path).problems
    assert (problem.field, problem.line) == ("name", None)
    assert _problems(path).render().splitlines()[1] == "  name: Field required"


def test_a_bad_citation_in_intake_cite_names_the_seed_field(tmp_path: Path) -> None:
    cite = "intake_cite:\n  seed: "
    path, text = _edited(tmp_path, (f"{cite}001_9a127cc8a84eb14f.txt", f"{cite}009.txt"))
    (problem,) = _problems(path).problems
    assert problem.field == "intake_cite.seed"
    assert problem.line == _line(text, "seed: 009.txt")


def test_duplicate_ids_and_the_core_intake_are_reported_alongside_field_errors(
    tmp_path: Path,
) -> None:
    data = _bundled_data("sp-jersey")
    data["roles"].append(dict(data["roles"][0]))
    data["intake"] = [f for f in data["intake"] if f["id"] != "reason"]
    data["stages"][1]["allowance_working_days"] = "five"
    data["stages"][0]["steps"] = [*data["stages"][0]["steps"], *data["stages"][0]["steps"]]
    path = _write(tmp_path, data)
    fields = {p.field for p in _problems(path).problems}
    assert {"roles", "intake", "stages[1].allowance_working_days", "stages[0].steps"} <= fields


def test_the_file_name_rule_is_part_of_the_check(tmp_path: Path) -> None:
    path, text = _edited(tmp_path, name="nsscp-2027")
    problem = _only(_problems(path), path)
    assert problem.field == "id"
    assert "'nsscp-2027.yaml'" in problem.message
    assert problem.fix == "rename the file to nsscp.yaml or change the id"
    assert problem.line == _line(text, "id: nsscp")


def test_the_file_name_rule_is_reported_with_the_other_problems(tmp_path: Path) -> None:
    path, _ = _edited(tmp_path, ("raiser_role: practitioner", "raiser_role: worker"), name="x")
    fields = {p.field for p in _problems(path).problems}
    assert fields == {"id", "raiser_role"}


def test_a_key_given_twice_is_reported(tmp_path: Path) -> None:
    # YAML keeps the last of two equal keys without a word: an author's first value is lost
    path, text = _edited(
        tmp_path, ("    name: Line managers\n", "    name: Line managers\n    name: Managers\n")
    )
    problem = _only(_problems(path), path)
    assert problem.field == "stages[1].name"
    assert "twice" in problem.message
    assert problem.line == _line(text, "name: Managers")


def test_a_key_a_yaml_merge_overrides_is_not_given_twice(tmp_path: Path) -> None:
    # `<<: *stage-two` brings in stage 2's keys; stage 3's own keys override them, as YAML says
    path, _ = _edited(
        tmp_path,
        ("  - number: 2\n", "  - &stage-two\n    number: 2\n"),
        ("  - number: 3\n", "  - <<: *stage-two\n    number: 3\n"),
    )
    policy = load_policy_file(path)
    assert [s.number for s in policy.stages] == [1, 2, 3, 4]
    assert policy.stage(3).name == "Senior managers"


def test_a_field_error_is_not_repeated_as_a_reference_error(tmp_path: Path) -> None:
    data = _bundled_data("nsscp")
    (dob,) = [f for f in data["intake"] if f["id"] == "child_dob"]
    dob["kind"] = "birthday"  # not a kind at all: one problem, not two
    path = _write(tmp_path, data)
    problem = _only(_problems(path), path)
    assert problem.field.endswith("].kind")
    assert "'date'" in problem.message  # pydantic's list of the kinds


@pytest.mark.parametrize("wrong", [None, 7, "text", ["a"], {"a": 1}])
def test_any_shape_in_any_place_is_a_problem_not_a_crash(tmp_path: Path, wrong: object) -> None:
    # The cross-reference checks read the raw file, so nothing may assume its shape.
    base = _bundled_data("jersey-spb-2014")
    places: list[tuple[Any, str | int]] = [(base, key) for key in base if key != "id"]
    places += [(base["stages"][5], key) for key in base["stages"][5]]
    places += [(base["stages"][5]["steps"], 0), (base["roles"], 0), (base["intake"], 0)]
    for container, key in places:
        data = copy.deepcopy(base)
        target = data
        if container is not base:
            target = _locate(data, base, container)
        target[key] = wrong
        path = _write(tmp_path, data)
        try:
            load_policy_file(path)
        except FileProblems as exc:
            assert exc.problems and all(p.fix for p in exc.problems)


def _locate(data: Any, base: Any, container: Any) -> Any:
    """The copy of ``container`` (a part of ``base``) inside ``data``, a deep copy of ``base``."""
    if base is container:
        return data
    children = base.items() if isinstance(base, dict) else enumerate(base)
    for key, child in children:
        if isinstance(child, (dict, list)):
            found = _locate(data[key], child, container)
            if found is not None:
                return found
    return None


@pytest.mark.parametrize(
    "text",
    ["id: nsscp\nroles: &x\n  - *x\n", "id: nsscp\nstages: &s\n  - steps: *s\n"],
    ids=["list-in-itself", "mapping-in-itself"],
)
def test_an_anchor_used_inside_itself_is_a_problem_not_a_crash(tmp_path: Path, text: str) -> None:
    path = tmp_path / "nsscp.yaml"
    path.write_text(text, encoding="utf-8")
    problems = _problems(path)
    assert problems.problems and all(p.fix for p in problems.problems)
