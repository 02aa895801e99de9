"""Import slots made elsewhere (another scheduling tool, a spreadsheet).

**CSV** (UTF-8, comma-separated, a header row; lines starting with ``#`` are
comments)::

    practitioner,type,start,end,id
    benedikte,ordinary,2026-11-02T08:00,2026-11-02T08:20,
    arna,first_consultation,2026-11-03T09:00+01:00,,9d3c...

``practitioner`` and ``type`` are keys from ``clinic.toml``; ``start`` and ``end``
are ISO times, Europe/Oslo wall time unless they carry an offset; ``end`` may be
empty (start + the type's duration); ``id`` may be empty (a deterministic id from
clinic, practitioner, type and start, so importing again changes nothing).

**iCalendar** (``.ics``): each ``VEVENT`` is a slot with ``DTSTART`` (floating =
Europe/Oslo, ``...Z`` = UTC, or ``;TZID=Europe/Oslo``), ``DTEND`` or ``DURATION``
(optional: the type's duration), ``UID`` (optional: the slot id),
``X-EPJ-PRACTITIONER`` and ``X-EPJ-APPOINTMENT-TYPE`` (keys from ``clinic.toml``).

Both readers check everything and raise :class:`ConfigError` listing every bad
line; otherwise they return the slots. Besides each line on its own they check the
slots against the configuration:

* a slot that overlaps a slot the opening-hours templates give the same
  practitioner (another slot at the same time: both would be offered, a double
  booking waiting to happen) is an error; a slot with the template slot's own id
  (leave ``id`` empty, same practitioner, type and start) is that slot, not a double;
* a slot on a closed day (a public holiday the clinic closes on, or
  ``rules.toml [calendar] extra_closed``) is stored but never offered online: a
  warning, given in ``warnings`` when the caller passes a list.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adapter.config.clinic_file import one_of
from adapter.config.issues import ConfigError, ConfigIssue, Severity
from adapter.config.templates import slot_id, slots_from_templates
from adapter.domain.model import OSLO, Slot, overlaps

if TYPE_CHECKING:
    from adapter.config.loader import AdapterConfig

CSV_COLUMNS = ("practitioner", "type", "start", "end", "id")


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    practitioner: str
    kind: str
    start: str
    end: str
    uid: str
    tz: str = ""


class _Issues:
    def __init__(self, name: str) -> None:
        self.name = name
        self.items: list[ConfigIssue] = []
        self.warnings: list[ConfigIssue] = []

    def add(self, line: int, key: str, message: str, fix: str) -> None:
        self.items.append(ConfigIssue(self.name, line, key, message, fix))

    def warn(self, line: int, key: str, message: str, fix: str) -> None:
        self.warnings.append(ConfigIssue(self.name, line, key, message, fix, Severity.WARNING))

    def fail(self) -> ConfigError:
        """The error listing every problem, warnings included (in line order)."""
        return ConfigError(sorted([*self.items, *self.warnings], key=lambda i: i.line))


def _instant(text: str, tz: str = "") -> datetime:
    """ISO (CSV) or iCalendar basic format time; naive means Europe/Oslo."""
    value = text.strip()
    if re.fullmatch(r"\d{8}T\d{6}Z?", value):
        parsed = datetime.strptime(value.rstrip("Z"), "%Y%m%dT%H%M%S")
        if value.endswith("Z"):
            return parsed.replace(tzinfo=UTC)
    else:
        parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    zone = ZoneInfo(tz) if tz else OSLO
    local = parsed.replace(tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != parsed:
        raise ValueError(f"{value} does not exist in {zone} (DST change)")
    return instant


_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def _ics_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if not match or not any(match.groups()):
        raise ValueError(text)
    d, h, m, s = (int(g or 0) for g in match.groups())
    return timedelta(days=d, hours=h, minutes=m, seconds=s)


def _build(
    rows: list[_Row],
    config: AdapterConfig,
    issues: _Issues,
    warnings: list[ConfigIssue] | None = None,
) -> list[Slot]:
    practitioners = [p.key for p in config.practitioners]
    types = config.types_by_key
    slots: list[tuple[int, Slot]] = []
    for row in rows:
        ok = True
        if row.practitioner not in practitioners:
            message, fix = one_of(row.practitioner, practitioners, "practitioner")
            issues.add(row.line, "practitioner", message, fix)
            ok = False
        kind = types.get(row.kind)
        if kind is None:
            message, fix = one_of(row.kind, list(types), "appointment type")
            issues.add(row.line, "type", message, fix)
            ok = False
        try:
            start = _instant(row.start, row.tz)
        except (ValueError, ZoneInfoNotFoundError) as exc:
            issues.add(
                row.line,
                "start",
                f"bad start time {row.start!r}: {exc}",
                "write e.g. 2026-11-02T08:00 (Europe/Oslo) or 2026-11-02T08:00+01:00",
            )
            continue
        end: datetime | None = None
        if row.end:
            try:
                end = (
                    start + _ics_duration(row.end[1:])
                    if row.end.startswith("+")
                    else _instant(row.end, row.tz)
                )
            except (ValueError, ZoneInfoNotFoundError) as exc:
                issues.add(
                    row.line,
                    "end",
                    f"bad end time {row.end!r}: {exc}",
                    "write e.g. 2026-11-02T08:20, or leave it empty",
                )
                continue
        if not ok or kind is None:
            continue
        end = end or start + kind.duration
        if end <= start:
            issues.add(
                row.line,
                "end",
                f"slot ends ({row.end}) before it starts ({row.start})",
                "check start and end",
            )
            continue
        local = start.astimezone(OSLO).replace(tzinfo=None)
        uid = row.uid or slot_id(config.clinic.key, row.practitioner, kind.key, local)
        slots.append(
            (
                row.line,
                Slot(
                    id=uid,
                    clinic=config.clinic.key,
                    practitioner=row.practitioner,
                    appointment_type=kind.key,
                    start=start,
                    end=end,
                ),
            )
        )
    seen: dict[str, int] = {}
    for line, slot in slots:
        if slot.id in seen:
            issues.add(
                line,
                "id",
                f"duplicate slot id {slot.id} (also line {seen[slot.id]})",
                "give each slot its own id, or leave id empty",
            )
        seen.setdefault(slot.id, line)
    ordered = sorted(slots, key=lambda item: (item[1].practitioner, item[1].start))
    latest: tuple[int, Slot] | None = None  # the slot reaching furthest so far
    for line, slot in ordered:
        if latest is not None and latest[1].practitioner == slot.practitioner:
            other = latest[1]
            if overlaps(other.start, other.end, slot.start, slot.end):
                issues.add(
                    line,
                    "start",
                    f"overlapping slots for '{slot.practitioner}': "
                    f"this slot overlaps the one on line {latest[0]}",
                    "remove or move one of them",
                )
            if slot.end <= other.end:
                continue
        latest = (line, slot)
    _against_config(slots, config, issues)
    if issues.items:
        raise issues.fail()
    if warnings is not None:
        warnings.extend(issues.warnings)
    return [slot for _, slot in slots]


def _against_config(slots: list[tuple[int, Slot]], config: AdapterConfig, issues: _Issues) -> None:
    """Imported slots against the templates' slots and the calendar (see the module doc)."""
    days = sorted({slot.start.astimezone(OSLO).date() for _, slot in slots})
    generated: dict[tuple[str, date], list[Slot]] = {}
    for day in days:
        for made in slots_from_templates(
            clinic=config.clinic.key,
            templates=config.templates,
            types=config.types_by_key,
            absences=config.absences,
            calendar=config.calendar,
            start=day,
            end=day,
        ):
            generated.setdefault((made.practitioner, day), []).append(made)
    for line, slot in slots:
        local = slot.start.astimezone(OSLO)
        day = local.date()
        if config.calendar.is_closed_day(day):
            name = config.calendar.holiday_name(day)
            why = f"a public holiday, {name}" if name else "rules.toml [calendar] extra_closed"
            issues.warn(
                line,
                "start",
                f"{day} is a closed day ({why}): the slot is stored but never offered online",
                "remove it from the file, or open the day in rules.toml [calendar]",
            )
            continue
        clash = next(
            (
                other
                for other in generated.get((slot.practitioner, day), [])
                if other.id != slot.id and overlaps(slot.start, slot.end, other.start, other.end)
            ),
            None,
        )
        if clash is not None:
            begin, end = clash.start.astimezone(OSLO), clash.end.astimezone(OSLO)
            issues.add(
                line,
                "start",
                f"overlaps the {begin:%H:%M}-{end:%H:%M} {clash.appointment_type} slot that "
                f"clinic.toml's templates give '{slot.practitioner}' on {day}: both would be "
                "offered, a double booking waiting to happen",
                "it is the template's own slot under another id: leave id empty, or drop the row"
                if (clash.appointment_type, clash.start) == (slot.appointment_type, slot.start)
                else "move or remove this slot, or change the template (e.g. except = [date])",
            )


def _read_text(path: Path, issues: _Issues) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        issues.add(
            0,
            "",
            f"cannot read {path.name}: {type(exc).__name__}",
            "check the path and that the file is UTF-8",
        )
        raise issues.fail() from None


def read_slots_csv(
    path: Path, config: AdapterConfig, warnings: list[ConfigIssue] | None = None
) -> list[Slot]:
    """Slots from a CSV file (format in the module docstring); ConfigError lists bad lines.

    Warnings (slots on closed days) are appended to ``warnings`` when it is given.
    """
    issues = _Issues(Path(path).name)
    text = _read_text(Path(path), issues)
    lines = [
        (n, line)
        for n, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        issues.add(0, "", "no slots in the file", "add a header row and one row per slot")
        raise issues.fail()
    reader = csv.reader([line for _, line in lines])
    header = [h.strip().lower() for h in next(reader)]
    missing = [c for c in ("practitioner", "type", "start") if c not in header]
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if missing or unknown:
        what = (
            f"missing column(s) {', '.join(missing)}"
            if missing
            else f"unknown column(s) {', '.join(unknown)}"
        )
        issues.add(
            lines[0][0],
            "header",
            what,
            "the header is practitioner,type,start,end,id (end and id optional)",
        )
        raise issues.fail()
    rows = []
    for (number, _), values in zip(lines[1:], reader, strict=False):
        cells = dict(zip(header, (v.strip() for v in values), strict=False))
        if len(values) != len(header):
            issues.add(
                number,
                "",
                f"expected {len(header)} columns, found {len(values)}",
                "one value per header column (empty is fine for end and id)",
            )
            continue
        rows.append(
            _Row(
                number,
                cells["practitioner"],
                cells["type"],
                cells["start"],
                cells.get("end", ""),
                cells.get("id", ""),
            )
        )
    return _build(rows, config, issues, warnings)


def _unfold(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line[:1] in (" ", "\t") and out:
            out[-1] = (out[-1][0], out[-1][1] + line[1:])
        elif line.strip():
            out.append((number, line))
    return out


def read_slots_ics(
    path: Path, config: AdapterConfig, warnings: list[ConfigIssue] | None = None
) -> list[Slot]:
    """Slots from an iCalendar file (format in the module docstring).

    Raises ConfigError listing every bad line; warnings (slots on closed days) are
    appended to ``warnings`` when it is given.
    """
    issues = _Issues(Path(path).name)
    text = _read_text(Path(path), issues)
    rows: list[_Row] = []
    event: dict[str, tuple[int, str, dict[str, str]]] | None = None
    begin = 0
    for number, line in _unfold(text):
        name_part, sep, value = line.partition(":")
        if not sep:
            issues.add(
                number,
                "",
                f"not an iCalendar line: {line[:40]!r}",
                "each line is NAME:VALUE (or NAME;PARAM=X:VALUE)",
            )
            continue
        name, *params = name_part.split(";")
        name = name.upper()
        options = dict(p.split("=", 1) for p in params if "=" in p)
        if name == "BEGIN" and value.strip().upper() == "VEVENT":
            event, begin = {}, number
        elif name == "END" and value.strip().upper() == "VEVENT" and event is not None:
            rows.extend(_event_row(event, begin, issues))
            event = None
        elif event is not None:
            event[name] = (number, value.strip(), options)
    if event is not None:
        issues.add(begin, "VEVENT", "VEVENT without END:VEVENT", "close the event with END:VEVENT")
    if not rows and not issues.items:
        issues.add(0, "", "no VEVENT in the file", "add one VEVENT per slot")
    if issues.items and not rows:
        raise issues.fail()
    return _build(rows, config, issues, warnings)


def _event_row(
    event: dict[str, tuple[int, str, dict[str, str]]], begin: int, issues: _Issues
) -> list[_Row]:
    missing = [
        k for k in ("DTSTART", "X-EPJ-PRACTITIONER", "X-EPJ-APPOINTMENT-TYPE") if k not in event
    ]
    if missing:
        issues.add(
            begin,
            "VEVENT",
            f"event lacks {', '.join(missing)}",
            "every VEVENT needs DTSTART, X-EPJ-PRACTITIONER and X-EPJ-APPOINTMENT-TYPE",
        )
        return []
    _, start, start_opts = event["DTSTART"]
    end = ""
    if "DTEND" in event:
        end = event["DTEND"][1]
    elif "DURATION" in event:
        end = "+" + event["DURATION"][1]
    return [
        _Row(
            line=event["DTSTART"][0],
            practitioner=event["X-EPJ-PRACTITIONER"][1],
            kind=event["X-EPJ-APPOINTMENT-TYPE"][1],
            start=start,
            end=end,
            uid=event.get("UID", (0, "", {}))[1],
            tz=start_opts.get("TZID", ""),
        )
    ]
