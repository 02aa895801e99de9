"""Ops commands: ``doctor`` checks the installation; ``deadletters`` handles what was put aside."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapter.cli import main
from adapter.config import load_config
from adapter.doctor import Outcome, engine_name, run_checks
from adapter.testing import helsenorge_message, make_test_pki
from adapter.tools.demo import prepare
from adapter.transport.deadletters import DirectoryDeadLetters
from adapter.transport.directory import DirectoryTransport

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return prepare(tmp_path, ROOT / "config")


def _outcomes(config_dir: Path) -> dict[str, Outcome]:
    return {c.name: c.outcome for c in run_checks(load_config(config_dir))}


def test_doctor_passes_on_a_fresh_example_install(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "--config", str(config_dir)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].endswith("0 failed")
    assert "routing" in out


def test_doctor_fails_on_a_broken_routing_file(config_dir: Path) -> None:
    (config_dir / "routing.toml").write_text(
        "[parties.8142519]\nkind = 'nonsense'\n", encoding="utf-8"
    )
    assert _outcomes(config_dir)["routing"] is Outcome.FAIL


def _enable_cms(config_dir: Path, signing_key: str) -> None:
    make_test_pki(config_dir / "certs", parties={"clinic": "8142519", "helsenorge": "8093248"})
    adapter_toml = config_dir / "adapter.toml"
    adapter_toml.write_text(
        adapter_toml.read_text(encoding="utf-8")
        + f'\n[cms]\nenabled = true\nsigning_key = "{signing_key}"\n'
        'signing_cert = "certs/clinic-signing.pem"\n'
        'decryption_keys = ["certs/clinic-encryption.key"]\n',
        encoding="utf-8",
    )


def test_doctor_accepts_matching_cms_keys_and_certificates(config_dir: Path) -> None:
    _enable_cms(config_dir, "certs/clinic-signing.key")
    assert _outcomes(config_dir)["cms"] is Outcome.OK


def test_doctor_fails_when_the_signing_key_does_not_match_its_certificate(config_dir: Path) -> None:
    _enable_cms(config_dir, "certs/clinic-encryption.key")
    checks = {c.name: c for c in run_checks(load_config(config_dir))}
    assert checks["cms"].outcome is Outcome.FAIL
    assert "is not the key of" in checks["cms"].detail


def test_missing_cms_key_files_are_config_errors_naming_file_and_key(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    adapter_toml = config_dir / "adapter.toml"
    adapter_toml.write_text(
        adapter_toml.read_text(encoding="utf-8")
        + '\n[cms]\nenabled = true\nsigning_key = "keys/none.key"\nsigning_cert = "keys/none.pem"\n'
        'decryption_keys = ["keys/none.key"]\n',
        encoding="utf-8",
    )
    assert main(["doctor", "--config", str(config_dir)]) == 2
    assert "[cms.signing_key] file not found" in capsys.readouterr().err


def test_doctor_fails_when_the_clock_is_far_in_the_past(config_dir: Path) -> None:
    checks = run_checks(load_config(config_dir), now=lambda: datetime(2001, 1, 1, tzinfo=UTC))
    assert {c.name: c.outcome for c in checks}["clock"] is Outcome.FAIL


def test_doctor_never_shows_a_database_password() -> None:
    assert (
        engine_name("postgresql+psycopg://adapter:secret@db:5432/x")
        == "postgresql+psycopg://adapter@db:5432/x"
    )


#: The messageId of the message the dead-letter tests put aside.
DEAD_ID = "d3ad0000-0000-4000-8000-000000000001"


def _dead_letter(root: Path, queue: str) -> None:
    transport = DirectoryTransport(root, max_delivery_attempts=1)
    message = helsenorge_message(
        b"<x/>",
        "DIALOG_INNBYGGER_TIMERESERVASJON",
        queue=queue,
        now=datetime(2026, 11, 30, 7, 50, tzinfo=UTC),
        message_id=DEAD_ID,
    )
    transport.send(queue, message)
    delivery = transport.receive([queue], 1.0)
    assert delivery is not None
    delivery.release("could not be processed")


def test_dead_letters_can_be_listed_republished_and_purged(tmp_path: Path) -> None:
    queue = "8142519_async"
    box = DirectoryDeadLetters(tmp_path)
    _dead_letter(tmp_path, queue)
    letters = box.peek(queue)
    assert [d.message.message_id for d in letters] == [DEAD_ID]
    assert "could not be processed" in letters[0].reason
    assert box.republish(queue) == 1
    assert box.peek(queue) == []
    assert DirectoryTransport(tmp_path).count(queue) == 1
    _dead_letter(tmp_path, queue)
    _dead_letter(tmp_path, queue)
    assert box.purge(queue) >= 1
    assert box.peek(queue) == []


def test_deadletters_command_lists_per_queue(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = load_config(config_dir).settings.directory_root
    _dead_letter(root, "8142519_async")
    assert main(["deadletters", "list", "--config", str(config_dir)]) == 0
    out = capsys.readouterr().out
    assert "8142519_async: 1 dead letter(s)" in out
    assert "could not be processed" in out
    assert main(["doctor", "--config", str(config_dir)]) == 0
    assert "warn  deadletters" in capsys.readouterr().out
