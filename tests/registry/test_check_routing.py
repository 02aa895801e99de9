"""check_routing: what check-config and doctor report about routes and certificates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from adapter.registry import FileRegistry, check_routing, routing_problems
from adapter.testing import TestPki
from tests.registry.conftest import NOW, ROUTING

OURS = ["91000", "91095"]
THEIRS = ["8093248"]


def _check(path: Path, *, check_certificates: bool = True) -> list[str]:
    return check_routing(
        FileRegistry.load(path),
        OURS,
        NOW,
        counterparts=THEIRS,
        check_certificates=check_certificates,
    )


def test_complete_routing_has_no_problems(write_routing: Callable[[str], Path]) -> None:
    assert _check(write_routing(ROUTING)) == []


def test_unknown_and_inactive_parties_are_errors(write_routing: Callable[[str], Path]) -> None:
    registry = FileRegistry.load(write_routing(ROUTING))
    lines = check_routing(registry, ["91000", "91096", "5"], NOW)
    assert len(lines) == 2
    assert any(
        line.startswith("error: HER-id 5: not in the routing: add [parties.5]") for line in lines
    )
    assert "error: HER-id 91096: not active (active = false in the routing)" in lines


def test_missing_queues_are_errors_with_the_fix(write_routing: Callable[[str], Path]) -> None:
    text = ROUTING.replace('error = "91000_error"\n', "").replace(
        'syncreply = "8093248_syncreply"\n', ""
    )
    lines = _check(write_routing(text))
    assert (
        'error: HER-id 91000: no error queue: add error = "91000_error" under '
        "[parties.91000.queues] (or on its parent)" in lines
    )
    # inherited, so the GP misses it too
    assert any(line.startswith("error: HER-id 91095: no error queue") for line in lines)
    # Helsenorge's own syncreply queue is not ours to use: not a problem
    assert not any("8093248" in line for line in lines)


def test_missing_certificate_entry_and_file_are_errors(
    write_routing: Callable[[str], Path],
) -> None:
    text = ROUTING.replace('signing_cert = "clinic-signing.pem"\n', "").replace(
        "helsenorge-encryption.pem", "gone.pem"
    )
    lines = _check(write_routing(text))
    assert any(
        line.startswith("error: HER-id 91000: no signing certificate: add signing_cert")
        for line in lines
    )
    assert any("8093248" in line and "cannot read certificate file" in line for line in lines)


def test_certificate_checks_can_be_skipped_when_cms_is_off(
    write_routing: Callable[[str], Path],
) -> None:
    text = ROUTING.replace("helsenorge-encryption.pem", "gone.pem")
    assert _check(write_routing(text), check_certificates=False) == []


def test_expired_wrong_usage_and_expiring_certificates(
    write_routing: Callable[[str], Path], registry_pki: TestPki
) -> None:
    path = write_routing(ROUTING)
    expired = registry_pki.issue(
        "x", "signing", not_before=NOW - timedelta(days=400), not_after=NOW - timedelta(days=1)
    )
    soon = registry_pki.issue("y", "encryption", not_after=NOW + timedelta(days=12))
    wrong = registry_pki.issue("z", "encryption", key_usage="signing")
    (path.parent / "clinic-signing.pem").write_bytes(expired.cert.public_bytes(Encoding.PEM))
    (path.parent / "clinic-encryption.pem").write_bytes(soon.cert.public_bytes(Encoding.PEM))
    (path.parent / "helsenorge-encryption.pem").write_bytes(wrong.cert.public_bytes(Encoding.PEM))
    problems = routing_problems(FileRegistry.load(path), OURS, NOW, counterparts=THEIRS)
    text = [str(p) for p in problems]
    assert any("91000" in t and "signing certificate" in t and "expired" in t for t in text)
    assert any(t.startswith("warning: HER-id 91000: encryption certificate") for t in text)
    assert any("expires" in t and ("(in 11 days)" in t or "(in 12 days)" in t) for t in text)
    assert any("8093248" in t and "lacks key usage keyEncipherment" in t for t in text)
    # reported once per file, not again for the GP who inherits the clinic's certificates
    assert not any("HER-id 91095" in t for t in text)
    # errors before warnings
    severities = [p.is_error for p in problems]
    assert severities == sorted(severities, reverse=True)


def test_rollover_file_with_an_old_expired_and_a_new_certificate_only_warns(
    write_routing: Callable[[str], Path], registry_pki: TestPki
) -> None:
    path = write_routing(ROUTING)
    old = registry_pki.issue(
        "clinic", "encryption", not_before=NOW - timedelta(days=800), not_after=NOW - timedelta(1)
    )
    current = registry_pki.party("clinic").encryption
    bundle = old.cert.public_bytes(Encoding.PEM) + current.cert.public_bytes(Encoding.PEM)
    (path.parent / "clinic-encryption.pem").write_bytes(bundle)
    lines = _check(path)
    assert len(lines) == 1
    assert lines[0].startswith("warning: HER-id 91000: encryption certificate")
    assert "a newer one in the same file is valid" in lines[0]


def test_private_key_in_a_certificate_file_is_an_error(
    write_routing: Callable[[str], Path], registry_pki: TestPki
) -> None:
    path = write_routing(ROUTING)
    cred = registry_pki.party("clinic").signing
    assert cred.key_path is not None
    target = path.parent / "clinic-signing.pem"
    target.write_bytes(target.read_bytes() + cred.key_path.read_bytes())
    lines = _check(path)
    assert any("holds a private key" in line for line in lines)


def test_party_without_any_enabled_process_is_warned(
    write_routing: Callable[[str], Path],
) -> None:
    text = ROUTING.replace(
        'DIALOG_INNBYGGER_TIMERESERVASJON = { version = "1.2", role = "Helsepersonell" }\n'
        'Dialog_Innbygger_Test = { version = "1.1", role = "Helsepersonell" }\n',
        "",
    )
    lines = _check(write_routing(text))
    assert lines == [
        "warning: HER-id 91095: no booking process enabled as Helsepersonell: "
        "its messages will be refused"
    ]
