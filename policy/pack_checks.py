"""Checks that compare parts of a pack with each other: roles, forms and stages named elsewhere,
citations of the sources, the core intake questions, unique ids.

They read the pack as parsed from YAML, not the validated model, because a pack author must see
every problem in one run (issue 9): pydantic stops before a model's own validator when any field
below it is wrong, so a misspelt key anywhere used to hide an unknown role everywhere. Every
lookup here therefore tolerates any shape (a list where a mapping belongs, a number for a
name): the field checks report the shape, these report the references. ``Policy`` runs the same
function on itself, so a pack is held to one set of rules however it is loaded.

Field paths count list positions from 0, as pydantic's and every other message the bot prints;
the loader adds the YAML line number of each, which is where an author looks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from policy.calendar import region_problem, time_zone_problem
from policy.errors import Problem

# The intake questions the engine itself reads: id -> (kind, must be sensitive). A pack may add
# others after or between them.
CORE_INTAKE_KINDS: dict[str, tuple[str, bool]] = {
    "counterpart": ("person", False),
    "counterpart_agency": ("text", False),
    "child_name": ("text", True),
    "child_dob": ("date", True),
    "child_identifiers": ("text", True),
    "summary": ("long_text", False),
    "impact_on_child": ("long_text", False),
    "reason": ("choice", False),
    "outcome_sought": ("long_text", False),
    "immediate_risk": ("boolean", False),
}


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _items(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: object) -> str | None:
    """A name as pydantic would read it (text is stripped), or None for anything that is not
    text: the field check reports those, and a missing name is not a bad reference."""
    return value.strip() if isinstance(value, str) else None


def _number(value: object) -> object:
    """A whole number as pydantic reads one ("2" is 2), so a quoted number is not a problem."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


def _true(value: object) -> bool:
    """True as pydantic reads a flag (true, yes, on, 1 ...)."""
    if isinstance(value, str):
        return value.strip().lower() in {"1", "on", "t", "true", "y", "yes"}
    return value is True or (type(value) is int and value == 1)


def _ids(entries: list[Any]) -> list[str]:
    return [i for i in (_text(_mapping(e).get("id")) for e in entries) if i is not None]


def _numbers(entries: list[Any]) -> list[object]:
    return [_number(_mapping(e).get("number")) for e in entries]


def cross_reference_problems(data: Mapping[str, Any]) -> list[Problem]:
    """Every cross-reference problem in a pack, in file order where it has one."""
    problems: list[Problem] = []
    roles = _items(data.get("roles"))
    forms = _items(data.get("forms"))
    stages = _items(data.get("stages"))
    intake = _items(data.get("intake"))
    sources = {s for s in (_text(x) for x in _items(data.get("sources"))) if s is not None}
    role_ids, form_ids = _ids(roles), _ids(forms)
    known_roles, known_forms = set(role_ids), set(form_ids)
    problems += _duplicates("roles", role_ids)
    problems += _duplicates("forms", form_ids)
    problems += _duplicates("intake", _ids(intake))
    problems += _core_intake(intake)
    stage_numbers = _numbers(stages)
    numbered = stage_numbers == list(range(1, len(stages) + 1))
    if stages and not numbered:
        problems.append(
            Problem(
                "stages",
                f"stages must be numbered 1, 2, 3 ... in order; got {stage_numbers}",
                "renumber the stages from 1 with no gaps",
            )
        )

    def need_role(where: str, value: object) -> None:
        role = _text(value)
        if role is not None and role not in known_roles:
            problems.append(
                Problem(
                    where,
                    f"names role '{role}', which is not in roles",
                    f"use one of {', '.join(role_ids) or '(no roles)'} or add the role",
                )
            )

    def need_form(where: str, value: object) -> None:
        form = _text(value)
        if form is not None and form not in known_forms:
            problems.append(
                Problem(
                    where,
                    f"names form '{form}', which is not in forms",
                    f"use one of {', '.join(form_ids) or '(no forms)'} or add the form",
                )
            )

    def need_source(where: str, citation: object) -> None:
        seed = _text(_mapping(citation).get("seed"))
        if seed is not None and seed not in sources:
            problems.append(
                Problem(
                    f"{where}.seed",
                    f"cites '{seed}', which is not in sources",
                    "add the file to sources or correct the name",
                )
            )

    def cited(where: str, part: object) -> None:
        need_source(f"{where}.cite", _mapping(part).get("cite"))

    def need_stage(where: str, value: object, lowest: int) -> None:
        # judged once the stages are numbered 1, 2, 3 ...: until then the numbers will change
        value = _number(value)
        if numbered and isinstance(value, int) and value not in stage_numbers:
            problems.append(
                Problem(
                    where,
                    f"stage {value} is not in the pack",
                    f"use stage numbers {lowest} to {len(stages)}",
                )
            )

    problems += _calendar_problems(_mapping(data.get("calendar")))
    problems += _who_raises_and_who_runs(data, roles)
    need_role("raiser_role", data.get("raiser_role"))
    need_role("business_team_role", data.get("business_team_role"))
    cited("calendar", data.get("calendar"))
    cited("immediate_risk", data.get("immediate_risk"))
    need_source("intake_cite", data.get("intake_cite"))
    cited("pathway", data.get("pathway"))
    cited("at_intake", data.get("at_intake"))
    cited("after_resolution", data.get("after_resolution"))
    _each("special_routes", data.get("special_routes"), cited)
    _each("outcome_also_to", data.get("outcome_also_to"), cited)
    for i, raw_stage in enumerate(stages):
        where, stage = f"stages[{i}]", _mapping(raw_stage)
        recording = _mapping(stage.get("recording"))
        cited(where, stage)
        cited(f"{where}.recording", recording)
        for j, role in enumerate(_items(stage.get("holder_roles"))):
            need_role(f"{where}.holder_roles[{j}]", role)
        need_role(f"{where}.decision_by", stage.get("decision_by"))
        need_form(f"{where}.recording.form", recording.get("form"))
        need_form(f"{where}.notification_form", stage.get("notification_form"))
        for j, filing in enumerate(_items(stage.get("files"))):
            need_form(f"{where}.files[{j}].form", _mapping(filing).get("form"))
            cited(f"{where}.files[{j}]", filing)
        for j, copy in enumerate(_items(stage.get("copies_to"))):
            need_role(f"{where}.copies_to[{j}].role", _mapping(copy).get("role"))
        steps = _items(stage.get("steps"))
        problems += _duplicates(f"{where}.steps", _ids(steps))
        problems += _allowance_problems(where, stage, least=1)
        for j, step in enumerate(steps):
            need_role(f"{where}.steps[{j}].owner_role", _mapping(step).get("owner_role"))
            problems += _allowance_problems(f"{where}.steps[{j}]", _mapping(step), least=0)
            cited(f"{where}.steps[{j}]", step)
        problems += _ways_on(where, stage, i == len(stages) - 1, need_stage, need_role)
        cited(f"{where}.routes", stage.get("routes"))
        problems += _step_order_problems(where, steps)
        for j, step in enumerate(steps):
            letter = _mapping(step).get("letter")
            if letter is None:
                continue
            at = f"{where}.steps[{j}].letter"
            need_form(f"{at}.form", _mapping(letter).get("form"))
            cited(at, letter)
            for k, target in enumerate(_items(_mapping(letter).get("to"))):
                name = _text(target)
                if name is not None and name not in LETTER_KEYWORDS and name not in known_roles:
                    problems.append(
                        Problem(
                            f"{at}.to[{k}]",
                            f"sends the letter to '{name}', which is neither a role nor one of"
                            f" {', '.join(sorted(LETTER_KEYWORDS))}",
                            f"use one of {', '.join(sorted(LETTER_KEYWORDS))} or a role id",
                        )
                    )
        if steps and _mapping(steps[0]).get("starts") == "after_previous":
            problems.append(
                Problem(
                    f"{where}.steps[0].starts",
                    "the first step cannot start after_previous",
                    "use with_stage",
                )
            )
    for i, raw_form in enumerate(forms):
        cited(f"forms[{i}]", raw_form)
        for j, number in enumerate(_items(_mapping(raw_form).get("used_at_stages"))):
            need_stage(f"forms[{i}].used_at_stages[{j}]", number, 1)
    immediate_risk = _mapping(data.get("immediate_risk"))
    for j, number in enumerate(_items(immediate_risk.get("allowed_start_stages"))):
        need_stage(f"immediate_risk.allowed_start_stages[{j}]", number, 2)
    if "start_stage" in immediate_risk:
        need_stage("immediate_risk.start_stage", immediate_risk.get("start_stage"), 1)
    for j, contact in enumerate(_items(immediate_risk.get("tell"))):
        need_role(f"immediate_risk.tell[{j}].role", _mapping(contact).get("role"))
        cited(f"immediate_risk.tell[{j}]", contact)
    return problems


HOUR_UNITS = ("working_hours", "elapsed_hours")


def _allowance_problems(where: str, part: Mapping[str, Any], *, least: int) -> list[Problem]:
    """Exactly one of ``allowance_working_days`` and ``allowance``, and an amount that makes
    sense for its unit: a stage needs at least 1 of anything, and hours at least 1 anywhere,
    since "0 hours" would be due the moment it started (same day is 0 working days). Checked on
    the raw pack, so these come with every other problem in one run."""
    days, allowance = part.get("allowance_working_days"), part.get("allowance")
    if days is not None and allowance is not None:
        return [
            Problem(
                where,
                "gives both allowance_working_days and allowance",
                "keep one: allowance_working_days: N, or allowance: {amount: N, unit: ...}",
            )
        ]
    if days is None and allowance is None:
        return [
            Problem(
                f"{where}.allowance_working_days",
                "missing: the stage or step gives no allowance",
                "add allowance_working_days: N, or allowance: {amount: N, unit: working_days,"
                " working_hours or elapsed_hours}",
            )
        ]
    given = _mapping(allowance)
    amount, unit = _number(given.get("amount")), given.get("unit")
    lowest = 1 if unit in HOUR_UNITS else least
    if isinstance(amount, int) and not isinstance(amount, bool) and amount < lowest:
        fix = (
            "give at least 1 hour; for 'the same day' use allowance_working_days: 0, for"
            " 'immediately' add prompt: immediately"
            if unit in HOUR_UNITS
            else f"give at least {lowest}"
        )
        return [Problem(f"{where}.allowance.amount", f"{amount} {unit} is too short", fix)]
    return []


def _ways_on(
    where: str,
    stage: Mapping[str, Any],
    last: bool,
    need_stage: Callable[[str, object, int], None],
    need_role: Callable[[str, object], None],
) -> list[Problem]:
    """A stage's next_stage and routes: each leads forward to a stage in the pack, so every path
    ends at the last stage and numbering stays 1..N; the route's chooser is a role of the pack
    and its default is one of its options. The last stage leads nowhere."""
    problems: list[Problem] = []
    number = _number(stage.get("number"))
    routes = _mapping(stage.get("routes"))
    targets: list[tuple[str, object]] = []
    if "next_stage" in stage:
        targets.append((f"{where}.next_stage", stage.get("next_stage")))
    options = _items(routes.get("options"))
    for j, option in enumerate(options):
        targets.append((f"{where}.routes.options[{j}].next_stage",
                        _mapping(option).get("next_stage")))
    if last and (routes or stage.get("next_stage") is not None):
        field = f"{where}.routes" if routes else f"{where}.next_stage"
        problems.append(
            Problem(
                field,
                "the last stage is where every path ends: it cannot lead on to another stage",
                "remove it, or move this stage before the stage it should lead to",
            )
        )
        return problems
    for field, raw in targets:
        target = _number(raw)
        if isinstance(target, int) and isinstance(number, int) and target <= number:
            what = "itself" if target == number else f"stage {target}, before it"
            problems.append(
                Problem(
                    field,
                    f"stage {number} leads back to {what}",
                    f"lead only to a later stage ({number + 1} or after); a case never goes"
                    " back a stage",
                )
            )
        else:
            need_stage(field, target, 2)
    if not routes:
        return problems
    if stage.get("next_stage") is not None:
        problems.append(
            Problem(
                f"{where}.next_stage",
                "the stage has routes, so its next stage is the route chosen",
                "remove next_stage and give each route option its next_stage",
            )
        )
    need_role(f"{where}.routes.chosen_by_role", routes.get("chosen_by_role"))
    ids = _ids(options)
    problems += _duplicates(f"{where}.routes.options", ids)
    default = _text(routes.get("default"))
    if default is not None and default not in ids:
        problems.append(
            Problem(
                f"{where}.routes.default",
                f"default '{default}' is not one of the options",
                f"use one of {', '.join(ids) or '(no options)'}",
            )
        )
    if routes.get("chosen_by_role") is not None and routes.get("chosen_by_side") is not None:
        problems.append(
            Problem(
                f"{where}.routes",
                "names both chosen_by_role and chosen_by_side",
                "give one of them, or neither for any party to the case",
            )
        )
    return problems


# who a step's ``letter`` may go to besides a role (policy.model.LetterTo)
LETTER_KEYWORDS = frozenset({"parties", "raising", "receiving"})


def _step_order_problems(where: str, steps: list[Any]) -> list[Problem]:
    """The order rules of conditional and counted-from steps (issue 9): a ``when`` step hangs on
    the nearest earlier step that asks an ``outcome``, with only other ``when`` steps between
    them, and starts after it; ``counted_from`` names an earlier step of the same stage. Both
    refer backwards only, so a deadline never waits on a step that has not run yet."""
    problems: list[Problem] = []
    seen: list[str] = []
    deciding = False  # the steps so far end with an outcome step and its branches
    branches: list[object] = []  # the conditions of the branches after it, in order
    for j, raw in enumerate(steps):
        step = _mapping(raw)
        at = f"{where}.steps[{j}]"
        when, outcome = step.get("when"), step.get("outcome")
        if when is not None:
            if not deciding:
                problems.append(
                    Problem(
                        f"{at}.when",
                        "a conditional step must follow a step that asks an outcome (or"
                        " another conditional step after one)",
                        "add outcome: agreed_or_not to the step before it, or remove when",
                    )
                )
            if step.get("starts") != "after_previous":
                problems.append(
                    Problem(
                        f"{at}.starts",
                        "a conditional step starts when the step it hangs on is done",
                        "set starts: after_previous",
                    )
                )
            if when in branches and branches[-1] != when:
                problems.append(
                    Problem(
                        f"{at}.when",
                        f"the '{when}' branch is split by another branch",
                        "keep each branch's steps together, one after the other",
                    )
                )
            branches.append(when)
            if outcome is not None:
                problems.append(
                    Problem(
                        f"{at}.outcome",
                        "a conditional step cannot ask an outcome of its own",
                        "remove outcome here, or make this step unconditional",
                    )
                )
        else:
            deciding, branches = outcome is not None, []
        reference = _text(step.get("counted_from"))
        step_id = _text(step.get("id"))
        if reference is not None and reference not in seen:
            later = reference == step_id or reference in _ids(steps[j:])
            problems.append(
                Problem(
                    f"{at}.counted_from",
                    f"names step '{reference}', which "
                    + ("is this step or comes after it" if later else "is not in this stage"),
                    "name an earlier step of the same stage"
                    + (f" ({', '.join(seen)})" if seen else " (this is the first step)"),
                )
            )
        if step_id is not None:
            seen.append(step_id)
    return problems


def _each(where: str, value: object, check: Callable[[str, object], None]) -> None:
    for i, entry in enumerate(_items(value)):
        check(f"{where}[{i}]", entry)


def _core_intake(intake: list[Any]) -> list[Problem]:
    problems: list[Problem] = []
    by_id: dict[str, tuple[int, Mapping[str, Any]]] = {}
    for index, entry in enumerate(intake):
        field_id = _text(_mapping(entry).get("id"))
        if field_id is not None:
            by_id.setdefault(field_id, (index, _mapping(entry)))
    for field_id, (kind, sensitive) in CORE_INTAKE_KINDS.items():
        if field_id not in by_id:
            problems.append(
                Problem(
                    "intake",
                    f"intake must ask '{field_id}' ({kind})",
                    "add it, the engine needs it",
                )
            )
            continue
        index, field = by_id[field_id]
        if field.get("kind", "text") != kind:
            problems.append(
                Problem(
                    f"intake[{index}].kind",
                    f"'{field_id}' must be kind {kind}",
                    f"set kind: {kind}",
                )
            )
        if sensitive and not _true(field.get("sensitive")):
            problems.append(
                Problem(
                    f"intake[{index}].sensitive",
                    f"'{field_id}' holds child data",
                    "mark it sensitive: true",
                )
            )
    return problems


def _duplicates(where: str, ids: list[str]) -> list[Problem]:
    seen: set[str] = set()
    problems: list[Problem] = []
    for item in ids:
        if item in seen:
            problems.append(
                Problem(where, f"id '{item}' appears twice", "give each a unique id")
            )
        seen.add(item)
    return problems


def _calendar_problems(calendar: Mapping[str, Any]) -> list[Problem]:
    """The region and the time zone each on its own, so a bad country does not hide a
    misspelt zone (the model stops at the first)."""
    found: list[Problem] = []
    country = _text(calendar.get("country"))
    if country is not None:
        region = region_problem(country, _text(calendar.get("subdivision")))
        if region is not None:
            found.append(Problem(f"calendar.{region.field}", region.message, region.fix))
    zone = _text(calendar.get("time_zone"))
    if zone is not None:
        bad_zone = time_zone_problem(zone)
        if bad_zone is not None:
            found.append(Problem(f"calendar.{bad_zone.field}", bad_zone.message, bad_zone.fix))
    return found


def _who_raises_and_who_runs(data: Mapping[str, Any], roles: list[Any]) -> list[Problem]:
    """Two roles the whole procedure leans on, read as the bot uses them: the raiser is the
    raising side by definition, and the business team works for the partnership (it is found
    across it, and alerted for every agency's cases)."""
    by_id = {_text(_mapping(r).get("id")): _mapping(r) for r in roles}
    found: list[Problem] = []
    raiser = by_id.get(_text(data.get("raiser_role")))
    if raiser is not None and raiser.get("side") == "receiving":
        found.append(Problem(
            "raiser_role", "the role that raises a concern is limited to the receiving side",
            "remove side from that role (the raiser is on the raising side by definition)",
        ))
    team = by_id.get(_text(data.get("business_team_role")))
    if team is not None and (_number(team.get("tier")) not in (0, None) or team.get("side")):
        found.append(Problem(
            "business_team_role",
            "the business team's role belongs to one agency (its tier is not 0, or it has a"
            " side)",
            "give that role tier: 0 and no side: the business team works for the partnership",
        ))
    return found
