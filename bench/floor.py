"""The floor: the least work any adapter must do for the same messages, timed in this run.

Two generations of floors live here. The honest floors (issue 15) are what the targets
are measured against:

* HLT floor (:func:`hlt_floor`): parse + validate the request with the profile schema,
  and serialize a tree of the same reply built before the timing (no reply build, no
  reply validation: the adapter validates nothing it sends on its hot path).
* RT floor (:func:`rt_floor`): parse + validate the request, build + serialize both
  replies from a prepared plan (no reply validation), and one durable commit of the
  same rows the adapter's RT wrote (:class:`RowCapture`), with bare ``sqlite3`` on the
  same disk, with the same schema and the adapter's pragmas (WAL, ``synchronous=FULL``).

* Directory floor (:func:`directory_floor_ms`): the directory transport alone, per
  exchange: take the request off its folder, accept it, and send the replies as the
  adapter does (durable AppRec and answer for an RT, in bursts of 32 accepted
  together as the daemon's group commit does; the 108 KB SvarLedigeTimer without fsync
  to the sync-reply queue). Added to the HLT and RT floors it bounds what the
  directory daemon can do: RTs per second at most 1000 / (RT floor + directory floor),
  and with N requesters in a closed loop a mean HLT latency of at least
  N x (HLT floor + directory floor) (Little's law, one loop answering).

The issue-6 floors (:func:`measure`) stay for comparison: they validate every reply
too and have no commit at all, which flattered the HLT ratio and said nothing about
the RT's avoidable cost.

* XML floor (issue 6): bare lxml parse of the request bytes and validation with the project's
  profile schema (``adapter/schemas/profile.xsd``), plus, for each reply the adapter
  produced, building the same tree with bare ``etree.SubElement`` calls from a plan
  prepared outside the timing (tags, attributes and texts already computed), serializing
  it and validating it with the profile schema.
* CMS floor: decrypt + verify the request (as Helsenorge signed and encrypted it), and
  sign + encrypt each reply, with :class:`adapter.transport.cms.CmsProtection` and a
  throwaway 2048-bit RSA PKI (:func:`adapter.testing.make_test_pki`).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from adapter.messages.validation import profile_schema
from adapter.transport.base import TransportMessage

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)

Plan = list[tuple[int, str, dict[str, str], str | None, dict[str | None, str] | None]]


def plan_of(body: bytes) -> Plan:
    """The reply as build instructions: (parent index, tag, attributes, text, nsmap)."""
    root = etree.fromstring(body, _PARSER)
    plan: Plan = []
    index: dict[Any, int] = {}
    for elem in root.iter():
        if not isinstance(elem.tag, str):
            continue
        parent = elem.getparent()
        pi = -1 if parent is None else index[parent]
        own = dict(elem.nsmap)
        inherited = dict(parent.nsmap) if parent is not None else {}
        nsmap = own if own != inherited else None
        index[elem] = len(plan)
        plan.append((pi, elem.tag, dict(elem.attrib), elem.text, nsmap))
    return plan


def build(plan: Plan, *, validate: bool = True) -> bytes:
    """Build, serialize and (unless ``validate`` is False) validate the tree of
    ``plan``; the serialized bytes."""
    _, tag, attrib, text, nsmap = plan[0]
    root = etree.Element(tag, attrib, nsmap=nsmap)
    root.text = text
    elems = [root]
    sub = etree.SubElement
    for pi, tag, attrib, text, nsmap in plan[1:]:
        child = sub(elems[pi], tag, attrib, nsmap=nsmap) if nsmap else sub(elems[pi], tag, attrib)
        if text is not None:
            child.text = text
        elems.append(child)
    body: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    if validate and not profile_schema().validate(root):
        raise AssertionError("floor reply does not validate")
    return body


def parse_validate(body: bytes) -> None:
    """Bare parse + profile validation of a request."""
    root = etree.fromstring(body, _PARSER)
    if not profile_schema().validate(root):
        raise AssertionError("floor request does not validate")


def per_call_ms(fn: Callable[[], object], *, seconds: float = 0.5, min_calls: int = 20) -> float:
    """Median wall time of ``fn`` in milliseconds, each call timed (after a warm-up).

    The median, not the mean: the floor is compared with medians, and it must not
    move with other load on a shared machine.
    """
    fn()
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < min_calls or time.perf_counter() - started < seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2] * 1000


@dataclass(frozen=True)
class Floor:
    """Floor times of one exchange (one request, its replies), in ms."""

    xml_ms: float
    cms_ms: float | None

    @property
    def total_ms(self) -> float:
        """XML plus CMS (when measured)."""
        return self.xml_ms + (self.cms_ms or 0.0)


class CmsPair:
    """Helsenorge's and the clinic's CMS protection over one throwaway PKI."""

    def __init__(self) -> None:
        from adapter.testing import make_test_pki
        from adapter.transport.cms import CmsProtection

        pki = make_test_pki()
        hn, clinic = pki.party("helsenorge"), pki.party("clinic")
        self.helsenorge_party, self.clinic_party = hn, clinic
        self.helsenorge = CmsProtection(
            hn.signing.key, hn.signing.cert, [(hn.encryption.key, hn.encryption.cert)]
        )
        self.clinic = CmsProtection(
            clinic.signing.key,
            clinic.signing.cert,
            [(clinic.encryption.key, clinic.encryption.cert)],
        )

    def to_clinic(self, body: bytes) -> bytes:
        """What Helsenorge sends: signed by Helsenorge, encrypted to the clinic."""
        return self.helsenorge.protect(body, self.clinic_party.encryption.cert)

    def clinic_unprotect(self, data: bytes) -> bytes:
        """The clinic decrypts and verifies a request from Helsenorge."""
        return self.clinic.unprotect(data, self.helsenorge_party.signing.cert)

    def clinic_protect(self, body: bytes) -> bytes:
        """The clinic signs and encrypts a reply to Helsenorge."""
        return self.clinic.protect(body, self.helsenorge_party.encryption.cert)


def measure(
    request: bytes, replies: Sequence[bytes], *, cms: CmsPair | None, seconds: float
) -> Floor:
    """The floor of one exchange: ``request`` in, ``replies`` out."""
    plans = [plan_of(r) for r in replies]

    def xml() -> None:
        parse_validate(request)
        for plan in plans:
            build(plan)

    xml_ms = per_call_ms(xml, seconds=seconds)
    cms_ms = None
    if cms is not None:
        wrapped = cms.to_clinic(request)

        def crypto() -> None:
            cms.clinic_unprotect(wrapped)
            for reply in replies:
                cms.clinic_protect(reply)

        cms_ms = per_call_ms(crypto, seconds=seconds)
    return Floor(xml_ms, cms_ms)


# --- the honest floors (issue 15) --------------------------------------------------------


def hlt_request_floor(request: bytes, *, seconds: float) -> float:
    """ms: parse + validate ``request``, the part of :func:`hlt_floor` an answer from
    the HLT cache cannot skip (it serializes no tree: the xCal's bytes are kept)."""
    return per_call_ms(lambda: parse_validate(request), seconds=seconds)


def hlt_floor(request: bytes, reply: bytes, *, seconds: float) -> float:
    """ms: parse + validate ``request``, serialize a prebuilt tree of ``reply``."""
    tree = etree.fromstring(reply, _PARSER)

    def work() -> None:
        parse_validate(request)
        etree.tostring(tree, xml_declaration=True, encoding="UTF-8")

    return per_call_ms(work, seconds=seconds)


#: The adapter's SQLite settings (adapter.store.db), applied to the floor's database.
_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA foreign_keys=ON", "PRAGMA synchronous=FULL")


class RowCapture:
    """The rows one exchange inserted into the adapter's SQLite database.

    :meth:`mark` notes the highest rowid of every table; :meth:`taken` reads the rows
    inserted since (each table's new rows with their column names). Rows updated in
    place (a slot, a claim) are not counted: the floor is the inserts.
    """

    def __init__(self, db: Path) -> None:
        self.db = db
        self._marks: dict[str, int] = {}

    def _tables(self, con: sqlite3.Connection) -> list[str]:
        rows = con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE '%WITHOUT ROWID%'"
        ).fetchall()
        return [str(r[0]) for r in rows]

    def mark(self) -> None:
        """Note where every table ends now."""
        con = sqlite3.connect(self.db)
        try:
            self._marks = {
                t: int(con.execute(f'SELECT coalesce(max(rowid), 0) FROM "{t}"').fetchone()[0])
                for t in self._tables(con)
            }
        finally:
            con.close()

    def taken(self) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
        """The rows inserted since :meth:`mark`, by table: (columns, rows)."""
        con = sqlite3.connect(self.db)
        try:
            out: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
            for table, last in self._marks.items():
                cur = con.execute(f'SELECT * FROM "{table}" WHERE rowid > ?', (last,))
                rows = cur.fetchall()
                if rows:
                    out[table] = ([d[0] for d in cur.description], rows)
            return out
        finally:
            con.close()

    def schema(self) -> list[str]:
        """The DDL of the adapter's tables and indexes. Not its triggers: they guard the
        audit against UPDATE and DELETE only (inserts never fire them), and the floor
        deletes its rows between rounds."""
        con = sqlite3.connect(self.db)
        try:
            rows = con.execute(
                "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL "
                "AND type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' "
                "ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END"
            ).fetchall()
            return [str(r[0]) for r in rows]
        finally:
            con.close()


@dataclass(frozen=True)
class RtFloor:
    """The RT floor's parts, in ms (medians of individually timed calls)."""

    xml_ms: float
    commit_ms: float
    rows: int
    tables: list[str]

    @property
    def total_ms(self) -> float:
        """lxml work plus the durable commit."""
        return self.xml_ms + self.commit_ms


def commit_floor_ms(
    folder: Path,
    schema: list[str],
    rows: dict[str, tuple[list[str], list[tuple[Any, ...]]]],
    *,
    seconds: float,
) -> float:
    """ms: one durable commit of ``rows`` with bare sqlite3 (the adapter's pragmas and
    schema, a fresh database in ``folder``, beside the adapter's on the same disk).

    Only the insert + commit is timed; the rows are deleted again after each timed
    commit (untimed), so unique indexes never refuse the next round."""
    path = folder / "floor-commit.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    con = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in _PRAGMAS:
            con.execute(pragma)
        con.execute("PRAGMA foreign_keys=OFF")  # the parents (slots, clinics) are not copied
        for ddl in schema:
            con.execute(ddl)
        statements = [
            (
                f'INSERT INTO "{t}" ({", ".join(chr(34) + c + chr(34) for c in cols)}) '
                f"VALUES ({', '.join('?' for _ in cols)})",
                data,
                t,
            )
            for t, (cols, data) in rows.items()
        ]
        times: list[float] = []
        started = time.perf_counter()
        while len(times) < 20 or time.perf_counter() - started < seconds:
            t0 = time.perf_counter()
            con.execute("BEGIN")
            for sql, data, _table in statements:
                con.executemany(sql, data)
            con.execute("COMMIT")
            times.append(time.perf_counter() - t0)
            con.execute("BEGIN")
            for _sql, _data, table in statements:
                con.execute(f'DELETE FROM "{table}"')
            con.execute("COMMIT")
        times.sort()
        return times[len(times) // 2] * 1000
    finally:
        con.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def rt_floor(
    request: bytes,
    replies: Sequence[bytes],
    capture: RowCapture,
    rows: dict[str, tuple[list[str], list[tuple[Any, ...]]]],
    folder: Path,
    *,
    seconds: float,
) -> RtFloor:
    """The honest RT floor: lxml work (parse + validate the request, build + serialize
    the replies, no reply validation) plus one durable commit of ``rows``."""
    plans = [plan_of(r) for r in replies]

    def xml() -> None:
        parse_validate(request)
        for plan in plans:
            build(plan, validate=False)

    xml_ms = per_call_ms(xml, seconds=seconds)
    commit_ms = commit_floor_ms(folder, capture.schema(), rows, seconds=seconds)
    return RtFloor(xml_ms, commit_ms, sum(len(r) for _c, r in rows.values()), sorted(rows))


def exchange_floor_ms(
    transport: Any,
    queue: str,
    request: TransportMessage,
    replies: Sequence[tuple[str, TransportMessage]],
    *,
    feed: Callable[[TransportMessage], None],
    drain: Callable[[], None],
    burst: int = 1,
    rounds: int = 20,
) -> float:
    """A transport's own work per exchange, in ms (median over ``rounds``), no adapter.

    Per round, ``feed`` puts ``burst`` copies of ``request`` on ``queue`` (untimed: the
    counterpart's side); then timed, on ``transport`` (the clinic's): take each, accept
    them together (``accept_many``, as the daemon's burst does; ``burst=1`` is a sync
    request's own accept), and send every reply of each one by one, as the dispatcher
    does. The time per exchange is the round's divided by ``burst``; ``drain`` then
    takes the replies off their queues, untimed.
    """
    from dataclasses import replace as copy
    from uuid import uuid4

    per_exchange: list[float] = []
    for _ in range(rounds):
        for _ in range(burst):
            feed(copy(request, message_id=str(uuid4())))
        started = time.perf_counter()
        taken = []
        for _ in range(burst):
            delivery = transport.receive([queue], 10.0)
            if delivery is None:
                raise RuntimeError("the floor's own request did not arrive")
            taken.append(delivery)
        transport.accept_many(taken)
        for _ in taken:
            for reply_queue, reply in replies:
                transport.send(reply_queue, copy(reply, message_id=str(uuid4())))
        per_exchange.append((time.perf_counter() - started) * 1000 / burst)
        drain()
    per_exchange.sort()
    return per_exchange[len(per_exchange) // 2]


def directory_floor_ms(
    root: Path,
    queue: str,
    request: TransportMessage,
    replies: Sequence[tuple[str, TransportMessage]],
    *,
    burst: int = 1,
    rounds: int = 20,
) -> float:
    """:func:`exchange_floor_ms` of :class:`adapter.transport.directory.DirectoryTransport`
    in ``root`` (durable sends, or not on a ``_syncreply`` queue: the transport decides
    by queue as for the adapter); the requests are written by the same transport."""
    from adapter.transport.directory import DirectoryTransport

    transport = DirectoryTransport(root)
    reply_queues = sorted({q for q, _ in replies})
    transport.ensure_queues([queue, *reply_queues])

    def drain() -> None:
        for reply_queue in reply_queues:
            while (got := transport.receive([reply_queue], 0)) is not None:
                got.accept()

    try:
        return exchange_floor_ms(
            transport,
            queue,
            request,
            replies,
            feed=lambda m: transport.send(queue, m),
            drain=drain,
            burst=burst,
            rounds=rounds,
        )
    finally:
        transport.close()
