"""An answer's iCalendar put together from vevents serialised one by one (the HLT
cache's parts, issue 15) is the one built as a whole, byte for byte.

SvarLedigeTimer carries one vevent per offered slot (HITS 1217, the iCalendar of
SvarLedigeTimer: dtstart, dtend, uid, contact, status TENTATIVE, summary, categories,
attendee, x-available-at for a held-back slot, MustCall as a category, and
x-expected-duration for a time window). :func:`offered_fragments` serialises each
vevent alone and :func:`calendar_of` joins them; whatever the slots (every shape the
guide allows, times across both DST nights of 2027, names and places with the
characters XML escapes), the bytes must be those of :func:`offered_calendar`.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from adapter.domain.codes import Timetype
from adapter.domain.model import Slot, minutes
from adapter.messages import ns
from adapter.messages.xcal_out import (
    OfferedSlot,
    calendar_of,
    offered_calendar,
    offered_fragments,
)
from adapter.tools.samples import example_clinic

SAMPLE = example_clinic()

#: Instants around both DST nights of 2027 in Europe/Oslo, and an ordinary winter day.
BASES = (
    datetime(2027, 3, 28, 0, 0, tzinfo=UTC),
    datetime(2027, 10, 31, 0, 0, tzinfo=UTC),
    datetime(2027, 1, 12, 7, 0, tzinfo=UTC),
)

#: Text as an appointment type or practitioner may carry it, with what XML escapes.
TEXT = st.text(
    alphabet=st.sampled_from("abcæøåÆØÅéü &<>\"'\r\n\t-/"),
    min_size=1,
    max_size=20,
).filter(lambda t: t.strip() != "")


@st.composite
def offered_slots(draw: st.DrawFn) -> OfferedSlot:
    start = draw(st.sampled_from(BASES)) + timedelta(minutes=draw(st.integers(0, 48 * 4)) * 15)
    length = minutes(draw(st.sampled_from([15, 20, 30, 60])))
    kind = draw(st.sampled_from(["ordinary", "video", "window"]))
    base = {"ordinary": SAMPLE.ordinary, "video": SAMPLE.video, "window": SAMPLE.ordinary}[kind]
    appointment_type = replace(
        base,
        name=draw(TEXT),
        location=draw(st.one_of(st.just(""), TEXT)),
        description=draw(st.one_of(st.just(""), TEXT)),
        category=Timetype.TIDSVINDU if kind == "window" else base.category,
    )
    practitioner = replace(
        draw(st.sampled_from([SAMPLE.fastlege, SAMPLE.vikar])),
        given_name=draw(TEXT),
    )
    slot = Slot(
        draw(st.uuids()).hex,
        "ddfl",
        practitioner.key,
        appointment_type.key,
        start,
        start + length,
    )
    shape = draw(st.sampled_from(["bookable", "held_back", "must_call"]))
    return OfferedSlot(
        slot,
        practitioner,
        appointment_type,
        available_at=start - timedelta(days=2) if shape == "held_back" else None,
        must_call=shape == "must_call",
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(offered_slots(), min_size=1, max_size=12))
def test_a_calendar_of_fragments_is_the_calendar_built_whole(offered: list[OfferedSlot]) -> None:
    assert calendar_of(offered_fragments(offered)) == offered_calendar(offered)


@settings(max_examples=50, deadline=None)
@given(st.lists(offered_slots(), min_size=2, max_size=8), st.randoms(use_true_random=False))
def test_fragments_serialised_apart_join_in_any_order(
    offered: list[OfferedSlot], rng: random.Random
) -> None:
    """A vevent's bytes depend on its slot alone: serialised in other company and order,
    they still join into the calendar of the order asked."""
    alone = {id(o): offered_fragments([o])[0] for o in offered}
    shuffled = list(offered)
    rng.shuffle(shuffled)
    assert calendar_of([alone[id(o)] for o in shuffled]) == offered_calendar(shuffled)


def test_no_fragments_make_the_empty_calendar() -> None:
    assert calendar_of([]) == offered_calendar([])


def test_a_fragment_is_one_vevent_without_a_namespace_declaration_of_its_own() -> None:
    slot = Slot("s1", "ddfl", "benedikte", "ordinary", BASES[2], BASES[2] + minutes(20))
    [fragment] = offered_fragments([OfferedSlot(slot, SAMPLE.fastlege, SAMPLE.ordinary)])
    assert fragment.startswith(b"<vevent><properties>")
    assert b"xmlns" not in fragment
    whole = etree.fromstring(calendar_of([fragment]))
    assert (
        whole.find(f"{{{ns.XCAL}}}vcalendar/{{{ns.XCAL}}}components/{{{ns.XCAL}}}vevent")
        is not None
    )
