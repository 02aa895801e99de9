"""The composition root: the one place that builds the adapter's parts.

:func:`bootstrap` loads the configuration, opens the store (creating the schema),
picks the transport (directory by default, AMQP when ``adapter.toml`` says so), the
routing (the Adresseregister file when present) and CMS protection (when enabled),
builds the service layer once, writes the configured catalog to the store, and returns
the :class:`~adapter.runtime.Runtime` the daemon drives; its ``adapter`` is the EPJ's
facade. :func:`open_adapter` is the same for a vendor who wants only the facade.
Every face (daemon, Python API, CLI, HTTP API) is built here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path

from adapter.api import Adapter
from adapter.clock import system_clock
from adapter.config import AdapterConfig, ConfigError, ConfigIssue, generate_slots, load_config
from adapter.crypto.certs import CrlRevocationChecker, load_certificates
from adapter.messages.envelope import Party
from adapter.metrics import Metrics
from adapter.registry.certificates import CertificateStore
from adapter.registry.file import FileRegistry
from adapter.registry.registry import UnknownParty
from adapter.registry.router import NamingRouter, RegistryRouter
from adapter.registry.routing import UnsupportedMessage, check_process
from adapter.runtime import Runtime
from adapter.service.availability import AvailabilityCache
from adapter.service.clinic_service import ClinicService, ClinicSetup
from adapter.service.commands import SyncCatalog
from adapter.service.context import ClinicContext
from adapter.service.outbox import OutboxDispatcher, OutboxWriter
from adapter.service.outgoing import Sender
from adapter.service.pipeline import Pipeline
from adapter.service.protection import CmsProtector, Plain, Protector
from adapter.service.replies import Replies
from adapter.service.routing import Router
from adapter.store.uow import Store
from adapter.transport.base import CONTENT_TYPE_XML, Transport, TransportFault, TransportMessage
from adapter.transport.cms import CmsProtection
from adapter.transport.errors import UNSUPPORTED_MESSAGE

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


def clinic_setup(
    config: AdapterConfig,
    *,
    helsenorge: Party,
    router: Router,
    availability: AvailabilityCache | None = None,
) -> ClinicSetup:
    """What ``clinic.toml`` and ``rules.toml`` give the service layer: the clinic's
    context, the replies built from it (to ``helsenorge``, addressed by ``router``, with
    the HLT cache ``availability`` when there is one) and the opening-hours templates.
    Built once at the start and again on each reload
    (:meth:`~adapter.runtime.Runtime.reload`), which keeps the running Helsenorge party,
    router and HLT cache (its answers name the context they were computed with, so a
    new one serves none of the old): ``adapter.toml`` and ``routing.toml`` need a
    restart."""
    ctx = clinic_context(config)
    return ClinicSetup(
        ctx=ctx,
        replies=Replies(ctx=ctx, helsenorge=helsenorge, router=router, availability=availability),
        templates=partial(generate_slots, config),
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


def bootstrap(
    config_dir: Path,
    *,
    clock: Callable[[], datetime] = system_clock,
    config: AdapterConfig | None = None,
    transport: Transport | None = None,
    store: Store | None = None,
) -> Runtime:
    """Every part built once from ``config_dir``, as the daemon runs them.

    ``clock`` is where ``now`` comes from (the real time by default); ``config``,
    ``transport`` and ``store`` replace the configured ones. For tests, the queues in
    memory and a clock moved by hand::

        runtime = bootstrap(config_dir, transport=MemoryTransport(), clock=MovableClock(start))

    (both from :mod:`adapter.testing`; :func:`adapter.testing.clinic` does this for the
    example clinic). Building writes the configured clinic, practitioners and
    appointment types to the store; nothing is received or sent until the daemon or a
    call does. Close the runtime when done (``runtime.close()``).

    Raises:
        adapter.config.ConfigError: the configuration in ``config_dir`` has errors
            (every one, with file, line, key and fix), or ``[cms] enabled`` lacks its
            keys, certificates or routing.
    """
    config = config or load_config(config_dir)
    config.settings.state_dir.mkdir(parents=True, exist_ok=True)
    settings = config.settings
    registry = load_registry(config)
    router = make_router(registry)
    protector = make_protector(config, registry, clock)
    store = store or open_store(config)
    transport = transport or make_transport(config, clock)
    # One HLT cache for the process, kept across reloads ([performance] hlt_cache).
    cache = AvailabilityCache() if settings.performance.hlt_cache else None
    configure = partial(
        clinic_setup, helsenorge=helsenorge_party(config), router=router, availability=cache
    )
    setup = configure(config)
    ctx, replies = setup.ctx, setup.replies
    plain = protector.content_type == CONTENT_TYPE_XML
    # No CPA is configured, so no cpaId is sent (HITS 1216 §2.1.2).
    sender = Sender(transport, None if plain else protector)
    outbox = OutboxWriter(sender)
    dispatcher = OutboxDispatcher(
        store=store,
        sender=sender,
        clock=clock,
        base_delay=settings.outbox.backoff_initial,
        max_delay=settings.outbox.backoff_max,
        max_attempts=settings.outbox.max_attempts,
        handoff=outbox.handoff,
    )
    metrics = Metrics()  # one registry per runtime (adapter.metrics)
    pipeline = Pipeline(
        store=store,
        contexts={her: ctx for her in ctx.her_ids},
        router=router,
        replies=replies,
        outbox=outbox,
        sender=sender,
        clock=clock,
        unprotect=None if plain else protector.unprotect,
        peek=None if plain else protector.peek,
        check_process=process_checker(registry) if registry is not None else None,
        observer=metrics.observe,
    )
    service = ClinicService(
        ctx=ctx,
        store=store,
        replies=replies,
        outbox=outbox,
        dispatch=dispatcher.dispatch,
        clock=clock,
        templates=setup.templates,
    )
    service.handle(SyncCatalog())
    runtime = Runtime(
        service=service,
        store=store,
        transport=transport,
        router=router,
        pipeline=pipeline,
        outbox=outbox,
        dispatcher=dispatcher,
        settings=settings,
    )
    runtime.allow_reload(config, configure)
    metrics.watch(runtime)
    if cache is not None:
        metrics.count_hlt_cache(cache)
    return runtime


def open_adapter(
    config_dir: Path,
    *,
    clock: Callable[[], datetime] = system_clock,
    transport: Transport | None = None,
) -> Adapter:
    """The EPJ's facade for the clinic configured in ``config_dir``: :func:`bootstrap`'s
    ``runtime.adapter``, for a vendor who calls the API and leaves serving the queues
    to ``epj-adapter run`` (or a :class:`~adapter.daemon.Daemon` of its own).

    ``clock`` and ``transport`` as for :func:`bootstrap`. ``adapter.close()`` releases
    the transport and the database. The adapter logs nothing unless logging is
    configured (:mod:`adapter.logs`).

    Raises:
        adapter.config.ConfigError: the configuration in ``config_dir`` has errors
            (every one listed).
    """
    return bootstrap(config_dir, clock=clock, transport=transport).adapter
