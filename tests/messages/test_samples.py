"""``write_samples``: one sample of every outbound message, all valid."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from adapter.messages import ns
from adapter.messages.inbound import parse_message
from adapter.messages.validation import validate
from adapter.tools.samples import (
    CONFIG_DIR,
    example_clinic,
    load_example_clinic,
    write_samples,
)
from tests.conftest import Conformance

N = ns.NSMAP

EXPECTED = {
    "BEHANDLEROVERSIKT_SvarBehandlere_20",
    "BEHANDLEROVERSIKT_SvarBehandlere_21",
    "BEHANDLEROVERSIKT_Refusal_31",
    "TIMERESERVASJON_SvarLedigeTimer_03",
    "TIMERESERVASJON_SvarLedigeTimer_04",
    "TIMERESERVASJON_SvarPlanlagteTimer_01",
    "TIMERESERVASJON_SvarPlanlagteTimer_02",
    "TIMERESERVASJON_SvarPlanlagteTimer_33",
    *(
        f"TIMERESERVASJON_SvarTimeReservasjon_{c}"
        for c in ("05", "06", "10", "26", "30", "08", "09")
    ),
    "AVTALEAVBESTILLING_SvarAvbestilling_08",
    "AVTALEAVBESTILLING_SvarAvbestilling_09",
    *(f"TIMEONSKE_SvarOnske_{c}" for c in ("05", "06", "07", "08", "09", "10", "34")),
    *(f"AVTALEUTSENDING_Avtale_{c}" for c in ("05", "07", "08", "11", "MOA")),
    "TEST_Kommunikasjonstest_KT",
    "TEST_Kommunikasjonstest_RKT",
    "TIMERESERVASJON_Refusal_26",
    "TIMERESERVASJON_Refusal_30",
    "TIMEONSKE_Refusal_31",
    "TIMEONSKE_Refusal_33",
    "APPREC_AppRec_1",
    "APPREC_AppRec_2",
}


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The samples as ``epj-adapter messages samples`` writes them (clinic from config/)."""
    return write_samples(tmp_path_factory.mktemp("samples"))


def _code(root: etree._Element) -> str:
    if etree.QName(root).namespace == ns.APPREC_11:
        return str(root.find("ar11:Status", N).get("V"))
    node = root.find(".//dm:Notat/dm:TemaKodet", N)
    if node is None:
        node = root.find(".//dm:Foresporsel/dm:TypeForesp", N)
    return str(node.get("V"))


def test_one_sample_of_every_outbound_message(samples: list[Path]) -> None:
    assert {p.stem for p in samples} == EXPECTED
    assert all(p.stat().st_size > 0 for p in samples)


def test_samples_pass_the_official_validator_with_profile(
    samples: list[Path], conformance: Conformance
) -> None:
    conformance.assert_valid(samples[0].parent)


def test_samples_pass_our_profile_schemas_and_read_back(samples: list[Path]) -> None:
    for path in samples:
        body = path.read_bytes()
        validate(etree.fromstring(body))
        inbound = parse_message(body)
        assert inbound.envelope.msg_id


def test_each_sample_carries_the_code_its_name_says(samples: list[Path]) -> None:
    for path in samples:
        assert _code(etree.parse(str(path)).getroot()) == path.stem.rsplit("_", 1)[1], path.name


def test_samples_from_the_in_code_clinic_are_valid_too(
    tmp_path: Path, conformance: Conformance
) -> None:
    written = write_samples(tmp_path, example_clinic())
    assert {p.stem for p in written} == EXPECTED
    conformance.assert_valid(tmp_path)


def test_example_clinic_comes_from_config_when_it_loads(tmp_path: Path) -> None:
    assert load_example_clinic(tmp_path).clinic == example_clinic().clinic
    if not (CONFIG_DIR / "clinic.toml").is_file():
        pytest.skip("no config/ in this checkout")
    sample = load_example_clinic(CONFIG_DIR)
    assert sample.fastlege.given_name == "Benedikte"
    assert sample.vikar.stands_in_for == sample.fastlege.key
    assert sample.jordmor.given_name == "Arna"
