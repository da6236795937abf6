"""People and who stands above whom: how the engine finds the next tier for each agency."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from policy.config import Config


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
    prefers: str | None = None  # "teams" or "slack": see policy.config.PersonEntry


def people_from_config(config: Config) -> list[Person]:
    """The configured people as directory entries the engine can route by."""
    agencies = {a.id: a for a in config.agencies}
    return [
        Person(
            email=entry.email,
            name=entry.name,
            agency=entry.agency,
            agency_name=agencies[entry.agency].name,
            partnership_id=agencies[entry.agency].partnership,
            role=entry.role,
            line_manager=entry.line_manager,
            teams_aad_object_id=entry.teams_aad_object_id,
            slack_user_id=entry.slack_user_id,
            prefers=entry.prefers,
        )
        for entry in config.people
    ]
