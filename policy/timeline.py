"""When each stage and step falls due if nothing is resolved: the what-if a safeguarding lead asks.

The engine uses the same arithmetic when a case enters a stage, so the timeline printed by the CLI
is exactly what the bot will enforce.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from policy.calendar import WorkingCalendar
from policy.model import Policy, Stage, StepStart, due_after


@dataclass(frozen=True)
class StepWindow:
    id: str
    name: str
    owner_role: str
    starts: datetime
    due: datetime
    when: str | None = None  # the outcome this step's branch runs on, if it is conditional
    counted_from: str | None = None  # the step whose end its allowance counts from
    default_path: bool = True  # False: the branch the lapse path does not take


@dataclass(frozen=True)
class StageWindow:
    number: int
    name: str
    starts: datetime
    due: datetime
    steps: tuple[StepWindow, ...]
    alternatives: tuple[tuple[str, int], ...] = ()  # other routes: (option label, stage)


def stage_window(stage: Stage, starts: datetime, calendar: WorkingCalendar) -> StageWindow:
    """A stage entered at ``starts``: its due time, and each step's if each runs to its limit."""
    steps: list[StepWindow] = []
    previous_due = starts
    # Conditional steps (issue 9): the timeline's path is the one where nothing is done, so a
    # step that asks an outcome lapses unanswered, which the engine takes as not agreed. The
    # agreed branch is shown too, as if agreed at that same moment, marked off the path.
    decided_at = starts  # when the latest outcome step ended
    ends: dict[str, datetime] = {}  # each step's end on the path it is shown on
    off_path: set[str] = set()
    after_group = starts  # where the step after a group of branches starts
    previous_when: str | None = None
    for step in stage.steps:
        when = step.when.value if step.when else None
        if when is not None:
            on_path = when == "not_agreed"
            step_start = previous_due if previous_when == when else decided_at
        else:
            on_path = True
            if previous_when is not None:
                previous_due = after_group  # the branch that ran on the path ended here
            step_start = previous_due if step.starts is StepStart.AFTER_PREVIOUS else starts
        counted = step.counted_from
        clock = step_start
        if counted is not None and counted in ends and (counted not in off_path or not on_path):
            clock = ends[counted]
        step_due = due_after(clock, step.time_allowed, calendar)
        steps.append(
            StepWindow(
                step.id, step.name, step.owner_role, step_start, step_due, when, counted, on_path
            )
        )
        ends[step.id] = step_due
        if not on_path:
            off_path.add(step.id)
        if step.outcome is not None:
            decided_at = after_group = step_due
        elif on_path and when is not None:
            after_group = step_due
        previous_due, previous_when = step_due, when
    due = due_after(starts, stage.time_allowed, calendar)
    others: tuple[tuple[str, int], ...] = ()
    if stage.routes is not None:
        others = tuple(
            (o.label, o.next_stage) for o in stage.routes.options if o.id != stage.routes.default
        )
    return StageWindow(stage.number, stage.name, starts, due, tuple(steps), others)


def what_if_timeline(
    policy: Policy, starts: datetime, calendar: WorkingCalendar, first_stage: int = 1
) -> list[StageWindow]:
    """Every stage from ``first_stage`` on, each starting when the one before it lapses.

    That is the default path: where a stage has routes, the one its lapse takes (the others are
    named on the window, ``alternatives``); a stage only another route leads to is not on it.
    The engine follows the same ``Policy.next_stage_number``."""
    windows: list[StageWindow] = []
    moment = calendar.local(starts)
    numbers = {stage.number for stage in policy.stages}
    number = first_stage
    while number in numbers:
        stage = policy.stage(number)
        window = stage_window(stage, moment, calendar)
        windows.append(window)
        moment = window.due
        if number == policy.final_stage.number:
            break
        number = policy.next_stage_number(stage)
    return windows


def timeline_as_json(policy: Policy, windows: list[StageWindow]) -> dict[str, object]:
    return {
        "policy": policy.id,
        "stages": [
            {
                "number": w.number,
                "name": w.name,
                "starts": w.starts.isoformat(),
                "due": w.due.isoformat(),
                "allowance": policy.stage(w.number).time_allowed.model_dump(mode="json"),
                "steps": [
                    {
                        "id": s.id,
                        "name": s.name,
                        "owner_role": s.owner_role,
                        "starts": s.starts.isoformat(),
                        "due": s.due.isoformat(),
                        **({"when": s.when} if s.when else {}),
                        **({"counted_from": s.counted_from} if s.counted_from else {}),
                        **({} if s.default_path else {"default_path": False}),
                    }
                    for s in w.steps
                ],
                **(
                    {"alternatives": [{"label": label, "stage": n} for label, n in
                                      w.alternatives]}
                    if w.alternatives
                    else {}
                ),
            }
            for w in windows
        ],
    }
