"""`escalation-bot demo`: one scripted case through the real engine, SQLite store and scheduler
loop, on a simulated clock, printing what every person and channel would see.

It is also the quickest way for a safeguarding lead to watch their procedure run before trusting
it: raise -> counterpart pinged -> no agreement -> managers prompted -> a deadline lapses ->
automatic escalation and business-team alert -> a stage record with agreed actions -> resolution.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from adapters.console.render import ConsoleNotifier
from bot.bootstrap import App, bootstrap
from bot.settings import Settings
from dialogs.case import Case
from dialogs.clock import SimulatedClock
from dialogs.commands import (
    Acknowledge,
    ActionInput,
    Command,
    Escalate,
    RaiseConcern,
    RecordDecision,
    RecordDiscussion,
    RecordInput,
    Resolve,
)
from dialogs.directory import Person
from dialogs.errors import DomainError
from dialogs.messages import resolution_fields
from policy.config import Partnership
from policy.model import FieldKind, FormField, Policy
from scheduler.runner import deliver_due_notifications, fire_due_deadlines

# A Monday morning well clear of public holidays, so the printed dates are easy to follow.
DEMO_START = "2027-02-01T10:00"


@dataclass
class Cast:
    raiser: Person
    counterpart: Person


def demo_answers(policy: Policy, counterpart: Person) -> dict[str, str]:
    """Invented intake answers that satisfy any pack's questions."""
    fixed = {
        "counterpart": counterpart.email,
        "immediate_risk": "no",
        "child_name": "Jamie Example",
        "child_dob": "12/04/2016",
        "child_identifiers": "ICS 000000 (demo)",
        "summary": "We disagree about whether the family needs a child in need assessment now.",
        "impact_on_child": "Jamie is missing school and the support plan has stalled.",
        "outcome_sought": "A joint assessment started within two weeks.",
    }
    return {f.id: fixed.get(f.id) or _filler(f) for f in policy.intake if f.computed is None}


def _filler(field: FormField) -> str:
    if field.kind in {FieldKind.CHOICE, FieldKind.MULTI_CHOICE}:
        return field.choices[0].id
    if field.kind is FieldKind.NUMBER:
        return "1"
    if field.kind is FieldKind.BOOLEAN:
        return "no"
    if field.kind is FieldKind.DATE:
        return "01/02/2027"
    if field.required:
        return "Demo answer"
    return ""


def outcome_answers(policy: Policy) -> dict[str, str]:
    return {f.id: _filler(f) or "Clear roles helped." for f in resolution_fields(policy)}


class Demo:
    def __init__(self, app: App, clock: SimulatedClock, partnership: Partnership) -> None:
        self.app, self.clock, self.partnership = app, clock, partnership
        self.policy = app.policies.get(partnership.policy)
        self.notifier = ConsoleNotifier()
        self.calendar = partnership.calendar(self.policy)

    def banner(self, text: str) -> None:
        local = self.calendar.local(self.clock.now()).strftime("%a %d %b %Y %H:%M")
        print(f"\n=== {local} | {text}", flush=True)

    def deliver(self) -> None:
        asyncio.run(deliver_due_notifications(self.app.store, self.notifier, self.clock))

    def do(self, title: str, command: Command) -> Case:
        self.banner(title)
        try:
            outcome = self.app.engine.handle(command)
        except DomainError as exc:
            print(f"  bot says: {exc.message}")
            raise
        print(f"  bot says: {outcome.reply}")
        self.deliver()
        assert outcome.case is not None
        return outcome.case

    def refused(self, title: str, command: Command) -> None:
        self.banner(title)
        try:
            self.app.engine.handle(command)
        except DomainError as exc:
            print(f"  bot says: {exc.message}")
        else:
            raise AssertionError("the demo expected this to be refused")

    def advance_to(self, moment: datetime, why: str) -> None:
        self.clock.set(moment)
        self.banner(why)
        result = fire_due_deadlines(self.app.store, self.app.engine, self.clock, "demo")
        print(f"  scheduler: {result.fired} deadline(s) fired")
        self.deliver()

    def case(self, case_id: str) -> Case:
        found = self.app.store.get_case(case_id)
        assert found is not None
        return found

    def run(self) -> None:
        people = self.app.engine.people(self.partnership.id)
        raiser, counterpart = _practitioners(people, self.partnership, self.app)
        print(f"Demo: {self.policy.name}, for {self.partnership.name} (fictional)")
        case = self.do(
            f"{raiser.name} types /escalate",
            RaiseConcern(
                actor=raiser.email,
                partnership_id=self.partnership.id,
                answers=demo_answers(self.policy, counterpart),
                pathway_choice=_continuing_option(self.policy),
            ),
        )
        self.do(
            f"{counterpart.name} acknowledges",
            Acknowledge(actor=counterpart.email, case_id=case.id, expected_version=case.version),
        )
        case = self.case(case.id)
        while case.stage == 1 and case.is_open:
            case = self.do(
                f"{counterpart.name}: we cannot agree",
                Escalate(
                    actor=counterpart.email,
                    case_id=case.id,
                    expected_version=case.version,
                    unresolved="Whether an assessment is needed now.",
                ),
            )
        self.advance_to(
            case.stage_due_at + timedelta(minutes=1),
            f"nobody acts; stage {case.stage} deadline passes",
        )
        self.advance_to(
            self.calendar.next_working_time(self.clock.now()),
            "next working morning: alerts held overnight go out",
        )
        self.clock.advance(timedelta(hours=1))
        case = self.case(case.id)
        holder = case.current_holders(self.policy.stage(case.stage).holder_roles)[0]
        self.refused(
            f"{holder.name} tries to record an action due 'ASAP'",
            RecordDiscussion(
                actor=holder.email,
                case_id=case.id,
                expected_version=case.version,
                record=RecordInput(
                    summary="Met by phone.",
                    agreed_actions=[
                        ActionInput(description="Joint visit", owner=holder.name, due="ASAP")
                    ],
                ),
            ),
        )
        due = (self.calendar.local(self.clock.now()) + timedelta(days=7)).strftime("%d/%m/%Y")
        record = RecordInput(
            summary="Both agencies set out their views; the delay is harming Jamie's attendance.",
            agreed_actions=[
                ActionInput(
                    description="Joint home visit and assessment", owner=holder.name, due=due
                )
            ],
        )
        if case.stage == self.policy.final_stage.number and self.policy.final_stage.decision_by:
            decider = next(
                p
                for p in case.active_participants()
                if p.role == self.policy.final_stage.decision_by
            )
            self.do(
                f"{decider.name} records the partnership's decision",
                RecordDecision(
                    actor=decider.email,
                    case_id=case.id,
                    expected_version=case.version,
                    record=record,
                    decision="A joint assessment will start next week.",
                    outcome_answers=outcome_answers(self.policy),
                ),
            )
        else:
            self.do(
                f"{holder.name} records the agreed resolution",
                Resolve(
                    actor=holder.email,
                    case_id=case.id,
                    expected_version=case.version,
                    record=record,
                    outcome_answers=outcome_answers(self.policy),
                ),
            )
        self.banner(f"history of {case.reference}")
        for event in self.app.store.history(case.id):
            local = self.calendar.local(event.at).strftime("%d %b %H:%M")
            print(f"  {local}  stage {event.stage}  {event.type.value}: {event.summary}")


def _continuing_option(policy: Policy) -> str | None:
    if policy.pathway is None:
        return None
    return next(o.id for o in policy.pathway.options if o.continues_to_procedure)


def _practitioners(
    people: dict[str, Person], partnership: Partnership, app: App
) -> tuple[Person, Person]:
    agencies = [a.id for a in app.config.agencies if a.partnership == partnership.id]
    policy = app.policies.get(partnership.policy)
    by_agency = [
        sorted(
            (p for p in people.values() if p.agency == a and p.role == policy.raiser_role),
            key=lambda p: p.email,
        )
        for a in agencies
    ]
    found = [group[0] for group in by_agency if group]
    if len(found) < 2:
        raise SystemExit("the demo needs a practitioner in each of two agencies in the config")
    return found[0], found[1]


def run_demo(policy_id: str) -> int:
    settings = Settings.from_env()
    with tempfile.TemporaryDirectory(prefix="escalation-demo-") as folder:
        clock = SimulatedClock(datetime.fromisoformat(DEMO_START + "+00:00"))
        app = bootstrap(
            settings.config_path, Path(folder) / "demo.sqlite3", clock, settings.extra_packs
        )
        try:
            partnership = next((p for p in app.config.partnerships if p.policy == policy_id), None)
            if partnership is None:
                known = ", ".join(sorted({p.policy for p in app.config.partnerships}))
                print(f"No configured partnership runs policy '{policy_id}'. Try one of: {known}")
                return 1
            Demo(app, clock, partnership).run()
        finally:
            app.close()
    return 0
