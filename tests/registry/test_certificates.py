"""Parties' certificates from the routing: newest valid for encryption, reload on change."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from adapter.registry import CertificateStore, FileRegistry, MissingCertificate
from adapter.testing import TestPki
from tests.registry.conftest import NOW, ROUTING


def test_encrypts_to_the_newest_valid_certificate_and_verifies_with_all(
    write_routing: Callable[[str], Path], registry_pki: TestPki
) -> None:
    path = write_routing(ROUTING)
    current = registry_pki.party("helsenorge").encryption.cert
    newer = registry_pki.issue("helsenorge", "encryption", not_before=NOW - timedelta(hours=1))
    future = registry_pki.issue("helsenorge", "encryption", not_before=NOW + timedelta(days=3))
    pems = [c.public_bytes(Encoding.PEM) for c in (current, newer.cert, future.cert)]
    (path.parent / "helsenorge-encryption.pem").write_bytes(b"".join(pems))
    party = FileRegistry.load(path).lookup("8093248")
    store = CertificateStore()
    assert store.encryption_cert(party, NOW) == newer.cert
    assert store.encryption_cert(party, NOW + timedelta(days=4)) == future.cert
    assert len(store.encryption_certs(party)) == 3
    assert store.signing_certs(party) == [registry_pki.party("helsenorge").signing.cert]


def test_a_replaced_certificate_file_is_read_again(
    write_routing: Callable[[str], Path], registry_pki: TestPki
) -> None:
    path = write_routing(ROUTING)
    party = FileRegistry.load(path).lookup("8093248")
    store = CertificateStore()
    first = store.signing_certs(party)
    replacement = registry_pki.issue("helsenorge", "signing").cert
    target = path.parent / "helsenorge-signing.pem"
    target.write_bytes(replacement.public_bytes(Encoding.PEM))
    stamp = target.stat().st_mtime_ns + 1_000_000_000
    os.utime(target, ns=(stamp, stamp))
    assert store.signing_certs(party) == [replacement]
    assert first != [replacement]


def test_party_without_certificates_raises_missing_certificate(
    write_routing: Callable[[str], Path],
) -> None:
    party = FileRegistry.load(write_routing(ROUTING)).lookup("115851")
    with pytest.raises(MissingCertificate, match="115851 has no signing certificate"):
        CertificateStore().signing_certs(party)
    with pytest.raises(MissingCertificate, match="115851 has no encryption certificate"):
        CertificateStore().encryption_cert(party, NOW)
