"""Imported slots checked against the configuration (issue 12): a slot overlapping the
templates' slots is refused, a slot on a closed day is imported with a warning."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from adapter.cli import EXIT_OK, EXIT_PROBLEMS, main
from adapter.config import ConfigError, ConfigIssue, Severity, load_config, read_slots_ics
from adapter.config.slot_import import read_slots_csv
from tests.config.helpers import EXAMPLE


def _import(tmp_path: Path, text: str) -> tuple[list[str], Path]:
    csv = tmp_path / "slots.csv"
    csv.write_text(text, encoding="utf-8")
    db = tmp_path / "adapter.db"
    command = ["slots", "import", str(csv), "--config", str(EXAMPLE)]
    return [*command, "--database", f"sqlite:///{db}"], db


def test_a_slot_overlapping_a_template_slot_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Tuesday 3 November 10:05: inside Benedikte's ordinary day (10:00-10:20 from the
    # fill template). Both would be offered: a double booking waiting to happen.
    command, db = _import(tmp_path, "practitioner,type,start\nbenedikte,video,2026-11-03T10:05\n")
    assert main(command) == EXIT_PROBLEMS
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "slots.csv:2 [start] overlaps the 10:00-10:20 oppmote slot that clinic.toml's "
        "templates give 'benedikte' on 2026-11-03: both would be offered, a double booking "
        "waiting to happen - fix: move or remove this slot, or change the template "
        "(e.g. except = [date])",
        "1 problem(s) in slots.csv; nothing imported",
    ]
    assert not db.exists()


def test_the_template_slot_under_another_id_is_refused_with_its_fix(tmp_path: Path) -> None:
    text = "practitioner,type,start,end,id\nbenedikte,oppmote,2026-11-03T10:00,,my-own-id\n"
    (tmp_path / "slots.csv").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        read_slots_csv(tmp_path / "slots.csv", load_config(EXAMPLE))
    (issue,) = caught.value.issues
    assert (issue.line, issue.key) == (2, "start")
    assert issue.fix == (
        "it is the template's own slot under another id: leave id empty, or drop the row"
    )


def test_the_template_slot_itself_imports_as_the_same_slot(tmp_path: Path) -> None:
    # No id: the deterministic id of the template's own slot, so not a second slot.
    text = "practitioner,type,start\nbenedikte,oppmote,2026-11-03T10:00\n"
    (tmp_path / "slots.csv").write_text(text, encoding="utf-8")
    (slot,) = read_slots_csv(tmp_path / "slots.csv", load_config(EXAMPLE))
    assert slot.practitioner == "benedikte"


def test_another_practitioners_slot_at_the_same_time_is_fine(tmp_path: Path) -> None:
    # Wednesday 10:00: Benedikte has an ordinary slot then; Arna has no template that day.
    text = "practitioner,type,start\narna,svangerskapskontroll,2026-11-04T10:00\n"
    (tmp_path / "slots.csv").write_text(text, encoding="utf-8")
    assert len(read_slots_csv(tmp_path / "slots.csv", load_config(EXAMPLE))) == 1


def test_a_slot_on_a_closed_day_is_imported_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command, db = _import(
        tmp_path,
        "practitioner,type,start\narna,svangerskapskontroll,2026-12-24T10:00\n"
        "benedikte,oppmote,2026-12-25T10:00\n",
    )
    assert main(command) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "slots.csv:2 warning: [start] 2026-12-24 is a closed day (rules.toml [calendar] "
        "extra_closed): the slot is stored but never offered online - fix: remove it from "
        "the file, or open the day in rules.toml [calendar]",
        "slots.csv:3 warning: [start] 2026-12-25 is a closed day (a public holiday, Første "
        "juledag): the slot is stored but never offered online - fix: remove it from the "
        "file, or open the day in rules.toml [calendar]",
        "2 slot(s): 2 added, 0 updated, 0 unchanged",
    ]
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT count(*) FROM slots").fetchone()[0] == 2


def test_closed_day_warnings_are_given_to_the_caller(tmp_path: Path) -> None:
    ics = tmp_path / "slots.ics"
    ics.write_text(
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20261231T100000\n"
        "X-EPJ-PRACTITIONER:arna\nX-EPJ-APPOINTMENT-TYPE:svangerskapskontroll\n"
        "END:VEVENT\nEND:VCALENDAR\n",
        encoding="utf-8",
    )
    warnings: list[ConfigIssue] = []
    slots = read_slots_ics(ics, load_config(EXAMPLE), warnings)
    assert len(slots) == 1
    (warning,) = warnings
    assert (warning.file, warning.line, warning.severity) == ("slots.ics", 3, Severity.WARNING)
    assert warning.message.startswith("2026-12-31 is a closed day")
