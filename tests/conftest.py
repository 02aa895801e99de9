"""Shared test fixtures: where ../shared is, and the conformance validator."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest

from adapter.logs import configure
from adapter.privacy import has_person_number
from tests.servers.postgres import postgres_db_url, postgres_server, postgres_url  # noqa: F401
from tests.servers.rabbitmq import rabbitmq  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _require_shared() -> Path:
    if (SHARED / "standards").is_dir():
        return SHARED
    reason = f"../shared (official schemas, examples, validate.py) not found at {SHARED}"
    if IN_CI:
        pytest.fail(f"{reason}; under CI=true it must be there", pytrace=False)
    pytest.skip(reason)


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--soak``: run the reliability suite longer (more kills, requests, copies)."""
    parser.addoption(
        "--soak",
        action="store_true",
        default=False,
        help="run the reliability (attack) suite as a longer soak",
    )


@pytest.fixture(scope="session")
def soak(request: pytest.FixtureRequest) -> bool:
    """True under ``--soak``: reliability tests scale their load up."""
    return bool(request.config.getoption("--soak"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout; skips (fails under CI=true) when absent."""
    return _require_shared()


@pytest.fixture(scope="session")
def examples_dir(shared_dir: Path) -> Path:
    """The official example messages."""
    return shared_dir / "standards" / "examples"


@pytest.fixture(scope="session")
def official_xsd_dir(shared_dir: Path) -> Path:
    """The official schemas."""
    return shared_dir / "standards" / "xsd"


class Conformance:
    """Runs ``../shared/conformance/validate.py --profile`` on files or folders."""

    def __init__(self, script: Path) -> None:
        self.script = script

    def run(self, *paths: Path, profile: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the validator; the result's stdout ends with 'N passed, N failed'."""
        args = [sys.executable, str(self.script)]
        if profile:
            args.append("--profile")
        args.extend(str(p) for p in paths)
        return subprocess.run(args, capture_output=True, text=True, check=False, timeout=300)

    def assert_valid(self, *paths: Path) -> None:
        """Fail with the validator's own report unless every file passes."""
        result = self.run(*paths)
        assert result.returncode == 0, result.stdout + result.stderr
        assert " 0 failed" in result.stdout.splitlines()[-1], result.stdout


@pytest.fixture(scope="session")
def conformance(shared_dir: Path) -> Conformance:
    """The official conformance validator."""
    return Conformance(shared_dir / "conformance" / "validate.py")


# --- every log line the suite produces is scanned for personal data ----------------------

#: Names of the test patients used across the suite; they must never reach a log.
PATIENT_NAMES = ("Folke", "Danser", "Lille", "Kari", "Nordmann", "Ulla", "Utenliste", "Ola")


@pytest.fixture(scope="session")
def log_capture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every structlog line of the session goes to one file, scanned at the end."""
    path = tmp_path_factory.mktemp("logs") / "technical.log"
    with path.open("a", encoding="utf-8") as stream:
        stream.reconfigure(line_buffering=True)
        _LOG_STREAM.append(stream)
        yield path
    text = path.read_text(encoding="utf-8")
    leaks = [
        line
        for line in text.splitlines()
        if has_person_number(line) or any(name in line for name in PATIENT_NAMES)
    ]
    assert not leaks, "personal data in technical logs:\n" + "\n".join(leaks[:5])


_LOG_STREAM: list[TextIO] = []


@pytest.fixture(autouse=True)
def _logs_to_capture(log_capture: Path) -> Iterator[None]:
    """Each test starts with logging configured to the session's capture file (debug)."""
    configure("json", "debug", stream=_LOG_STREAM[-1])
    yield
    configure("json", "debug", stream=_LOG_STREAM[-1])
