"""Find the line of a key path in TOML text (``tomllib`` gives no line numbers).

The locator understands what our config files use: ``[table]`` headers,
``[[array.of.tables]]`` (counted, so ``("templates", 2, "hours")`` is the ``hours``
key of the third ``[[templates]]``), dotted keys (``a.b = 1``) and quoted keys.
Values that span lines (arrays, multi-line strings) are skipped over. When the
exact key is absent (a missing key), the line of the deepest enclosing table or
key is given.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

PathPart = str | int
KeyPath = tuple[PathPart, ...]

_BARE = r"[A-Za-z0-9_-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"|\'[^\']*\''
_KEY = rf"(?:{_BARE}|{_QUOTED})"
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_DOTTED})\s*\]\]?\s*(?:#.*)?$")
_ASSIGN = re.compile(rf"^\s*({_DOTTED})\s*=")
_PART = re.compile(_KEY)


def split_key(dotted: str) -> list[str]:
    """Split a (possibly quoted) dotted key into its parts."""
    parts = []
    for match in _PART.finditer(dotted):
        text = match.group(0)
        if text[0] in "\"'":
            text = text[1:-1]
        parts.append(text)
    return parts


def format_key(path: Sequence[PathPart]) -> str:
    """``("templates", 2, "hours")`` as ``templates[2].hours``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


class Locator:
    """Index of the key paths of one TOML text, line by line."""

    def __init__(self, text: str) -> None:
        self.entries: list[tuple[KeyPath, int]] = []
        self._headers: set[int] = set()  # lines of [table] and [[array]] headers
        self._index(text)

    def _index(self, text: str) -> None:
        table: KeyPath = ()
        counters: dict[tuple[str, ...], int] = {}
        depth = 0  # open brackets/braces of a value spanning lines
        in_string: str | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            if in_string is not None:
                if in_string in line:
                    in_string = None
                continue
            if depth > 0:
                depth += _balance(line)
                continue
            header = _HEADER.match(line)
            if header:
                names = tuple(split_key(header.group(2)))
                if header.group(1) == "[[":
                    index = counters.get(names, 0)
                    counters[names] = index + 1
                    # reset counters of nested arrays under this one
                    for key in [
                        k for k in counters if len(k) > len(names) and k[: len(names)] == names
                    ]:
                        del counters[key]
                    table = (*self._with_indices(names, counters, exclude_last=True), index)
                else:
                    table = self._with_indices(names, counters, exclude_last=False)
                self.entries.append((table, number))
                self._headers.add(number)
                continue
            assign = _ASSIGN.match(line)
            if assign:
                path = (*table, *split_key(assign.group(1)))
                self.entries.append((path, number))
                rest = line[assign.end() :]
                for quote in ('"""', "'''"):
                    if rest.count(quote) == 1:
                        in_string = quote
                depth = max(0, _balance(rest))

    @staticmethod
    def _with_indices(
        names: tuple[str, ...], counters: dict[tuple[str, ...], int], *, exclude_last: bool
    ) -> KeyPath:
        out: list[PathPart] = []
        upto = len(names) - 1 if exclude_last else len(names)
        for i, name in enumerate(names):
            out.append(name)
            if i < upto and (count := counters.get(names[: i + 1])):
                out.append(count - 1)
        return tuple(out)

    def line_of(self, path: Sequence[PathPart]) -> int:
        """The line where ``path`` is written, else of its deepest written parent; 0 if none."""
        target = tuple(path)
        best_line, best_len = 0, 0
        for entry, line in self.entries:
            common = _common_prefix(entry, target)
            if common == len(entry) and common > best_len:
                best_line, best_len = line, common
                if common == len(target):
                    break
        return best_line

    def key_at(self, line: int) -> KeyPath:
        """The key path written on ``line``, else that of the table header above it."""
        found: KeyPath = ()
        for entry, number in self.entries:
            if number == line:
                return entry
            if number > line:
                break
            if number in self._headers:
                found = entry
        return found


def _common_prefix(a: KeyPath, b: KeyPath) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _balance(text: str) -> int:
    """Open minus closed brackets outside strings and comments."""
    depth = 0
    quote: str | None = None
    for ch in text:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
    return depth
