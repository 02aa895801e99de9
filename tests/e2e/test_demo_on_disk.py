"""``epj-adapter demo`` plays the patient guide's story against the daemon, exits 0, and
leaves only messages that pass ``validate.py --profile``, with a log free of identity.

Its transcript explains each protocol code once, the first time it appears, puts the
year on every date, and shows a reservation with the vikar waiting for the clinic, which
confirms one (10) and rejects another (06)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapter.privacy import has_person_number
from adapter.tools.demo import LEGEND, run_demo
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
    _assert_codes_explained_once(transcript)
    _assert_dates_carry_the_year(transcript)
    _assert_the_clinic_decides_ingars_reservations(transcript)

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


def _assert_codes_explained_once(transcript: str) -> None:
    lines = transcript.splitlines()
    told = [line for line in lines if not line.lstrip().startswith("(")]
    for code in LEGEND:
        explained = [n for n, line in enumerate(lines) if f"({LEGEND[code]})" in line]
        assert len(explained) == 1, code
        # Right under the first line that shows the code.
        word = re.compile(rf"(?<![\w:.-]){code}(?![\w:.-])")  # not in a time or an id
        shown = lines.index(next(line for line in told if word.search(line)))
        assert shown < explained[0] <= shown + 2, code
    for code in ("HB", "HLT", "RT", "03", "05"):
        assert LEGEND[code].startswith(f"{code} = "), code


def _assert_dates_carry_the_year(transcript: str) -> None:
    dates = re.findall(r"\b\d{2}\.\d{2}(?:\.\d{4})?\b", transcript)
    assert dates
    assert all(re.fullmatch(r"\d{2}\.\d{2}\.20\d{2}", d) for d in dates), dates[:5]
    assert "30.11.2026" in transcript
    assert "22.02.2027" in transcript


def _assert_the_clinic_decides_ingars_reservations(transcript: str) -> None:
    scene = transcript[transcript.index("Benedikte is away") :]
    waiting = scene.index("the reservation waits for the clinic")
    listed = scene.index("decide by", waiting)
    confirmed = scene.index("TIMERESERVASJON 10 ", listed)
    rejected = scene.index("TIMERESERVASJON 06 ", confirmed)
    assert "(to Folke)" in scene[confirmed:rejected]
    assert "(to Kari)" in scene[rejected:]
    assert "Ingar Vikersund" in scene
