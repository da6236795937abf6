"""One command's working state: the case being changed, what happened, and who must hear of it.

Handlers describe a transition by calling these helpers; the engine then saves the case, its events,
its outbox and its deadlines in one atomic write. Keeping the helpers here keeps every handler a
few readable lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dialogs import messages, texts
from dialogs.cards import Card
from dialogs.case import Case, ChildDetails, Participant, Side, StageSpan, StepState
from dialogs.case_forms import case_document
from dialogs.directory import Person
from dialogs.documents import FormDocument
from dialogs.events import Event, EventType
from dialogs.forms import form_values
from dialogs.notifications import ChildDataInChannel, Notification, Recipient
from dialogs.routing import find_holders, joining_roles
from policy.calendar import WorkingCalendar
from policy.config import Partnership
from policy.model import (
    CopySide,
    FilingMoment,
    Form,
    HolderMode,
    LetterTo,
    OutcomeRelation,
    Policy,
    Prompt,
    Stage,
    Step,
    StepStart,
    due_after,
)

_SENTINEL_CHILD = ChildDetails(name="\u2063child\u2063", identifiers="\u2063id\u2063")


@dataclass
class Turn:
    case: Case
    policy: Policy
    partnership: Partnership
    calendar: WorkingCalendar
    now: datetime
    actor: str
    people: dict[str, Person]
    agency_names: dict[str, str]
    partnership_webhooks: list[str] = field(default_factory=list)
    platform: str = ""  # where the command came from, said on every event it emits
    events: list[Event] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    reply: str = ""

    # ---- history -------------------------------------------------------------------------
    def emit(self, kind: EventType, summary: str, **data: str) -> None:
        self.events.append(
            Event(
                case_id=self.case.id,
                at=self.now,
                type=kind,
                actor=self.actor,
                stage=self.case.stage,
                summary=summary,
                data=data,
                platform=self.platform,
            )
        )

    # ---- who is who ----------------------------------------------------------------------
    @property
    def stage(self) -> Stage:
        return self.policy.stage(self.case.stage)

    def role_names(self, role_ids: list[str]) -> str:
        return " or ".join(self.policy.role(r).name for r in role_ids)

    def business_team(self) -> list[Person]:
        role = self.policy.business_team_role
        return [
            p
            for p in self.people.values()
            if p.role == role and p.partnership_id == self.case.partnership_id
        ]

    def is_business_team(self, email: str) -> bool:
        return any(p.email == email for p in self.business_team())

    # ---- telling people ------------------------------------------------------------------
    def _key(self, kind: str, recipient: Recipient) -> str:
        # The new version makes the key unique per transition, so a retry of the same transition
        # (which the version fence turns into a no-op) can never produce a second message.
        version = self.case.version + 1
        return f"{self.case.id}:v{version}:{kind}:{recipient.kind.value}:{recipient.address}"

    def _queue(
        self,
        kind: str,
        recipient: Recipient,
        card: Card,
        urgent: bool,
        documents: list[FormDocument] | None = None,
        flagged: bool = False,
    ) -> None:
        # A child at immediate risk is not kept waiting for office hours; what is ``flagged`` is
        # also marked urgent to its reader, and is never held back.
        urgent = urgent or flagged or self.case.immediate_risk
        deliver_at = self.now if urgent else self.calendar.next_working_time(self.now)
        key = self._key(kind, recipient)
        if any(n.key == key for n in self.notifications):
            return
        self.notifications.append(
            Notification(
                key=key,
                case_id=self.case.id,
                recipient=recipient,
                card=card,
                deliver_at=deliver_at,
                kind=kind,
                reference=self.case.reference,
                stage=self.case.stage,
                documents=documents or [],
                urgent=flagged,
            )
        )
        # Machines are not kept waiting for office hours: webhook copies go at once, one outbox
        # row per receiver so each one retries on its own.
        for hook in self.partnership_webhooks:
            self.notifications.append(
                Notification(
                    key=f"{key}:webhook:{hook}",
                    case_id=self.case.id,
                    recipient=Recipient.webhook(hook),
                    card=card,
                    deliver_at=self.now,
                    kind=kind,
                    reference=self.case.reference,
                    stage=self.case.stage,
                    copy_of=recipient,
                    urgent=flagged,
                )
            )

    def tell_person(
        self,
        email: str,
        kind: str,
        card: Card,
        *,
        urgent: bool = False,
        documents: list[FormDocument] | None = None,
        flagged: bool = False,
    ) -> None:
        """1:1 message; the actor's own confirmations go at once, others in working time.
        ``flagged``: marked urgent to the reader and sent at once, at any hour. A card about
        this case keeps only the buttons its reader may press."""
        if card.case_id == self.case.id and card.actions:
            card = messages.for_viewer(card, self.case, self.policy, self.people, email)
        self._queue(
            kind, Recipient.person(email), card, urgent or email == self.actor, documents,
            flagged,
        )

    def party_card(self, headline: str, *, with_actions: bool = True, text: str = "") -> Card:
        return messages.party_card(
            self.case,
            self.policy,
            self.calendar,
            headline,
            self.agency_names,
            with_actions=with_actions,
            text=text,
        )

    def tell_parties(self, kind: str, headline: str, *, except_: set[str] | None = None) -> None:
        card: Card | None = None  # the same for every party (drawn once: a lapse tells four)
        for person in self.case.active_participants():
            if except_ and person.email in except_:
                continue
            card = card or self.party_card(headline)
            self.tell_person(person.email, kind, card)

    def tell_outcome_copies(self, kind: str, headline: str) -> None:
        """The outcome to whoever the pack names besides the parties, once each: the first
        raiser's line manager, say, when the case closed before line managers joined it."""
        raiser = next((p for p in self.case.participants if p.side is Side.RAISING), None)
        for copy in self.policy.outcome_also_to:
            if copy.relation is OutcomeRelation.RAISERS_LINE_MANAGER and raiser is not None:
                person = self.people.get(raiser.email)
                manager = person.line_manager if person else None
                if manager and not self.case.is_party(manager) and manager in self.people:
                    card = self.party_card(headline, with_actions=False)
                    self.tell_person(manager, kind, card)

    def tell_channel(
        self, kind: str, destination: str, headline: str, text: str = "", *, flagged: bool = False
    ) -> None:
        card = self._channel_card(self.case, headline, text)
        # The guard is exact rather than a text search: the card must come out identical when the
        # child's details are swapped for a sentinel, i.e. nothing in it depends on them. (A text
        # search misfires on a family called "Key" at St Helens' "Key partner" stage.)
        stand_in = self.case.model_copy(update={"child": _SENTINEL_CHILD})
        if card != self._channel_card(stand_in, headline, text):
            raise ChildDataInChannel(f"channel card for {self.case.reference} holds child data")
        self._queue(kind, Recipient.channel(destination), card, urgent=False, flagged=flagged)

    def _channel_card(self, case: Case, headline: str, text: str = "") -> Card:
        card = messages.channel_card(case, self.policy, self.calendar, headline, self.agency_names)
        return card.model_copy(update={"text": text}) if text else card

    def tell_business_team(
        self, kind: str, headline: str, text: str = "", *, flagged: bool = False
    ) -> None:
        """``text`` is pack text only (never a person's words): it goes to a shared channel."""
        self.tell_channel(
            kind, self.partnership.alerts.business_team, headline, text, flagged=flagged
        )

    def tell_stage_channel(self, kind: str, headline: str) -> None:
        destination = self.partnership.alerts.stages.get(self.case.stage)
        if destination:
            self.tell_channel(kind, destination, headline)

    def file_forms(self, moment: FilingMoment, stage_number: int | None = None) -> None:
        """File the forms the pack says go out at ``moment`` of a stage (default: the current
        one). Without a ``files`` rule the stage keeps the old default: its notification form
        when it starts, its recording form and the on-resolution forms when the case closes."""
        number = stage_number or self.case.stage
        stage = self.policy.stage(number)
        if stage.files is not None:
            forms = [f.form for f in stage.files if moment in f.when]
        elif moment is FilingMoment.STARTED:
            forms = [stage.notification_form] if stage.notification_form else []
        elif moment in (FilingMoment.RESOLVED, FilingMoment.DECIDED):
            forms = [
                f.id
                for f in self.policy.forms
                if f.on_resolution or f.id == stage.recording.form
            ]
        else:
            forms = []
        for form_id in dict.fromkeys(forms):
            self.send_form(form_id, number)

    def _filled(self, form: Form, stage: int | None) -> tuple[Card, FormDocument]:
        """One of the partnership's forms filled from the case as it stands: the card that
        carries it and the document (DOCX/PDF) attached to it."""
        values = form_values(
            form, self.case, self.calendar, self.now, self.agency_names, stage, self.policy
        )
        card = messages.form_card(form, values, self.case, stage)
        document = case_document(
            form,
            self.case,
            partnership=self.partnership.name,
            stage=stage,
            calendar=self.calendar,
            now=self.now,
            agency_names=self.agency_names,
            policy=self.policy,
            values=values,
        )
        return card, document

    def send_form(self, form_id: str, stage: int | None) -> None:
        """File a filled-in form with each copy recipient the stage names.

        A role named for copies means that role *in the agencies involved* ("your own agency's
        Head of Safeguarding"), or across the partnership for partnership-level roles. A form
        the stage names nobody for goes to the business team, never nowhere."""
        form = self.policy.form(form_id)
        card, document = self._filled(form, stage)
        kind = f"form-{form.id}"
        sides = {
            CopySide.RAISING: {self.case.raising_agency},
            CopySide.RECEIVING: {self.case.receiving_agency},
        }
        sent = False
        for copy in self.policy.stage(stage or self.case.stage).copies_to:
            involved = (
                sides[copy.side] if copy.side else {p.agency for p in self.case.participants}
            )
            if copy.mailbox:
                self._queue(
                    kind, Recipient.mailbox(copy.mailbox), card, urgent=False,
                    documents=[document],
                )
                sent = True
            elif copy.role:
                partnership_wide = self.policy.role(copy.role).tier == 0
                for person in self.people.values():
                    if (
                        person.role == copy.role
                        and person.partnership_id == self.case.partnership_id
                        and (partnership_wide or person.agency in involved)
                    ):
                        self.tell_person(person.email, kind, card, documents=[document])
                        sent = True
        if not sent:
            for person in self.business_team():
                self.tell_person(person.email, kind, card, documents=[document])

    # ---- moving through the procedure ----------------------------------------------------
    def add_participant(self, person: Person, side: Side, stage: int) -> bool:
        if self.case.participant(person.email) is not None:
            return False
        self.case.participants = [
            *self.case.participants,
            Participant(
                email=person.email,
                name=person.name,
                agency=person.agency,
                role=person.role,
                side=side,
                stage=stage,
            ),
        ]
        return True

    def bring_in(self, role_ids: list[str], *, all_of: bool = False) -> list[Person]:
        """Add whoever holds these roles for each side; ask for names where nobody is known.
        ``all_of``: every one of the roles, not the first found (a stage's ``holders: all``)."""
        joined: list[Person] = []
        holders, gaps = find_holders(
            self.case, self.policy, role_ids, self.people, all_of=all_of
        )
        for person, side in holders:
            if self.add_participant(person, side, self.case.stage):
                joined.append(person)
        for gap in gaps:
            self.report_gap(gap.role, gap.agency)
        return joined

    def report_gap(self, role_id: str, agency_id: str) -> None:
        role_def = self.policy.role(role_id)
        role = role_def.name
        agency = self.agency_names.get(agency_id, agency_id)
        self.emit(EventType.TIER_EMPTY, f"nobody known as {role} for {agency}", role=role_id)
        ask = texts.ASK_FOR_NAME.format(
            reference=self.case.reference, role=role, agency=agency, stage=self.case.stage
        )
        # what the role is, in the pack's words, so the raiser knows whom to bring in
        about = role_def.description.strip()
        self.tell_person(
            self.case.raised_by,
            f"tier-empty-{role_id}-{agency_id}",
            self.party_card(
                ask, with_actions=False,
                text=texts.ROLE_IS.format(role=role, description=about) if about else "",
            ),
        )
        self.tell_business_team(
            f"tier-empty-{role_id}-{agency_id}",
            texts.CHANNEL_TIER_EMPTY.format(
                reference=self.case.reference, role=role, agency=agency
            ),
        )

    def step_headline(self, step: Step) -> str:
        """What a step's owner is told when it starts: for an ``immediately`` step, the due time
        and the allowance too, since it may be minutes away."""
        state = self.case.step(step.id)
        if step.prompt is not Prompt.IMMEDIATELY or state is None:
            return texts.STEP_YOURS.format(reference=self.case.reference, step=step.name)
        allowed = step.time_allowed
        return texts.STEP_NOW.format(
            reference=self.case.reference,
            step=step.name,
            due=messages.when(state.due_at, self.calendar),
            within=texts.allowance_words(allowed.amount, allowed.unit.value),
        )

    def prompt_step(self, step: Step, joined: list[Person]) -> None:
        """Prompt the owners a step brought in. An ``immediately`` step prompts every owner on
        the case, flagged urgent and at once, at any hour (the pack's "acknowledge
        immediately"), under its own kind so no other prompt of the turn can displace it."""
        if step.prompt is not Prompt.IMMEDIATELY:
            for person in joined:
                card = self.party_card(self.step_headline(step))
                self.tell_person(person.email, "step-prompt", card)
            return
        owners = [p.email for p in joined] + [
            p.email for p in self.case.active_participants() if p.role == step.owner_role
        ]
        card = self.party_card(self.step_headline(step))
        for email in dict.fromkeys(owners):
            self.tell_person(email, f"step-now-{step.id}", card, flagged=True)

    def start_step(self, step: Step, at: datetime) -> None:
        due = due_after(self.counted_from(step, at), step.time_allowed, self.calendar)
        others = [s for s in self.case.steps if s.id != step.id]
        self.case.steps = [*others, StepState(id=step.id, started_at=at, due_at=due)]
        self.emit(EventType.STEP_STARTED, f"step '{step.name}' started", step=step.id)

    def counted_from(self, step: Step, at: datetime) -> datetime:
        """Where a step's allowance is counted from: the end of the step its ``counted_from``
        names ("within 2 days of the decision"), as the timeline counts it; its own start when
        that step has not ended (it ran on another branch, or not yet)."""
        if step.counted_from is None:
            return at
        earlier = self.case.step(step.counted_from)
        return earlier.ended_at if earlier is not None and earlier.ended_at else at

    def skip_step(self, step: Step, at: datetime, because: str) -> None:
        """A conditional step on the branch not taken: kept on the case as skipped, so the card
        and the record say it will not run, and no deadline is ever derived from it."""
        others = [s for s in self.case.steps if s.id != step.id]
        self.case.steps = [
            *others,
            StepState(
                id=step.id, started_at=at, due_at=at, skipped=True, skipped_because=because
            ),
        ]
        self.emit(EventType.STEP_SKIPPED, f"step '{step.name}' skipped: {because}", step=step.id)

    def send_letter(self, step: Step) -> None:
        """The outcome letter a done step produces: its form filled from the case, sent as
        documents 1:1 to each person the pack names (once each) and to its mailboxes. The file
        name and the card title carry the reference and the form's name, never the child."""
        letter = step.letter
        if letter is None:
            return
        card, document = self._filled(self.policy.form(letter.form), self.case.stage)
        kind = f"letter-{step.id}"
        for email in self.letter_recipients(letter.to):
            self.tell_person(email, kind, card, documents=[document])
        for mailbox in letter.mailboxes:
            self._queue(kind, Recipient.mailbox(mailbox), card, urgent=False,
                        documents=[document])

    def letter_recipients(self, targets: list[str]) -> list[str]:
        """Who ``to`` names, in the order named: parties by side, or a role among the parties,
        else that role in the agencies involved (partnership-wide for tier-0 roles)."""
        active = self.case.active_participants()
        found: list[str] = []
        for target in targets:
            if target == LetterTo.PARTIES:
                found += [p.email for p in active]
            elif target in (LetterTo.RAISING, LetterTo.RECEIVING):
                side = Side.RAISING if target == LetterTo.RAISING else Side.RECEIVING
                found += [p.email for p in active if p.side is side]
            else:
                on_case = [p.email for p in active if p.role == target]
                wide = self.policy.role(target).tier == 0
                agencies = {p.agency for p in self.case.participants}
                found += on_case or sorted(
                    p.email
                    for p in self.people.values()
                    if p.role == target
                    and p.partnership_id == self.case.partnership_id
                    and (wide or p.agency in agencies)
                )
        return list(dict.fromkeys(found))

    def end_stage(self, how: str, *, at: datetime | None = None) -> None:
        """Close the running stage's span (escalated, lapsed, resolved, decided, withdrawn)."""
        runs = self.case.stages_run
        if runs and runs[-1].ended_at is None:
            ended = runs[-1].model_copy(update={"ended_at": at or self.now, "ended_by": how})
            self.case.stages_run = [*runs[:-1], ended]

    def enter_stage(
        self,
        number: int,
        *,
        reason: str,
        channel_headline: str,
        tell_existing: bool = True,
        starts: datetime | None = None,
    ) -> list[Person]:
        """Move the case to stage ``number``, bring in its people and tell everyone.

        ``starts`` is when the stage began: now when a person escalates, but the lapsed due time
        when a deadline passed, so a stage processed late (after downtime) keeps its proper
        deadline and a long outage cascades through the stages exactly as the policy would."""
        stage = self.policy.stage(number)
        start = starts or self.now
        self.end_stage(reason, at=start)
        self.case.stage = number
        self.case.stage_started_at = start
        self.case.stage_due_at = due_after(start, stage.time_allowed, self.calendar)
        self.case.stages_run = [
            *self.case.stages_run,
            StageSpan(number=number, started_at=start, due_at=self.case.stage_due_at),
        ]
        self.case.steps = []
        self.case.acknowledged_by = []
        self.case.overdue_since = None
        self.case.last_overdue_alert = None
        for step in stage.steps:
            if step.starts is StepStart.WITH_STAGE:
                self.start_step(step, start)
        self.emit(EventType.STAGE_ENTERED, f"entered stage {number}: {reason}", reason=reason)
        joined = self.bring_in(joining_roles(stage), all_of=stage.holders is HolderMode.ALL)
        headline = texts.STAGE_PROMPT.format(
            reference=self.case.reference, stage=number, stage_name=stage.name
        )
        at_once = stage.prompt is Prompt.IMMEDIATELY
        holders: list[Participant] = []
        if at_once:
            # holders already on the case are prompted too, not only told it moved on
            headline = texts.STAGE_NOW.format(
                reference=self.case.reference, stage=number, stage_name=stage.name,
                due=messages.when(self.case.stage_due_at, self.calendar),
                within=texts.allowance_words(
                    stage.time_allowed.amount, stage.time_allowed.unit.value
                ),
            )
            holders = [p for p in self.case.active_participants() if p.role in stage.holder_roles]
        prompt = self.party_card(headline) if holders or joined else None  # one for them all
        for holder in holders:
            assert prompt is not None
            self.tell_person(holder.email, "stage-prompt", prompt, flagged=True)
        for person in joined:
            assert prompt is not None
            self.tell_person(person.email, "stage-prompt", prompt, flagged=at_once)
        for step in stage.steps:
            # A step's owner who holds no role at this stage joins when the step starts, prompted
            # with the step: otherwise nobody would be chased when it lapses. Brought in one
            # role at a time, since a stage's own holder roles are alternatives and this is not.
            if step.starts is not StepStart.WITH_STAGE:
                continue
            if step.owner_role not in stage.holder_roles:
                owners = self.bring_in([step.owner_role])
                self.prompt_step(step, owners)
                joined.extend(owners)
            elif step.prompt is Prompt.IMMEDIATELY:
                self.prompt_step(step, [])
        moved = texts.MOVED_ON.format(
            reference=self.case.reference, stage=number, stage_name=stage.name
        )
        if tell_existing:
            self.tell_parties("moved-on", moved, except_={p.email for p in joined})
        self.tell_stage_channel("stage-alert", channel_headline)
        # the data the procedure asks the partnership to collect when a case reaches this stage
        duties = "; ".join(
            f"{d.description} ({d.frequency}, to {d.recipient})" for d in stage.data_collection
        )
        self.tell_business_team(
            "business-alert", channel_headline,
            texts.DATA_DUTIES.format(duties=duties) if duties else "",
        )
        self.file_forms(FilingMoment.STARTED, number)
        return joined
