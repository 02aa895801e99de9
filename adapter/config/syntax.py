"""The readable value syntax admins write in the config files.

* durations: ``"6 weeks"``, ``"2 h"``, ``"20 min"``, ``"15 s"``, ``"30 days"``
* times of day: ``"07:30"``; time ranges: ``"08:00-15:40"``
* weekdays: ``"mon-fri"``, ``"tue"``, ``["tue", "thu"]`` (English or Norwegian
  three-letter names: man tir ons tor fre lør søn)
* shares: ``"30 %"`` (a percentage; a bare number such as ``0.3`` is refused as
  ambiguous: 30 % or 0.3 %?)
* times relative to a slot's start, one grammar for release times and the
  cancellation cut-off: ``"2 working days before at 07:30"``, ``"1 day before at 12:00"``,
  ``"same day at 08:00"``, ``"24 h before"``. The cut-off's old spelling
  ``"12:00 working day before"`` / ``"12:00 2 working days before"`` is still read
  (check-config warns: it is deprecated).

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
    """``"30 %"`` -> 0.3. Must be above 0 and at most 100 %.

    A bare number is refused: ``share = 0.3`` could mean 30 % or 0.3 %, and
    ``share = 30`` 30 % or 3000 %; the fix says how to write what was probably meant.
    """
    if isinstance(value, bool):
        raise BadValue(f"expected a share, got {_show(value)}", SHARE_FIX)
    if isinstance(value, int | float):
        number = float(value)
        if 0 < number <= 1:
            raise BadValue(
                f"share {value!r} is ambiguous ({number * 100:g} % or {number:g} %?): "
                "write it as a percentage",
                f'write share = "{number * 100:g} %"',
            )
        raise BadValue(
            f"share {value!r} is a bare number: write it as a percentage",
            f'write share = "{number:g} %"' if 0 < number <= 100 else SHARE_FIX,
        )
    if isinstance(value, str) and (match := _SHARE.match(value)):
        share = float(match.group(1)) / 100
    else:
        raise BadValue(f"bad share {_show(value)}", SHARE_FIX)
    if not 0 < share <= 1:
        raise BadValue(f"share {_show(value)} is out of range", SHARE_FIX)
    return share


RELATIVE_FIX: Final = (
    'write e.g. "2 working days before at 07:30", "1 day before at 12:00", '
    '"same day at 08:00" or "24 h before"'
)
RELEASE_FIX: Final = RELATIVE_FIX
CUTOFF_FIX: Final = RELATIVE_FIX
_RELATIVE_DAYS = re.compile(
    r"^\s*(?:(same\s+day)|(-?\d+)\s+(working\s+)?days?\s+(before|after))\s+at\s+(\S+)\s*$",
    re.IGNORECASE,
)
_RELATIVE_HOURS = re.compile(r"^\s*(.+?)\s+(before|after)\s*$", re.IGNORECASE)
#: The cancellation cut-off's old spelling: "12:00 working day before",
#: "12:00 2 working days before" (time of day first). Still read; check-config warns.
_LEGACY_WORKING_DAYS = re.compile(
    r"^\s*(\d{1,2}:\d{2})\s+(?:(\d+)\s+)?working\s+days?\s+before\s*$", re.IGNORECASE
)


def legacy_spelling(value: object) -> str | None:
    """The grammar's spelling of ``value`` when it uses the deprecated old cut-off form.

    ``"12:00 working day before"`` -> ``"1 working day before at 12:00"``; None when
    ``value`` is not in the old form (a current spelling, or not understood at all).
    """
    if not isinstance(value, str):
        return None
    match = _LEGACY_WORKING_DAYS.match(value)
    if not match:
        return None
    try:
        return parse_relative(value).describe()
    except BadValue:
        return None


def parse_relative(value: object, what: str = "release time") -> ReleaseTime:
    """One grammar for every time relative to a slot's start (release times, cut-offs).

    * ``"N days before at HH:MM"`` (calendar days) and ``"N working days before at HH:MM"``
      (working days of the clinic's calendar), N >= 0;
    * ``"same day at HH:MM"`` (the same as ``"0 days before at HH:MM"``);
    * ``"<duration> before"``, e.g. ``"24 h before"``, ``"90 min before"``;
    * the deprecated ``"HH:MM [N] working day(s) before"`` (read as N, default 1,
      working days before at HH:MM; see :func:`legacy_spelling`).

    ``what`` names the value in messages ("release time", "cancellation cut-off").
    """
    if not isinstance(value, str):
        raise BadValue(f"expected a {what} text, got {_show(value)}", RELATIVE_FIX)
    legacy = _LEGACY_WORKING_DAYS.match(value)
    if legacy:
        days = int(legacy.group(2) or "1")
        at = _relative_time_of_day(value, legacy.group(1), what)
        return ReleaseTime(days_before=days, at=at, working_days=True)
    match = _RELATIVE_DAYS.match(value)
    if match:
        at = _relative_time_of_day(value, match.group(5), what)
        if match.group(1):
            return ReleaseTime(days_before=0, at=at)
        days = int(match.group(2))
        if days < 0:
            raise BadValue(
                f"{what} {value!r} has a negative number of days",
                'count days before the slot with a number >= 0, e.g. "2 days before at 07:30"',
            )
        if match.group(4).lower() == "after":
            raise BadValue(
                f"{what} {value!r} is after the slot starts",
                'count from before the slot: "N days before at HH:MM" with N >= 0',
            )
        return ReleaseTime(days_before=days, at=at, working_days=bool(match.group(3)))
    match = _RELATIVE_HOURS.match(value)
    if match:
        try:
            before = parse_duration(match.group(1))
        except BadValue:
            raise BadValue(f"bad {what} {value!r}", RELATIVE_FIX) from None
        if match.group(2).lower() == "after":
            raise BadValue(
                f"{what} {value!r} is after the slot starts",
                'count from before the slot, e.g. "24 h before"',
            )
        return ReleaseTime(hours_before=before)
    raise BadValue(f"bad {what} {value!r}", RELATIVE_FIX)


def _relative_time_of_day(value: str, text: str, what: str) -> time:
    try:
        return parse_time(text)
    except BadValue as exc:
        raise BadValue(f"impossible {what} {value!r}: no time of day {text}", exc.fix) from None


def parse_release(value: object) -> ReleaseTime:
    """A release time before the slot's start; see :func:`parse_relative`."""
    return parse_relative(value, "release time")


def parse_cutoff(value: object) -> CancellationCutoff:
    """Until when patients may cancel online, in the grammar of :func:`parse_relative`.

    ``"1 working day before at 12:00"`` (also the old ``"12:00 working day before"``),
    ``"1 day before at 18:00"``, ``"same day at 08:00"`` or ``"24 h before"``.
    """
    relative = parse_relative(value, "cancellation cut-off")
    if relative.hours_before is not None:
        return CancellationCutoff(hours_before=relative.hours_before)
    if relative.working_days or relative.days_before == 0:
        # "same day" is 0 working days before: the slot's own day.
        return CancellationCutoff(working_days_before=relative.days_before, at=relative.at)
    return CancellationCutoff(days_before=relative.days_before, at=relative.at)


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
