"""Clocks. Tests and the demo move time with SimulatedClock; nothing in the bot ever sleeps to wait
for a deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the simulated clock needs an aware start time")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("naive datetime")
        if moment < self._now:
            raise ValueError("the simulated clock never goes backwards")
        self._now = moment

    def advance(self, delta: timedelta) -> None:
        self.set(self._now + delta)


class ShiftedClock:
    """Real time, moved so that it reads ``start`` when created, then runs at normal speed.

    For tests and benchmarks of the real server: its deadlines can be made due without touching
    the machine's clock, while leases still expire as real time passes.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the shifted clock needs an aware start time")
        self._offset = start - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset
