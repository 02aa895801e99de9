"""A clinic.toml that cannot be read reaches every command as its issue, never a crash.

Regression (issue 12): a TOML syntax error in clinic.toml, a table written twice or a
missing clinic.toml made rules.toml's name checks call difflib with no names, and
every command died with ``ValueError: n must be > 0: 0``; ``run`` exited 1.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapter.cli import EXIT_PROBLEMS, EXIT_USAGE, main
from adapter.config import ConfigError, check_config, load_config
from tests.config.helpers import copy_example, edit, line_of
from tests.servers.adapter_process import COMMAND


@dataclass(frozen=True)
class Broken:
    """The issue that must name how clinic.toml is broken (``line`` 0: the whole file)."""

    line: int
    key: str
    message: str
    fix: str


def _syntax_error(config: Path) -> Broken:
    edit(config, "clinic.toml", 'name = "DDFL Ehelse Interntest med Mock"', 'name = "DDFL')
    return Broken(
        line_of(config, "clinic.toml", 'name = "DDFL'),
        "clinic.name",
        "TOML syntax error: Illegal character '\\n' at column 13",
        "correct the TOML syntax on that line (quotes, = and brackets)",
    )


def _table_twice(config: Path) -> Broken:
    path = config / "clinic.toml"
    text = path.read_text(encoding="utf-8") + '\n[practitioners.arna]\nher_id = "8142523"\n'
    path.write_text(text, encoding="utf-8")
    first = line_of(config, "clinic.toml", "[practitioners.arna]")
    return Broken(
        line_of(config, "clinic.toml", "[practitioners.arna]", occurrence=2),
        "practitioners.arna",
        f"table written twice (first on line {first})",
        "write each table once: merge the two [practitioners.arna] tables, or rename one",
    )


def _missing(config: Path) -> Broken:
    (config / "clinic.toml").unlink()
    return Broken(
        0,
        "",
        f"file not found in {config}",
        "create clinic.toml; the commented example is in the project's config/",
    )


BREAKS: dict[str, Callable[[Path], Broken]] = {
    "syntax-error": _syntax_error,
    "table-twice": _table_twice,
    "missing": _missing,
}


def _broken(tmp_path: Path, which: str) -> tuple[Path, Broken]:
    config = copy_example(tmp_path)
    return config, BREAKS[which](config)


@pytest.mark.parametrize("which", list(BREAKS))
def test_check_config_names_the_clinic_file_problem(tmp_path: Path, which: str) -> None:
    config, expected = _broken(tmp_path, which)
    issues = check_config(config)
    assert [(i.file, i.line, i.key, i.message, i.fix) for i in issues if i.is_error] == [
        ("clinic.toml", expected.line, expected.key, expected.message, expected.fix)
    ]
    with pytest.raises(ConfigError):
        load_config(config)


@pytest.mark.parametrize("which", list(BREAKS))
def test_check_config_cli_exits_1_with_the_issue(
    tmp_path: Path, which: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config, expected = _broken(tmp_path, which)
    assert main(["check-config", "--config", str(config)]) == EXIT_PROBLEMS
    out = capsys.readouterr().out
    where = f"clinic.toml:{expected.line}" if expected.line else "clinic.toml"
    assert f"{where} {f'[{expected.key}] ' if expected.key else ''}{expected.message}" in out


@pytest.mark.parametrize("which", list(BREAKS))
@pytest.mark.parametrize("command", [["status"], ["doctor"], ["preview"], ["reservations", "list"]])
def test_commands_exit_2_with_the_issue(
    tmp_path: Path, which: str, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    config, expected = _broken(tmp_path, which)
    assert main([*command, "--config", str(config)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert expected.message in err
    assert "run check-config" in err


def test_demo_exits_2_with_the_issue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, expected = _broken(tmp_path, "table-twice")
    assert main(["demo", "--config", str(config), "--dir", str(tmp_path / "demo")]) == EXIT_USAGE
    assert expected.message in capsys.readouterr().err


@pytest.mark.parametrize("which", list(BREAKS))
def test_run_exits_2_without_a_traceback(tmp_path: Path, which: str) -> None:
    config, expected = _broken(tmp_path, which)
    done = subprocess.run(
        [*COMMAND, "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == EXIT_USAGE, done.stderr
    assert "Traceback" not in done.stderr
    assert expected.message in done.stderr


def test_rules_names_are_still_checked_when_clinic_file_reads(tmp_path: Path) -> None:
    config = copy_example(tmp_path)
    edit(config, "rules.toml", 'practitioners = ["arna"]', 'practitioners = ["arne"]')
    (issue,) = check_config(config)
    assert issue.message == "unknown practitioner 'arne'"
