"""One grammar for every time before a slot: release rules and the cancellation cut-off.

Regression (issue 12): release rules took "1 day before at 07:30", the cut-off only
"12:00 working day before", and "1 working day before at 12:00" was refused there.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from adapter.cli import EXIT_OK, main
from adapter.config import Severity, check_config, load_config
from adapter.config.syntax import parse_cutoff, parse_release
from adapter.domain.calendar import WorkingCalendar, local
from adapter.domain.policy import cancellation_deadline
from adapter.domain.release import release_instant
from tests.config.helpers import copy_example, edit, line_of

CALENDAR = WorkingCalendar()
#: A Monday and a Tuesday slot (working days back from Monday skip the weekend).
STARTS = [local(datetime(2026, 11, 30, 10, 0)), local(datetime(2026, 12, 1, 8, 15))]
SPELLINGS = [
    "1 working day before at 12:00",
    "2 working days before at 07:30",
    "1 day before at 18:00",
    "3 days before at 07:00",
    "same day at 08:00",
    "0 days before at 08:00",
    "0 working days before at 07:45",
    "24 h before",
    "90 min before",
]


@pytest.mark.parametrize("text", SPELLINGS)
def test_release_and_cutoff_read_the_same_text_as_the_same_instant(text: str) -> None:
    release, cutoff = parse_release(text), parse_cutoff(text)
    for start in STARTS:
        assert cancellation_deadline(start, cutoff, CALENDAR) == release_instant(
            start, release, CALENDAR
        )


def test_a_cutoff_one_working_day_before_skips_the_weekend() -> None:
    deadline = cancellation_deadline(
        STARTS[0], parse_cutoff("1 working day before at 12:00"), CALENDAR
    )
    assert deadline == local(datetime(2026, 11, 27, 12, 0))  # the Friday before


def test_a_cutoff_in_calendar_days_counts_the_weekend() -> None:
    deadline = cancellation_deadline(STARTS[0], parse_cutoff("1 day before at 18:00"), CALENDAR)
    assert deadline == local(datetime(2026, 11, 29, 18, 0))  # the Sunday before


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("12:00 working day before", "1 working day before at 12:00"),
        ("12:00 2 working days before", "2 working days before at 12:00"),
    ],
)
def test_the_old_cutoff_spelling_still_means_the_same(old: str, new: str) -> None:
    assert parse_cutoff(old) == parse_cutoff(new)
    assert parse_release(old) == parse_release(new)


def test_the_old_cutoff_spelling_gets_a_deprecation_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = copy_example(tmp_path)
    edit(
        config,
        "rules.toml",
        'cancel_until = "1 working day before at 12:00"',
        'cancel_until = "12:00 working day before"',
    )
    (issue,) = check_config(config)
    assert (issue.file, issue.line, issue.key, issue.severity) == (
        "rules.toml",
        line_of(config, "rules.toml", "cancel_until ="),
        "booking.cancel_until",
        Severity.WARNING,
    )
    assert issue.message == (
        "'12:00 working day before' is the old spelling "
        "(deprecated; read as '1 working day before at 12:00')"
    )
    assert issue.fix == 'write cancel_until = "1 working day before at 12:00"'
    loaded = load_config(config).rules.cancellation
    assert (loaded.working_days_before, f"{loaded.at:%H:%M}") == (1, "12:00")
    assert main(["check-config", "--config", str(config)]) == EXIT_OK
    assert "(1 warning(s))" in capsys.readouterr().out


def test_the_new_cutoff_spelling_loads_without_a_warning(tmp_path: Path) -> None:
    config = copy_example(tmp_path)
    edit(
        config,
        "rules.toml",
        'cancel_until = "1 working day before at 12:00"',
        'cancel_until = "1 day before at 18:00"',
    )
    assert check_config(config) == []
    cutoff = load_config(config).rules.cancellation
    assert cancellation_deadline(STARTS[0], cutoff, CALENDAR) == local(
        datetime(2026, 11, 29, 18, 0)
    )


def test_a_release_rule_may_use_the_old_spelling_with_a_warning(tmp_path: Path) -> None:
    config = copy_example(tmp_path)
    edit(
        config,
        "rules.toml",
        'release = "2 working days before at 07:30"',
        'release = "07:30 2 working days before"',
    )
    (issue,) = check_config(config)
    assert (issue.key, issue.severity) == ("rules[1].release", Severity.WARNING)
    assert issue.fix == 'write release = "2 working days before at 07:30"'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("whenever", "bad cancellation cut-off 'whenever'"),
        ("1 day after at 12:00", "cancellation cut-off '1 day after at 12:00' is after"),
        ("25:00 working day before", "impossible cancellation cut-off '25:00 working"),
    ],
)
def test_a_bad_cutoff_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    config = copy_example(tmp_path)
    edit(
        config,
        "rules.toml",
        'cancel_until = "1 working day before at 12:00"',
        f'cancel_until = "{text}"',
    )
    (issue,) = check_config(config)
    assert (issue.key, issue.severity) == ("booking.cancel_until", Severity.ERROR)
    assert issue.message.startswith(message)
    assert issue.fix
