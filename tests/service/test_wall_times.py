"""A reservation names its slot's times as Oslo wall time (no offset in the xCal); in the
repeated hour of the autumn night such a time names two instants, and either matches."""

from __future__ import annotations

from datetime import UTC, datetime

from adapter.domain.model import OSLO
from adapter.service.handlers import _same_instant


def test_a_wall_time_in_the_repeated_hour_matches_either_instant() -> None:
    # 2026-10-25 02:00 CET (01:00 UTC) is also read as 02:00 CEST (00:00 UTC).
    named = datetime(2026, 10, 25, 2, 0, tzinfo=OSLO)  # fold=0: the first (CEST)
    assert named.astimezone(UTC) == datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
    assert _same_instant(named, datetime(2026, 10, 25, 1, 0, tzinfo=UTC))
    assert _same_instant(named, datetime(2026, 10, 25, 0, 0, tzinfo=UTC))


def test_an_unambiguous_wall_time_matches_only_its_instant() -> None:
    named = datetime(2026, 10, 25, 4, 0, tzinfo=OSLO)
    assert _same_instant(named, datetime(2026, 10, 25, 3, 0, tzinfo=UTC))
    assert not _same_instant(named, datetime(2026, 10, 25, 4, 0, tzinfo=UTC))
    spring = datetime(2026, 3, 29, 3, 30, tzinfo=OSLO)
    assert not _same_instant(spring, datetime(2026, 3, 29, 0, 30, tzinfo=UTC))
