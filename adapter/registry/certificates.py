"""Parties' public certificates, loaded from the PEM files the routing file names.

A PEM file may hold several certificates (a party rolling over to a new one):
we encrypt to the newest one valid now (HITS 1216 §2.1.4: the newest is the
default) and accept signatures by any of them. Files are re-read when they
change, so a new certificate is picked up without a restart.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from threading import Lock

from cryptography import x509

from adapter.crypto.certs import CertificateLoadError, load_certificates
from adapter.registry.party import CommunicationParty

__all__ = ["CertificateStore", "MissingCertificate", "newest_valid"]


class MissingCertificate(CertificateLoadError):
    """The party has no certificate of that purpose in the routing."""


def newest_valid(certs: list[x509.Certificate], now: datetime) -> x509.Certificate:
    """The most recently issued certificate valid at ``now`` (else the most recent one)."""
    if not certs:
        raise MissingCertificate("no certificate")
    valid = [c for c in certs if c.not_valid_before_utc <= now <= c.not_valid_after_utc]
    return max(valid or certs, key=lambda c: c.not_valid_before_utc)


class CertificateStore:
    """Loads and caches certificate files (keyed by path, reloaded when the file changes)."""

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[int, list[x509.Certificate]]] = {}
        self._lock = Lock()

    def load(self, path: Path) -> list[x509.Certificate]:
        """All certificates in ``path``; raises ``CertificateLoadError``."""
        try:
            stamp = path.stat().st_mtime_ns
        except OSError as exc:
            raise CertificateLoadError(
                f"cannot read certificate file {path}: {exc.strerror}"
            ) from exc
        with self._lock:
            cached = self._cache.get(path)
        if cached is not None and cached[0] == stamp:
            return list(cached[1])
        certs = load_certificates(path)
        with self._lock:
            self._cache[path] = (stamp, certs)
        return list(certs)

    def signing_certs(self, party: CommunicationParty) -> list[x509.Certificate]:
        """The certificates the party may sign with (its expected signers)."""
        if party.signing_cert is not None:
            return [party.signing_cert]
        if party.signing_cert_path is None:
            raise MissingCertificate(f"{party.her_id} has no signing certificate in the routing")
        return self.load(party.signing_cert_path)

    def encryption_cert(self, party: CommunicationParty, now: datetime) -> x509.Certificate:
        """The certificate to encrypt to: the newest one valid at ``now``."""
        if party.encryption_cert is not None:
            return party.encryption_cert
        if party.encryption_cert_path is None:
            raise MissingCertificate(f"{party.her_id} has no encryption certificate in the routing")
        return newest_valid(self.load(party.encryption_cert_path), now)

    def encryption_certs(self, party: CommunicationParty) -> list[x509.Certificate]:
        """All of the party's encryption certificates (ours: to pair with decryption keys)."""
        if party.encryption_cert is not None:
            return [party.encryption_cert]
        if party.encryption_cert_path is None:
            raise MissingCertificate(f"{party.her_id} has no encryption certificate in the routing")
        return self.load(party.encryption_cert_path)
