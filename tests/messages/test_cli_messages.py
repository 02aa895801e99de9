"""``epj-adapter messages parse | validate | samples``."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from adapter.cli import main

from .test_hostile_inputs import FNR, request


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_parse_says_what_a_request_means_with_the_patient_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "Vondt i ryggen etter fall"
    path = write(tmp_path, "rt.xml", request(subject="Ryggen", question=secret))
    assert main(["messages", "parse", str(path)]) == 0
    out = capsys.readouterr().out
    assert "RT Reserver time (asynchronous)" in out
    assert "patient   FNR 131169*****" in out
    assert FNR not in out
    assert "Danser" not in out
    assert secret not in out
    assert "subject 6 chars, text 25 chars" in out
    assert "slot_uid                    slot-1" in out
    assert "2026-12-03 09:00 (Oslo)" in out
    assert "HER 8093248" in out
    assert "HER 91095" in out


def test_parse_official_examples(examples_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(p) for p in sorted(examples_dir.glob("*request*.xml"))]
    assert main(["messages", "parse", *files]) == 0
    out = capsys.readouterr().out
    assert "13116900216" not in out
    assert out.count("131169*****") == len(files)


def test_parse_says_why_a_message_is_refused_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path, "good.xml", request())
    bad = write(tmp_path, "bad.xml", request(subject="x" * 51))
    assert main(["messages", "parse", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert "bad.xml: REFUSED with AppRec T02 (XML validerer ikke)" in out
    assert "EmneSporsmal: value is 51 characters, at most 50 allowed" in out


def test_parse_missing_file_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["messages", "parse", str(tmp_path / "nope.xml")]) == 1
    assert "cannot read" in capsys.readouterr().out


def test_validate_counts_passed_and_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "a.xml", request())
    write(
        tmp_path, "b.xml", request(type_foresp="HB", msg_type="DIALOG_INNBYGGER_BEHANDLEROVERSIKT")
    )
    write(tmp_path, "c.xml", b"<MsgHead>")
    assert main(["messages", "validate", str(tmp_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "2 passed, 1 failed"
    assert any(line.startswith("FAIL") and "c.xml" in line for line in lines)
    assert any("T01: not well-formed XML" in line for line in lines)


def test_validate_with_official_schemas(
    tmp_path: Path, official_xsd_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ok = write(tmp_path, "ok.xml", request())
    broken = write(
        tmp_path, "broken.xml", request().replace(b"<MIGversion>v1.2 2006-05-24", b"<MIGversion>v9")
    )
    code = main(["messages", "validate", "--official", str(official_xsd_dir), str(ok), str(broken)])
    assert code == 1
    out = capsys.readouterr().out
    assert "official: line" in out
    assert out.splitlines()[-1] == "1 passed, 1 failed"


def test_validate_official_examples_all_pass_the_official_schemas(
    examples_dir: Path, official_xsd_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requests = [str(p) for p in sorted(examples_dir.glob("*request*.xml"))]
    assert main(["messages", "validate", "--official", str(official_xsd_dir), *requests]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"{len(requests)} passed, 0 failed"


def test_validate_with_a_wrong_official_dir_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "a.xml", request())
    assert main(["messages", "validate", "--official", str(tmp_path), str(path)]) == 2
    assert "no MsgHead-v1_2.xsd" in capsys.readouterr().err


def test_samples_calls_the_builders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def write_samples(outdir: Path) -> list[Path]:
        path = outdir / "DIALOG_INNBYGGER_TEST_RKT.xml"
        path.write_bytes(b"<x/>")
        return [path]

    fake = types.ModuleType("adapter.tools.samples")
    monkeypatch.setattr(fake, "write_samples", write_samples, raising=False)
    monkeypatch.setitem(sys.modules, "adapter.tools.samples", fake)
    out_dir = tmp_path / "out"
    assert main(["messages", "samples", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert "1 samples written to" in out
    assert (out_dir / "DIALOG_INNBYGGER_TEST_RKT.xml").exists()
