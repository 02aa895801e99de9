"""Shared test fixtures: where ../shared is, and the conformance validator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
