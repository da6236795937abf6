"""Prometheus metrics. Gauges about cases are read from the store at scrape time, so every
replica reports the shared truth rather than its own share of it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from dialogs.ports import Clock, Store

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_LAG_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, 86400)


class _CaseCollector(Collector):
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store, self.clock = store, clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        open_cases = GaugeMetricFamily(
            "escalation_open_cases",
            "Open cases by partnership and stage",
            labels=["partnership", "stage"],
        )
        for (partnership, stage), count in sorted(self.store.open_case_counts().items()):
            open_cases.add_metric([partnership, str(stage)], count)
        yield open_cases
        yield GaugeMetricFamily(
            "escalation_deadlines_overdue",
            "Deadlines past due and not yet processed (the scheduler's backlog)",
            value=self.store.count_due(self.clock.now()),
        )
        yield GaugeMetricFamily(
            "escalation_notifications_due",
            "Messages due for delivery and not yet sent (the outbox backlog, e.g. after a"
            " restart or the 09:00 release of what was held overnight)",
            value=self.store.count_due_notifications(self.clock.now()),
        )


class Metrics:
    """One registry per process (and per test app), so nothing global leaks between them."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_CaseCollector(store, clock))
        self.tick_lag = Histogram(
            "escalation_scheduler_tick_lag_seconds",
            "How late a tick started against its interval",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.claim_latency = Histogram(
            "escalation_scheduler_claim_seconds",
            "Time to claim a batch of due deadlines",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.deadline_lag = Histogram(
            "escalation_deadline_lag_seconds",
            "From a deadline's due time to its processing",
            buckets=_LAG_BUCKETS,
            registry=self.registry,
        )
        self.last_tick = Gauge(
            "escalation_scheduler_last_tick_timestamp_seconds",
            "When the last tick finished",
            registry=self.registry,
        )
        self.notifications_sent = Counter(
            "escalation_notifications_sent",
            "Notifications delivered",
            ["platform"],
            registry=self.registry,
        )
        self.notifications_failed = Counter(
            "escalation_notifications_failed",
            "Notification deliveries that failed",
            ["platform"],
            registry=self.registry,
        )
        self.deadline_contended = Counter(
            "escalation_deadline_contended",
            "Deadline fires refused as stale because a person's command committed first (each"
            " is re-read and retried; outcome 'released' means given back for the next tick)",
            ["outcome"],
            registry=self.registry,
        )
        self.requests = Counter(
            "escalation_inbound_requests",
            "Inbound HTTP requests",
            ["route", "status"],
            registry=self.registry,
        )

    # scheduler.runner.Observer
    def claimed(self, seconds: float, count: int) -> None:
        self.claim_latency.observe(seconds)

    def fired(self, lag_seconds: float) -> None:
        self.deadline_lag.observe(max(lag_seconds, 0.0))

    def contended(self, released: bool) -> None:
        self.deadline_contended.labels(outcome="released" if released else "retried").inc()

    def delivered(self, platform: str, ok: bool) -> None:
        counter = self.notifications_sent if ok else self.notifications_failed
        counter.labels(platform=platform).inc()

    def ticked(self, at: datetime) -> None:
        self.last_tick.set(at.timestamp())
