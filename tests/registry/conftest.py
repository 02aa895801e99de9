"""Fixtures for routing tests: a test PKI and a routing file that uses it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapter.testing import TestPki, make_test_pki

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)

ROUTING = """
[parties.115851]
name = "Helsenorge"
kind = "organisation"

[parties.8093248]
parent = "115851"
name = "Digitale innbyggertjenester"
kind = "service"
signing_cert = "helsenorge-signing.pem"
encryption_cert = "helsenorge-encryption.pem"

[parties.8093248.queues]
async = "8093248_async"
sync = "8093248_sync"
error = "8093248_error"
syncreply = "8093248_syncreply"

[parties.8093248.processes]
Dialog_Innbygger_Timereservasjon = { version = "1.2", role = "Innbygger" }
Dialog_Innbygger_Test = { version = "1.1", role = "Innbygger" }

[parties.91000]
name = "Legekontoret"
signing_cert = "clinic-signing.pem"
encryption_cert = "clinic-encryption.pem"

[parties.91000.queues]
async = "91000_async"
sync = "91000_sync"
error = "91000_error"
syncreply = "91000_syncreply"

[parties.91000.processes]
Dialog_Innbygger_Timereservasjon = { version = "1.2", role = "Helsepersonell" }

[parties.91095]
parent = "91000"
name = "Fastlegen"
kind = "person"

[parties.91095.processes]
DIALOG_INNBYGGER_TIMERESERVASJON = { version = "1.2", role = "Helsepersonell" }
Dialog_Innbygger_Test = { version = "1.1", role = "Helsepersonell" }

[parties.91096]
parent = "91000"
name = "Vikaren"
kind = "person"
active = false
"""


@pytest.fixture(scope="session")
def registry_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_test_pki(
        tmp_path_factory.mktemp("routing-pki"),
        now=NOW,
        parties={"helsenorge": "8093248", "clinic": "91000"},
    )


@pytest.fixture
def write_routing(registry_pki: TestPki, tmp_path: Path) -> Callable[[str], Path]:
    """Write a routing file beside copies of the test certificates."""
    assert registry_pki.directory is not None
    for pem in registry_pki.directory.glob("*.pem"):
        (tmp_path / pem.name).write_bytes(pem.read_bytes())

    def write(text: str = ROUTING) -> Path:
        path = tmp_path / "routing.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write
