"""Any region the ``holidays`` package knows is a pack calendar (issue 9): Guernsey, Ireland and
Scotland packs compute every stage's due date from that region's own holidays.

Each pack here is invented (a copy of NSSCP's with a new id and calendar), written to a real file
and loaded as `policy check` and the bot load it. The expected dates are not typed in: they are
counted from ``holidays.country_holidays(...)`` by a deliberately naive reference (walk the days,
skip weekends and the package's holidays), and every case is chosen so that the region's own
holiday falls inside it, which the test asserts, so a calendar that ignored the region would fail.
"""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
import yaml

from policy.calendar import CalendarError, WorkingCalendar
from policy.errors import FileProblems
from policy.loader import bundled_pack_paths, load_policy_file
from policy.model import Policy
from policy.timeline import what_if_timeline

# (invented pack id, country, subdivision, time zone)
REGIONS = {
    "GG": ("sarnia-resolution", "GG", None, "Europe/Guernsey"),
    "IE": ("liffey-resolution", "IE", None, "Europe/Dublin"),
    "GB-SCT": ("forth-resolution", "GB", "SCT", "Europe/London"),
}

# (region, local start, a holiday of that region the case must run across, the holiday's name)
CASES = [
    ("GG", datetime(2026, 12, 21, 10), date(2026, 12, 28), "Boxing Day (substitute day)"),
    ("GG", datetime(2027, 3, 24, 11), date(2027, 3, 29), "Easter Monday"),
    ("GG", datetime(2028, 5, 8, 9, 30), date(2028, 5, 9), "Liberation Day"),
    ("IE", datetime(2026, 12, 22, 16), date(2026, 12, 25), "Christmas Day"),
    ("IE", datetime(2027, 3, 16, 10), date(2027, 3, 17), "Saint Patrick's Day"),
    ("IE", datetime(2027, 3, 24, 10), date(2027, 3, 29), "Easter Monday"),
    ("IE", datetime(2027, 1, 27, 12), date(2027, 2, 1), "Saint Brigid's Day"),
    ("GB-SCT", datetime(2026, 11, 26, 10), date(2026, 11, 30), "Saint Andrew's Day"),
    ("GB-SCT", datetime(2026, 12, 23, 10), date(2027, 1, 4), "New Year Holiday (observed)"),
    ("GB-SCT", datetime(2027, 12, 22, 15), date(2028, 1, 4), "New Year Holiday (observed)"),
]


def _pack_data(region: str) -> dict[str, Any]:
    (nsscp,) = [p for p in bundled_pack_paths() if p.stem == "nsscp"]
    data = copy.deepcopy(yaml.safe_load(nsscp.read_text(encoding="utf-8")))
    pack_id, country, subdivision, zone = REGIONS[region]
    data["id"] = pack_id
    data["calendar"] = {
        "country": country,
        "time_zone": zone,
        "cite": data["calendar"]["cite"],
        **({"subdivision": subdivision} if subdivision else {}),
    }
    return data


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / f"{data['id']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _pack(tmp_path: Path, region: str) -> Policy:
    return load_policy_file(_write(tmp_path, _pack_data(region)))


def _calendar(policy: Policy) -> WorkingCalendar:
    return WorkingCalendar(
        country=policy.calendar.country,
        subdivision=policy.calendar.subdivision,
        time_zone=policy.calendar.time_zone,
    )


def _reference_due(region: str, start: date, n: int) -> date:
    """The Nth day strictly after ``start`` that is a weekday and not in the package's table."""
    _, country, subdivision, _ = REGIONS[region]
    table = holidays.country_holidays(country, subdiv=subdivision, years=range(2026, 2030))
    day, counted = start, 0
    while counted < n:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in table:
            counted += 1
    return day


@pytest.mark.parametrize(("region", "start", "holiday", "name"), CASES)
def test_stage_due_dates_follow_the_regions_holidays(
    tmp_path: Path, region: str, start: datetime, holiday: date, name: str
) -> None:
    policy = _pack(tmp_path, region)
    _, country, subdivision, zone = REGIONS[region]
    assert (policy.calendar.country, policy.calendar.subdivision) == (country, subdivision)
    table = holidays.country_holidays(country, subdiv=subdivision, years=holiday.year)
    assert table.get(holiday) == name  # the package still says what this case relies on
    starts = start.replace(tzinfo=ZoneInfo(zone))
    windows = what_if_timeline(policy, starts, _calendar(policy))
    assert len(windows) == len(policy.stages)
    moment = starts
    for window, stage in zip(windows, policy.stages, strict=True):
        expected = _reference_due(region, moment.date(), stage.allowance_working_days)
        assert window.starts == moment
        assert window.due.date() == expected, (stage.number, window.due)
        assert window.due.hour == 17 and window.due.minute == 0
        assert getattr(window.due.tzinfo, "key", None) == zone
        moment = window.due
    # the case runs across the region's holiday, so ignoring it would have moved a date
    assert starts.date() < holiday < windows[-1].due.date()


# England shares Guernsey's Christmas and Easter, so only the region's own holidays are compared
SPECIFIC = [
    case
    for case in CASES
    if (case[0], case[3]) not in {("GG", "Boxing Day (substitute day)"), ("GG", "Easter Monday")}
]


@pytest.mark.parametrize(("region", "start", "holiday", "name"), SPECIFIC)
def test_the_region_matters(
    tmp_path: Path, region: str, start: datetime, holiday: date, name: str
) -> None:
    """The same case on England's calendar ends on another day, or skips another holiday: the
    pack's own region is what decided it."""
    policy = _pack(tmp_path, region)
    zone = REGIONS[region][3]
    starts = start.replace(tzinfo=ZoneInfo(zone))
    own = [w.due.date() for w in what_if_timeline(policy, starts, _calendar(policy))]
    england = WorkingCalendar(country="GB", subdivision="ENG", time_zone=zone)
    theirs = [w.due.date() for w in what_if_timeline(policy, starts, england)]
    assert own != theirs


def test_a_guernsey_step_due_on_liberation_day_moves_past_it(tmp_path: Path) -> None:
    # NSSCP's stage 4 referral is "on Day 5" (0 working days): entered on Liberation Day
    # (Tue 9 May 2028) it is due on the next Guernsey working day, Wed 10 May.
    policy = _pack(tmp_path, "GG")
    calendar = _calendar(policy)
    entered = datetime(2028, 5, 9, 10, tzinfo=ZoneInfo("Europe/Guernsey"))
    (window,) = what_if_timeline(policy, entered, calendar, first_stage=4)
    assert window.steps[0].due.date() == _reference_due("GG", date(2028, 5, 9), 1)
    assert calendar.is_holiday(date(2028, 5, 9))


@pytest.mark.parametrize(
    ("country", "subdivision", "zone"),
    [
        ("IM", None, "Europe/Isle_of_Man"),
        ("JE", None, "Europe/Jersey"),
        ("GB", "WLS", "Europe/London"),
        ("GB", "NIR", "Europe/London"),
        ("GB", "ENG", "Europe/London"),
    ],
)
def test_other_regions_load_too(
    tmp_path: Path, country: str, subdivision: str | None, zone: str
) -> None:
    data = _pack_data("GG")
    data["calendar"].update(country=country, time_zone=zone)
    data["calendar"].pop("subdivision", None)
    if subdivision:
        data["calendar"]["subdivision"] = subdivision
    policy = load_policy_file(_write(tmp_path, data))
    assert _calendar(policy).country == country


# ---- unknown codes ------------------------------------------------------------------------------


def _calendar_problem(tmp_path: Path, **calendar: Any) -> tuple[str, str, str]:
    data = _pack_data("GG")
    data["calendar"].update(calendar)
    for key, value in calendar.items():
        if value is None:
            del data["calendar"][key]
    path = _write(tmp_path, data)
    with pytest.raises(FileProblems) as caught:
        load_policy_file(path)
    assert caught.value.path == str(path)
    (problem,) = caught.value.problems
    return problem.field, problem.message, problem.fix


def test_an_unknown_country_points_to_the_codes_and_the_closest(tmp_path: Path) -> None:
    field, message, fix = _calendar_problem(tmp_path, country="UK")
    assert field == "calendar.country"
    assert "'UK'" in message and "holidays" in message
    assert "GB" in fix  # UK is the package's alias of GB: the code to write is GB
    assert "ISO 3166" in fix


def test_a_country_written_as_its_name_is_pointed_to_its_code(tmp_path: Path) -> None:
    field, _, fix = _calendar_problem(tmp_path, country="Guernsey")
    assert field == "calendar.country"
    assert "GG" in fix


def test_an_unknown_subdivision_lists_the_countrys_subdivisions(tmp_path: Path) -> None:
    field, message, fix = _calendar_problem(
        tmp_path, country="GB", subdivision="England", time_zone="Europe/London"
    )
    assert field == "calendar.subdivision"
    assert "'England'" in message
    assert fix == "use one of ENG, NIR, SCT, WLS"


def test_a_subdivision_for_a_country_without_any(tmp_path: Path) -> None:
    field, message, fix = _calendar_problem(tmp_path, subdivision="SCT")
    assert field == "calendar.subdivision"
    assert "GG has no subdivisions" in message
    assert "remove" in fix


def test_an_unknown_time_zone_is_found_by_the_pack_check(tmp_path: Path) -> None:
    field, message, fix = _calendar_problem(tmp_path, time_zone="Europe/St_Peter_Port")
    assert field == "calendar.time_zone"
    assert "'Europe/St_Peter_Port'" in message
    assert "Europe/Guernsey" in fix or "IANA" in fix


def test_the_calendar_refuses_the_same_codes() -> None:
    with pytest.raises(CalendarError, match="ENG, NIR, SCT, WLS"):
        WorkingCalendar(country="GB", subdivision="XYZ", time_zone="Europe/London")
    with pytest.raises(CalendarError, match="'ZZ'"):
        WorkingCalendar(country="ZZ", subdivision=None, time_zone="Europe/London")
