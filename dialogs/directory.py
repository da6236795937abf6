"""People and who stands above whom: how the engine finds the next tier for each agency."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from policy.config import Config, PersonEntry


class Person(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    email: str
    name: str
    agency: str
    agency_name: str
    partnership_id: str
    role: str
    line_manager: str | None = None
    teams_aad_object_id: str | None = None
    slack_user_id: str | None = None
    prefers: Literal["teams", "slack"] | None = None  # see policy.config.PersonEntry


def people_from_config(config: Config) -> list[Person]:
    """The configured people as directory entries the engine can route by."""
    return [person_from_entry(entry, config) for entry in config.people]


def person_from_entry(entry: PersonEntry, config: Config) -> Person:
    """A checked entry (from the configuration or an import) as the directory keeps it."""
    agency = config.agency(entry.agency)
    return Person(
        email=entry.email,
        name=entry.name,
        agency=entry.agency,
        agency_name=agency.name,
        partnership_id=agency.partnership,
        role=entry.role,
        line_manager=entry.line_manager,
        teams_aad_object_id=entry.teams_aad_object_id,
        slack_user_id=entry.slack_user_id,
        prefers=entry.prefers,
    )


def entry_from_person(person: Person) -> PersonEntry:
    """A directory entry as the checks read the configuration's (policy.people_import)."""
    return PersonEntry(
        email=person.email,
        name=person.name,
        agency=person.agency,
        role=person.role,
        line_manager=person.line_manager,
        teams_aad_object_id=person.teams_aad_object_id,
        slack_user_id=person.slack_user_id,
        prefers=person.prefers,
    )
