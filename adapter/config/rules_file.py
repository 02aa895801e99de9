"""``rules.toml``: release rules, booking policies, cancellation and the calendar."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Final, TypeVar

from adapter.config.clinic_file import one_of
from adapter.config.reader import Reader, Table
from adapter.config.syntax import (
    format_duration,
    legacy_spelling,
    parse_cutoff,
    parse_duration,
    parse_release,
    parse_share,
    parse_time_range,
    parse_weekdays,
)
from adapter.domain.rules import (
    Action,
    BookingPolicy,
    CancellationCutoff,
    PolicyRule,
    ReleaseRule,
    RuleSet,
    Selector,
    Source,
)

FILE: Final = "rules.toml"
T = TypeVar("T")

TOP_KEYS: Final = ("defaults", "calendar", "booking", "rules", "policies")
DEFAULT_KEYS: Final = ("horizon", "min_lead", "urgent_release")
CALENDAR_KEYS: Final = ("closed_on_public_holidays", "extra_closed")
BOOKING_KEYS: Final = (
    "auto_confirm",
    "decision_deadline",
    "max_future_online_per_patient",
    "cancel_until",
    "planned_appointments",
)
SELECTOR_KEYS: Final = ("practitioners", "types", "weekdays", "start_between")
RULE_KEYS: Final = ("name", *SELECTOR_KEYS, "action", "horizon", "min_lead", "release", "share")
POLICY_KEYS: Final = ("name", *SELECTOR_KEYS, "auto_confirm", "decision_deadline")
_ACTIONS: Final = [a.value for a in Action]
#: Pairs of actions that contradict each other on the same slots at the same level.
_CONFLICTS: Final = {
    frozenset({Action.MUST_CALL, Action.URGENT}),
    frozenset({Action.MUST_CALL, Action.HOLD_BACK}),
    frozenset({Action.NEVER_ONLINE, Action.URGENT}),
    frozenset({Action.NEVER_ONLINE, Action.HOLD_BACK}),
    frozenset({Action.NEVER_ONLINE, Action.MUST_CALL}),
    frozenset({Action.NEVER_ONLINE, Action.PUBLISH}),
    frozenset({Action.MUST_CALL, Action.PUBLISH}),
}


@dataclass
class RulesFile:
    """What ``rules.toml`` gave."""

    rules: RuleSet = field(default_factory=RuleSet)
    extra_closed: frozenset[date] = frozenset()


def read_rules_file(
    data: Table, reader: Reader, practitioners: list[str] | None, types: list[str] | None
) -> RulesFile:
    """Read ``rules.toml``; names are checked against ``clinic.toml``'s keys.

    ``practitioners`` and ``types`` are None when ``clinic.toml`` could not be read:
    the names rules give are then not checked (the clinic file's own issue says why).
    """
    reader.known_keys(data, (), TOP_KEYS)
    out = RulesFile()
    defaults = reader.table(data, (), "defaults") or {}
    reader.known_keys(defaults, ("defaults",), DEFAULT_KEYS)
    horizon = reader.parsed(defaults, ("defaults",), "horizon", parse_duration)
    min_lead = reader.parsed(defaults, ("defaults",), "min_lead", parse_duration)
    urgent = _relative(reader, defaults, ("defaults",), "urgent_release", parse_release)

    calendar = reader.table(data, (), "calendar") or {}
    reader.known_keys(calendar, ("calendar",), CALENDAR_KEYS)
    closed = reader.flag(calendar, ("calendar",), "closed_on_public_holidays", True)
    extra = reader.typed(calendar, ("calendar",), "extra_closed", list) or []
    days: set[date] = set()
    for index, value in enumerate(extra):
        if isinstance(value, date) and not isinstance(value, datetime):
            days.add(value)
        else:
            reader.issue(
                ("calendar", "extra_closed", index),
                f"wrong type: expected a date, got {value!r}",
                "write dates without quotes, e.g. extra_closed = [2026-12-24]",
            )
    out.extra_closed = frozenset(days)

    booking = reader.table(data, (), "booking") or {}
    bpath = ("booking",)
    reader.known_keys(booking, bpath, BOOKING_KEYS)
    default_policy = _policy(reader, booking, bpath, BookingPolicy())
    limit = reader.integer(booking, bpath, "max_future_online_per_patient")
    if limit is not None and limit < 1:
        reader.issue(
            (*bpath, "max_future_online_per_patient"),
            f"limit {limit} would stop every online booking",
            "use 1 or more, or remove the key for no limit",
        )
        limit = None
    cutoff = _relative(reader, booking, bpath, "cancel_until", parse_cutoff)
    planned = reader.flag(booking, bpath, "planned_appointments", False)

    rules = _rules(data, reader, practitioners, types)
    policies = _policies(data, reader, practitioners, types)
    base = RuleSet()
    out.rules = RuleSet(
        release_rules=tuple(rules),
        policies=tuple(policies),
        default_horizon=horizon if horizon is not None else base.default_horizon,
        default_min_lead=min_lead if min_lead is not None else base.default_min_lead,
        default_policy=default_policy or BookingPolicy(),
        urgent_release=urgent or base.urgent_release,
        cancellation=cutoff or CancellationCutoff(),
        max_future_online_per_patient=limit,
        closed_on_public_holidays=closed,
        serve_planned_appointments=planned,
    )
    return out


def _relative(
    reader: Reader,
    table: Table,
    path: tuple[str | int, ...],
    key: str,
    parser: Callable[[object], T],
) -> T | None:
    """A time relative to the slot's start; the deprecated old spelling gets a warning."""
    value = reader.parsed(table, path, key, parser)
    if value is not None and (spelling := legacy_spelling(table[key])) is not None:
        reader.warn(
            (*path, key),
            f"{table[key]!r} is the old spelling (deprecated; read as {spelling!r})",
            f'write {key} = "{spelling}"',
        )
    return value


def _names(
    reader: Reader,
    entry: Table,
    path: tuple[str | int, ...],
    key: str,
    known: list[str] | None,
    what: str,
) -> frozenset[str] | None:
    raw = entry.get(key)
    if raw is None:
        return frozenset()
    values = raw if isinstance(raw, list) else [raw]
    names: set[str] = set()
    ok = True
    for value in values:
        if not isinstance(value, str):
            reader.issue(
                (*path, key),
                f"wrong type: expected names, got {value!r}",
                f'write {key} = ["{known[0] if known else "name"}"]',
            )
            return None
        if known is not None and value not in known:
            message, fix = one_of(value, known, what)
            reader.issue((*path, key), message, fix)
            ok = False
        names.add(value)
    return frozenset(names) if ok else None


def _selector(
    reader: Reader,
    entry: Table,
    path: tuple[str | int, ...],
    practitioners: list[str] | None,
    types: list[str] | None,
) -> Selector | None:
    who = _names(reader, entry, path, "practitioners", practitioners, "practitioner")
    kinds = _names(reader, entry, path, "types", types, "appointment type")
    weekdays = reader.parsed(entry, path, "weekdays", parse_weekdays)
    between = reader.parsed(entry, path, "start_between", parse_time_range)
    bad = (
        who is None
        or kinds is None
        or ("weekdays" in entry and weekdays is None)
        or ("start_between" in entry and between is None)
    )
    if bad or who is None or kinds is None:
        return None
    start_from: time | None = between[0] if between else None
    start_before: time | None = between[1] if between else None
    return Selector(
        practitioners=who,
        appointment_types=kinds,
        weekdays=weekdays or frozenset(),
        start_from=start_from,
        start_before=start_before,
    )


def _rules(
    data: Table, reader: Reader, practitioners: list[str] | None, types: list[str] | None
) -> list[ReleaseRule]:
    items = reader.typed(data, (), "rules", list) or []
    out: list[ReleaseRule] = []
    names: set[str] = set()
    for index, entry in enumerate(items):
        path: tuple[str | int, ...] = ("rules", index)
        if not isinstance(entry, dict):
            reader.issue(path, "wrong type: expected a table", "write [[rules]]")
            continue
        reader.known_keys(entry, path, RULE_KEYS)
        name = reader.text(entry, path, "name") or f"rules[{index}]"
        if name in names:
            reader.warn(
                (*path, "name"), f"rule name '{name}' is used twice", "give each rule its own name"
            )
        names.add(name)
        selector = _selector(reader, entry, path, practitioners, types)
        action = _action(reader, entry, path)
        horizon = reader.parsed(entry, path, "horizon", parse_duration)
        min_lead = reader.parsed(entry, path, "min_lead", parse_duration)
        release = _relative(reader, entry, path, "release", parse_release)
        share = reader.parsed(entry, path, "share", parse_share)
        broken = selector is None or any(
            k in entry and v is None
            for k, v in (
                ("action", action),
                ("horizon", horizon),
                ("min_lead", min_lead),
                ("release", release),
                ("share", share),
            )
        )
        if action is Action.HOLD_BACK and "release" not in entry:
            reader.issue(
                path,
                f"rule '{name}' holds slots back but has no release time",
                'add release = "2 working days before at 07:30"',
            )
            broken = True
        if "release" in entry and action not in (Action.HOLD_BACK, Action.URGENT):
            reader.issue(
                (*path, "release"),
                f"rule '{name}' has a release time but its action is "
                f"{action.value if action else 'not set'}",
                'set action = "hold_back" or "urgent", or remove release',
            )
            broken = True
        if "share" in entry and action is not Action.HOLD_BACK:
            reader.issue(
                (*path, "share"),
                f"rule '{name}' holds back a share but action is not hold_back",
                'set action = "hold_back", or remove share',
            )
            broken = True
        if action is None and horizon is None and min_lead is None and not broken:
            reader.warn(
                path,
                f"rule '{name}' does nothing",
                "add an action, horizon or min_lead, or remove it",
            )
        if horizon is not None and min_lead is not None and min_lead >= horizon:
            reader.warn(
                (*path, "min_lead"),
                f"rule '{name}': lead time {format_duration(min_lead)} is not shorter than "
                f"horizon {format_duration(horizon)}, so nothing is bookable",
                "shorten min_lead or lengthen horizon",
            )
        if (
            release is not None
            and release.hours_before is not None
            and min_lead is not None
            and release.hours_before <= min_lead
        ):
            reader.warn(
                (*path, "release"),
                f"rule '{name}' releases slots after the lead-time cut-off, "
                "so they are never bookable",
                "release earlier or shorten min_lead",
            )
        if broken or selector is None:
            continue
        out.append(
            ReleaseRule(
                name=name,
                selector=selector,
                action=action,
                horizon=horizon,
                min_lead=min_lead,
                release=release,
                share=share,
                source=Source(FILE, reader.locator.line_of(path), f"rules[{index}]"),
            )
        )
    _conflicts(reader, out)
    return out


def _action(reader: Reader, entry: Table, path: tuple[str | int, ...]) -> Action | None:
    text = reader.text(entry, path, "action")
    if text is None:
        return None
    normal = text.strip().lower().replace("-", "_").replace(" ", "_")
    if normal not in _ACTIONS:
        close = difflib.get_close_matches(normal, _ACTIONS, n=1, cutoff=0.5)
        fix = f"did you mean '{close[0]}'?" if close else "use one of " + ", ".join(_ACTIONS)
        reader.issue((*path, "action"), f"unknown action '{text}'", fix)
        return None
    return Action(normal)


def _conflicts(reader: Reader, rules: list[ReleaseRule]) -> None:
    for i, a in enumerate(rules):
        for b in rules[i + 1 :]:
            if a.action is None or b.action is None or a.selector != b.selector:
                continue
            if frozenset({a.action, b.action}) in _CONFLICTS:
                reader.issue(
                    ("rules", int(b.source.key[len("rules[") : -1]), "action"),
                    f"rule '{b.name}' ({b.action.value}) conflicts with rule '{a.name}' "
                    f"({a.action.value}, line {a.source.line}) on the same slots at the same level",
                    "choose one action for these slots, or narrow one rule's selector",
                )


def _policy(
    reader: Reader, entry: Table, path: tuple[str | int, ...], default: BookingPolicy
) -> BookingPolicy | None:
    auto = reader.flag(entry, path, "auto_confirm", default.auto_confirm)
    deadline = reader.parsed(entry, path, "decision_deadline", parse_duration)
    if "decision_deadline" in entry and deadline is None:
        return None
    if auto and deadline is not None:
        reader.issue(
            (*path, "decision_deadline"),
            "decision deadline on an auto-confirmed policy",
            "set auto_confirm = false for manual confirmation, or remove decision_deadline",
        )
        return None
    if deadline is not None and deadline <= timedelta(0):
        reader.issue(
            (*path, "decision_deadline"),
            "decision deadline must be more than zero",
            'e.g. decision_deadline = "24 h"',
        )
        return None
    if not auto and deadline is None:
        reader.warn(
            (*path, "auto_confirm"),
            "manual confirmation without a decision deadline: requests may wait for ever",
            'add decision_deadline = "24 h"',
        )
    return BookingPolicy(auto_confirm=auto, decision_deadline=deadline)


def _policies(
    data: Table, reader: Reader, practitioners: list[str] | None, types: list[str] | None
) -> list[PolicyRule]:
    items = reader.typed(data, (), "policies", list) or []
    out: list[PolicyRule] = []
    for index, entry in enumerate(items):
        path: tuple[str | int, ...] = ("policies", index)
        if not isinstance(entry, dict):
            reader.issue(path, "wrong type: expected a table", "write [[policies]]")
            continue
        reader.known_keys(entry, path, POLICY_KEYS)
        reader.text(entry, path, "name")
        selector = _selector(reader, entry, path, practitioners, types)
        policy = _policy(reader, entry, path, BookingPolicy())
        if selector is None or policy is None:
            continue
        out.append(
            PolicyRule(
                selector=selector,
                policy=policy,
                source=Source(FILE, reader.locator.line_of(path), f"policies[{index}]"),
            )
        )
    return out
