"""What the hostile corpus and the fuzz test share: the table, rendering a corpus file
into a message, reading what the adapter answered, and the database snapshot.

The table (``expected.toml``) has one ``[[case]]`` per message: ``file`` (the payload,
in ``corpus/``), ``props`` (optional: a sidecar ``.json`` in ``corpus/`` holding the
AMQP properties exactly as the directory transport stores them, with the field under
test missing or broken; without it the message carries every field HITS 1216 §2.1.2
marks R, built by :func:`adapter.testing.helsenorge_properties`), ``queue`` ("async" or
"sync"), ``slot`` (which slot the ``${SLOT_UID}`` placeholders name), ``arrives`` (what
it is, in words), ``expect`` (the answer, see :func:`parse_expectation`), ``section``
(the HITS section the answer comes from), ``first_use = true`` for a row whose first
answer after the start is what it measures (it is never timed again), and, for a row
that is known to fail until another change lands, ``pending`` (why; the row runs as a
non-strict xfail).

Placeholders in corpus files, filled in at test time: ``${MSG_ID}`` (a new MsgId per
file; ``${MSG_ID:name}`` the same one for every file naming ``name``), ``${AMQP_ID}``
(likewise for the AMQP messageId), ``${UUID}``, ``${GEN_DATE}``, ``${NOW}``,
``${EXPIRES}`` / ``${EXPIRED}`` (a sync TTL 15 s ahead / a minute gone),
``${SLOT_UID}``, ``${DTSTART}``, ``${DTEND}``, ``${DTSTART_LATER}``, ``${DTEND_LATER}``,
``${CONTACT}``, ``${CANARY_FILE}`` (a local file whose content must never come back),
``${CANARY_URL}`` (a local HTTP server that must never be asked) and ``${PADDING}``
(the filler of the 20 MB and 200 MB bodies, streamed, never held in memory).
"""

from __future__ import annotations

import html
import json
import os
import re
import sqlite3
import tomllib
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from adapter.domain.model import OSLO
from adapter.messages.read_replies import ReplySummary, read_reply
from adapter.testing import helsenorge_message
from adapter.transport.base import TransportMessage
from adapter.transport.directory import properties_from_json, properties_to_json

HERE: Final = Path(__file__).resolve().parent
CORPUS: Final = HERE / "corpus"
TABLE: Final = HERE / "expected.toml"

CLINIC_HER: Final = "8142519"
HELSENORGE_HER: Final = "8093248"
CLINIC_QUEUES: Final = {"async": f"{CLINIC_HER}_async", "sync": f"{CLINIC_HER}_sync"}

#: Subject (8279) of a payload, by its MsgInfo/Type (or APPREC for an AppRec).
_TYPE = re.compile(rb"<(?:\w+:)?Type\s+V=\"([A-Z_]+)\"|<(?:\w+:)?MsgType\s+V=\"(APPREC)\"")
_PLACEHOLDER: Final = re.compile(r"\$\{([A-Z_]+)(?::([A-Za-z0-9_-]+))?\}")

#: Tables that change with time alone (the lock's heartbeat): never compared.
IGNORED_TABLES: Final = frozenset({"scheduler_lock"})


# --- the table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """The answer a message must get: exactly these items, nothing else.

    Items: ``report <errorCondition>`` (an error-queue report, 1216 §2.2.6),
    ``apprec <8221 code>`` (a negative AppRec), ``apprec ok`` (a positive one),
    ``answer <7602 code>`` (the async answer), ``sync <code>`` (a sync reply's
    TemaKodet). ``dropped`` is the empty list: logged, nothing sent.
    """

    items: tuple[str, ...]

    @property
    def dropped(self) -> bool:
        return not self.items


def parse_expectation(text: str) -> Expected:
    """``"apprec ok, answer 06"`` -> Expected(("answer 06", "apprec ok")); ``"dropped"``."""
    text = text.strip()
    if text == "dropped":
        return Expected(())
    items = tuple(sorted(" ".join(part.split()) for part in text.split(",")))
    for item in items:
        kind = item.split(" ", 1)[0]
        if kind not in {"report", "apprec", "answer", "sync"} or " " not in item:
            raise ValueError(f"not an expected answer: {item!r}")
    return Expected(items)


@dataclass(frozen=True)
class Case:
    """One row of ``expected.toml``."""

    name: str
    file: str
    queue: str
    arrives: str
    expect: Expected
    section: str
    props: str | None = None
    slot: str = "free"
    pending: str | None = None
    generate_mb: int | None = None
    field_under_test: str | None = None
    first_use: bool = False

    @property
    def repeatable(self) -> bool:
        """Whether the row can be sent again to time it again: it shares no id with
        another row, and its first answer is not what it measures (``first_use``)."""
        texts = [self.payload_path.read_bytes()[:200_000]]
        if self.props_path is not None:
            texts.append(self.props_path.read_bytes())
        shared = any(b"${MSG_ID:" in t or b"${AMQP_ID:" in t for t in texts)
        return not (shared or self.first_use)

    @property
    def payload_path(self) -> Path:
        return CORPUS / self.file

    @property
    def props_path(self) -> Path | None:
        return CORPUS / self.props if self.props else None


def load_cases(path: Path = TABLE) -> list[Case]:
    """Every row of the table, in order."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    cases = []
    for row in data["case"]:
        cases.append(
            Case(
                name=str(row["name"]),
                file=str(row["file"]),
                queue=str(row.get("queue", "async")),
                arrives=str(row["arrives"]),
                expect=parse_expectation(str(row["expect"])),
                section=str(row["section"]),
                props=row.get("props"),
                slot=str(row.get("slot", "free")),
                pending=row.get("pending"),
                generate_mb=row.get("generate_mb"),
                field_under_test=row.get("field"),
                first_use=bool(row.get("first_use", False)),
            )
        )
    return cases


# --- rendering ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotRef:
    """A slot as an RT names it (xCal local times, Europe/Oslo)."""

    uid: str
    start: datetime
    end: datetime
    contact: str


def _local(value: datetime) -> str:
    return value.astimezone(OSLO).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass
class Renderer:
    """Fills in the placeholders; shared ids (``${MSG_ID:name}``) stay the same."""

    canary_file: Path
    canary_url: str
    now: Callable[[], datetime]
    shared: dict[str, str] = field(default_factory=dict)

    def values(self, slot: SlotRef | None) -> dict[str, str]:
        now = self.now()
        values = {
            "MSG_ID": str(uuid.uuid4()),
            "AMQP_ID": str(uuid.uuid4()),
            "UUID": str(uuid.uuid4()),
            "GEN_DATE": now.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "NOW": now.isoformat(),
            "EXPIRES": (now + timedelta(seconds=15)).isoformat(),
            "EXPIRED": (now - timedelta(minutes=1)).isoformat(),
            "CANARY_FILE": str(self.canary_file),
            "CANARY_URL": self.canary_url,
        }
        if slot is not None:
            later = timedelta(minutes=5)
            values |= {
                "SLOT_UID": slot.uid,
                "DTSTART": _local(slot.start),
                "DTEND": _local(slot.end),
                "DTSTART_LATER": _local(slot.start + later),
                "DTEND_LATER": _local(slot.end + later),
                "CONTACT": slot.contact,
            }
        return values

    def render(self, text: str, values: Mapping[str, str]) -> str:
        def fill(match: re.Match[str]) -> str:
            name, shared = match.group(1), match.group(2)
            if shared is not None:
                return self.shared.setdefault(f"{name}:{shared}", str(uuid.uuid4()))
            if name not in values:
                raise KeyError(f"no value for ${{{name}}}")
            return values[name]

        return _PLACEHOLDER.sub(fill, text)

    def render_bytes(self, data: bytes, values: Mapping[str, str]) -> bytes:
        """Placeholders in a payload of any encoding (UTF-8, UTF-16BE, broken UTF-8)."""
        if data.startswith(b"\xfe\xff"):
            return b"\xfe\xff" + self.render(data[2:].decode("utf-16-be"), values).encode(
                "utf-16-be"
            )
        text = data.decode("utf-8", errors="surrogateescape")
        return self.render(text, values).encode("utf-8", errors="surrogateescape")


def subject_of(body: bytes) -> str:
    """The payload's MsgInfo/Type (APPREC for an AppRec); the RT's process otherwise."""
    found = _TYPE.search(body[:8192])
    if found is None:
        return "DIALOG_INNBYGGER_TIMERESERVASJON"
    return (found.group(1) or found.group(2)).decode()


def default_properties(body: bytes, queue: str, now: datetime) -> dict[str, Any]:
    """The ``.json`` of a conformant message on ``queue`` (every R field of 1216 §2.1.2)."""
    message = helsenorge_message(body, subject_of(body), queue=queue, now=now)
    return properties_to_json(message)


def is_uuid(value: str) -> bool:
    """Whether ``value`` is a UUID in its canonical (lower-case) form."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def msg_id_of(body: bytes) -> str:
    """MsgHead MsgId (or an AppRec's Id) of a payload, as written; "" when there is none."""
    head = body[:8192]
    found = re.search(rb"<(?:\w+:)?MsgId>([^<]*)<", head)
    if found is None and b"AppRec" in head:
        found = re.search(rb"<(?:\w+:)?Id>([^<]*)<", head)
    if found is None:
        return ""
    return html.unescape(found.group(1).decode("utf-8", errors="replace")).strip()


# --- dropping a message as Helsenorge would ----------------------------------------------------


def _atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".tmp-{path.name}-{uuid.uuid4().hex[:6]}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def drop(root: Path, queue: str, name: str, body: bytes | Path, props: Mapping[str, Any]) -> Path:
    """Put a message on ``queue`` as the directory contract says: the ``.xml`` first
    (a Path is moved in, for bodies too big to hold), the ``.json`` last. Returns it."""
    folder = root / queue
    folder.mkdir(parents=True, exist_ok=True)
    xml_path = folder / f"{name}.xml"
    if isinstance(body, Path):
        os.replace(body, xml_path)
    elif body:
        _atomic(xml_path, body)
    json_path = folder / f"{name}.json"
    _atomic(json_path, json.dumps(props, ensure_ascii=False).encode())
    return json_path


# --- what came back ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Output:
    """One message the adapter put on a queue other than its own."""

    queue: str
    path: Path
    message: TransportMessage
    summary: ReplySummary | None
    mtime_ns: int

    @property
    def item(self) -> str:
        """The message as an :class:`Expected` item."""
        if self.queue.endswith("_error"):
            return f"report {self.message.prop('errorCondition')}"
        summary = self.summary
        if summary is None:
            return f"unreadable {self.queue}"
        if self.queue.endswith("_syncreply"):
            return f"sync {summary.code}"
        if summary.kind == "apprec":
            return (
                "apprec ok" if summary.code == "1" else "apprec " + ",".join(summary.apprec_errors)
            )
        return f"answer {summary.code}"


class Outputs:
    """Reads, once each, what the adapter sent to every queue but its own."""

    def __init__(self, root: Path, own: Iterable[str] = CLINIC_QUEUES.values()) -> None:
        self.root = root
        self.own = frozenset(own)
        self.seen: set[Path] = set()

    def _folders(self) -> Iterator[Path]:
        for entry in sorted(self.root.iterdir()):
            if entry.is_dir() and not entry.name.startswith(".") and entry.name not in self.own:
                yield entry

    def new(self) -> list[Output]:
        """Messages not returned before, oldest first."""
        found: list[Output] = []
        for folder in self._folders():
            for path in folder.glob("*.json"):
                if path in self.seen:
                    continue
                try:
                    data = json.loads(path.read_bytes())
                    stat = path.stat()
                except (OSError, ValueError):
                    continue  # not complete yet
                xml = path.with_suffix(".xml")
                body = xml.read_bytes() if xml.exists() else b""
                self.seen.add(path)
                message = properties_from_json(data, body, folder.name)
                summary = None
                if body:
                    try:
                        summary = read_reply(body)
                    except Exception:
                        summary = None
                found.append(Output(folder.name, path, message, summary, stat.st_mtime_ns))
        found.sort(key=lambda o: o.mtime_ns)
        return found


# --- the database ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """Every table's rows (as sets of tuples) and column names."""

    columns: dict[str, tuple[str, ...]]
    rows: dict[str, frozenset[tuple[Any, ...]]]


def snapshot(db: Path) -> Snapshot:
    """The database's content, read-only (SQLite WAL lets the daemon go on writing)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        names = [
            str(r[0])
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        columns: dict[str, tuple[str, ...]] = {}
        rows: dict[str, frozenset[tuple[Any, ...]]] = {}
        for name in names:
            if name in IGNORED_TABLES:
                continue
            cursor = conn.execute(f'SELECT * FROM "{name}"')
            columns[name] = tuple(d[0] for d in cursor.description)
            rows[name] = frozenset(tuple(r) for r in cursor.fetchall())
        return Snapshot(columns, rows)
    finally:
        conn.close()


#: What a message may legitimately leave in the store, per table: rows (added or
#: changed) whose column holds one of the message's own ids. Everything else must stay
#: exactly as it was: no appointment, wish, event, slot, patient or release row.
#:
#: - processed_messages: the dedupe record of this MsgId (HITS 1216 §2.2.4), incl. the
#:   "reused" mark of a replayed MsgId;
#: - audit: "reservation.refused" and the like, about this MsgId;
#: - outbox: the AppRec and answer rows for this message (by AMQP messageId);
#: - sent_messages: the answers' delivery state (by their MsgId).
BOOKKEEPING: Final[dict[str, str]] = {
    "processed_messages": "msg_id",
    "audit": "msg_id",
    "outbox": "message_id",
    "sent_messages": "msg_id",
}


def changes(before: Snapshot, after: Snapshot, own_ids: Mapping[str, frozenset[str]]) -> list[str]:
    """What changed beyond the bookkeeping the message may leave (empty: nothing).

    ``own_ids`` maps each :data:`BOOKKEEPING` table to the ids that count as the
    message's own in its column.
    """
    problems: list[str] = []
    for table in sorted(set(before.rows) | set(after.rows)):
        old = before.rows.get(table, frozenset())
        new = after.rows.get(table, frozenset())
        if old == new:
            continue
        touched = old ^ new
        column = BOOKKEEPING.get(table)
        if column is not None:
            index = after.columns.get(table, before.columns.get(table, ())).index(column)
            allowed = own_ids.get(table, frozenset())
            touched = frozenset(row for row in touched if str(row[index]) not in allowed)
            if not touched:
                continue
        added = len(new - old)
        removed = len(old - new)
        problems.append(f"{table}: {added} row(s) added, {removed} removed or changed")
    return problems


def own_ids(msg_id: str, outputs: Iterable[Output]) -> dict[str, frozenset[str]]:
    """The ids of :data:`BOOKKEEPING` rows a message and its answers may leave."""
    outs = list(outputs)
    answer_msg_ids = frozenset(o.summary.msg_id for o in outs if o.summary is not None)
    return {
        "processed_messages": frozenset({msg_id}) if msg_id else frozenset(),
        "audit": frozenset({msg_id}) if msg_id else frozenset(),
        "outbox": frozenset(o.message.message_id for o in outs),
        "sent_messages": answer_msg_ids,
    }


# --- the process ----------------------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in bytes."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            values[key] = int(rest.split()[0]) * 1024
    return values


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux clear_refs 5); False where not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


MB: Final = 1024 * 1024
