"""Where a command finds its configuration without ``--config``: ``EPJ_ADAPTER_CONFIG``,
then ``/etc/epj-adapter/``, then ``./config`` (as before)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapter.cli import EPILOG, config_cmds, main
from adapter.tools.demo import prepare

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Three installs (for the variable, the system folder, ./config); run from a folder
    of its own; the system folder is a test folder, not the machine's /etc."""
    found = {name: prepare(tmp_path / name, ROOT / "config") for name in ("env", "etc", "cwd")}
    monkeypatch.chdir(tmp_path / "cwd")  # ./config is cwd/config
    monkeypatch.setattr(config_cmds, "SYSTEM_CONFIG", tmp_path / "etc" / "config")
    monkeypatch.delenv(config_cmds.CONFIG_ENV, raising=False)
    return found


def _used(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run check-config; what it names as checked (its last line), and the code."""
    code = main(["check-config", *argv])
    captured = capsys.readouterr()
    return code, (captured.out.splitlines() or [""])[-1] + captured.err


def test_the_variable_names_the_config_directory_when_no_option_is_given(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EPJ_ADAPTER_CONFIG", str(places["env"]))
    code, said = _used(capsys)
    assert code == 0
    assert said.startswith(f"{places['env']}: configuration OK")


def test_the_option_wins_over_the_variable(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EPJ_ADAPTER_CONFIG", str(places["env"]))
    code, said = _used(capsys, "--config", str(places["etc"]))
    assert code == 0
    assert said.startswith(f"{places['etc']}: configuration OK")


def test_the_system_folder_comes_after_the_variable_and_before_dot_config(
    places: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, said = _used(capsys)
    assert code == 0
    assert said.startswith(f"{config_cmds.SYSTEM_CONFIG}: configuration OK")


def test_dot_config_is_still_the_last_default(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(config_cmds, "SYSTEM_CONFIG", places["etc"].parent / "absent")
    code, said = _used(capsys)
    assert code == 0
    assert said.startswith("config: configuration OK")


def test_a_variable_naming_a_missing_folder_is_an_error_naming_the_variable(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EPJ_ADAPTER_CONFIG", "/no/such/folder")
    assert main(["doctor"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "epj-adapter: config directory not found: /no/such/folder (from EPJ_ADAPTER_CONFIG)"
    )


def test_no_config_anywhere_says_where_it_looked(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(config_cmds, "SYSTEM_CONFIG", places["etc"].parent / "absent")
    monkeypatch.chdir(places["etc"].parent.parent)  # no ./config here
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert "no config directory: give --config DIR, set EPJ_ADAPTER_CONFIG" in err
    assert "/absent/" in err


def test_every_command_uses_the_variable(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EPJ_ADAPTER_CONFIG", str(places["env"]))
    assert main(["doctor"]) == 0
    assert f"{places['env']} loads without problems" in capsys.readouterr().out


def test_help_documents_the_order(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert config_cmds.CONFIG_ORDER in EPILOG
    assert config_cmds.CONFIG_ORDER in out
    with pytest.raises(SystemExit):
        main(["status", "--help"])
    assert "$EPJ_ADAPTER_CONFIG, else /etc/epj-adapter/" in " ".join(
        capsys.readouterr().out.split()
    ).replace("epj- adapter", "epj-adapter")
