"""The admin page in a real headless Chromium: Debian's ``chromium`` driven by
Playwright's sync API (never ``playwright install``), against uvicorn on 127.0.0.1.

Without Chromium the tests are skipped with the reason, except under ``CI=true``,
where a missing browser is a failure. Screenshots go to ``test-artifacts/browser/``
at the repository root.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, sync_playwright

from adapter.http import create_app, hash_token
from adapter.http.auth import Token, Tokens
from adapter.runtime import Runtime
from adapter.testing import MemoryTransport
from tests.http.conftest import example_clinic, serve

__all__ = ["serve"]  # the HTTP tests' uvicorn fixture, used here too

ADMIN_TOKEN = "browser-admin-token-0123456789"

#: Where Debian (and the Makefile) put Chromium, in the order tried.
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium")

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"


def find_chromium() -> str | None:
    """The Chromium to drive: ``$CHROMIUM`` if set, else Debian's, else None."""
    wanted = os.environ.get("CHROMIUM")
    candidates = [wanted] if wanted else [*CHROMIUM_PATHS, shutil.which("chromium") or ""]
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    """Chromium's path; skip without one (fail under CI=true)."""
    path = find_chromium()
    if path is None:
        where = os.environ.get("CHROMIUM") or ", ".join(CHROMIUM_PATHS)
        reason = (
            f"no Chromium at {where} (install Debian's chromium package, as `make` does, "
            "or set CHROMIUM=/path/to/chromium)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def browser(chromium: str) -> Iterator[Browser]:
    """One headless Chromium for the session."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, headless=True)
        yield launched
        launched.close()


@dataclass(frozen=True)
class Served:
    """The admin page served: its base URL, the runtime and the transport."""

    url: str
    runtime: Runtime
    transport: MemoryTransport


@pytest.fixture
def served(tmp_path: Path, serve: Callable[[FastAPI], str]) -> Iterator[Served]:
    """The example clinic (clock Monday 30 November 2026 07:50) with its template slots
    that week, and two slots of Ingar's on Tuesday (a vikar: reservations wait)."""
    runtime = example_clinic(tmp_path)
    transport = runtime.transport
    assert isinstance(transport, MemoryTransport)
    key = runtime.adapter.clinic.key
    runtime.adapter.generate_slots(date(2026, 11, 30), date(2026, 12, 4))
    tokens = Tokens([Token("kontor", hash_token(ADMIN_TOKEN), "admin", frozenset({key}))])
    app = create_app(runtime, tokens=tokens, webhooks=False)
    yield Served(serve(app), runtime, transport)
    runtime.close()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """Save a full-page screenshot as ``test-artifacts/browser/<test>-<name>.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    test = request.node.name.replace("[", "-").replace("]", "").replace("/", "-")

    def shoot(page: Page, name: str) -> Path:
        path = ARTIFACTS / f"{test}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shoot
