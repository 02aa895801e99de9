"""The HLT cache serves exactly what computing the answer gives (issue 15, part 2).

Two adapters share one SQLite database and one clock, as two instances on one database
do: ``cached`` keeps HLT answers (``[performance] hlt_cache = true``, the default),
``plain`` computes every one (``hlt_cache = false``). The same HentLedigeTimer, as
Helsenorge sends it, goes to both after every step, and the answers must be the same
byte for byte but for the answer's own MsgId.

* a Hypothesis property drives random sequences of bookings (ReserverTime through the
  pipeline, and the clinic's own), cancellations, slot imports (moved and new slots),
  withdrawals and restores, rule reloads and clock steps landing on, just before and
  just after every instant a slot's visibility changes (publish, release, lead-time
  cut-off, start) and both DST nights of 2027 in Europe/Oslo, through either adapter;
* plain examples show each invalidation on its own (each would fail without it): a
  booking, a cancellation, an import, a withdrawal, a reload, a release instant and a
  lead-time cut-off passing, a clock set back, and another instance's booking;
* the switch: ``hlt_cache = false`` builds no cache.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from adapter.bootstrap import bootstrap
from adapter.config import load_config
from adapter.domain.errors import DomainError
from adapter.domain.model import OSLO, AppointmentState, Slot
from adapter.domain.release import Visibility, VisibilityKind, evaluate
from adapter.messages import build_requests as rq
from adapter.messages import xcal_out
from adapter.messages.codes import MsgType
from adapter.messages.read_replies import read_reply
from adapter.messages.xcal_out import OfferedSlot
from adapter.metrics import metrics_for
from adapter.runtime import Runtime
from adapter.service import availability, views
from adapter.service.availability import PARTS_PER_ENTRY, AvailabilityCache, offered_slots
from adapter.store.book_versions import BookVersionRepository
from adapter.store.slots import SlotRepository
from adapter.testing import MemoryTransport, MovableClock, reserve
from adapter.testing.helsenorge import helsenorge_message
from adapter.tools.demo import FOLKE, KARI, LILLE, OLA, prepare

ROOT = Path(__file__).resolve().parents[2]

#: Before everything below: the book's slots are beyond every horizon.
START: Final = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)

#: The DST nights of 2027 in Oslo: 02:00 CET jumps to 03:00 CEST; 03:00 CEST goes back
#: to 02:00 CET (02:00-03:00 local happens twice).
SPRING: Final = datetime(2027, 3, 28, 1, 0, tzinfo=UTC)
AUTUMN: Final = datetime(2027, 10, 31, 1, 0, tzinfo=UTC)

#: The HLT windows asked (local days, both included): Easter and the spring night; the
#: autumn night.
WINDOWS: Final = ((date(2027, 3, 24), date(2027, 4, 2)), (date(2027, 10, 27), date(2027, 11, 5)))

#: Whom HLT is asked for: Benedikte (her vikar Ingar's slots come with hers), Arna.
ASKED: Final = ("benedikte", "arna")

PATIENTS: Final = (FOLKE, LILLE, KARI, OLA)

DURATIONS: Final = {
    "oppmote": 20,
    "hastetime": 15,
    "video": 20,
    "jordmor_forste": 60,
    "svangerskapskontroll": 30,
}


def _slot(n: int, practitioner: str, kind: str, start: datetime) -> Slot:
    return Slot(
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"hlt-cache/{n}")),
        clinic="ddfl",
        practitioner=practitioner,
        appointment_type=kind,
        start=start,
        end=start + timedelta(minutes=DURATIONS[kind]),
    )


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


#: The book: slots around both DST nights (some in the hour that is skipped or doubled,
#: some whose one-day lead time ends there) and on the Easter days.
BOOK: Final = tuple(
    _slot(n, who, kind, _utc(at))
    for n, (who, kind, at) in enumerate(
        [
            ("benedikte", "oppmote", "2027-03-26T07:00"),  # Good Friday
            ("benedikte", "oppmote", "2027-03-27T08:00"),
            ("benedikte", "oppmote", "2027-03-28T00:30"),  # 01:30 CET, before the jump
            ("benedikte", "oppmote", "2027-03-28T01:00"),  # 03:00 CEST, just after
            ("benedikte", "video", "2027-03-28T07:00"),
            (
                "benedikte",
                "oppmote",
                "2027-03-29T00:30",
            ),  # 02:30 CEST: "1 day" before is in the gap
            ("benedikte", "oppmote", "2027-03-30T06:00"),
            ("benedikte", "oppmote", "2027-03-30T06:20"),
            ("benedikte", "oppmote", "2027-03-30T06:40"),
            ("benedikte", "oppmote", "2027-03-30T07:00"),
            ("benedikte", "hastetime", "2027-03-30T08:00"),
            ("ingar", "oppmote", "2027-03-30T09:00"),
            ("ingar", "oppmote", "2027-03-31T09:00"),
            ("benedikte", "oppmote", "2027-03-31T06:00"),
            ("arna", "jordmor_forste", "2027-03-30T10:00"),
            ("arna", "svangerskapskontroll", "2027-03-30T11:00"),
            ("benedikte", "oppmote", "2027-10-30T07:00"),
            ("benedikte", "oppmote", "2027-10-31T00:30"),  # 02:30 CEST, the first 02:30
            ("benedikte", "oppmote", "2027-10-31T01:30"),  # 02:30 CET, the second
            ("benedikte", "oppmote", "2027-11-01T00:30"),  # 01:30 CET: lead ends before the fold
            ("benedikte", "oppmote", "2027-11-01T01:30"),  # 02:30 CET: lead ends in the fold
            ("benedikte", "oppmote", "2027-11-01T07:00"),
            ("benedikte", "oppmote", "2027-11-01T07:20"),
            ("benedikte", "oppmote", "2027-11-01T07:40"),
            ("benedikte", "hastetime", "2027-11-01T09:00"),
            ("ingar", "oppmote", "2027-11-01T10:00"),
            ("arna", "jordmor_forste", "2027-11-01T11:00"),
            ("arna", "svangerskapskontroll", "2027-11-02T08:00"),
        ]
    )
)

#: The slots an import may bring besides: new ones, in the same nights.
EXTRA: Final = tuple(
    _slot(100 + n, who, kind, _utc(at))
    for n, (who, kind, at) in enumerate(
        [
            ("benedikte", "oppmote", "2027-03-29T06:00"),
            ("ingar", "oppmote", "2027-03-28T00:40"),
            ("benedikte", "oppmote", "2027-10-31T01:00"),  # 02:00 CET, the second 02:00
            ("arna", "svangerskapskontroll", "2027-10-31T00:10"),
        ]
    )
)

#: rules.toml variants a reload swaps between: the example clinic's (Easter closed,
#: 30 % held back two working days, 2 h lead), and two others.
RULES_EXAMPLE: Final = (ROOT / "config" / "rules.toml").read_text(encoding="utf-8")
RULES_DAYS: Final = """\
[defaults]
horizon = "2 weeks"
min_lead = "1 day"
urgent_release = "24 h before"

[calendar]
closed_on_public_holidays = false

[[rules]]
name = "half-held-back"
practitioners = ["benedikte", "ingar"]
types = ["oppmote"]
action = "hold_back"
share = "50 %"
release = "3 days before at 02:30"

[[rules]]
name = "urgent"
types = ["hastetime"]
action = "urgent"
min_lead = "30 min"

[[rules]]
name = "first-call"
practitioners = ["arna"]
types = ["jordmor_forste"]
action = "must_call"
"""
RULES_HOURS: Final = """\
[defaults]
horizon = "10 days"
min_lead = "2 h"

[calendar]
closed_on_public_holidays = true

[[rules]]
name = "held"
types = ["oppmote", "video"]
action = "hold_back"
release = "26 h before"

[[rules]]
name = "arna-later"
practitioners = ["arna"]
horizon = "1 day"
min_lead = "1 day"
"""
RULES: Final = (RULES_EXAMPLE, RULES_DAYS, RULES_HOURS)


@dataclass
class Pair:
    """Two adapters on one database and one clock: one keeping HLT answers, one not."""

    cached: Runtime
    plain: Runtime
    clock: MovableClock

    @property
    def cache(self) -> AvailabilityCache:
        found = self.cached.pipeline.replies.availability
        assert found is not None
        return found

    @property
    def both(self) -> tuple[Runtime, Runtime]:
        return self.cached, self.plain

    def reload(self, rules: str) -> None:
        """Swap ``rules.toml`` in both and reload them."""
        for runtime in self.both:
            (runtime.settings.config_dir / "rules.toml").write_text(rules, encoding="utf-8")
            result = runtime.reload()
            assert result.applied, [str(i) for i in result.issues]


def _runtime(root: Path, clock: MovableClock, extra: str) -> Runtime:
    config = prepare(root, ROOT / "config")
    with (config / "adapter.toml").open("a", encoding="utf-8") as toml:
        toml.write(extra)
    return bootstrap(config, clock=clock, transport=MemoryTransport())


def _pair(tmp_path: Path) -> Pair:
    clock = MovableClock(START)
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    cached = _runtime(tmp_path / "cached", clock, f'\n[database]\nurl = "{url}"\n')
    plain = _runtime(
        tmp_path / "plain",
        clock,
        f'\n[database]\nurl = "{url}"\n\n[performance]\nhlt_cache = false\n',
    )
    cached.adapter.load_slots(BOOK)
    cached.adapter.set_patient_list("benedikte", [p.ident for p in PATIENTS])
    return Pair(cached, plain, clock)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    made = _pair(tmp_path)
    yield made
    made.cached.close()
    made.plain.close()


_MSG_ID = re.compile(rb"<MsgId>[^<]*</MsgId>")


def _ask(runtime: Runtime, body: bytes, now: datetime) -> bytes:
    """Put the HLT ``body`` on ``runtime``'s sync queue as Helsenorge does; the answer."""
    transport = runtime.transport
    assert isinstance(transport, MemoryTransport)
    queue = runtime.router.sync_queue(runtime.ctx.clinic.her_id)
    message = helsenorge_message(body, MsgType.TIMERESERVASJON.value, queue=queue, now=now)
    assert message.reply_to is not None
    before = len(transport.sent.get(message.reply_to, []))
    transport.send(queue, message)
    while runtime.process_one(timeout=0):
        pass
    [answer] = transport.sent[message.reply_to][before:]
    return answer.body


def hlt(pair: Pair, practitioner: str, first: date, last: date) -> tuple[bytes, bytes]:
    """The same HLT to both adapters: (cached answer, plain answer), each with its own
    MsgId blanked (everything else, GenDate too, comes from the shared clock)."""
    ctx = pair.cached.ctx
    now = pair.clock()
    built = rq.hent_ledige_timer(
        rq.RequestParties(receiver=ctx.party(ctx.practitioners[practitioner]), patient=OLA),
        now,
        first,
        last,
    )
    cached, plain = (_MSG_ID.sub(b"<MsgId/>", _ask(r, built.body, now)) for r in pair.both)
    return cached, plain


def _offered(body: bytes) -> list[tuple[str, datetime, tuple[str, ...], datetime | None]]:
    reply = read_reply(body)
    return [(e.uid, e.start, tuple(e.categories), e.available_at) for e in reply.events]


def assert_same_answers(pair: Pair) -> None:
    """Every HLT asked gets the same answer from the cache as computed."""
    for practitioner in ASKED:
        for first, last in WINDOWS:
            cached, plain = hlt(pair, practitioner, first, last)
            where = f"{practitioner} {first}..{last} at {pair.clock().isoformat()}"
            assert _offered(cached) == _offered(plain), where
            assert cached == plain, where


def offered_ids(pair: Pair, practitioner: str = "benedikte") -> set[str]:
    """The slot ids the cached adapter's HLT offers over the spring window (checked
    against the plain adapter's)."""
    cached, plain = hlt(pair, practitioner, *WINDOWS[0])
    assert cached == plain
    return {uid for uid, *_ in _offered(cached)}


# --- the instants a clock step lands near ---------------------------------------------


def _changes(runtime: Runtime, slots: tuple[Slot, ...]) -> set[datetime]:
    """Every instant at which a slot of ``slots`` changes its visibility under the
    running rules, found by following ``next_change``; and every start."""
    ctx = runtime.ctx
    found = {s.start for s in slots}
    now = START
    while True:
        seen = evaluate(slots, ctx.rules, now, calendar=ctx.calendar)
        later = [v.next_change for v in seen.values() if v.next_change is not None]
        if not later:
            return found
        now = min(later)
        found.update(later)


def candidate_instants(tmp_path: Path) -> list[datetime]:
    """The instants of every rules variant (releases, horizons, cut-offs, starts) and
    the DST nights, each exactly, a microsecond and a second either side."""
    clock = MovableClock(START)
    runtime = _runtime(tmp_path / "instants", clock, "")
    found: set[datetime] = {SPRING, AUTUMN}
    try:
        for rules in RULES:
            (runtime.settings.config_dir / "rules.toml").write_text(rules, encoding="utf-8")
            assert runtime.reload().applied
            found |= _changes(runtime, BOOK + EXTRA)
    finally:
        runtime.close()
    offsets = (timedelta(0), timedelta(microseconds=1), timedelta(seconds=1))
    return sorted({t + d for t in found for d in offsets} | {t - d for t in found for d in offsets})


# --- the property -------------------------------------------------------------------------

Step = tuple[str, int, int, int]

steps = st.tuples(
    st.sampled_from(
        ["clock", "clock", "clock", "reserve", "book", "cancel", "import", "withdraw", "reload"]
    ),
    st.integers(0, 10_000),  # which slot, appointment, instant or rules
    st.integers(0, 10_000),  # which patient, or how far an import moves a slot
    st.integers(0, 1),  # through which adapter: 0 cached, 1 plain
)


def apply(pair: Pair, step: Step, instants: list[datetime]) -> None:
    """Do one step; what the domain refuses (a slot begun, taken) changes nothing."""
    kind, which, other, via_index = step
    via = pair.both[via_index]
    pool = BOOK + EXTRA
    slot = pool[which % len(pool)]
    try:
        if kind == "clock":
            pair.clock.set(instants[which % len(instants)])
        elif kind == "reserve":
            reserve(via, slot.id, PATIENTS[other % len(PATIENTS)])
        elif kind == "book":
            via.adapter.book(slot.id, PATIENTS[other % len(PATIENTS)])
        elif kind == "cancel":
            live = [
                a
                for a in via.adapter.appointments(START, START + timedelta(days=365))
                if a.state is AppointmentState.CONFIRMED
            ]
            if live:
                via.adapter.cancel(live[which % len(live)].id)
        elif kind == "import":
            shift = timedelta(minutes=5 * (other % 5 - 2))
            via.adapter.load_slots(
                [replace(slot, start=slot.start + shift, end=slot.end + shift)], "import"
            )
        elif kind == "withdraw":
            if other % 2:
                via.adapter.withdraw_slot(slot.id)
            else:
                via.adapter.restore_slot(slot.id)
        else:
            pair.reload(RULES[which % len(RULES)])
    except DomainError:
        pass


@pytest.fixture
def instants(tmp_path: Path) -> list[datetime]:
    return candidate_instants(tmp_path)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(steps, min_size=1, max_size=8))
def test_every_cached_answer_is_the_computed_one(
    pair: Pair, instants: list[datetime], plan: list[Step]
) -> None:
    # One pair for every example: each sequence goes on from where the last one left
    # the book, the rules and the clock (which only widens what is covered).
    assert_same_answers(pair)
    for step in plan:
        apply(pair, step, instants)
        assert_same_answers(pair)
    assert pair.cache.hits > 0


# --- each invalidation on its own ----------------------------------------------------------

AUTUMN_WINDOW: Final = WINDOWS[1]
#: A Monday a week before the autumn slots: inside their horizon, before their releases.
MONDAY: Final = datetime(2027, 10, 25, 8, 0, tzinfo=UTC)

Shown = dict[str, tuple[tuple[str, ...], datetime | None]]


def answer(pair: Pair, practitioner: str = "benedikte") -> Shown:
    """The cached adapter's HLT over the autumn window (the same as the plain one's):
    each offered slot's categories and x-available-at, by uid."""
    cached, plain = hlt(pair, practitioner, *AUTUMN_WINDOW)
    assert cached == plain
    return {uid: (categories, at) for uid, _, categories, at in _offered(cached)}


def served_twice(pair: Pair) -> Shown:
    """:func:`answer`, asked twice: the second from the cache."""
    first = answer(pair)
    hits = pair.cache.hits
    assert answer(pair) == first
    assert pair.cache.hits == hits + 1
    return first


def seen(pair: Pair, kind: VisibilityKind) -> tuple[Slot, Visibility]:
    """Benedikte's first autumn slot that has visibility ``kind`` now, with it."""
    ctx = pair.cached.ctx
    slots = [s for s in BOOK if s.practitioner == "benedikte" and s.start > AUTUMN - DAY * 30]
    found = evaluate(slots, ctx.rules, pair.clock(), calendar=ctx.calendar)
    return next((s, found[s.id]) for s in slots if found[s.id].kind is kind)


DAY: Final = timedelta(days=1)


def test_an_unchanged_book_is_answered_from_the_cache(pair: Pair) -> None:
    pair.clock.set(MONDAY)
    misses = pair.cache.misses
    assert served_twice(pair)
    assert pair.cache.misses == misses + 1


def test_a_booking_takes_its_slot_out_of_the_cached_answer(pair: Pair) -> None:
    pair.clock.set(MONDAY)
    slot, _ = seen(pair, VisibilityKind.BOOKABLE)
    assert slot.id in served_twice(pair)
    pair.cached.adapter.book(slot.id, FOLKE)
    assert slot.id not in answer(pair)


def test_a_booking_in_one_book_computes_that_books_part_alone(pair: Pair) -> None:
    """Benedikte's HLT shows her vikar Ingar's slots too: two parts. A booking in her
    book raises her version only, so Ingar's part is served as kept while hers is
    computed again, and the answer is still the computed one (:func:`answer`)."""
    pair.clock.set(MONDAY)
    slot, _ = seen(pair, VisibilityKind.BOOKABLE)
    shown = served_twice(pair)
    assert any(uid not in {s.id for s in BOOK if s.practitioner == "benedikte"} for uid in shown)
    cache = pair.cache
    hits, misses = cache.part_hits, cache.part_misses
    pair.cached.adapter.book(slot.id, FOLKE)
    assert slot.id not in answer(pair)
    assert (cache.part_hits - hits, cache.part_misses - misses) == (1, 1)


def test_a_cancellation_offers_its_slot_again(pair: Pair) -> None:
    pair.clock.set(MONDAY)
    slot, _ = seen(pair, VisibilityKind.BOOKABLE)
    booked = pair.cached.adapter.book(slot.id, FOLKE)
    assert slot.id not in served_twice(pair)
    pair.cached.adapter.cancel(booked.id)
    assert slot.id in answer(pair)


def test_an_import_offers_a_new_slot_and_moves_an_old_one(pair: Pair) -> None:
    pair.clock.set(MONDAY)
    slot, _ = seen(pair, VisibilityKind.BOOKABLE)
    new = EXTRA[2]  # 02:00 CET on the autumn night, the second 02:00
    assert new.id not in served_twice(pair)
    later = replace(slot, start=slot.start + DAY, end=slot.end + DAY)
    pair.cached.adapter.load_slots([new, later], "import")
    cached, plain = hlt(pair, "benedikte", *AUTUMN_WINDOW)
    assert cached == plain
    starts = {uid: start for uid, start, *_ in _offered(cached)}
    assert new.id in starts
    assert starts[slot.id] == later.start


def test_a_withdrawal_takes_its_slot_out(pair: Pair) -> None:
    pair.clock.set(MONDAY)
    slot, _ = seen(pair, VisibilityKind.BOOKABLE)
    assert slot.id in served_twice(pair)
    pair.cached.adapter.withdraw_slot(slot.id)
    assert slot.id not in answer(pair)
    pair.cached.adapter.restore_slot(slot.id)
    assert slot.id in answer(pair)


def test_a_part_computed_again_keeps_what_it_had_and_makes_only_the_new_vevents(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair.clock.set(MONDAY)
    shown = served_twice(pair)

    def key(o: OfferedSlot) -> tuple[Slot, datetime | None, bool]:
        return (o.slot, o.available_at, o.must_call)

    before = {key(o): o for part in pair.cache._parts.values() for o in part.offered}
    first = next(s for s in BOOK if s.practitioner == "benedikte" and s.id in shown)
    moved = replace(first, start=first.start + timedelta(minutes=5), end=first.end)
    pair.cached.adapter.load_slots([moved])  # the same uid, five minutes later
    made: list[OfferedSlot] = []
    real = xcal_out.offered_fragments

    def recording(offered: Sequence[OfferedSlot]) -> list[bytes]:
        made.extend(offered)
        return real(offered)

    monkeypatch.setattr(availability, "offered_fragments", recording)
    answer(pair)  # the same answer as computed afresh
    after = [o for part in pair.cache._parts.values() for o in part.offered]
    assert {key(o) for o in made} == {key(o) for o in after if key(o) not in before}
    assert moved in {o.slot for o in made}
    assert len(made) < len(after)
    assert all(o is before[key(o)] for o in after if key(o) in before)  # kept, not made


def test_a_reload_of_the_rules_is_answered_at_once(pair: Pair) -> None:
    pair.clock.set(MONDAY)
    slot, _ = seen(pair, VisibilityKind.BOOKABLE)
    before = served_twice(pair)
    assert before[slot.id][1] is None  # bookable now
    pair.reload(RULES_HOURS)  # every oppmote slot held back until 26 h before
    after = answer(pair)
    assert after[slot.id][1] == slot.start - timedelta(hours=26)


def test_a_release_instant_passing_makes_a_held_back_slot_bookable(pair: Pair) -> None:
    pair.clock.set(MONDAY)
    slot, held = seen(pair, VisibilityKind.HELD_BACK)
    assert held.available_at is not None
    pair.clock.set(held.available_at - timedelta(microseconds=1))
    assert served_twice(pair)[slot.id][1] == held.available_at
    pair.clock.set(held.available_at)
    assert answer(pair)[slot.id][1] is None


def test_a_lead_time_cut_off_passing_takes_the_slot_out(pair: Pair) -> None:
    pair.clock.set(MONDAY)
    slot, bookable = seen(pair, VisibilityKind.BOOKABLE)
    cut_off = bookable.next_change
    assert cut_off == slot.start - timedelta(hours=2)  # Benedikte's min_lead
    pair.clock.set(cut_off - timedelta(microseconds=1))
    assert slot.id in served_twice(pair)
    pair.clock.set(cut_off)
    assert slot.id not in answer(pair)


def test_a_clock_set_back_is_not_answered_from_a_later_instant(pair: Pair) -> None:
    pair.clock.set(MONDAY)
    assert served_twice(pair)
    pair.clock.set(MONDAY - DAY * 60)  # before the autumn slots' horizon opens
    assert answer(pair) == {}


def test_a_reservation_through_another_instance_is_seen_at_once(pair: Pair) -> None:
    pair.clock.set(MONDAY)
    slot, _ = seen(pair, VisibilityKind.BOOKABLE)
    assert slot.id in served_twice(pair)
    made = reserve(pair.plain, slot.id, FOLKE)  # the other process, its own engine
    assert made.code == "05"
    assert slot.id not in answer(pair)


@pytest.mark.parametrize("between", ["versions and book", "book and caching"])
def test_a_booking_committed_while_an_answer_is_computed_is_never_served_stale(
    pair: Pair, monkeypatch: pytest.MonkeyPatch, between: str
) -> None:
    """The versions are read before the book: a booking another instance commits while
    an answer is computed, just after the versions are read or just after the book is,
    is either in that answer or makes the next request compute again. An answer kept
    with versions newer than the book it shows would serve the booked slot here."""
    pair.clock.set(MONDAY)
    slot, _ = seen(pair, VisibilityKind.BOOKABLE)
    shown = served_twice(pair)
    assert slot.id in shown
    others = (s.id for s in BOOK if s.practitioner == "benedikte" and s.id in shown)
    other = next(i for i in others if i != slot.id)
    pair.plain.adapter.withdraw_slot(other)  # Benedikte's book changed: a miss next
    owner, name = (
        (BookVersionRepository, "of")
        if between == "versions and book"
        else (SlotRepository, "window_with_holds")
    )
    read = getattr(owner, name)
    booked: list[str | None] = []

    def then_book(*args: Any, **kwargs: Any) -> Any:
        found = read(*args, **kwargs)
        if not booked:
            booked.append(reserve(pair.plain, slot.id, FOLKE).code)
        return found

    monkeypatch.setattr(owner, name, then_book)
    cached, _ = hlt(pair, "benedikte", *AUTUMN_WINDOW)  # asked first: the plain one is later
    monkeypatch.undo()
    computed = {uid for uid, *_ in _offered(cached)}
    assert booked == ["05"]
    assert (slot.id in computed) is (between == "book and caching")
    assert slot.id not in answer(pair)  # the booking is seen, whatever was kept


def test_an_answer_from_the_cache_begins_no_transaction_and_reads_the_versions_alone(
    pair: Pair,
) -> None:
    pair.clock.set(MONDAY)
    served_twice(pair)
    statements: list[str] = []

    def seen_statement(_conn: object, _cursor: object, sql: str, *_rest: object) -> None:
        statements.append(" ".join(sql.split()))

    engine = pair.cached.store.engine
    event.listen(engine, "before_cursor_execute", seen_statement)
    try:
        hits = pair.cache.hits
        answer(pair)
    finally:
        event.remove(engine, "before_cursor_execute", seen_statement)
    assert pair.cache.hits == hits + 1
    assert len(statements) == 1, statements  # no BEGIN: nothing else was read
    assert statements[0].startswith("SELECT book_versions.practitioner, book_versions.version")


@pytest.mark.postgres
def test_another_instance_on_postgresql_invalidates_the_cache(
    tmp_path: Path, postgres_db_url: str
) -> None:
    clock = MovableClock(MONDAY)
    database = f'\n[database]\nurl = "{postgres_db_url}"\n'
    first = _runtime(tmp_path / "first", clock, database)
    second = _runtime(tmp_path / "second", clock, database)
    try:
        first.adapter.load_slots(BOOK)
        pair = Pair(first, second, clock)
        slot, _ = seen(pair, VisibilityKind.BOOKABLE)
        ask = rq.RequestParties(
            receiver=first.ctx.party(first.ctx.practitioners["benedikte"]), patient=OLA
        )
        body = rq.hent_ledige_timer(ask, MONDAY, *AUTUMN_WINDOW).body
        assert slot.id.encode() in _ask(first, body, MONDAY)
        assert slot.id.encode() in _ask(first, body, MONDAY)
        cache = first.pipeline.replies.availability
        assert cache is not None
        assert cache.hits == 1
        second.adapter.book(slot.id, FOLKE)
        assert slot.id.encode() not in _ask(first, body, MONDAY)
    finally:
        first.close()
        second.close()


# --- the switch --------------------------------------------------------------------------


def test_the_cache_is_on_by_default_and_off_by_the_switch(pair: Pair, tmp_path: Path) -> None:
    assert pair.cached.settings.performance.hlt_cache is True
    assert pair.plain.settings.performance.hlt_cache is False
    assert pair.plain.pipeline.replies.availability is None
    config = prepare(tmp_path / "default", ROOT / "config")
    assert load_config(config).settings.performance.hlt_cache is True


def test_a_reload_keeps_the_one_cache_of_the_process(pair: Pair) -> None:
    cache = pair.cache
    pair.reload(RULES_DAYS)
    assert pair.cached.pipeline.replies.availability is cache


def test_hits_and_misses_are_counted_in_the_metrics(pair: Pair) -> None:
    pair.clock.set(MONDAY)
    served_twice(pair)
    text = metrics_for(pair.cached).scrape().decode()
    assert f'epj_adapter_hlt_cache_total{{outcome="hit"}} {float(pair.cache.hits)}' in text
    assert f'epj_adapter_hlt_cache_total{{outcome="miss"}} {float(pair.cache.misses)}' in text
    parts = pair.cache.part_hits, pair.cache.part_misses
    assert f'epj_adapter_hlt_cache_parts_total{{outcome="hit"}} {float(parts[0])}' in text
    assert f'epj_adapter_hlt_cache_parts_total{{outcome="miss"}} {float(parts[1])}' in text
    assert parts[1] > 0
    assert "epj_adapter_hlt_cache_total" not in metrics_for(pair.plain).scrape().decode()


def test_the_cache_keeps_at_most_its_answers_and_their_parts(pair: Pair) -> None:
    """Least recently used out: a cache of one answer asked for three windows keeps one
    answer and at most ``PARTS_PER_ENTRY`` parts, each answer is the computed one, and
    a later answer for Benedikte alone over the last window is her kept part."""
    pair.clock.set(MONDAY)
    runtime, now = pair.cached, pair.clock()
    ctx = runtime.ctx
    cache = AvailabilityCache(max_entries=1)
    first = datetime.combine(AUTUMN_WINDOW[0], datetime.min.time(), OSLO)
    windows = [(first + DAY * k, first + DAY * (k + 3)) for k in range(3)]
    both = ("benedikte", "ingar")
    with runtime.store.uow(read_only=True) as uow:
        for start, end in windows:
            kept = cache.answer(uow, ctx, both, start, end, now)
            computed = offered_slots(ctx, views.offered(uow, ctx, both, start, end, now))
            assert list(kept.offered) == computed
        hits = cache.part_hits
        alone = cache.answer(uow, ctx, ("benedikte",), *windows[-1], now)
    assert len(cache) == 1
    assert len(cache._parts) <= PARTS_PER_ENTRY
    assert cache.part_hits == hits + 1
    assert alone.offered == tuple(o for o in kept.offered if o.slot.practitioner == "benedikte")
    assert alone.offered
