"""Working days in a partnership's own place and time zone.

Every deadline in a procedure is counted in working days ("within 2 working days"), so this is the
only place that turns an allowance into an instant. The definition (also in README.md):

* A working day is Monday to Friday, except the region's public holidays (``holidays``: JE, or GB
  with its subdivision) and the partnership's configured closure days.
* Something that starts at local time S with an allowance of N >= 1 working days is due at end of
  business (default 17:00) on the Nth working day strictly after S's local date.
* An allowance of 0 ("the same day") is due at end of business on S's date when that date is a
  working day and S is before end of business; otherwise (S at or after end of business, or on a
  non-working day) at end of business on the next working day. So nothing starts already due: a
  stage entered by lapse at 17:00 gives its same-day step until 17:00 the next working day.
* Notifications that fall outside working time wait for the next working time (default 09:00).

All arithmetic happens on local dates and wall-clock times; results are aware datetimes, so a
deadline across a daylight-saving change is still 17:00 local.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

_SATURDAY = 5
_MAX_SEARCH_DAYS = 3660  # ten years of calendar days: far beyond any procedure's allowance


class CalendarError(ValueError):
    """A calendar that cannot be built (unknown zone, region or business hours)."""


@lru_cache(maxsize=64)
def _public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    try:
        table = holidays.country_holidays(country, subdiv=subdivision, years=year)
    except NotImplementedError as exc:
        raise CalendarError(f"no public holiday calendar for region {country}") from exc
    return frozenset(table.keys())


class WorkingCalendar:
    """Mon-Fri minus public holidays and closure days, in one time zone."""

    def __init__(
        self,
        *,
        country: str,
        subdivision: str | None,
        time_zone: str,
        start_of_business: time = time(9, 0),
        end_of_business: time = time(17, 0),
        closure_days: Iterable[date] = (),
    ) -> None:
        if country not in {"JE", "GB"}:
            raise CalendarError(
                f"region '{country}' is not supported: use JE, or GB with a subdivision"
            )
        if country == "GB" and subdivision not in {"ENG", "WLS", "SCT", "NIR"}:
            raise CalendarError("region GB needs a subdivision: ENG, WLS, SCT or NIR")
        try:
            self.zone = ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CalendarError(f"unknown time zone '{time_zone}'") from exc
        if not start_of_business < end_of_business:
            raise CalendarError("start of business must be before end of business")
        _public_holidays(country, subdivision, 2000)  # fail now, not at the first deadline
        self.country = country
        self.subdivision = subdivision
        self.time_zone = time_zone
        self.start_of_business = start_of_business
        self.end_of_business = end_of_business
        self.closure_days = frozenset(closure_days)

    def is_holiday(self, day: date) -> bool:
        return day in _public_holidays(self.country, self.subdivision, day.year)

    def is_working_day(self, day: date) -> bool:
        return (
            day.weekday() < _SATURDAY and day not in self.closure_days and not self.is_holiday(day)
        )

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        candidate = day
        for _ in range(_MAX_SEARCH_DAYS):
            candidate += timedelta(days=1)
            if self.is_working_day(candidate):
                return candidate
        raise CalendarError(f"no working day within ten years after {day.isoformat()}")

    def add_working_days(self, day: date, n: int) -> date:
        """The Nth working day strictly after ``day`` (N >= 1)."""
        if n < 1:
            raise ValueError("n must be at least 1")
        for _ in range(n):
            day = self.next_working_day(day)
        return day

    def local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("naive datetime: every instant must carry its UTC offset")
        return moment.astimezone(self.zone)

    def at(self, day: date, wall_clock: time) -> datetime:
        return datetime.combine(day, wall_clock, tzinfo=self.zone)

    def due(self, start: datetime, working_days: int) -> datetime:
        """When something starting at ``start`` with an allowance of N working days is due."""
        if working_days < 0:
            raise ValueError("an allowance cannot be negative")
        local_start = self.local(start)
        start_day = local_start.date()
        if working_days == 0:
            # strictly before: started at end of business, it would be due the moment it began
            same_day_ok = (
                self.is_working_day(start_day) and local_start.time() < self.end_of_business
            )
            day = start_day if same_day_ok else self.next_working_day(start_day)
        else:
            day = self.add_working_days(start_day, working_days)
        return self.at(day, self.end_of_business)

    def is_working_time(self, moment: datetime) -> bool:
        local_moment = self.local(moment)
        return self.is_working_day(local_moment.date()) and (
            self.start_of_business <= local_moment.time() < self.end_of_business
        )

    def next_working_time(self, moment: datetime) -> datetime:
        """``moment`` itself if it is working time, else the next start of business."""
        if self.is_working_time(moment):
            return self.local(moment)
        local_moment = self.local(moment)
        day = local_moment.date()
        if self.is_working_day(day) and local_moment.time() < self.start_of_business:
            return self.at(day, self.start_of_business)
        return self.at(self.next_working_day(day), self.start_of_business)

    def start_of_due_day(self, due: datetime) -> datetime:
        """Start of business on a deadline's day: when the 'due today' reminder goes out."""
        return self.at(self.local(due).date(), self.start_of_business)
