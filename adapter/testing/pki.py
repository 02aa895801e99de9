"""A throw-away PKI for tests: a CA and per-party signing and encryption certificates.

Nothing here is used in production. No key material is ever committed: every
test generates its own with :func:`make_test_pki`, which builds a CA and, for each
named party, a signing and an encryption key pair with certificates shaped like
the Norwegian enterprise certificates (virksomhetssertifikater) NHN parties use:

- signing certificate: key usage digitalSignature + nonRepudiation;
- encryption certificate: key usage keyEncipherment + dataEncipherment.

Variants with the wrong validity period or key usage are made with
:meth:`TestPki.issue`, so that certificate checks can be exercised.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from asn1crypto import algos, core
from asn1crypto import cms as acms
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID

__all__ = [
    "DEFAULT_PARTIES",
    "KeyPurpose",
    "TestCredential",
    "TestParty",
    "TestPki",
    "envelope_for_tests",
    "key_usage_for",
    "make_test_pki",
]

#: What a key pair is for.
KeyPurpose = Literal["signing", "encryption"]

#: Parties made by default: name -> HER-id (Helsenorge's level-2 service and an example clinic).
DEFAULT_PARTIES: dict[str, str] = {
    "helsenorge": "8093248",
    "clinic": "91095",
    "other": "99999",
}

_KEY_SIZE = 2048
_serials = itertools.count(1000)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=_KEY_SIZE)


def key_usage_for(purpose: KeyPurpose | Literal["ca", "none"]) -> x509.KeyUsage | None:
    """The key usage extension a certificate for ``purpose`` carries (None: no extension)."""
    if purpose == "none":
        return None
    return x509.KeyUsage(
        digital_signature=purpose == "signing",
        content_commitment=purpose == "signing",
        key_encipherment=purpose == "encryption",
        data_encipherment=purpose == "encryption",
        key_agreement=False,
        key_cert_sign=purpose == "ca",
        crl_sign=purpose == "ca",
        encipher_only=False,
        decipher_only=False,
    )


@dataclass(frozen=True, slots=True)
class TestCredential:
    """A private key with its certificate (and their PEM files, when written)."""

    __test__ = False

    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    cert_path: Path | None = None
    key_path: Path | None = None


@dataclass(frozen=True, slots=True)
class TestParty:
    """A communication party's two credentials."""

    __test__ = False

    name: str
    her_id: str
    signing: TestCredential
    encryption: TestCredential


@dataclass(slots=True)
class TestPki:
    """A CA and the parties it has issued certificates to."""

    __test__ = False

    ca_key: rsa.RSAPrivateKey
    ca_cert: x509.Certificate
    now: datetime
    directory: Path | None = None
    ca_path: Path | None = None
    parties: dict[str, TestParty] = field(default_factory=dict)

    def party(self, name: str) -> TestParty:
        """A party by name (KeyError if the PKI has none by that name)."""
        return self.parties[name]

    def add_party(self, name: str, her_id: str) -> TestParty:
        """Issue a signing and an encryption credential for a new party."""
        party = TestParty(
            name=name,
            her_id=her_id,
            signing=self.issue(name, "signing"),
            encryption=self.issue(name, "encryption"),
        )
        self.parties[name] = party
        return party

    def issue(
        self,
        name: str,
        purpose: KeyPurpose,
        *,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        key_usage: KeyPurpose | Literal["ca", "none"] | None = None,
        key: rsa.RSAPrivateKey | None = None,
        file_stem: str | None = None,
    ) -> TestCredential:
        """Issue a credential. Defaults: valid from a day ago for two years, usage fits purpose.

        Pass ``not_after`` in the past for an expired certificate, ``not_before`` in
        the future for one not yet valid, or another ``key_usage`` for a wrong-usage
        one. ``file_stem`` names the PEM files (default ``<name>-<purpose>``);
        a second credential with the same stem gets a numbered name.
        """
        key = key or _new_key()
        not_before = not_before or self.now - timedelta(days=1)
        not_after = not_after or self.now + timedelta(days=730)
        usage = key_usage_for(key_usage or purpose)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "NO"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"TEST {name}"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"TEST {name} {purpose}"),
            ]
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(next(_serials))
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                critical=False,
            )
        )
        if usage is not None:
            builder = builder.add_extension(usage, critical=True)
        cert = builder.sign(self.ca_key, hashes.SHA256())
        cert_path = key_path = None
        if self.directory is not None:
            stem = file_stem or f"{name}-{purpose}"
            cert_path = self.directory / f"{stem}.pem"
            n = 2
            while cert_path.exists():
                cert_path = self.directory / f"{stem}-{n}.pem"
                n += 1
            key_path = cert_path.with_suffix(".key")
            _write_cert(cert_path, cert)
            _write_key(key_path, key)
        return TestCredential(key=key, cert=cert, cert_path=cert_path, key_path=key_path)

    def crl(
        self,
        revoked: Iterable[x509.Certificate] = (),
        *,
        next_update: datetime | None = None,
    ) -> x509.CertificateRevocationList:
        """A CRL from the CA listing ``revoked`` (valid for a week unless told)."""
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.ca_cert.subject)
            .last_update(self.now - timedelta(hours=1))
            .next_update(next_update or self.now + timedelta(days=7))
        )
        for cert in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(cert.serial_number)
                .revocation_date(self.now - timedelta(minutes=5))
                .build()
            )
        return builder.sign(self.ca_key, hashes.SHA256())


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _write_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def make_test_pki(
    tmp_dir: Path | None = None,
    *,
    now: datetime | None = None,
    parties: dict[str, str] | None = None,
) -> TestPki:
    """A fresh CA and parties (name -> HER-id, default :data:`DEFAULT_PARTIES`).

    With ``tmp_dir``, PEM files are written there: ``ca.pem``, and per party
    ``<name>-signing.pem/.key`` and ``<name>-encryption.pem/.key``.
    """
    now = now or datetime.now(UTC)
    ca_key = _new_key()
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "NO"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TEST epj-adapter"),
            x509.NameAttribute(NameOID.COMMON_NAME, "TEST epj-adapter CA"),
        ]
    )
    ca_usage = key_usage_for("ca")
    assert ca_usage is not None
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(next(_serials))
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(ca_usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = None
    if tmp_dir is not None:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        ca_path = tmp_dir / "ca.pem"
        _write_cert(ca_path, ca_cert)
    pki = TestPki(ca_key=ca_key, ca_cert=ca_cert, now=now, directory=tmp_dir, ca_path=ca_path)
    for name, her_id in (DEFAULT_PARTIES if parties is None else parties).items():
        pki.add_party(name, her_id)
    return pki


def envelope_for_tests(
    data: bytes,
    recipient: x509.Certificate,
    *,
    cipher: Literal["aes256_cbc", "aes128_cbc", "tripledes_3key"] = "aes256_cbc",
    key_transport: Literal["pkcs1v15", "oaep"] = "pkcs1v15",
    by_key_identifier: bool = False,
) -> bytes:
    """A CMS EnvelopedData (DER) built by hand, for what the adapter never sends itself.

    Used to test what other senders may produce: 3DES content encryption (old .NET
    Framework default), RSAES-OAEP key transport, a recipient named by subject key
    identifier.
    """
    acert = ax509.Certificate.load(recipient.public_bytes(serialization.Encoding.DER))
    if by_key_identifier:
        ski = recipient.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        rid = acms.RecipientIdentifier(
            name="subject_key_identifier", value=core.OctetString(ski.digest)
        )
    else:
        rid = acms.RecipientIdentifier(
            name="issuer_and_serial_number",
            value=acms.IssuerAndSerialNumber(
                {"issuer": acert.issuer, "serial_number": acert.serial_number}
            ),
        )
    if cipher == "tripledes_3key":
        cek, iv = os.urandom(24), os.urandom(8)
        encryptor = Cipher(TripleDES(cek), modes.CBC(iv)).encryptor()
        padder = sym_padding.PKCS7(64).padder()
    else:
        cek = os.urandom(32 if cipher == "aes256_cbc" else 16)
        iv = os.urandom(16)
        encryptor = Cipher(algorithms.AES(cek), modes.CBC(iv)).encryptor()
        padder = sym_padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    public_key = recipient.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    if key_transport == "oaep":
        encrypted_key = public_key.encrypt(
            cek,
            asym_padding.OAEP(
                mgf=asym_padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None
            ),
        )
        kea = acms.KeyEncryptionAlgorithm(
            {
                "algorithm": "rsaes_oaep",
                "parameters": algos.RSAESOAEPParams(
                    {
                        "hash_algorithm": {"algorithm": "sha256"},
                        "mask_gen_algorithm": {
                            "algorithm": "mgf1",
                            "parameters": {"algorithm": "sha256"},
                        },
                    }
                ),
            }
        )
    else:
        encrypted_key = public_key.encrypt(cek, asym_padding.PKCS1v15())
        kea = acms.KeyEncryptionAlgorithm({"algorithm": "rsaes_pkcs1v15"})
    version = "v2" if by_key_identifier else "v0"
    ktri = acms.KeyTransRecipientInfo(
        {
            "version": version,
            "rid": rid,
            "key_encryption_algorithm": kea,
            "encrypted_key": encrypted_key,
        }
    )
    enveloped = acms.EnvelopedData(
        {
            "version": version,
            "recipient_infos": [acms.RecipientInfo(name="ktri", value=ktri)],
            "encrypted_content_info": {
                "content_type": "data",
                "content_encryption_algorithm": algos.EncryptionAlgorithm(
                    {"algorithm": cipher, "parameters": core.OctetString(iv)}
                ),
                "encrypted_content": ciphertext,
            },
        }
    )
    info = acms.ContentInfo({"content_type": "enveloped_data", "content": enveloped})
    der: bytes = info.dump()
    return der
