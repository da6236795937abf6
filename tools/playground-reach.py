"""Who the example case reaches in Teams but cannot reach through the Playgrounds `make run`
started: printed by tools/run.sh beside the Playground addresses, so nobody wonders where a
message went.

    python tools/playground-reach.py NEXT_PORT PERSON...

PERSON is a started Playground user (alex, megan, adele, isaiah, patti, lynne); NEXT_PORT the
first free Playground port, for the command that starts a missing page; PLAYGROUND_BOT_ENDPOINT
(set by tools/run.sh) the bot's /api/messages, when not the default. The configuration is
ESCALATION_BOT_CONFIG's, else the example. Prints nothing when everyone is reachable.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# tools/playground.sh's built-in users, in its order: their AAD object ids end 20, 21, ... 25
USERS = ["alex", "megan", "adele", "isaiah", "patti", "lynne"]
AAD = {f"00000000-0000-0000-0000-{20 + i:013d}": user for i, user in enumerate(USERS)}


DEFAULT_ENDPOINT = "http://127.0.0.1:3978/api/messages"


def lines(
    config: Path, started: list[str], next_port: int, endpoint: str = DEFAULT_ENDPOINT
) -> list[str]:
    data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    people = data.get("people") or []
    agencies = {a.get("id"): a for a in data.get("agencies") or []}

    def partnership(person: dict[str, str]) -> str:
        return str(agencies.get(person.get("agency"), {}).get("partnership", ""))

    # the partnerships of the people whose pages are open: that is where their cases run
    here = {
        partnership(p)
        for p in people
        if AAD.get(str(p.get("teams_aad_object_id", "")).lower()) in started
    }
    startable, unplayable = [], []
    for person in people:
        aad = str(person.get("teams_aad_object_id", "")).lower()
        if not aad or partnership(person) not in here:
            continue  # email only, or another partnership's
        user = AAD.get(aad)
        agency = agencies.get(person.get("agency"), {}).get("name", person.get("agency"))
        role = str(person.get("role", "")).replace("_", " ")
        who = f"{person.get('name')} ({role}, {agency})"
        if user is None:
            unplayable.append(who)
        elif user not in started:
            startable.append((who, user))
    out = []
    if startable or unplayable:
        out.append("Reached by the example case but with no Playground page open here:")
    extra = "" if endpoint == DEFAULT_ENDPOINT else f" {endpoint}"
    for offset, (who, user) in enumerate(startable):
        out.append(
            f"  {who}: open their page with"
            f"  tools/playground.sh {user} {next_port + offset}{extra}"
        )
    if startable:
        everyone = " ".join([*started, *(user for _, user in startable)])
        out.append(f"  (or start them all: PLAYGROUND_PEOPLE=\"{everyone}\" make run)")
    if unplayable:
        out.append(
            f"  {', '.join(unplayable)}: the Playground has no user for them (it has six), so"
            " messages to them fail; each failure is a 'not delivered by teams' line in the log."
        )
    return out


def main(argv: list[str]) -> int:
    if len(argv) < 1 or not argv[0].isdigit():
        print(__doc__, file=sys.stderr)
        return 2
    config = Path(os.environ.get("ESCALATION_BOT_CONFIG") or ROOT / "examples/partnerships.yaml")
    try:
        endpoint = os.environ.get("PLAYGROUND_BOT_ENDPOINT") or DEFAULT_ENDPOINT
        found = lines(config, argv[1:], int(argv[0]), endpoint)
    except (OSError, yaml.YAMLError) as exc:
        print(f"playground-reach: cannot read {config}: {exc}", file=sys.stderr)
        return 1
    if found:
        print("\n".join(found))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
