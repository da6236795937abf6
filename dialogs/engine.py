"""The case engine: takes a command, applies the transition table, saves atomically, returns what
to say. Platform adapters, the scheduler and the CLI all drive cases only through ``handle``."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from dialogs import texts
from dialogs.case import Case, ChildDetails, Participant, Side, status_words
from dialogs.commands import CaseCommand, Command, RaiseConcern
from dialogs.deadlines import deadlines_for
from dialogs.directory import Person
from dialogs.errors import (
    CaseNotFound,
    DomainError,
    IllegalTransition,
    InvalidInput,
    NotAllowed,
    StaleCase,
)
from dialogs.events import Event, EventType
from dialogs.notifications import Notification
from dialogs.ports import CaseExists, CaseSave, Clock, StaleVersion, Store
from dialogs.routing import raising_side_holders
from dialogs.transitions import Refusal, transition_for
from dialogs.turn import Turn
from dialogs.validation import check_fields, counterpart_problem, parse_boolean
from policy.calendar import WorkingCalendar
from policy.config import Config, Partnership
from policy.loader import PolicyRegistry
from policy.model import OutcomeRelation, Policy, due_after

log = logging.getLogger("escalation_bot.engine")


@dataclass(frozen=True)
class Outcome:
    case: Case | None
    reply: str
    events: list[Event] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.events)


@dataclass(frozen=True)
class Prepared:
    """A command decided but not yet written: ``save`` goes to the store (alone, or with others
    in ``Store.save_cases``), then ``Engine.saved`` finishes it. The scheduler decides a batch
    of lapses this way so the batch costs one write."""

    save: CaseSave
    outcome: Outcome


class Engine:
    def __init__(
        self, store: Store, clock: Clock, config: Config, policies: PolicyRegistry
    ) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.policies = policies
        self.agency_names = {a.id: a.name for a in config.agencies}
        self._snapshots: dict[tuple[str, str], Policy] = {}
        self._calendars: dict[tuple[str, str, str], WorkingCalendar] = {}
        # notifications this engine (or a conversation through it) has queued since it started:
        # the server starts a delivery tick after a turn only when this moved
        self.queued = 0
        self._watchers: list[Callable[[Case], None]] = []
        self._people_held: dict[str, dict[str, Person]] | None = None

    def watch(self, watcher: Callable[[Case], None]) -> None:
        """Call ``watcher`` with each case just saved, whatever changed it (a click or typed
        command on any platform, a deadline lapsing), in the thread that saved it. An adapter
        that keeps its own copies of a case (Slack's messages) redraws them from here, so a
        change made on one platform reaches the other's copies at once. It must be quick and
        must not raise; one that does is logged and the others still run."""
        self._watchers.append(watcher)

    # ---- lookups ---------------------------------------------------------------------------
    def partnership(self, partnership_id: str) -> Partnership:
        try:
            return self.config.partnership(partnership_id)
        except KeyError:
            raise DomainError(
                texts.UNKNOWN_PARTNERSHIP.format(partnership=partnership_id)
            ) from None

    def policy_for(self, case: Case) -> Policy:
        """The pack version frozen on the case when it was raised, whatever the packs say now."""
        key = (case.policy_id, case.policy_version)
        if key not in self._snapshots:
            snapshot = self.store.policy_snapshot(*key)
            if snapshot is None:
                raise DomainError(f"Policy {key[0]} version {key[1]} is missing from the store.")
            self._snapshots[key] = snapshot
        return self._snapshots[key]

    def calendar_for(self, partnership: Partnership, policy: Policy) -> WorkingCalendar:
        key = (partnership.id, policy.id, policy.version)
        if key not in self._calendars:
            self._calendars[key] = partnership.calendar(policy)
        return self._calendars[key]

    def queue(self, notifications: list[Notification]) -> None:
        """Queue notifications outside a case's write (the directory's requests), counted as
        ``queued`` counts those written with a case."""
        self.store.queue_notifications(notifications)
        self.queued += len(notifications)

    def people(self, partnership_id: str) -> dict[str, Person]:
        held = self._people_held
        if held is not None and partnership_id in held:
            return held[partnership_id]
        found = {p.email: p for p in self.store.people(partnership_id)}
        if held is not None:
            held[partnership_id] = found
        return found

    @contextmanager
    def one_directory_read(self) -> Iterator[None]:
        """Within the block each partnership's directory is read once, not once per command:
        the scheduler decides a batch of lapses in well under a second, and a directory read
        costs as much as the rest of a lapse. The batch sees the directory as it was when the
        batch began, as if it had fired that moment earlier."""
        self._people_held = {}
        try:
            yield
        finally:
            self._people_held = None

    def can_view(self, case: Case, email: str) -> bool:
        """Parties, the business team, and the roles the policy names for the case's stages."""
        email = email.lower()
        if case.participant(email) is not None:
            return True
        person = self.store.person(email)
        if person is None or person.partnership_id != case.partnership_id:
            return False
        policy = self.policy_for(case)
        named = {policy.business_team_role}
        named.update(
            s.decision_by for s in policy.stages if s.decision_by and s.number <= case.stage
        )
        return person.role in named

    def view(self, case_ref: str, viewer: str) -> Case:
        case = self.store.get_case(case_ref) or self.store.find_case_by_reference(case_ref.upper())
        if case is None:
            raise CaseNotFound(_unknown_case(case_ref))
        if not self.can_view(case, viewer):
            # the same words as for a reference that does not exist: a refusal must not tell
            # someone outside the case that there is a case about a child under that reference
            raise NotAllowed(_unknown_case(case_ref))
        return case

    def history(self, case_ref: str, viewer: str) -> list[Event]:
        return self.store.history(self.view(case_ref, viewer).id)

    # ---- commands --------------------------------------------------------------------------
    def handle(self, command: Command) -> Outcome:
        if isinstance(command, RaiseConcern):
            return self._raise(command)
        decided = self.decide(command)
        if isinstance(decided, Outcome):
            return decided
        save = decided.save
        try:
            self.store.save_case(
                save.case, save.expected_version, save.events, save.notifications,
                save.deadlines,
            )
        except StaleVersion:
            raise self.stale(save.case) from None
        return self.saved(decided)

    def decide(self, command: Command, read: dict[str, Case] | None = None) -> Outcome | Prepared:
        """What a command on an existing case does, without writing it: an Outcome when nothing
        changes (or it is ignored), else the write to make. Raises as ``handle`` does.
        ``read``: cases already read (``Store.get_cases``); a case not in it is read here."""
        if isinstance(command, RaiseConcern):
            raise TypeError("a raise creates its case: use handle")
        case_id = getattr(command, "case_id", "")
        case = read.get(case_id) if read is not None else None
        if case is None:
            case = self.store.get_case(case_id)
        if case is None:
            raise CaseNotFound(_unknown_case(case_id))
        if isinstance(command, CaseCommand) and not self.can_view(case, command.actor):
            raise NotAllowed(_unknown_case(case_id))  # as if it did not exist: see ``view``
        transition = transition_for(case.status, command)
        if transition is Refusal.IGNORE:
            return Outcome(case, "")
        if transition is Refusal.CLOSED:
            raise IllegalTransition(
                texts.CLOSED.format(reference=case.reference, status=status_words(case))
            )
        if (
            isinstance(command, CaseCommand)
            and command.expected_version is not None
            and command.expected_version != case.version
        ):
            raise StaleCase(stale_message(case))
        # the turn works on its own copy; rebuilt from a dump, five times quicker than deepcopy
        turn = self._turn(Case.model_validate(case.model_dump()), command.actor, command.platform)
        transition(turn, command)
        if not turn.events:
            return Outcome(case, turn.reply)
        return self._prepare(turn, expected_version=case.version)

    def stale(self, case: Case) -> StaleCase:
        """The refusal for a write that lost to another: worded from the case as it now is."""
        current = self.store.get_case(case.id) or case
        return StaleCase(stale_message(current))

    def saved(self, prepared: Prepared) -> Outcome:
        """Finish a write the store accepted: count what it queued, tell the watchers."""
        self.queued += len(prepared.outcome.notifications)
        case = prepared.save.case
        for watcher in self._watchers:
            try:
                watcher(case)
            except Exception as exc:  # the case is saved: a watcher's fault must not undo that
                log.warning("a case watcher failed: %s", type(exc).__name__)
        return prepared.outcome

    def _turn(self, case: Case, actor: str, platform: str = "") -> Turn:
        partnership = self.partnership(case.partnership_id)
        policy = self.policy_for(case)
        return Turn(
            case=case,
            policy=policy,
            partnership=partnership,
            calendar=self.calendar_for(partnership, policy),
            now=self.clock.now(),
            actor=actor.lower(),
            people=self.people(case.partnership_id),
            agency_names=self.agency_names,
            partnership_webhooks=[w.id for w in self.config.webhooks_for(case.partnership_id)],
            platform=platform,
        )

    def _prepare(self, turn: Turn, *, expected_version: int) -> Prepared:
        case = turn.case.model_copy(update={"version": expected_version + 1})
        # Cards were drawn while the case was still at the old version; they must carry the new
        # one, or the first click on any of them would be refused as stale.
        notifications = [
            n.model_copy(update={"card": n.card.model_copy(update={"case_version": case.version})})
            if n.card.case_id == case.id and n.card.case_version is not None
            else n
            for n in turn.notifications
        ]
        deadlines = deadlines_for(case, turn.policy, turn.calendar)
        return Prepared(
            CaseSave(case, expected_version, turn.events, notifications, deadlines),
            Outcome(case, turn.reply, turn.events, notifications),
        )

    def _create(self, turn: Turn) -> Outcome:
        prepared = self._prepare(turn, expected_version=0)
        save = prepared.save
        self.store.create_case(save.case, save.events, save.notifications, save.deadlines)
        return self.saved(prepared)

    def _raise(self, command: RaiseConcern) -> Outcome:
        partnership = self.partnership(command.partnership_id)
        actor = command.actor.lower()
        case_id = _case_id(partnership.id, actor, command.request_key)
        if command.request_key:
            earlier = self.store.get_case(case_id)
            if earlier is not None:
                return _already_raised(earlier)
        policy = self.policies.get(partnership.policy)
        calendar = self.calendar_for(partnership, policy)
        now = self.clock.now()
        people = self.people(partnership.id)
        raiser = people.get(actor)
        if raiser is None:
            raise NotAllowed(texts.NOT_IN_DIRECTORY.format(email=actor))
        answers = dict(command.answers)
        counterpart = people.get(answers.get("counterpart", "").strip().lower())
        if counterpart is not None and not answers.get("counterpart_agency", "").strip():
            answers["counterpart_agency"] = counterpart.agency_name
        clean, errors = check_fields(policy.intake, answers, calendar.local(now).date(), people)
        problem = counterpart_problem(counterpart, raiser, actor)
        if problem:
            errors["counterpart"] = problem
        errors.update(_pathway_errors(policy, command.pathway_choice))
        errors.update(_start_stage_errors(policy, command.start_stage, clean))
        if errors:
            raise InvalidInput(errors, {f.id: f.label for f in policy.intake})
        assert counterpart is not None  # check_fields verified it is in the directory
        sequence = self.store.next_sequence(f"case-reference:{partnership.id}")
        stage_one = policy.stage(1)
        case = Case(
            id=case_id,
            reference=f"{partnership.reference_prefix}-{sequence:04d}",
            partnership_id=partnership.id,
            policy_id=policy.id,
            policy_version=policy.version,
            raised_at=now,
            raised_by=actor,
            raising_agency=raiser.agency,
            receiving_agency=counterpart.agency,
            participants=[
                _participant(raiser, Side.RAISING),
                _participant(counterpart, Side.RECEIVING),
            ],
            child=ChildDetails(
                name=clean["child_name"],
                date_of_birth=clean.get("child_dob") or None,
                identifiers=clean.get("child_identifiers", ""),
            ),
            summary=clean["summary"],
            impact_on_child=clean["impact_on_child"],
            reason=clean["reason"],
            outcome_sought=clean["outcome_sought"],
            immediate_risk=clean["immediate_risk"] == "yes",
            answers={k: v for k, v in clean.items() if k not in _CORE_CASE_FIELDS},
            stage=1,
            stage_started_at=now,
            stage_due_at=due_after(now, stage_one.time_allowed, calendar),
        )
        turn = Turn(
            case,
            policy,
            partnership,
            calendar,
            now,
            actor,
            people,
            self.agency_names,
            partnership_webhooks=[w.id for w in self.config.webhooks_for(partnership.id)],
            platform=command.platform,
        )
        first = _first_stage(policy, command.start_stage, at_risk=case.immediate_risk)
        turn.emit(
            EventType.CONCERN_RAISED,
            f"raised by {actor} with {counterpart.email}",
            start_stage=str(first),
        )
        stage = policy.stage(first)
        headline = texts.CHANNEL_RAISED.format(reference=case.reference, stage=stage.number)
        turn.enter_stage(
            stage.number, reason="concern raised", channel_headline=headline, tell_existing=False
        )
        ping = texts.RAISED_FOR_COUNTERPART.format(
            raiser=raiser.name, agency=self.agency_names.get(raiser.agency, raiser.agency)
        )
        turn.tell_person(counterpart.email, "raised-counterpart", turn.party_card(ping))
        # say what is true now: a message held for working hours has not reached them yet
        ping_note = next(n for n in turn.notifications if n.kind == "raised-counterpart")
        when = texts.TOLD_NOW if ping_note.deliver_at <= now else texts.TOLD_LATER.format(
            at=calendar.local(ping_note.deliver_at).strftime("%H:%M on %a %-d %b")
        )
        confirm = texts.RAISED_CONFIRM.format(
            reference=case.reference, counterpart=counterpart.name, when=when
        )
        do_now = _tell_at_once(turn, raiser) if case.immediate_risk else ""
        turn.tell_person(actor, "raised-confirm", turn.party_card(confirm, text=do_now))
        turn.reply = f"{confirm}\n{do_now}" if do_now else confirm
        self.store.save_policy_snapshot(policy)
        try:
            return self._create(turn)
        except CaseExists:
            # the same intake sent at the same moment through another replica: it won the id
            earlier = self.store.get_case(case_id) if command.request_key else None
            if earlier is None:
                raise
            return _already_raised(earlier)


# Case ids of keyed raises are derived from the key, so the store's unique id is the guard.
_RAISE_IDS = uuid.UUID("0b7f3c52-5d0e-4c1e-9a55-2f3c8f1d6a10")


def _case_id(partnership_id: str, actor: str, request_key: str | None) -> str:
    if not request_key:
        return uuid.uuid4().hex
    return uuid.uuid5(_RAISE_IDS, f"{partnership_id}\n{actor}\n{request_key}").hex


def _already_raised(case: Case) -> Outcome:
    return Outcome(case, texts.ALREADY_RAISED.format(reference=case.reference))


_CORE_CASE_FIELDS = {
    "child_name",
    "child_dob",
    "child_identifiers",
    "summary",
    "impact_on_child",
    "reason",
    "outcome_sought",
    "immediate_risk",
    "counterpart",
}


def _participant(person: Person, side: Side) -> Participant:
    return Participant(
        email=person.email,
        name=person.name,
        agency=person.agency,
        role=person.role,
        side=side,
        stage=1,
    )


def _pathway_errors(policy: Policy, choice: str | None) -> dict[str, str]:
    if policy.pathway is None:
        return {}
    options = {o.id: o for o in policy.pathway.options}
    option = options.get(choice or "")
    if option is None:
        labels = ", ".join(o.label for o in policy.pathway.options)
        return {"pathway": texts.PATHWAY_REQUIRED.format(options=labels)}
    if not option.continues_to_procedure:
        return {"pathway": texts.PATHWAY_SIGNPOST.format(signpost=option.signpost)}
    return {}


def _first_stage(policy: Policy, asked: int, *, at_risk: bool) -> int:
    """Where the case starts. 1 is what every intake sends when nobody chose a stage; a child
    at immediate risk then starts where the pack says (NSSCP: line management, never the peer
    discussion its guidance says to skip). A stage asked for has passed _start_stage_errors."""
    if asked != 1:
        return asked
    return policy.immediate_risk.start_stage if at_risk else 1


def _tell_at_once(turn: Turn, raiser: Person) -> str:
    """Tell whom the pack names, now, at any hour, flagged urgent; return what the raiser is
    shown: what to do now, and who has been told."""
    risk = turn.policy.immediate_risk
    told: list[Person] = []
    for contact in risk.tell:
        if contact.relation is OutcomeRelation.RAISERS_LINE_MANAGER:
            manager = turn.people.get(raiser.line_manager or "")
            found = [manager] if manager is not None else []
            who = "line manager"
        else:
            assert contact.role is not None  # the model allows exactly one of the two
            found = raising_side_holders(turn.case, turn.policy, contact.role, turn.people)
            who = turn.policy.role(contact.role).name
        if not found:
            turn.tell_business_team(
                "immediate-risk-nobody",
                texts.CHANNEL_RISK_NOBODY.format(reference=turn.case.reference, who=who),
                flagged=True,
            )
        told += [p for p in found if p.email != raiser.email and p not in told]
    headline = texts.RISK_URGENT.format(
        raiser=raiser.name,
        agency=turn.agency_names.get(raiser.agency, raiser.agency),
        reference=turn.case.reference,
    )
    text = texts.RISK_URGENT_TEXT.format(action=risk.action)
    for person in told:
        card = turn.party_card(headline, with_actions=False, text=text)
        turn.tell_person(person.email, "immediate-risk", card, flagged=True)
    if told:
        turn.emit(
            EventType.IMMEDIATE_RISK_TOLD,
            f"told at once: {', '.join(p.email for p in told)}",
        )
    lines = [texts.RISK_DO_NOW.format(action=risk.action)]
    if told:
        lines.append(texts.RISK_TOLD.format(names=", ".join(p.name for p in told)))
    elif risk.tell:
        lines.append(texts.RISK_NOBODY_TOLD)
    return "\n".join(lines)


def _start_stage_errors(
    policy: Policy, start_stage: int, answers: dict[str, str]
) -> dict[str, str]:
    if start_stage == 1:
        return {}
    risk = policy.immediate_risk
    try:
        at_risk = parse_boolean(answers.get("immediate_risk", "no"))
    except ValueError:
        at_risk = False
    if at_risk and start_stage == risk.start_stage:
        return {}
    if not risk.allows_later_start and (not at_risk or risk.start_stage == 1):
        if risk.start_stage != 1:
            return {"start_stage": texts.LATER_START_NEEDS_RISK}
        return {"start_stage": texts.LATER_START_NOT_ALLOWED.format(action=risk.action)}
    if not at_risk:
        return {"start_stage": texts.LATER_START_NEEDS_RISK}
    if not risk.allows_later_start:
        return {
            "start_stage": texts.AT_RISK_STARTS_AT.format(
                start=risk.start_stage, asked=start_stage, action=risk.action
            )
        }
    if start_stage not in risk.allowed_start_stages:
        allowed = ", ".join(str(n) for n in risk.allowed_start_stages)
        return {"start_stage": texts.LATER_START_STAGE.format(allowed=allowed, asked=start_stage)}
    return {}


_REFERENCE = re.compile(r"^[A-Za-z]{2,6}-\d+$")


def _unknown_case(asked: str) -> str:
    """Echo what the person typed if it is a reference; an internal id (from a card) is not
    for people to read."""
    if _REFERENCE.match(asked.strip()):
        return texts.CASE_NOT_FOUND.format(case=asked.strip().upper())
    return texts.CASE_NOT_KNOWN


def stale_message(case: Case) -> str:
    """What a person is told when their card is older than the case."""
    return texts.STALE.format(
        reference=case.reference, stage=case.stage, status=status_words(case)
    )
