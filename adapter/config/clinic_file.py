"""``clinic.toml``: the clinic, its practitioners, appointment types and templates."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from adapter.config.reader import Reader, Table
from adapter.config.syntax import (
    BadValue,
    parse_duration,
    parse_time,
    parse_time_range,
    parse_weekdays,
    type_name,
)
from adapter.config.templates import DateRange, Template
from adapter.domain.codes import Rolle, Timetype
from adapter.domain.model import Address, AppointmentType, Clinic, Practitioner, overlaps
from adapter.domain.rules import Source

FILE: Final = "clinic.toml"

ROLES: Final[dict[str, Rolle]] = {
    "fastlege": Rolle.FASTLEGE,
    "vikar": Rolle.VIKAR_FOR_FASTLEGE,
    "jordmor": Rolle.ANSVARLIG_JORDMOR,
    "turnuslege": Rolle.TURNUSLEGE,
}
CATEGORIES: Final[dict[str, Timetype | None]] = {
    "ordinary": None,
    "hastetime": Timetype.HASTETIME,
    "video": Timetype.VIDEO,
    "tidsvindu": Timetype.TIDSVINDU,
}
_HER_ID = re.compile(r"^\d{1,9}$")
_ORG_NUMBER = re.compile(r"^\d{9}$")

CLINIC_KEYS: Final = ("key", "name", "her_id", "org_number", "phone", "address")
ADDRESS_KEYS: Final = ("street", "postal_code", "city")
PRACTITIONER_KEYS: Final = (
    "her_id",
    "hpr_number",
    "given_name",
    "family_name",
    "role",
    "online_booking",
    "stands_in_for",
    "open_to_unlisted",
    "away",
)
TYPE_KEYS: Final = ("name", "category", "duration", "location", "description")
TEMPLATE_KEYS: Final = (
    "practitioner",
    "type",
    "weekdays",
    "hours",
    "at",
    "from",
    "until",
    "except",
    "only_when_away",
    "fill",
)


@dataclass
class ClinicFile:
    """What ``clinic.toml`` gave (parts may be missing when it has errors)."""

    clinic: Clinic | None = None
    practitioners: dict[str, Practitioner] = field(default_factory=dict)
    types: dict[str, AppointmentType] = field(default_factory=dict)
    templates: list[Template] = field(default_factory=list)
    absences: dict[str, tuple[DateRange, ...]] = field(default_factory=dict)
    her_ids: list[tuple[str, tuple[str | int, ...]]] = field(default_factory=list)


def one_of(name: str, known: list[str], what: str) -> tuple[str, str]:
    """Message and fix for an unknown name, with the closest known names first."""
    message = f"unknown {what} '{name}'"
    if not known:
        return message, f"define the {what} first"
    close = difflib.get_close_matches(name, known, n=len(known), cutoff=0.0)
    return message, "use one of " + ", ".join(close or sorted(known))


def identifier(
    reader: Reader, table: Table, path: tuple[str | int, ...], key: str, label: str, owner: str
) -> str | None:
    """An identifier written as text; an integer is read too, with a warning.

    HER-ids and HPR numbers are identifiers, not quantities: ``her_id = "8142519"``.
    ``her_id = 8142519`` means the same (TOML integers have no leading zeros to lose),
    so it is accepted, and check-config says to quote it. None when absent or neither.
    ``label`` and ``owner`` word the warning: "HER-id 8142522 of practitioner 'arna'".
    """
    if key not in table:
        return None
    value = table[key]
    if isinstance(value, int) and not isinstance(value, bool):
        reader.warn(
            (*path, key),
            f"{label} {value} of {owner} is written as a number; it is an identifier",
            f'write it as text: {key} = "{value}"',
        )
        return str(value)
    if not isinstance(value, str):
        reader.issue(
            (*path, key),
            f"wrong type: expected text, got {type_name(value)} {value!r}",
            f'write {key} = "<digits>"',
        )
        return None
    return value


def her_id(reader: Reader, table: Table, path: tuple[str | int, ...], what: str) -> str | None:
    """A HER-id (digits, as text; an integer is accepted with a warning), or None with an issue."""
    if "her_id" not in table:
        reader.issue((*path, "her_id"), f"missing HER-id of {what}", 'add her_id = "<digits>"')
        return None
    value = table["her_id"]
    number = isinstance(value, int) and not isinstance(value, bool)
    text = str(value) if number else value
    if not isinstance(text, str) or not _HER_ID.match(text):
        reader.issue(
            (*path, "her_id"),
            f"bad HER-id {value!r} of {what}",
            'a HER-id is the number from the Adresseregister, e.g. "8142519"',
        )
        return None
    if number:
        identifier(reader, table, path, "her_id", "HER-id", what)
    return text


def read_clinic_file(data: Table, reader: Reader) -> ClinicFile:
    """Read every section of ``clinic.toml``, recording issues in ``reader``."""
    out = ClinicFile()
    reader.known_keys(data, (), ("clinic", "practitioners", "appointment_types", "templates"))
    _clinic(data, reader, out)
    _practitioners(data, reader, out)
    _check_stand_ins(reader, out)
    _types(data, reader, out)
    _templates(data, reader, out)
    return out


def _clinic(data: Table, reader: Reader, out: ClinicFile) -> None:
    table = reader.table(data, (), "clinic", required=True)
    if table is None:
        return
    path = ("clinic",)
    reader.known_keys(table, path, CLINIC_KEYS)
    key = reader.text(table, path, "key") or "clinic"
    name = reader.text(table, path, "name", required=True, what="clinic name")
    her = her_id(reader, table, path, "the clinic")
    if her:
        out.her_ids.append((her, (*path, "her_id")))
    org = reader.text(table, path, "org_number", required=True, what="organisation number")
    if org is not None and not _ORG_NUMBER.match(org):
        reader.issue(
            (*path, "org_number"),
            f"bad organisation number {org!r}",
            'write the 9 digits of Enhetsregisteret, e.g. "999888777"',
        )
        org = None
    phone = reader.text(table, path, "phone", required=True, what="phone number")
    address = reader.table(table, path, "address", required=True)
    addr: Address | None = None
    if address is not None:
        apath = (*path, "address")
        reader.known_keys(address, apath, ADDRESS_KEYS)
        street = reader.text(address, apath, "street", required=True)
        postal = reader.text(address, apath, "postal_code", required=True)
        city = reader.text(address, apath, "city", required=True)
        if street and postal and city:
            addr = Address(street=street, postal_code=postal, city=city)
    if name and her and org and phone and addr:
        out.clinic = Clinic(
            key=key, her_id=her, org_number=org, name=name, address=addr, phone=phone
        )


def _practitioners(data: Table, reader: Reader, out: ClinicFile) -> None:
    table = reader.table(data, (), "practitioners", required=True)
    if table is None:
        return
    clinic_key = out.clinic.key if out.clinic else "clinic"
    known = list(table)
    pending: list[tuple[str, Table]] = []
    hpr_seen: dict[str, str] = {}  # HPR number -> the practitioner who has it
    for key, entry in table.items():
        path = ("practitioners", key)
        if not isinstance(entry, dict):
            reader.issue(path, "wrong type: expected a table", f"write [practitioners.{key}]")
            continue
        reader.known_keys(entry, path, PRACTITIONER_KEYS)
        her = her_id(reader, entry, path, f"practitioner '{key}'")
        if her:
            out.her_ids.append((her, (*path, "her_id")))
        role_text = reader.text(
            entry,
            path,
            "role",
            required=True,
            fix='role = "fastlege" (or vikar, jordmor, turnuslege)',
        )
        role = None
        if role_text is not None:
            role = ROLES.get(role_text.lower())
            if role is None:
                message, fix = one_of(role_text, list(ROLES), "role")
                reader.issue((*path, "role"), message, fix)
        stands_in = reader.text(entry, path, "stands_in_for")
        others = [k for k in known if k != key]
        if role is Rolle.VIKAR_FOR_FASTLEGE and stands_in is None and "stands_in_for" not in entry:
            reader.issue(
                (*path, "role"),
                f"vikar '{key}' does not say whom they stand in for",
                'add stands_in_for = "<fastlege>" (one of ' + ", ".join(others) + ")",
            )
        if stands_in is not None and stands_in not in table:
            message, fix = one_of(stands_in, others, "practitioner")
            reader.issue((*path, "stands_in_for"), message, fix)
            stands_in = None
        elif stands_in is not None and role is not None and role is not Rolle.VIKAR_FOR_FASTLEGE:
            reader.warn(
                (*path, "stands_in_for"),
                f"'{key}' is not a vikar but stands in for '{stands_in}'",
                'set role = "vikar" or remove stands_in_for',
            )
        absences: list[DateRange] = []
        away = reader.typed(entry, path, "away", list)
        for index, period in enumerate(away or []):
            ppath = (*path, "away", index)
            if not isinstance(period, dict):
                reader.issue(
                    ppath,
                    "wrong type: expected {from = <date>, to = <date>}",
                    "write away = [{from = 2026-11-16, to = 2026-11-20}]",
                )
                continue
            reader.known_keys(period, ppath, ("from", "to"))
            first, last = (
                reader.date_value(period, ppath, "from"),
                reader.date_value(period, ppath, "to"),
            )
            if first is None or last is None:
                if "from" not in period or "to" not in period:
                    reader.issue(
                        ppath,
                        "an away period needs from and to",
                        "write {from = 2026-11-16, to = 2026-11-20}",
                    )
                continue
            if last < first:
                reader.issue(
                    (*ppath, "to"),
                    f"away period ends ({last}) before it starts ({first})",
                    "swap from and to",
                )
                continue
            absences.append(DateRange(first, last))
        out.absences[key] = tuple(absences)
        pending.append((key, entry))
        given = reader.text(entry, path, "given_name", required=True, what=f"given name of '{key}'")
        family = reader.text(entry, path, "family_name") or ""
        hpr = identifier(reader, entry, path, "hpr_number", "HPR number", f"'{key}'") or ""
        if hpr and hpr in hpr_seen:
            reader.issue(
                (*path, "hpr_number"),
                f"duplicate HPR number {hpr} (also [practitioners.{hpr_seen[hpr]}.hpr_number])",
                "each practitioner has their own HPR number from Helsepersonellregisteret",
            )
        elif hpr:
            hpr_seen[hpr] = key
        online = reader.flag(entry, path, "online_booking", True)
        open_unlisted = reader.flag(entry, path, "open_to_unlisted", False)
        if her and role and given:
            out.practitioners[key] = Practitioner(
                key=key,
                clinic=clinic_key,
                her_id=her,
                hpr_number=hpr,
                given_name=given,
                family_name=family,
                role=role,
                online_booking=online,
                stands_in_for=stands_in,
                open_to_unlisted=open_unlisted,
            )


def _check_stand_ins(reader: Reader, out: ClinicFile) -> None:
    """A vikar stands in for a fastlege (warning otherwise)."""
    for key, practitioner in out.practitioners.items():
        target = out.practitioners.get(practitioner.stands_in_for or "")
        if target is not None and target.role is not Rolle.FASTLEGE:
            reader.warn(
                ("practitioners", key, "stands_in_for"),
                f"'{key}' stands in for '{target.key}', who is not a fastlege",
                'a vikar for fastlege stands in for a practitioner with role = "fastlege"',
            )


def _types(data: Table, reader: Reader, out: ClinicFile) -> None:
    table = reader.table(data, (), "appointment_types", required=True)
    if table is None:
        return
    clinic_key = out.clinic.key if out.clinic else "clinic"
    for key, entry in table.items():
        path = ("appointment_types", key)
        if not isinstance(entry, dict):
            reader.issue(path, "wrong type: expected a table", f"write [appointment_types.{key}]")
            continue
        reader.known_keys(entry, path, TYPE_KEYS)
        name = reader.text(
            entry, path, "name", required=True, what=f"patient-facing name of '{key}'"
        )
        duration = reader.parsed(entry, path, "duration", parse_duration, required=True)
        if duration is not None and duration <= timedelta(0):
            reader.issue(
                (*path, "duration"), "duration must be more than zero", 'e.g. duration = "20 min"'
            )
            duration = None
        category_text = reader.text(entry, path, "category") or "ordinary"
        category = None
        if category_text.lower() not in CATEGORIES:
            hint = ""
            if category_text.lower() == "mustcall":
                hint = 'must-call is set in rules.toml (action = "must_call"); '
            message, fix = one_of(category_text, list(CATEGORIES), "category")
            reader.issue((*path, "category"), message, hint + fix)
            continue
        category = CATEGORIES[category_text.lower()]
        location = reader.text(entry, path, "location") or ""
        description = reader.text(entry, path, "description") or ""
        if name and duration:
            out.types[key] = AppointmentType(
                key=key,
                clinic=clinic_key,
                name=name,
                duration=duration,
                category=category,
                location=location,
                description=description,
            )


def _templates(data: Table, reader: Reader, out: ClinicFile) -> None:
    items = reader.typed(data, (), "templates", list)
    if items is None:
        if "templates" not in data:
            reader.warn(
                ("templates",),
                "no opening-hours templates: no slots will be generated",
                "add [[templates]] entries (or import slots)",
            )
        return
    practitioners = list(_all_keys(data, "practitioners"))
    types = list(_all_keys(data, "appointment_types"))
    for index, entry in enumerate(items):
        path: tuple[str | int, ...] = ("templates", index)
        if not isinstance(entry, dict):
            reader.issue(path, "wrong type: expected a table", "write [[templates]]")
            continue
        reader.known_keys(entry, path, TEMPLATE_KEYS)
        ok = True
        who = reader.text(entry, path, "practitioner", required=True)
        if who is not None and who not in practitioners:
            message, fix = one_of(who, practitioners, "practitioner")
            reader.issue((*path, "practitioner"), message, fix)
            ok = False
        kind = reader.text(entry, path, "type", required=True, what="appointment type")
        if kind is not None and kind not in types:
            message, fix = one_of(kind, types, "appointment type")
            reader.issue((*path, "type"), message, fix)
            ok = False
        weekdays = reader.parsed(entry, path, "weekdays", parse_weekdays, required=True)
        ranges = _time_list(reader, entry, path, "hours", parse_time_range)
        starts = _time_list(reader, entry, path, "at", parse_time)
        if "hours" not in entry and "at" not in entry:
            reader.issue(
                path,
                "template has neither hours nor at",
                'add hours = "08:00-15:40" or at = ["13:00", "13:15"]',
            )
            ok = False
        first = reader.date_value(entry, path, "from")
        last = reader.date_value(entry, path, "until")
        if first and last and last < first:
            reader.issue(
                (*path, "until"),
                f"template ends ({last}) before it starts ({first})",
                "swap from and until",
            )
            ok = False
        excepts = _date_list(reader, entry, path, "except")
        away_of = reader.text(entry, path, "only_when_away")
        if away_of is not None and away_of not in practitioners:
            message, fix = one_of(away_of, practitioners, "practitioner")
            reader.issue((*path, "only_when_away"), message, fix)
            ok = False
        elif away_of is not None and not out.absences.get(away_of):
            reader.warn(
                (*path, "only_when_away"),
                f"'{away_of}' has no away periods, so this template gives no slots",
                f"add away = [{{from = ..., to = ...}}] under [practitioners.{away_of}]",
            )
        fill = reader.flag(entry, path, "fill", False)
        if ok and who and kind and weekdays and ranges is not None and starts is not None:
            out.templates.append(
                Template(
                    practitioner=who,
                    appointment_type=kind,
                    weekdays=weekdays,
                    ranges=tuple(ranges),
                    starts=tuple(starts),
                    valid_from=first,
                    valid_until=last,
                    except_dates=frozenset(excepts),
                    only_when_away=away_of,
                    fill=fill,
                    source=Source(FILE, reader.locator.line_of(path), f"templates[{index}]"),
                )
            )
    _overlaps(reader, out)


def _all_keys(data: Table, section: str) -> list[str]:
    table = data.get(section)
    return list(table) if isinstance(table, dict) else []


def _time_list(
    reader: Reader, entry: Table, path: tuple[str | int, ...], key: str, parser: Any
) -> list[Any] | None:
    if key not in entry:
        return []
    raw = entry[key]
    values = raw if isinstance(raw, list) else [raw]
    out = []
    for i, value in enumerate(values):
        try:
            out.append(parser(value))
        except BadValue as exc:
            reader.issue(
                (*path, key, i) if isinstance(raw, list) else (*path, key), exc.message, exc.fix
            )
            return None
    return out


def _date_list(reader: Reader, entry: Table, path: tuple[str | int, ...], key: str) -> list[date]:
    raw = entry.get(key, [])
    values = raw if isinstance(raw, list) else [raw]
    out = []
    for value in values:
        if isinstance(value, date) and not isinstance(value, datetime):
            out.append(value)
        else:
            reader.issue(
                (*path, key),
                f"wrong type: expected dates, got {value!r}",
                f"write {key} = [2026-12-24, 2026-12-31] (no quotes)",
            )
            break
    return out


def _period_overlap(a: Template, b: Template) -> bool:
    if not a.weekdays & b.weekdays:
        return False
    if a.valid_until and b.valid_from and a.valid_until < b.valid_from:
        return False
    return not (b.valid_until and a.valid_from and b.valid_until < a.valid_from)


def _overlaps(reader: Reader, out: ClinicFile) -> None:
    """Two templates of one practitioner that give overlapping slots.

    Both without fill: two slots at once (a double booking). Both with fill: the
    later template's overlapping slots are silently left out (fill gives way), so
    most of a day can vanish. One fill template giving way to another is the point
    of fill and fine.
    """
    for i, a in enumerate(out.templates):
        kind_a = out.types.get(a.appointment_type)
        if kind_a is None:
            continue
        times_a = a.wall_times(kind_a.duration)
        for b in out.templates[i + 1 :]:
            kind_b = out.types.get(b.appointment_type)
            if kind_b is None or a.practitioner != b.practitioner or not _period_overlap(a, b):
                continue
            if a.fill != b.fill:
                continue
            if (a.only_when_away is None) != (b.only_when_away is None):
                continue
            times_b = b.wall_times(kind_b.duration)
            hits = [
                (sa, ea, sb, eb)
                for sa, ea in times_a
                for sb, eb in times_b
                if overlaps(_dt(sa), _dt(ea), _dt(sb), _dt(eb))
            ]
            if not hits:
                continue
            sa, ea, sb, eb = hits[0]
            days = ", ".join(_DAY_NAMES[d] for d in sorted(a.weekdays & b.weekdays))
            index = int(b.source.key[len("templates[") : -1])
            where = ("templates", index, "hours" if b.ranges else "at")
            clash = (
                f"{sb:%H:%M}-{eb:%H:%M} ({b.appointment_type}) overlaps "
                f"{sa:%H:%M}-{ea:%H:%M} ({a.appointment_type}, {a.source.key})"
            )
            if not a.fill:
                reader.issue(
                    where,
                    f"overlapping slots for '{a.practitioner}' on {days}: {clash}",
                    "move one of them, limit their weekdays, or mark the ordinary day fill = true",
                )
                continue
            lost = len({(sb, eb) for _, _, sb, eb in hits})
            reader.issue(
                (*where[:2], "fill"),
                f"two fill templates overlap for '{a.practitioner}' on {days}: {clash}; "
                f"{lost} of its {len(times_b)} slots a day would silently be left out",
                "only the ordinary day has fill = true: remove fill from one of them "
                "(then they must not overlap), or move it",
            )


_DAY_NAMES: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _dt(t: time) -> datetime:
    return datetime.combine(date(2000, 1, 3), t)
