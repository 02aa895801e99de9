"""Loading the routing file: parties, two levels, inheritance, clear errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from adapter.registry import (
    FileRegistry,
    PartyKind,
    ProcessSupport,
    RoutingFileError,
    UnknownParty,
)
from tests.registry.conftest import ROUTING

ROOT = Path(__file__).resolve().parents[2]


def test_parties_load_with_their_fields(write_routing: Callable[[str], Path]) -> None:
    path = write_routing(ROUTING)
    registry = FileRegistry.load(path)
    hn = registry.lookup("8093248")
    assert hn.name == "Digitale innbyggertjenester"
    assert hn.kind is PartyKind.SERVICE
    assert hn.parent_her_id == "115851"
    assert hn.level == 2
    assert hn.active
    assert hn.queues.async_queue == "8093248_async"
    assert hn.signing_cert_path == path.parent / "helsenorge-signing.pem"
    assert hn.process("dialog_innbygger_timereservasjon") == ProcessSupport("1.2", "Innbygger")
    assert len(registry) == 5
    assert "91095" in registry


def test_level_two_party_inherits_queues_and_certificates(
    write_routing: Callable[[str], Path],
) -> None:
    registry = FileRegistry.load(write_routing(ROUTING))
    gp = registry.lookup("91095")
    clinic = registry.lookup("91000")
    assert gp.queues == clinic.queues
    assert gp.signing_cert_path == clinic.signing_cert_path
    assert gp.encryption_cert_path == clinic.encryption_cert_path
    assert registry.async_queue_for("91095") == "91000_async"
    # processes are the person's own, not inherited
    assert gp.process("Dialog_Innbygger_Test") is not None
    assert clinic.process("Dialog_Innbygger_Test") is None


def test_own_queue_overrides_the_parents(write_routing: Callable[[str], Path]) -> None:
    text = ROUTING.replace(
        'name = "Fastlegen"', 'name = "Fastlegen"\nqueues = { async = "91095_async" }'
    )
    registry = FileRegistry.load(write_routing(text))
    gp = registry.lookup("91095")
    assert gp.queues.async_queue == "91095_async"
    assert gp.queues.error_queue == "91000_error"


def test_unknown_her_id_raises_unknown_party(write_routing: Callable[[str], Path]) -> None:
    registry = FileRegistry.load(write_routing(ROUTING))
    with pytest.raises(UnknownParty) as info:
        registry.lookup("424242")
    assert info.value.her_id == "424242"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[parties.12a]\nname = 'x'\n", "[parties.12a] a HER-id is 1 to 9 digits"),
        ("[parties.1]\nname = 'x'\nkind = 'robot'\n", "must be organisation, service or person"),
        ("[parties.1]\nname = 'x'\nparent = '2'\n", "parent 2 is not in the routing file"),
        ("[parties.1]\nname = 'x'\nparent = '1'\n", "cannot be its own parent"),
        ("[parties.1]\nname = 'x'\nqueues = { inbox = 'a' }\n", "unknown queue"),
        ("[parties.1]\nname = 'x'\ncolour = 'red'\n", "[parties.1.colour] unknown key"),
        ("[parties.1]\nname = 'x'\nsigning_key = 'k.pem'\n", "private keys never go in"),
        (
            "[parties.1]\nname = 'x'\n[parties.1.processes]\nP = { version = 1.2, role = 'R' }\n",
            'write the version in quotes: version = "1.2"',
        ),
        (
            "[parties.1]\nname = 'x'\n[parties.1.processes]\nP = { version = '1.2' }\n",
            "[parties.1.processes.P.role] missing",
        ),
        ("[parties.1]\nkind = 'service'\n", "[parties.1.name] missing"),
        ("title = 'x'\n", "[title] unknown top-level key"),
        ("", "[parties] no parties"),
        ("[parties.1\n", "not valid TOML"),
    ],
)
def test_mistakes_are_reported_with_where_and_what(
    write_routing: Callable[[str], Path], text: str, expected: str
) -> None:
    with pytest.raises(RoutingFileError) as info:
        FileRegistry.load(write_routing(text))
    assert any(expected in p for p in info.value.problems), info.value.problems


def test_three_levels_are_refused(write_routing: Callable[[str], Path]) -> None:
    text = (
        "[parties.1]\nname='a'\n"
        "[parties.2]\nname='b'\nparent='1'\n"
        "[parties.3]\nname='c'\nparent='2'\n"
    )
    with pytest.raises(RoutingFileError, match="two levels"):
        FileRegistry.load(write_routing(text))


def test_every_mistake_is_listed_at_once(write_routing: Callable[[str], Path]) -> None:
    text = "[parties.1]\nkind='x'\nactive='yes'\n"
    with pytest.raises(RoutingFileError) as info:
        FileRegistry.load(write_routing(text))
    assert len(info.value.problems) == 3


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RoutingFileError, match="cannot read the routing file"):
        FileRegistry.load(tmp_path / "nope.toml")


def test_example_routing_file_loads_with_helsenorge_and_the_clinic() -> None:
    registry = FileRegistry.load(ROOT / "config" / "routing.toml")
    assert registry.lookup("8093248").parent_her_id == "115851"
    assert registry.async_queue_for("8093248") == "8093248_async"
    assert registry.supports("8093248", "Dialog_Innbygger_Timereservasjon", "Innbygger", "1.2")
    for gp in ("8142520", "8142521", "8142522"):
        assert registry.async_queue_for(gp) == "8142519_async"
        assert registry.supports(gp, "Dialog_Innbygger_Timereservasjon", "Helsepersonell")
