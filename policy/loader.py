"""Load policy packs from YAML and validate them before any case can use them."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from policy.errors import FileProblems, Problem, problems_from_validation
from policy.model import Policy

PACK_SUFFIX = ".yaml"


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Parse a YAML file that must hold a mapping; every failure becomes a FileProblems."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileProblems(path, [Problem("(file)", "file not found", "check the path")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FileProblems(
            path, [Problem("(file)", f"cannot read: {exc}", "save it as UTF-8 text")]
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        reason = getattr(exc, "problem", None) or str(exc)
        raise FileProblems(
            path, [Problem(where, f"not valid YAML: {reason}", "fix the YAML syntax there")]
        ) from None
    if not isinstance(data, dict):
        raise FileProblems(
            path,
            [Problem("(top level)", "expected a mapping of fields", "start with 'id: ...' lines")],
        )
    return data


def load_policy_file(path: Path | str) -> Policy:
    path = Path(path)
    data = read_yaml_mapping(path)
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise FileProblems(path, problems_from_validation(exc)) from None


def bundled_pack_paths() -> list[Path]:
    """The packs shipped with the bot, one per procedure it runs out of the box."""
    folder = resources.files("policy").joinpath("packs")
    return sorted(
        Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(PACK_SUFFIX)
    )


class PolicyRegistry:
    """Every known pack by id; a pack's file name must equal its id so lookups are obvious."""

    def __init__(self, policies: dict[str, Policy]) -> None:
        self._policies = dict(policies)

    @classmethod
    def load(cls, paths: list[Path]) -> PolicyRegistry:
        policies: dict[str, Policy] = {}
        for path in paths:
            policy = load_policy_file(path)
            if path.stem != policy.id:
                raise FileProblems(
                    path,
                    [
                        Problem(
                            "id",
                            f"id '{policy.id}' does not match the file name '{path.name}'",
                            f"rename the file to {policy.id}{PACK_SUFFIX} or change the id",
                        )
                    ],
                )
            policies[policy.id] = policy
        return cls(policies)

    @classmethod
    def bundled(cls) -> PolicyRegistry:
        return cls.load(bundled_pack_paths())

    def get(self, policy_id: str) -> Policy:
        try:
            return self._policies[policy_id]
        except KeyError:
            known = ", ".join(sorted(self._policies)) or "none"
            raise KeyError(f"no policy '{policy_id}'; known policies: {known}") from None

    def ids(self) -> list[str]:
        return sorted(self._policies)

    def all(self) -> list[Policy]:
        return [self._policies[i] for i in self.ids()]
