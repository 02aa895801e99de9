"""``epj-adapter demo`` plays the patient guide's story against the daemon, exits 0, and
leaves only messages that pass ``validate.py --profile``, with a log free of identity."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapter.privacy import has_person_number
from adapter.tools.demo import run_demo
from tests.conftest import PATIENT_NAMES, Conformance
from tests.e2e.conftest import ROOT, badly_addressed, outgoing_files

pytestmark = pytest.mark.e2e


def test_demo_leaves_conformant_messages_and_a_clean_log(
    tmp_path: Path, conformance: Conformance, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_demo(tmp_path, ROOT / "config") == 0
    transcript = capsys.readouterr().out
    for step in (
        "RKT",
        "BEHANDLEROVERSIKT 20",
        " 03 ",
        " 05 ",
        " 06 ",
        " 08 ",
        "AVTALEUTSENDING 05",
    ):
        assert step in transcript, step

    queues = tmp_path / "queues"
    assert len(list(queues.rglob("*.xml"))) > 20
    conformance.assert_valid(queues)
    assert outgoing_files(queues)
    problems = badly_addressed(queues)
    assert not problems, "\n".join(problems[:5])

    log = (tmp_path / "adapter.log").read_text(encoding="utf-8")
    assert log.strip()
    leaks = [
        line
        for line in log.splitlines()
        if has_person_number(line) or any(name in line for name in PATIENT_NAMES)
    ]
    assert not leaks, leaks[:3]
