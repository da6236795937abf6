"""`escalation-bot retention [--dry-run]`: apply each partnership's retention schedule.

The business team's tool, run on the server beside the bot (or from cron) with the bot's store.
For every closed case whose retention period has ended it removes the child's details and free
texts (dialogs.retention decides which), the case's outbox rows and deadlines, in one store
transaction per case, and appends an event saying so. The same pass prunes delivered
notifications older than ``SENT_NOTIFICATION_DAYS`` and expired duplicate-guard markers and
conversations. ``--dry-run`` prints the same plan and changes nothing. Nothing printed carries a
child's details: references, dates, field names and counts only.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import datetime

from redis.exceptions import RedisError

from bot.bootstrap import App, bootstrap_reader
from bot.settings import Settings, SettingsError, shown_url
from bot.tool_store import ToolProblem, open_tool_store
from dialogs import texts
from dialogs.clock import SystemClock
from dialogs.errors import DomainError
from dialogs.ports import Clock, StaleVersion
from dialogs.retention import (
    SENT_NOTIFICATION_DAYS,
    Anonymised,
    RetentionDue,
    anonymise,
    due,
    retention_event,
    sent_before,
)
from policy.calendar import CalendarError

EXIT_OK, EXIT_PROBLEM = 0, 1


@dataclass(frozen=True)
class CasePlan:
    due: RetentionDue
    anonymised: Anonymised
    outbox_keys: list[str]
    deadlines: int


@dataclass
class Plan:
    cases: list[CasePlan] = field(default_factory=list)
    sent_keys: list[str] = field(default_factory=list)
    sent_before: datetime | None = None
    markers: int = 0
    sessions: int = 0
    notes: list[str] = field(default_factory=list)


def plan_retention(app: App, partnership_id: str | None, config_name: str) -> Plan:
    """What a run would do now, read from the store; nothing is written."""
    config = app.config
    known = [p.id for p in config.partnerships]
    if partnership_id is not None and partnership_id not in known:
        raise ToolProblem(texts.RETENTION_UNKNOWN_PARTNERSHIP.format(
            partnership=partnership_id, config=config_name, known=", ".join(known)))
    chosen = [p for p in config.partnerships if partnership_id in (None, p.id)]
    now = app.clock.now()
    cutoff = sent_before(now)
    plan = Plan(sent_before=cutoff)
    for partnership in chosen:
        if partnership.retention is None:
            plan.notes.append(texts.RETENTION_NO_SCHEDULE.format(
                partnership=partnership.id, config=config_name))
            continue
        years = partnership.retention.closed_cases_years
        found = [d for d in (due(c, years, now) for c in app.store.all_cases(partnership.id))
                 if d is not None]
        rows = app.store.outbox_keys([d.case.id for d in found])
        for item in found:
            case = item.case
            try:
                policy = app.engine.policy_for(case)
            except DomainError as exc:
                raise ToolProblem(f"retention: {case.reference}: {exc}") from None
            plan.cases.append(CasePlan(
                due=item,
                anonymised=anonymise(case, policy, now),
                outbox_keys=rows.get(case.id, []),
                deadlines=len(app.store.deadlines_for_case(case.id)),
            ))
    # a case's own rows go with the case; the prune takes the rest
    with_cases = {key for c in plan.cases for key in c.outbox_keys}
    plan.sent_keys = [k for k in app.store.sent_notification_keys(cutoff)
                      if k not in with_cases]
    plan.markers, plan.sessions = app.store.expired_counts(now)
    return plan


@dataclass(frozen=True)
class Applied:
    anonymised: list[str]
    stale: list[str]
    sent_removed: int
    markers_removed: int
    sessions_removed: int


def apply_plan(app: App, plan: Plan) -> Applied:
    """One transaction per case; a case changed since the plan was read is left alone."""
    done: list[str] = []
    stale: list[str] = []
    now = app.clock.now()
    for item in plan.cases:
        case = item.due.case
        event = retention_event(item.due, item.anonymised, len(item.outbox_keys), now)
        try:
            app.store.anonymise_case(item.anonymised.case, case.version, [event],
                                     item.outbox_keys)
        except StaleVersion:
            stale.append(case.reference)
            continue
        done.append(case.reference)
    assert plan.sent_before is not None
    sent = app.store.delete_sent_notifications(plan.sent_keys, plan.sent_before)
    markers = app.store.purge_markers(now)
    sessions = app.store.purge_sessions(now)
    return Applied(done, stale, sent, markers, sessions)


def describe(plan: Plan, *, dry_run: bool) -> list[str]:
    verb = "would anonymise" if dry_run else "anonymising"
    remove = "would remove" if dry_run else "removing"
    lines = list(plan.notes)
    for item in plan.cases:
        found = item.due
        lines.append(texts.RETENTION_CASE_LINE.format(
            reference=found.case.reference,
            closed=found.closed_at.date().isoformat(),
            years=found.years,
            ends=found.ends_at.date().isoformat(),
            verb=verb,
            remove=remove,
            fields=len(item.anonymised.fields),
            paths=", ".join(item.anonymised.fields) or "-",
            rows=len(item.outbox_keys),
            deadlines=item.deadlines,
        ))
    if not plan.cases:
        lines.append(texts.RETENTION_NOTHING_DUE)
    assert plan.sent_before is not None
    lines.append(texts.RETENTION_SENT.format(
        before=plan.sent_before.date().isoformat(), days=SENT_NOTIFICATION_DAYS,
        verb=remove, count=len(plan.sent_keys)))
    lines.append(texts.RETENTION_EXPIRED.format(
        verb=remove, markers=plan.markers,
        sessions=plan.sessions))
    return lines


def run_retention(
    dry_run: bool,
    partnership_id: str | None,
    database: str | None,
    config: str | None,
    clock: Clock | None = None,
) -> int:
    try:
        settings = Settings.from_env(config, database)
    except SettingsError as exc:
        print(f"settings: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    try:
        store, _where = open_tool_store(
            settings, explicit_database=database is not None, command="retention"
        )
        try:
            app = bootstrap_reader(settings.config_path, store, clock or SystemClock(),
                                   settings.extra_packs)
            plan = plan_retention(app, partnership_id, str(settings.config_path))
            for line in describe(plan, dry_run=dry_run):
                print(line)
            if dry_run:
                return EXIT_OK
            applied = apply_plan(app, plan)
        finally:
            store.close()
    except ToolProblem as exc:
        print(exc, file=sys.stderr)
        return EXIT_PROBLEM
    except CalendarError as exc:
        print(f"{settings.config_path}: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    except RedisError as exc:
        print(texts.TOOL_NO_REDIS.format(command="retention", url=shown_url(settings.redis_url),
                                         reason=exc), file=sys.stderr)
        return EXIT_PROBLEM
    for reference in applied.stale:
        print(texts.RETENTION_STALE.format(reference=reference), file=sys.stderr)
    print(texts.RETENTION_DONE.format(cases=len(applied.anonymised)))
    return EXIT_PROBLEM if applied.stale else EXIT_OK
