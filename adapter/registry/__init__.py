"""Adresseregister routing: parties, HER-ids (two levels), queues, certificates, processes.

>>> registry = FileRegistry.load(Path("config/routing.toml"))
>>> registry.async_queue_for("8093248")            # where AppRecs and async replies go
>>> check_process(registry, "DIALOG_INNBYGGER_TIMERESERVASJON",
...               our_her_id="8142520", their_her_id="8093248")
>>> for line in check_routing(registry, ["8142519"], now, counterparts=["8093248"]): print(line)
"""

from adapter.registry.certificates import CertificateStore, MissingCertificate, newest_valid
from adapter.registry.check import RoutingProblem, check_routing, routing_problems
from adapter.registry.file import FileRegistry, RoutingFileError
from adapter.registry.party import (
    ROLE_CITIZEN,
    ROLE_PROFESSIONAL,
    CommunicationParty,
    PartyKind,
    ProcessSupport,
    Queues,
)
from adapter.registry.registry import (
    CachedRegistry,
    NoRoute,
    PartyLookup,
    Registry,
    RegistryBase,
    RegistryUnavailable,
    UnknownParty,
    queue_for,
)
from adapter.registry.routing import (
    PROCESS_FOR,
    UNSUPPORTED_MESSAGE,
    UnsupportedMessage,
    async_queue_for,
    check_process,
    error_queue_for,
    process_for,
    sync_queue_for,
    syncreply_queue_for,
)

__all__ = [
    "PROCESS_FOR",
    "ROLE_CITIZEN",
    "ROLE_PROFESSIONAL",
    "UNSUPPORTED_MESSAGE",
    "CachedRegistry",
    "CertificateStore",
    "CommunicationParty",
    "FileRegistry",
    "MissingCertificate",
    "NoRoute",
    "PartyKind",
    "PartyLookup",
    "ProcessSupport",
    "Queues",
    "Registry",
    "RegistryBase",
    "RegistryUnavailable",
    "RoutingFileError",
    "RoutingProblem",
    "UnknownParty",
    "UnsupportedMessage",
    "async_queue_for",
    "check_process",
    "check_routing",
    "error_queue_for",
    "newest_valid",
    "process_for",
    "queue_for",
    "routing_problems",
    "sync_queue_for",
    "syncreply_queue_for",
]
