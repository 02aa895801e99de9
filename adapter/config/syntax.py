"""The readable value syntax admins write in the config files.

* durations: ``"6 weeks"``, ``"2 h"``, ``"20 min"``, ``"15 s"``, ``"30 days"``
* times of day: ``"07:30"``; time ranges: ``"08:00-15:40"``
* weekdays: ``"mon-fri"``, ``"tue"``, ``["tue", "thu"]`` (English or Norwegian
  three-letter names: man tir ons tor fre lør søn)
* shares: ``"30 %"`` (or a number between 0 and 1)
* release times: ``"2 working days before at 07:30"``, ``"1 day before at 12:00"``,
  ``"same day at 08:00"``, ``"24 h before"``
* cancellation cut-offs: ``"12:00 working day before"``, ``"12:00 2 working days before"``,
  ``"24 h before"``

Each parser raises :class:`BadValue` with a message and a suggested fix.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Final

from adapter.domain.rules import CancellationCutoff, ReleaseTime


class BadValue(ValueError):
    """A value the admin wrote cannot be understood."""

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


_UNITS: Final[dict[str, timedelta]] = {
    "w": timedelta(weeks=1),
    "week": timedelta(weeks=1),
    "weeks": timedelta(weeks=1),
    "d": timedelta(days=1),
    "day": timedelta(days=1),
    "days": timedelta(days=1),
    "h": timedelta(hours=1),
    "hour": timedelta(hours=1),
    "hours": timedelta(hours=1),
    "min": timedelta(minutes=1),
    "mins": timedelta(minutes=1),
    "minute": timedelta(minutes=1),
    "minutes": timedelta(minutes=1),
    "s": timedelta(seconds=1),
    "sec": timedelta(seconds=1),
    "second": timedelta(seconds=1),
    "seconds": timedelta(seconds=1),
}
DURATION_FIX: Final = 'write a number and a unit, e.g. "6 weeks", "2 h", "20 min", "15 s"'
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*$")


def parse_duration(value: object) -> timedelta:
    """``"20 min"`` -> 20 minutes. Zero is allowed, negative is not."""
    if not isinstance(value, str):
        raise BadValue(f"expected a duration text, got {_show(value)}", DURATION_FIX)
    match = _DURATION.match(value)
    if not match or match.group(2).lower() not in _UNITS:
        raise BadValue(f"bad duration {value!r}", DURATION_FIX)
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


def format_duration(value: timedelta) -> str:
    """A duration in the config's own words: ``"2 days"``, ``"90 min"``, ``"15 s"``."""
    seconds = int(value.total_seconds())
    for unit, size in (("weeks", 604800), ("days", 86400), ("h", 3600), ("min", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


TIME_FIX: Final = 'write the time as HH:MM between 00:00 and 23:59, e.g. "07:30"'
_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def parse_time(value: object) -> time:
    """``"07:30"`` -> 07:30."""
    if isinstance(value, time):
        return value
    if not isinstance(value, str):
        raise BadValue(f"expected a time of day, got {_show(value)}", TIME_FIX)
    match = _TIME.match(value)
    if not match:
        raise BadValue(f"bad time of day {value!r}", TIME_FIX)
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise BadValue(f"impossible time of day {value!r}", TIME_FIX)
    return time(hour, minute)


RANGE_FIX: Final = 'write start and end as "HH:MM-HH:MM", e.g. "08:00-15:40"'


def parse_time_range(value: object) -> tuple[time, time]:
    """``"08:00-15:40"`` -> (08:00, 15:40); the end must be after the start."""
    if not isinstance(value, str) or value.count("-") != 1:
        raise BadValue(f"bad time range {_show(value)}", RANGE_FIX)
    first, last = value.split("-")
    start, end = parse_time(first), parse_time(last)
    if end <= start:
        raise BadValue(f"time range {value!r} ends before it starts", RANGE_FIX)
    return start, end


_DAYS: Final[dict[str, int]] = {
    "mon": 0,
    "tue": 1,
    "wed": 2,
    "thu": 3,
    "fri": 4,
    "sat": 5,
    "sun": 6,
    "man": 0,
    "tir": 1,
    "ons": 2,
    "tor": 3,
    "fre": 4,
    "lør": 5,
    "lor": 5,
    "søn": 6,
    "son": 6,
}
WEEKDAY_FIX: Final = 'use mon tue wed thu fri sat sun, a range "mon-fri", or a list ["tue", "thu"]'


def _day(name: str, whole: object) -> int:
    key = name.strip().lower()[:3]
    if key not in _DAYS or len(name.strip()) < 3:
        raise BadValue(f"bad weekday {name.strip()!r} in {_show(whole)}", WEEKDAY_FIX)
    return _DAYS[key]


def parse_weekdays(value: object) -> frozenset[int]:
    """``"mon-fri"`` / ``"tue"`` / ``["tue", "thu"]`` -> weekday numbers (0 = Monday)."""
    items: list[object] = list(value) if isinstance(value, list) else [value]
    days: set[int] = set()
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise BadValue(f"bad weekday {_show(item)}", WEEKDAY_FIX)
        for piece in item.split(","):
            if "-" in piece:
                first, last = piece.split("-", 1)
                a, b = _day(first, value), _day(last, value)
                if b < a:
                    raise BadValue(f"weekday range {piece.strip()!r} runs backwards", WEEKDAY_FIX)
                days.update(range(a, b + 1))
            else:
                days.add(_day(piece, value))
    if not days:
        raise BadValue("no weekdays given", WEEKDAY_FIX)
    return frozenset(days)


SHARE_FIX: Final = 'write a percentage above 0 and at most 100, e.g. "30 %"'
_SHARE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def parse_share(value: object) -> float:
    """``"30 %"`` -> 0.3 (also 0.3 as a number). Must be above 0 and at most 100 %."""
    if isinstance(value, bool):
        raise BadValue(f"expected a share, got {_show(value)}", SHARE_FIX)
    if isinstance(value, int | float):
        share = float(value)
    elif isinstance(value, str) and (match := _SHARE.match(value)):
        share = float(match.group(1)) / 100
    else:
        raise BadValue(f"bad share {_show(value)}", SHARE_FIX)
    if not 0 < share <= 1:
        raise BadValue(f"share {_show(value)} is out of range", SHARE_FIX)
    return share


RELEASE_FIX: Final = (
    'write e.g. "2 working days before at 07:30", "same day at 08:00" or "24 h before"'
)
_RELEASE_DAYS = re.compile(
    r"^\s*(?:(same\s+day)|(-?\d+)\s+(working\s+)?days?\s+(before|after))\s+at\s+(\S+)\s*$",
    re.IGNORECASE,
)
_RELEASE_HOURS = re.compile(r"^\s*(.+?)\s+(before|after)\s*$", re.IGNORECASE)


def parse_release(value: object) -> ReleaseTime:
    """A release time relative to the slot's start (always before it)."""
    if not isinstance(value, str):
        raise BadValue(f"expected a release time text, got {_show(value)}", RELEASE_FIX)
    match = _RELEASE_DAYS.match(value)
    if match:
        try:
            at = parse_time(match.group(5))
        except BadValue as exc:
            raise BadValue(
                f"impossible release time {value!r}: no time of day {match.group(5)}", exc.fix
            ) from None
        if match.group(1):
            return ReleaseTime(days_before=0, at=at)
        days = int(match.group(2))
        if days < 0:
            raise BadValue(
                f"release time {value!r} has a negative number of days",
                'count days before the slot with a number >= 0, e.g. "2 days before at 07:30"',
            )
        if match.group(4).lower() == "after":
            raise BadValue(
                f"release time {value!r} is after the slot starts",
                'release before the slot: "N days before at HH:MM" with N >= 0',
            )
        return ReleaseTime(days_before=days, at=at, working_days=bool(match.group(3)))
    match = _RELEASE_HOURS.match(value)
    if match:
        try:
            before = parse_duration(match.group(1))
        except BadValue:
            raise BadValue(f"bad release time {value!r}", RELEASE_FIX) from None
        if match.group(2).lower() == "after":
            raise BadValue(
                f"release time {value!r} is after the slot starts",
                'release before the slot, e.g. "24 h before"',
            )
        return ReleaseTime(hours_before=before)
    raise BadValue(f"bad release time {value!r}", RELEASE_FIX)


CUTOFF_FIX: Final = (
    'write e.g. "12:00 working day before", "12:00 2 working days before" or "24 h before"'
)
_CUTOFF_DAYS = re.compile(r"^\s*(\S+)\s+(?:(\d+)\s+)?working\s+days?\s+before\s*$", re.IGNORECASE)


def parse_cutoff(value: object) -> CancellationCutoff:
    """Until when patients may cancel online."""
    if not isinstance(value, str):
        raise BadValue(f"expected a cancellation cut-off text, got {_show(value)}", CUTOFF_FIX)
    match = _CUTOFF_DAYS.match(value)
    if match:
        days = int(match.group(2) or "1")
        return CancellationCutoff(working_days_before=days, at=parse_time(match.group(1)))
    match = _RELEASE_HOURS.match(value)
    if match and match.group(2).lower() == "before":
        try:
            return CancellationCutoff(hours_before=parse_duration(match.group(1)))
        except BadValue:
            pass
    raise BadValue(f"bad cancellation cut-off {value!r}", CUTOFF_FIX)


def _show(value: object) -> str:
    if isinstance(value, str):
        return repr(value)
    return f"{type(value).__name__} {value!r}"


def type_name(value: object) -> str:
    """A TOML-ish name of a value's type for messages."""
    return {
        "str": "text",
        "int": "integer",
        "float": "number",
        "bool": "true/false",
        "list": "list",
        "dict": "table",
        "date": "date",
        "datetime": "date-time",
        "time": "time",
    }.get(type(value).__name__, type(value).__name__)
