"""``adapter.toml``: settings for ops (database, transport, logging, paths, AMQP, CMS).

Relative paths are relative to the config directory. Every setting has a default,
so the file may be absent (an embedding EPJ then gets the directory transport and
SQLite under ``<config dir>/state``).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import Final, Literal
from urllib.parse import urlsplit

from adapter.config.reader import Reader, Table
from adapter.config.syntax import format_duration, parse_duration, parse_time

FILE: Final = "adapter.toml"

TransportKind = Literal["directory", "amqp"]
LogFormat = Literal["auto", "json", "console"]
AddressFormat = Literal["v1", "v2"]

MIN_RETENTION: Final = timedelta(days=7)
SYNC_TTL: Final = timedelta(seconds=15)
LOG_LEVELS: Final = ("debug", "info", "warning", "error")


@dataclass(frozen=True, slots=True)
class OutboxSettings:
    """Retries of outgoing messages: exponential backoff from ``backoff_initial``."""

    max_attempts: int = 10
    apprec_timeout: timedelta = timedelta(hours=1)
    backoff_initial: timedelta = timedelta(seconds=5)
    backoff_max: timedelta = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    """How often the APScheduler jobs run."""

    enabled: bool = True
    release_interval: timedelta = timedelta(minutes=1)
    deadline_interval: timedelta = timedelta(minutes=1)
    outbox_interval: timedelta = timedelta(seconds=5)
    housekeeping_at: time = time(3, 0)


@dataclass(frozen=True, slots=True)
class AmqpSettings:
    """NHN's AMQP 1.0 broker. The password is read from the environment variable named."""

    url: str = ""
    address_format: AddressFormat = "v2"
    tls: bool = True
    ca_file: Path | None = None
    sasl_user: str = ""
    sasl_password_env: str = "EPJ_ADAPTER_AMQP_PASSWORD"  # noqa: S105 - a variable name
    sync_reply_queue: str = ""  # default: <clinic HER-id>_syncreply
    max_delivery_attempts: int = 5


@dataclass(frozen=True, slots=True)
class CmsSettings:
    """CMS signing and encryption of payloads."""

    enabled: bool = False
    signing_key: Path | None = None
    signing_cert: Path | None = None
    decryption_keys: tuple[Path, ...] = ()
    allow_legacy_ciphers: bool = False
    #: Optional revocation checking: CRL files or URLs, the CA certificates that sign
    #: them, and how long a fetch may take (an unreachable CRL is retried, not fatal).
    revocation_lists: tuple[str, ...] = ()
    revocation_issuers: tuple[Path, ...] = ()
    revocation_timeout: timedelta = timedelta(seconds=5)
    revocation_from_certificates: bool = False


@dataclass(frozen=True, slots=True)
class HelsenorgeSettings:
    """Helsenorge's HER-ids (level 1 organisation, level 2 service), as in the examples."""

    her_id: str = "115851"
    service_her_id: str = "8093248"


#: The keys of one ``[[http.webhooks]]`` entry.
WEBHOOK_KEYS: Final = ("name", "url", "secret_file", "secret_env", "events")
#: A webhook's name: it keys the delivery log, so it is short and plain.
WEBHOOK_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: What the Standard Webhooks spec asks of a secret's key: 24 to 64 bytes.
WEBHOOK_SECRET_BYTES: Final = (24, 64)
WEBHOOK_SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - the form, not a secret


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """One ``[[http.webhooks]]`` entry: the clinic's events POSTed to ``url``, signed
    with ``secret`` as the Standard Webhooks spec says (see :mod:`adapter.http.webhooks`).

    The secret comes from the file ``secret_file`` names (relative to the config
    directory) or from the environment variable ``secret_env`` names, never from
    ``adapter.toml`` itself; it is read when the configuration is loaded and kept out
    of ``repr``.
    """

    name: str
    """Names the webhook in the delivery log (``?webhook=``) and in the logs."""
    url: str
    """Where events are POSTed (``http://`` or ``https://``)."""
    secret: str = field(repr=False, compare=False)
    """``whsec_<base64 of 24..64 bytes>``, the Standard Webhooks form."""
    events: tuple[str, ...] = ()
    """Kind prefixes (``"reservation."``, ``"alert."``); empty: every event."""

    def wants(self, kind: str) -> bool:
        """True when events of ``kind`` go to this webhook."""
        return not self.events or any(kind.startswith(prefix) for prefix in self.events)


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """``[http]``: the HTTP API (``epj-adapter serve``); off unless enabled."""

    enabled: bool = False
    listen: str = "127.0.0.1:8470"
    """``host:port`` to listen on (loopback by default)."""
    tokens: Path = Path("config/tokens.toml")
    """The bearer tokens file (name, sha256, role, clinics per entry)."""
    webhooks: tuple[WebhookSettings, ...] = ()
    """``[[http.webhooks]]``: receivers of the clinic's events."""


#: Where ``epj-adapter run`` serves ``/metrics`` when the HTTP API is off.
METRICS_LISTEN: Final = "127.0.0.1:9470"


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """``[metrics]``: the Prometheus metrics (:mod:`adapter.metrics`).

    With ``[http] enabled``, ``/metrics`` is served on the HTTP API's port whatever this
    says. Without it, ``enabled = true`` makes ``epj-adapter run`` serve ``/metrics``
    (and ``/healthz``) on ``listen``, a port of its own; off by default, as the HTTP API
    is, so that instances sharing a machine do not fight over one port unasked.
    """

    enabled: bool = False
    listen: str = METRICS_LISTEN
    """``host:port`` to listen on (loopback by default: no token is asked)."""


@dataclass(frozen=True, slots=True)
class PerformanceSettings:
    """``[performance]``: switches of what makes answers faster without changing them."""

    hlt_cache: bool = True
    """Keep each HentLedigeTimer answer's xCal and serve it again while it is provably
    what computing it would give (:mod:`adapter.service.availability`); false: every
    HLT is computed from the book."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything ``adapter.toml`` says, with defaults filled in."""

    config_dir: Path = Path("config")
    state_dir: Path = Path("config/state")
    database_url: str = "sqlite:///config/state/adapter.db"
    transport: TransportKind = "directory"
    directory_root: Path = Path("config/state/queues")
    routing_file: Path = Path("config/routing.toml")
    log_format: LogFormat = "auto"
    log_level: str = "info"
    sync_ttl: timedelta = SYNC_TTL
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    processed_retention: timedelta = timedelta(days=30)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    amqp: AmqpSettings = field(default_factory=AmqpSettings)
    cms: CmsSettings = field(default_factory=CmsSettings)
    helsenorge: HelsenorgeSettings = field(default_factory=HelsenorgeSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    performance: PerformanceSettings = field(default_factory=PerformanceSettings)

    @classmethod
    def defaults(cls, config_dir: Path) -> Settings:
        """The settings when ``adapter.toml`` says nothing."""
        state = config_dir / "state"
        return cls(
            config_dir=config_dir,
            state_dir=state,
            database_url=f"sqlite:///{state / 'adapter.db'}",
            directory_root=state / "queues",
            routing_file=config_dir / "routing.toml",
            http=HttpSettings(tokens=config_dir / "tokens.toml"),
        )


SECTIONS: Final = {
    "paths": ("state_dir", "routing"),
    "database": ("url",),
    "transport": ("kind", "directory_root"),
    "logging": ("format", "level"),
    "sync": ("ttl",),
    "outbox": ("max_attempts", "backoff_initial", "backoff_max", "apprec_timeout"),
    "retention": ("processed_messages",),
    "scheduler": (
        "enabled",
        "release_interval",
        "deadline_interval",
        "outbox_interval",
        "housekeeping_at",
    ),
    "amqp": (
        "url",
        "address_format",
        "tls",
        "ca_file",
        "sasl_user",
        "sasl_password_env",
        "sync_reply_queue",
        "max_delivery_attempts",
    ),
    "cms": (
        "enabled",
        "signing_key",
        "signing_cert",
        "decryption_keys",
        "allow_legacy_ciphers",
        "revocation_lists",
        "revocation_issuers",
        "revocation_timeout",
        "revocation_from_certificates",
    ),
    "helsenorge": ("her_id", "service_her_id"),
    "http": ("enabled", "listen", "tokens", "webhooks"),
    "metrics": ("enabled", "listen"),
    "performance": ("hlt_cache",),
}


def read_settings(data: Table, reader: Reader, config_dir: Path) -> Settings:
    """Read ``adapter.toml`` (already parsed); ``config_dir`` anchors relative paths."""
    reader.known_keys(data, (), SECTIONS)
    t: dict[str, Table] = {}
    for name, keys in SECTIONS.items():
        t[name] = reader.table(data, (), name) or {}
        reader.known_keys(t[name], (name,), keys)
    base = Settings.defaults(config_dir)

    def path(section: str, key: str, default: Path) -> Path:
        text = reader.text(t[section], (section,), key)
        return config_dir / text if text else default

    state = path("paths", "state_dir", base.state_dir)
    routing = path("paths", "routing", base.routing_file)
    database = reader.text(t["database"], ("database",), "url") or (
        f"sqlite:///{state / 'adapter.db'}"
    )
    kind = _choice(reader, t["transport"], "transport", "kind", ("directory", "amqp"), "directory")
    root = path("transport", "directory_root", state / "queues")
    log_format = _choice(
        reader, t["logging"], "logging", "format", ("auto", "json", "console"), "auto"
    )
    level = _choice(reader, t["logging"], "logging", "level", LOG_LEVELS, "info")

    ttl = _duration(reader, t["sync"], "sync", "ttl", SYNC_TTL)
    if ttl > SYNC_TTL or ttl <= timedelta(0):
        reader.issue(
            ("sync", "ttl"),
            f"sync TTL {format_duration(ttl)} is outside (0, 15 s]",
            'Helsenorge expires sync requests after 15 s; use "15 s" or less',
        )
        ttl = SYNC_TTL
    outbox = OutboxSettings(
        max_attempts=_positive(reader, t["outbox"], "outbox", "max_attempts", 10),
        backoff_initial=_duration(
            reader, t["outbox"], "outbox", "backoff_initial", timedelta(seconds=5)
        ),
        backoff_max=_duration(reader, t["outbox"], "outbox", "backoff_max", timedelta(minutes=10)),
        apprec_timeout=_duration(
            reader, t["outbox"], "outbox", "apprec_timeout", timedelta(hours=1)
        ),
    )
    retention = _duration(
        reader, t["retention"], "retention", "processed_messages", timedelta(days=30)
    )
    if retention < MIN_RETENTION:
        reader.issue(
            ("retention", "processed_messages"),
            f"processed messages kept only {format_duration(retention)}; "
            "duplicates arriving later would be processed twice",
            'keep them at least "7 days"',
        )
        retention = MIN_RETENTION
    sched = t["scheduler"]
    scheduler = SchedulerSettings(
        enabled=reader.flag(sched, ("scheduler",), "enabled", True),
        release_interval=_duration(
            reader, sched, "scheduler", "release_interval", timedelta(minutes=1)
        ),
        deadline_interval=_duration(
            reader, sched, "scheduler", "deadline_interval", timedelta(minutes=1)
        ),
        outbox_interval=_duration(
            reader, sched, "scheduler", "outbox_interval", timedelta(seconds=5)
        ),
        housekeeping_at=reader.parsed(sched, ("scheduler",), "housekeeping_at", parse_time)
        or time(3, 0),
    )
    amqp = _amqp(reader, t["amqp"], config_dir, kind)
    cms = _cms(reader, t["cms"], config_dir)
    hn = t["helsenorge"]
    helsenorge = HelsenorgeSettings(
        her_id=_her(reader, hn, "her_id", "115851"),
        service_her_id=_her(reader, hn, "service_her_id", "8093248"),
    )
    http = _http(reader, t["http"], config_dir)
    metrics = _metrics(reader, t["metrics"])
    performance = PerformanceSettings(
        hlt_cache=reader.flag(t["performance"], ("performance",), "hlt_cache", True)
    )
    return Settings(
        config_dir=config_dir,
        state_dir=state,
        database_url=database,
        transport=kind,  # type: ignore[arg-type]
        directory_root=root,
        routing_file=routing,
        log_format=log_format,  # type: ignore[arg-type]
        log_level=level,
        sync_ttl=ttl,
        outbox=outbox,
        processed_retention=retention,
        scheduler=scheduler,
        amqp=amqp,
        cms=cms,
        helsenorge=helsenorge,
        http=http,
        metrics=metrics,
        performance=performance,
    )


def _metrics(reader: Reader, table: Table) -> MetricsSettings:
    listen = reader.text(table, ("metrics",), "listen") or METRICS_LISTEN
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        reader.issue(
            ("metrics", "listen"),
            f"listen '{listen}' is not host:port",
            f'e.g. listen = "{METRICS_LISTEN}"',
        )
        listen = METRICS_LISTEN
    return MetricsSettings(
        enabled=reader.flag(table, ("metrics",), "enabled", False), listen=listen
    )


def _http(reader: Reader, table: Table, config_dir: Path) -> HttpSettings:
    listen = reader.text(table, ("http",), "listen") or "127.0.0.1:8470"
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        reader.issue(
            ("http", "listen"),
            f"listen '{listen}' is not host:port",
            'e.g. listen = "127.0.0.1:8470"',
        )
        listen = "127.0.0.1:8470"
    tokens = reader.text(table, ("http",), "tokens") or "tokens.toml"
    return HttpSettings(
        enabled=reader.flag(table, ("http",), "enabled", False),
        listen=listen,
        tokens=config_dir / tokens,
        webhooks=_webhooks(reader, table, config_dir),
    )


def _webhooks(reader: Reader, table: Table, config_dir: Path) -> tuple[WebhookSettings, ...]:
    """``[[http.webhooks]]``: every entry checked, each problem an issue at its key."""
    entries = reader.typed(
        table, ("http",), "webhooks", list, fix="write each webhook as a [[http.webhooks]] table"
    )
    found: list[WebhookSettings] = []
    names: set[str] = set()
    for index, entry in enumerate(entries or []):
        path = ("http", "webhooks", index)
        if not isinstance(entry, dict):
            reader.issue(
                path,
                f"wrong type: expected a table, got {entry!r}",
                "write each webhook as a [[http.webhooks]] table",
            )
            continue
        reader.known_keys(entry, path, WEBHOOK_KEYS)
        webhook = _webhook(reader, entry, path, config_dir)
        if webhook is None:
            continue
        if webhook.name in names:
            reader.issue(
                (*path, "name"),
                f"duplicate webhook name '{webhook.name}'",
                "give each [[http.webhooks]] its own name (it keys the delivery log)",
            )
            continue
        names.add(webhook.name)
        found.append(webhook)
    return tuple(found)


def _webhook(
    reader: Reader, entry: Table, path: tuple[str, str, int], config_dir: Path
) -> WebhookSettings | None:
    name = reader.text(entry, path, "name", required=True, fix='add name = "epj-events"')
    if name is not None and not WEBHOOK_NAME.fullmatch(name):
        reader.issue(
            (*path, "name"),
            f"bad webhook name '{name}'",
            "use up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
        name = None
    url = reader.text(
        entry, path, "url", required=True, fix='add url = "https://epj.example/hooks/adapter"'
    )
    if url is not None:
        url = _webhook_url(reader, (*path, "url"), url)
    secret = _webhook_secret(reader, entry, path, config_dir)
    events: list[str] = []
    for i, prefix in enumerate(reader.typed(entry, path, "events", list) or []):
        if not isinstance(prefix, str) or not prefix:
            reader.issue(
                (*path, "events", i),
                f"wrong type: expected an event kind prefix, got {prefix!r}",
                'write events = ["reservation.", "alert."]',
            )
            continue
        events.append(prefix)
    if name is None or url is None or secret is None:
        return None
    return WebhookSettings(name=name, url=url, secret=secret, events=tuple(events))


def _webhook_url(reader: Reader, path: tuple[str | int, ...], url: str) -> str | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        reader.issue(path, f"not an http(s) URL: '{url}'", 'e.g. url = "https://epj.example/hook"')
        return None
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "::1", "localhost"):
        reader.warn(
            path,
            f"webhook {url} is plain http to another host: events travel unprotected",
            "use https:// outside the clinic's own machine",
        )
    return url


_HOW_TO_MAKE_KEY: Final = (
    "write whsec_ and the base64 of 24 to 64 random bytes, e.g. "
    "python -c \"import base64,os; print('whsec_' + base64.b64encode(os.urandom(32)).decode())\""
)


def webhook_secret_problem(secret: str) -> str:
    """What is wrong with a Standard Webhooks secret (never quoting it); empty when
    it is ``whsec_`` and the base64 of 24 to 64 bytes."""
    if not secret.startswith(WEBHOOK_SECRET_PREFIX):
        return f"it does not start with {WEBHOOK_SECRET_PREFIX}"
    try:
        key = base64.b64decode(secret[len(WEBHOOK_SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return f"what follows {WEBHOOK_SECRET_PREFIX} is not base64"
    low, high = WEBHOOK_SECRET_BYTES
    if not low <= len(key) <= high:
        return f"its key is {len(key)} bytes; the spec asks for {low} to {high}"
    return ""


def _webhook_secret(
    reader: Reader, entry: Table, path: tuple[str, str, int], config_dir: Path
) -> str | None:
    """The secret ``secret_file`` or ``secret_env`` gives, checked (never echoed)."""
    file = reader.text(entry, path, "secret_file")
    env = reader.text(entry, path, "secret_env")
    if (file is None) == (env is None):
        reader.issue(
            path,
            "a webhook needs exactly one of secret_file and secret_env",
            'add secret_file = "webhook.secret" (a file holding whsec_<base64>)',
        )
        return None
    if file is not None:
        key: tuple[str | int, ...] = (*path, "secret_file")
        where = config_dir / file
        try:
            secret = where.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            reader.issue(
                key,
                f"secret file not readable: {file}",
                f"put the secret (whsec_<base64>) in {where} or correct the path",
            )
            return None
        source = f"the file {file}"
    else:
        assert env is not None
        key = (*path, "secret_env")
        value = os.environ.get(env)
        if not value:
            reader.issue(
                key,
                f"environment variable {env} is not set",
                f"set {env} to the webhook's secret (whsec_<base64>)",
            )
            return None
        secret = value.strip()
        source = f"the variable {env}"
    problem = webhook_secret_problem(secret)
    if problem:
        reader.issue(key, f"{source} does not hold a webhook secret: {problem}", _HOW_TO_MAKE_KEY)
        return None
    return secret


def _choice(
    reader: Reader, table: Table, section: str, key: str, allowed: tuple[str, ...], default: str
) -> str:
    value = reader.text(table, (section,), key)
    if value is None:
        return default
    if value.lower() not in allowed:
        reader.issue((section, key), f"unknown {key} '{value}'", "use one of " + ", ".join(allowed))
        return default
    return value.lower()


def _duration(
    reader: Reader, table: Table, section: str, key: str, default: timedelta
) -> timedelta:
    value = reader.parsed(table, (section,), key, parse_duration)
    return default if value is None else value


def _positive(reader: Reader, table: Table, section: str, key: str, default: int) -> int:
    value = reader.integer(table, (section,), key)
    if value is None:
        return default
    if value < 1:
        reader.issue(
            (section, key), f"{key} must be 1 or more, got {value}", f"e.g. {key} = {default}"
        )
        return default
    return value


def _her(reader: Reader, table: Table, key: str, default: str) -> str:
    if key not in table:
        return default
    value = table[key]
    number = isinstance(value, int) and not isinstance(value, bool)
    text = str(value) if number else value
    if not isinstance(text, str) or not text.isdigit():
        reader.issue(("helsenorge", key), f"bad HER-id {value!r}", f'e.g. {key} = "{default}"')
        return default
    if number:
        reader.warn(
            ("helsenorge", key),
            f"HER-id {value} is written as a number; it is an identifier",
            f'write it as text: {key} = "{value}"',
        )
    return text


def _file(
    reader: Reader, table: Table, section: str, key: str, config_dir: Path, must_exist: bool
) -> Path | None:
    text = reader.text(table, (section,), key)
    if not text:
        return None
    found = config_dir / text
    if must_exist and not found.is_file():
        reader.issue(
            (section, key),
            f"file not found: {text}",
            f"put the file at {found} or correct the path (relative to the config directory)",
        )
    return found


def _amqp(reader: Reader, table: Table, config_dir: Path, kind: str) -> AmqpSettings:
    path = ("amqp",)
    url = reader.text(table, path, "url") or ""
    if kind == "amqp" and not url:
        reader.issue(
            (*path, "url"),
            "transport is amqp but no broker url is set",
            'add url = "amqps://<host>:5671" under [amqp]',
        )
    fmt = _choice(reader, table, "amqp", "address_format", ("v1", "v2"), "v2")
    tls = reader.flag(table, path, "tls", True)
    if kind == "amqp" and not tls:
        reader.warn(
            (*path, "tls"),
            "TLS is off: messages travel unprotected",
            "set tls = true outside a test network",
        )
    ca = _file(reader, table, "amqp", "ca_file", config_dir, must_exist=kind == "amqp")
    return AmqpSettings(
        url=url,
        address_format=fmt,  # type: ignore[arg-type]
        tls=tls,
        ca_file=ca,
        sasl_user=reader.text(table, path, "sasl_user") or "",
        sasl_password_env=reader.text(table, path, "sasl_password_env")
        or "EPJ_ADAPTER_AMQP_PASSWORD",
        sync_reply_queue=reader.text(table, path, "sync_reply_queue") or "",
        max_delivery_attempts=_positive(reader, table, "amqp", "max_delivery_attempts", 5),
    )


def _cms(reader: Reader, table: Table, config_dir: Path) -> CmsSettings:
    path = ("cms",)
    enabled = reader.flag(table, path, "enabled", False)
    key = _file(reader, table, "cms", "signing_key", config_dir, must_exist=enabled)
    cert = _file(reader, table, "cms", "signing_cert", config_dir, must_exist=enabled)
    if enabled and (key is None or cert is None):
        reader.issue(
            path,
            "CMS is enabled but the signing key or certificate is not set",
            'add signing_key = "keys/signing.key" and signing_cert = "keys/signing.pem"',
        )
    keys: list[Path] = []
    for index, item in enumerate(reader.typed(table, path, "decryption_keys", list) or []):
        if not isinstance(item, str):
            reader.issue(
                (*path, "decryption_keys", index),
                f"wrong type: expected a file path, got {item!r}",
                'write decryption_keys = ["keys/enc.key"]',
            )
            continue
        found = config_dir / item
        if enabled and not found.is_file():
            reader.issue(
                (*path, "decryption_keys"),
                f"file not found: {item}",
                f"put the key at {found} or correct the path",
            )
        keys.append(found)
    legacy = reader.flag(table, path, "allow_legacy_ciphers", False)
    if legacy:
        reader.warn(
            (*path, "allow_legacy_ciphers"),
            "legacy ciphers are accepted",
            "turn this off once every partner sends AES-GCM/OAEP",
        )
    lists: list[str] = []
    for index, item in enumerate(reader.typed(table, path, "revocation_lists", list) or []):
        if not isinstance(item, str):
            reader.issue(
                (*path, "revocation_lists", index),
                f"wrong type: expected a file path or URL, got {item!r}",
                'write revocation_lists = ["crl/ca.crl", "http://crl.example.no/ca.crl"]',
            )
            continue
        lists.append(item if "://" in item else str(config_dir / item))
    issuers: list[Path] = []
    for index, item in enumerate(reader.typed(table, path, "revocation_issuers", list) or []):
        found = config_dir / str(item)
        if not isinstance(item, str) or not found.is_file():
            reader.issue(
                (*path, "revocation_issuers", index),
                f"not a readable certificate file: {item!r}",
                "name the PEM files of the CAs that sign the CRLs",
            )
            continue
        issuers.append(found)
    return CmsSettings(
        enabled=enabled,
        signing_key=key,
        signing_cert=cert,
        decryption_keys=tuple(keys),
        allow_legacy_ciphers=legacy,
        revocation_lists=tuple(lists),
        revocation_issuers=tuple(issuers),
        revocation_timeout=_duration(
            reader, table, "cms", "revocation_timeout", timedelta(seconds=5)
        ),
        revocation_from_certificates=reader.flag(
            table, path, "revocation_from_certificates", False
        ),
    )
