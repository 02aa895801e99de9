"""Certificates: loading PEM files, checking them, and optional revocation checks.

HITS 1216 §2.1.4 asks for every certificate used on an incoming or outgoing
message: within its validity period, right key usage (OID 2.5.29.15), and not
revoked; when the issuer's validation service is down the operation is aborted
and tried again later. :func:`check_certificate` does the first two (and warns
30 days ahead of expiry); a :class:`RevocationChecker` does the third, raising
:class:`RevocationUnavailable` (a transient fault, never a rejection) when it
cannot tell.

Key usages accepted:
- signing: nonRepudiation (what HITS 1216 §2.1.5 names) or digitalSignature;
- encryption: keyEncipherment (RSA key transport, RFC 5652) or dataEncipherment
  (what HITS 1216 §2.1.5 names). Norwegian enterprise encryption certificates carry both.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Final, Literal, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

__all__ = [
    "EXPIRY_WARNING",
    "CertProblem",
    "CertificateLoadError",
    "CrlRevocationChecker",
    "PrivateKey",
    "Purpose",
    "RevocationChecker",
    "RevocationStatus",
    "RevocationUnavailable",
    "Severity",
    "check_certificate",
    "describe",
    "fingerprint",
    "load_certificate",
    "load_certificates",
    "load_private_key",
    "pair_keys",
]

#: What a certificate is used for.
Purpose = Literal["signing", "encryption"]
#: Private keys the adapter can use (RSA: what NHN's enterprise certificates carry).
PrivateKey = rsa.RSAPrivateKey

#: Warn this long before a certificate expires.
EXPIRY_WARNING: Final = timedelta(days=30)


class Severity(StrEnum):
    """How bad a certificate problem is."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class CertProblem:
    """One thing wrong (or about to be) with a certificate.

    ``code`` is one of ``missing``, ``expired``, ``not-yet-valid``, ``key-usage``,
    ``not-rsa``, ``expiring-soon``.
    """

    code: str
    severity: Severity
    message: str

    @property
    def is_error(self) -> bool:
        """True unless it is only a warning."""
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"


class CertificateLoadError(Exception):
    """A certificate or key file is missing, unreadable or not PEM/DER."""


def describe(cert: x509.Certificate) -> str:
    """A short, log-safe identification: subject CN (an organisation) and serial number."""
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = str(cns[0].value) if cns else cert.subject.rfc4514_string()
    return f"'{cn}' (serial {cert.serial_number:x})"


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint, hex."""
    return cert.fingerprint(hashes.SHA256()).hex()


def _key_usage(cert: x509.Certificate) -> x509.KeyUsage | None:
    try:
        return cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None


def _usage_ok(usage: x509.KeyUsage, purpose: Purpose) -> bool:
    if purpose == "signing":
        return usage.content_commitment or usage.digital_signature
    return usage.key_encipherment or usage.data_encipherment


def check_certificate(
    cert: x509.Certificate | None,
    now: datetime,
    purpose: Purpose,
    *,
    warn_within: timedelta = EXPIRY_WARNING,
) -> list[CertProblem]:
    """What is wrong with ``cert`` for ``purpose`` at ``now`` (empty list: all good).

    Errors: missing, not yet valid, expired, no key usage for the purpose, not RSA.
    Warning: expires within ``warn_within`` (30 days by default).
    """
    if cert is None:
        return [CertProblem("missing", Severity.ERROR, f"no {purpose} certificate")]
    problems: list[CertProblem] = []
    name = describe(cert)
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now < start:
        problems.append(
            CertProblem(
                "not-yet-valid",
                Severity.ERROR,
                f"{purpose} certificate {name} is not valid before {start.isoformat()}",
            )
        )
    if now > end:
        problems.append(
            CertProblem(
                "expired",
                Severity.ERROR,
                f"{purpose} certificate {name} expired {end.isoformat()}",
            )
        )
    elif now + warn_within > end:
        days = (end - now).days
        problems.append(
            CertProblem(
                "expiring-soon",
                Severity.WARNING,
                f"{purpose} certificate {name} expires {end.isoformat()} (in {days} days)",
            )
        )
    usage = _key_usage(cert)
    if usage is None or not _usage_ok(usage, purpose):
        wanted = (
            "nonRepudiation or digitalSignature"
            if purpose == "signing"
            else "keyEncipherment or dataEncipherment"
        )
        problems.append(
            CertProblem(
                "key-usage",
                Severity.ERROR,
                f"{purpose} certificate {name} lacks key usage {wanted}",
            )
        )
    if not isinstance(cert.public_key(), rsa.RSAPublicKey):
        problems.append(
            CertProblem("not-rsa", Severity.ERROR, f"{purpose} certificate {name} is not RSA")
        )
    return problems


def load_certificates(path: Path) -> list[x509.Certificate]:
    """All certificates in a PEM (or single DER) file, in file order."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CertificateLoadError(f"cannot read certificate file {path}: {exc.strerror}") from exc
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise CertificateLoadError(f"{path} holds no readable certificate") from exc
    if not certs:
        raise CertificateLoadError(f"{path} holds no certificate")
    return certs


def load_certificate(path: Path) -> x509.Certificate:
    """The first certificate in a PEM (or DER) file."""
    return load_certificates(path)[0]


def load_private_key(path: Path, password: bytes | None = None) -> PrivateKey:
    """An RSA private key from a PEM (or DER) file, optionally password-protected."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CertificateLoadError(f"cannot read key file {path}: {exc.strerror}") from exc
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, password)
        else:
            key = serialization.load_der_private_key(data, password)
    except (ValueError, TypeError) as exc:
        raise CertificateLoadError(
            f"{path} holds no readable private key (wrong password?)"
        ) from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CertificateLoadError(f"{path} is not an RSA private key")
    return key


# --- revocation -----------------------------------------------------------------------


class RevocationStatus(StrEnum):
    """What a revocation check found."""

    GOOD = "good"
    REVOKED = "revoked"


class RevocationUnavailable(Exception):
    """Revocation status could not be determined now (CRL unreachable, stale): retry later."""


class RevocationChecker(Protocol):
    """Tells whether a certificate has been revoked."""

    def check(self, cert: x509.Certificate, now: datetime) -> RevocationStatus:
        """GOOD or REVOKED; raises :class:`RevocationUnavailable` when it cannot tell."""
        ...


Fetcher = Callable[[str, float], bytes]


def _fetch(source: str, timeout: float) -> bytes:
    if source.startswith(("http://", "https://", "file://")):
        with urllib.request.urlopen(source, timeout=timeout) as response:  # noqa: S310
            data: bytes = response.read()
            return data
    return Path(source).read_bytes()


def _parse_crl(data: bytes) -> x509.CertificateRevocationList:
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


class CrlRevocationChecker:
    """Revocation by CRL, from files or URLs, cached until each CRL's nextUpdate.

    ``sources`` are file paths or ``http(s)://``/``file://`` URLs. With
    ``use_distribution_points`` the certificate's own CRL distribution points are
    also consulted. ``issuers`` are the CA certificates whose CRL signatures are
    verified (a CRL whose signature fails is ignored); with none given, CRL
    signatures are not checked (the routing file pins the exact certificates).

    A CRL that cannot be fetched within ``timeout`` seconds, cannot be parsed, or
    is past its nextUpdate, and no other CRL of that issuer to go by, gives
    :class:`RevocationUnavailable`, never REVOKED.
    """

    def __init__(
        self,
        sources: Sequence[str | Path] = (),
        *,
        issuers: Sequence[x509.Certificate] = (),
        timeout: float = 5.0,
        use_distribution_points: bool = False,
        fetch: Fetcher = _fetch,
    ) -> None:
        self._sources = [str(s) for s in sources]
        self._issuers = list(issuers)
        self._timeout = timeout
        self._use_dp = use_distribution_points
        self._fetch = fetch
        self._cache: dict[str, x509.CertificateRevocationList] = {}

    def _sources_for(self, cert: x509.Certificate) -> list[str]:
        sources = list(self._sources)
        if self._use_dp:
            try:
                dps = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
            except x509.ExtensionNotFound:
                dps = x509.CRLDistributionPoints([])
            for dp in dps:
                for gn in dp.full_name or ():
                    if isinstance(gn, x509.UniformResourceIdentifier):
                        sources.append(gn.value)
        return sources

    def _load(self, source: str, now: datetime) -> x509.CertificateRevocationList:
        cached = self._cache.get(source)
        if cached is not None and _fresh(cached, now):
            return cached
        try:
            crl = _parse_crl(self._fetch(source, self._timeout))
        except (OSError, ValueError) as exc:
            raise RevocationUnavailable(f"CRL {source} unavailable: {exc}") from exc
        self._cache[source] = crl
        return crl

    def _signature_ok(self, crl: x509.CertificateRevocationList) -> bool:
        if not self._issuers:
            return True
        for issuer in self._issuers:
            if issuer.subject != crl.issuer:
                continue
            key = issuer.public_key()
            if isinstance(
                key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey
            ) and crl.is_signature_valid(key):
                return True
        return False

    def check(self, cert: x509.Certificate, now: datetime) -> RevocationStatus:
        """GOOD or REVOKED per the CRLs of the certificate's issuer."""
        sources = self._sources_for(cert)
        if not sources:
            raise RevocationUnavailable(f"no CRL configured for {describe(cert)}")
        errors: list[str] = []
        covered = False
        for source in sources:
            try:
                crl = self._load(source, now)
            except RevocationUnavailable as exc:
                errors.append(str(exc))
                continue
            if crl.issuer != cert.issuer or not self._signature_ok(crl):
                continue
            if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
                return RevocationStatus.REVOKED
            if _fresh(crl, now):
                covered = True
            else:
                errors.append(f"CRL {source} is past its nextUpdate")
        if covered:
            return RevocationStatus.GOOD
        detail = "; ".join(errors) or "no CRL from its issuer"
        raise RevocationUnavailable(f"revocation status of {describe(cert)} unknown: {detail}")


def _fresh(crl: x509.CertificateRevocationList, now: datetime) -> bool:
    next_update = crl.next_update_utc
    return next_update is None or now <= next_update


def utcnow() -> datetime:
    """The current time, UTC (the default clock)."""
    return datetime.now(UTC)


def pair_keys(
    keys: Sequence[PrivateKey], certs: Sequence[x509.Certificate]
) -> list[tuple[PrivateKey, x509.Certificate]]:
    """Each private key with the certificate(s) of its public key, keys in the order given.

    For :class:`adapter.transport.cms.CmsProtection`'s decryption keys: the keys
    come from ``adapter.toml``, the certificates from the routing file (a PEM
    file may hold the old and the new one). A key without a certificate raises
    :class:`CertificateLoadError`.
    """
    pairs: list[tuple[PrivateKey, x509.Certificate]] = []
    for n, key in enumerate(keys, 1):
        numbers = key.public_key().public_numbers()
        mine = [
            c
            for c in certs
            if isinstance(c.public_key(), rsa.RSAPublicKey)
            and c.public_key().public_numbers() == numbers  # type: ignore[union-attr]
        ]
        if not mine:
            raise CertificateLoadError(f"decryption key {n} has no matching certificate")
        pairs.extend((key, c) for c in mine)
    return pairs
