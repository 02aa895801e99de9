"""Payload protection as the service layer decides it: who signs for whom, with which
certificates from the Adresseregister (CMS), or none (the embedded default, plain XML).
The CMS primitives (:mod:`adapter.transport.cms`) and certificate parsing
(:mod:`adapter.crypto.certs`) know no parties; this module joins them to the registry.

The expected signer of a received message is the sender's signing certificate from the
routing file (by the AMQP ``fromHerId``), never the one inside the message; replies are
encrypted to the receiver's newest valid encryption certificate.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from adapter.registry.certificates import CertificateStore
from adapter.registry.registry import PartyLookup, UnknownParty
from adapter.transport.base import (
    CONTENT_TYPE_CMS,
    CONTENT_TYPE_XML,
    TransportFault,
    TransportMessage,
)
from adapter.transport.cms import CmsProtection
from adapter.transport.errors import INVALID_CERTIFICATE


class Protector(Protocol):
    """Protects outgoing payloads and opens incoming ones."""

    content_type: str

    def protect(self, payload: bytes, to_her_id: str) -> bytes:
        """The payload as it goes on the wire to ``to_her_id``."""
        ...

    def unprotect(self, message: TransportMessage) -> bytes:
        """The plain payload of a received message; raises ``TransportFault``."""
        ...

    def peek(self, message: TransportMessage) -> bytes:
        """The payload of a message being refused, read without verifying who signed
        it (to see its MsgHead only); raises ``TransportFault`` when unreadable."""
        ...


class Plain:
    """No protection: plain XML (the directory transport's default)."""

    content_type = CONTENT_TYPE_XML

    def protect(self, payload: bytes, to_her_id: str) -> bytes:
        """Unchanged."""
        return payload

    def unprotect(self, message: TransportMessage) -> bytes:
        """Unchanged."""
        return message.body

    def peek(self, message: TransportMessage) -> bytes:
        """Unchanged."""
        return message.body


class CmsProtector:
    """CMS sign-then-encrypt with the parties' certificates from the routing file."""

    content_type = CONTENT_TYPE_CMS

    def __init__(
        self, cms: CmsProtection, registry: PartyLookup, clock: Callable[[], datetime]
    ) -> None:
        self.cms = cms
        self.registry = registry
        self.clock = clock
        self.certificates = CertificateStore()

    def protect(self, payload: bytes, to_her_id: str) -> bytes:
        """Sign with our key, encrypt to ``to_her_id``'s encryption certificate."""
        try:
            party = self.registry.lookup(to_her_id)
        except UnknownParty as exc:
            raise TransportFault(
                INVALID_CERTIFICATE, f"no certificate for HER-id {to_her_id}"
            ) from exc
        return self.cms.protect(payload, self.certificates.encryption_cert(party, self.clock()))

    def unprotect(self, message: TransportMessage) -> bytes:
        """Decrypt, then verify against the sender's signing certificate(s)."""
        sender = (message.prop("fromHerId") or "").strip()
        try:
            party = self.registry.lookup(sender)
        except UnknownParty as exc:
            raise TransportFault(
                INVALID_CERTIFICATE, f"no signing certificate for HER-id {sender}"
            ) from exc
        return self.cms.unprotect(message.body, self.certificates.signing_certs(party))

    def peek(self, message: TransportMessage) -> bytes:
        """Decrypt only (no signature check): the MsgHead of a refused message."""
        return self.cms.open_unverified(message.body)
