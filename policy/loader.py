"""Load policy packs from YAML and validate them before any case can use them."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from policy.errors import FileProblems, Problem, problems_from_validation
from policy.model import Policy
from policy.pack_checks import cross_reference_problems

# libyaml's parser when PyYAML was built with it (8x faster: most of a cold start), else the
# pure-Python one; both give the nodes and error marks their line numbers
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

PACK_SUFFIX = ".yaml"


@dataclass(frozen=True)
class YamlDocument:
    """A parsed file and its node tree, which keeps every key's line so that each problem can
    say where it is (PyYAML's composed nodes carry their marks; no other parser is needed)."""

    path: Path
    data: dict[str, Any]
    root: yaml.Node
    duplicate_keys: tuple[Problem, ...]

    def line_of(self, field: str) -> int | None:
        """The 1-based line of ``field`` ("stages[1].recording.form"), or of the deepest part of
        it the file has (a missing field's mapping); None when not even its first part is."""
        if not field or field.startswith(("(", "line ")):
            return None
        node, line = self.root, None
        for index, key in _PATH_PART.findall(field):
            found = _child(node, int(index) if index else key)
            if found is None:
                break
            line, node = found
        return line

    def located(self, problems: list[Problem]) -> list[Problem]:
        """The problems with their lines, in the order they appear in the file."""
        with_lines = [
            p if p.line is not None else replace(p, line=self.line_of(p.field)) for p in problems
        ]
        return sorted(with_lines, key=lambda p: -1 if p.line is None else p.line)


_PATH_PART = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def _child(node: yaml.Node, part: int | str) -> tuple[int, yaml.Node] | None:
    """The line and node of one step along a field path: a list position or a mapping key,
    looking into YAML merges (``<<: *anchor``) for keys they bring in."""
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        if 0 <= part < len(node.value):
            item: yaml.Node = node.value[part]
            return item.start_mark.line + 1, item
        return None
    if isinstance(node, yaml.MappingNode):
        merged: list[yaml.Node] = []
        for key, value in node.value:
            if key.value == str(part):
                return key.start_mark.line + 1, value
            if key.value == "<<":
                merged += value.value if isinstance(value, yaml.SequenceNode) else [value]
        for source in merged:
            found = _child(source, part)
            if found is not None:
                return found
    return None


def _duplicate_keys(
    node: yaml.Node, field: str = "", within: frozenset[int] = frozenset()
) -> list[Problem]:
    """Keys given twice in one mapping: YAML keeps the last without a word, so an author's
    first value would silently be lost. ``within`` holds the nodes above this one, so that an
    anchor used inside itself (``a: &x [*x]``) is walked once, not until the stack overflows."""
    if id(node) in within:
        return []
    within = within | {id(node)}
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            path = f"{field}.{name}" if field else name
            if name in seen and name != "<<":
                problems.append(
                    Problem(
                        path,
                        f"'{name}' is given twice here; only the last would count",
                        "keep one of them",
                        key.start_mark.line + 1,
                    )
                )
            seen.add(name)
            problems += _duplicate_keys(value, path, within)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems += _duplicate_keys(item, f"{field}[{index}]", within)
    return problems


def read_yaml_document(path: Path) -> YamlDocument:
    """Parse a YAML file that must hold a mapping; every failure becomes a FileProblems."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileProblems(path, [Problem("(file)", "file not found", "check the path")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FileProblems(
            path, [Problem("(file)", f"cannot read: {exc}", "save it as UTF-8 text")]
        ) from None
    loader = _LOADER(text)
    try:
        root = loader.get_single_node()
        # before constructing: that flattens merges (<<: *base) into the mappings, where an
        # overridden key would look like a key given twice
        duplicates = tuple(_duplicate_keys(root)) if root is not None else ()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        reason = getattr(exc, "problem", None) or str(exc)
        raise FileProblems(
            path, [Problem(where, f"not valid YAML: {reason}", "fix the YAML syntax there")]
        ) from None
    finally:
        loader.dispose()
    if root is None or not isinstance(data, dict):
        raise FileProblems(
            path,
            [Problem("(top level)", "expected a mapping of fields", "start with 'id: ...' lines")],
        )
    return YamlDocument(path, data, root, duplicates)


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """The data of :func:`read_yaml_document`, for callers that need no line numbers."""
    return read_yaml_document(path).data


def pack_problems(path: Path | str) -> tuple[Policy | None, list[Problem]]:
    """Every problem with a pack file at once: YAML keys given twice, each field, every
    cross-reference (read from the raw file, so that a misspelt key cannot hide them) and the
    file-name rule, each with its line. The policy only when there are none."""
    path = Path(path)
    document = read_yaml_document(path)
    data = document.data
    field_problems: list[Problem] = []
    policy: Policy | None = None
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        field_problems = problems_from_validation(exc)
    flagged = {p.field for p in field_problems}
    # the model runs the same cross-reference checks and stops at the first: drop that repeat,
    # and a reference whose field is already wrong in itself (one problem per field)
    references = [
        p
        for p in cross_reference_problems(data)
        if p.field not in flagged and p not in field_problems
    ]
    problems = [
        *_file_name_problems(path, data),
        *document.duplicate_keys,
        *field_problems,
        *references,
    ]
    problems = list(dict.fromkeys(problems))
    if problems:
        return None, document.located(problems)
    return policy, []


def _file_name_problems(path: Path, data: dict[str, Any]) -> list[Problem]:
    """A pack's file name is its id, so that `policy show ID` and the configuration's
    `policy: ID` find it by looking: checked with the rest, as the bot would refuse it."""
    pack_id = data.get("id")
    if path.suffix != PACK_SUFFIX:
        stem = pack_id if isinstance(pack_id, str) else path.stem
        return [Problem(
            "id", f"a pack's file name ends in {PACK_SUFFIX}; '{path.name}' is never installed",
            f"rename the file to {stem}{PACK_SUFFIX}",
        )]
    if not isinstance(pack_id, str) or path.stem == pack_id:
        return []
    return [
        Problem(
            "id",
            f"id '{pack_id}' does not match the file name '{path.name}'",
            f"rename the file to {pack_id}{PACK_SUFFIX} or change the id",
        )
    ]


def load_policy_file(path: Path | str) -> Policy:
    """The pack in ``path``, or FileProblems naming every problem with it."""
    policy, problems = pack_problems(path)
    if policy is None:
        raise FileProblems(path, problems)
    return policy


STARTER_ID = "__PACK_ID__"


def starter_pack(pack_id: str) -> str:
    """A complete, valid pack with plain-English comments, for `policy new ID > ID.yaml`: a
    business manager who has never written YAML edits a file that already passes the check,
    rather than starting from a blank page or a seed pack's long citations."""
    template = resources.files("policy").joinpath("starter", "starter-pack.yaml")
    return template.read_text(encoding="utf-8").replace(STARTER_ID, pack_id)


def bundled_pack_paths() -> list[Path]:
    """The packs shipped with the bot, one per procedure it runs out of the box."""
    folder = resources.files("policy").joinpath("packs")
    return sorted(
        Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(PACK_SUFFIX)
    )


def installed_pack_paths(folder: Path) -> list[Path]:
    """The pack files in ESCALATION_BOT_PACKS. A folder that is not there is refused by name
    (silently running on the bundled packs would hide that the partnership's own are missing),
    and a `.yml` file is listed so that the file-name rule names it rather than skipping it."""
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise FileProblems(folder, [Problem(
            "ESCALATION_BOT_PACKS", f"{folder} {what}",
            "point ESCALATION_BOT_PACKS at the folder that holds your pack files, or unset it",
        )])
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in {PACK_SUFFIX, ".yml"})


class BrokenPack(KeyError):
    """A policy id whose pack file is installed but has problems, so it is not loaded: asked
    for, it names the file and how to see what is wrong, not "no such policy"."""

    def __init__(self, policy_id: str, problems: FileProblems) -> None:
        self.policy_id = policy_id
        self.problems = problems
        count = len(problems.problems)
        self.message = (
            f"the pack for policy '{policy_id}' ({problems.path}) has {count} problem(s),"
            " so it is not loaded"
        )
        self.fix = f"escalation-bot policy check {problems.path} lists them; correct the file"
        super().__init__(f"{self.message}; fix: {self.fix}")


class PolicyRegistry:
    """Every known pack by id; a pack's file name must equal its id so lookups are obvious.

    ``broken`` holds the installed files that could not be loaded, by the id their file name
    gives them, so one bad file among a partnership's packs costs that pack only: whoever needs
    it is told which file and why, and everyone else carries on.
    """

    def __init__(
        self, policies: dict[str, Policy], broken: dict[str, FileProblems] | None = None
    ) -> None:
        self._policies = dict(policies)
        self.broken: dict[str, FileProblems] = dict(broken or {})

    @classmethod
    def load(cls, paths: list[Path]) -> PolicyRegistry:
        """Every pack in ``paths``, refusing them all at the first broken file: for the bundled
        packs, where a problem is a bug in the release."""
        policies: dict[str, Policy] = {}
        for path in paths:
            policy = load_policy_file(path)
            policies[policy.id] = policy
        return cls(policies)

    @classmethod
    def load_each(cls, paths: list[Path]) -> PolicyRegistry:
        """Every pack in ``paths`` that loads; the others on ``broken`` with their problems.
        For installed packs (ESCALATION_BOT_PACKS), which partnership staff write."""
        policies: dict[str, Policy] = {}
        broken: dict[str, FileProblems] = {}
        for path in paths:
            try:
                policy = load_policy_file(path)
            except FileProblems as problems:
                broken[path.stem] = problems
                policies.pop(path.stem, None)  # a broken file replaces no pack silently
                continue
            policies[policy.id] = policy
            broken.pop(policy.id, None)
        return cls(policies, broken)

    @classmethod
    def bundled(cls) -> PolicyRegistry:
        return cls.load(bundled_pack_paths())

    def get(self, policy_id: str) -> Policy:
        try:
            return self._policies[policy_id]
        except KeyError:
            if policy_id in self.broken:
                raise BrokenPack(policy_id, self.broken[policy_id]) from None
            known = ", ".join(sorted(self._policies)) or "none"
            raise KeyError(f"no policy '{policy_id}'; known policies: {known}") from None

    def ids(self) -> list[str]:
        return sorted(self._policies)

    def all(self) -> list[Policy]:
        return [self._policies[i] for i in self.ids()]
