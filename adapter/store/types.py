"""Column types shared by the tables."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

#: How many instants SQLite's text is remembered for (:func:`_sqlite_instant`): about
#: 150 bytes each, so well under 3 MB, and far more than one HLT window's slots.
INSTANTS_KEPT: Final = 16_384

_instants: dict[str, datetime] = {}


def _sqlite_instant(stored: str) -> datetime:
    """The aware UTC instant SQLite holds as naive UTC text (``YYYY-MM-DD HH:MM:SS.ffffff``).

    Remembered by its text: a book's slots are read again and again (every HLT computed
    reads its window), and parsing is most of what typing a slot row costs. A datetime
    is immutable, so one object serves every reader; the memory is cleared when full."""
    found = _instants.get(stored)
    if found is None:
        parsed = datetime.fromisoformat(stored)
        found = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
        if len(_instants) >= INSTANTS_KEPT:
            _instants.clear()
        _instants[stored] = found
    return found


class UTCDateTime(TypeDecorator[datetime]):
    """An instant, stored in UTC and always read back timezone-aware (UTC).

    PostgreSQL keeps it as ``timestamptz``. SQLite has no time zones: the value is
    stored as naive UTC text of fixed width, so string order is time order. A naive
    datetime is refused on the way in (a silent local-time guess would shift
    appointments by an hour or two).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC; naive for SQLite."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to the store; times must be timezone-aware")
        utc = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return utc.replace(tzinfo=None)
        return utc

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], datetime | None] | None:
        """SQLite: the stored text straight to the aware instant, remembered
        (:func:`_sqlite_instant`), in one call instead of the driver type's parse and
        :meth:`process_result_value` after it. PostgreSQL: as SQLAlchemy does."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def process(value: Any) -> datetime | None:
            if value is None:
                return None
            if isinstance(value, str):
                return _sqlite_instant(value)
            return self.process_result_value(value, dialect)  # pragma: no cover - text only

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Read back as an aware UTC datetime."""
        if value is None:
            return None
        if not isinstance(value, datetime):  # pragma: no cover - drivers give datetimes
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
