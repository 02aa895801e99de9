"""Revocation checking as configured in adapter.toml [cms]: a message signed with a
revoked certificate is reported to the sender's error queue, never processed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from adapter.bootstrap import bootstrap
from adapter.config import load_config
from adapter.messages import build_requests as rq
from adapter.messages.codes import MsgType
from adapter.runtime import Runtime
from adapter.testing import MemoryTransport, TestPki, helsenorge_message, make_test_pki
from adapter.tools.demo import prepare
from adapter.transport.base import CONTENT_TYPE_CMS, TransportMessage
from adapter.transport.cms import CmsProtection
from tests.service.conftest import ROOT


def _cms_config(tmp_path: Path, *, revoke_helsenorge: bool) -> tuple[Path, TestPki]:
    config_dir = prepare(tmp_path, ROOT / "config")
    pki = make_test_pki(
        config_dir / "certs", parties={"clinic": "8142519", "helsenorge": "8093248"}
    )
    helsenorge = pki.party("helsenorge")
    revoked = [helsenorge.signing.cert] if revoke_helsenorge else []
    (config_dir / "certs" / "ca.crl").write_bytes(pki.crl(revoked).public_bytes(Encoding.DER))
    with (config_dir / "adapter.toml").open("a", encoding="utf-8") as toml:
        toml.write(
            '\n[cms]\nenabled = true\nsigning_key = "certs/clinic-signing.key"\n'
            'signing_cert = "certs/clinic-signing.pem"\n'
            'decryption_keys = ["certs/clinic-encryption.key"]\n'
            'revocation_lists = ["certs/ca.crl"]\nrevocation_issuers = ["certs/ca.pem"]\n'
            'revocation_timeout = "2 s"\n'
        )
    return config_dir, pki


def _kt_from_helsenorge(runtime: Runtime, pki: TestPki) -> TransportMessage:
    ctx = runtime.ctx
    parties = rq.RequestParties(receiver=ctx.party(ctx.practitioners["benedikte"]), patient=None)
    now = datetime.now(UTC)  # the adapter here runs on the wall clock (the TTL is checked)
    built = rq.kommunikasjonstest(parties, now)
    hn = pki.party("helsenorge")
    clinic = pki.party("clinic")
    sender = CmsProtection(
        hn.signing.key, hn.signing.cert, [(hn.encryption.key, hn.encryption.cert)]
    )
    return helsenorge_message(
        sender.protect(built.body, clinic.encryption.cert),
        MsgType.TEST.value,
        queue="8142519_sync",
        now=now,
        content_type=CONTENT_TYPE_CMS,
    )


def _serve_one(tmp_path: Path, *, revoke_helsenorge: bool) -> MemoryTransport:
    config_dir, pki = _cms_config(tmp_path, revoke_helsenorge=revoke_helsenorge)
    transport = MemoryTransport()
    runtime = bootstrap(config_dir, config=load_config(config_dir), transport=transport)
    transport.send("8142519_sync", _kt_from_helsenorge(runtime, pki))
    assert runtime.process_one(1.0)
    runtime.close()
    return transport


def test_a_valid_signer_is_answered_in_cms(tmp_path: Path) -> None:
    transport = _serve_one(tmp_path, revoke_helsenorge=False)
    [reply] = transport.sent["8093248_syncreply"]
    assert reply.content_type == CONTENT_TYPE_CMS
    assert transport.sent["8093248_error"] == []


def test_a_revoked_signer_is_reported_to_the_error_queue_and_not_answered(tmp_path: Path) -> None:
    transport = _serve_one(tmp_path, revoke_helsenorge=True)
    assert transport.sent["8093248_syncreply"] == []
    [report] = transport.sent["8093248_error"]
    assert report.prop("errorCondition") == "transport:revoked-certificate"
    assert report.body == b""
