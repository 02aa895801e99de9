"""``epj-adapter doctor``: is this installation able to do its job right now?

Each check says ok, warn or fail with one line of detail: the configuration, the
database, the transport (broker reachable, queues present), the Adresseregister routing,
the CMS keys and certificates, dead letters and undeliverable outgoing messages, and the
clock. Checks never change anything.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from adapter.config import AdapterConfig, check_config


class Outcome(StrEnum):
    """How a check went."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    outcome: Outcome
    detail: str

    def __str__(self) -> str:
        return f"{self.outcome.value:<4}  {self.name:<12} {self.detail}"


#: Clock skew against the database beyond which the doctor fails.
MAX_SKEW = timedelta(seconds=30)


def run_checks(config: AdapterConfig, now: Callable[[], datetime] | None = None) -> list[Check]:
    """Every check, in order."""
    clock = now or (lambda: datetime.now(UTC))
    checks = [_config(config)]
    checks.append(_database(config, clock))
    checks.extend(_transport(config))
    checks.extend(_routing(config, clock()))
    checks.append(_cms(config, clock))
    checks.append(_clock(clock))
    return checks


def _config(config: AdapterConfig) -> Check:
    issues = check_config(config.path)
    errors = [i for i in issues if i.is_error]
    if errors:
        return Check("config", Outcome.FAIL, f"{len(errors)} error(s); first: {errors[0]}")
    if issues:
        return Check("config", Outcome.WARN, f"{len(issues)} warning(s); first: {issues[0]}")
    return Check("config", Outcome.OK, f"{config.path} loads without problems")


def _database(config: AdapterConfig, clock: Callable[[], datetime]) -> Check:
    from sqlalchemy import text

    from adapter.store.db import SCHEMA_VERSION, make_engine, schema_version

    url = config.settings.database_url
    try:
        engine = make_engine(url)
        try:
            version = schema_version(engine)
            with engine.connect() as connection:
                if engine.dialect.name == "postgresql":
                    db_now = connection.execute(text("SELECT now()")).scalar_one()
                    skew = abs(db_now - clock())
                    if skew > MAX_SKEW:
                        return Check(
                            "database", Outcome.FAIL, f"clock differs from the database by {skew}"
                        )
        finally:
            engine.dispose()
    except Exception as exc:  # any driver error: report, do not crash
        return Check(
            "database", Outcome.FAIL, f"cannot open {engine_name(url)}: {type(exc).__name__}"
        )
    if version is None:
        return Check(
            "database", Outcome.WARN, f"{engine_name(url)}: empty; `run` creates the schema"
        )
    if version != SCHEMA_VERSION:
        return Check(
            "database",
            Outcome.FAIL,
            f"schema version {version}, this adapter needs {SCHEMA_VERSION}",
        )
    return Check("database", Outcome.OK, f"{engine_name(url)}, schema version {version}")


def engine_name(url: str) -> str:
    """The database URL without any password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"
    return url


def _our_queues(config: AdapterConfig) -> list[str]:
    her = config.clinic.her_id
    return [f"{her}_async", f"{her}_sync", f"{her}_error", f"{her}_syncreply"]


def _transport(config: AdapterConfig) -> list[Check]:
    settings = config.settings
    if settings.transport == "directory":
        root = settings.directory_root
        if not root.is_dir():
            return [Check("transport", Outcome.WARN, f"{root} not there yet; `run` makes it")]
        try:
            with tempfile.NamedTemporaryFile(dir=root, prefix=".doctor-"):
                pass
        except OSError as exc:
            return [Check("transport", Outcome.FAIL, f"{root} is not writable: {exc.strerror}")]
        missing = [q for q in _our_queues(config) if not (root / q).is_dir()]
        if missing:
            state = Check(
                "transport", Outcome.WARN, f"{root}: no folder yet for {', '.join(missing)}"
            )
        else:
            state = Check("transport", Outcome.OK, f"directory transport at {root}")
        return [state, _dead_directory(config)]
    from adapter.bootstrap import make_transport

    try:
        transport = make_transport(config)
    except Exception as exc:  # connection faults of any kind
        return [
            Check(
                "transport", Outcome.FAIL, f"AMQP {settings.amqp.url}: {type(exc).__name__}: {exc}"
            )
        ]
    try:
        missing = transport.missing_queues(_our_queues(config))  # type: ignore[attr-defined]
    except Exception as exc:  # the broker could not be reached
        return [
            Check(
                "transport", Outcome.FAIL, f"AMQP {settings.amqp.url}: {type(exc).__name__}: {exc}"
            )
        ]
    finally:
        transport.close()
    if missing:
        return [
            Check("transport", Outcome.FAIL, f"queues missing on the broker: {', '.join(missing)}")
        ]
    return [
        Check(
            "transport", Outcome.OK, f"AMQP {settings.amqp.url}: broker reachable, queues present"
        )
    ]


def _dead_directory(config: AdapterConfig) -> Check:
    from adapter.transport.deadletters import DirectoryDeadLetters

    box = DirectoryDeadLetters(config.settings.directory_root)
    counts = {q: len(box.peek(q, 10_000)) for q in _our_queues(config)}
    dead = {q: n for q, n in counts.items() if n}
    if dead:
        listing = ", ".join(f"{q}: {n}" for q, n in dead.items())
        return Check("deadletters", Outcome.WARN, f"{listing} (see `epj-adapter deadletters`)")
    return Check("deadletters", Outcome.OK, "none")


def _routing(config: AdapterConfig, now: datetime) -> list[Check]:
    from adapter.bootstrap import load_registry
    from adapter.registry.check import check_routing

    path = config.settings.routing_file
    try:
        registry = load_registry(config)
    except Exception as exc:  # a broken routing file
        return [Check("routing", Outcome.FAIL, f"{path}: {exc}")]
    if registry is None:
        return [
            Check("routing", Outcome.WARN, f"{path} not found: replies routed by queue naming only")
        ]
    ours = [config.clinic.her_id, *(p.her_id for p in config.practitioners)]
    counterpart = config.settings.helsenorge.service_her_id or config.settings.helsenorge.her_id
    problems = check_routing(
        registry,
        ours,
        now,
        counterparts=[counterpart],
        check_certificates=config.settings.cms.enabled,
    )
    errors = [p for p in problems if p.startswith("error")]
    if errors:
        return [Check("routing", Outcome.FAIL, f"{len(errors)} problem(s); first: {errors[0]}")]
    if problems:
        return [Check("routing", Outcome.WARN, problems[0])]
    return [Check("routing", Outcome.OK, f"{path}: our parties and Helsenorge are routable")]


def _cms(config: AdapterConfig, clock: Callable[[], datetime]) -> Check:
    cms = config.settings.cms
    if not cms.enabled:
        return Check("cms", Outcome.OK, "off (plain XML)")
    from adapter.bootstrap import load_registry, make_protector
    from adapter.crypto.certs import check_certificate, load_certificate

    try:
        make_protector(config, load_registry(config), clock)
    except Exception as exc:  # keys that do not load or match
        return Check("cms", Outcome.FAIL, f"{type(exc).__name__}: {exc}")
    assert cms.signing_cert is not None
    problems = check_certificate(load_certificate(cms.signing_cert), clock(), "signing")
    if any(p.is_error for p in problems):
        return Check("cms", Outcome.FAIL, "; ".join(p.message for p in problems))
    if problems:
        return Check("cms", Outcome.WARN, "; ".join(p.message for p in problems))
    return Check("cms", Outcome.OK, "keys and certificates load and match")


def _clock(clock: Callable[[], datetime]) -> Check:
    try:
        oslo = ZoneInfo("Europe/Oslo")
    except Exception:  # no time zone data on this machine
        return Check("clock", Outcome.FAIL, "no time zone data for Europe/Oslo (install tzdata)")
    now = clock()
    if now.year < 2025:
        return Check("clock", Outcome.FAIL, f"system clock says {now:%Y-%m-%d}; set the time (NTP)")
    tz = os.environ.get("TZ", "")
    return Check(
        "clock",
        Outcome.OK,
        f"{now.astimezone(oslo):%Y-%m-%d %H:%M %Z} Oslo{f' (TZ={tz})' if tz else ''}",
    )
