"""Certificate checks (validity, key usage, 30-day warning) and PEM loading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapter.crypto.certs import (
    CertificateLoadError,
    CertProblem,
    Severity,
    check_certificate,
    load_certificate,
    load_certificates,
    load_private_key,
    pair_keys,
)
from adapter.testing import TestPki, make_test_pki

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_test_pki(tmp_path_factory.mktemp("pki"), now=NOW)


def _codes(problems: list[CertProblem]) -> set[str]:
    return {p.code for p in problems}


def test_fresh_certificates_have_no_problems(pki: TestPki) -> None:
    party = pki.party("clinic")
    assert check_certificate(party.signing.cert, NOW, "signing") == []
    assert check_certificate(party.encryption.cert, NOW, "encryption") == []


def test_missing_certificate_is_an_error() -> None:
    [problem] = check_certificate(None, NOW, "encryption")
    assert problem.code == "missing"
    assert problem.is_error


def test_expired_and_not_yet_valid_are_errors(pki: TestPki) -> None:
    cert = pki.party("clinic").signing.cert
    assert _codes(check_certificate(cert, NOW + timedelta(days=800), "signing")) == {"expired"}
    assert _codes(check_certificate(cert, NOW - timedelta(days=5), "signing")) == {"not-yet-valid"}


def test_expiry_within_30_days_is_only_a_warning(pki: TestPki) -> None:
    cert = pki.issue(
        "clinic",
        "signing",
        not_before=NOW - timedelta(days=100),
        not_after=NOW + timedelta(days=10),
    ).cert
    [problem] = check_certificate(cert, NOW, "signing")
    assert problem.code == "expiring-soon"
    assert problem.severity is Severity.WARNING
    assert "in 10 days" in problem.message or "in 9 days" in problem.message
    assert check_certificate(cert, NOW - timedelta(days=25), "signing") == []


def test_wrong_key_usage_is_an_error_for_each_purpose(pki: TestPki) -> None:
    party = pki.party("clinic")
    assert _codes(check_certificate(party.encryption.cert, NOW, "signing")) == {"key-usage"}
    assert _codes(check_certificate(party.signing.cert, NOW, "encryption")) == {"key-usage"}


def test_certificate_without_key_usage_extension_is_an_error(pki: TestPki) -> None:
    cert = pki.issue("clinic", "signing", key_usage="none").cert
    assert _codes(check_certificate(cert, NOW, "signing")) == {"key-usage"}


def test_pem_files_round_trip(pki: TestPki) -> None:
    cred = pki.party("helsenorge").encryption
    assert cred.cert_path is not None
    assert cred.key_path is not None
    assert load_certificate(cred.cert_path) == cred.cert
    key = load_private_key(cred.key_path)
    assert key.private_numbers() == cred.key.private_numbers()


def test_pem_bundle_loads_every_certificate(pki: TestPki, tmp_path: Path) -> None:
    a, b = pki.party("clinic").encryption, pki.party("other").encryption
    assert a.cert_path is not None
    assert b.cert_path is not None
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(a.cert_path.read_bytes() + b.cert_path.read_bytes())
    assert load_certificates(bundle) == [a.cert, b.cert]


def test_missing_or_garbage_files_give_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CertificateLoadError, match="cannot read"):
        load_certificate(tmp_path / "nope.pem")
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with pytest.raises(CertificateLoadError, match="no readable certificate"):
        load_certificate(junk)
    with pytest.raises(CertificateLoadError, match="no readable private key"):
        load_private_key(junk)


def test_test_pki_writes_pem_files_without_committing_anything(tmp_path: Path) -> None:
    pki = make_test_pki(tmp_path, now=NOW, parties={"a": "1"})
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "a-encryption.key",
        "a-encryption.pem",
        "a-signing.key",
        "a-signing.pem",
        "ca.pem",
    ]
    assert (tmp_path / "a-signing.key").stat().st_mode & 0o077 == 0
    assert pki.party("a").her_id == "1"


def test_pair_keys_matches_each_key_with_its_certificates(pki: TestPki) -> None:
    clinic, other = pki.party("clinic").encryption, pki.party("other").encryption
    pairs = pair_keys([clinic.key], [other.cert, clinic.cert])
    assert [(k, c) for k, c in pairs] == [(clinic.key, clinic.cert)]
    with pytest.raises(CertificateLoadError, match="decryption key 1 has no matching"):
        pair_keys([other.key], [clinic.cert])
