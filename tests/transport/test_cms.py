"""CMS sign-then-encrypt / decrypt-then-verify, with real keys from a throw-away PKI."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms as acms
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from adapter.crypto.certs import (
    CertificateLoadError,
    CrlRevocationChecker,
    PrivateKey,
    RevocationChecker,
)
from adapter.testing import TestCredential, TestPki, envelope_for_tests, make_test_pki
from adapter.transport.cms import (
    DECRYPTION_FAILED,
    EXPIRED_CERTIFICATE,
    INVALID_CERTIFICATE,
    INVALID_SIGNATURE,
    REVOKED_CERTIFICATE,
    CmsError,
    CmsProtection,
    NoProtection,
    Protection,
    TransientCmsError,
)

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
PAYLOAD = (
    '<MsgHead xmlns="http://www.kith.no/xmlstds/msghead/2006-05-24">æøå\r\n</MsgHead>'.encode()
)


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return make_test_pki(now=NOW)


def _protection(
    signing: TestCredential,
    decryption: list[TestCredential],
    *,
    now: datetime = NOW,
    allow_legacy_ciphers: bool = False,
    revocation: RevocationChecker | None = None,
) -> CmsProtection:
    return CmsProtection(
        signing.key,
        signing.cert,
        [(c.key, c.cert) for c in decryption],
        allow_legacy_ciphers=allow_legacy_ciphers,
        revocation=revocation,
        clock=lambda: now,
    )


@pytest.fixture(scope="module")
def clinic(pki: TestPki) -> CmsProtection:
    p = pki.party("clinic")
    return _protection(p.signing, [p.encryption])


@pytest.fixture(scope="module")
def helsenorge(pki: TestPki) -> CmsProtection:
    p = pki.party("helsenorge")
    return _protection(p.signing, [p.encryption])


def _condition(fn: Callable[[], object]) -> str:
    with pytest.raises(CmsError) as info:
        fn()
    return info.value.condition


def _sign(data: bytes, cred: TestCredential, *options: pkcs7.PKCS7Options) -> bytes:
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(data)
        .add_signer(cred.cert, cred.key, hashes.SHA256())
        .sign(Encoding.DER, [pkcs7.PKCS7Options.Binary, *options])
    )


def _envelope(data: bytes, recipient: x509.Certificate) -> bytes:
    return (
        pkcs7.PKCS7EnvelopeBuilder()
        .set_data(data)
        .add_recipient(recipient)
        .set_content_encryption_algorithm(algorithms.AES256)
        .encrypt(Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )


def _open_envelope(data: bytes, key: PrivateKey, cert: x509.Certificate) -> bytes:
    return pkcs7.pkcs7_decrypt_der(data, cert, key, [])


# --- round trip and shape ----------------------------------------------------------------


def test_round_trip_returns_the_exact_payload(
    pki: TestPki, clinic: CmsProtection, helsenorge: CmsProtection
) -> None:
    protected = helsenorge.protect(PAYLOAD, pki.party("clinic").encryption.cert)
    assert PAYLOAD not in protected
    assert clinic.unprotect(protected, pki.party("helsenorge").signing.cert) == PAYLOAD


def test_protected_message_is_aes256_enveloped_signed_data_with_signed_attributes(
    pki: TestPki, helsenorge: CmsProtection
) -> None:
    protected = helsenorge.protect(PAYLOAD, pki.party("clinic").encryption.cert)
    info = acms.ContentInfo.load(protected)
    assert info["content_type"].native == "enveloped_data"
    eci = info["content"]["encrypted_content_info"]
    assert eci["content_encryption_algorithm"]["algorithm"].native == "aes256_cbc"
    ktri = info["content"]["recipient_infos"][0].chosen
    assert ktri["key_encryption_algorithm"]["algorithm"].native == "rsaes_pkcs1v15"
    assert ktri["rid"].name == "issuer_and_serial_number"

    clinic_enc = pki.party("clinic").encryption
    signed = acms.ContentInfo.load(_open_envelope(protected, clinic_enc.key, clinic_enc.cert))
    assert signed["content_type"].native == "signed_data"
    sd = signed["content"]
    assert sd["encap_content_info"]["content"].native == PAYLOAD  # encapsulated, not detached
    si = sd["signer_infos"][0]
    assert si["digest_algorithm"]["algorithm"].native == "sha256"
    assert si["signature_algorithm"].signature_algo == "rsassa_pkcs1v15"
    attrs = {a["type"].native for a in si["signed_attrs"]}
    assert {"content_type", "message_digest", "signing_time"} <= attrs


# --- signature faults --------------------------------------------------------------------


def _resign(
    protected: bytes, opener: TestCredential, edit: Callable[[acms.ContentInfo], None]
) -> bytes:
    """Decrypt, edit the SignedData, re-encrypt to the same recipient."""
    signed = acms.ContentInfo.load(_open_envelope(protected, opener.key, opener.cert))
    edit(signed)
    return _envelope(signed.dump(force=True), opener.cert)


def test_forged_signature_is_invalid_signature(
    pki: TestPki, clinic: CmsProtection, helsenorge: CmsProtection
) -> None:
    enc = pki.party("clinic").encryption
    protected = helsenorge.protect(PAYLOAD, enc.cert)

    def flip_signature(signed: acms.ContentInfo) -> None:
        si = signed["content"]["signer_infos"][0]
        sig = bytearray(si["signature"].native)
        sig[10] ^= 0x01
        si["signature"] = bytes(sig)

    forged = _resign(protected, enc, flip_signature)
    expected = pki.party("helsenorge").signing.cert
    assert _condition(lambda: clinic.unprotect(forged, expected)) == INVALID_SIGNATURE


def test_tampered_signed_content_fails_the_message_digest(
    pki: TestPki, clinic: CmsProtection, helsenorge: CmsProtection
) -> None:
    enc = pki.party("clinic").encryption
    protected = helsenorge.protect(PAYLOAD, enc.cert)

    def replace_content(signed: acms.ContentInfo) -> None:
        signed["content"]["encap_content_info"]["content"] = PAYLOAD.replace(b"MsgHead", b"MsgHeaD")

    tampered = _resign(protected, enc, replace_content)
    with pytest.raises(CmsError) as info:
        clinic.unprotect(tampered, pki.party("helsenorge").signing.cert)
    assert info.value.condition == INVALID_SIGNATURE
    assert "messageDigest" in info.value.description


def test_message_signed_by_another_partys_valid_certificate_is_invalid_signature(
    pki: TestPki, clinic: CmsProtection
) -> None:
    other = pki.party("other")
    impostor = _protection(other.signing, [other.encryption])
    protected = impostor.protect(PAYLOAD, pki.party("clinic").encryption.cert)
    expected = pki.party("helsenorge").signing.cert
    assert _condition(lambda: clinic.unprotect(protected, expected)) == INVALID_SIGNATURE


def test_signer_identity_copied_but_key_differs_is_invalid_signature(
    pki: TestPki, clinic: CmsProtection
) -> None:
    """A certificate with the expected issuer and serial but another key (a forged copy)."""
    hn = pki.party("helsenorge").signing
    other_key = pki.party("other").signing.key
    fake_cert = (
        x509.CertificateBuilder()
        .subject_name(hn.cert.subject)
        .issuer_name(hn.cert.issuer)
        .public_key(other_key.public_key())
        .serial_number(hn.cert.serial_number)
        .not_valid_before(hn.cert.not_valid_before_utc)
        .not_valid_after(hn.cert.not_valid_after_utc)
        .sign(other_key, hashes.SHA256())
    )
    signed = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(PAYLOAD)
        .add_signer(fake_cert, other_key, hashes.SHA256())
        .sign(Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )
    protected = _envelope(signed, pki.party("clinic").encryption.cert)
    assert _condition(lambda: clinic.unprotect(protected, hn.cert)) == INVALID_SIGNATURE


def test_enveloped_but_unsigned_content_is_invalid_signature(
    pki: TestPki, clinic: CmsProtection
) -> None:
    protected = _envelope(PAYLOAD, pki.party("clinic").encryption.cert)
    expected = pki.party("helsenorge").signing.cert
    assert _condition(lambda: clinic.unprotect(protected, expected)) == INVALID_SIGNATURE


def test_detached_signature_is_invalid_signature(pki: TestPki, clinic: CmsProtection) -> None:
    hn = pki.party("helsenorge").signing
    signed = _sign(PAYLOAD, hn, pkcs7.PKCS7Options.DetachedSignature)
    protected = _envelope(signed, pki.party("clinic").encryption.cert)
    assert _condition(lambda: clinic.unprotect(protected, hn.cert)) == INVALID_SIGNATURE


def test_signature_without_signed_attributes_is_accepted(
    pki: TestPki, clinic: CmsProtection
) -> None:
    hn = pki.party("helsenorge").signing
    signed = _sign(PAYLOAD, hn, pkcs7.PKCS7Options.NoAttributes)
    protected = _envelope(signed, pki.party("clinic").encryption.cert)
    assert clinic.unprotect(protected, hn.cert) == PAYLOAD


def test_rsa_pss_signature_is_accepted(pki: TestPki, clinic: CmsProtection) -> None:
    hn = pki.party("helsenorge").signing
    signed = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(PAYLOAD)
        .add_signer(
            hn.cert,
            hn.key,
            hashes.SHA256(),
            rsa_padding=padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH),
        )
        .sign(Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )
    protected = _envelope(signed, pki.party("clinic").encryption.cert)
    assert clinic.unprotect(protected, hn.cert) == PAYLOAD


# --- ciphertext and decryption faults ---------------------------------------------------


def _edit_ciphertext(protected: bytes, edit: Callable[[bytes], bytes]) -> bytes:
    info = acms.ContentInfo.load(protected)
    eci = info["content"]["encrypted_content_info"]
    eci["encrypted_content"] = edit(eci["encrypted_content"].native)
    result: bytes = info.dump(force=True)
    return result


def test_truncated_ciphertext_is_decryption_failed(
    pki: TestPki, clinic: CmsProtection, helsenorge: CmsProtection
) -> None:
    protected = helsenorge.protect(PAYLOAD, pki.party("clinic").encryption.cert)
    broken = _edit_ciphertext(protected, lambda c: c[:-1])
    expected = pki.party("helsenorge").signing.cert
    assert _condition(lambda: clinic.unprotect(broken, expected)) == DECRYPTION_FAILED


@pytest.mark.parametrize("position", [0, 40, -20])
def test_tampered_ciphertext_is_refused(
    pki: TestPki, clinic: CmsProtection, helsenorge: CmsProtection, position: int
) -> None:
    protected = helsenorge.protect(PAYLOAD, pki.party("clinic").encryption.cert)

    def flip(c: bytes) -> bytes:
        b = bytearray(c)
        b[position] ^= 0x55
        return bytes(b)

    broken = _edit_ciphertext(protected, flip)
    expected = pki.party("helsenorge").signing.cert
    assert _condition(lambda: clinic.unprotect(broken, expected)) in {
        DECRYPTION_FAILED,
        INVALID_SIGNATURE,
    }


def test_message_for_someone_else_is_decryption_failed(
    pki: TestPki, clinic: CmsProtection, helsenorge: CmsProtection
) -> None:
    protected = helsenorge.protect(PAYLOAD, pki.party("other").encryption.cert)
    with pytest.raises(CmsError) as info:
        clinic.unprotect(protected, pki.party("helsenorge").signing.cert)
    assert info.value.condition == DECRYPTION_FAILED
    assert "not encrypted to any of our" in info.value.description


@pytest.mark.parametrize("data", [b"", b"<MsgHead/>", b"\x30\x03\x02\x01\x01", b"\x30\x80garbage"])
def test_non_cms_input_is_decryption_failed(
    pki: TestPki, clinic: CmsProtection, data: bytes
) -> None:
    expected = pki.party("helsenorge").signing.cert
    assert _condition(lambda: clinic.unprotect(data, expected)) == DECRYPTION_FAILED


def test_signed_data_that_is_not_enveloped_is_decryption_failed(
    pki: TestPki, clinic: CmsProtection
) -> None:
    hn = pki.party("helsenorge").signing
    assert _condition(lambda: clinic.unprotect(_sign(PAYLOAD, hn), hn.cert)) == DECRYPTION_FAILED


def test_output_decrypts_with_a_standard_cms_implementation(
    pki: TestPki, helsenorge: CmsProtection
) -> None:
    enc = pki.party("clinic").encryption
    signed = _open_envelope(helsenorge.protect(PAYLOAD, enc.cert), enc.key, enc.cert)
    assert acms.ContentInfo.load(signed)["content"]["encap_content_info"]["content"].native == (
        PAYLOAD
    )


# --- rollover and other senders' choices --------------------------------------------------


def test_rollover_old_and_new_decryption_keys_both_work(pki: TestPki) -> None:
    clinic = pki.party("clinic")
    new = pki.issue("clinic", "encryption")
    receiver = _protection(clinic.signing, [new, clinic.encryption])
    hn = pki.party("helsenorge")
    sender = _protection(hn.signing, [hn.encryption])
    for target in (clinic.encryption.cert, new.cert):
        assert receiver.unprotect(sender.protect(PAYLOAD, target), hn.signing.cert) == PAYLOAD
    only_new = _protection(clinic.signing, [new])
    old_msg = sender.protect(PAYLOAD, clinic.encryption.cert)
    assert _condition(lambda: only_new.unprotect(old_msg, hn.signing.cert)) == DECRYPTION_FAILED


def test_recipient_named_by_subject_key_identifier_decrypts(
    pki: TestPki, clinic: CmsProtection
) -> None:
    hn = pki.party("helsenorge").signing
    protected = envelope_for_tests(
        _sign(PAYLOAD, hn), pki.party("clinic").encryption.cert, by_key_identifier=True
    )
    assert clinic.unprotect(protected, hn.cert) == PAYLOAD


def _issuer_as(name: object, *, printable: bool) -> object:
    """``name`` (an asn1crypto Name) encoded again: as PrintableString where it was
    UTF8String (``printable``), the same name by RFC 5280 §7.1 in other bytes."""
    from asn1crypto import x509 as ax509

    assert isinstance(name, ax509.Name)
    return ax509.Name.build(name.native, use_printable=printable)


def _with_recipient_issuer(protected: bytes, issuer: object) -> bytes:
    """The EnvelopedData with its recipient's issuerAndSerialNumber naming ``issuer``
    (the serial kept): the recipient identifier is outside the encryption."""
    info = acms.ContentInfo.load(protected)
    rid = info["content"]["recipient_infos"][0].chosen["rid"]
    assert rid.name == "issuer_and_serial_number"
    rid.chosen["issuer"] = issuer
    result: bytes = info.dump(force=True)
    return result


def test_a_recipient_named_by_its_issuer_in_another_string_encoding_decrypts(
    pki: TestPki, clinic: CmsProtection, helsenorge: CmsProtection
) -> None:
    """RFC 5652 §6.2.1 names the recipient by issuer and serial number; the issuer is a
    Name, compared as RFC 5280 §7.1 says, whatever string type the sender encoded."""
    enc = pki.party("clinic").encryption
    protected = helsenorge.protect(PAYLOAD, enc.cert)
    original = acms.ContentInfo.load(protected)["content"]["recipient_infos"][0].chosen["rid"]
    issuer = _issuer_as(original.chosen["issuer"], printable=True)
    assert issuer.dump() != original.chosen["issuer"].dump()  # type: ignore[attr-defined]
    renamed = _with_recipient_issuer(protected, issuer)
    assert clinic.unprotect(renamed, pki.party("helsenorge").signing.cert) == PAYLOAD


def test_a_recipient_named_by_another_issuer_with_our_serial_is_not_us(
    pki: TestPki, clinic: CmsProtection, helsenorge: CmsProtection
) -> None:
    from asn1crypto import x509 as ax509

    protected = helsenorge.protect(PAYLOAD, pki.party("clinic").encryption.cert)
    other = ax509.Name.build({"common_name": "Another CA", "country_name": "NO"})
    renamed = _with_recipient_issuer(protected, other)
    with pytest.raises(CmsError) as info:
        clinic.unprotect(renamed, pki.party("helsenorge").signing.cert)
    assert info.value.condition == DECRYPTION_FAILED
    assert "not encrypted to any of our" in info.value.description


def _with_signer_issuer(protected: bytes, opener: TestCredential, issuer: object) -> bytes:
    def rename(signed: acms.ContentInfo) -> None:
        sid = signed["content"]["signer_infos"][0]["sid"]
        assert sid.name == "issuer_and_serial_number"
        sid.chosen["issuer"] = issuer

    return _resign(protected, opener, rename)


def test_a_signer_named_by_its_issuer_in_another_string_encoding_verifies(
    pki: TestPki, clinic: CmsProtection, helsenorge: CmsProtection
) -> None:
    """RFC 5652 §5.3: the SignerIdentifier names the signer's certificate; the same
    issuer in other bytes is the same certificate (the sid is not signed)."""
    enc, hn = pki.party("clinic").encryption, pki.party("helsenorge").signing
    protected = helsenorge.protect(PAYLOAD, enc.cert)
    from asn1crypto import x509 as ax509

    issuer = _issuer_as(
        ax509.Certificate.load(hn.cert.public_bytes(Encoding.DER)).issuer, printable=True
    )
    renamed = _with_signer_issuer(protected, enc, issuer)
    assert clinic.unprotect(renamed, hn.cert) == PAYLOAD


def test_a_signer_named_by_another_issuer_with_the_expected_serial_is_invalid_signature(
    pki: TestPki, clinic: CmsProtection, helsenorge: CmsProtection
) -> None:
    from asn1crypto import x509 as ax509

    enc, hn = pki.party("clinic").encryption, pki.party("helsenorge").signing
    protected = helsenorge.protect(PAYLOAD, enc.cert)
    other = ax509.Name.build({"common_name": "Another CA", "country_name": "NO"})
    renamed = _with_signer_issuer(protected, enc, other)
    assert _condition(lambda: clinic.unprotect(renamed, hn.cert)) == INVALID_SIGNATURE


def test_oaep_key_transport_is_accepted(pki: TestPki, clinic: CmsProtection) -> None:
    hn = pki.party("helsenorge").signing
    protected = envelope_for_tests(
        _sign(PAYLOAD, hn), pki.party("clinic").encryption.cert, key_transport="oaep"
    )
    assert clinic.unprotect(protected, hn.cert) == PAYLOAD


def test_3des_content_encryption_is_rejected_unless_allowed(pki: TestPki) -> None:
    clinic = pki.party("clinic")
    hn = pki.party("helsenorge").signing
    protected = envelope_for_tests(
        _sign(PAYLOAD, hn), clinic.encryption.cert, cipher="tripledes_3key"
    )
    strict = _protection(clinic.signing, [clinic.encryption])
    with pytest.raises(CmsError) as info:
        strict.unprotect(protected, hn.cert)
    assert info.value.condition == DECRYPTION_FAILED
    assert "3DES" in info.value.description
    lenient = _protection(clinic.signing, [clinic.encryption], allow_legacy_ciphers=True)
    assert lenient.unprotect(protected, hn.cert) == PAYLOAD


def test_aes128_content_encryption_is_accepted(pki: TestPki, clinic: CmsProtection) -> None:
    hn = pki.party("helsenorge").signing
    protected = envelope_for_tests(
        _sign(PAYLOAD, hn), pki.party("clinic").encryption.cert, cipher="aes128_cbc"
    )
    assert clinic.unprotect(protected, hn.cert) == PAYLOAD


# --- certificate faults --------------------------------------------------------------------


def _signed_by(pki: TestPki, cred: TestCredential) -> bytes:
    """Signed and encrypted without protect()'s checks of the sender's own certificate."""
    return _envelope(_sign(PAYLOAD, cred), pki.party("clinic").encryption.cert)


def test_expired_signer_certificate_is_expired_certificate(
    pki: TestPki, clinic: CmsProtection
) -> None:
    old = pki.issue(
        "helsenorge",
        "signing",
        not_before=NOW - timedelta(days=400),
        not_after=NOW - timedelta(days=1),
    )
    protected = _signed_by(pki, old)
    assert _condition(lambda: clinic.unprotect(protected, old.cert)) == EXPIRED_CERTIFICATE


def test_not_yet_valid_signer_certificate_is_expired_certificate(
    pki: TestPki, clinic: CmsProtection
) -> None:
    future = pki.issue("helsenorge", "signing", not_before=NOW + timedelta(days=2))
    protected = _signed_by(pki, future)
    assert _condition(lambda: clinic.unprotect(protected, future.cert)) == EXPIRED_CERTIFICATE


def test_signer_certificate_without_signing_usage_is_invalid_certificate(
    pki: TestPki, clinic: CmsProtection
) -> None:
    wrong = pki.issue("helsenorge", "signing", key_usage="encryption")
    protected = _signed_by(pki, wrong)
    assert _condition(lambda: clinic.unprotect(protected, wrong.cert)) == INVALID_CERTIFICATE


def test_protect_refuses_an_expired_recipient_certificate(
    pki: TestPki, helsenorge: CmsProtection
) -> None:
    old = pki.issue(
        "clinic", "encryption", not_before=NOW - timedelta(days=40), not_after=NOW - timedelta(1)
    )
    assert _condition(lambda: helsenorge.protect(PAYLOAD, old.cert)) == EXPIRED_CERTIFICATE


def test_protect_refuses_a_recipient_certificate_not_for_encryption(
    pki: TestPki, helsenorge: CmsProtection
) -> None:
    signing_only = pki.party("clinic").signing.cert
    assert _condition(lambda: helsenorge.protect(PAYLOAD, signing_only)) == INVALID_CERTIFICATE


def test_protect_refuses_when_our_signing_certificate_has_expired(pki: TestPki) -> None:
    hn = pki.party("helsenorge")
    later = _protection(hn.signing, [hn.encryption], now=NOW + timedelta(days=800))
    target = pki.issue("clinic", "encryption", not_after=NOW + timedelta(days=900))
    with pytest.raises(CmsError) as info:
        later.protect(PAYLOAD, target.cert)
    assert info.value.condition == EXPIRED_CERTIFICATE
    assert info.value.description.startswith("our ")


# --- revocation ---------------------------------------------------------------------------


def _write_crl(pki: TestPki, path: Path, *revoked: x509.Certificate, **kw: datetime) -> Path:
    path.write_bytes(pki.crl(revoked, **kw).public_bytes(Encoding.DER))
    return path


def test_revoked_signer_certificate_is_revoked_certificate(
    pki: TestPki, helsenorge: CmsProtection, tmp_path: Path
) -> None:
    hn = pki.party("helsenorge").signing
    crl = _write_crl(pki, tmp_path / "ca.crl", hn.cert)
    clinic = pki.party("clinic")
    checker = CrlRevocationChecker([crl], issuers=[pki.ca_cert])
    receiver = _protection(clinic.signing, [clinic.encryption], revocation=checker)
    protected = helsenorge.protect(PAYLOAD, clinic.encryption.cert)
    assert _condition(lambda: receiver.unprotect(protected, hn.cert)) == REVOKED_CERTIFICATE


def test_good_certificate_on_a_fresh_crl_passes(
    pki: TestPki, helsenorge: CmsProtection, tmp_path: Path
) -> None:
    crl = _write_crl(pki, tmp_path / "ca.crl", pki.party("other").signing.cert)
    clinic = pki.party("clinic")
    checker = CrlRevocationChecker([crl], issuers=[pki.ca_cert])
    receiver = _protection(clinic.signing, [clinic.encryption], revocation=checker)
    protected = helsenorge.protect(PAYLOAD, clinic.encryption.cert)
    assert receiver.unprotect(protected, pki.party("helsenorge").signing.cert) == PAYLOAD


@pytest.mark.parametrize("source", ["missing.crl", "http://127.0.0.1:9/ca.crl"])
def test_unreachable_crl_is_a_transient_fault_not_a_rejection(
    pki: TestPki, helsenorge: CmsProtection, tmp_path: Path, source: str
) -> None:
    where = source if source.startswith("http") else str(tmp_path / source)
    clinic = pki.party("clinic")
    checker = CrlRevocationChecker([where], timeout=1.0)
    receiver = _protection(clinic.signing, [clinic.encryption], revocation=checker)
    protected = helsenorge.protect(PAYLOAD, clinic.encryption.cert)
    with pytest.raises(TransientCmsError):
        receiver.unprotect(protected, pki.party("helsenorge").signing.cert)


def test_stale_crl_is_a_transient_fault(
    pki: TestPki, helsenorge: CmsProtection, tmp_path: Path
) -> None:
    crl = _write_crl(pki, tmp_path / "ca.crl", next_update=NOW - timedelta(minutes=1))
    clinic = pki.party("clinic")
    receiver = _protection(
        clinic.signing, [clinic.encryption], revocation=CrlRevocationChecker([crl])
    )
    protected = helsenorge.protect(PAYLOAD, clinic.encryption.cert)
    with pytest.raises(TransientCmsError):
        receiver.unprotect(protected, pki.party("helsenorge").signing.cert)


def test_crl_signed_by_another_ca_is_not_trusted(
    pki: TestPki, helsenorge: CmsProtection, tmp_path: Path
) -> None:
    rogue = make_test_pki(now=NOW, parties={})
    rogue.ca_cert = pki.ca_cert  # same issuer name, different key: signature cannot verify
    forged = tmp_path / "forged.crl"
    forged.write_bytes(rogue.crl([pki.party("helsenorge").signing.cert]).public_bytes(Encoding.DER))
    clinic = pki.party("clinic")
    checker = CrlRevocationChecker([forged], issuers=[pki.ca_cert])
    receiver = _protection(clinic.signing, [clinic.encryption], revocation=checker)
    protected = helsenorge.protect(PAYLOAD, clinic.encryption.cert)
    with pytest.raises(TransientCmsError):
        receiver.unprotect(protected, pki.party("helsenorge").signing.cert)


def test_sender_rollover_accepts_either_registered_signing_certificate(
    pki: TestPki, clinic: CmsProtection
) -> None:
    old = pki.party("helsenorge").signing
    new = pki.issue("helsenorge", "signing")
    target = pki.party("clinic").encryption.cert
    for signer in (old, new):
        protected = envelope_for_tests(_sign(PAYLOAD, signer), target)
        assert clinic.unprotect(protected, [old.cert, new.cert]) == PAYLOAD
    protected = envelope_for_tests(_sign(PAYLOAD, new), target)
    assert _condition(lambda: clinic.unprotect(protected, [old.cert])) == INVALID_SIGNATURE


# --- construction and the plain alternative ----------------------------------------------


def test_from_files_pairs_decryption_keys_with_our_certificates(tmp_path: Path) -> None:
    files = make_test_pki(tmp_path, now=NOW, parties={"clinic": "1", "helsenorge": "2"})
    clinic, hn = files.party("clinic"), files.party("helsenorge")
    assert clinic.signing.key_path
    assert clinic.signing.cert_path
    assert clinic.encryption.key_path
    protection: Protection = CmsProtection.from_files(
        clinic.signing.key_path,
        clinic.signing.cert_path,
        [clinic.encryption.key_path],
        [hn.encryption.cert, clinic.encryption.cert],
        clock=lambda: NOW,
    )
    assert protection.content_type == "application/pkcs7-mime; smime-type=signed-and-enveloped-data"
    sender = _protection(hn.signing, [hn.encryption])
    protected = sender.protect(PAYLOAD, clinic.encryption.cert)
    assert protection.unprotect(protected, hn.signing.cert) == PAYLOAD


def test_from_files_refuses_a_key_that_does_not_match_the_certificate(tmp_path: Path) -> None:
    files = make_test_pki(tmp_path, now=NOW, parties={"clinic": "1"})
    clinic = files.party("clinic")
    assert clinic.encryption.key_path
    assert clinic.signing.cert_path
    with pytest.raises(CertificateLoadError, match="is not the key of"):
        CmsProtection.from_files(
            clinic.encryption.key_path,
            clinic.signing.cert_path,
            [clinic.encryption.key_path],
            [clinic.encryption.cert],
        )


def test_missing_certificates_are_refused_not_skipped(
    pki: TestPki, clinic: CmsProtection, helsenorge: CmsProtection
) -> None:
    protected = helsenorge.protect(PAYLOAD, pki.party("clinic").encryption.cert)
    assert _condition(lambda: clinic.unprotect(protected, None)) == INVALID_CERTIFICATE
    assert _condition(lambda: clinic.unprotect(protected, [])) == INVALID_CERTIFICATE
    assert _condition(lambda: helsenorge.protect(PAYLOAD, None)) == INVALID_CERTIFICATE


def test_no_protection_passes_payloads_through() -> None:
    plain: Protection = NoProtection()
    assert plain.content_type == "application/xml"
    assert plain.unprotect(plain.protect(PAYLOAD, None), None) == PAYLOAD
