"""Routing decisions: which queue a message goes to, and whether a process is enabled.

- async requests, async replies and AppRecs go to the other party's async queue;
- sync replies go to the request's reply-to (with its correlation-id), never to a
  queue looked up anew;
- transport faults go to the sender's error queue;
- a message for a process either side has not enabled is refused with
  ``transport:unsupported-message`` (HITS 1216 §2.2.3: "Kommunikasjonsprosessen er
  støttet, hentes fra CPA").

Our message types (8279, ``MsgInfo/Type`` and the AMQP subject) map to the
Adresseregister process names of HITS 1217 by :data:`PROCESS_FOR`. In every
process the clinic side has the role "Helsepersonell" and Helsenorge "Innbygger".
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from adapter.messages.codes import MsgType
from adapter.registry.party import ROLE_CITIZEN, ROLE_PROFESSIONAL
from adapter.registry.registry import PartyLookup, queue_for

__all__ = [
    "PROCESS_FOR",
    "UNSUPPORTED_MESSAGE",
    "UnsupportedMessage",
    "async_queue_for",
    "check_process",
    "error_queue_for",
    "process_for",
    "sync_queue_for",
    "syncreply_queue_for",
]

#: errorCondition for a message whose process is not enabled (HITS 1216 §2.2.3).
UNSUPPORTED_MESSAGE: Final = "transport:unsupported-message"

#: Adresseregister process name (HITS 1217) of each message type. AppRec has none.
PROCESS_FOR: Final[Mapping[MsgType, str]] = MappingProxyType(
    {
        MsgType.BEHANDLEROVERSIKT: "Dialog_Innbygger_BehandlerOversikt",
        MsgType.TIMERESERVASJON: "Dialog_Innbygger_Timereservasjon",
        MsgType.TIMEONSKE: "Dialog_Innbygger_Timeonske",
        MsgType.AVTALEUTSENDING: "Dialog_Innbygger_Avtaleutsending",
        MsgType.AVTALEAVBESTILLING: "Dialog_Innbygger_Avtaleavbestilling",
        MsgType.TEST: "Dialog_Innbygger_Test",
    }
)


class UnsupportedMessage(Exception):
    """The process is not enabled for one of the parties: report ``condition`` to the sender."""

    condition = UNSUPPORTED_MESSAGE

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def process_for(msg_type: MsgType | str) -> str | None:
    """The AR process name for a message type (its 8279 value), None for AppRec or unknown."""
    try:
        return PROCESS_FOR.get(MsgType(msg_type))
    except ValueError:
        return None


def check_process(
    registry: PartyLookup, subject: str, *, our_her_id: str, their_her_id: str
) -> None:
    """Refuse a message (either direction) whose process either side has not enabled.

    ``subject`` is the 8279 message type. Our side must have the process in the
    role Helsepersonell, theirs in the role Innbygger. AppRecs always pass.
    Raises :class:`UnsupportedMessage`, or ``UnknownParty`` for an unknown HER-id.
    """
    if subject == MsgType.APPREC:
        return
    process = process_for(subject)
    if process is None:
        raise UnsupportedMessage(f"message type {subject!r} is not served by this adapter")
    for her_id, role in ((our_her_id, ROLE_PROFESSIONAL), (their_her_id, ROLE_CITIZEN)):
        party = registry.lookup(her_id)
        if not party.active:
            raise UnsupportedMessage(f"{her_id} is not active in the Adresseregister")
        if not party.supports(process, role):
            raise UnsupportedMessage(f"{her_id} has not enabled {process} as {role}")


def async_queue_for(registry: PartyLookup, her_id: str) -> str:
    """The party's async queue: async requests and replies, AppRecs."""
    return queue_for(registry, her_id, "async")


def sync_queue_for(registry: PartyLookup, her_id: str) -> str:
    """The party's sync queue: sync requests to it."""
    return queue_for(registry, her_id, "sync")


def error_queue_for(registry: PartyLookup, her_id: str) -> str:
    """The party's error queue: transport faults in what it sent us."""
    return queue_for(registry, her_id, "error")


def syncreply_queue_for(registry: PartyLookup, her_id: str) -> str:
    """The party's sync-reply queue: where answers to its own sync requests arrive."""
    return queue_for(registry, her_id, "syncreply")
