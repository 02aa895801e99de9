"""Working days, Norwegian public holidays and Oslo wall time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from adapter.domain.calendar import WorkingCalendar, at_local, local, local_date
from adapter.domain.model import OSLO


@pytest.fixture
def cal() -> WorkingCalendar:
    return WorkingCalendar()


@pytest.mark.parametrize(
    "day",
    [
        date(2027, 5, 17),  # Grunnlovsdag (and 2. pinsedag)
        date(2027, 3, 25),  # Skjærtorsdag
        date(2027, 3, 26),  # Langfredag
        date(2027, 3, 28),  # 1. påskedag
        date(2027, 3, 29),  # 2. påskedag
        date(2027, 5, 6),  # Kristi himmelfartsdag
        date(2026, 12, 25),
        date(2026, 12, 26),
        date(2027, 1, 1),
        date(2026, 5, 1),
    ],
)
def test_public_holidays_are_known(cal: WorkingCalendar, day: date) -> None:
    assert cal.is_public_holiday(day)
    assert cal.holiday_name(day)
    assert not cal.is_working_day(day)


def test_ordinary_sundays_are_not_public_holidays(cal: WorkingCalendar) -> None:
    assert not cal.is_public_holiday(date(2026, 11, 29))
    assert cal.holiday_name(date(2026, 11, 29)) is None


def test_holiday_name_is_norwegian(cal: WorkingCalendar) -> None:
    assert cal.holiday_name(date(2026, 12, 25)) == "Første juledag"


def test_ordinary_weekday_is_working_day_and_weekend_is_not(cal: WorkingCalendar) -> None:
    assert cal.is_working_day(date(2026, 11, 27))  # Friday
    assert not cal.is_working_day(date(2026, 11, 28))  # Saturday
    assert not cal.is_working_day(date(2026, 11, 29))  # Sunday


def test_previous_working_day_skips_weekend(cal: WorkingCalendar) -> None:
    assert cal.previous_working_day(date(2026, 11, 30)) == date(2026, 11, 27)


def test_previous_working_day_skips_easter(cal: WorkingCalendar) -> None:
    assert cal.previous_working_day(date(2027, 3, 30)) == date(2027, 3, 24)


def test_working_days_before_counts_only_working_days(cal: WorkingCalendar) -> None:
    assert cal.working_days_before(date(2026, 12, 2), 2) == date(2026, 11, 30)
    assert cal.working_days_before(date(2026, 11, 30), 2) == date(2026, 11, 26)
    assert cal.working_days_before(date(2027, 3, 30), 2) == date(2027, 3, 23)
    assert cal.working_days_before(date(2027, 5, 18), 1) == date(2027, 5, 14)


def test_zero_working_days_before_is_the_day_itself(cal: WorkingCalendar) -> None:
    assert cal.working_days_before(date(2026, 11, 28), 0) == date(2026, 11, 28)


def test_negative_working_days_is_an_error(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        cal.working_days_before(date(2026, 11, 28), -1)


def test_open_on_public_holidays_makes_them_working_days() -> None:
    cal = WorkingCalendar(closed_on_public_holidays=False)
    assert cal.is_public_holiday(date(2027, 5, 17))
    assert cal.is_working_day(date(2027, 5, 17))
    assert not cal.is_closed_day(date(2027, 5, 17))


def test_extra_closed_days_are_not_working_days() -> None:
    cal = WorkingCalendar(extra_closed=frozenset({date(2026, 12, 28)}))
    assert cal.is_closed_day(date(2026, 12, 28))
    assert not cal.is_working_day(date(2026, 12, 28))
    assert cal.previous_working_day(date(2026, 12, 29)) == date(2026, 12, 24)


def test_at_local_moves_a_wall_time_in_the_spring_gap_forward() -> None:
    # 02:30 does not exist on 2026-03-29: it becomes 03:30 CEST (01:30 UTC).
    moved = at_local(date(2026, 3, 29), time(2, 30))
    assert moved == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert moved.astimezone(OSLO).time() == time(3, 30)


def test_at_local_takes_the_first_of_two_autumn_wall_times() -> None:
    # 02:30 happens twice on 2026-10-25: first at 00:30 UTC (CEST), then 01:30 UTC.
    assert at_local(date(2026, 10, 25), time(2, 30)) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_at_local_returns_utc() -> None:
    value = at_local(date(2026, 7, 1), time(8, 0))
    assert value.tzinfo is UTC
    assert value == datetime(2026, 7, 1, 6, 0, tzinfo=UTC)


def test_local_reads_naive_as_oslo_and_converts_aware() -> None:
    assert local(datetime(2026, 1, 5, 8, 0)) == datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
    aware = datetime(2026, 1, 5, 8, 0, tzinfo=OSLO)
    assert local(aware) == datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
    assert local(datetime(2026, 3, 29, 2, 15)) == datetime(2026, 3, 29, 1, 15, tzinfo=UTC)
    assert local(datetime(2026, 10, 25, 2, 15, fold=1)) == datetime(2026, 10, 25, 0, 15, tzinfo=UTC)


def test_local_date_is_the_oslo_date() -> None:
    assert local_date(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == date(2027, 1, 1)


def test_holidays_are_cached_per_year(cal: WorkingCalendar) -> None:
    cal.is_public_holiday(date(2027, 1, 1))
    cal.is_public_holiday(date(2027, 6, 1))
    assert list(cal._years) == [2027]
    assert cal.working_days_before(date(2027, 1, 4), 1) - date(2026, 12, 31) == timedelta(0)
