"""The readable value syntax admins write."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from adapter.config.syntax import (
    BadValue,
    format_duration,
    parse_cutoff,
    parse_duration,
    parse_release,
    parse_share,
    parse_time_range,
    parse_weekdays,
)
from adapter.domain.rules import CancellationCutoff, ReleaseTime


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("6 weeks", timedelta(weeks=6)),
        ("2 h", timedelta(hours=2)),
        ("20 min", timedelta(minutes=20)),
        ("15 s", timedelta(seconds=15)),
        ("30 days", timedelta(days=30)),
        ("1.5 h", timedelta(minutes=90)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["6", "weeks", "2 hrs", "-2 h", ""])
def test_bad_durations(text: str) -> None:
    with pytest.raises(BadValue):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2 working days before at 07:30", ReleaseTime(2, time(7, 30), working_days=True)),
        ("1 day before at 12:00", ReleaseTime(1, time(12, 0))),
        ("same day at 08:00", ReleaseTime(0, time(8, 0))),
        ("24 h before", ReleaseTime(hours_before=timedelta(hours=24))),
    ],
)
def test_release_times(text: str, expected: ReleaseTime) -> None:
    assert parse_release(text) == expected
    assert expected.describe() in (text, "1 day before at 12:00", "24 h before")


def test_weekdays_shares_ranges_and_cutoffs() -> None:
    assert parse_weekdays("mon-fri") == frozenset(range(5))
    assert parse_weekdays(["tue", "thu"]) == frozenset({1, 3})
    assert parse_weekdays("man-ons") == frozenset({0, 1, 2})
    assert parse_share("30 %") == pytest.approx(0.3)
    assert parse_share("30%") == pytest.approx(0.3)
    assert parse_time_range("08:00-15:40") == (time(8), time(15, 40))
    assert parse_cutoff("1 working day before at 12:00") == CancellationCutoff(
        working_days_before=1, at=time(12)
    )
    assert parse_cutoff("24 h before") == CancellationCutoff(hours_before=timedelta(hours=24))
    assert format_duration(timedelta(days=2)) == "2 days"
    assert format_duration(timedelta(minutes=90)) == "90 min"


@pytest.mark.parametrize(
    ("parser", "value"),
    [
        (parse_weekdays, "fri-mon"),
        (parse_weekdays, "funday"),
        (parse_share, "0 %"),
        (parse_share, True),
        (parse_time_range, "15:40-08:00"),
        (parse_time_range, "08:00"),
        (parse_cutoff, "whenever"),
    ],
)
def test_bad_values(parser: object, value: object) -> None:
    assert callable(parser)
    with pytest.raises(BadValue):
        parser(value)
