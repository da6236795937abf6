"""The bundled packs encode their source procedures.

Each assertion names the seed passage it checks. Seeds live in /work/shared/seeds/ during
development; CI may not have that folder, so the five seed file names are hard-coded here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from policy.loader import PolicyRegistry
from policy.model import (
    CORE_INTAKE,
    SENSITIVE_COMPUTED,
    Citation,
    Computed,
    FieldKind,
    Form,
    FormField,
    Policy,
    Scope,
    StepLapse,
    StepStart,
)

SP_JERSEY_SEED = "000_112f7f9d97f2bca7.txt"
NSSCP_SEED = "001_9a127cc8a84eb14f.txt"
PATHWAY_SEED = "002_d06bf4df53286ffe.txt"
JERSEY_2014_SEED = "003_a90bf537089c7eea.txt"
ST_HELENS_SEED = "004_9fc97d70d89f1d3e.txt"
KNOWN_SEEDS = frozenset(
    {SP_JERSEY_SEED, NSSCP_SEED, PATHWAY_SEED, JERSEY_2014_SEED, ST_HELENS_SEED}
)
SEEDS_DIR = Path("/work/shared/seeds")

PACK_IDS = ["jersey-spb-2014", "nsscp", "sp-jersey", "st-helens"]
ST_HELENS_MAILBOX = "scpescalations@sthelens.gov.uk"


@pytest.fixture(scope="module")
def registry() -> PolicyRegistry:
    return PolicyRegistry.bundled()


@pytest.fixture(scope="module")
def sp_jersey(registry: PolicyRegistry) -> Policy:
    return registry.get("sp-jersey")


@pytest.fixture(scope="module")
def nsscp(registry: PolicyRegistry) -> Policy:
    return registry.get("nsscp")


@pytest.fixture(scope="module")
def jersey_2014(registry: PolicyRegistry) -> Policy:
    return registry.get("jersey-spb-2014")


@pytest.fixture(scope="module")
def st_helens(registry: PolicyRegistry) -> Policy:
    return registry.get("st-helens")


def _all_citations(policy: Policy) -> Iterator[Citation]:
    yield policy.calendar.cite
    yield policy.immediate_risk.cite
    yield policy.intake_cite
    if policy.pathway:
        yield policy.pathway.cite
    for route in policy.special_routes:
        yield route.cite
    for stage in policy.stages:
        yield stage.cite
        yield stage.recording.cite
        for step in stage.steps:
            yield step.cite
        for duty in stage.data_collection:
            yield duty.cite
    for form in policy.forms:
        yield form.cite


def _all_fields(policy: Policy) -> Iterator[FormField]:
    yield from policy.intake
    for form in policy.forms:
        for section in form.sections:
            yield from section.fields


def _fields(form: Form) -> dict[str, FormField]:
    return {f.id: f for section in form.sections for f in section.fields}


def _steps(policy: Policy, stage: int) -> list[tuple[str, str, int, StepStart, StepLapse]]:
    return [
        (s.id, s.owner_role, s.allowance_working_days, s.starts, s.on_lapse)
        for s in policy.stage(stage).steps
    ]


# --- every pack ------------------------------------------------------------------------------


def test_all_four_packs_are_bundled(registry: PolicyRegistry) -> None:
    assert set(PACK_IDS) <= set(registry.ids())


@pytest.mark.parametrize("pack_id", PACK_IDS)
def test_every_citation_names_a_known_seed_listed_in_sources(
    registry: PolicyRegistry, pack_id: str
) -> None:
    policy = registry.get(pack_id)
    on_disk = {p.name for p in SEEDS_DIR.glob("*.txt")} if SEEDS_DIR.is_dir() else set()
    assert set(policy.sources) <= KNOWN_SEEDS
    for cite in _all_citations(policy):
        assert cite.seed in KNOWN_SEEDS or cite.seed in on_disk, cite
        assert cite.seed in policy.sources, cite
        assert cite.section.strip(), cite


@pytest.mark.parametrize("pack_id", PACK_IDS)
def test_every_computed_child_field_is_sensitive(registry: PolicyRegistry, pack_id: str) -> None:
    policy = registry.get(pack_id)
    computed_child = [f for f in _all_fields(policy) if f.computed in SENSITIVE_COMPUTED]
    if policy.forms:
        assert computed_child, "packs with forms should fill child details from the case"
    for field in computed_child:
        assert field.sensitive, field.id


@pytest.mark.parametrize("pack_id", PACK_IDS)
def test_core_intake_has_the_kinds_the_engine_needs(registry: PolicyRegistry, pack_id: str) -> None:
    intake = {f.id: f for f in registry.get(pack_id).intake}
    for field_id, (kind, sensitive) in CORE_INTAKE.items():
        assert intake[field_id].kind is kind, field_id
        if sensitive:
            assert intake[field_id].sensitive, field_id
    # Reason categories always include a catch-all.
    assert "other" in {c.id for c in intake["reason"].choices}
    # Urgent guidance comes before anything else.
    assert registry.get(pack_id).intake[0].id == "immediate_risk"


@pytest.mark.parametrize("pack_id", PACK_IDS)
def test_roles_and_version(registry: PolicyRegistry, pack_id: str) -> None:
    policy = registry.get(pack_id)
    # every pack is "3" since issue 9 (immediate risk's start stage and whom to tell; Jersey
    # 2014's factors at intake; NSSCP's debrief after resolution): a pack that changes must
    # change its version, or stores holding the old snapshot would keep using it.
    assert policy.version == "3"
    assert policy.role(policy.raiser_role).tier == 1
    assert policy.role(policy.business_team_role).tier == 0


# --- SP Jersey (seed 000, pathway from seed 002) ---------------------------------------------


def test_sp_jersey_calendar_and_sources(sp_jersey: Policy) -> None:
    # Jersey procedure: JE calendar, Jersey time zone.
    assert sp_jersey.calendar.country == "JE"
    assert sp_jersey.calendar.subdivision is None
    assert sp_jersey.calendar.time_zone == "Europe/Jersey"
    assert sp_jersey.sources == [SP_JERSEY_SEED, PATHWAY_SEED]
    # 002: the Resolving Professional Differences policy covers children or adults.
    assert set(sp_jersey.scope) == {Scope.CHILDREN, Scope.ADULTS_AT_RISK}


def test_sp_jersey_four_stages_of_five_days(sp_jersey: Policy) -> None:
    # 000: "Aim - complete within five working days" at each of Stages One to Four.
    assert [s.name for s in sp_jersey.stages] == [
        "Practitioners",
        "Senior Managers",
        "Professional Leads",
        "Safeguarding Partners",
    ]
    assert [s.allowance_working_days for s in sp_jersey.stages] == [5, 5, 5, 5]


def test_sp_jersey_stage_one(sp_jersey: Policy) -> None:
    stage = sp_jersey.stage(1)
    assert stage.holder_roles == ["practitioner", "first_line_manager"]
    # 000 Stage One: "Practitioners - within one working day" then "First Line Managers ...
    # within one working day"; unresolved goes to the first line manager.
    assert _steps(sp_jersey, 1) == [
        ("practitioners-discuss", "practitioner", 1, StepStart.WITH_STAGE, StepLapse.ADVANCE),
        (
            "first-line-managers-discuss",
            "first_line_manager",
            1,
            StepStart.AFTER_PREVIOUS,
            StepLapse.REMIND,
        ),
    ]
    # 000 Stage One: "Method - Phone, Face to Face or via Virtual Platform".
    assert len(stage.methods) == 3
    # 000 Stage One: "Helpful Tools - Single-Agency Supervision, Continuum of Children's needs,
    # Chronologies".
    assert len(stage.helpful_tools) == 3
    assert "Chronologies" in stage.helpful_tools
    # 000 Stage One: five principles.
    assert len(stage.principles) == 5
    # 000 Stage One: "If resolved, record it in the client's file".
    assert stage.recording.kept_on == ["Client's file"]
    assert stage.data_collection == []


def test_sp_jersey_stage_two(sp_jersey: Policy) -> None:
    stage = sp_jersey.stage(2)
    # 000 Stage Two: Senior Managers (DSLs, Registered Managers, Heads of Service).
    assert stage.holder_roles == ["senior_manager"]
    assert "Designated Safeguarding Lead" in sp_jersey.role("senior_manager").description
    # 000 Stage Two: method adds "multi-agency meeting"; tools are reflective supervision and MDTs.
    assert "Multi-agency meeting" in stage.methods
    assert stage.helpful_tools == [
        "Multi-Agency Reflective Supervision",
        "Multi-Disciplinary Team (MDT) meetings",
    ]
    # 000 Stage Two: "record Stage Two resolution in the persons records".
    assert stage.recording.kept_on == ["Person's records"]


def test_sp_jersey_stage_three(sp_jersey: Policy) -> None:
    stage = sp_jersey.stage(3)
    assert stage.holder_roles == ["professional_lead"]
    # 000 Stage Three: "Senior managers inform Professional Leads within one working day".
    assert _steps(sp_jersey, 3) == [
        ("inform-professional-leads", "senior_manager", 1, StepStart.WITH_STAGE, StepLapse.REMIND)
    ]
    # 000 Stage Three: "Method - Multi-Agency Professional Meeting"; "Helpful Tools - Fresh Look".
    assert stage.methods == ["Multi-agency professionals meeting"]
    assert stage.helpful_tools == ["Fresh Look meeting"]


def test_sp_jersey_stage_four_is_final(sp_jersey: Policy) -> None:
    stage = sp_jersey.stage(4)
    assert stage.holder_roles == ["safeguarding_partners"]
    # 000 Stage Four: "Professional Leads ... inform Safeguarding Partners via the SP Jersey
    # Business Team Manager within one working day."
    assert _steps(sp_jersey, 4) == [
        (
            "inform-safeguarding-partners",
            "professional_lead",
            1,
            StepStart.WITH_STAGE,
            StepLapse.REMIND,
        )
    ]
    assert [c.role for c in stage.copies_to] == ["business_team_manager"]
    assert sp_jersey.role(sp_jersey.business_team_role).name == "SP Jersey Business Team Manager"
    # 000 Stage Four: "Solutions must be found at Stage Four."
    assert stage.final_and_binding
    assert stage.decision_by == "safeguarding_partners"
    assert sp_jersey.final_stage.number == 4


def test_sp_jersey_data_collection(sp_jersey: Policy) -> None:
    # 000 Stages Two, Three and Four: data shared twice a year with the SP Jersey Quality
    # Assurance Sub-Group.
    for number in (2, 3, 4):
        (duty,) = sp_jersey.stage(number).data_collection
        assert duty.frequency == "Twice a year"
        assert "SP Jersey Quality Assurance Sub-Group" in duty.recipient
    assert sp_jersey.stage(1).data_collection == []


def test_sp_jersey_immediate_risk_and_pathway(sp_jersey: Policy) -> None:
    risk = sp_jersey.immediate_risk
    # 000 says nothing specific about immediate harm; its goal line ("keep clients safe") is cited.
    assert risk.cite == Citation(seed=SP_JERSEY_SEED, section="Goal")
    assert not risk.allows_later_start
    assert risk.allowed_start_stages == []
    assert "own safeguarding procedure" in risk.guidance
    # 002: guidance pathway; only "Resolving Professional Differences" continues.
    assert sp_jersey.pathway is not None
    assert sp_jersey.pathway.cite.seed == PATHWAY_SEED
    options = {o.id: o for o in sp_jersey.pathway.options}
    assert set(options) == {
        "baseline",
        "reflective-supervision",
        "casp",
        "fresh-look",
        "professional-difference",
    }
    assert [o.id for o in sp_jersey.pathway.options if o.continues_to_procedure] == [
        "professional-difference"
    ]
    assert "CASP" in options["casp"].signpost
    assert sp_jersey.special_routes == []


def test_sp_jersey_stage_resolution_record(sp_jersey: Policy) -> None:
    # 000: each stage records its resolution ("record as Stage One Resolution", "record Stage Two
    # resolution in the persons records", "Record Stage Three Resolution"); Stage Four must end
    # with a solution. No form is named, so one record has a section per stage.
    (form,) = sp_jersey.forms
    assert form.id == "stage-resolution-record"
    assert form.cite.seed == SP_JERSEY_SEED
    assert form.used_at_stages == [1, 2, 3, 4]
    assert not form.on_resolution
    assert [s.stage for s in form.sections] == [None, 1, 2, 3, 4]
    for section in form.sections[1:4]:
        assert [f.id for f in section.fields] == ["summary", "agreed_actions", "unresolved"]
    assert [f.id for f in form.sections[4].fields] == ["summary", "agreed_actions"]
    # it is a document to produce, not a form the engine files: no stage names it
    assert all(s.recording.form is None for s in sp_jersey.stages)


# --- NSSCP (seed 001) ------------------------------------------------------------------------


def test_nsscp_calendar_and_scope(nsscp: Policy) -> None:
    # 001 Timescales: "Monday through to Friday (excluding bank holidays)"; England.
    assert nsscp.calendar.country == "GB"
    assert nsscp.calendar.subdivision == "ENG"
    assert nsscp.calendar.time_zone == "Europe/London"
    assert "bank holidays" in nsscp.working_day_definition
    assert nsscp.scope == [Scope.CHILDREN]
    assert nsscp.sources == [NSSCP_SEED]
    # 001 Timescales: hand over before annual leave or end of shift.
    assert "leave" in nsscp.handover_guidance
    assert "shift" in nsscp.handover_guidance


def test_nsscp_stages_and_allowances(nsscp: Policy) -> None:
    # 001 Procedure: Stage 1 within 1, Stage 2 within 2, Stage 3 within 2, Stage 4 within 3.
    assert [s.allowance_working_days for s in nsscp.stages] == [1, 2, 2, 3]
    # 001 Stage 1 practitioner to practitioner; Stage 2 line managers or designated/named
    # safeguarding professional; Stage 3 senior managers; Stage 4 the DSPs.
    assert [s.holder_roles for s in nsscp.stages] == [
        ["practitioner"],
        ["line_manager", "safeguarding_professional"],
        ["senior_manager"],
        ["delegated_safeguarding_partners"],
    ]


def test_nsscp_stage_one_records_by_email(nsscp: Policy) -> None:
    stage = nsscp.stage(1)
    # 001 Recording: Stage 1 is recorded in writing by the raiser and shared by email, no form.
    assert stage.recording.form is None
    assert stage.recording.recorded_by == "Practitioner raising the issue"
    assert any("email" in m.lower() for m in stage.methods)
    # 001 Stage 1: exchange line manager and senior manager details.
    assert any("senior manager details" in p for p in stage.principles)
    intake = {f.id: f for f in nsscp.intake}
    assert intake["raiser_line_manager"].kind is FieldKind.PERSON
    assert intake["raiser_senior_manager"].kind is FieldKind.PERSON
    assert not intake["raiser_senior_manager"].required


def test_nsscp_stages_two_to_four_use_appendix_one(nsscp: Policy) -> None:
    # 001 Recording: "For Stages 2, 3 and 4 a recording tool is attached as Appendix 1. The agency
    # raising the issue remains responsible for the recording throughout".
    for number in (2, 3, 4):
        recording = nsscp.stage(number).recording
        assert recording.form == "appendix-1"
        assert recording.recorded_by == "Agency raising the issue"
    # 001 Stage 2: "A copy of this must also be sent to the NSSCP Business Manager."
    assert [c.role for c in nsscp.stage(2).copies_to] == ["business_manager"]
    # 001 Stage 3: copies to the Business Manager and your own agency Head of Safeguarding.
    assert [c.role for c in nsscp.stage(3).copies_to] == [
        "business_manager",
        "head_of_safeguarding",
    ]
    assert nsscp.role(nsscp.business_team_role).name == "NSSCP Business Manager"


def test_nsscp_stage_four(nsscp: Policy) -> None:
    stage = nsscp.stage(4)
    # 001 Stage 4: referral "On Day 5" (same day the stage starts) to the partnership via the
    # Business Manager; DSPs "respond within 3 working days by Day 8".
    assert _steps(nsscp, 4) == [
        ("refer-to-partnership", "senior_manager", 0, StepStart.WITH_STAGE, StepLapse.REMIND),
        (
            "partnership-response",
            "delegated_safeguarding_partners",
            3,
            StepStart.WITH_STAGE,
            StepLapse.REMIND,
        ),
    ]
    assert [c.role for c in stage.copies_to] == ["business_manager"]
    # 001 Stage 4: "The decision at Stage 4 will be made by the DSPs and is final and binding".
    assert stage.final_and_binding
    assert stage.decision_by == "delegated_safeguarding_partners"
    # 001 Stage 4: "The Independent Scrutineer may support their discussion."
    assert nsscp.role("independent_scrutineer").tier == 0
    assert any("Independent Scrutineer" in p for p in stage.principles)


def test_nsscp_only_stage_four_binds(nsscp: Policy) -> None:
    # 001: only Stage 4 is final and binding; no data-collection duty is set out.
    assert [s.final_and_binding for s in nsscp.stages] == [False, False, False, True]
    assert all(not s.data_collection for s in nsscp.stages)


def test_nsscp_immediate_risk(nsscp: Policy) -> None:
    risk = nsscp.immediate_risk
    # 001 Stage 1: "raise this with their line manager immediately following their agency's
    # safeguarding procedure" and "offer immediate support".
    assert "line manager" in risk.action
    assert "safeguarding procedure" in risk.action
    assert "support" in risk.action
    assert not risk.allows_later_start
    assert risk.outside_procedure
    assert nsscp.special_routes == []
    assert nsscp.pathway is None


def test_nsscp_reason_choices_are_the_typical_issues(nsscp: Policy) -> None:
    # 001 Issues: four typical issues (plus other).
    reason = next(f for f in nsscp.intake if f.id == "reason")
    assert [c.id for c in reason.choices] == [
        "decision_not_in_best_interests",
        "waiting_time",
        "reduced_service",
        "service_not_matching_need",
        "other",
    ]


def test_nsscp_appendix_one_form(nsscp: Policy) -> None:
    form = nsscp.form("appendix-1")
    # 001 Appendix 1: "to be used at Stage 2, 3 and 4"; submitted on resolution.
    assert form.used_at_stages == [2, 3, 4]
    assert form.on_resolution
    sections = {s.id: s for s in form.sections}
    assert list(sections) == ["header", "stage-2", "stage-3", "stage-4", "monitoring"]
    # 001 Appendix 1: one block per stage with summary, agreed outcomes (actual dates) and what
    # remains unresolved; Stage 4 has no "unresolved" box.
    assert [sections[f"stage-{n}"].stage for n in (2, 3, 4)] == [2, 3, 4]
    for n in (2, 3):
        assert [f.id for f in sections[f"stage-{n}"].fields] == [
            "summary",
            "agreed_actions",
            "unresolved",
        ]
    assert [f.id for f in sections["stage-4"].fields] == ["summary", "agreed_actions"]
    for n in (2, 3, 4):
        fields = {f.id: f for f in sections[f"stage-{n}"].fields}
        assert fields["summary"].kind is FieldKind.LONG_TEXT
        assert fields["agreed_actions"].kind is FieldKind.ACTIONS
        assert "ASAP" in fields["agreed_actions"].help
    # 001 Appendix 1 header: child name, date of birth, date Stage 2 started, those involved.
    header = {f.id: f.computed for f in sections["header"].fields}
    assert header == {
        "child_name": Computed.CHILD_NAME,
        "child_dob": Computed.CHILD_DOB,
        "stage_2_started": Computed.STAGE_STARTED,
        "participants": Computed.PARTICIPANTS,
    }
    # 001 Appendix 1 monitoring: stage resolved, time taken, helpfulness, additional notes.
    monitoring = {f.id: f for f in sections["monitoring"].fields}
    assert monitoring["resolved_at_stage"].computed is Computed.RESOLVED_AT_STAGE
    assert monitoring["time_taken"].computed is Computed.WORKING_DAYS_TAKEN
    assert monitoring["policy_helpfulness"].kind is FieldKind.LONG_TEXT
    assert "additional_notes" in monitoring


# --- Jersey SPB 2014 (seed 003, pathway from seed 002) ---------------------------------------


def test_jersey_2014_calendar_and_scope(jersey_2014: Policy) -> None:
    # 003 Introduction: "safeguarding needs of children or adults".
    assert set(jersey_2014.scope) == {Scope.CHILDREN, Scope.ADULTS_AT_RISK}
    assert jersey_2014.calendar.country == "JE"
    assert jersey_2014.calendar.time_zone == "Europe/Jersey"
    assert set(jersey_2014.sources) == {JERSEY_2014_SEED, PATHWAY_SEED}
    assert jersey_2014.role(jersey_2014.business_team_role).name == "SPB Board Manager"


def test_jersey_2014_six_stages(jersey_2014: Policy) -> None:
    # 003 section 3: time frames 5, 2, 5, 2, 3 and, at Stage 6, 2 plus 5 for the Chair.
    assert [s.allowance_working_days for s in jersey_2014.stages] == [5, 2, 5, 2, 3, 7]
    # 003 Stage 2: manager and/or named/designated safeguarding lead; Stage 4 the relevant
    # safeguarding manager; Stage 5 heads of service; Stage 6 the Board Chair.
    assert "manager" in jersey_2014.stage(2).holder_roles
    assert "safeguarding_manager" in jersey_2014.stage(4).holder_roles
    assert jersey_2014.stage(5).holder_roles == ["head_of_service"]
    assert "board_chair" in jersey_2014.stage(6).holder_roles


def test_jersey_2014_stage_one_guiding_questions(jersey_2014: Policy) -> None:
    # 003 Stage 1: the list of questions for reaching a shared understanding.
    questions = jersey_2014.stage(1).guiding_questions
    assert len(questions) >= 10
    assert any("case conference" in q for q in jersey_2014.stage(4).guiding_questions)
    # 003 section 2 "Factors to Consider" (five factors) are shown at intake, cited there.
    factors = jersey_2014.at_intake
    assert factors is not None and len(factors.items) == 5
    assert factors.cite.section == "2. Factors to Consider"
    assert any("mirror" in p for p in factors.items)
    assert any("emotions" in p for p in factors.items)


def test_jersey_2014_stage_five_and_six(jersey_2014: Policy) -> None:
    # 003 Stage 5: "especially if resources are a relevant factor".
    assert any("resources" in p for p in jersey_2014.stage(5).principles)
    stage = jersey_2014.stage(6)
    # 003 Stage 6: referral via the agency representative within 2, then the Chair's clear
    # recommendation within 5 working days of receiving it.
    assert _steps(jersey_2014, 6) == [
        ("refer-to-board-chair", "board_representative", 2, StepStart.WITH_STAGE, StepLapse.REMIND),
        ("chair-recommendation", "board_chair", 5, StepStart.AFTER_PREVIOUS, StepLapse.REMIND),
    ]
    assert sum(s.allowance_working_days for s in stage.steps) == stage.allowance_working_days
    assert any("2" in p and "5" in p and "7" in p for p in stage.principles)
    # 003 Stage 6: the Chair advises ("recommendation"), which ends the pathway but is not binding.
    assert stage.decision_by == "board_chair"
    assert not stage.final_and_binding
    # 003 Stage 6: the SPB keeps a record of unresolved Stage 6 concerns for its Annual Report.
    (duty,) = stage.data_collection
    assert "Annual Report" in duty.frequency
    assert all(not s.data_collection for s in jersey_2014.stages[:5])


def test_jersey_2014_immediate_risk_is_outside_the_procedure(jersey_2014: Policy) -> None:
    risk = jersey_2014.immediate_risk
    # 003 section 3: "unless the situation is so serious that it requires urgent action ...
    # (e.g. through the police)".
    assert risk.outside_procedure
    assert not risk.allows_later_start
    assert "police" in risk.action
    assert jersey_2014.special_routes == []
    assert jersey_2014.pathway is not None
    assert jersey_2014.pathway.cite.seed == PATHWAY_SEED


def test_jersey_2014_appendix_two(jersey_2014: Policy) -> None:
    form = jersey_2014.form("appendix-2")
    # 003 Appendix 2: information required when a case is submitted (used at Stage 6).
    assert form.used_at_stages == [6]
    assert jersey_2014.stage(6).notification_form == "appendix-2"
    fields = _fields(form)
    assert fields["child_name"].computed is Computed.CHILD_NAME
    assert fields["child_identifiers"].sensitive
    assert fields["key_practitioners"].computed is Computed.PARTICIPANTS
    assert fields["submitted_on"].computed is Computed.TODAY
    assert fields["dispute_summary"].computed is Computed.SUMMARY
    assert fields["outcome_sought"].computed is Computed.OUTCOME_SOUGHT
    assert fields["family_history"].sensitive
    assert {"third_party_agencies", "next_steps"} <= set(fields)
    # Intake asks for the history and third-party agencies as optional extras.
    intake = {f.id: f for f in jersey_2014.intake}
    assert not intake["family_history"].required
    assert intake["family_history"].sensitive
    assert not intake["third_party_agencies"].required


# --- St Helens (seed 004) --------------------------------------------------------------------


def test_st_helens_calendar_and_scope(st_helens: Policy) -> None:
    assert st_helens.calendar.country == "GB"
    assert st_helens.calendar.subdivision == "ENG"
    assert st_helens.calendar.time_zone == "Europe/London"
    assert st_helens.scope == [Scope.CHILDREN]


def test_st_helens_stages(st_helens: Policy) -> None:
    # 004 The Resolution Procedure: 1 day, 2 days, 5 days, 3 days.
    assert [s.allowance_working_days for s in st_helens.stages] == [1, 2, 5, 3]
    # 004 Stage 2: line manager or the organisation's safeguarding children lead.
    assert st_helens.stage(2).holder_roles == ["first_line_manager", "safeguarding_children_lead"]
    # 004 Stage 3: Head of Service or 2nd tier line manager.
    assert st_helens.stage(3).holder_roles == ["second_tier_manager"]
    # 004 Stage 4: the Chair of the SCP Board or a key partner makes the final decision.
    stage = st_helens.stage(4)
    assert stage.final_and_binding
    assert stage.decision_by == "partnership_decision_maker"
    assert [s.final_and_binding for s in st_helens.stages] == [False, False, False, True]


def test_st_helens_every_form_goes_to_the_mailbox(st_helens: Policy) -> None:
    # 004: every notification form is "sent in to scpescalations@sthelens.gov.uk".
    colours = ["Orange", "Green", "Blue", "Pink"]
    for stage, colour in zip(st_helens.stages, colours, strict=True):
        assert stage.notification_form == f"notification-stage-{stage.number}"
        (copy,) = stage.copies_to
        assert copy.mailbox == ST_HELENS_MAILBOX
        assert copy.role is None
        assert colour in copy.description
        # 004: "evidence the Stage N Resolution within your own recording systems".
        assert stage.recording.kept_on == ["Your own recording system"]


def test_st_helens_notification_forms(st_helens: Policy) -> None:
    # 004 Notification Stage 1-4: orange, green, blue, pink, one per stage.
    for number, colour in enumerate(["orange", "green", "blue", "pink"], start=1):
        form = st_helens.form(f"notification-stage-{number}")
        assert form.colour == colour
        assert form.used_at_stages == [number]
        assert not form.on_resolution
        (section,) = form.sections
        assert section.stage == number
        fields = {f.id: f for f in section.fields}
        # 004 notification table: filled from the case where possible.
        assert {f.id: f.computed for f in section.fields if f.computed} == {
            "date": Computed.TODAY,
            "raiser_name": Computed.RAISER_NAME,
            "raiser_agency": Computed.RAISER_AGENCY,
            "raiser_contact": Computed.RAISER_CONTACT,
            "counterpart_name": Computed.COUNTERPART_NAME,
            "counterpart_agency": Computed.COUNTERPART_AGENCY,
            "counterpart_contact": Computed.COUNTERPART_CONTACT,
            "child_name": Computed.CHILD_NAME,
            "child_dob": Computed.CHILD_DOB,
            "child_identifiers": Computed.CHILD_IDENTIFIERS,
        }
        # ... and asked where not: agency details, number of children, level of need, comments,
        # and the NHS number, a field of its own beside the ICS number (issue 8)
        assert fields["child_identifiers"].label == "ICS Number (if known)"
        assert fields["nhs_number"].label == "NHS Number (if known)"
        assert {f.id for f in section.fields if not f.computed} == {
            "nhs_number",
            "raiser_agency_details",
            "counterpart_agency_details",
            "number_of_children",
            "current_level_of_need",
            "additional_comments",
        }
        assert fields["number_of_children"].kind is FieldKind.NUMBER


def test_st_helens_resolution_outcome_form(st_helens: Policy) -> None:
    form = st_helens.form("resolution-outcome")
    # 004 Resolution: "the Purple Resolution Outcome Form should be completed" once agreed,
    # whatever the stage.
    assert form.colour == "purple"
    assert form.on_resolution
    fields = _fields(form)
    assert fields["stage_reached"].computed is Computed.RESOLVED_AT_STAGE
    reason = fields["escalation_reason"]
    assert reason.kind is FieldKind.MULTI_CHOICE
    # 004 Outcome Form: the eight tick boxes for "Reason for Escalation".
    assert [c.id for c in reason.choices] == [
        "level_of_need",
        "drift_and_delay",
        "lack_of_communication",
        "minutes_not_received",
        "disagreement_with_decision",
        "non_attendance",
        "meeting_not_held",
        "other",
    ]
    for field_id in ("what_worked_well", "what_worried_you", "what_needs_to_change"):
        assert fields[field_id].kind is FieldKind.LONG_TEXT
    # The intake reason uses the same list.
    intake_reason = next(f for f in st_helens.intake if f.id == "reason")
    assert intake_reason.choices == reason.choices


def test_st_helens_intake_extras(st_helens: Policy) -> None:
    # 004 notification table: current level of need and how many children it relates to.
    intake = {f.id: f for f in st_helens.intake}
    assert intake["number_of_children"].kind is FieldKind.NUMBER
    assert intake["current_level_of_need"].sensitive
    assert "raiser_agency_details" in intake
    assert "counterpart_agency_details" in intake


def test_st_helens_immediate_risk_and_special_routes(st_helens: Policy) -> None:
    risk = st_helens.immediate_risk
    # 004: "if a child is thought to be at risk of immediate harm, discretion should be used as
    # to which stage is initiated".
    assert risk.allows_later_start
    assert risk.allowed_start_stages == [2, 3, 4]
    assert not risk.outside_procedure
    # 004: Looked After Children to the IRO; Child Protection Conferences to the CP Chair.
    routes = {r.id: r for r in st_helens.special_routes}
    assert set(routes) == {"looked-after-child", "child-protection-conference"}
    assert "Independent Reviewing Officer" in routes["looked-after-child"].route_to
    assert routes["child-protection-conference"].route_to == "Child Protection Chair"
    assert st_helens.pathway is None
