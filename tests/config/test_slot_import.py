"""Slots from CSV and iCalendar files: parsed, checked line by line, idempotent ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapter.config import AdapterConfig, ConfigError, load_config, read_slots_csv, read_slots_ics
from tests.config.helpers import EXAMPLE


@pytest.fixture(scope="module")
def config() -> AdapterConfig:
    return load_config(EXAMPLE)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


CSV = """\
# slots from the old system
practitioner,type,start,end,id
benedikte,oppmote,2026-11-02T08:00,,
benedikte,telefon,2026-11-04T13:15,2026-11-04T13:45,
arna,svangerskapskontroll,2026-11-03T14:00+01:00,,3f0e7a52-3b7a-4f39-9a43-0d7f7e1f2c11
"""


def test_csv_slots(config: AdapterConfig, tmp_path: Path) -> None:
    slots = read_slots_csv(_write(tmp_path, "slots.csv", CSV), config)
    assert [(s.practitioner, s.appointment_type) for s in slots] == [
        ("benedikte", "oppmote"),
        ("benedikte", "telefon"),
        ("arna", "svangerskapskontroll"),
    ]
    first = slots[0]
    assert first.start == datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
    assert first.end - first.start == timedelta(minutes=20)
    assert slots[2].id == "3f0e7a52-3b7a-4f39-9a43-0d7f7e1f2c11"
    again = read_slots_csv(_write(tmp_path, "again.csv", CSV), config)
    assert [s.id for s in again] == [s.id for s in slots]


def test_csv_problems_are_reported_by_line(config: AdapterConfig, tmp_path: Path) -> None:
    text = """\
practitioner,type,start,end,id
benedikt,oppmote,2026-11-02T08:00,,
benedikte,oppmote,2026-13-02T08:00,,
benedikte,telefon,2026-11-04T13:15,2026-11-04T13:00,
benedikte,oppmote,2026-11-02T08:10,,
"""
    with pytest.raises(ConfigError) as caught:
        read_slots_csv(_write(tmp_path, "bad.csv", text), config)
    found = [(i.file, i.line, i.key, i.message.split(":")[0]) for i in caught.value.issues]
    assert found == [
        ("bad.csv", 2, "practitioner", "unknown practitioner 'benedikt'"),
        ("bad.csv", 3, "start", "bad start time '2026-13-02T08"),
        ("bad.csv", 4, "end", "slot ends (2026-11-04T13"),
        ("bad.csv", 5, "start", "overlaps the 08"),  # the templates' 08:00-08:20 slot
    ]


def test_csv_overlap_is_reported(config: AdapterConfig, tmp_path: Path) -> None:
    text = "practitioner,type,start\nbenedikte,oppmote,2026-11-07T08:00\n"  # a Saturday
    text += "benedikte,oppmote,2026-11-07T08:10\n"
    with pytest.raises(ConfigError) as caught:
        read_slots_csv(_write(tmp_path, "overlap.csv", text), config)
    (issue,) = caught.value.issues
    assert (issue.line, issue.message) == (
        3,
        "overlapping slots for 'benedikte': this slot overlaps the one on line 2",
    )


def test_csv_header_must_name_the_columns(config: AdapterConfig, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        read_slots_csv(_write(tmp_path, "h.csv", "who,type,start\nx,y,z\n"), config)
    (issue,) = caught.value.issues
    assert (issue.line, issue.message) == (1, "missing column(s) practitioner")


ICS = """\
BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Old system//EN\r
BEGIN:VEVENT\r
UID:slot-1\r
DTSTART;TZID=Europe/Oslo:20261026T070000\r
DTEND;TZID=Europe/Oslo:20261026T072000\r
X-EPJ-PRACTITIONER:benedikte\r
X-EPJ-APPOINTMENT-TYPE:oppmote\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART:20261026T120000Z\r
DURATION:PT15M\r
X-EPJ-PRACTITIONER:benedikte\r
X-EPJ-APPOINTMENT-\r
 TYPE:hastetime\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART:20260330T080000\r
X-EPJ-PRACTITIONER:arna\r
X-EPJ-APPOINTMENT-TYPE:jordmor_forste\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_ics_slots(config: AdapterConfig, tmp_path: Path) -> None:
    slots = read_slots_ics(_write(tmp_path, "slots.ics", ICS), config)
    assert slots[0].id == "slot-1"
    assert slots[0].start == datetime(2026, 10, 26, 6, 0, tzinfo=UTC)  # CET after the change
    assert slots[1].appointment_type == "hastetime"  # folded line unfolded
    assert slots[1].end - slots[1].start == timedelta(minutes=15)
    assert slots[2].start == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)  # floating = Oslo (CEST)
    assert slots[2].end - slots[2].start == timedelta(hours=1)
    again = read_slots_ics(_write(tmp_path, "again.ics", ICS), config)
    assert [s.id for s in again] == [s.id for s in slots]


def test_ics_problems_name_the_line(config: AdapterConfig, tmp_path: Path) -> None:
    text = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20261026T080000\nEND:VEVENT\n"
    text += "BEGIN:VEVENT\nDTSTART:20261026T090000\nX-EPJ-PRACTITIONER:arna\n"
    text += "X-EPJ-APPOINTMENT-TYPE:video2\nEND:VEVENT\nEND:VCALENDAR\n"
    with pytest.raises(ConfigError) as caught:
        read_slots_ics(_write(tmp_path, "bad.ics", text), config)
    found = [(i.line, i.key, i.message) for i in caught.value.issues]
    assert found == [
        (2, "VEVENT", "event lacks X-EPJ-PRACTITIONER, X-EPJ-APPOINTMENT-TYPE"),
        (6, "type", "unknown appointment type 'video2'"),
    ]
