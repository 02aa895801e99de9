"""Typed, issue-collecting access to one parsed TOML file.

Every accessor records a :class:`ConfigIssue` (with the line the
:class:`Locator` finds) instead of raising, so a check reports every problem
at once. Accessors return ``None`` when the value is missing or broken.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any, TypeVar, cast

from adapter.config.issues import ConfigIssue, Severity
from adapter.config.locator import Locator, PathPart, format_key
from adapter.config.syntax import BadValue, type_name

T = TypeVar("T")
Table = dict[str, Any]
_KIND_NAMES: dict[type, str] = {
    str: "text",
    int: "integer",
    float: "number",
    bool: "true/false",
    list: "list",
    dict: "table",
}


class Reader:
    """Collects issues for one file; ``name`` is how the admin knows the file."""

    def __init__(self, name: str, text: str, issues: list[ConfigIssue]) -> None:
        self.name = name
        self.locator = Locator(text)
        self.issues = issues

    def issue(
        self,
        path: Sequence[PathPart],
        message: str,
        fix: str = "",
        severity: Severity = Severity.ERROR,
    ) -> None:
        """Record a problem at ``path``."""
        self.issues.append(
            ConfigIssue(
                file=self.name,
                line=self.locator.line_of(path),
                key=format_key(path),
                message=message,
                fix=fix,
                severity=severity,
            )
        )

    def warn(self, path: Sequence[PathPart], message: str, fix: str = "") -> None:
        """Record a warning at ``path``."""
        self.issue(path, message, fix, Severity.WARNING)

    def known_keys(self, table: Table, path: Sequence[PathPart], allowed: Iterable[str]) -> None:
        """Report every key of ``table`` that is not in ``allowed``, with a did-you-mean."""
        allowed = sorted(allowed)
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                fix = f"did you mean '{close[0]}'?" if close else "allowed: " + ", ".join(allowed)
                self.issue((*path, key), f"unknown key '{key}'", fix)

    def typed(
        self,
        table: Table,
        path: Sequence[PathPart],
        key: str,
        kind: type[T] | tuple[type, ...],
        *,
        required: bool = False,
        what: str = "",
        fix: str = "",
    ) -> T | None:
        """The value of ``key`` if it has the right type, else ``None`` (issue recorded)."""
        if key not in table:
            if required:
                self.issue((*path, key), f"missing {what or key}", fix or f"add {key} = ...")
            return None
        value = table[key]
        ok = isinstance(value, kind) and not (
            isinstance(value, bool) and kind in (int, float, (int, float))
        )
        if not ok:
            kinds = kind if isinstance(kind, tuple) else (kind,)
            expected = " or ".join(_KIND_NAMES.get(k, k.__name__) for k in kinds)
            self.issue(
                (*path, key),
                f"wrong type: expected {expected}, got {type_name(value)} {value!r}",
                fix or f"write {key} as {expected}",
            )
            return None
        return cast(T, value)

    def text(
        self,
        table: Table,
        path: Sequence[PathPart],
        key: str,
        *,
        required: bool = False,
        what: str = "",
        fix: str = "",
    ) -> str | None:
        """A string value."""
        return self.typed(table, path, key, str, required=required, what=what, fix=fix)

    def flag(self, table: Table, path: Sequence[PathPart], key: str, default: bool) -> bool:
        """A true/false value with a default."""
        value = self.typed(table, path, key, bool)
        return default if value is None else value

    def integer(self, table: Table, path: Sequence[PathPart], key: str) -> int | None:
        """An integer value."""
        return self.typed(table, path, key, int)

    def table(
        self, parent: Table, path: Sequence[PathPart], key: str, *, required: bool = False
    ) -> Table | None:
        """A sub-table."""
        return self.typed(
            parent, path, key, dict, required=required, what=f"[{format_key((*path, key))}] table"
        )

    def parsed(
        self,
        table: Table,
        path: Sequence[PathPart],
        key: str,
        parser: Callable[[object], T],
        *,
        required: bool = False,
    ) -> T | None:
        """A value in the readable syntax, parsed by ``parser`` (see :mod:`.syntax`)."""
        if key not in table:
            if required:
                self.issue((*path, key), f"missing {key}", f"add {key} = ...")
            return None
        try:
            return parser(table[key])
        except BadValue as exc:
            self.issue((*path, key), exc.message, exc.fix)
            return None

    def date_value(self, table: Table, path: Sequence[PathPart], key: str) -> date | None:
        """A TOML date (``2026-11-16``, unquoted)."""
        value = table.get(key)
        if value is None:
            return None
        if isinstance(value, date) and not hasattr(value, "hour"):
            return value
        self.issue(
            (*path, key),
            f"wrong type: expected a date, got {type_name(value)} {value!r}",
            f"write a date without quotes, e.g. {key} = 2026-11-16",
        )
        return None
