"""CMS protection of payloads: sign, then encrypt; decrypt, then verify (HITS 1216 §2.1.5).

Outgoing: the payload is signed (SignedData, encapsulated content, SHA-256 with
RSA PKCS#1 v1.5, signed attributes contentType, signingTime, messageDigest) with
our signing certificate, and the DER SignedData is enveloped (EnvelopedData,
AES-256-CBC) to the receiver's encryption certificate. The content-encryption key
is transported with RSA PKCS#1 v1.5 (rsaEncryption), the default of .NET's
``EnvelopedCms`` that Helsenorge.Messaging uses; HITS 1216 does not name one.
Incoming, both PKCS#1 v1.5 and RSAES-OAEP key transport are accepted.

Incoming: the message is decrypted with whichever of our decryption keys the
RecipientInfo names (several keys at once, for certificate rollover), and the
signature is verified against the certificate the CALLER expects for the sender
(from the routing file), never one carried inside the message. DES and RC2 are
always refused; 3DES only with ``allow_legacy_ciphers`` (which also admits
SHA-1 digests, the old .NET Framework default).

Failures raise :class:`CmsError` with the HITS 1216 §2.2.3 error condition to put
on the sender's error queue:

- ``transport:decryption-failed``: not CMS, not for us, wrong key, refused cipher,
  corrupted ciphertext;
- ``transport:invalid-signature``: not signed, signed by another certificate than
  expected, message digest or signature mismatch;
- ``transport:expired-certificate``: the expected signer certificate is outside
  its validity period (HITS 1216 §2.2.3 and Helsenorge.Messaging use this
  condition, for a start date in the future too);
- ``transport:revoked-certificate``: the signer certificate is revoked;
- ``transport:invalid-certificate``: wrong key usage, or not RSA.

When revocation cannot be determined (CRL unreachable or stale) :class:`TransientCmsError`
is raised instead: keep the message and try again later; it is not a rejection.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Protocol

from asn1crypto import cms as acms
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as apadding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from adapter.crypto.certs import (
    CertificateLoadError,
    PrivateKey,
    Purpose,
    RevocationChecker,
    RevocationStatus,
    RevocationUnavailable,
    check_certificate,
    describe,
    load_certificate,
    load_private_key,
    pair_keys,
    utcnow,
)
from adapter.transport.base import CONTENT_TYPE_CMS, CONTENT_TYPE_XML, TransportFault

__all__ = [
    "DECRYPTION_FAILED",
    "EXPIRED_CERTIFICATE",
    "INVALID_CERTIFICATE",
    "INVALID_SIGNATURE",
    "REVOKED_CERTIFICATE",
    "CmsError",
    "CmsProtection",
    "NoProtection",
    "Protection",
    "TransientCmsError",
]

DECRYPTION_FAILED: Final = "transport:decryption-failed"
INVALID_SIGNATURE: Final = "transport:invalid-signature"
INVALID_CERTIFICATE: Final = "transport:invalid-certificate"
EXPIRED_CERTIFICATE: Final = "transport:expired-certificate"
REVOKED_CERTIFICATE: Final = "transport:revoked-certificate"


class CmsError(TransportFault):
    """A CMS fault: ``condition`` goes to the sender's error queue as errorCondition."""


class TransientCmsError(Exception):
    """The message could not be checked now (revocation unknown): retry later, do not reject."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


_HASHES: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_STRONG_HASHES: Final = frozenset({"sha256", "sha384", "sha512"})
_AES_CBC: Final = frozenset({"aes128_cbc", "aes192_cbc", "aes256_cbc"})
_LEGACY_CIPHERS: Final = frozenset({"tripledes_3key"})


@dataclass(frozen=True, slots=True)
class _CertId:
    """How CMS names a certificate: issuer + serial number, or subject key identifier."""

    issuer: Any  # asn1crypto Name (compares normalised)
    issuer_der: bytes  # its DER, as the certificate encodes it
    serial: int
    ski: bytes | None

    @classmethod
    def of(cls, cert: x509.Certificate) -> _CertId:
        """The ways ``cert`` may be named (remembered per certificate: see
        :func:`_cert_id`)."""
        return _cert_id(cert)

    def named_by(self, rid: Any) -> bool:
        """Whether a RecipientIdentifier / SignerIdentifier names this certificate.

        An issuer in the same DER as the certificate's is the same name; one encoded
        otherwise may still be (another string type, case, spaces: RFC 5280 §7.1,
        asn1crypto's comparison), and only then is it compared normalised, which
        costs a string preparation of every attribute of both names."""
        if rid.name == "issuer_and_serial_number":
            ias = rid.chosen
            if ias["serial_number"].native != self.serial:
                return False
            issuer = ias["issuer"]
            return bool(issuer.dump() == self.issuer_der or issuer == self.issuer)
        if rid.name == "subject_key_identifier":
            return self.ski is not None and hmac.compare_digest(rid.chosen.native, self.ski)
        return False


@functools.lru_cache(maxsize=256)
def _cert_id(cert: x509.Certificate) -> _CertId:
    """:class:`_CertId` of ``cert``: the expected signer's is looked up for every
    message, and reading a certificate with asn1crypto costs more than the lookup."""
    parsed = ax509.Certificate.load(cert.public_bytes(Encoding.DER))
    try:
        ski: bytes | None = cert.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value.digest
    except x509.ExtensionNotFound:
        ski = None
    issuer = parsed.issuer
    return _CertId(issuer, issuer.dump(), cert.serial_number, ski)


def _hash(name: str) -> hashes.HashAlgorithm:
    return _HASHES[name]()


class Protection(Protocol):
    """What the transports call: CMS when enabled, :class:`NoProtection` otherwise."""

    @property
    def content_type(self) -> str:
        """The AMQP content-type of what :meth:`protect` returns."""
        ...

    def protect(self, payload: bytes, recipient_cert: x509.Certificate | None) -> bytes:
        """The bytes to send."""
        ...

    def unprotect(
        self,
        data: bytes,
        expected_signer_cert: x509.Certificate | Sequence[x509.Certificate] | None,
    ) -> bytes:
        """The payload received."""
        ...


class NoProtection:
    """Plain payloads (CMS off: the demo and the directory transport by default)."""

    content_type = CONTENT_TYPE_XML

    def protect(self, payload: bytes, recipient_cert: x509.Certificate | None = None) -> bytes:
        """``payload`` unchanged."""
        return payload

    def unprotect(
        self,
        data: bytes,
        expected_signer_cert: x509.Certificate | Sequence[x509.Certificate] | None = None,
    ) -> bytes:
        """``data`` unchanged."""
        return data


class CmsProtection:
    """Sign-then-encrypt and decrypt-then-verify with our keys.

    ``signing_key``/``signing_cert``: our signing credential. ``decryption_keys``:
    our encryption credentials, newest first (all are tried on incoming messages;
    only the RecipientInfo decides which). ``revocation``: optional checker for the
    signer's certificate. ``clock``: returns the current UTC time.
    """

    content_type = CONTENT_TYPE_CMS

    @classmethod
    def from_files(
        cls,
        signing_key: Path,
        signing_cert: Path,
        decryption_keys: Sequence[Path],
        encryption_certs: Sequence[x509.Certificate],
        *,
        password: bytes | None = None,
        allow_legacy_ciphers: bool = False,
        revocation: RevocationChecker | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> CmsProtection:
        """Build from ``adapter.toml`` [cms] paths and our encryption certificates.

        ``encryption_certs`` are our own encryption certificates (from the routing
        file, old and new during rollover); each decryption key is paired with
        the certificate(s) of its public key. Raises ``CertificateLoadError`` with
        a one-line reason.
        """
        if not decryption_keys:
            raise CertificateLoadError("no decryption keys configured")
        keys = [load_private_key(p, password) for p in decryption_keys]
        own_key = load_private_key(signing_key, password)
        own_cert = load_certificate(signing_cert)
        own_numbers = own_key.public_key().public_numbers()
        cert_key = own_cert.public_key()
        if not isinstance(cert_key, rsa.RSAPublicKey) or cert_key.public_numbers() != own_numbers:
            raise CertificateLoadError(f"{signing_key} is not the key of {signing_cert}")
        return cls(
            own_key,
            own_cert,
            pair_keys(keys, encryption_certs),
            allow_legacy_ciphers=allow_legacy_ciphers,
            revocation=revocation,
            clock=clock,
        )

    def __init__(
        self,
        signing_key: PrivateKey,
        signing_cert: x509.Certificate,
        decryption_keys: Sequence[tuple[PrivateKey, x509.Certificate]],
        *,
        allow_legacy_ciphers: bool = False,
        revocation: RevocationChecker | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._signing_key = signing_key
        self._signing_cert = signing_cert
        self._keys = [(key, _CertId.of(cert)) for key, cert in decryption_keys]
        self._allow_legacy = allow_legacy_ciphers
        self._revocation = revocation
        self._clock = clock

    # --- outgoing -------------------------------------------------------------------

    def protect(self, payload: bytes, recipient_cert: x509.Certificate | None) -> bytes:
        """Sign ``payload`` with our signing certificate and encrypt it to ``recipient_cert``.

        Raises :class:`CmsError` if our signing certificate or the recipient's
        encryption certificate is not usable now (then nothing must be sent).
        """
        if recipient_cert is None:
            raise CmsError(INVALID_CERTIFICATE, "the recipient has no encryption certificate")
        now = self._clock()
        self._require_usable(self._signing_cert, now, "signing", whose="our")
        self._require_usable(recipient_cert, now, "encryption", whose="the recipient's")
        signed = (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(payload)
            .add_signer(self._signing_cert, self._signing_key, hashes.SHA256())
            .sign(Encoding.DER, [pkcs7.PKCS7Options.Binary, pkcs7.PKCS7Options.NoCapabilities])
        )
        return (
            pkcs7.PKCS7EnvelopeBuilder()
            .set_data(signed)
            .add_recipient(recipient_cert)
            .set_content_encryption_algorithm(algorithms.AES256)
            .encrypt(Encoding.DER, [pkcs7.PKCS7Options.Binary])
        )

    # --- incoming -------------------------------------------------------------------

    def unprotect(
        self,
        data: bytes,
        expected_signer_cert: x509.Certificate | Sequence[x509.Certificate] | None,
    ) -> bytes:
        """Decrypt ``data`` and verify it was signed with ``expected_signer_cert``.

        ``expected_signer_cert`` is the sender's signing certificate from the
        routing (or several, while the sender rolls over to a new one); any
        certificate carried inside the message is ignored. Returns the signed
        payload. Raises :class:`CmsError` (reject, with its condition) or
        :class:`TransientCmsError` (retry later).
        """
        now = self._clock()
        if expected_signer_cert is None:
            expected = []
        elif isinstance(expected_signer_cert, x509.Certificate):
            expected = [expected_signer_cert]
        else:
            expected = list(expected_signer_cert)
        if not expected:
            raise CmsError(
                INVALID_CERTIFICATE, "no signing certificate is registered for the sender"
            )
        signed_der = self._decrypt(data)
        signed_data = _parse_signed_data(signed_der)
        return self._verify(signed_data, expected, now)

    def open_unverified(self, data: bytes) -> bytes:
        """Decrypt ``data`` and return the signed content WITHOUT verifying the
        signature: only to read the MsgHead of a message that is refused anyway (to
        tell a spoofing attack from other faults, HITS 1216 §2.2.3). Never act on it.
        Raises :class:`CmsError` when it cannot be decrypted or read."""
        signed_data = _parse_signed_data(self._decrypt(data))
        try:
            content = signed_data["encap_content_info"]["content"].native
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise CmsError(INVALID_SIGNATURE, "the SignedData is not readable") from exc
        if content is None:
            raise CmsError(INVALID_SIGNATURE, "the SignedData carries no content (detached)")
        return bytes(content)

    def _require_usable(
        self, cert: x509.Certificate, now: datetime, purpose: Purpose, *, whose: str
    ) -> None:
        problems = [p for p in check_certificate(cert, now, purpose) if p.is_error]
        if not problems:
            return
        codes = {p.code for p in problems}
        if codes <= {"expired", "not-yet-valid"}:
            condition = EXPIRED_CERTIFICATE
        else:
            condition = INVALID_CERTIFICATE
        raise CmsError(condition, f"{whose} " + "; ".join(p.message for p in problems))

    def _check_revocation(self, cert: x509.Certificate, now: datetime) -> None:
        if self._revocation is None:
            return
        try:
            status = self._revocation.check(cert, now)
        except RevocationUnavailable as exc:
            raise TransientCmsError(str(exc)) from exc
        if status is RevocationStatus.REVOKED:
            raise CmsError(
                REVOKED_CERTIFICATE, f"the sender's certificate {describe(cert)} is revoked"
            )

    def _decrypt(self, data: bytes) -> bytes:
        try:
            info = acms.ContentInfo.load(data, strict=True)
            if info["content_type"].native != "enveloped_data":
                raise CmsError(DECRYPTION_FAILED, "the message is not CMS EnvelopedData")
            env = info["content"]
            eci = env["encrypted_content_info"]
            algo = eci["content_encryption_algorithm"]
            algo_name = algo["algorithm"].native
            self._require_cipher(algo_name)
            ciphertext = eci["encrypted_content"].native
            if ciphertext is None:
                raise CmsError(DECRYPTION_FAILED, "the EnvelopedData carries no content")
            recipients = [ri.chosen for ri in env["recipient_infos"] if ri.name == "ktri"]
            matches = [
                (ktri, key)
                for ktri in recipients
                for key, cert_id in self._keys
                if cert_id.named_by(ktri["rid"])
            ]
            if not matches:
                raise CmsError(
                    DECRYPTION_FAILED,
                    "the message is not encrypted to any of our encryption certificates",
                )
            iv = algo.encryption_iv
        except CmsError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise CmsError(DECRYPTION_FAILED, "the message is not readable CMS") from exc
        for ktri, key in matches:
            try:
                cek = _unwrap_key(ktri, key)
                return _decrypt_content(algo_name, cek, iv, ciphertext)
            except (ValueError, TypeError, KeyError) as exc:
                last: Exception = exc
        raise CmsError(DECRYPTION_FAILED, "the message could not be decrypted") from last

    def _require_cipher(self, algo_name: str) -> None:
        if algo_name in _AES_CBC:
            return
        if algo_name in _LEGACY_CIPHERS:
            if self._allow_legacy:
                return
            raise CmsError(
                DECRYPTION_FAILED,
                f"content encryption {algo_name} (3DES) is not accepted; AES-CBC is required",
            )
        raise CmsError(DECRYPTION_FAILED, f"content encryption {algo_name} is not supported")

    def _verify(self, signed_data: Any, expected: list[x509.Certificate], now: datetime) -> bytes:
        try:
            encap = signed_data["encap_content_info"]
            content = encap["content"].native
            if content is None:
                raise CmsError(INVALID_SIGNATURE, "the SignedData carries no content (detached)")
            ids = [(cert, _CertId.of(cert)) for cert in expected]
            matched = [
                (si, cert)
                for si in signed_data["signer_infos"]
                for cert, cert_id in ids
                if cert_id.named_by(si["sid"])
            ]
        except CmsError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise CmsError(INVALID_SIGNATURE, "the SignedData is not readable") from exc
        if not matched:
            names = ", ".join(describe(c) for c in expected)
            raise CmsError(
                INVALID_SIGNATURE, f"not signed with the sender's registered certificate {names}"
            )
        for si, cert in matched:
            self._require_usable(cert, now, "signing", whose="the sender's")
            self._check_revocation(cert, now)
            try:
                _verify_signer(si, encap, bytes(content), cert, self._allow_legacy)
            except CmsError:
                raise
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                raise CmsError(INVALID_SIGNATURE, "the SignerInfo is not readable") from exc
        return bytes(content)


def _parse_signed_data(der: bytes) -> Any:
    try:
        info = acms.ContentInfo.load(der, strict=True)
        kind = info["content_type"].native
        if kind != "signed_data":
            raise CmsError(INVALID_SIGNATURE, f"the decrypted content is {kind}, not SignedData")
        signed = info["content"]
        signed["signer_infos"].native  # noqa: B018 - force parsing now
        return signed
    except CmsError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CmsError(
            INVALID_SIGNATURE, "the decrypted content is not readable SignedData"
        ) from exc


def _unwrap_key(ktri: Any, key: PrivateKey) -> bytes:
    kea = ktri["key_encryption_algorithm"]
    name = kea["algorithm"].native
    encrypted_key = ktri["encrypted_key"].native
    if name == "rsaes_pkcs1v15":
        cek: bytes = key.decrypt(encrypted_key, apadding.PKCS1v15())
        return cek
    if name == "rsaes_oaep":
        params = kea["parameters"]
        hash_name = params["hash_algorithm"]["algorithm"].native
        mgf_hash = params["mask_gen_algorithm"]["parameters"]["algorithm"].native
        label = params["p_source_algorithm"]["parameters"].native or None
        cek = key.decrypt(
            encrypted_key,
            apadding.OAEP(
                mgf=apadding.MGF1(_hash(mgf_hash)), algorithm=_hash(hash_name), label=label
            ),
        )
        return cek
    raise ValueError(f"key transport {name} is not supported")


_KEY_BYTES: Final = {"aes128_cbc": 16, "aes192_cbc": 24, "aes256_cbc": 32, "tripledes_3key": 24}


def _decrypt_content(algo_name: str, cek: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    if len(cek) != _KEY_BYTES[algo_name]:
        raise ValueError("content-encryption key of the wrong length")
    if algo_name in _AES_CBC:
        cipher = Cipher(algorithms.AES(cek), modes.CBC(iv))
        block = 128
    else:
        cipher = Cipher(TripleDES(cek), modes.CBC(iv))
        block = 64
    decryptor = cipher.decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(block).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def _verify_signer(
    si: Any, encap: Any, content: bytes, cert: x509.Certificate, allow_legacy: bool
) -> None:
    digest_name = si["digest_algorithm"]["algorithm"].native
    if digest_name not in _STRONG_HASHES and not (allow_legacy and digest_name == "sha1"):
        raise CmsError(INVALID_SIGNATURE, f"digest algorithm {digest_name} is not accepted")
    digest_alg = _hash(digest_name)
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise CmsError(INVALID_CERTIFICATE, f"the sender's certificate {describe(cert)} is not RSA")
    signed_attrs = si["signed_attrs"]
    if signed_attrs.native:
        values = _attributes(signed_attrs)
        content_types = values.get("content_type", [])
        digests = values.get("message_digest", [])
        if len(content_types) != 1 or content_types[0] != encap["content_type"].native:
            raise CmsError(INVALID_SIGNATURE, "the contentType attribute is missing or wrong")
        if len(digests) != 1:
            raise CmsError(INVALID_SIGNATURE, "the messageDigest attribute is missing")
        h = hashes.Hash(digest_alg)
        h.update(content)
        if not hmac.compare_digest(h.finalize(), digests[0]):
            raise CmsError(INVALID_SIGNATURE, "the messageDigest does not match the content")
        to_verify = b"\x31" + signed_attrs.dump()[1:]  # [0] IMPLICIT -> SET OF (RFC 5652 §5.4)
    else:
        to_verify = content
    sig_algo = si["signature_algorithm"]
    kind = sig_algo.signature_algo
    pad: apadding.AsymmetricPadding
    if kind == "rsassa_pkcs1v15":
        pad = apadding.PKCS1v15()
    elif kind == "rsassa_pss":
        params = sig_algo["parameters"]
        mgf_hash = params["mask_gen_algorithm"]["parameters"]["algorithm"].native
        pad = apadding.PSS(
            mgf=apadding.MGF1(_hash(mgf_hash)), salt_length=params["salt_length"].native
        )
    else:
        raise CmsError(INVALID_SIGNATURE, f"signature algorithm {kind} is not supported")
    try:
        public_key.verify(si["signature"].native, to_verify, pad, digest_alg)
    except InvalidSignature as exc:
        raise CmsError(INVALID_SIGNATURE, "the signature does not verify") from exc


def _attributes(attrs: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for attr in attrs:
        out.setdefault(attr["type"].native, []).extend(v.native for v in attr["values"])
    return out
