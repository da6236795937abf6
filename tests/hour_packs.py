"""A small invented pack whose allowances are in hours (issue 9, "Pack format"), for the tests.

Saltmere is not a real partnership: the pack is NSSCP's with hour allowances and prompts the
format can now say. Stage 1 allows 48 working hours and asks the raiser's line manager to
acknowledge immediately (within 1 elapsed hour); stage 2 asks the senior managers to be briefed
within 4 working hours; stage 3 allows 72 elapsed hours and prompts its holders immediately.
Imported as ``from hour_packs import ...``, as ``support`` is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from support import REPO

HOURS_PACK = "saltmere-hours"
_CITE = {"seed": "001_9a127cc8a84eb14f.txt", "section": "Procedure: Stage 2"}


def hours_pack_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        (REPO / "policy" / "packs" / "nsscp.yaml").read_text(encoding="utf-8")
    )
    data["id"] = HOURS_PACK
    data["partnership"] = "Saltmere Children's Safeguarding Partnership (invented, for tests)"
    one, two, three = data["stages"][0], data["stages"][1], data["stages"][2]
    del one["allowance_working_days"]
    one["allowance"] = {"amount": 48, "unit": "working_hours"}
    one["steps"] = [
        {
            "id": "acknowledge",
            "name": "Acknowledge the concern",
            "owner_role": "line_manager",
            "allowance": {"amount": 1, "unit": "elapsed_hours"},
            "prompt": "immediately",
            "cite": _CITE,
        }
    ]
    two["steps"] = [
        {
            "id": "brief-senior-managers",
            "name": "Brief the senior managers",
            "owner_role": "senior_manager",
            "allowance": {"amount": 4, "unit": "working_hours"},
            "cite": _CITE,
        }
    ]
    del three["allowance_working_days"]
    three["allowance"] = {"amount": 72, "unit": "elapsed_hours"}
    three["prompt"] = "immediately"
    return data


def write_pack(tmp_path: Path, data: dict[str, Any]) -> Path:
    """A packs directory holding ``data`` as ``<id>.yaml``."""
    packs = tmp_path / "packs"
    packs.mkdir(exist_ok=True)
    text = yaml.safe_dump(data, sort_keys=False)
    (packs / f"{data['id']}.yaml").write_text(text, encoding="utf-8")
    return packs


def on_pack(policy_id: str, **business: str) -> Any:
    """A config edit: Northbay uses ``policy_id`` (and the business hours given)."""

    def edit(config: dict[str, Any]) -> None:
        for partnership in config["partnerships"]:
            if partnership["id"] == "northbay":
                partnership["policy"] = policy_id
                partnership.update(business)

    return edit
