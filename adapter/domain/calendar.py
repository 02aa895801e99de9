"""Working days and Europe/Oslo wall time.

Norwegian public holidays come from the maintained ``holidays`` library (never a
hand-written list). Older versions of that library list every Sunday as a holiday in
Norway ("Søndag"); only the real public holidays are used here. Results are cached
per year.

The helpers :func:`local` and :func:`at_local` turn Europe/Oslo wall times into
aware UTC datetimes, handling both DST nights the same way everywhere:

* a wall time in the spring gap (e.g. 02:30 on 2026-03-29, which does not exist)
  moves forward by the length of the gap (to 03:30 CEST);
* an ambiguous wall time in the autumn fold (e.g. 02:30 on 2026-10-25, which
  happens twice) means its first occurrence (02:30 CEST).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Final

import holidays

from adapter.domain.model import OSLO

#: Names the holidays library has used for "every Sunday" in Norway; not public holidays.
_SUNDAY_NAMES: Final = frozenset({"Søndag", "søndag", "Sunday"})


def local(dt: datetime) -> datetime:
    """The instant of ``dt`` as an aware UTC datetime.

    A naive ``dt`` is Europe/Oslo wall time (gap: moves forward; fold: first
    occurrence); an aware one is converted as it is.
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        return dt.replace(tzinfo=OSLO, fold=0).astimezone(UTC)
    return dt.astimezone(UTC)


def at_local(d: date, t: time) -> datetime:
    """The instant of wall time ``t`` on local date ``d`` in Europe/Oslo, in UTC."""
    return datetime.combine(d, t.replace(tzinfo=None, fold=0), tzinfo=OSLO).astimezone(UTC)


def local_date(dt: datetime) -> date:
    """The Europe/Oslo calendar date of an aware instant."""
    return dt.astimezone(OSLO).date()


class WorkingCalendar:
    """Which days a clinic works: Monday to Friday, except public holidays and closures.

    ``closed_on_public_holidays``: Norwegian public holidays are not working days
    (and slots on them are not offered online). ``extra_closed``: further closed
    dates (the clinic's own closing days).
    """

    def __init__(
        self,
        *,
        closed_on_public_holidays: bool = True,
        extra_closed: frozenset[date] = frozenset(),
    ) -> None:
        self.closed_on_public_holidays = closed_on_public_holidays
        self.extra_closed = frozenset(extra_closed)
        self._years: dict[int, dict[date, str]] = {}

    def __repr__(self) -> str:
        return (
            f"WorkingCalendar(closed_on_public_holidays={self.closed_on_public_holidays}, "
            f"extra_closed={len(self.extra_closed)} dates)"
        )

    def _holidays(self, year: int) -> dict[date, str]:
        found = self._years.get(year)
        if found is None:
            raw = holidays.country_holidays("NO", years=year, language="no")
            found = {
                d: name
                for d, name in raw.items()
                if not (d.weekday() == 6 and name in _SUNDAY_NAMES)
            }
            self._years[year] = found
        return found

    def is_public_holiday(self, d: date) -> bool:
        """True when ``d`` is a Norwegian public holiday (helligdag or 1 and 17 May)."""
        return d in self._holidays(d.year)

    def holiday_name(self, d: date) -> str | None:
        """The Norwegian name of the public holiday on ``d``, or None."""
        return self._holidays(d.year).get(d)

    def is_closed_day(self, d: date) -> bool:
        """True when slots on ``d`` are never offered: a closed public holiday or closure."""
        if d in self.extra_closed:
            return True
        return self.closed_on_public_holidays and self.is_public_holiday(d)

    def is_working_day(self, d: date) -> bool:
        """Monday to Friday, and not a closed day."""
        return d.weekday() < 5 and not self.is_closed_day(d)

    def previous_working_day(self, d: date) -> date:
        """The last working day strictly before ``d``."""
        day = d - timedelta(days=1)
        while not self.is_working_day(day):
            day -= timedelta(days=1)
        return day

    def working_days_before(self, d: date, n: int) -> date:
        """The working day ``n`` working days before ``d`` (``n == 0``: ``d`` itself)."""
        if n < 0:
            raise ValueError("n cannot be negative")
        day = d
        for _ in range(n):
            day = self.previous_working_day(day)
        return day
