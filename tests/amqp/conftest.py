"""The whole daemon against a real RabbitMQ (AMQP 1.0, address format v1) with CMS on.

The daemon is the real :class:`~adapter.daemon.Daemon` loop (with its scheduler) in a
thread, built by :func:`~adapter.bootstrap.bootstrap` from a configuration written
here: the example clinic (``clinic.toml``, ``rules.toml``), an ``adapter.toml`` with
``[transport] kind = "amqp"`` and ``[cms] enabled = true``, and a ``routing.toml``
whose parties point at certificates generated for the session (no key material is
committed). Helsenorge is a :class:`~adapter.tools.simulator.HelsenorgeSimulator` on its own
AMQP connection that signs and encrypts with Helsenorge's keys. Both sides share a
:class:`~adapter.tools.demo.DemoClock` that starts on Monday 30 November 2026, 07:50 Oslo.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from adapter.api import Adapter
from adapter.bootstrap import bootstrap
from adapter.daemon import Daemon
from adapter.domain.codes import IdType
from adapter.domain.model import OSLO, Person, Slot
from adapter.messages import build_requests as rq
from adapter.messages.codes import MsgType
from adapter.messages.read_replies import EventSummary, ReplySummary
from adapter.registry.file import FileRegistry
from adapter.runtime import Runtime
from adapter.service.protection import CmsProtector
from adapter.testing import TestCredential, TestPki, make_test_pki
from adapter.tools.demo import DemoClock
from adapter.tools.simulator import HelsenorgeSimulator
from adapter.transport.amqp import AmqpTransport
from adapter.transport.base import TransportMessage
from adapter.transport.cms import CmsProtection
from tests.servers.rabbitmq import RabbitMQServer

ROOT = Path(__file__).resolve().parents[2]

#: A Monday morning, before the urgent slots are released at 08:00.
START = datetime(2026, 11, 30, 7, 50, tzinfo=OSLO)

CLINIC_HER = "8142519"
HELSENORGE_HER = "8093248"
#: Queues as the routing file names them (the clinic's and Helsenorge's booking service).
CLINIC_QUEUES = [f"{CLINIC_HER}_{k}" for k in ("async", "sync", "error", "syncreply")]
HELSENORGE_QUEUES = [f"{HELSENORGE_HER}_{k}" for k in ("async", "error", "syncreply")]

PASSWORD_ENV = "EPJ_TEST_AMQP_PASSWORD"

FOLKE = Person("13116900216", IdType.FNR, "Folke", "Danser")
KARI = Person("01019012057", IdType.FNR, "Kari", "Nordmann")
OLA = Person("02028000084", IdType.FNR, "Ola", "Nordmann")


@dataclass
class AmqpPki:
    """The session's certificates: the parties', and the bad ones the error tests use."""

    pki: TestPki
    helsenorge_signing_pem: Path  # Helsenorge's registered signing certificates
    intruder: TestCredential  # a signing credential nobody registered
    expired: TestCredential  # Helsenorge's, registered, expired
    wrong_usage: TestCredential  # Helsenorge's, registered, key usage for encryption


@pytest.fixture(scope="session")
def amqp_pki(tmp_path_factory: pytest.TempPathFactory) -> AmqpPki:
    """Helsenorge's and the clinic's signing and encryption credentials, in PEM files.

    Helsenorge's registered signing file holds, besides its current certificate, an
    expired one and one with the wrong key usage (as a file may hold two during a
    rollover), so that a message signed with either is checked against the registry.
    """
    folder = tmp_path_factory.mktemp("pki")
    pki = make_test_pki(
        folder,
        now=min(START, datetime.now(UTC)),  # valid on the demo clock and the real one
        parties={"helsenorge": HELSENORGE_HER, "clinic": CLINIC_HER, "other": "99999"},
    )
    intruder = pki.issue("intruder", "signing")
    expired = pki.issue(
        "helsenorge-old",
        "signing",
        not_before=START - timedelta(days=730),
        not_after=START - timedelta(days=1),
    )
    wrong_usage = pki.issue("helsenorge-odd", "signing", key_usage="encryption")
    registered = folder / "helsenorge-signing-registered.pem"
    registered.write_bytes(
        b"".join(
            c.cert.public_bytes(Encoding.PEM)
            for c in (pki.party("helsenorge").signing, expired, wrong_usage)
        )
    )
    return AmqpPki(pki, registered, intruder, expired, wrong_usage)


def _adapter_toml(rabbitmq: RabbitMQServer, pki: TestPki) -> str:
    clinic = pki.party("clinic")
    return f"""\
[paths]
state_dir = "../state"
routing = "routing.toml"

[transport]
kind = "amqp"

[logging]
format = "json"
level = "info"

[outbox]
backoff_initial = "1 s"
backoff_max = "2 s"

[amqp]
url = "amqp://{rabbitmq.host_port}"
address_format = "v1"
tls = false
sasl_user = "{rabbitmq.user}"
sasl_password_env = "{PASSWORD_ENV}"
max_delivery_attempts = 3

[cms]
enabled = true
signing_key = "{clinic.signing.key_path}"
signing_cert = "{clinic.signing.cert_path}"
decryption_keys = ["{clinic.encryption.key_path}"]
"""


def _routing_toml(amqp_pki: AmqpPki, drop_helsenorge_process: str | None) -> str:
    """The example routing file with the session's certificates (and a process removed)."""
    pki = amqp_pki.pki
    text = (ROOT / "config" / "routing.toml").read_text(encoding="utf-8")
    replacements = {
        "certs/helsenorge-signing.pem": amqp_pki.helsenorge_signing_pem,
        "certs/helsenorge-encryption.pem": pki.party("helsenorge").encryption.cert_path,
        "certs/clinic-signing.pem": pki.party("clinic").signing.cert_path,
        "certs/clinic-encryption.pem": pki.party("clinic").encryption.cert_path,
    }
    for old, new in replacements.items():
        assert old in text, f"the example routing file no longer names {old}"
        text = text.replace(f'"{old}"', f'"{new}"')
    if drop_helsenorge_process is not None:
        head, sep, tail = text.partition("[parties.8093248.processes]")
        assert sep, "the example routing file has no processes for Helsenorge"
        section, header, rest = tail.partition("\n[")
        lines = section.splitlines(keepends=True)
        kept = [line for line in lines if not line.startswith(f"{drop_helsenorge_process} ")]
        assert len(kept) == len(lines) - 1, drop_helsenorge_process
        text = head + sep + "".join(kept) + header + rest
    return text


def sign_and_encrypt(payload: bytes, signer: TestCredential, recipient: x509.Certificate) -> bytes:
    """CMS as any sender could make it: signed with ``signer``, encrypted to ``recipient``.

    No certificate checks (unlike :class:`CmsProtection`), so expired or wrongly used
    signer certificates can be sent.
    """
    assert isinstance(signer.key, rsa.RSAPrivateKey)
    signed = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(payload)
        .add_signer(signer.cert, signer.key, hashes.SHA256())
        .sign(Encoding.DER, [pkcs7.PKCS7Options.Binary, pkcs7.PKCS7Options.NoCapabilities])
    )
    return (
        pkcs7.PKCS7EnvelopeBuilder()
        .set_data(signed)
        .add_recipient(recipient)
        .set_content_encryption_algorithm(algorithms.AES256)
        .encrypt(Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )


@dataclass
class AmqpClinic:
    """The running daemon on RabbitMQ and Helsenorge's side of it."""

    config_dir: Path
    runtime: Runtime
    daemon: Daemon
    sim: HelsenorgeSimulator
    sim_transport: AmqpTransport
    clock: DemoClock
    pki: AmqpPki
    rabbitmq: RabbitMQServer

    @property
    def adapter(self) -> Adapter:
        """The EPJ's facade over the runtime."""
        return self.runtime.adapter

    def parties(
        self, practitioner: str = "benedikte", patient: Person = FOLKE
    ) -> rq.RequestParties:
        """Request parties addressed at a practitioner, for a patient."""
        ctx = self.runtime.ctx
        return rq.RequestParties(
            receiver=ctx.party(ctx.practitioners[practitioner]), patient=patient
        )

    def free_slots(self, days: int = 6, start_in: int = 1) -> list[EventSummary]:
        """Bookable slots of Benedikte (no category, not held back) from HLT."""
        first = self.clock().astimezone(OSLO).date() + timedelta(days=start_in)
        reply = self.sim.ask(
            rq.hent_ledige_timer(self.parties(), self.clock(), first, first + timedelta(days=days)),
            MsgType.TIMERESERVASJON,
        )
        return [e for e in reply.events if e.available_at is None and not e.categories]

    def reserve(
        self, event: EventSummary, patient: Person = FOLKE
    ) -> tuple[ReplySummary, ReplySummary]:
        """RT for ``event``: (AppRec, answer)."""
        built = rq.reserver_time(
            self.parties(patient=patient), self.clock(), as_slot(event), event.contact
        )
        self.sim.send(built, MsgType.TIMERESERVASJON)
        return self.sim.apprec_for(built.msg_id), self.sim.answer_to(built.msg_id)

    def protect_as(
        self, payload: bytes, signer: TestCredential, recipient: x509.Certificate | None = None
    ) -> bytes:
        """``payload`` signed by ``signer``, encrypted to ``recipient`` (default: the clinic)."""
        target = recipient or self.pki.pki.party("clinic").encryption.cert
        return sign_and_encrypt(payload, signer, target)


def as_slot(event: EventSummary) -> Slot:
    """A slot value with the event's id and times (what an RT names)."""
    return Slot(event.uid, "-", "-", "-", event.start, event.end)


def drain(transport: AmqpTransport, queues: list[str]) -> None:
    """Take whatever earlier tests left on ``queues``."""
    while (delivery := transport.receive(queues, 0.2)) is not None:
        delivery.accept()


def eventually(probe: Callable[[], object], timeout: float = 10.0) -> None:
    """Wait until ``probe()`` is truthy (the daemon works in its own thread)."""
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.05)


def write_config(
    config_dir: Path,
    rabbitmq: RabbitMQServer,
    amqp_pki: AmqpPki,
    *,
    drop_helsenorge_process: str | None = None,
    registered_signing_only: bool = False,
) -> Path:
    """The example clinic with ``adapter.toml`` for AMQP + CMS and a routing file; its path.

    ``registered_signing_only``: Helsenorge's routing names only its current signing
    certificate (without the expired and wrongly used ones the error tests need).
    """
    config_dir.mkdir(parents=True)
    for name in ("clinic.toml", "rules.toml"):
        shutil.copyfile(ROOT / "config" / name, config_dir / name)
    (config_dir / "adapter.toml").write_text(
        _adapter_toml(rabbitmq, amqp_pki.pki), encoding="utf-8"
    )
    text = _routing_toml(amqp_pki, drop_helsenorge_process)
    if registered_signing_only:
        current = amqp_pki.pki.party("helsenorge").signing.cert_path
        text = text.replace(f'"{amqp_pki.helsenorge_signing_pem}"', f'"{current}"')
    (config_dir / "routing.toml").write_text(text, encoding="utf-8")
    return config_dir


def prepare_queues(rabbitmq: RabbitMQServer) -> None:
    """Declare the durable queues and empty them, on a connection of their own.

    (Its receivers, with credit, would otherwise compete with the daemon for the
    clinic's queues.)
    """
    setup = AmqpTransport(rabbitmq.url, address_format="v1")
    try:
        setup.ensure_queues(CLINIC_QUEUES + HELSENORGE_QUEUES)
        drain(setup, CLINIC_QUEUES + HELSENORGE_QUEUES)
    finally:
        setup.close()


def helsenorge(
    rabbitmq: RabbitMQServer, amqp_pki: AmqpPki, routing: Path, clock: Callable[[], datetime]
) -> HelsenorgeSimulator:
    """Helsenorge on its own AMQP connection, with its own keys (close its transport)."""
    transport = AmqpTransport(
        rabbitmq.url,
        address_format="v1",
        reply_queue=f"{HELSENORGE_HER}_syncreply",
        reconnect_initial=0.2,
        reconnect_max=1.0,
        clock=clock,
    )
    hn = amqp_pki.pki.party("helsenorge")
    protection = CmsProtection(
        hn.signing.key, hn.signing.cert, [(hn.encryption.key, hn.encryption.cert)], clock=clock
    )
    return HelsenorgeSimulator(
        None,
        CLINIC_HER,
        clock=clock,
        transport=transport,
        protector=CmsProtector(protection, FileRegistry.load(routing), clock),
        poll_timeout=0.05,
    )


StartClinic = Callable[..., AmqpClinic]


@pytest.fixture
def start_clinic(
    rabbitmq: RabbitMQServer,
    amqp_pki: AmqpPki,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[StartClinic]:
    """Start the daemon on RabbitMQ with CMS; ``drop_helsenorge_process`` edits the routing."""
    monkeypatch.setenv(PASSWORD_ENV, rabbitmq.password)
    stops: list[Callable[[], None]] = []

    def start(*, drop_helsenorge_process: str | None = None) -> AmqpClinic:
        config_dir = write_config(
            tmp_path / "config",
            rabbitmq,
            amqp_pki,
            drop_helsenorge_process=drop_helsenorge_process,
        )
        prepare_queues(rabbitmq)
        clock = DemoClock(START)
        runtime = bootstrap(config_dir, clock=clock)
        assert isinstance(runtime.transport, AmqpTransport)
        runtime.transport.reconnect_initial = 0.2  # quick to come back after a broker restart
        runtime.transport.reconnect_max = 1.0
        runtime.transport.send_timeout = 3.0  # a send while the broker is down gives up soon
        runtime.adapter.generate_slots(START.date(), START.date() + timedelta(days=14))
        runtime.adapter.set_patient_list("benedikte", [FOLKE.ident, KARI.ident, OLA.ident])
        daemon = Daemon(runtime, poll_timeout=0.05)
        runner = threading.Thread(target=daemon.run, name="amqp-daemon", daemon=True)
        runner.start()

        def stop() -> None:
            daemon.stop()
            runner.join(timeout=30)

        stops.append(stop)
        sim = helsenorge(rabbitmq, amqp_pki, config_dir / "routing.toml", clock)
        assert isinstance(sim.transport, AmqpTransport)
        stops.append(sim.transport.close)
        return AmqpClinic(
            config_dir, runtime, daemon, sim, sim.transport, clock, amqp_pki, rabbitmq
        )

    try:
        yield start
    finally:
        for stop in reversed(stops):
            stop()


@pytest.fixture
def clinic(start_clinic: StartClinic) -> AmqpClinic:
    """The example clinic's daemon on RabbitMQ with CMS and the full routing file."""
    return start_clinic()


def sent_at(message: TransportMessage) -> datetime:
    """The applicationTimeStamp of a message."""
    stamp = message.prop("applicationTimeStamp")
    assert stamp is not None
    return datetime.fromisoformat(stamp)
