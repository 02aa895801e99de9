"""The floor: the least work any adapter must do for the same messages, timed in this run.

* XML floor: bare lxml parse of the request bytes and validation with the project's
  profile schema (``adapter/schemas/profile.xsd``), plus, for each reply the adapter
  produced, building the same tree with bare ``etree.SubElement`` calls from a plan
  prepared outside the timing (tags, attributes and texts already computed), serializing
  it and validating it with the profile schema.
* CMS floor: decrypt + verify the request (as Helsenorge signed and encrypted it), and
  sign + encrypt each reply, with :class:`adapter.transport.cms.CmsProtection` and a
  throwaway 2048-bit RSA PKI (:func:`adapter.testing.make_test_pki`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree

from adapter.messages.validation import profile_schema

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)

Plan = list[tuple[int, str, dict[str, str], str | None, dict[str | None, str] | None]]


def plan_of(body: bytes) -> Plan:
    """The reply as build instructions: (parent index, tag, attributes, text, nsmap)."""
    root = etree.fromstring(body, _PARSER)
    plan: Plan = []
    index: dict[Any, int] = {}
    for elem in root.iter():
        if not isinstance(elem.tag, str):
            continue
        parent = elem.getparent()
        pi = -1 if parent is None else index[parent]
        own = dict(elem.nsmap)
        inherited = dict(parent.nsmap) if parent is not None else {}
        nsmap = own if own != inherited else None
        index[elem] = len(plan)
        plan.append((pi, elem.tag, dict(elem.attrib), elem.text, nsmap))
    return plan


def build(plan: Plan) -> bytes:
    """Build, serialize and validate the tree of ``plan``; the serialized bytes."""
    _, tag, attrib, text, nsmap = plan[0]
    root = etree.Element(tag, attrib, nsmap=nsmap)
    root.text = text
    elems = [root]
    sub = etree.SubElement
    for pi, tag, attrib, text, nsmap in plan[1:]:
        child = sub(elems[pi], tag, attrib, nsmap=nsmap) if nsmap else sub(elems[pi], tag, attrib)
        if text is not None:
            child.text = text
        elems.append(child)
    body: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    if not profile_schema().validate(root):
        raise AssertionError("floor reply does not validate")
    return body


def parse_validate(body: bytes) -> None:
    """Bare parse + profile validation of a request."""
    root = etree.fromstring(body, _PARSER)
    if not profile_schema().validate(root):
        raise AssertionError("floor request does not validate")


def per_call_ms(fn: Callable[[], object], *, seconds: float = 0.5, min_calls: int = 20) -> float:
    """Median wall time of ``fn`` in milliseconds, each call timed (after a warm-up).

    The median, not the mean: the floor is compared with medians, and it must not
    move with other load on a shared machine.
    """
    fn()
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < min_calls or time.perf_counter() - started < seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2] * 1000


@dataclass(frozen=True)
class Floor:
    """Floor times of one exchange (one request, its replies), in ms."""

    xml_ms: float
    cms_ms: float | None

    @property
    def total_ms(self) -> float:
        """XML plus CMS (when measured)."""
        return self.xml_ms + (self.cms_ms or 0.0)


class CmsPair:
    """Helsenorge's and the clinic's CMS protection over one throwaway PKI."""

    def __init__(self) -> None:
        from adapter.testing import make_test_pki
        from adapter.transport.cms import CmsProtection

        pki = make_test_pki()
        hn, clinic = pki.party("helsenorge"), pki.party("clinic")
        self.helsenorge_party, self.clinic_party = hn, clinic
        self.helsenorge = CmsProtection(
            hn.signing.key, hn.signing.cert, [(hn.encryption.key, hn.encryption.cert)]
        )
        self.clinic = CmsProtection(
            clinic.signing.key,
            clinic.signing.cert,
            [(clinic.encryption.key, clinic.encryption.cert)],
        )

    def to_clinic(self, body: bytes) -> bytes:
        """What Helsenorge sends: signed by Helsenorge, encrypted to the clinic."""
        return self.helsenorge.protect(body, self.clinic_party.encryption.cert)

    def clinic_unprotect(self, data: bytes) -> bytes:
        """The clinic decrypts and verifies a request from Helsenorge."""
        return self.clinic.unprotect(data, self.helsenorge_party.signing.cert)

    def clinic_protect(self, body: bytes) -> bytes:
        """The clinic signs and encrypts a reply to Helsenorge."""
        return self.clinic.protect(body, self.helsenorge_party.encryption.cert)


def measure(
    request: bytes, replies: Sequence[bytes], *, cms: CmsPair | None, seconds: float
) -> Floor:
    """The floor of one exchange: ``request`` in, ``replies`` out."""
    plans = [plan_of(r) for r in replies]

    def xml() -> None:
        parse_validate(request)
        for plan in plans:
            build(plan)

    xml_ms = per_call_ms(xml, seconds=seconds)
    cms_ms = None
    if cms is not None:
        wrapped = cms.to_clinic(request)

        def crypto() -> None:
            cms.clinic_unprotect(wrapped)
            for reply in replies:
                cms.clinic_protect(reply)

        cms_ms = per_call_ms(crypto, seconds=seconds)
    return Floor(xml_ms, cms_ms)
