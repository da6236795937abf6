"""Neutral cards as Adaptive Cards 1.5 for Teams.

Buttons are ``Action.Execute`` with the case id and the version the card was drawn from, and case
cards carry a ``refresh`` for their reader, so after anyone acts every copy redraws in the new state
(buttons gone once the case has moved on); a stale click is caught by the version.
"""

from __future__ import annotations

from typing import Any

from dialogs import texts
from dialogs.cards import Card, CardAction, CardInput, InputKind

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CONTROL_KEYS = {
    "case_id", "version", "submit", "step_id", "intake_id", "action_id", "action_due", "edit",
    "row",
}
MAX_ACTIONS = 5  # Teams' host config


def _text(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **extra}


def _input(
    field: CardInput, client_checks: bool = True, control: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """One input. Without ``client_checks`` none is marked required to Teams: Adaptive Cards
    1.5 checks every required input on any button that sends them, so "Add another action"
    would be refused until the whole card was filled. The bot checks on Send instead, and the
    optional ones say so in their label."""
    if field.kind is InputKind.ROWS:
        return _rows(field, client_checks, control or {})
    required = field.required and client_checks
    label = field.label
    if not client_checks and not field.required:
        label += texts.OPTIONAL_MARK
    common: dict[str, Any] = {"id": field.id, "label": label, "isRequired": required}
    if required:
        common["errorMessage"] = texts.REQUIRED
    element: dict[str, Any]
    if field.kind in {InputKind.CHOICE, InputKind.MULTI_CHOICE}:
        element = {
            "type": "Input.ChoiceSet",
            "style": "compact",
            "choices": [{"title": label, "value": value} for value, label in field.choices],
            "isMultiSelect": field.kind is InputKind.MULTI_CHOICE,
        }
    elif field.kind is InputKind.BOOLEAN:
        element = {
            "type": "Input.ChoiceSet",
            "style": "expanded",
            "choices": [{"title": "Yes", "value": "yes"}, {"title": "No", "value": "no"}],
        }
    elif field.kind is InputKind.DATE:
        element = {"type": "Input.Date"}
    elif field.kind is InputKind.NUMBER:
        element = {"type": "Input.Number", "min": 0}
    elif field.kind in {InputKind.LONG_TEXT, InputKind.ACTIONS}:
        element = {"type": "Input.Text", "isMultiline": True}
        if field.kind is InputKind.ACTIONS:
            element["placeholder"] = "One per line: what; who; DD/MM/YYYY"
    elif field.kind is InputKind.PERSON:
        element = {"type": "Input.Text", "style": "Email", "placeholder": "their.name@agency"}
    else:
        element = {"type": "Input.Text"}
    element.update(common)
    if field.value:
        element["value"] = field.value
    rendered = [element]
    if field.error:
        rendered.append(_text(field.error, color="Attention", size="Small", spacing="None"))
    if field.help and not field.error:
        rendered.append(_text(field.help, isSubtle=True, size="Small", spacing="None"))
    return rendered


def _rows(field: CardInput, client_checks: bool, control: dict[str, str]) -> list[dict[str, Any]]:
    """Repeating rows, each a container of stacked inputs under a small heading ("Action 2"):
    columns side by side collapse badly on a phone. Its buttons carry the card's case id and
    version like those at its foot."""
    heading = field.label + ("" if field.required or client_checks else texts.OPTIONAL_MARK)
    rendered: list[dict[str, Any]] = [_text(heading, weight="Bolder", spacing="Medium")]
    if field.error:
        rendered.append(_text(field.error, color="Attention", size="Small", spacing="None"))
    if field.help:
        rendered.append(_text(field.help, isSubtle=True, size="Small", spacing="None"))
    for index, row in enumerate(field.rows):
        items = [_text(row.title, weight="Bolder", size="Small")]
        for part in row.inputs:
            items.extend(_input(part, client_checks))
        if row.remove is not None:
            items.append(_action_set(row.remove, control))
        rendered.append({"type": "Container", "separator": index > 0, "spacing": "Medium",
                         "items": items})
    if field.add is not None:
        rendered.append(_action_set(field.add, control))
    return rendered


def _action_set(action: CardAction, control: dict[str, str]) -> dict[str, Any]:
    return {"type": "ActionSet", "actions": [_execute(action, control)]}


def _execute(action: CardAction, control: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "Action.Execute",
        "verb": action.command,
        "title": action.label,
        "data": {**control, **action.data},
        "associatedInputs": "auto" if action.submits_inputs else "none",
        **({"style": action.style} if action.style in {"positive", "destructive"} else {}),
    }


def _record(card: Card) -> list[dict[str, Any]]:
    """A stage per container; folded ones open with a tap on their title (ToggleVisibility),
    so on a phone the card shows the stage that matters now and nothing is lost."""
    elements: list[dict[str, Any]] = []
    blocks = [("record", block) for block in card.record]
    blocks += [("note", block) for block in card.notes]
    for index, (kind, block) in enumerate(blocks):
        target = f"{kind}-{index}"
        title = _text(("▸ " if block.collapsed else "") + block.title, weight="Bolder",
                      spacing="Medium", size="Small")
        if block.collapsed:
            elements.append({
                "type": "Container",
                "items": [title],
                "selectAction": {"type": "Action.ToggleVisibility", "targetElements": [target]},
            })
        else:
            elements.append(title)
        elements.append({
            "type": "Container",
            "id": target,
            "isVisible": not block.collapsed,
            "items": [_text(line, spacing="Small") for line in block.lines],
        })
    return elements


def adaptive_card(card: Card, refresh_for: list[str] | None = None) -> dict[str, Any]:
    body: list[dict[str, Any]] = [_text(card.title, weight="Bolder", size="Medium")]
    if card.text:
        body.append(_text(card.text))
    if card.facts:
        body.append(
            {"type": "FactSet", "facts": [{"title": f.label, "value": f.value} for f in card.facts]}
        )
    for heading, items in card.sections:
        body.append(_text(heading, weight="Bolder", spacing="Medium"))
        body.append(_text("\n".join(f"- {item}" for item in items)))
    body.extend(_record(card))
    control = {}
    if card.case_id is not None:
        control["case_id"] = card.case_id
    if card.case_version is not None:
        control["version"] = str(card.case_version)
    client_checks = all(a.checks_inputs for a in _every_action(card) if a.submits_inputs)
    for field in card.inputs:
        body.extend(_input(field, client_checks, control))
    actions: list[dict[str, Any]] = [_execute(action, control) for action in card.actions]
    rendered: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": "1.5",
        "body": body,
    }
    if len(actions) > MAX_ACTIONS:
        # Teams draws at most five buttons in a row: keep the main ones, fold the rest away
        more: dict[str, Any] = {
            "type": "Action.ShowCard",
            "title": "More…",
            "card": {"type": "AdaptiveCard", "body": [], "actions": actions[MAX_ACTIONS - 1 :]},
        }
        actions = [*actions[: MAX_ACTIONS - 1], more]
    if actions:
        rendered["actions"] = actions
    if card.case_id is not None and refresh_for:
        rendered["refresh"] = {
            "action": {
                "type": "Action.Execute",
                "verb": "refresh",
                "data": {"case_id": card.case_id},
            },
            "userIds": refresh_for,
        }
    return rendered


def _every_action(card: Card) -> list[CardAction]:
    inside = [a for f in card.inputs for a in ([f.add] if f.add else [])]
    inside += [r.remove for f in card.inputs for r in f.rows if r.remove]
    return [*card.actions, *inside]


def split_action_data(data: Any) -> tuple[dict[str, str], dict[str, str]]:
    """Teams merges a card's inputs into the action's data: take them apart again. Data that is
    not an object carries neither."""
    if not isinstance(data, dict):
        return {}, {}
    control = {k: str(v) for k, v in data.items() if k in CONTROL_KEYS}
    values = {k: "" if v is None else str(v) for k, v in data.items() if k not in CONTROL_KEYS}
    return control, values
