"""The adapter's Prometheus metrics: one :class:`Metrics` (one ``CollectorRegistry``) per
runtime, served as ``/metrics`` in the Prometheus text format.

:func:`adapter.bootstrap.bootstrap` builds a :class:`Metrics`, hands its
:meth:`Metrics.observe` to the pipeline (which tells it what became of each delivery,
:class:`~adapter.service.pipeline.Handled`) and lets it watch the runtime
(:meth:`Metrics.watch`); :func:`metrics_for` finds it again from the runtime.
``/metrics`` is a route of the HTTP API (:mod:`adapter.http.routes.metrics`) when it
runs, else :func:`serve_metrics` serves it on ``[metrics] listen`` beside
``epj-adapter run``.

Counted as it happens (since the process started):

==========================================  ==============================================
``epj_adapter_messages_total``              deliveries handled, by ``function`` (HLT, RT,
                                            ..., AppRecReceived, a refused message's
                                            MsgInfo/Type, ``unknown``) and ``result``
                                            (``ok``, ``rejected:<8221 code>``,
                                            ``refused:<code>``, ``duplicate``,
                                            ``expired``, ``report``, ``dropped``,
                                            ``error``)
``epj_adapter_apprecs_total``               AppRecs received for what we sent, by
                                            ``status`` (``ok``, ``rejected``,
                                            ``partly_rejected``)
``epj_adapter_sync_seconds``                histogram: a sync request's time from taking it
                                            off the queue to answering it, by ``function``
``epj_adapter_hlt_cache_total``             HLT answers by ``outcome``: ``hit`` (served
                                            from the HLT cache), ``miss`` (computed and
                                            kept); absent with ``hlt_cache = false``
``epj_adapter_hlt_cache_parts_total``       the practitioners' parts of the answers
                                            computed, by ``outcome``: ``hit`` (kept and
                                            still true), ``miss`` (computed); absent
                                            with ``hlt_cache = false``
==========================================  ==============================================

Read from the store and the transport at each scrape (a few counting queries):

==========================================  ==============================================
``epj_adapter_outbox_messages``             outbox entries not yet sent
``epj_adapter_outbox_oldest_seconds``       age of the oldest of them (0: none)
``epj_adapter_outbox_dead_messages``        outbox entries given up after their attempts
``epj_adapter_pending_reservations``        reservations waiting for the clinic's decision
``epj_adapter_open_wishes``                 wishes (OT/OET/OAT) not yet answered
``epj_adapter_oldest_unanswered_seconds``   age of the oldest of those two (0: none)
``epj_adapter_sent_without_apprec``         messages sent whose AppRec has not come
``epj_adapter_sent_messages``               messages we sent, by delivery ``state``
                                            (``no_apprec``: the AppRec never came)
``epj_adapter_queue_messages``              messages waiting on our queues, by ``queue``
                                            (left out where the transport cannot tell:
                                            AMQP)
``epj_adapter_queue_oldest_seconds``        queue lag: age of the oldest message waiting,
                                            by ``queue`` (the directory transport only:
                                            AMQP 1.0 and the in-memory fake cannot say)
``epj_adapter_dead_letters``                dead letters, by ``queue`` (directory and
                                            in-memory transports; AMQP's box cannot be
                                            read without taking messages off the broker)
``epj_adapter_certificate_days_left``       days until our certificate expires, by
                                            ``purpose`` (``signing``; ``encryption``: the
                                            newest of ours), with ``[cms] enabled`` only
``epj_adapter_leader``                      1 leading the scheduler, 0 following (once the
                                            daemon has said: :meth:`Metrics.set_leader`)
``epj_adapter_store_up``                    0 when the store could not be read (its
                                            metrics are then left out of that scrape)
==========================================  ==============================================

Labels hold function names, codes, states and queue names only: never a person
number, a name or free text. No token is asked for ``/metrics``: the ports are on
loopback by default, and what is served is counts and codes.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any, Final, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import col, select

from adapter.config.settings import MetricsSettings, Settings
from adapter.crypto.certs import CertificateLoadError, load_certificates
from adapter.logs import get_logger
from adapter.registry.certificates import CertificateStore
from adapter.registry.file import FileRegistry
from adapter.service.availability import AvailabilityCache
from adapter.service.pipeline import Handled
from adapter.store.records import OutboxState
from adapter.store.tables import OutboxRow
from adapter.transport.directory import DEAD_DIR, DirectoryTransport

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

    from adapter.service.context import ClinicContext
    from adapter.store.uow import Store, UnitOfWork
    from adapter.transport.base import Transport

__all__ = [
    "SYNC_BUCKETS",
    "Metrics",
    "MetricsListenError",
    "Watched",
    "metrics_app",
    "metrics_for",
    "serve_metrics",
]

log = get_logger("adapter.metrics")

PREFIX: Final = "epj_adapter"
#: Buckets of the sync latency histogram (seconds): Helsenorge gives up after 15 s.
SYNC_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)
#: 8258 AppRec status codes as the ``status`` label says them.
APPREC_STATUS: Final[Mapping[str, str]] = {"1": "ok", "2": "rejected", "3": "partly_rejected"}
SECONDS_PER_DAY: Final = 86_400.0


class Watched(Protocol):
    """What the metrics read of a runtime (:class:`adapter.runtime.Runtime` is one)."""

    store: Store
    transport: Transport
    settings: Settings

    @property
    def ctx(self) -> ClinicContext:
        """The clinic as configured."""
        ...

    def clock(self) -> datetime:
        """Now, by the adapter's clock."""
        ...

    def listen_queues(self) -> list[str]:
        """Our sync and async queues."""
        ...


@dataclass(frozen=True, slots=True)
class _Certificate:
    purpose: str
    not_after: datetime


class Metrics:
    """The metrics of one runtime, in a registry of their own (never the process-wide
    default one, so that a process, or a test, may hold several runtimes)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.messages = Counter(
            f"{PREFIX}_messages",
            "Deliveries handled, by request function and result.",
            ["function", "result"],
            registry=self.registry,
        )
        self.apprecs = Counter(
            f"{PREFIX}_apprecs",
            "AppRecs received for messages we sent, by status.",
            ["status"],
            registry=self.registry,
        )
        self.sync_seconds = Histogram(
            f"{PREFIX}_sync_seconds",
            "Time from taking a sync request off the queue to answering it.",
            ["function"],
            buckets=SYNC_BUCKETS,
            registry=self.registry,
        )
        self._leader: bool | None = None
        self._watching = False

    # -- what the pipeline and the daemon say ----------------------------------------------

    def observe(self, handled: Handled) -> None:
        """Count one delivery (the pipeline's observer)."""
        self.messages.labels(handled.function, handled.result).inc()
        if handled.sync:
            self.sync_seconds.labels(handled.function).observe(handled.seconds)
        if handled.apprec is not None and handled.result == "ok":
            status = APPREC_STATUS.get(handled.apprec, "other")
            self.apprecs.labels(status).inc()

    def set_leader(self, leader: bool) -> None:
        """Whether this instance runs the scheduler (``epj_adapter_leader`` 1) or
        follows (0); the gauge is left out until the daemon has said."""
        self._leader = leader

    @property
    def leader(self) -> bool | None:
        """What :meth:`set_leader` said last (None: nothing yet)."""
        return self._leader

    # -- what is read at a scrape -------------------------------------------------------------

    def watch(self, runtime: Watched) -> None:
        """Read ``runtime``'s store, queues and certificates at each scrape, and let
        :func:`metrics_for` find these metrics from it. Once per Metrics.

        The certificates are read now, as the runtime loaded them at its start."""
        if self._watching:
            raise RuntimeError("these metrics already watch a runtime")
        self._watching = True
        certificates = _our_certificates(runtime.settings, runtime.ctx.clinic.her_id)
        self.registry.register(_State(self, runtime, certificates))
        _BY_RUNTIME[runtime] = self

    def count_hlt_cache(self, cache: AvailabilityCache) -> None:
        """Report ``cache``'s hits and misses (``epj_adapter_hlt_cache_total``)."""
        self.registry.register(_HltCache(cache))

    def scrape(self) -> bytes:
        """The metrics in the Prometheus text format, as ``/metrics`` serves them."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


#: The metrics watching each runtime (:meth:`Metrics.watch`), forgotten with the runtime.
_BY_RUNTIME: weakref.WeakKeyDictionary[object, Metrics] = weakref.WeakKeyDictionary()


def metrics_for(runtime: object) -> Metrics:
    """The metrics of a runtime built by :func:`adapter.bootstrap.bootstrap`.

    Raises:
        LookupError: no metrics watch this runtime.
    """
    found = _BY_RUNTIME.get(runtime)
    if found is None:
        raise LookupError("no metrics watch this runtime (build it with bootstrap())")
    return found


class _HltCache(Collector):
    """The HLT cache's counters, read at scrape time (the cache counts as it serves)."""

    def __init__(self, cache: AvailabilityCache) -> None:
        self.cache = cache

    def describe(self) -> Iterable[Metric]:
        """Nothing: the family is made at each scrape."""
        return ()

    def collect(self) -> Iterable[Metric]:
        """Hits and misses (of answers, and of their parts) since the process started."""
        family = CounterMetricFamily(
            f"{PREFIX}_hlt_cache", "HLT answers by outcome of the HLT cache.", labels=["outcome"]
        )
        family.add_metric(["hit"], float(self.cache.hits))
        family.add_metric(["miss"], float(self.cache.misses))
        yield family
        parts = CounterMetricFamily(
            f"{PREFIX}_hlt_cache_parts",
            "Practitioners' parts of computed HLT answers by outcome of the HLT cache.",
            labels=["outcome"],
        )
        parts.add_metric(["hit"], float(self.cache.part_hits))
        parts.add_metric(["miss"], float(self.cache.part_misses))
        yield parts


class _State(Collector):
    """The gauges read at scrape time from the store, the transport and the runtime."""

    def __init__(
        self, metrics: Metrics, runtime: Watched, certificates: Sequence[_Certificate]
    ) -> None:
        self.metrics = metrics
        self.runtime = weakref.proxy(runtime)  # the registry must not keep it alive
        self.certificates = tuple(certificates)

    def describe(self) -> Iterable[Metric]:
        """Nothing: registering must not query the store."""
        return ()

    def collect(self) -> Iterable[Metric]:
        """Every gauge, read now."""
        runtime = self.runtime
        now = runtime.clock()
        yield from self._store(runtime, now)
        yield from self._queues(runtime)
        for cert in self.certificates:
            days = (cert.not_after - now).total_seconds() / SECONDS_PER_DAY
            yield _gauge(
                "certificate_days_left",
                "Days until our certificate expires (newest of its purpose).",
                {("purpose", cert.purpose): days},
            )
        leader = self.metrics.leader
        if leader is not None:
            yield _gauge(
                "leader", "1 while this instance runs the scheduler, else 0.", float(leader)
            )

    def _store(self, runtime: Watched, now: datetime) -> Iterator[Metric]:
        clinic = runtime.ctx.clinic.key
        try:
            with runtime.store.uow(read_only=True) as uow:
                read = _read_store(uow, clinic, now)
        except Exception as exc:
            log.warning("metrics.store_unreadable", error=type(exc).__name__)
            yield _gauge("store_up", "1 when the store answered this scrape's reads.", 0.0)
            return
        yield _gauge("store_up", "1 when the store answered this scrape's reads.", 1.0)
        yield from read

    def _queues(self, runtime: Watched) -> Iterator[Metric]:
        transport = runtime.transport
        queues = runtime.listen_queues()
        depth: dict[tuple[str, str], float] = {}
        for queue in queues:
            try:
                count = transport.count(queue)
            except Exception as exc:
                log.warning("metrics.queue_unreadable", queue=queue, error=type(exc).__name__)
                continue
            if count is not None:
                depth[("queue", queue)] = float(count)
        if depth:
            yield _gauge("queue_messages", "Messages waiting on our queues.", depth)
        lag = _queue_lag(transport, queues)
        if lag:
            yield _gauge(
                "queue_oldest_seconds", "Age of the oldest message waiting on a queue.", lag
            )
        dead = _dead_letters(transport, queues)
        if dead is not None:
            yield _gauge("dead_letters", "Dead letters put aside from our queues.", dead)


def _read_store(uow: UnitOfWork, clinic: str, now: datetime) -> list[Metric]:
    """The store's gauges, read in one unit of work."""
    pending = list(uow.appointments.pending(clinic))
    wishes = list(uow.wishes.open(clinic))
    waiting = [a.created_at for a in pending] + [w.created_at for w in wishes]
    oldest_outbox = uow.session.exec(
        select(func.min(OutboxRow.created_at)).where(
            OutboxRow.clinic == clinic,
            col(OutboxRow.state).in_([OutboxState.PENDING.value, OutboxState.SENDING.value]),
        )
    ).one()
    by_state = uow.sent.count_by_state(clinic)
    return [
        _gauge("outbox_messages", "Outbox entries not yet sent.", uow.outbox.count(clinic=clinic)),
        _gauge(
            "outbox_oldest_seconds",
            "Age of the oldest outbox entry not yet sent (0: none).",
            _age(now, [oldest_outbox] if oldest_outbox is not None else []),
        ),
        _gauge(
            "outbox_dead_messages",
            "Outbox entries given up after their attempts.",
            uow.outbox.count(OutboxState.DEAD, clinic=clinic),
        ),
        _gauge("pending_reservations", "Reservations waiting for a decision.", len(pending)),
        _gauge("open_wishes", "Wishes (OT/OET/OAT) not yet answered.", len(wishes)),
        _gauge(
            "oldest_unanswered_seconds",
            "Age of the oldest reservation or wish waiting for the clinic (0: none).",
            _age(now, waiting),
        ),
        _gauge(
            "sent_without_apprec",
            "Messages sent whose AppRec has not come.",
            uow.sent.count_waiting(clinic),
        ),
        _gauge(
            "sent_messages",
            "Messages we sent, by delivery state.",
            {("state", state.value): float(n) for state, n in by_state.items()},
        ),
    ]


def _gauge(
    name: str, documentation: str, value: float | Mapping[tuple[str, str], float]
) -> GaugeMetricFamily:
    """A gauge family: one unlabelled value, or one value per (label, value)."""
    if not isinstance(value, Mapping):
        return GaugeMetricFamily(f"{PREFIX}_{name}", documentation, value=float(value))
    labels = sorted({label for label, _ in value})
    family = GaugeMetricFamily(f"{PREFIX}_{name}", documentation, labels=labels)
    for (_, label_value), v in sorted(value.items()):
        family.add_metric([label_value], float(v))
    return family


def _age(now: datetime, instants: Sequence[datetime]) -> float:
    """Seconds since the oldest of ``instants`` (0 when none, never below 0)."""
    if not instants:
        return 0.0
    return max(0.0, (now - min(instants)).total_seconds())


def _queue_lag(transport: Transport, queues: Sequence[str]) -> dict[tuple[str, str], float]:
    """Age of the oldest complete message per queue, by its file's time (the directory
    transport, whose files are the queue); empty for any other transport."""
    if not isinstance(transport, DirectoryTransport):
        return {}
    wall = time.time()
    lag: dict[tuple[str, str], float] = {}
    for queue in queues:
        oldest = _oldest_mtime(transport.root / queue)
        lag[("queue", queue)] = 0.0 if oldest is None else max(0.0, wall - oldest)
    return lag


def _oldest_mtime(folder: Path) -> float | None:
    oldest: float | None = None
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return None
    for entry in entries:
        if entry.name.startswith(".") or not entry.name.endswith(".json"):
            continue
        try:
            mtime = entry.stat().st_mtime
        except OSError:
            continue  # taken meanwhile
        oldest = mtime if oldest is None else min(oldest, mtime)
    return oldest


def _dead_letters(
    transport: Transport, queues: Sequence[str]
) -> dict[tuple[str, str], float] | None:
    """Dead letters per queue where the transport's box can be counted without taking
    messages (the directory's ``.dead/<queue>``, the in-memory fake's ``dead``)."""
    if isinstance(transport, DirectoryTransport):
        found: dict[tuple[str, str], float] = {}
        for queue in queues:
            folder = transport.root / DEAD_DIR / queue
            names = os.listdir(folder) if folder.is_dir() else []
            found[("queue", queue)] = float(sum(1 for n in names if n.endswith(".json")))
        return found
    dead = getattr(transport, "dead", None)  # adapter.testing.MemoryTransport
    if isinstance(dead, Mapping):
        return {("queue", q): float(len(dead.get(q, ()))) for q in queues}
    return None


def _our_certificates(settings: Settings, her_id: str) -> list[_Certificate]:
    """Our signing certificate and the newest of our encryption certificates (from the
    routing file), when CMS is on; what cannot be read is left out (bootstrap has
    already refused a configuration whose certificates do not load)."""
    cms = settings.cms
    if not cms.enabled:
        return []
    found: list[_Certificate] = []
    if cms.signing_cert is not None:
        try:
            signing = load_certificates(cms.signing_cert)
        except (CertificateLoadError, OSError):
            signing = []
        if signing:
            found.append(_Certificate("signing", signing[0].not_valid_after_utc))
    try:
        party = FileRegistry.load(settings.routing_file).lookup(her_id)
        ours = CertificateStore().encryption_certs(party)
    except Exception as exc:  # the registry's own errors, or a file gone since start
        log.warning("metrics.certificates_unreadable", error=type(exc).__name__)
        ours = []
    if ours:
        newest = max(c.not_valid_after_utc for c in ours)
        found.append(_Certificate("encryption", newest))
    return found


# -- serving ------------------------------------------------------------------------------------


class MetricsListenError(OSError):
    """``[metrics] listen`` cannot be listened on (in use, not this machine's)."""


def metrics_app(metrics: Metrics) -> Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]:
    """A WSGI app: ``/metrics`` (text format, or OpenMetrics when asked, gzipped when
    accepted: prometheus-client's own), ``/healthz`` (the process answers), else 404."""
    scrape = make_wsgi_app(metrics.registry)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            body: Iterable[bytes] = scrape(environ, start_response)
            return body
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"status":"ok"}']
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"not found: try /metrics\n"]

    return app


class _Quiet(WSGIRequestHandler):
    """No line on stderr per request (wsgiref's default)."""

    def log_message(self, format: str, *args: Any) -> None:
        """Say nothing."""


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def serve_metrics(runtime: object, settings: Settings) -> Callable[[], None]:
    """Serve ``/metrics`` on ``[metrics] listen`` in a thread beside ``epj-adapter run``;
    returns the function that stops it.

    Does nothing (and returns a stop that does nothing) when the HTTP API runs, which
    serves ``/metrics`` on its own port, or when ``[metrics] enabled`` is not true.
    Logs ``metrics.listening_beyond_loopback`` for an address that is not loopback.

    Raises:
        MetricsListenError: the address cannot be listened on (the message names
            ``[metrics] listen``).
        LookupError: the runtime was not built by :func:`adapter.bootstrap.bootstrap`.
    """
    if settings.http.enabled or not settings.metrics.enabled:
        return _nothing
    metrics = metrics_for(runtime)
    server = _listen(settings.metrics, metrics_app(metrics))
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    log.info("metrics.listening", listen=settings.metrics.listen, port=port, host=str(host))

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

    return stop


def _nothing() -> None:
    """Nothing to stop."""


def _listen(
    settings: MetricsSettings, app: Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]
) -> WSGIServer:
    host, _, port = settings.listen.rpartition(":")
    host = host.strip("[]")
    if not _loopback(host):
        log.warning(
            "metrics.listening_beyond_loopback",
            listen=settings.listen,
            message="/metrics is reachable beyond this machine, without a token",
        )
    try:
        family = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)[0][0]
        server_class = type("_MetricsServer", (_Server,), {"address_family": family})
        return make_server(host, int(port), app, server_class=server_class, handler_class=_Quiet)
    except OSError as exc:
        raise MetricsListenError(
            f"the metrics cannot listen on {settings.listen} ([metrics] listen): "
            f"{exc.strerror or exc}"
        ) from None


def _loopback(host: str) -> bool:
    import ipaddress

    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
