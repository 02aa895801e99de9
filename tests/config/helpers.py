"""Helpers for config tests: a copy of the example config to break on purpose."""

from __future__ import annotations

import shutil
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "config"
FILES = ("clinic.toml", "rules.toml", "adapter.toml", "routing.toml")


def copy_example(tmp_path: Path) -> Path:
    """A writable copy of the example config directory."""
    target = tmp_path / "config"
    target.mkdir()
    for name in FILES:
        shutil.copy(EXAMPLE / name, target / name)
    return target


def edit(directory: Path, name: str, old: str, new: str) -> int:
    """Replace ``old`` (which must occur once) by ``new``; return the 1-based line of the edit."""
    path = directory / name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {name}"
    before = text[: text.index(old)]
    path.write_text(text.replace(old, new), encoding="utf-8")
    return before.count("\n") + 1 + new[: len(new) - len(new.lstrip("\n"))].count("\n")


def line_of(directory: Path, name: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the ``occurrence``-th line containing ``needle``."""
    seen = 0
    for number, line in enumerate((directory / name).read_text().splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not in {name}")
