"""The README's Python API section runs as written: every ``python`` block of "For EPJ
vendors: the Python API", from the checkout's root in a fresh interpreter, against the
example clinic (``config/``), so the README cannot drift from the API."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## For EPJ vendors: the Python API"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def vendor_blocks(readme: str) -> list[str]:
    """The ``python`` blocks of the vendors' section, in order."""
    start = readme.index(SECTION)
    end = readme.find("\n## ", start + len(SECTION))
    return BLOCK.findall(readme[start : end if end != -1 else len(readme)])


BLOCKS = vendor_blocks((ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_vendor_section_shows_the_api_example_and_the_testing_example() -> None:
    assert len(BLOCKS) >= 2
    assert "open_adapter(" in BLOCKS[0]
    assert any("bootstrap(" in block and "MemoryTransport()" in block for block in BLOCKS)


def test_a_block_is_found_with_its_text_whole() -> None:
    text = f"{SECTION}\n\nintro\n\n```python\nx = 1\n\ny = 2\n```\n\n## Next\n\n```python\nz\n```\n"
    assert vendor_blocks(text) == ["x = 1\n\ny = 2\n"]


@pytest.mark.parametrize("number", range(len(BLOCKS)), ids=lambda n: f"block{n + 1}")
def test_the_readme_block_runs_as_written(number: int, tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # tempfile.mkdtemp() lands here
    result = subprocess.run(
        [sys.executable, "-c", BLOCKS[number]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""  # no warnings, no logs: the library is quiet by default
