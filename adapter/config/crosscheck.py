"""Checks that need ``clinic.toml`` and ``rules.toml`` together.

The rules are tried on the slots the opening-hours templates give in one
reference week (each weekday's pattern, absences and dates aside), with the
domain's own precedence (:func:`adapter.domain.release.effective_rule`):

* a release time at or after the start of a slot it holds back is an error: the
  slot is never bookable, and helsenorge.no would tell patients "tilgjengelig fra
  kl. 18:00" for a 13:00 slot;
* a release after the lead-time cut-off (``start - min_lead``) is a warning: shown,
  never bookable;
* a rule or policy that matches none of these slots is a warning (it may be meant
  for imported slots).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from adapter.config.clinic_file import ClinicFile
from adapter.config.reader import Reader
from adapter.config.rules_file import RulesFile
from adapter.config.syntax import format_duration
from adapter.config.templates import Template
from adapter.domain.calendar import WorkingCalendar, at_local
from adapter.domain.model import OSLO, AppointmentType, Slot, overlaps
from adapter.domain.release import effective_rule, release_instant, selector_matches, shift_back
from adapter.domain.rules import Action, PolicyRule, ReleaseRule, ReleaseTime, RuleSet

#: Monday of the reference week: no public holiday in it or in the weeks before it
#: that working days count back over (1 January aside), no DST change.
REFERENCE_MONDAY: Final = date(2026, 1, 12)
_DAY_NAMES: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class _Pattern:
    """One slot the templates give on a weekday of the reference week."""

    slot: Slot
    template: Template

    @property
    def where(self) -> str:
        local = self.slot.start.astimezone(OSLO)
        return (
            f"the {self.slot.appointment_type} slot of '{self.slot.practitioner}' "
            f"at {local:%H:%M} on {_DAY_NAMES[local.weekday()]}"
        )


def template_patterns(
    clinic_key: str, templates: list[Template], types: dict[str, AppointmentType]
) -> list[_Pattern]:
    """The slots of the reference week as the templates give them, fill giving way."""
    out: list[_Pattern] = []
    for offset in range(7):
        day = REFERENCE_MONDAY + timedelta(days=offset)
        fixed: list[_Pattern] = []
        fillers: list[_Pattern] = []
        for template in templates:
            kind = types.get(template.appointment_type)
            if kind is None or day.weekday() not in template.weekdays:
                continue
            for first, _ in template.wall_times(kind.duration):
                start = at_local(day, first)
                slot = Slot(
                    id=f"check/{len(out) + len(fixed) + len(fillers)}",
                    clinic=clinic_key,
                    practitioner=template.practitioner,
                    appointment_type=kind.key,
                    start=start,
                    end=start + kind.duration,
                )
                (fillers if template.fill else fixed).append(_Pattern(slot, template))
        kept = list(fixed)
        for filler in fillers:
            if not any(
                other.slot.practitioner == filler.slot.practitioner
                and overlaps(filler.slot.start, filler.slot.end, other.slot.start, other.slot.end)
                for other in kept
            ):
                kept.append(filler)
        out.extend(kept)
    return out


def check_rules_against_templates(
    clinic: ClinicFile, rules: RulesFile, reader: Reader, data: dict[str, object]
) -> None:
    """Record (in ``reader``, the rules file's) the issues described in the module doc.

    ``data`` is the parsed ``rules.toml`` (to tell a written default from a built-in one).
    """
    if not clinic.templates:
        return  # clinic.toml already warns: no templates, no slots to try the rules on
    patterns = template_patterns(
        clinic.clinic.key if clinic.clinic else "clinic", clinic.templates, clinic.types
    )
    ruleset = rules.rules
    calendar = WorkingCalendar(
        closed_on_public_holidays=ruleset.closed_on_public_holidays,
        extra_closed=rules.extra_closed,
    )
    _release_times(patterns, ruleset, calendar, reader, data)
    _unmatched(patterns, ruleset, reader)


def _release_times(
    patterns: list[_Pattern],
    ruleset: RuleSet,
    calendar: WorkingCalendar,
    reader: Reader,
    data: dict[str, object],
) -> None:
    found: dict[tuple[str | int, ...], tuple[bool, str, str]] = {}
    for pattern in patterns:
        slot = pattern.slot
        for held in (False, True):  # share rules hold back only some slots
            eff = effective_rule(slot, ruleset, held)
            release = eff.release
            if eff.action not in (Action.HOLD_BACK, Action.URGENT) or release is None:
                continue
            released = release_instant(slot.start, release, calendar)
            after_start = released >= slot.start
            if not after_start and (
                release.at is None or released < shift_back(slot.start, eff.min_lead)
            ):
                continue  # in time ("24 h before" vs min_lead: rules_file warns)
            path, whose = _origin(slot, eff.rule, release, ruleset, data)
            if path in found and (found[path][0] or not after_start):
                continue  # one issue per release time; an error outranks a warning
            at = f"{released.astimezone(OSLO):%H:%M}"
            if after_start:
                message = (
                    f"{whose} releases slots at or after they start "
                    f"({release.describe()}; e.g. {pattern.where}): they are never "
                    f'bookable, and patients would read "tilgjengelig fra kl. {at}"'
                )
            else:
                message = (
                    f"{whose} releases slots after their lead-time cut-off "
                    f"({release.describe()}, min_lead {format_duration(eff.min_lead)}; "
                    f"e.g. {pattern.where}): they are shown but never bookable online"
                )
            found[path] = (after_start, message, release.describe())
    for path, (error, message, _) in found.items():
        if error:
            reader.issue(
                path,
                message,
                'release before the slots start, e.g. "same day at 08:00" or '
                '"1 day before at 18:00", or narrow the rule with start_between',
            )
        else:
            reader.warn(path, message, "release earlier or shorten min_lead")


def _origin(
    slot: Slot,
    rule_name: str | None,
    release: ReleaseTime,
    ruleset: RuleSet,
    data: dict[str, object],
) -> tuple[tuple[str | int, ...], str]:
    """Where the release time that applies to ``slot`` is written, and whose it is."""
    matching = [r for r in ruleset.release_rules if selector_matches(r.selector, slot)]
    deciding = [r for r in matching if r.name == rule_name]
    if deciding and deciding[-1].release == release:
        rule = deciding[-1]
        return (*_rule_path(rule), "release"), f"rule '{rule.name}'"
    if release == ruleset.urgent_release and deciding and deciding[-1].action is Action.URGENT:
        defaults = data.get("defaults")
        if isinstance(defaults, dict) and "urgent_release" in defaults:
            return (
                ("defaults", "urgent_release"),
                f"urgent_release (used by rule '{deciding[-1].name}')",
            )
        return _rule_path(deciding[-1]), f"the built-in urgent release of rule '{rule_name}'"
    with_release = [r for r in matching if r.release == release]
    if with_release:
        rule = max(with_release, key=lambda r: r.selector.level)
        return (*_rule_path(rule), "release"), f"rule '{rule.name}'"
    return ("rules",), f"rule '{rule_name}'"


def _rule_path(rule: ReleaseRule | PolicyRule) -> tuple[str | int, ...]:
    """``("rules", 2)`` from the source key ``rules[2]`` (``policies[0]`` likewise)."""
    section, _, rest = rule.source.key.partition("[")
    if rest.endswith("]") and rest[:-1].isdigit():
        return (section, int(rest[:-1]))
    return (section or "rules",)


def _unmatched(patterns: list[_Pattern], ruleset: RuleSet, reader: Reader) -> None:
    slots = [p.slot for p in patterns]
    fix = (
        "check its practitioners, types, weekdays and start_between against the "
        "[[templates]] in clinic.toml (ignore this if those slots are imported)"
    )
    for rule in ruleset.release_rules:
        if not any(selector_matches(rule.selector, s) for s in slots):
            reader.warn(
                _rule_path(rule), f"rule '{rule.name}' matches no slot the templates give", fix
            )
    for policy in ruleset.policies:
        if not any(selector_matches(policy.selector, s) for s in slots):
            reader.warn(_rule_path(policy), "this policy matches no slot the templates give", fix)
