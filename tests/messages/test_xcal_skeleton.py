"""The vevent writer copies a prepared skeleton: the bytes equal building it element by element."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta

from lxml import etree

from adapter.messages import ns
from adapter.messages.xcal_out import EventStatus, VEvent, _vevent, _vevent_tree


def _events(count: int) -> list[VEvent]:
    rng = random.Random(3)
    events = []
    for i in range(count):
        start = datetime(2027, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(500_000))
        event = VEvent(
            start=start,
            end=start + timedelta(minutes=rng.choice([15, 20, 30])),
            uid=rng.choice(["u\x01x", "", f"slot-{i}", "<&>"]),
            contact=rng.choice(["8142520", "", "1\x02"]),
            related_to=rng.choice([None, "", f"rel-{i}", "a&b"]),
            status=rng.choice([None, EventStatus.TENTATIVE, EventStatus.CANCELLED]),
            summary=rng.choice(["", "Legetime", "x\x03y"]),
            description=rng.choice(["", "Fysisk oppmøte"]),
            location=rng.choice(["", "Telefontime"]),
            categories=rng.choice([(), ("Video",), ("Hastetime", "MustCall")]),
            attendee_name=rng.choice(["", "Benedikte Geiran"]),
            attendee_address=rng.choice(["", "urn:x-her-id:8142520"]),
            expected_duration=rng.choice([None, timedelta(minutes=30)]),
        )
        if "MustCall" not in event.categories and rng.random() < 0.5:
            event = dataclasses.replace(event, available_at=start - timedelta(days=1))
        events.append(event)
    return events


def _components() -> etree._Element:
    root = etree.Element(ns.q(ns.XCAL, "icalendar"), nsmap={None: ns.XCAL, "xsi": ns.XSI})
    return etree.SubElement(root, ns.q(ns.XCAL, "components"))


def test_copied_vevents_serialize_exactly_like_built_ones() -> None:
    copied, built = _components(), _components()
    for event in _events(500):
        _vevent(copied, event)
        _vevent_tree(built, event)
    assert etree.tostring(copied.getroottree()) == etree.tostring(built.getroottree())


def test_a_skeleton_copy_does_not_change_the_skeleton() -> None:
    first, second = _events(2)
    again = dataclasses.replace(first, uid="other", start=second.start, end=second.end)
    one, two = _components(), _components()
    _vevent(one, first)
    _vevent(one, again)
    _vevent_tree(two, first)
    _vevent_tree(two, again)
    assert etree.tostring(one) == etree.tostring(two)
