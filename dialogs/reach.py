"""On which platform one person gets a message: one decision, whatever the notifiers are.

A person is reachable on Teams, on Slack, on both, or only by email. Someone on both gets each
message once, where they are most likely to see it: the platform they last wrote to the bot on,
else the one the directory says they prefer, else Teams (a fixed choice, so retries of one
message never land on two platforms).
"""

from __future__ import annotations

TEAMS, SLACK, EMAIL = "teams", "slack", "email"


def platform_for_person(
    on_teams: bool, on_slack: bool, last_used: str | None, prefers: str | None
) -> str:
    """``teams``, ``slack`` or ``email``. ``last_used`` and ``prefers`` count only where the
    person is reachable now (an account removed since does not strand their messages)."""
    reachable = [name for name, ok in ((TEAMS, on_teams), (SLACK, on_slack)) if ok]
    if not reachable:
        return EMAIL
    for choice in (last_used, prefers):
        if choice in reachable:
            return choice
    return reachable[0]
