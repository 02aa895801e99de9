"""Release rules and booking policy: what clinic admins write in ``rules.toml``.

These are the data types only; :mod:`adapter.domain.release` evaluates them for a
slot at a given ``now``, and :mod:`adapter.domain.policy` applies the booking
policy. All times of day are Europe/Oslo wall time.

Precedence (documented for admins in ``config/rules.toml``):

* a rule's *level* follows from its selector: it is an appointment-type rule when it
  names appointment types, else a practitioner rule when it names practitioners,
  else a clinic rule;
* for horizons, lead times, release times and deadlines the most specific level
  wins (type over practitioner over clinic; among rules of one level, the later in
  the file wins);
* for counts and shares (share held back, patient limit) the strictest wins;
* the visibility actions rank never-online > must-call > held back/urgent > publish,
  and the highest-ranked action of any matching rule applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time, timedelta
from enum import IntEnum, StrEnum


class Level(IntEnum):
    """How specific a rule is; higher wins for horizons and deadlines."""

    CLINIC = 0
    PRACTITIONER = 1
    APPOINTMENT_TYPE = 2


class Action(StrEnum):
    """What a rule does with the slots it selects."""

    PUBLISH = "publish"  # bookable within horizon and lead time
    HOLD_BACK = "hold_back"  # shown with x-available-at until its release time
    URGENT = "urgent"  # Hastetime: like hold_back, released the same day
    MUST_CALL = "must_call"  # shown with category MustCall, never bookable online
    NEVER_ONLINE = "never_online"  # hidden


#: Rank of each action: the highest-ranked matching action applies.
ACTION_RANK: dict[Action, int] = {
    Action.PUBLISH: 0,
    Action.HOLD_BACK: 1,
    Action.URGENT: 1,
    Action.MUST_CALL: 2,
    Action.NEVER_ONLINE: 3,
}


@dataclass(frozen=True, slots=True)
class Source:
    """Where a rule was written, for error messages (file, line, key)."""

    file: str = ""
    line: int = 0
    key: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where} [{self.key}]" if self.key else where


@dataclass(frozen=True, slots=True)
class ReleaseTime:
    """When a held-back slot is released, relative to the slot's start.

    Either ``days_before`` (calendar days, or working days when ``working_days``)
    at wall time ``at`` ("2 working days before at 07:30", "same day at 08:00"),
    or ``hours_before`` ("24 h before").
    """

    days_before: int = 0
    at: time | None = None
    working_days: bool = False
    hours_before: timedelta | None = None

    def __post_init__(self) -> None:
        if (self.at is None) == (self.hours_before is None):
            raise ValueError("a release time has either a day and a time of day, or hours before")
        if self.days_before < 0:
            raise ValueError("days_before cannot be negative")
        if self.hours_before is not None and self.hours_before < timedelta(0):
            raise ValueError("hours_before cannot be negative")

    def describe(self) -> str:
        """Human wording, e.g. "2 working days before at 07:30"."""
        if self.hours_before is not None:
            hours = self.hours_before.total_seconds() / 3600
            return f"{hours:g} h before"
        assert self.at is not None
        if self.days_before == 0:
            return f"same day at {self.at:%H:%M}"
        unit = "working day" if self.working_days else "day"
        plural = "s" if self.days_before != 1 else ""
        return f"{self.days_before} {unit}{plural} before at {self.at:%H:%M}"


@dataclass(frozen=True, slots=True)
class Selector:
    """Which slots a rule applies to. An empty set or ``None`` means any."""

    practitioners: frozenset[str] = frozenset()
    appointment_types: frozenset[str] = frozenset()
    weekdays: frozenset[int] = frozenset()  # 0 = Monday ... 6 = Sunday
    start_from: time | None = None  # local start time >= start_from
    start_before: time | None = None  # local start time < start_before

    @property
    def level(self) -> Level:
        """The rule's level, from what it names."""
        if self.appointment_types:
            return Level.APPOINTMENT_TYPE
        if self.practitioners:
            return Level.PRACTITIONER
        return Level.CLINIC


@dataclass(frozen=True, slots=True)
class ReleaseRule:
    """One rule of ``rules.toml``.

    ``horizon``: how far ahead slots are published (None: inherit).
    ``min_lead``: not bookable when less than this before start (None: inherit).
    ``action`` with ``release`` (for hold_back / urgent) and ``share`` (hold_back of
    a share of each day's selected slots, 0 < share ≤ 1; None = all of them).
    """

    name: str
    selector: Selector = field(default_factory=Selector)
    action: Action | None = None  # None: sets only horizon / lead time
    horizon: timedelta | None = None
    min_lead: timedelta | None = None
    release: ReleaseTime | None = None
    share: float | None = None
    source: Source = field(default_factory=Source)


@dataclass(frozen=True, slots=True)
class BookingPolicy:
    """How reservations are decided: at once, or by hand before a deadline."""

    auto_confirm: bool = True
    decision_deadline: timedelta | None = None  # manual: auto-reject after this


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """A booking policy for the slots a selector picks (most specific wins)."""

    selector: Selector
    policy: BookingPolicy
    source: Source = field(default_factory=Source)


@dataclass(frozen=True, slots=True)
class CancellationCutoff:
    """Until when a patient may cancel online.

    Written in the same grammar as release times (see ``config/rules.toml``):
    ``hours_before``: e.g. 24 h before start ("24 h before"); or
    ``working_days_before`` at ``at``: "1 working day before at 12:00" is
    ``working_days_before=1, at=12:00`` ("same day at 08:00" is 0 working days); or
    ``days_before`` (calendar days) at ``at``: "1 day before at 18:00".
    """

    hours_before: timedelta | None = None
    working_days_before: int | None = None
    at: time | None = None
    days_before: int | None = None


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Everything ``rules.toml`` says for one clinic."""

    release_rules: tuple[ReleaseRule, ...] = ()
    policies: tuple[PolicyRule, ...] = ()
    default_horizon: timedelta = timedelta(weeks=6)
    default_min_lead: timedelta = timedelta(hours=0)
    default_policy: BookingPolicy = field(default_factory=BookingPolicy)
    urgent_release: ReleaseTime = field(
        default_factory=lambda: ReleaseTime(days_before=0, at=time(8, 0))
    )
    cancellation: CancellationCutoff = field(default_factory=CancellationCutoff)
    max_future_online_per_patient: int | None = None
    closed_on_public_holidays: bool = True
    #: Answer HentPlanlagteTimer (HBT) with the patient's appointments; otherwise 33
    #: "tjeneste tilbys ikke" (the guide reserves HBT for home-based services).
    serve_planned_appointments: bool = False
