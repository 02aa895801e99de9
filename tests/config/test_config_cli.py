"""check-config exit codes and output; slots import/generate write to a real SQLite store."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest

from adapter.cli import main
from tests.config.helpers import EXAMPLE, copy_example, edit, line_of


def test_check_config_passes_on_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(EXAMPLE)]) == 0
    assert "configuration OK" in capsys.readouterr().out
    assert main(["check-config", "--config", str(EXAMPLE)]) == 0


def test_check_config_lists_every_problem_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = copy_example(tmp_path)
    edit(config, "clinic.toml", 'stands_in_for = "benedikte"', 'stands_in_for = "benedikt"')
    edit(config, "rules.toml", 'share = "30 %"', 'share = "300 %"')
    assert main(["check-config", "--config", str(config)]) == 1
    lines = capsys.readouterr().out.splitlines()
    stands_in = line_of(config, "clinic.toml", 'stands_in_for = "benedikt"')
    share = line_of(config, "rules.toml", 'share = "300 %"')
    assert lines[0] == (
        f"clinic.toml:{stands_in} [practitioners.ingar.stands_in_for] unknown practitioner "
        "'benedikt' - fix: use one of benedikte, arna"
    )
    assert lines[1].startswith(f"rules.toml:{share} [rules[1].share] share '300 %' is out of range")
    assert lines[2] == f"2 error(s), 0 warning(s) in {config}"


def test_check_config_warnings_alone_exit_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = copy_example(tmp_path)
    edit(config, "adapter.toml", "allow_legacy_ciphers = false", "allow_legacy_ciphers = true")
    assert main(["check-config", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    line = line_of(config, "adapter.toml", "allow_legacy_ciphers = true")
    expected = (
        f"adapter.toml:{line} warning: [cms.allow_legacy_ciphers] legacy ciphers are accepted"
    )
    assert expected in out
    assert "(1 warning(s))" in out


def test_check_config_unreadable_directory_exits_2(tmp_path: Path) -> None:
    assert main(["check-config", "--config", str(tmp_path / "missing")]) == 2


def test_preview_refuses_a_broken_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = copy_example(tmp_path)
    edit(config, "rules.toml", 'share = "30 %"', 'share = "300 %"')
    assert main(["preview", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"rules.toml:{line_of(config, 'rules.toml', 'share = ')} [rules[1].share]" in err
    assert "run check-config" in err


def test_slots_generate_and_import_are_idempotent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'adapter.db'}"
    generate = ["slots", "generate", "--from", "2026-11-02", "--to", "2026-11-06"]
    generate += ["--config", str(EXAMPLE), "--database", db]
    assert main(generate) == 0
    assert capsys.readouterr().out.strip() == "137 slot(s): 137 added, 0 updated, 0 unchanged"
    assert main(generate) == 0
    assert capsys.readouterr().out.strip() == "137 slot(s): 0 added, 0 updated, 137 unchanged"

    csv = tmp_path / "extra.csv"
    csv.write_text("practitioner,type,start\narna,svangerskapskontroll,2026-11-07T10:00\n")
    command = ["slots", "import", str(csv), "--config", str(EXAMPLE), "--database", db]
    assert main(command) == 0
    assert capsys.readouterr().out.strip() == "1 slot(s): 1 added, 0 updated, 0 unchanged"
    assert main(command) == 0
    assert capsys.readouterr().out.strip() == "1 slot(s): 0 added, 0 updated, 1 unchanged"


def test_slots_from_the_cli_get_their_release_instants(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Regression: `slots generate` wrote slots and skipped the release schedule, so a
    # held-back slot from the CLI was never released (no slot.released event).
    db_path = tmp_path / "adapter.db"
    first = date.today() + timedelta(days=1)  # releases are scheduled for what is ahead
    days = [(first + timedelta(days=n)).isoformat() for n in (0, 13)]
    generate = ["slots", "generate", "--from", days[0], "--to", days[1]]
    assert main([*generate, "--config", str(EXAMPLE), "--database", f"sqlite:///{db_path}"]) == 0
    capsys.readouterr()
    with sqlite3.connect(db_path) as db:
        slots = db.execute("SELECT count(*) FROM slots").fetchone()[0]
        scheduled = db.execute("SELECT count(DISTINCT slot_id) FROM release_schedule").fetchone()[0]
    assert slots > 0
    assert scheduled > 0  # the example rules hold some slots back until a release time


def test_slots_import_reports_bad_lines_and_imports_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "adapter.db"
    csv = tmp_path / "bad.csv"
    csv.write_text("practitioner,type,start\nbenedikte,telefonn,2026-11-04T13:15\n")
    command = ["slots", "import", str(csv), "--config", str(EXAMPLE)]
    assert main([*command, "--database", f"sqlite:///{db}"]) == 1
    out = capsys.readouterr().out
    assert "bad.csv:2 [type] unknown appointment type 'telefonn' - fix: use one of telefon" in out
    assert "nothing imported" in out
    assert not db.exists()


def test_check_config_warns_when_the_routing_file_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = copy_example(tmp_path)
    (config / "routing.toml").unlink()
    assert main(["check-config", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "adapter.toml warning: [paths.routing] routing file not found: routing.toml" in out


def test_check_config_checks_routing_of_every_her_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = copy_example(tmp_path)
    assert main(["check-config", "--config", str(config)]) == 0
    capsys.readouterr()
    edit(config, "clinic.toml", 'her_id = "8142522"', 'her_id = "8142599"')
    assert main(["check-config", "--config", str(config)]) == 1
    assert "routing.toml [parties.8142599] " in capsys.readouterr().out
