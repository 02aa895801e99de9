"""``epj-adapter ... | head -1``: a reader that goes away ends the command quietly."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from adapter.tools.demo import prepare
from tests.servers.adapter_process import COMMAND

ROOT = Path(__file__).resolve().parents[2]


def _into_a_closed_pipe(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run with stdout a pipe whose reader has already gone (as after ``head -1``)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        return subprocess.run(
            [*COMMAND, *argv],
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "argv",
    [("check-config",), ("doctor",), ("deadletters", "list")],
    ids=lambda argv: " ".join(argv),
)
def test_a_closed_pipe_ends_the_command_without_a_traceback(
    tmp_path: Path, argv: tuple[str, ...]
) -> None:
    config = prepare(tmp_path, ROOT / "config")
    result = _into_a_closed_pipe(*argv, "--config", str(config))
    assert result.stderr == ""
    assert result.returncode == 141  # 128 + SIGPIPE, as a program killed by it


def test_help_into_a_closed_pipe_is_quiet_too() -> None:
    result = _into_a_closed_pipe("status", "--help")
    assert result.stderr == ""
