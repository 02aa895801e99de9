"""Fixtures of the hostile suite: the example clinic's template (from tests/e2e), a
canary server and file, and the real daemon fed the corpus (one per module)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from adapter.bootstrap import bootstrap
from adapter.domain.model import OSLO, Slot
from adapter.tools.demo import DemoClock
from tests.e2e.conftest import START, clinic_template
from tests.hostile import harness as h
from tests.hostile.runner import Canary, CorpusRunner, Daemon

__all__ = ["PAST_SLOT", "canary", "clinic_template", "corpus_runner"]

#: A slot of Benedikte's that started three days before the clock's start (Friday).
PAST_SLOT = h.SlotRef(
    "hostile-past-slot",
    datetime(2026, 11, 27, 10, 0, tzinfo=OSLO),
    datetime(2026, 11, 27, 10, 20, tzinfo=OSLO),
    "8142520",
)


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canary]:
    """The canary HTTP server and file (nothing may ever read them)."""
    found = Canary(tmp_path_factory.mktemp("canary"))
    try:
        yield found
    finally:
        found.close()


def copy_clinic(template: Path, root: Path) -> Path:
    """A copy of the example clinic with one past slot of Benedikte's added through the
    EPJ API (as an EPJ loading its book would); returns the config folder."""
    shutil.copytree(template, root, dirs_exist_ok=True)
    runtime = bootstrap(root / "config", clock=DemoClock(START))
    try:
        runtime.adapter.load_slots(
            [
                Slot(
                    PAST_SLOT.uid,
                    runtime.ctx.clinic.key,
                    "benedikte",
                    "oppmote",
                    PAST_SLOT.start,
                    PAST_SLOT.end,
                )
            ]
        )
    finally:
        runtime.close()
    return root / "config"


@pytest.fixture(scope="module")
def corpus_runner(
    tmp_path_factory: pytest.TempPathFactory,
    clinic_template: Path,
    canary: Canary,
    request: pytest.FixtureRequest,
) -> Iterator[CorpusRunner]:
    """``epj-adapter run`` on a copy of the clinic, serving; slots discovered by HLT.
    At the end the figures of every row are written to the terminal."""
    root = tmp_path_factory.mktemp("hostile-daemon")
    config = copy_clinic(clinic_template, root)
    daemon = Daemon(config, root)
    runner = CorpusRunner(root, daemon, canary)
    try:
        daemon.wait_for_line("daemon.started")
        # The corpus times each message's handling: not while the start-up work (schema
        # warm-up, slot refresh) shares the interpreter (tests/e2e time the start).
        daemon.wait_for_line("daemon.start_work_done")
        runner.discover_slots(PAST_SLOT)
        assert runner.kt() == "sync RKT"
        yield runner
    finally:
        code = daemon.stop()
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and runner.results:
            reporter.write_line("")
            reporter.write_line(f"hostile corpus against epj-adapter run (exit {code}):")
            for result in runner.results:
                reporter.write_line("  " + result.line())
