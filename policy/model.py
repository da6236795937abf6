"""A partnership's procedure as data.

Partnerships differ in stages, tiers and allowances, so nothing about a procedure is code: a pack
(YAML) is parsed into these frozen models and the engine only ever reads them. Every rule carries a
``cite`` so a safeguarding lead can check it against the document it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from policy.calendar import WorkingCalendar, region_problem, time_zone_problem
from policy.errors import IDENTIFIER_PATTERN
from policy.pack_checks import CORE_INTAKE_KINDS, cross_reference_problems

Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN, max_length=64)]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


class Frozen(BaseModel):
    """Base for every pack model: immutable, and unknown keys are errors (typos must not pass)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Citation(Frozen):
    """Where in the source procedure a rule comes from."""

    seed: Text = Field(
        description="File name of the source document, e.g. 001_9a127cc8a84eb14f.txt"
    )
    section: Text = Field(description="Heading or passage within it, e.g. 'Stage 2'")


class Scope(StrEnum):
    CHILDREN = "children"
    ADULTS_AT_RISK = "adults_at_risk"


CountryCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1),
    Field(description="A country code the holidays package knows: JE, GG, IM, IE, GB ..."),
]


class CalendarDefaults(Frozen):
    """The calendar a pack assumes when no partnership configuration overrides it."""

    country: CountryCode
    subdivision: str | None = Field(
        default=None,
        description="The country's subdivision code in the holidays package (GB: ENG, WLS, SCT"
        " or NIR, and then required); must be left out for a country without subdivisions",
    )
    time_zone: Text
    cite: Citation

    @model_validator(mode="after")
    def _region_is_known(self) -> CalendarDefaults:
        """Refused here, when the pack is checked, rather than when a partnership first uses the
        pack: the valid codes come from the holidays package, as the due dates do."""
        problem = region_problem(self.country, self.subdivision) or time_zone_problem(
            self.time_zone
        )
        if problem is not None:
            raise ValueError(f"{problem.field}: {problem.message}; fix: {problem.fix}")
        return self


class Role(Frozen):
    """A tier or role the procedure names (practitioner, first line manager, board chair ...)."""

    id: Identifier
    name: Text
    tier: int = Field(
        ge=0, description="0 = the partnership; 1 = practitioners; higher = more senior"
    )
    description: str = ""
    side: CopySide | None = Field(
        default=None,
        description="Only that side's agency holds this role in the case ('the receiving"
        " agency's duty manager'): it is never looked for in the other agency; default: either"
        " side",
    )


class HolderMode(StrEnum):
    """How a stage's holder_roles are read: alternatives in order of preference ("line manager
    or designated safeguarding lead"), or all of them together ("the practitioner and their
    team manager")."""

    ANY = "any"
    ALL = "all"


class RouteOption(Frozen):
    """One answer to a stage's route question, and the stage it leads to."""

    id: Identifier
    label: Text
    next_stage: int = Field(
        ge=2, description="The stage this answer leads to, with that stage's own allowance"
    )


class Routes(Frozen):
    """Alternative ways on from a stage, chosen by a named party answering a question (a joint
    adults and children protocol: "Is this urgent?" urgent: an independently chaired meeting;
    not urgent: the ordinary next tier)."""

    question: Text
    chosen_by_role: Identifier | None = Field(
        default=None, description="Only holders of this role may choose (and the business team)"
    )
    chosen_by_side: CopySide | None = Field(
        default=None, description="Only parties on this side may choose (and the business team)"
    )
    options: list[RouteOption] = Field(min_length=2)
    default: Identifier = Field(
        description="The option taken when the stage lapses with nobody choosing"
    )
    cite: Citation

    def option(self, option_id: str) -> RouteOption | None:
        return next((o for o in self.options if o.id == option_id), None)

    @property
    def default_option(self) -> RouteOption:
        found = self.option(self.default)
        if found is None:  # pack_checks refuses such a pack; a clear error if one slips through
            raise KeyError(f"route default '{self.default}' is not among the options")
        return found


class AllowanceUnit(StrEnum):
    """How an allowance is counted. Explicit, because "48 hours" means different things in
    different procedures: hours inside business hours, or hours on the clock."""

    WORKING_DAYS = "working_days"
    WORKING_HOURS = "working_hours"  # inside business hours on working days only
    ELAPSED_HOURS = "elapsed_hours"  # wall-clock hours, nights, weekends and holidays too


class Allowance(Frozen):
    """The time a stage or step allows, with its unit: ``{amount: 48, unit: working_hours}``.
    The same as ``allowance_working_days: N`` when the unit is working_days."""

    amount: int = Field(ge=0)
    unit: AllowanceUnit

    @property
    def in_hours(self) -> bool:
        return self.unit is not AllowanceUnit.WORKING_DAYS


class Prompt(StrEnum):
    """When the people a stage or step brings in are prompted."""

    WORKING_TIME = "working_time"  # at the next working time, as every other message
    IMMEDIATELY = "immediately"  # at once, at any hour, flagged urgent


def due_after(start: datetime, allowance: Allowance, calendar: WorkingCalendar) -> datetime:
    """When something started at ``start`` with ``allowance`` is due: the one function the
    engine and the timeline both use, so every due time the timeline prints is the one the
    engine keeps. The rules are in policy/calendar.py and README "Working days"."""
    if allowance.unit is AllowanceUnit.WORKING_HOURS:
        return calendar.add_working_hours(start, allowance.amount)
    if allowance.unit is AllowanceUnit.ELAPSED_HOURS:
        return calendar.add_elapsed_hours(start, allowance.amount)
    return calendar.due(start, allowance.amount)


def _time_allowed(days: int | None, allowance: Allowance | None) -> Allowance:
    if allowance is not None:
        return allowance
    if days is None:
        # the pack check refuses this; a model built in code without either fails here, loudly
        raise ValueError("give allowance_working_days or allowance")
    return Allowance(amount=days, unit=AllowanceUnit.WORKING_DAYS)


class StepStart(StrEnum):
    WITH_STAGE = "with_stage"
    AFTER_PREVIOUS = "after_previous"


class StepLapse(StrEnum):
    """What a lapsed step does: hand the stage to the next step's owners, or chase the owner."""

    ADVANCE = "advance"
    REMIND = "remind"


class StepOutcome(StrEnum):
    """The question a step asks when it is marked done, and its answers."""

    AGREED_OR_NOT = "agreed_or_not"  # "Agreed?" asked of whoever marks the step done


class StepCondition(StrEnum):
    """The outcome of the step a conditional step hangs on (``when``)."""

    AGREED = "agreed"
    NOT_AGREED = "not_agreed"


class LetterTo(StrEnum):
    """Who an outcome letter goes to, besides roles the pack names."""

    PARTIES = "parties"  # everyone on the case now
    RAISING = "raising"  # the raising agency's parties
    RECEIVING = "receiving"  # the receiving agency's parties


class StepLetter(Frozen):
    """An outcome letter or written confirmation a step produces when it is done (an LSCB's
    "the outcome is confirmed in writing to all parties"): a form of the pack, filled from the
    case and sent as documents 1:1 to the people named, and to mailboxes if any."""

    form: Identifier
    to: list[Identifier] = Field(
        min_length=1,
        description="parties, raising, receiving, or role ids (that role among the parties,"
        " else in the agencies involved, else partnership-wide for tier-0 roles)",
    )
    mailboxes: list[Text] = Field(default_factory=list)
    cite: Citation


class Step(Frozen):
    """A timed duty inside a stage, such as "senior managers inform professional leads within 1"."""

    id: Identifier
    name: Text
    owner_role: Identifier
    allowance_working_days: int | None = Field(
        default=None,
        ge=0,
        description="0 means by end of business on the same working day; started at or after"
        " end of business, by end of business on the next working day",
    )
    allowance: Allowance | None = Field(
        default=None,
        description="Instead of allowance_working_days: an amount and its unit, working_days,"
        " working_hours or elapsed_hours (hours at least 1)",
    )
    prompt: Prompt = Field(
        default=Prompt.WORKING_TIME,
        description="immediately: the owners are prompted at once, at any hour, flagged urgent",
    )
    starts: StepStart = StepStart.WITH_STAGE
    on_lapse: StepLapse = StepLapse.REMIND
    description: str = ""
    outcome: StepOutcome | None = Field(
        default=None,
        description="Ask this when the step is marked done; the steps after it that say"
        " ``when`` run on the answer. A lapse with no answer counts as not agreed",
    )
    when: StepCondition | None = Field(
        default=None,
        description="Run only on this outcome of the nearest earlier step that asks one;"
        " consecutive steps with the same ``when`` are one branch, run in order",
    )
    counted_from: Identifier | None = Field(
        default=None,
        description="Count the allowance from this earlier step's end (done, or lapsed) rather"
        " than from this step's own start: 'within 2 days of the decision'",
    )
    letter: StepLetter | None = Field(
        default=None, description="A letter the step produces when it is done"
    )
    cite: Citation

    @property
    def time_allowed(self) -> Allowance:
        """The allowance whichever way the pack wrote it."""
        return _time_allowed(self.allowance_working_days, self.allowance)


class CopySide(StrEnum):
    RAISING = "raising"
    RECEIVING = "receiving"


class CopyRecipient(Frozen):
    """Who must receive a copy of a stage's record: a role, or a named mailbox."""

    role: Identifier | None = None
    mailbox: str | None = None
    side: CopySide | None = Field(
        default=None,
        description="Only that side's agency (NSSCP: 'your own agency Head of Safeguarding' is"
        " the raising agency's); default: the role in every agency involved",
    )
    description: Text

    @model_validator(mode="after")
    def _one_target(self) -> CopyRecipient:
        if (self.role is None) == (self.mailbox is None):
            raise ValueError("give exactly one of role or mailbox")
        return self


class FilingMoment(StrEnum):
    """When a stage's form is filed with its copy recipients."""

    STARTED = "started"  # the stage began (St Helens' colour notification forms)
    RECORDED = "recorded"  # a discussion was recorded at the stage
    ESCALATED = "escalated"  # the stage ended by moving on, by a person or by lapse
    RESOLVED = "resolved"  # agreement was reached at the stage
    DECIDED = "decided"  # the final word was recorded at the stage


class FormFiling(Frozen):
    """One rule of when a form goes to the stage's copy recipients, as the procedure says it."""

    form: Identifier
    when: list[FilingMoment] = Field(min_length=1)
    cite: Citation


class Recording(Frozen):
    """The recording duty at a stage: which form, who fills it in, where it is kept."""

    form: Identifier | None = Field(default=None, description="Form id, or empty for free text")
    recorded_by: Text = Field(description="Who records, e.g. 'raising agency'")
    kept_on: list[Text] = Field(default_factory=list)
    cite: Citation


class DataDuty(Frozen):
    """A data-collection duty, e.g. share use of Stage Two twice a year with the QA sub-group."""

    description: Text
    frequency: Text
    recipient: Text
    cite: Citation


class Stage(Frozen):
    number: int = Field(ge=1)
    name: Text
    holder_roles: list[Identifier] = Field(min_length=1)
    holders: HolderMode = Field(
        default=HolderMode.ANY,
        description="any: holder_roles are alternatives, the first one found for each agency"
        " holds the stage; all: every one of them holds it together",
    )
    next_stage: int | None = Field(
        default=None,
        ge=2,
        description="Where the stage goes when it is escalated or lapses; default: the stage"
        " after it. Lets the stage a route leads to skip the other route's stages",
    )
    routes: Routes | None = Field(
        default=None, description="Alternative ways on, chosen by a party; replaces next_stage"
    )
    allowance_working_days: int | None = Field(default=None, ge=1)
    allowance: Allowance | None = Field(
        default=None,
        description="Instead of allowance_working_days: an amount (at least 1) and its unit,"
        " working_days, working_hours or elapsed_hours",
    )
    prompt: Prompt = Field(
        default=Prompt.WORKING_TIME,
        description="immediately: the stage's holders are prompted at once, at any hour,"
        " flagged urgent",
    )
    steps: list[Step] = Field(default_factory=list)
    methods: list[Text] = Field(default_factory=list)
    helpful_tools: list[Text] = Field(default_factory=list)
    principles: list[Text] = Field(default_factory=list)
    guiding_questions: list[Text] = Field(default_factory=list)
    recording: Recording
    notification_form: Identifier | None = Field(
        default=None, description="Form to send when this stage is entered (St Helens colours)"
    )
    copies_to: list[CopyRecipient] = Field(default_factory=list)
    files: list[FormFiling] | None = Field(
        default=None,
        description="Which forms go to copies_to, and when. Unset: the notification form when"
        " the stage starts, the recording form and on-resolution forms when the case closes at"
        " it; [] files nothing (e.g. NSSCP's stage 1, recorded by email between the parties)",
    )
    final_and_binding: bool = False
    decision_by: Identifier | None = Field(
        default=None, description="Role whose decision ends the procedure at this stage"
    )
    decision_word: Text = Field(
        default="decision",
        description="What the procedure calls that final word: 'decision', or 'recommendation'"
        " where the decider advises (Jersey 2014's Board Chair)",
    )
    data_collection: list[DataDuty] = Field(default_factory=list)
    cite: Citation

    @property
    def time_allowed(self) -> Allowance:
        """The allowance whichever way the pack wrote it."""
        return _time_allowed(self.allowance_working_days, self.allowance)


class FieldKind(StrEnum):
    TEXT = "text"
    LONG_TEXT = "long_text"
    DATE = "date"
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"
    NUMBER = "number"
    BOOLEAN = "boolean"
    PERSON = "person"
    ACTIONS = "actions"


class Choice(Frozen):
    id: Identifier
    label: Text


class Computed(StrEnum):
    """Facts the bot fills into a form from the case itself, so nobody types them twice."""

    TODAY = "today"
    CASE_REFERENCE = "case_reference"
    RAISER_NAME = "raiser_name"
    RAISER_AGENCY = "raiser_agency"
    RAISER_CONTACT = "raiser_contact"
    COUNTERPART_NAME = "counterpart_name"
    COUNTERPART_AGENCY = "counterpart_agency"
    COUNTERPART_CONTACT = "counterpart_contact"
    PARTICIPANTS = "participants"
    CHILD_NAME = "child_name"
    CHILD_DOB = "child_dob"
    CHILD_IDENTIFIERS = "child_identifiers"
    SUMMARY = "summary"
    OUTCOME_SOUGHT = "outcome_sought"
    REASON = "reason"
    STAGE_NUMBER = "stage_number"
    STAGE_STARTED = "stage_started"
    STEP_OUTCOME = "step_outcome"  # the latest agreed / not agreed recorded at the stage
    STEP_DECIDED_ON = "step_decided_on"  # the date it was recorded
    RESOLVED_AT_STAGE = "resolved_at_stage"
    WORKING_DAYS_TAKEN = "working_days_taken"


SENSITIVE_COMPUTED = frozenset(
    {Computed.CHILD_NAME, Computed.CHILD_DOB, Computed.CHILD_IDENTIFIERS}
)


class FormField(Frozen):
    id: Identifier
    label: Text
    kind: FieldKind = FieldKind.TEXT
    required: bool = False
    sensitive: bool = Field(
        default=False, description="Child data: never shown in channels or logs"
    )
    choices: list[Choice] = Field(default_factory=list)
    computed: Computed | None = Field(
        default=None, description="Filled by the bot from the case instead of asked"
    )
    of_stage: int | None = Field(
        default=None,
        ge=1,
        description="The stage a computed fact is about ('Date Stage 2 started': 2); defaults"
        " to the section's stage, then the stage the copy is produced for",
    )
    help: str = ""

    @model_validator(mode="after")
    def _choices_for_choice_fields(self) -> FormField:
        wants_choices = self.kind in {FieldKind.CHOICE, FieldKind.MULTI_CHOICE}
        if wants_choices and not self.choices:
            raise ValueError(f"field '{self.id}' is a {self.kind.value} field but lists no choices")
        if not wants_choices and self.choices:
            raise ValueError(f"field '{self.id}' lists choices but its kind is {self.kind.value}")
        if self.computed in SENSITIVE_COMPUTED and not self.sensitive:
            raise ValueError(f"field '{self.id}' holds child data; mark it sensitive: true")
        return self


class FormSection(Frozen):
    id: Identifier
    title: Text
    stage: int | None = Field(default=None, description="The stage this section records, if any")
    fields: list[FormField] = Field(min_length=1)


class Form(Frozen):
    id: Identifier
    name: Text
    colour: str | None = None
    used_at_stages: list[int] = Field(default_factory=list)
    on_resolution: bool = Field(default=False, description="Completed once agreement is reached")
    sections: list[FormSection] = Field(min_length=1)
    cite: Citation


class RiskContact(Frozen):
    """Someone the procedure says to tell at once when a child is at immediate risk (NSSCP: "raise
    this with their line manager immediately"): a person tied to the raiser, or a role, found
    on the raising side (the raiser's line-management chain, then their agency), or across the
    partnership for partnership-level roles."""

    relation: OutcomeRelation | None = None
    role: Identifier | None = None
    cite: Citation

    @model_validator(mode="after")
    def _one_target(self) -> RiskContact:
        if (self.relation is None) == (self.role is None):
            raise ValueError("give exactly one of relation or role")
        return self


class ImmediateRisk(Frozen):
    """What the procedure says to do when a child is at risk of immediate harm."""

    guidance: Text
    action: Text = Field(description="What the practitioner must do now, in plain words")
    allows_later_start: bool = False
    allowed_start_stages: list[int] = Field(default_factory=list)
    start_stage: int = Field(
        default=1,
        ge=1,
        description="Where a case at immediate risk starts when the raiser chooses no other"
        " allowed stage; the stages before it are skipped (NSSCP: 2, 'don't start with a peer"
        " discussion')",
    )
    tell: list[RiskContact] = Field(
        default_factory=list,
        description="Who is told at once, at any hour, flagged urgent, when a case at immediate"
        " risk is raised",
    )
    outside_procedure: bool = Field(
        default=False, description="Urgent action is taken outside this procedure (e.g. police)"
    )
    cite: Citation

    @model_validator(mode="after")
    def _stages_only_when_allowed(self) -> ImmediateRisk:
        if self.allows_later_start and not self.allowed_start_stages:
            raise ValueError("allows_later_start is true but allowed_start_stages is empty")
        if not self.allows_later_start and self.allowed_start_stages:
            raise ValueError("allowed_start_stages given but allows_later_start is false")
        earlier = [n for n in self.allowed_start_stages if n <= self.start_stage]
        if earlier:
            raise ValueError(
                f"allowed_start_stages {earlier} are not after start_stage {self.start_stage};"
                " fix: list only later stages, since a case at risk never starts before"
                " start_stage"
            )
        return self

    @property
    def start_choices(self) -> list[int]:
        """The stages a raiser at immediate risk may start at: the pack's, then any later ones
        it allows them to choose."""
        return [self.start_stage, *self.allowed_start_stages]


class SpecialRoute(Frozen):
    """A matter that belongs to someone else, e.g. Looked After Children go to the IRO."""

    id: Identifier
    applies_when: Text = Field(description="The yes/no question that selects this route")
    route_to: Text
    guidance: Text
    cite: Citation


class PathwayOption(Frozen):
    id: Identifier
    label: Text
    description: Text
    continues_to_procedure: bool = Field(
        description="True for 'this is a professional difference'; false signposts elsewhere"
    )
    signpost: str = Field(default="", description="Where to go instead, when not continuing")


class Pathway(Frozen):
    """Seed 002: decide first whether this procedure is the right one at all."""

    question: Text
    options: list[PathwayOption] = Field(min_length=2)
    cite: Citation

    @model_validator(mode="after")
    def _one_option_continues(self) -> Pathway:
        if not any(o.continues_to_procedure for o in self.options):
            raise ValueError("at least one pathway option must continue to the procedure")
        for option in self.options:
            if not option.continues_to_procedure and not option.signpost:
                raise ValueError(
                    f"pathway option '{option.id}' stops the intake but has no signpost"
                )
        return self


class Guidance(Frozen):
    """A few short lines the procedure asks people to keep in mind at one moment, e.g. Jersey
    2014's factors to consider before raising, or NSSCP's reflective debrief after agreement."""

    heading: Text
    items: list[Text] = Field(min_length=1)
    cite: Citation


class OutcomeRelation(StrEnum):
    """Someone tied to the case by who raised it, rather than by a role at a stage."""

    RAISERS_LINE_MANAGER = "raisers_line_manager"


class OutcomeCopy(Frozen):
    """Besides the parties, who is sent the agreed outcome (NSSCP: "shared with relevant
    personnel, beginning with the practitioner who raised the issue and their line manager")."""

    relation: OutcomeRelation
    cite: Citation


class Policy(Frozen):
    id: Identifier
    version: Text
    name: Text
    partnership: Text
    sources: list[Text] = Field(min_length=1, description="Seed files this pack encodes")
    scope: list[Scope] = Field(min_length=1)
    calendar: CalendarDefaults
    working_day_definition: Text
    roles: list[Role] = Field(min_length=1)
    raiser_role: Identifier
    business_team_role: Identifier
    handover_guidance: str = ""
    pathway: Pathway | None = None
    immediate_risk: ImmediateRisk
    special_routes: list[SpecialRoute] = Field(default_factory=list)
    outcome_also_to: list[OutcomeCopy] = Field(
        default_factory=list, description="Who is sent the outcome besides the case's parties"
    )
    intake: list[FormField] = Field(
        min_length=1, description="The /escalate questions, asked in this order"
    )
    intake_cite: Citation
    stages: list[Stage] = Field(min_length=1)
    forms: list[Form] = Field(default_factory=list)
    principles: list[Text] = Field(default_factory=list)
    at_intake: Guidance | None = Field(
        default=None, description="Shown to the raiser before the first question"
    )
    after_resolution: Guidance | None = Field(
        default=None, description="Shown to every party once agreement is reached"
    )

    @model_validator(mode="after")
    def _references_resolve(self) -> Policy:
        """Cross-references between parts of the pack (policy.pack_checks, which the loader also
        runs on the raw file so that they are reported alongside field errors). The message is
        'path: what; fix: how' so the loader can name the exact field, as pydantic does for
        single-field errors."""
        problems = cross_reference_problems(self.model_dump(mode="json"))
        if problems:
            first = problems[0]
            raise ValueError(f"{first.field}: {first.message}; fix: {first.fix}")
        return self

    def stage(self, number: int) -> Stage:
        for stage in self.stages:
            if stage.number == number:
                return stage
        raise KeyError(f"policy {self.id} has no stage {number}")

    def role(self, role_id: str) -> Role:
        for role in self.roles:
            if role.id == role_id:
                return role
        raise KeyError(f"policy {self.id} has no role {role_id}")

    def form(self, form_id: str) -> Form:
        for form in self.forms:
            if form.id == form_id:
                return form
        raise KeyError(f"policy {self.id} has no form {form_id}")

    @property
    def final_stage(self) -> Stage:
        return self.stages[-1]

    def next_stage_number(self, stage: Stage) -> int:
        """Where ``stage`` goes when nobody chooses otherwise: its route default, its
        next_stage, else the stage after it. Every way on leads to a later stage (pack_checks),
        so every path ends at the final stage, the last one."""
        if stage.routes is not None:
            return stage.routes.default_option.next_stage
        return stage.next_stage or stage.number + 1

    def role_sides(self, role_ids: Sequence[str]) -> dict[str, str]:
        """The roles among ``role_ids`` that only one side holds, with that side."""
        sides: dict[str, str] = {}
        for role_id in role_ids:
            side = self.role(role_id).side
            if side is not None:
                sides[role_id] = side.value
        return sides


# The intake questions the engine itself reads; a pack may add others after or between them.
CORE_INTAKE: dict[str, tuple[FieldKind, bool]] = {
    # id: (kind, sensitive)
    field_id: (FieldKind(kind), sensitive)
    for field_id, (kind, sensitive) in CORE_INTAKE_KINDS.items()
}
