"""Checks of the routing for ``epj-adapter check-config`` and ``doctor``.

Each of our HER-ids and each counterpart (Helsenorge's service) must be known,
active, have its queues, and (when CMS is on) readable certificates that are
valid now, with the right key usage; a certificate expiring within 30 days is
a warning. Problems come back as one line each, errors before warnings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509

from adapter.crypto.certs import (
    CertificateLoadError,
    Purpose,
    Severity,
    check_certificate,
)
from adapter.registry.certificates import CertificateStore
from adapter.registry.party import ROLE_CITIZEN, ROLE_PROFESSIONAL, CommunicationParty
from adapter.registry.registry import PartyLookup, RegistryUnavailable, UnknownParty
from adapter.registry.routing import PROCESS_FOR

__all__ = ["RoutingProblem", "check_routing", "routing_problems"]


@dataclass(frozen=True, slots=True)
class RoutingProblem:
    """One problem with the routing of a HER-id."""

    severity: Severity
    her_id: str
    message: str

    @property
    def is_error(self) -> bool:
        """True unless it is only a warning."""
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        return f"{self.severity}: HER-id {self.her_id}: {self.message}"


def check_routing(
    registry: PartyLookup,
    our_her_ids: Iterable[str],
    now: datetime,
    *,
    counterparts: Iterable[str] = (),
    check_certificates: bool = True,
) -> list[str]:
    """Every routing problem as one line (``error: ...`` / ``warning: ...``); empty when fine."""
    return [
        str(p)
        for p in routing_problems(
            registry,
            our_her_ids,
            now,
            counterparts=counterparts,
            check_certificates=check_certificates,
        )
    ]


def routing_problems(
    registry: PartyLookup,
    our_her_ids: Iterable[str],
    now: datetime,
    *,
    counterparts: Iterable[str] = (),
    check_certificates: bool = True,
) -> list[RoutingProblem]:
    """Every routing problem of our HER-ids and the counterparts', errors first.

    ``check_certificates=False`` (CMS off) skips the certificate checks.
    """
    checker = _Checker(registry, now, check_certificates)
    seen: set[str] = set()
    for her_id in our_her_ids:
        if her_id not in seen:
            seen.add(her_id)
            checker.party(her_id, ours=True)
    for her_id in counterparts:
        if her_id not in seen:
            seen.add(her_id)
            checker.party(her_id, ours=False)
    return sorted(checker.problems, key=lambda p: p.severity is not Severity.ERROR)


class _Checker:
    def __init__(self, registry: PartyLookup, now: datetime, certs: bool) -> None:
        self.registry = registry
        self.now = now
        self.certs = certs
        self.store = CertificateStore()
        self.problems: list[RoutingProblem] = []
        self.checked_files: set[tuple[Path, str]] = set()

    def add(self, severity: Severity, her_id: str, message: str) -> None:
        self.problems.append(RoutingProblem(severity, her_id, message))

    def party(self, her_id: str, *, ours: bool) -> None:
        try:
            party = self.registry.lookup(her_id)
        except UnknownParty:
            self.add(
                Severity.ERROR,
                her_id,
                f"not in the routing: add [parties.{her_id}] as the Adresseregister has it",
            )
            return
        except RegistryUnavailable as exc:
            self.add(Severity.ERROR, her_id, f"the register cannot be asked now: {exc}")
            return
        if not party.active:
            self.add(Severity.ERROR, her_id, "not active (active = false in the routing)")
        self.queues(party, ours=ours)
        self.processes(party, ours=ours)
        if self.certs:
            self.certificate(party, "signing")
            self.certificate(party, "encryption")

    def queues(self, party: CommunicationParty, *, ours: bool) -> None:
        missing = party.queues.missing()
        needed = missing if ours else [q for q in missing if q in ("async", "error")]
        for queue in needed:
            self.add(
                Severity.ERROR,
                party.her_id,
                f'no {queue} queue: add {queue} = "{party.her_id}_{queue}" under '
                f"[parties.{party.her_id}.queues] (or on its parent)",
            )
        if not ours and "sync" in missing:
            self.add(Severity.WARNING, party.her_id, "no sync queue: cannot send it sync requests")

    def processes(self, party: CommunicationParty, *, ours: bool) -> None:
        role = ROLE_PROFESSIONAL if ours else ROLE_CITIZEN
        enabled = [p for p in PROCESS_FOR.values() if party.supports(p, role)]
        if not enabled and party.active:
            self.add(
                Severity.WARNING,
                party.her_id,
                f"no booking process enabled as {role}: its messages will be refused",
            )

    def certificate(self, party: CommunicationParty, purpose: Purpose) -> None:
        path = party.signing_cert_path if purpose == "signing" else party.encryption_cert_path
        loaded = party.signing_cert if purpose == "signing" else party.encryption_cert
        if loaded is not None:
            self.cert_problems(party.her_id, [loaded], purpose)
            return
        if path is None:
            self.add(
                Severity.ERROR,
                party.her_id,
                f'no {purpose} certificate: add {purpose}_cert = "certs/....pem" '
                f"under [parties.{party.her_id}]",
            )
            return
        if (path, purpose) in self.checked_files:
            return
        self.checked_files.add((path, purpose))
        try:
            certs = self.store.load(path)
        except CertificateLoadError as exc:
            self.add(Severity.ERROR, party.her_id, str(exc))
            return
        try:
            if b"PRIVATE KEY" in path.read_bytes():
                self.add(
                    Severity.ERROR,
                    party.her_id,
                    f"{path} holds a private key: keep private keys out of the routing "
                    "and its certificate files; reference them from adapter.toml [cms]",
                )
        except OSError:
            pass
        self.cert_problems(party.her_id, certs, purpose, str(path))

    def cert_problems(
        self, her_id: str, certs: list[x509.Certificate], purpose: Purpose, where: str = ""
    ) -> None:
        found = [check_certificate(c, self.now, purpose) for c in certs]
        any_good = any(not any(p.is_error for p in problems) for problems in found)
        suffix = f" ({where})" if where else ""
        for problems in found:
            for p in problems:
                severity = p.severity
                message = p.message
                if p.is_error and any_good:
                    severity = Severity.WARNING
                    message += "; a newer one in the same file is valid: remove this one"
                self.add(severity, her_id, message + suffix)
