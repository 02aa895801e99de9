"""Interoperability with an independent CMS implementation: the OpenSSL command line."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms as acms

from adapter.testing import TestPki, make_test_pki
from adapter.transport.cms import DECRYPTION_FAILED, CmsError, CmsProtection

OPENSSL = shutil.which("openssl")
PAYLOAD = "<MsgHead>Kommunikasjonstest æøå\r\n</MsgHead>".encode()

if OPENSSL is None and os.environ.get("CI", "").lower() == "true":
    pytest.fail("openssl is needed for the CMS interoperability tests", pytrace=False)
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="openssl command not installed")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    # certificates valid from a day ago: openssl verifies against the real clock
    return make_test_pki(tmp_path_factory.mktemp("openssl-pki"), now=datetime.now(UTC))


def _openssl(*args: str | Path | None, data: bytes) -> bytes:
    assert OPENSSL is not None
    assert None not in args
    result = subprocess.run(
        [OPENSSL, "cms", *map(str, args)], input=data, capture_output=True, check=False
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


def _openssl_sign_then_encrypt(pki: TestPki, cipher: str, *recipient_options: str) -> bytes:
    hn = pki.party("helsenorge").signing
    clinic = pki.party("clinic").encryption
    signed = _openssl(
        "-sign", "-nodetach", "-binary", "-md", "sha256", "-outform", "DER",
        "-signer", hn.cert_path, "-inkey", hn.key_path,
        data=PAYLOAD,
    )  # fmt: skip
    return _openssl(
        "-encrypt", "-binary", "-outform", "DER", cipher,
        "-recip", clinic.cert_path, *recipient_options,
        data=signed,
    )  # fmt: skip


def _receiver(pki: TestPki, *, allow_legacy: bool = False) -> CmsProtection:
    clinic = pki.party("clinic")
    return CmsProtection(
        clinic.signing.key,
        clinic.signing.cert,
        [(clinic.encryption.key, clinic.encryption.cert)],
        allow_legacy_ciphers=allow_legacy,
        clock=lambda: pki.now + timedelta(minutes=1),
    )


def test_we_read_what_openssl_signs_and_encrypts_with_aes256(pki: TestPki) -> None:
    protected = _openssl_sign_then_encrypt(pki, "-aes256")
    hn = pki.party("helsenorge").signing.cert
    assert _receiver(pki).unprotect(protected, hn) == PAYLOAD


def test_we_read_openssl_oaep_key_transport(pki: TestPki) -> None:
    protected = _openssl_sign_then_encrypt(pki, "-aes256", "-keyopt", "rsa_padding_mode:oaep")
    ktri = acms.ContentInfo.load(protected)["content"]["recipient_infos"][0].chosen
    assert ktri["key_encryption_algorithm"]["algorithm"].native == "rsaes_oaep"
    hn = pki.party("helsenorge").signing.cert
    assert _receiver(pki).unprotect(protected, hn) == PAYLOAD


def test_openssl_3des_is_refused_unless_legacy_ciphers_are_allowed(pki: TestPki) -> None:
    protected = _openssl_sign_then_encrypt(pki, "-des3")
    eci = acms.ContentInfo.load(protected)["content"]["encrypted_content_info"]
    assert eci["content_encryption_algorithm"]["algorithm"].native == "tripledes_3key"
    hn = pki.party("helsenorge").signing.cert
    with pytest.raises(CmsError) as info:
        _receiver(pki).unprotect(protected, hn)
    assert info.value.condition == DECRYPTION_FAILED
    assert _receiver(pki, allow_legacy=True).unprotect(protected, hn) == PAYLOAD


def test_openssl_decrypts_and_verifies_what_we_protect(pki: TestPki) -> None:
    hn = pki.party("helsenorge")
    clinic = pki.party("clinic").encryption
    sender = CmsProtection(
        hn.signing.key, hn.signing.cert, [(hn.encryption.key, hn.encryption.cert)]
    )
    protected = sender.protect(PAYLOAD, clinic.cert)
    signed = _openssl(
        "-decrypt", "-binary", "-inform", "DER", "-recip", clinic.cert_path,
        "-inkey", clinic.key_path,
        data=protected,
    )  # fmt: skip
    content = _openssl(
        "-verify", "-binary", "-inform", "DER", "-CAfile", pki.ca_path, "-purpose", "any",
        data=signed,
    )  # fmt: skip
    assert content == PAYLOAD
