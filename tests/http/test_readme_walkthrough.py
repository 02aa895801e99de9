"""The README's curl walkthrough runs as written: its ``sh`` block, with ``bash -eu -o
pipefail``, against ``epj-adapter serve`` on the example clinic, so the README cannot
drift from the API. curl's ``-f`` makes any answer of 400 or more fail the block."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.http.test_serve import TOKEN, configured, free_port, tokens_toml

pytestmark = pytest.mark.http

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## HTTP API"
BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def walkthrough() -> str:
    """The one ``sh`` block of the README's HTTP API section."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index(SECTION + "\n")
    end = readme.find("\n## ", start + len(SECTION))
    [block] = BLOCK.findall(readme[start:end])
    return str(block)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[str]:
    """``epj-adapter serve`` on the example clinic with an epj token; its base URL."""
    for tool in ("curl", "jq"):
        if shutil.which(tool) is None:
            if os.environ.get("CI") == "true":
                pytest.fail(f"{tool} is needed for the README walkthrough")
            pytest.skip(f"{tool} is not installed")
    port = free_port()
    folder = configured(tmp_path, f'enabled = true\nlisten = "127.0.0.1:{port}"\n')
    (folder / "tokens.toml").write_text(tokens_toml(), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "adapter.cli", "serve", "--config", str(folder)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_the_readme_walkthrough_runs_against_the_server(api: str) -> None:
    script = walkthrough()
    result = subprocess.run(
        ["bash", "-eu", "-o", "pipefail", "-c", script],
        env={**os.environ, "API": api, "TOKEN": TOKEN},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == '{"status":"ok"}'
    assert lines[1] == '{"added":2,"updated":0,"unchanged":0}'
    assert any('"visibility":' in line for line in lines)
    assert any('"state":"confirmed"' in line and '-2"' in line for line in lines)


def test_the_walkthrough_is_found_in_the_readme() -> None:
    script = walkthrough()
    assert "curl" in script
    assert "If-Match" in script
    assert "Idempotency-Key" in script
