"""The composition root: one place that wires configuration to the adapter's parts.

``build_adapter(config_dir)`` loads the configuration, opens the store (creating the
schema), picks the transport (directory by default, AMQP when ``adapter.toml`` says
so), the routing (the Adresseregister file when present) and CMS protection (when
enabled), and returns an :class:`~adapter.api.Adapter`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from adapter.api import Adapter
from adapter.clock import system_clock
from adapter.config import AdapterConfig, ConfigError, ConfigIssue, load_config
from adapter.messages.envelope import Party
from adapter.registry.certificates import CertificateStore
from adapter.registry.file import FileRegistry
from adapter.registry.registry import UnknownParty
from adapter.registry.router import RegistryRouter
from adapter.registry.routing import UnsupportedMessage, check_process
from adapter.service.context import ClinicContext
from adapter.service.routing import NamingRouter, Router
from adapter.store.uow import Store
from adapter.transport.base import Transport, TransportFault, TransportMessage
from adapter.transport.certs import CrlRevocationChecker, load_certificates
from adapter.transport.cms import CmsProtection
from adapter.transport.errors import UNSUPPORTED_MESSAGE
from adapter.transport.protection import CmsProtector, Plain, Protector

HELSENORGE_NAME = "DIREKTORATET FOR E-HELSE"
HELSENORGE_SERVICE_NAME = "Digitale innbyggertjenester"


def clinic_context(config: AdapterConfig) -> ClinicContext:
    """The service layer's view of a loaded configuration."""
    return ClinicContext(
        clinic=config.clinic,
        practitioners={p.key: p for p in config.practitioners},
        appointment_types={t.key: t for t in config.appointment_types},
        rules=config.rules,
        calendar=config.calendar,
        hbt_enabled=config.rules.serve_planned_appointments,
    )


def helsenorge_party(config: AdapterConfig) -> Party:
    """Helsenorge as a MsgHead party (level 1 and its citizen service)."""
    hn = config.settings.helsenorge
    return Party(
        name=HELSENORGE_NAME,
        her_id=hn.her_id,
        sub_name=HELSENORGE_SERVICE_NAME if hn.service_her_id else "",
        sub_her_id=hn.service_her_id,
    )


def make_transport(
    config: AdapterConfig, clock: Callable[[], datetime] = system_clock
) -> Transport:
    """The configured transport (``clock`` dates received TTLs, as the pipeline's clock)."""
    settings = config.settings
    if settings.transport == "amqp":
        return _amqp_transport(config, clock)
    from adapter.transport.directory import DirectoryTransport

    transport = DirectoryTransport(settings.directory_root, archive=True)
    her = config.clinic.her_id
    transport.ensure_queues([f"{her}_async", f"{her}_sync", f"{her}_error", f"{her}_syncreply"])
    return transport


def _amqp_transport(config: AdapterConfig, clock: Callable[[], datetime]) -> Transport:
    import os

    from adapter.transport.amqp import AmqpTransport, TlsConfig

    amqp = config.settings.amqp
    password = os.environ.get(amqp.sasl_password_env) if amqp.sasl_password_env else None
    tls = TlsConfig(ca_file=amqp.ca_file) if amqp.tls else None
    return AmqpTransport(
        amqp.url,
        address_format=amqp.address_format,
        user=amqp.sasl_user or None,
        password=password,
        tls=tls,
        max_delivery_attempts=amqp.max_delivery_attempts,
        reply_queue=amqp.sync_reply_queue or f"{config.clinic.her_id}_syncreply",
        clock=clock,
    )


def load_registry(config: AdapterConfig) -> FileRegistry | None:
    """The Adresseregister routing file, when there is one."""
    path = config.settings.routing_file
    return FileRegistry.load(path) if path.exists() else None


def make_router(registry: FileRegistry | None) -> Router:
    """Routing from the Adresseregister when known, else by naming convention."""
    return RegistryRouter(registry) if registry is not None else NamingRouter()


def process_checker(registry: FileRegistry) -> Callable[[TransportMessage], None]:
    """Refuse messages for processes either party has not enabled (HITS 1216)."""

    def check(message: TransportMessage) -> None:
        ours = (message.prop("toHerId") or "").strip()
        theirs = (message.prop("fromHerId") or "").strip()
        try:
            check_process(registry, message.subject, our_her_id=ours, their_her_id=theirs)
        except UnsupportedMessage as exc:
            raise TransportFault(UNSUPPORTED_MESSAGE, exc.description) from None
        except UnknownParty:
            try:
                registry.lookup(theirs)
            except UnknownParty:
                raise TransportFault(
                    UNSUPPORTED_MESSAGE, f"HER-id {theirs} is not in the Adresseregister"
                ) from None
            # Our side unknown: the AMQP toHerId names none of us, which the receiver
            # check answers (E10, HITS 1216 §2.2.3 "Ikke samsvar AMQP mottager HER-Id").
            return

    return check


def make_protector(
    config: AdapterConfig, registry: FileRegistry | None, clock: Callable[[], datetime]
) -> Protector:
    """CMS when ``[cms] enabled``, else plain XML."""
    cms = config.settings.cms
    if not cms.enabled:
        return Plain()
    if registry is None or cms.signing_key is None or cms.signing_cert is None:
        raise ConfigError(
            [
                ConfigIssue(
                    file="adapter.toml",
                    line=0,
                    key="cms",
                    message="CMS needs signing_key, signing_cert, decryption_keys, routing",
                    fix="set them in [cms] and [paths] routing",
                )
            ]
        )
    ours = registry.lookup(config.clinic.her_id)
    revocation = None
    if cms.revocation_lists or cms.revocation_from_certificates:
        revocation = CrlRevocationChecker(
            cms.revocation_lists,
            issuers=[c for path in cms.revocation_issuers for c in load_certificates(path)],
            timeout=cms.revocation_timeout.total_seconds(),
            use_distribution_points=cms.revocation_from_certificates,
        )
    protection = CmsProtection.from_files(
        cms.signing_key,
        cms.signing_cert,
        list(cms.decryption_keys),
        CertificateStore().encryption_certs(ours),
        allow_legacy_ciphers=cms.allow_legacy_ciphers,
        revocation=revocation,
        clock=clock,
    )
    return CmsProtector(protection, registry, clock)


def open_store(config: AdapterConfig) -> Store:
    """The configured database, with its schema in place."""
    url = config.settings.database_url
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    store = Store(url)
    store.create_schema()
    return store


def build_adapter(
    config_dir: Path,
    *,
    clock: Callable[[], datetime] = system_clock,
    config: AdapterConfig | None = None,
    transport: Transport | None = None,
    store: Store | None = None,
) -> Adapter:
    """An :class:`Adapter` wired from ``config_dir`` (raises ``ConfigError``)."""
    config = config or load_config(config_dir)
    config.settings.state_dir.mkdir(parents=True, exist_ok=True)
    registry = load_registry(config)
    return Adapter(
        ctx=clinic_context(config),
        store=store or open_store(config),
        transport=transport or make_transport(config, clock),
        helsenorge=helsenorge_party(config),
        router=make_router(registry),
        clock=clock,
        settings=config.settings,
        config=config,
        protector=make_protector(config, registry, clock),
        check_process=process_checker(registry) if registry is not None else None,
    )
