"""Issue 12 on the command line: ``slots withdraw|restore``, ``--note`` on the clinic's
answers, and the patient's names on ``appointments book`` (HITS 1217 §2.3)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from adapter.bootstrap import bootstrap
from adapter.cli import main
from adapter.config import load_config
from adapter.messages.read_replies import read_reply
from adapter.tools.demo import prepare
from adapter.transport.directory import read_messages

ROOT = Path(__file__).resolve().parents[2]
FNR = "13116900216"
NAMES = ("--given-name", "Line", "--family-name", "Danser")


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return prepare(tmp_path, ROOT / "config")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _free_slot(config_dir: Path) -> str:
    runtime = bootstrap(config_dir, config=load_config(config_dir))
    try:
        runtime.refresh_slots()
        now = runtime.clock()
        with runtime.store.uow() as uow:
            slots = uow.slots.in_window(
                "ddfl", now + timedelta(days=1), now + timedelta(days=8), practitioner="benedikte"
            )
        return slots[0].id
    finally:
        runtime.close()


def _avtale_codes(config_dir: Path) -> list[str]:
    queues = load_config(config_dir).settings.directory_root
    return [read_reply(m.body).code for m in read_messages(queues, "8093248_async")]


def _is_offered(config_dir: Path, slot_id: str) -> bool:
    runtime = bootstrap(config_dir, config=load_config(config_dir))
    try:
        with runtime.store.uow() as uow:
            return uow.slots.get("ddfl", slot_id) is not None
    finally:
        runtime.close()


def test_slots_withdraw_cancels_the_appointment_with_avtale_08_and_restore_reopens(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = str(config_dir)
    slot = _free_slot(config_dir)
    code, out, _ = _run(
        capsys, "appointments", "book", "--slot", slot, "--patient", FNR, *NAMES, "--config", c
    )
    assert code == 0
    appointment_id = out.strip()
    code, out, _ = _run(capsys, "slots", "withdraw", slot, "--config", c)
    assert code == 0
    assert out.strip() == f"slot {slot} withdrawn; appointment {appointment_id} got 08"
    assert _avtale_codes(config_dir) == ["05", "08"]
    assert not _is_offered(config_dir, slot)
    assert _run(capsys, "slots", "withdraw", slot, "--config", c)[1].strip() == (
        f"slot {slot} was already withdrawn"
    )
    code, out, _ = _run(capsys, "slots", "restore", slot, "--config", c)
    assert (code, out.strip()) == (0, f"slot {slot} restored")
    assert _is_offered(config_dir, slot)


def test_slots_withdraw_of_an_unknown_slot_is_one_line_and_exit_1(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "slots", "withdraw", "nope", "--config", str(config_dir))
    assert code == 1
    assert err.strip() == "epj-adapter: no slot nope at ddfl"


def test_an_over_long_note_is_refused_in_one_line(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = str(config_dir)
    slot = _free_slot(config_dir)
    code, _, err = _run(capsys, "slots", "withdraw", slot, "--note", "x" * 1001, "--config", c)
    assert code == 1
    assert "note is 1001 characters, more than 1000" in err
    assert _is_offered(config_dir, slot)
    code, _, err = _run(
        capsys, "reservations", "confirm", "no-such-id", "--note", "x" * 1001, "--config", c
    )
    assert code == 1
    assert "note is 1001 characters" in err


def test_book_asks_for_the_patients_names(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slot = _free_slot(config_dir)
    with pytest.raises(SystemExit) as info:
        main(
            ["appointments", "book", "--slot", slot, "--patient", FNR, "--config", str(config_dir)]
        )
    assert info.value.code == 2
    assert "--given-name" in capsys.readouterr().err
    assert _avtale_codes(config_dir) == []
