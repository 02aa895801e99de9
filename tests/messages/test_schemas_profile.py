"""The project's own profile schemas: our own text, compile everywhere, accept the examples."""

from __future__ import annotations

from pathlib import Path

import pytest
import xmlschema

from adapter.messages.safe import parse_xml
from adapter.messages.validation import (
    PROFILE_XSD,
    SCHEMA_DIR,
    is_valid,
    problems,
    profile_schema,
    validate_official,
)

from .test_hostile_inputs import request

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "standards" / "examples"
ALL_EXAMPLES = sorted(p.name for p in EXAMPLES.glob("*.xml")) if EXAMPLES.is_dir() else []
REQUESTS = [n for n in ALL_EXAMPLES if "request" in n]

#: Official examples sent by clinics that break a rule of the guide our profile keeps.
KNOWN_DEVIATIONS = {
    # Sender has only one organisation level (guide 2.3: HER-id on both levels).
    "AVTALEUTSENDING_Avtale_08-avbestilling-bekreftet.xml": "Organisation",
    "TIMERESERVASJON_Avtale_08-avbestilling-bekreftet.xml": "Organisation",
    # vevent status COMPLETED (guide 2.8.8: TENTATIVE, CONFIRMED or CANCELLED).
    "AVTALEUTSENDING_Avtale_MOA-melding-om-avtale.xml": "COMPLETED",
    "TIMERESERVASJON_Avtale_MOA-melding-om-avtale.xml": "COMPLETED",
}


def test_profile_compiles_with_lxml_and_xmlschema() -> None:
    assert profile_schema() is not None
    schema = xmlschema.XMLSchema(str(PROFILE_XSD))
    assert "{http://www.kith.no/xmlstds/msghead/2006-05-24}MsgHead" in schema.maps.elements


def test_profile_schemas_are_our_own_text(official_xsd_dir: Path) -> None:
    official = {p.read_bytes() for p in official_xsd_dir.glob("*.xsd")}
    ours = sorted(SCHEMA_DIR.glob("*.xsd"))
    assert len(ours) >= 9
    for path in ours:
        text = path.read_text(encoding="utf-8")
        assert path.read_bytes() not in official, path.name
        assert "epj-adapter profile" in text, path.name
        assert "KITH" not in text.split("-->", 1)[1], path.name  # no copied annotations


def test_there_are_eleven_official_requests(examples_dir: Path) -> None:
    assert len(REQUESTS) == 11


@pytest.mark.parametrize("name", REQUESTS)
def test_every_official_request_validates_against_the_profile(
    examples_dir: Path, name: str
) -> None:
    root = parse_xml((examples_dir / name).read_bytes())
    assert problems(root) == []


@pytest.mark.parametrize("name", [n for n in ALL_EXAMPLES if "request" not in n])
def test_official_replies_validate_except_documented_deviations(
    examples_dir: Path, name: str
) -> None:
    root = parse_xml((examples_dir / name).read_bytes())
    found = problems(root)
    if name in KNOWN_DEVIATIONS:
        assert found
        assert KNOWN_DEVIATIONS[name] in found[0]
    else:
        assert found == []


@pytest.mark.parametrize("name", ALL_EXAMPLES)
def test_every_official_example_passes_the_official_schemas(
    examples_dir: Path, official_xsd_dir: Path, name: str
) -> None:
    assert validate_official(examples_dir / name, official_xsd_dir) == []


def test_profile_is_stricter_than_the_official_schemas(official_xsd_dir: Path) -> None:
    root = parse_xml(request(subject="x" * 51))
    assert validate_official(root, official_xsd_dir) == []
    assert not is_valid(root)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ((b"8325fcb5-89a9-11e3-baa8-0800200c9a66", b"not-a-uuid"), "MsgId"),
        ((b'<Ack V="J"/>', b""), "Ack"),
        ((b'<Ack V="J"/>', b'<Ack V="X"/>'), "Ack @V"),
        ((b"<dtend><date-time>2026-12-03T09:20:00</date-time></dtend>", b""), "dtend"),
        ((b"<text>2.0</text>", b"<text>1.0</text>"), "version"),
    ],
)
def test_profile_rules(change: tuple[bytes, bytes], expected: str) -> None:
    root = parse_xml(request().replace(*change))
    found = problems(root)
    assert found
    assert expected in found[0]
