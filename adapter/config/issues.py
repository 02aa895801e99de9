"""Problems found in a configuration, with where they are and how to fix them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """An error stops the adapter from starting; a warning does not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem: ``clinic.toml:42 [practitioners.ingar.stands_in_for] message - fix: ...``.

    ``file`` is the file name as the admin knows it (relative to the config
    directory), ``line`` is 1-based (0 when unknown), ``key`` the dotted key path.
    """

    file: str
    line: int
    key: str
    message: str
    fix: str = ""
    severity: Severity = Severity.ERROR

    @property
    def is_error(self) -> bool:
        """True for errors, False for warnings."""
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where} [{self.key}] {self.message}" if self.key else f"{where} {self.message}"
        if self.severity is Severity.WARNING:
            text = f"{where} warning: " + text[len(where) + 1 :]
        if self.fix:
            text += f" - fix: {self.fix}"
        return text


class ConfigError(Exception):
    """The configuration has errors; ``issues`` lists every one (and the warnings)."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        errors = [i for i in issues if i.is_error]
        first = str(errors[0]) if errors else "no details"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"configuration has {len(errors)} error(s): {first}{more}")
