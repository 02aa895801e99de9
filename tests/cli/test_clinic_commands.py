"""The clinic's daily commands, run as ``epj-adapter ...`` would run them."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from adapter.bootstrap import bootstrap
from adapter.cli import main
from adapter.config import load_config
from adapter.tools.demo import prepare
from adapter.transport.directory import read_messages

ROOT = Path(__file__).resolve().parents[2]
FNR = "13116900216"
#: HITS 1217 §2.3: an Avtale names the patient (fornavn, etternavn) with the number.
NAMES = ("--given-name", "Line", "--family-name", "Danser")


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return prepare(tmp_path, ROOT / "config")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _free_slot(config_dir: Path, offset: int = 0) -> str:
    runtime = bootstrap(config_dir, config=load_config(config_dir))
    try:
        runtime.refresh_slots()
        now = runtime.clock()
        with runtime.store.uow() as uow:
            slots = uow.slots.in_window(
                "ddfl", now + timedelta(days=1), now + timedelta(days=8), practitioner="benedikte"
            )
        return slots[offset].id
    finally:
        runtime.close()


def _avtale_codes(config_dir: Path) -> list[str]:
    from adapter.messages.read_replies import read_reply

    queues = load_config(config_dir).settings.directory_root
    return [read_reply(m.body).code for m in read_messages(queues, "8093248_async")]


def test_booking_moving_and_cancelling_send_one_avtale_each(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = str(config_dir)
    slot, other = _free_slot(config_dir), _free_slot(config_dir, 1)
    code, out, _ = _run(
        capsys, "appointments", "book", "--slot", slot, "--patient", FNR, *NAMES, "--config", c
    )
    assert code == 0
    appointment_id = out.strip()
    assert (
        _run(capsys, "appointments", "move", appointment_id, "--slot", other, "--config", c)[0] == 0
    )
    assert _run(capsys, "appointments", "cancel", appointment_id, "--config", c)[0] == 0
    assert _avtale_codes(config_dir) == ["05", "07", "08"]
    code, out, _ = _run(capsys, "appointments", "list", "--config", c)
    assert appointment_id in out
    assert FNR not in out  # masked: 131169*****
    assert "cancelled_by_clinic" in out


def test_an_invalid_change_is_one_clear_line_and_exit_1(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = str(config_dir)
    slot = _free_slot(config_dir)
    appointment_id = _run(
        capsys, "appointments", "book", "--slot", slot, "--patient", FNR, *NAMES, "--config", c
    )[1].strip()
    assert _run(capsys, "appointments", "cancel", appointment_id, "--config", c)[0] == 0
    code, _, err = _run(capsys, "appointments", "no-show", appointment_id, "--config", c)
    assert code == 1
    assert err.startswith("epj-adapter: appointment ")
    assert "Traceback" not in err
    code, _, err = _run(capsys, "reservations", "confirm", "no-such-id", "--config", c)
    assert code == 1
    assert "no appointment no-such-id" in err


def test_ics_export_writes_a_calendar_file(
    config_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    c = str(config_dir)
    appointment_id = _run(
        capsys,
        "appointments",
        "book",
        "--slot",
        _free_slot(config_dir),
        "--patient",
        FNR,
        *NAMES,
        "--config",
        c,
    )[1].strip()
    target = tmp_path / "time.ics"
    assert (
        _run(capsys, "appointments", "ics", appointment_id, "-o", str(target), "--config", c)[0]
        == 0
    )
    text = target.read_bytes().decode("utf-8")
    assert text.startswith("BEGIN:VCALENDAR\r\n")  # RFC 5545 line ends
    assert f"UID:{appointment_id}" in text


def test_patient_list_block_and_empty_queues_are_reported(
    config_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    c = str(config_dir)
    listing = tmp_path / "liste.txt"
    listing.write_text(f"# Benedikte\n{FNR}\n24081899068\n", encoding="utf-8")
    code, out, _ = _run(capsys, "patients", "import-list", "benedikte", str(listing), "--config", c)
    assert (code, out.strip()) == (0, "benedikte: 2 patients on the list")
    listing.write_text("123\n", encoding="utf-8")
    code, _, err = _run(capsys, "patients", "import-list", "benedikte", str(listing), "--config", c)
    assert code == 1
    assert "liste.txt: 1 line is not valid, nothing imported" in err
    assert "liste.txt:1 not a valid fødselsnummer/D-nummer (not 11 digits)" in err
    assert _run(capsys, "patients", "block", FNR, "--reason", "misbruk", "--config", c)[0] == 0
    assert _run(capsys, "patients", "unblock", FNR, "--config", c)[0] == 0
    assert (
        _run(capsys, "reservations", "list", "--config", c)[1].strip() == "no reservations waiting"
    )
    assert _run(capsys, "wishes", "list", "--config", c)[1].strip() == "no open wishes"


def test_status_and_events_are_machine_readable(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = str(config_dir)
    _run(
        capsys,
        "appointments",
        "book",
        "--slot",
        _free_slot(config_dir),
        "--patient",
        FNR,
        *NAMES,
        "--config",
        c,
    )
    code, out, _ = _run(capsys, "status", "--json", "--config", c)
    status = json.loads(out)
    assert code == 0
    assert status["clinic"] == "ddfl"
    assert status["deliveries"]["sent"] == 1
    code, out, _ = _run(capsys, "events", "--config", c)
    kinds = [json.loads(line)["kind"] for line in out.splitlines()]
    assert "appointment.booked" in kinds
    assert FNR not in out


def test_a_bad_patient_number_is_refused_before_anything_is_done(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(
        capsys,
        "appointments",
        "book",
        "--slot",
        "x",
        "--patient",
        "12345",
        *NAMES,
        "--config",
        str(config_dir),
    )
    assert code == 2
    assert "11 digits" in err


def test_import_list_names_every_bad_line_and_imports_nothing(
    config_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Issue 10: an 11-digit number with wrong check digits (Skatteetaten's modulus 11)
    used to be imported; now the file's bad lines are named and the list is unchanged."""
    c = str(config_dir)
    listing = tmp_path / "liste.txt"
    listing.write_text(f"{FNR}\n", encoding="utf-8")
    assert _run(capsys, "patients", "import-list", "benedikte", str(listing), "--config", c)[0] == 0
    listing.write_text(
        "# Benedikte\n"
        "24081899068\n"
        "\n"
        "24081899985  # wrong check digits\n"
        "53116900048\n"  # a D-nummer: fine
        "31046900216\n"  # 31 April
        "13516900037\n",  # an H-nummer: not for helsenorge.no
        encoding="utf-8",
    )
    code, out, err = _run(
        capsys, "patients", "import-list", "benedikte", str(listing), "--config", c
    )
    assert code == 1
    assert out == ""
    assert f"{listing}: 3 lines are not valid, nothing imported" in err
    assert f"{listing}:4 not a valid fødselsnummer/D-nummer (check digits)" in err
    assert f"{listing}:6 not a valid fødselsnummer/D-nummer (no such date)" in err
    assert f"{listing}:7 an H-nummer is not allowed here, only fødselsnummer/D-nummer" in err
    for number in ("24081899985", "31046900216", "13516900037"):
        assert number not in err
    runtime = bootstrap(config_dir, config=load_config(config_dir))
    try:
        with runtime.store.uow() as uow:
            assert uow.patients.is_listed("ddfl", "benedikte", FNR)  # the old list stands
            assert not uow.patients.is_listed("ddfl", "benedikte", "24081899068")
    finally:
        runtime.close()


def test_book_and_block_refuse_a_wrong_number_in_one_line(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = str(config_dir)
    slot = _free_slot(config_dir)
    wrong = FNR[:10] + "7"
    code, out, err = _run(
        capsys, "appointments", "book", "--slot", slot, "--patient", wrong, *NAMES, "--config", c
    )
    assert (code, out) == (2, "")
    assert err.strip() == (
        "epj-adapter: --patient: not a valid fødselsnummer/D-nummer (check digits)"
    )
    assert _avtale_codes(config_dir) == []
    code, _, err = _run(capsys, "patients", "block", wrong, "--config", c)
    assert code == 2
    assert err.strip() == "epj-adapter: FNR: not a valid fødselsnummer/D-nummer (check digits)"
    assert wrong not in err
    code, out, _ = _run(
        capsys,
        "appointments",
        "book",
        "--slot",
        slot,
        "--patient",
        "53116900048",
        *NAMES,
        "--config",
        c,
    )
    assert code == 0  # a D-nummer is booked as DNR
    runtime = bootstrap(config_dir, config=load_config(config_dir))
    try:
        made = runtime.adapter.appointment(out.strip())
        assert made is not None
        assert made.patient.ident_type.value == "DNR"
    finally:
        runtime.close()
