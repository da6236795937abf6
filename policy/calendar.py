"""Working days in a partnership's own place and time zone.

Every deadline in a procedure is counted in working days ("within 2 working days"), so this is the
only place that turns an allowance into an instant. The definition (also in README.md):

* A working day is Monday to Friday, except the region's public holidays (any country and
  subdivision the ``holidays`` package knows: JE, GG, IM, IE, GB with its nation ...) and the
  partnership's configured closure days.
* Something that starts at local time S with an allowance of N >= 1 working days is due at end of
  business (default 17:00) on the Nth working day strictly after S's local date.
* An allowance of 0 ("the same day") is due at end of business on S's date when that date is a
  working day and S is before end of business; otherwise (S at or after end of business, or on a
  non-working day) at end of business on the next working day. So nothing starts already due: a
  stage entered by lapse at 17:00 gives its same-day step until 17:00 the next working day.
* Notifications that fall outside working time wait for the next working time (default 09:00).
* An allowance of N >= 1 working hours counts only time inside business hours on working days:
  a start outside them counts from the next opening, and the hours carry over from one working
  day's close to the next one's opening (16:00 Friday + 2 working hours = 10:00 Monday). A
  deadline that lands exactly on the close is due at the close, not at the next opening.
* An allowance of N >= 1 elapsed hours is N hours of real time, nights, weekends and holidays
  included, counted in UTC so that a clock change does not add or take away an hour.

All arithmetic happens on local dates and wall-clock times; results are aware datetimes, so a
deadline across a daylight-saving change is still 17:00 local.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays
import holidays.registry
from holidays.holiday_base import HolidayBase

_SATURDAY = 5
_MAX_SEARCH_DAYS = 3660  # ten years of calendar days: far beyond any procedure's allowance


class CalendarError(ValueError):
    """A calendar that cannot be built (unknown zone, region or business hours)."""


# Countries whose subdivisions keep different public holidays so far apart that the country alone
# would be wrong for every partnership in it: England, Wales, Scotland and Northern Ireland.
SUBDIVISION_REQUIRED = frozenset({"GB"})

_EXAMPLE_COUNTRIES = "JE, GG, IM, IE or GB"


@dataclass(frozen=True)
class RegionProblem:
    """What is wrong with a calendar's country, subdivision or zone, in the words the pack check
    and the configuration check print: the field it is about, what is wrong and the fix."""

    field: str  # "country", "subdivision" or "time_zone"
    message: str
    fix: str


@lru_cache(maxsize=1)
def supported_regions() -> dict[str, tuple[str, ...]]:
    """Every country code the ``holidays`` package has a calendar for, with its subdivision
    codes: the one source of which regions a pack or a partnership may name."""
    return {
        code: tuple(subdivisions)
        for code, subdivisions in holidays.list_supported_countries(include_aliases=False).items()
    }


def _squash(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    """Squashed names and aliases ("isleofman", "uk", "gbr") -> the code to write, so that a
    country written by name is pointed to its code."""
    known = supported_regions()
    names: dict[str, str] = {}
    registry = getattr(getattr(holidays, "registry", None), "COUNTRIES", {})
    for module, entry in registry.items():
        code = entry[1] if len(entry) > 1 else ""
        if code not in known:
            continue
        for alias in (module, *entry):
            if isinstance(alias, str) and not alias.startswith("Holidays"):
                names.setdefault(_squash(alias), code)
    return names


def closest_countries(country: str) -> list[str]:
    """The codes someone who wrote ``country`` most likely meant, best first (at most three)."""
    by_name = _country_names()
    exact = by_name.get(_squash(country))
    if exact:
        return [exact]
    near_names = difflib.get_close_matches(_squash(country), list(by_name), n=3, cutoff=0.75)
    near_codes = difflib.get_close_matches(country.upper(), list(supported_regions()), n=3)
    return list(dict.fromkeys([*(by_name[n] for n in near_names), *near_codes]))[:3]


_COUNTRIES_PACKAGE = "holidays.countries"


def _country_module(module: str) -> object:
    """``holidays.countries.<module>`` imported without running ``holidays/countries/__init__``,
    which imports all ~250 country modules (0.1-0.3 s of every start) to re-export them. While
    the package has not been imported, an unexecuted package object (the real spec and search
    path) stands in for it during the import, so the module, and any sibling it imports itself
    (the Isle of Man's imports the United Kingdom's), load by the ordinary machinery; it is
    removed afterwards, so a later ``import holidays.countries`` runs the package as usual and
    finds these modules already loaded. Under the package's own import lock, which its lazy
    loaders (``holidays.country_holidays``) take too. ``tests/test_cold_start.py`` fails if a
    release of the package stops working this way."""
    name = f"{_COUNTRIES_PACKAGE}.{module}"
    if name in sys.modules or _COUNTRIES_PACKAGE in sys.modules:
        return importlib.import_module(name)
    with holidays.registry.IMPORT_LOCK:
        if name in sys.modules or _COUNTRIES_PACKAGE in sys.modules:  # while we waited
            return importlib.import_module(name)
        spec = importlib.util.find_spec(_COUNTRIES_PACKAGE)
        if spec is None or spec.submodule_search_locations is None:
            return importlib.import_module(name)  # not a package as expected: the usual way
        sys.modules[_COUNTRIES_PACKAGE] = importlib.util.module_from_spec(spec)
        try:
            return importlib.import_module(name)
        finally:
            del sys.modules[_COUNTRIES_PACKAGE]


@lru_cache(maxsize=64)
def country_class(country: str) -> type[HolidayBase] | None:
    """The class ``holidays.country_holidays(country)`` builds (any code or alias the package
    lists for a country), found in the package's registry and imported alone (see
    ``_country_module``); None for a name the package does not know."""
    for module, names in holidays.registry.COUNTRIES.items():
        if country in names:
            found = getattr(_country_module(module), country, None)
            return found if isinstance(found, type) and issubclass(found, HolidayBase) else None
    return None


@lru_cache(maxsize=64)
def subdivisions_of(country: str) -> tuple[str, ...] | None:
    """One country's subdivision codes, or None if the ``holidays`` package has no calendar for
    it. Imports that one country's module (``country_class``): ``supported_regions`` imports all
    ~250 (0.2-0.7 s of every start), so it is kept for the error messages."""
    entity = country_class(country)
    if entity is None:
        return None
    if getattr(entity, "country", None) != country:  # an alias: as the full list says
        return supported_regions().get(country)
    return tuple(getattr(entity, "subdivisions", ()))


def region_problem(country: str, subdivision: str | None) -> RegionProblem | None:
    """Whether the ``holidays`` package has a calendar for this country and subdivision; the
    valid codes are in the fix, so nobody has to look them up."""
    subdivisions = subdivisions_of(country)
    if subdivisions is None:
        closest = closest_countries(country)
        hint = f"did you mean {' or '.join(closest)}? " if closest else ""
        return RegionProblem(
            "country",
            f"'{country}' is not a country code the holidays package has a calendar for",
            f"{hint}use the country's two-letter ISO 3166 code, e.g. {_EXAMPLE_COUNTRIES}"
            " (docs/policy-format.md#calendar says where the full list is)",
        )
    if subdivision is None:
        if country in SUBDIVISION_REQUIRED:
            return RegionProblem(
                "subdivision",
                f"country {country} needs a subdivision: {', '.join(subdivisions)}",
                f"add subdivision: one of {', '.join(subdivisions)}",
            )
        return None
    if not subdivisions:
        return RegionProblem(
            "subdivision",
            f"country {country} has no subdivisions in the holidays package; remove it",
            "remove subdivision",
        )
    if subdivision not in subdivisions:
        return RegionProblem(
            "subdivision",
            f"'{subdivision}' is not a subdivision of {country} the holidays package knows",
            f"use one of {', '.join(subdivisions)}",
        )
    return None


def time_zone_problem(time_zone: str) -> RegionProblem | None:
    """Whether ``time_zone`` is an IANA zone this machine knows (tzdata)."""
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        near = difflib.get_close_matches(time_zone, sorted(available_timezones()), n=3)
        hint = f"did you mean {' or '.join(near)}? " if near else ""
        return RegionProblem(
            "time_zone",
            f"unknown time zone '{time_zone}'",
            f"{hint}use an IANA time zone name, e.g. Europe/London, Europe/Jersey,"
            " Europe/Guernsey, Europe/Isle_of_Man or Europe/Dublin",
        )
    return None


@lru_cache(maxsize=64)
def _public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """As ``holidays.country_holidays(country, subdiv=subdivision, years=year)``, whose defaults
    the class's own are, without importing every other country."""
    entity = country_class(country)
    unknown = CalendarError(f"no public holiday calendar for region {country}")
    if entity is None:
        raise unknown
    try:
        table = entity(years=year, subdiv=subdivision)
    except NotImplementedError as exc:  # what holidays raises for a region it does not know
        raise unknown from exc
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
        problem = region_problem(country, subdivision) or time_zone_problem(time_zone)
        if problem is not None:
            raise CalendarError(f"{problem.field}: {problem.message}; fix: {problem.fix}")
        self.zone = ZoneInfo(time_zone)
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

    def add_working_hours(self, start: datetime, hours: int) -> datetime:
        """``hours`` (>= 1) of business time after ``start``: only working days' business hours
        count, so a procedure's "within 48 working hours" raised late on a Friday runs into the
        following weeks. Zero is refused: it would be due the moment it started."""
        if hours < 1:
            raise ValueError("an allowance in hours must be at least 1 hour")
        moment = self.next_working_time(start)
        remaining = timedelta(hours=hours)
        for _ in range(_MAX_SEARCH_DAYS):
            wall = moment.replace(tzinfo=None)  # business hours are wall-clock times
            left = datetime.combine(wall.date(), self.end_of_business) - wall
            if remaining <= left:
                return (wall + remaining).replace(tzinfo=self.zone)
            remaining -= left
            moment = self.at(self.next_working_day(wall.date()), self.start_of_business)
        raise CalendarError(f"no end to {hours} working hours within ten years")

    def add_elapsed_hours(self, start: datetime, hours: int) -> datetime:
        """``hours`` (>= 1) of real time after ``start``, in the partnership's zone. Counted in
        UTC: across the clock change in March 24 hours from 10:00 is 11:00 the next day."""
        if hours < 1:
            raise ValueError("an allowance in hours must be at least 1 hour")
        return self.local(self.local(start).astimezone(UTC) + timedelta(hours=hours))

    def business_day_hours(self) -> float:
        """How long a working day's business hours are, in hours (8 by default)."""
        day = date(2000, 1, 3)
        length = datetime.combine(day, self.end_of_business) - datetime.combine(
            day, self.start_of_business
        )
        return length.total_seconds() / 3600
