"""The deployment's configuration: which partnerships, which procedure each runs, and who is who.

One YAML file, written by the IT admin with the partnership's business team. Like packs it is
validated in full before the bot starts, and every problem names the field and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, time
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from policy.calendar import CalendarError, WorkingCalendar, region_problem, time_zone_problem
from policy.errors import (
    ENV_NAME_PATTERN,
    REFERENCE_PREFIX_PATTERN,
    WEBHOOK_URL_PATTERN,
    FileProblems,
    Problem,
    problems_from_validation,
)
from policy.loader import BrokenPack, PolicyRegistry, read_yaml_document
from policy.model import CountryCode, Identifier, Policy
from policy.people_checks import people_problems
from policy.webhook_secrets import unset_webhook_secrets

Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
ReferencePrefix = Annotated[str, StringConstraints(pattern=REFERENCE_PREFIX_PATTERN)]


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AlertRouting(Strict):
    """Where channel alerts go: destinations are platform-neutral names mapped by each adapter.

    A destination looks like ``teams:<channel id>``, ``slack:<channel id>`` or ``console:<name>``.
    Channel alerts never carry a child's details, so any member of these channels may read them.
    """

    business_team: Text
    stages: dict[int, Text] = Field(
        default_factory=dict, description="Stage number -> the channel of that stage's tier"
    )


DAY_MONTH = re.compile(r"^(\d{2})-(\d{2})$")


def day_month_problem(text: str) -> str | None:
    """Why ``text`` is not a day of the year written DD-MM ("01-04" is 1 April), or None."""
    found = DAY_MONTH.match(text)
    if found is None:
        return f"'{text}' is not a date written DD-MM"
    day, month = int(found.group(1)), int(found.group(2))
    try:
        date(2024, month, day)  # a leap year, so 29-02 is a real day
    except ValueError:
        return f"'{text}' is not a day of the year"
    if (day, month) == (29, 2):
        return "'29-02' comes only once every four years"
    return None


class ReportSchedule(Strict):
    """When the bot sends the partnership its report on the procedure's use, and where.

    Each date (DD-MM) closes a period that began on the date before it, so "01-04" and "01-10"
    give the twice-yearly report SP Jersey asks for, each covering the six months before it. On
    each date the business team's channel gets a short summary and ``mailbox`` the report."""

    dates: list[str] = Field(
        default_factory=list,
        description="DD-MM; empty = what the pack's data-collection duty asks (twice a year:"
        " 01-04 and 01-10; yearly: 01-04)",
    )
    mailbox: EmailStr
    audience: str = Field(
        default="", description="Who the report is for; empty = the pack's duty's recipient"
    )
    per_agency: bool = Field(
        default=False,
        description="Also one report per agency, each to the mailbox (SP Jersey's agencies"
        " report their own use to the Quality Assurance Sub-Group)",
    )

    @field_validator("dates")
    @classmethod
    def _dates(cls, value: list[str]) -> list[str]:
        for text in value:
            problem = day_month_problem(text)
            if problem is not None:
                raise ValueError(f"{problem}; fix: write the day then the month, as \"01-04\"")
        if len(set(value)) != len(value):
            raise ValueError("a date is given twice; fix: list each date once")
        return sorted(value, key=lambda text: (text[3:], text[:2]))

class Retention(Strict):
    """How long a partnership keeps a closed case's child details (its retention schedule).

    When the period ends, ``escalation-bot retention`` removes the child's details and every free
    text that may name the child, and keeps what the partnership's statistics need (stages, dates,
    agencies, reason category, outcome choices). Without it nothing is ever removed.
    """

    closed_cases_years: int = Field(
        ge=1,
        le=100,
        description="Whole years a case is kept after it closed (resolved, decided, withdrawn)",
    )


class Partnership(Strict):
    id: Identifier
    name: Text
    policy: Identifier
    reference_prefix: ReferencePrefix = Field(description="Case references look like PREFIX-0042")
    country: CountryCode | None = Field(default=None, description="Defaults to the policy's")
    subdivision: str | None = Field(
        default=None,
        description="Defaults to the policy's when country is not given either; with only a"
        " subdivision, the policy's country in that subdivision (a GB pack run in SCT)",
    )
    time_zone: str | None = Field(default=None, description="Defaults to the policy's zone")
    start_of_business: time = time(9, 0)
    end_of_business: time = time(17, 0)
    closure_days: list[date] = Field(default_factory=list)
    alerts: AlertRouting
    reports: ReportSchedule | None = Field(
        default=None, description="The scheduled report on the procedure's use; none if unset"
    )
    retention: Retention | None = Field(
        default=None, description="The retention schedule; none means closed cases are kept"
    )

    def region(self, policy: Policy) -> tuple[str, str | None, str]:
        """Country, subdivision and time zone: this partnership's where it gives them, else the
        pack's. A subdivision alone keeps the pack's country (a GB pack used in Scotland)."""
        country = self.country or policy.calendar.country
        if self.country or self.subdivision:
            subdivision = self.subdivision
        else:
            subdivision = policy.calendar.subdivision
        return country, subdivision, self.time_zone or policy.calendar.time_zone

    def calendar(self, policy: Policy) -> WorkingCalendar:
        country, subdivision, time_zone = self.region(policy)
        return WorkingCalendar(
            country=country,
            subdivision=subdivision,
            time_zone=time_zone,
            start_of_business=self.start_of_business,
            end_of_business=self.end_of_business,
            closure_days=self.closure_days,
        )


class Agency(Strict):
    id: Identifier
    name: Text
    partnership: Identifier


class PersonEntry(Strict):
    email: EmailStr
    name: Text
    agency: Identifier
    role: Identifier = Field(description="A role id from the partnership's policy pack")
    line_manager: EmailStr | None = None
    teams_aad_object_id: str | None = Field(
        default=None,
        description="Optional: without it the bot learns the account from the person's first"
        " message (matched by the email Teams gives for them)",
    )
    slack_user_id: str | None = None
    prefers: Literal["teams", "slack"] | None = Field(
        default=None,
        description="For someone on both platforms who has not yet messaged the bot: where"
        " their messages go (after that, the one they used last)",
    )

    @field_validator("email", "line_manager")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.lower() if value else value


class Webhook(Strict):
    """Every notification is also POSTed here as signed JSON (Power Automate, a case system).

    The secret is read from the environment variable ``secret_env`` so it never sits in the file.
    Without ``include_child_data`` a 1:1 notification is sent without its card: the receiver gets
    what happened to which case, not the child's details.
    """

    id: Identifier
    url: Annotated[str, StringConstraints(pattern=WEBHOOK_URL_PATTERN)]
    secret_env: Annotated[str, StringConstraints(pattern=ENV_NAME_PATTERN)]
    include_child_data: bool = False
    partnerships: list[Identifier] = Field(
        default_factory=list, description="Only these partnerships' notifications; empty = all"
    )


class Config(Strict):
    partnerships: list[Partnership] = Field(min_length=1)
    agencies: list[Agency] = Field(min_length=1)
    people: list[PersonEntry] = Field(default_factory=list)
    webhooks: list[Webhook] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references_resolve(self) -> Config:
        """Cross-references the later checks rely on (each person's agency, each agency's
    partnership), reported as 'path: what; fix: how' like the pack checks."""
        seen_partnerships: set[str] = set()
        seen_prefixes: set[str] = set()
        for i, partnership in enumerate(self.partnerships):
            if partnership.id in seen_partnerships:
                raise ValueError(
                    f"partnerships[{i}].id: '{partnership.id}' is used twice; fix: make ids unique"
                )
            if partnership.reference_prefix in seen_prefixes:
                raise ValueError(
                    f"partnerships[{i}].reference_prefix: '{partnership.reference_prefix}' is"
                    " used twice, so case references would clash; fix: choose another prefix"
                )
            seen_partnerships.add(partnership.id)
            seen_prefixes.add(partnership.reference_prefix)
        agency_ids: set[str] = set()
        for i, agency in enumerate(self.agencies):
            if agency.partnership not in seen_partnerships:
                raise ValueError(
                    f"agencies[{i}].partnership: '{agency.partnership}' is not configured;"
                    f" fix: use one of {', '.join(sorted(seen_partnerships))}"
                )
            if agency.id in agency_ids:
                raise ValueError(
                    f"agencies[{i}].id: '{agency.id}' is used twice; fix: make ids unique"
                )
            agency_ids.add(agency.id)
        for i, person in enumerate(self.people):
            if person.agency not in agency_ids:
                raise ValueError(
                    f"people[{i}].agency: '{person.agency}' is not in agencies;"
                    " fix: add the agency or correct the id"
                )
        for i, hook in enumerate(self.webhooks):
            for j, partnership_id in enumerate(hook.partnerships):
                if partnership_id not in seen_partnerships:
                    raise ValueError(
                        f"webhooks[{i}].partnerships[{j}]: '{partnership_id}' is not configured;"
                        f" fix: use one of {', '.join(sorted(seen_partnerships))}"
                    )
        # who is who (emails, platform ids, line managers) is checked after parsing, by
        # policy.people_checks, so that every such problem is reported at once
        return self

    def partnership(self, partnership_id: str) -> Partnership:
        for partnership in self.partnerships:
            if partnership.id == partnership_id:
                return partnership
        raise KeyError(f"no partnership '{partnership_id}'")

    def webhooks_for(self, partnership_id: str) -> list[Webhook]:
        return [w for w in self.webhooks if not w.partnerships or partnership_id in w.partnerships]

    def agency(self, agency_id: str) -> Agency:
        for agency in self.agencies:
            if agency.id == agency_id:
                return agency
        raise KeyError(f"no agency '{agency_id}'")


def load_config(
    path: Path | str, policies: PolicyRegistry, environ: Mapping[str, str] | None = None
) -> Config:
    """Parse, validate and cross-check a config against the packs it names.

    Once the file parses, every remaining problem (roles, stages, who is who, and with
    ``environ`` the webhook secrets) is reported in one go, so fixing a file does not take one
    run per mistake. Only the callers that vouch for a deployment (serve, config check) pass
    ``environ``: loading never reads the environment by itself.
    """
    path = Path(path)
    document = read_yaml_document(path)
    duplicates = list(document.duplicate_keys)
    try:
        config = Config.model_validate(document.data)
    except ValidationError as exc:
        problems = [*duplicates, *problems_from_validation(exc)]
        raise FileProblems(path, document.located(problems)) from None
    problems = [*duplicates, *_check_against_policies(config, policies), *people_problems(config)]
    if environ is not None:
        problems += unset_webhook_secrets(config.webhooks, environ)
    if problems:
        raise FileProblems(path, document.located(problems))
    return config


def _check_against_policies(config: Config, policies: PolicyRegistry) -> list[Problem]:
    problems: list[Problem] = []
    agency_partnership = {a.id: a.partnership for a in config.agencies}
    for index, partnership in enumerate(config.partnerships):
        where = f"partnerships[{index}]"
        try:
            policy = policies.get(partnership.policy)
        except BrokenPack as exc:
            problems.append(Problem(f"{where}.policy", exc.message, exc.fix))
            continue
        except KeyError as exc:
            problems.append(
                Problem(f"{where}.policy", str(exc.args[0]), "use one of `policy list`'s ids")
            )
            continue
        country, subdivision, time_zone = partnership.region(policy)
        region = region_problem(country, subdivision) or time_zone_problem(time_zone)
        if region is not None:
            problems.append(Problem(f"{where}.{region.field}", region.message, region.fix))
        else:
            try:
                partnership.calendar(policy)
            except CalendarError as exc:
                problems.append(
                    Problem(where, str(exc), "correct start_of_business or end_of_business")
                )
        for number in partnership.alerts.stages:
            if number not in {s.number for s in policy.stages}:
                problems.append(
                    Problem(
                        f"{where}.alerts.stages.{number}",
                        f"policy {policy.id} has no stage {number}",
                        f"use stage numbers 1 to {len(policy.stages)}",
                    )
                )
    for index, person in enumerate(config.people):
        partnership = config.partnership(agency_partnership[person.agency])
        try:
            policy = policies.get(partnership.policy)
        except KeyError:
            continue
        role_ids = [r.id for r in policy.roles]
        if person.role not in role_ids:
            problems.append(
                Problem(
                    f"people[{index}].role",
                    f"role '{person.role}' is not a role of policy {policy.id}",
                    f"use one of: {', '.join(role_ids)}",
                )
            )
    return problems
