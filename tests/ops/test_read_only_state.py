"""A state directory the service may not write: one line naming it, never a traceback."""

from __future__ import annotations

import json

from tests.ops.conftest import ReadOnlyInstall


def test_run_with_a_read_only_state_directory_names_it_and_exits_2(
    read_only_install: ReadOnlyInstall,
) -> None:
    result = read_only_install.run("run", "--config", str(read_only_install.config))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "OperationalError" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert str(read_only_install.state) in lines[0]
    assert "not writable" in lines[0]


def test_run_says_why_it_cannot_start_as_a_json_line_off_a_terminal(
    read_only_install: ReadOnlyInstall,
) -> None:
    result = read_only_install.run("run", "--config", str(read_only_install.config))
    event = json.loads(result.stderr.splitlines()[0])
    assert event["event"] == "daemon.cannot_start"
    assert "[paths] state_dir" in event["reason"]


def test_a_clinic_command_with_a_read_only_state_directory_is_one_line_exit_2(
    read_only_install: ReadOnlyInstall,
) -> None:
    read_only_install.create_database()
    result = read_only_install.run(
        "reservations", "list", "--config", str(read_only_install.config)
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"state directory {read_only_install.state} is not writable" in result.stderr


def test_doctor_fails_the_state_check_naming_the_folder_not_an_error_class(
    read_only_install: ReadOnlyInstall,
) -> None:
    result = read_only_install.run("doctor", "--config", str(read_only_install.config))
    assert result.returncode == 1, result.stdout + result.stderr
    state = next(line for line in result.stdout.splitlines() if line.startswith("fail  state"))
    assert f"{read_only_install.state} is not writable" in state
    database = next(line for line in result.stdout.splitlines() if "database" in line[:20])
    assert "OperationalError" not in database
    assert "no database at" in database


def test_doctor_reads_an_existing_database_in_a_folder_it_may_not_write(
    read_only_install: ReadOnlyInstall,
) -> None:
    read_only_install.create_database()
    result = read_only_install.run("doctor", "--config", str(read_only_install.config))
    database = next(line for line in result.stdout.splitlines() if "database" in line[:20])
    assert database.startswith("ok"), result.stdout
    assert "schema version" in database


def test_status_reads_an_existing_database_in_a_folder_it_may_not_write(
    read_only_install: ReadOnlyInstall,
) -> None:
    read_only_install.create_database()
    result = read_only_install.run("status", "--json", "--config", str(read_only_install.config))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["pending_reservations"] == 0
