"""Load a config directory into an :class:`AdapterConfig`, or list every problem.

A config directory holds ``clinic.toml`` and ``rules.toml`` (required) and
``adapter.toml`` (optional; defaults apply). :func:`check_config` reads them all
and returns every issue at once; :func:`load_config` raises :class:`ConfigError`
when any of them is an error.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

from adapter.config.clinic_file import ClinicFile, read_clinic_file
from adapter.config.crosscheck import check_rules_against_templates
from adapter.config.issues import ConfigError, ConfigIssue
from adapter.config.locator import format_key
from adapter.config.reader import Reader
from adapter.config.rules_file import RulesFile, read_rules_file
from adapter.config.settings import Settings, read_settings
from adapter.config.templates import DateRange, Template, slots_from_templates
from adapter.domain.calendar import WorkingCalendar
from adapter.domain.model import AppointmentType, Clinic, Practitioner, Slot
from adapter.domain.rules import RuleSet

CLINIC_FILE: Final = "clinic.toml"
RULES_FILE: Final = "rules.toml"
ADAPTER_FILE: Final = "adapter.toml"
_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


@dataclass(frozen=True)
class AdapterConfig:
    """A clinic's whole configuration, as domain objects and ops settings."""

    path: Path
    clinic: Clinic
    practitioners: tuple[Practitioner, ...]
    appointment_types: tuple[AppointmentType, ...]
    templates: tuple[Template, ...]
    absences: Mapping[str, tuple[DateRange, ...]]
    rules: RuleSet
    calendar: WorkingCalendar
    settings: Settings
    warnings: tuple[ConfigIssue, ...] = field(default=())

    def practitioner(self, key: str) -> Practitioner:
        """The practitioner with ``key`` (KeyError if none)."""
        for practitioner in self.practitioners:
            if practitioner.key == key:
                return practitioner
        raise KeyError(key)

    def appointment_type(self, key: str) -> AppointmentType:
        """The appointment type with ``key`` (KeyError if none)."""
        for kind in self.appointment_types:
            if kind.key == key:
                return kind
        raise KeyError(key)

    @property
    def types_by_key(self) -> dict[str, AppointmentType]:
        """Appointment types by key."""
        return {t.key: t for t in self.appointment_types}


def _read(
    directory: Path, name: str, issues: list[ConfigIssue], *, required: bool
) -> tuple[dict[str, Any], Reader] | None:
    path = directory / name
    if not path.is_file():
        if required:
            issues.append(
                ConfigIssue(
                    file=name,
                    line=0,
                    key="",
                    message=f"file not found in {directory}",
                    fix=f"create {name}; the commented example is in the project's config/",
                )
            )
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        issues.append(
            ConfigIssue(
                name,
                0,
                "",
                f"cannot read {name}: {type(exc).__name__}",
                "check the file's permissions and that it is UTF-8",
            )
        )
        return None
    reader = Reader(name, text, issues)
    try:
        return tomllib.loads(text), reader
    except tomllib.TOMLDecodeError as exc:
        issues.append(_syntax_issue(name, reader, exc))
        return None


_TWICE = re.compile(r"Cannot declare \(([^)]*)\) twice")


def _syntax_issue(name: str, reader: Reader, exc: tomllib.TOMLDecodeError) -> ConfigIssue:
    """A TOML syntax error as an issue: the line, the key written there, and a fix."""
    message = str(exc)
    found = _POSITION.search(message)
    line = int(found.group(1)) if found else 0
    text = f"TOML syntax error: {_POSITION.sub('', message).strip()}"
    if found:
        text += f" at column {found.group(2)}"
    key = format_key(reader.locator.key_at(line)) if line else ""
    fix = "correct the TOML syntax on that line (quotes, = and brackets)"
    twice = _TWICE.search(message)
    if twice:
        parts = [part.strip().strip("'\"") for part in twice.group(1).split(",") if part.strip()]
        key = ".".join(parts)
        first = reader.locator.line_of(parts)
        text = "table written twice" + (f" (first on line {first})" if first else "")
        fix = f"write each table once: merge the two [{key}] tables, or rename one"
    elif message.startswith("Cannot overwrite a value") and key:
        first = reader.locator.line_of(reader.locator.key_at(line))
        text = f"{key} is set twice" + (f" (first on line {first})" if first != line else "")
        fix = "keep one of the two lines"
    return ConfigIssue(name, line, key, text, fix)


@dataclass
class _Parts:
    issues: list[ConfigIssue]
    clinic: ClinicFile | None = None
    rules: RulesFile | None = None
    settings: Settings | None = None


def _collect(directory: Path) -> _Parts:
    parts = _Parts(issues=[])
    issues = parts.issues
    clinic_data = _read(directory, CLINIC_FILE, issues, required=True)
    rules_data = _read(directory, RULES_FILE, issues, required=True)
    adapter_data = _read(directory, ADAPTER_FILE, issues, required=False)
    # None while clinic.toml cannot be read: rules.toml's names are then not checked.
    practitioners: list[str] | None = None
    types: list[str] | None = None
    if clinic_data is not None:
        parts.clinic = read_clinic_file(*clinic_data)
        data = clinic_data[0]
        practitioners = (
            list(data.get("practitioners", {}))
            if isinstance(data.get("practitioners"), dict)
            else []
        )
        types = (
            list(data.get("appointment_types", {}))
            if isinstance(data.get("appointment_types"), dict)
            else []
        )
    if rules_data is not None:
        parts.rules = read_rules_file(rules_data[0], rules_data[1], practitioners, types)
    if parts.clinic is not None and parts.rules is not None and rules_data is not None:
        check_rules_against_templates(parts.clinic, parts.rules, rules_data[1], rules_data[0])
    if adapter_data is not None:
        parts.settings = read_settings(adapter_data[0], adapter_data[1], directory)
    elif not (directory / ADAPTER_FILE).exists():
        parts.settings = Settings.defaults(directory)
    # HER-ids must be unique across the clinic, its practitioners and Helsenorge.
    if parts.clinic is not None and clinic_data is not None:
        reader = clinic_data[1]
        seen: dict[str, tuple[str | int, ...]] = {}
        if parts.settings is not None:
            seen[parts.settings.helsenorge.her_id] = ("helsenorge", "her_id")
            seen[parts.settings.helsenorge.service_her_id] = ("helsenorge", "service_her_id")
        for her, path in parts.clinic.her_ids:
            if her in seen:
                first = ".".join(str(p) for p in seen[her])
                where = "adapter.toml " if seen[her][0] == "helsenorge" else ""
                reader.issue(
                    (*path,),
                    f"duplicate HER-id {her} (also {where}[{first}])",
                    "each party needs its own HER-id from the Adresseregister",
                )
            else:
                seen[her] = path
    return parts


def check_config(path: Path) -> list[ConfigIssue]:
    """Every problem (errors and warnings) in the config directory ``path``, in file order."""
    directory = Path(path)
    if not directory.is_dir():
        return [
            ConfigIssue(
                str(directory),
                0,
                "",
                "config directory not found",
                "pass --config DIR with clinic.toml and rules.toml",
            )
        ]
    issues = _collect(directory).issues
    order = {CLINIC_FILE: 0, RULES_FILE: 1, ADAPTER_FILE: 2}
    return sorted(issues, key=lambda i: (order.get(i.file, 3), i.line))


def load_config(path: Path) -> AdapterConfig:
    """Load the config directory ``path``; raise :class:`ConfigError` on any error."""
    directory = Path(path)
    if not directory.is_dir():
        raise ConfigError(check_config(directory))
    parts = _collect(directory)
    issues = sorted(parts.issues, key=lambda i: (i.file, i.line))
    clinic_file, rules_file, settings = parts.clinic, parts.rules, parts.settings
    if (
        any(i.is_error for i in issues)
        or clinic_file is None
        or clinic_file.clinic is None
        or rules_file is None
        or settings is None
    ):
        raise ConfigError(issues)
    calendar = WorkingCalendar(
        closed_on_public_holidays=rules_file.rules.closed_on_public_holidays,
        extra_closed=rules_file.extra_closed,
    )
    return AdapterConfig(
        path=directory,
        clinic=clinic_file.clinic,
        practitioners=tuple(clinic_file.practitioners.values()),
        appointment_types=tuple(clinic_file.types.values()),
        templates=tuple(clinic_file.templates),
        absences=dict(clinic_file.absences),
        rules=rules_file.rules,
        calendar=calendar,
        settings=settings,
        warnings=tuple(issues),
    )


def generate_slots(config: AdapterConfig, start: date, end: date) -> list[Slot]:
    """Slots from the opening-hours templates for local dates ``start``..``end`` (inclusive).

    Ids are deterministic, so regenerating a period is idempotent. Closed days
    (public holidays when the clinic closes on them, extra closures) get no slots.
    """
    return slots_from_templates(
        clinic=config.clinic.key,
        templates=config.templates,
        types=config.types_by_key,
        absences=config.absences,
        calendar=config.calendar,
        start=start,
        end=end,
    )
