"""A communication party as the Adresseregister (AR) and its CPP/CPA describe it.

HER-ids have two levels: an organisation (level 1, e.g. the clinic or Helsenorge's
115851) and the services and persons under it (level 2, e.g. Helsenorge's booking
service 8093248 or a GP). A level-2 party may have no queues or certificates of
its own and use its parent's: that is resolved when the routing is loaded, so a
:class:`CommunicationParty` always carries what applies to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Final

from cryptography import x509

__all__ = [
    "ROLE_CITIZEN",
    "ROLE_PROFESSIONAL",
    "CommunicationParty",
    "PartyKind",
    "ProcessSupport",
    "Queues",
    "version_at_least",
]

#: CPP role of the clinic side in the Digital Dialog processes (HITS 1217).
ROLE_PROFESSIONAL: Final = "Helsepersonell"
#: CPP role of Helsenorge (the citizen side).
ROLE_CITIZEN: Final = "Innbygger"


class PartyKind(StrEnum):
    """What kind of communication party a HER-id is."""

    ORGANISATION = "organisation"
    SERVICE = "service"
    PERSON = "person"


@dataclass(frozen=True, slots=True)
class Queues:
    """The AMQP queue names of a party, as registered in the AR (None: not registered)."""

    async_queue: str | None = None
    sync_queue: str | None = None
    error_queue: str | None = None
    syncreply_queue: str | None = None

    def inherit(self, parent: Queues) -> Queues:
        """Each queue missing here taken from ``parent``."""
        return Queues(
            async_queue=self.async_queue or parent.async_queue,
            sync_queue=self.sync_queue or parent.sync_queue,
            error_queue=self.error_queue or parent.error_queue,
            syncreply_queue=self.syncreply_queue or parent.syncreply_queue,
        )

    def missing(self) -> list[str]:
        """The names (async, sync, error, syncreply) of the queues not registered."""
        pairs = (
            ("async", self.async_queue),
            ("sync", self.sync_queue),
            ("error", self.error_queue),
            ("syncreply", self.syncreply_queue),
        )
        return [name for name, value in pairs if not value]


@dataclass(frozen=True, slots=True)
class ProcessSupport:
    """One communication process a party has enabled: its version and the party's role."""

    version: str
    role: str


def _version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return ()


def version_at_least(version: str, minimum: str) -> bool:
    """Whether dotted ``version`` is at least ``minimum`` ("1.2" >= "1.1")."""
    have, want = _version_tuple(version), _version_tuple(minimum)
    return bool(have) and have >= want


@dataclass(frozen=True, slots=True)
class CommunicationParty:
    """A HER-id with its queues, certificates and enabled processes.

    Certificates are given either as PEM file paths (the routing file) or as
    loaded certificates (a live register lookup may supply them directly); the
    loaded ones win. Process names compare case-insensitively.
    """

    her_id: str
    name: str
    kind: PartyKind = PartyKind.ORGANISATION
    parent_her_id: str | None = None
    active: bool = True
    queues: Queues = field(default_factory=Queues)
    signing_cert_path: Path | None = None
    encryption_cert_path: Path | None = None
    processes: Mapping[str, ProcessSupport] = field(default_factory=lambda: MappingProxyType({}))
    signing_cert: x509.Certificate | None = None
    encryption_cert: x509.Certificate | None = None

    @property
    def level(self) -> int:
        """1 for an organisation at the top, 2 for a party under a parent."""
        return 2 if self.parent_her_id else 1

    def process(self, name: str) -> ProcessSupport | None:
        """The party's support for process ``name`` (any case), or None."""
        wanted = name.casefold()
        for key, support in self.processes.items():
            if key.casefold() == wanted:
                return support
        return None

    def supports(self, process: str, role: str, min_version: str | None = None) -> bool:
        """Active and has ``process`` enabled in ``role`` (at least ``min_version``)."""
        support = self.process(process)
        if not self.active or support is None:
            return False
        if support.role.casefold() != role.casefold():
            return False
        return min_version is None or version_at_least(support.version, min_version)

    def __str__(self) -> str:
        # Only the HER-id: party names (persons under a clinic) stay out of logs.
        return f"HER-id {self.her_id}"
