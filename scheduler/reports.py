"""The scheduled report: on each of a partnership's report dates, queue the summary for the
business team's channel and the report for the partnership's mailbox, once across replicas.

Queuing is idempotent by key (``Store.queue_notifications`` keeps the first row), so two
replicas that both find a report owed still send it once; a short ``mark_once`` claim spares
the second one counting every case for nothing. A replica that dies after claiming leaves the
report unqueued, and the claim expires after ``CLAIM_SECONDS``, so another replica (or the same
one after its restart) queues it then. Sending goes through the outbox like every message:
leases, retries, and the failure alert if a mailbox refuses it.
"""

from __future__ import annotations

import logging

from dialogs.ports import Clock, Store
from dialogs.reports.build import build_report
from dialogs.reports.schedule import audience_for, dates_for, due_report, report_notifications
from policy.config import Config
from policy.loader import PolicyRegistry

log = logging.getLogger("escalation_bot.reports")

CLAIM_SECONDS = 600.0


def queue_due_reports(
    store: Store, config: Config, policies: PolicyRegistry, clock: Clock
) -> int:
    """Queue every report owed now; returns how many notifications this call queued."""
    added = 0
    now = clock.now()
    for partnership in config.partnerships:
        schedule = partnership.reports
        if schedule is None:
            continue
        policy = policies.get(partnership.policy)
        calendar = partnership.calendar(policy)
        due = due_report(dates_for(schedule, policy), calendar.local(now).date())
        if due is None or store.notification(due.key(partnership.id, "email")) is not None:
            continue
        if not store.mark_once(due.key(partnership.id, "claim"), now, CLAIM_SECONDS):
            continue  # another replica is counting it now
        audience = audience_for(schedule, policy)
        agencies: list[str | None] = [None]
        if schedule.per_agency:
            agencies += [a.id for a in config.agencies if a.partnership == partnership.id]
        built = [
            build_report(
                store, config, policies, partnership_id=partnership.id, period=due.period,
                now=now, agency=agency, audience=audience,
            )
            for agency in agencies
        ]
        notes = report_notifications(
            partnership, due, [(b.figures, b.report) for b in built], str(schedule.mailbox),
            calendar.next_working_time(now),
        )
        store.queue_notifications(notes)  # keys already queued add nothing
        added += len(notes)
        log.info("report of %s for %s queued (%d messages)", partnership.id,
                 due.on.isoformat(), len(notes))
    return added
