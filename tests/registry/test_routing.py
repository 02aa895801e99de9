"""Routing replies and refusing processes a party has not enabled."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from adapter.messages.codes import MsgType
from adapter.registry import (
    PROCESS_FOR,
    UNSUPPORTED_MESSAGE,
    FileRegistry,
    NoRoute,
    UnknownParty,
    UnsupportedMessage,
    async_queue_for,
    check_process,
    error_queue_for,
    process_for,
    sync_queue_for,
    syncreply_queue_for,
)
from tests.registry.conftest import ROUTING


@pytest.fixture
def registry(write_routing: Callable[[str], Path]) -> FileRegistry:
    return FileRegistry.load(write_routing(ROUTING))


def test_queue_helpers_name_each_queue(registry: FileRegistry) -> None:
    assert async_queue_for(registry, "8093248") == "8093248_async"
    assert sync_queue_for(registry, "8093248") == "8093248_sync"
    assert error_queue_for(registry, "8093248") == "8093248_error"
    assert syncreply_queue_for(registry, "8093248") == "8093248_syncreply"
    assert registry.error_queue_for("91095") == "91000_error"


def test_party_without_queues_has_no_route(registry: FileRegistry) -> None:
    with pytest.raises(NoRoute) as info:
        registry.async_queue_for("115851")
    assert info.value.kind == "async"
    assert "115851" in str(info.value)


def test_inactive_party_gets_nothing_but_error_reports(registry: FileRegistry) -> None:
    with pytest.raises(NoRoute, match="not active"):
        registry.async_queue_for("91096")
    assert registry.error_queue_for("91096") == "91000_error"


def test_unknown_party_has_no_queue(registry: FileRegistry) -> None:
    with pytest.raises(UnknownParty):
        registry.async_queue_for("1")


def test_every_message_type_but_apprec_maps_to_a_process() -> None:
    assert process_for(MsgType.TIMERESERVASJON) == "Dialog_Innbygger_Timereservasjon"
    assert process_for("DIALOG_INNBYGGER_BEHANDLEROVERSIKT") == (
        "Dialog_Innbygger_BehandlerOversikt"
    )
    assert process_for(MsgType.APPREC) is None
    assert process_for("NOT_A_TYPE") is None
    assert set(PROCESS_FOR) == set(MsgType) - {MsgType.APPREC}


def test_enabled_process_passes_both_ways(registry: FileRegistry) -> None:
    check_process(
        registry, "DIALOG_INNBYGGER_TIMERESERVASJON", our_her_id="91095", their_her_id="8093248"
    )
    check_process(registry, "DIALOG_INNBYGGER_TEST", our_her_id="91095", their_her_id="8093248")
    check_process(registry, "APPREC", our_her_id="91000", their_her_id="8093248")


def test_process_not_enabled_by_us_is_unsupported_message(registry: FileRegistry) -> None:
    with pytest.raises(UnsupportedMessage) as info:
        check_process(registry, "DIALOG_INNBYGGER_TEST", our_her_id="91000", their_her_id="8093248")
    assert info.value.condition == UNSUPPORTED_MESSAGE == "transport:unsupported-message"
    assert "91000" in info.value.description


def test_process_not_enabled_by_them_is_unsupported_message(
    write_routing: Callable[[str], Path],
) -> None:
    text = ROUTING.replace('Dialog_Innbygger_Test = { version = "1.1", role = "Innbygger" }', "")
    registry = FileRegistry.load(write_routing(text))
    with pytest.raises(UnsupportedMessage, match="8093248 has not enabled"):
        check_process(registry, "DIALOG_INNBYGGER_TEST", our_her_id="91095", their_her_id="8093248")


def test_wrong_role_or_inactive_or_unknown_type_is_unsupported(registry: FileRegistry) -> None:
    # Helsenorge has Timereservasjon as Innbygger, not as Helsepersonell
    with pytest.raises(UnsupportedMessage):
        check_process(
            registry,
            "DIALOG_INNBYGGER_TIMERESERVASJON",
            our_her_id="8093248",
            their_her_id="8093248",
        )
    with pytest.raises(UnsupportedMessage, match="not active"):
        check_process(
            registry, "DIALOG_INNBYGGER_TIMERESERVASJON", our_her_id="91096", their_her_id="8093248"
        )
    with pytest.raises(UnsupportedMessage, match="not served"):
        check_process(
            registry, "DIALOG_INNBYGGER_EKONTAKT", our_her_id="91095", their_her_id="8093248"
        )


def test_supports_checks_role_and_minimum_version(registry: FileRegistry) -> None:
    assert registry.supports("91095", "Dialog_Innbygger_Timereservasjon", "helsepersonell")
    assert registry.supports("91095", "Dialog_Innbygger_Timereservasjon", "Helsepersonell", "1.2")
    assert not registry.supports(
        "91095", "Dialog_Innbygger_Timereservasjon", "Helsepersonell", "1.3"
    )
    assert not registry.supports("91095", "Dialog_Innbygger_Timereservasjon", "Innbygger")
    assert not registry.supports("424242", "Dialog_Innbygger_Test", "Innbygger")
