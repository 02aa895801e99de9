"""Booking policy: who decides a reservation, until when a patient may cancel, and why
a reservation is refused.

Pure: every function that depends on time takes ``now``.

Refusal codes (guide HITS 1217, 3.4.3.2 "Svar på forespørsel om timereservasjon",
and the general refusal codes of 2.4 "Feilkoder brukt i Type forespørsel"):

* ``06 Time ikke tilgjengelig`` when the slot itself cannot be had: it is unknown,
  taken, not bookable online at this moment (hidden, held back, must-call, closed),
  its times do not match, or it lies outside the practitioner's working hours (a
  closed day). The patient can pick another slot.
* ``30 Ikke tilgang`` when the patient has no access to this practitioner's booking
  service: blocked by the clinic from digital booking (the guide's example:
  "Benyttes dersom innbygger er blokkert fra å bruke tjenesten fra EPJ"), or not on
  the practitioner's list (2.4.3 defines 30 as "Innbygger har ikke tilgang til denne
  dialogtjenesten"; a fastlege's online booking is a service for the patients on
  the list, so an unlisted patient is a citizen without access to it, not a request
  the clinic chose to turn down).
* ``26 Forespørsel avvist`` when the clinic will not serve this request for this
  patient although the slot is free and the patient has access: the slot belongs to
  another practitioner than the one addressed, the patient already holds the
  maximum number of future online appointments, or the practitioner does not take
  online bookings.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from adapter.domain.calendar import WorkingCalendar, at_local
from adapter.domain.codes import Svar
from adapter.domain.model import OSLO, Slot, require_aware
from adapter.domain.release import CLOSED_DAY_RULE, Visibility, selector_matches
from adapter.domain.rules import BookingPolicy, CancellationCutoff, RuleSet


def booking_policy(slot: Slot, rules: RuleSet) -> BookingPolicy:
    """The policy for ``slot``: the most specific matching policy rule, else the default.

    Among matching rules of the same level, the later in the file wins.
    """
    best: tuple[int, int] | None = None
    chosen = rules.default_policy
    for index, rule in enumerate(rules.policies):
        if not selector_matches(rule.selector, slot):
            continue
        rank = (int(rule.selector.level), index)
        if best is None or rank > best:
            best, chosen = rank, rule.policy
    return chosen


def decision_deadline(slot: Slot, rules: RuleSet, now: datetime) -> datetime | None:
    """When a reservation of ``slot`` made at ``now`` is rejected if still undecided.

    None for auto-confirm (and for manual policies without a deadline); else
    ``now + deadline``, but never later than the slot's start.
    """
    now = require_aware(now, "now").astimezone(UTC)
    policy = booking_policy(slot, rules)
    if policy.auto_confirm or policy.decision_deadline is None:
        return None
    return min(now + policy.decision_deadline, slot.start.astimezone(UTC))


def cancellation_deadline(
    start: datetime, cutoff: CancellationCutoff, calendar: WorkingCalendar
) -> datetime | None:
    """The last instant (exclusive) at which an appointment at ``start`` may be cancelled.

    "By 12:00 the working day before" is ``working_days_before=1, at=12:00``: the
    working day is counted back over weekends and public holidays. ``hours_before``
    counts absolute hours; ``days_before`` counts calendar days; days without ``at``
    mean until that day ends. When several are set, the earliest deadline applies. None: no
    cut-off (cancel until the start).
    """
    require_aware(start, "start")
    deadlines: list[datetime] = []
    if cutoff.hours_before is not None:
        deadlines.append(start.astimezone(UTC) - cutoff.hours_before)
    if cutoff.working_days_before is not None:
        day = calendar.working_days_before(
            start.astimezone(OSLO).date(), cutoff.working_days_before
        )
        if cutoff.at is not None:
            deadlines.append(at_local(day, cutoff.at))
        else:  # no time of day: until the end of that working day
            deadlines.append(at_local(day + timedelta(days=1), datetime.min.time()))
    if cutoff.days_before is not None:  # calendar days: "1 day before at 18:00"
        day = start.astimezone(OSLO).date() - timedelta(days=cutoff.days_before)
        if cutoff.at is not None:
            deadlines.append(at_local(day, cutoff.at))
        else:
            deadlines.append(at_local(day + timedelta(days=1), datetime.min.time()))
    return min(deadlines, default=None)


def may_cancel(start: datetime, rules: RuleSet, now: datetime, calendar: WorkingCalendar) -> bool:
    """True when a patient may still cancel online an appointment at ``start``."""
    now = require_aware(now, "now").astimezone(UTC)
    if now >= start:
        return False
    deadline = cancellation_deadline(start, rules.cancellation, calendar)
    return deadline is None or now < deadline


class Refusal(StrEnum):
    """Why a reservation request is refused (see :func:`refusal_code`)."""

    SLOT_UNKNOWN = "slot_unknown"
    TIMES_MISMATCH = "times_mismatch"  # dtstart/dtend of the request differ from the slot
    OUTSIDE_WORKING_HOURS = "outside_working_hours"  # a closed day or outside opening hours
    NOT_BOOKABLE_NOW = "not_bookable_now"  # hidden, held back, must-call or closed
    TAKEN = "taken"
    WRONG_PRACTITIONER = "wrong_practitioner"  # not the addressed practitioner's slot
    PRACTITIONER_OFFLINE = "practitioner_offline"  # takes no online bookings
    NOT_LISTED = "not_listed"  # not on the practitioner's list
    TOO_MANY_FUTURE = "too_many_future"  # already holds the most future online appointments
    PATIENT_BLOCKED = "patient_blocked"  # blocked from digital booking by the clinic


_CODES: Final[dict[Refusal, Svar]] = {
    Refusal.SLOT_UNKNOWN: Svar.TIME_IKKE_TILGJENGELIG,
    Refusal.TIMES_MISMATCH: Svar.TIME_IKKE_TILGJENGELIG,
    Refusal.OUTSIDE_WORKING_HOURS: Svar.TIME_IKKE_TILGJENGELIG,
    Refusal.NOT_BOOKABLE_NOW: Svar.TIME_IKKE_TILGJENGELIG,
    Refusal.TAKEN: Svar.TIME_IKKE_TILGJENGELIG,
    Refusal.WRONG_PRACTITIONER: Svar.AVVIST,
    Refusal.PRACTITIONER_OFFLINE: Svar.AVVIST,
    Refusal.NOT_LISTED: Svar.IKKE_TILGANG,
    Refusal.TOO_MANY_FUTURE: Svar.AVVIST,
    Refusal.PATIENT_BLOCKED: Svar.IKKE_TILGANG,
}


def refusal_code(reason: Refusal) -> Svar:
    """The 7602 answer for a refusal: 06, 26 or 30 (see the module docstring)."""
    return _CODES[reason]


def check_reservation(
    *,
    visibility: Visibility | None,
    taken: bool,
    listed: bool,
    blocked: bool,
    future_online_count: int,
    rules: RuleSet,
    slot_practitioner: str | None = None,
    addressed_practitioner: str | None = None,
    times_match: bool = True,
    practitioner_online: bool = True,
) -> Refusal | None:
    """Why a reservation must be refused, or None when it may go ahead.

    ``visibility`` is None when the slot id is unknown. ``listed`` is True when the
    patient is on the practitioner's list or the practitioner is open to unlisted
    patients. ``future_online_count`` counts the patient's live future online
    appointments, not including this request. The checks run in this order, so
    the most telling reason wins: blocked, unknown slot, wrong practitioner,
    practitioner offline, times, closed day (public holiday), not listed, too many, not bookable,
    taken.
    """
    if blocked:
        return Refusal.PATIENT_BLOCKED
    if visibility is None:
        return Refusal.SLOT_UNKNOWN
    if (
        slot_practitioner is not None
        and addressed_practitioner is not None
        and slot_practitioner != addressed_practitioner
    ):
        return Refusal.WRONG_PRACTITIONER
    if not practitioner_online:
        return Refusal.PRACTITIONER_OFFLINE
    if not times_match:
        return Refusal.TIMES_MISMATCH
    if visibility.rule == CLOSED_DAY_RULE:
        return Refusal.OUTSIDE_WORKING_HOURS
    if not listed:
        return Refusal.NOT_LISTED
    limit = rules.max_future_online_per_patient
    if limit is not None and future_online_count >= limit:
        return Refusal.TOO_MANY_FUTURE
    if not visibility.bookable:
        return Refusal.NOT_BOOKABLE_NOW
    if taken:
        return Refusal.TAKEN
    return None
