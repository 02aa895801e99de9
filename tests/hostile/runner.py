"""The real ``epj-adapter run`` in a subprocess, fed the corpus one message at a time.

:class:`Daemon` starts the service on a copy of the example clinic (SQLite, directory
transport) and reads its JSON log lines from stderr. :class:`CorpusRunner` drops each
message on our queue as Helsenorge would, waits until the daemon has taken it, reads
what came back, and measures what the table's invariants need: the answer, the time
from pick-up to answer, the RSS before/after and at its peak, what changed in the
database, and a Kommunikasjonstest afterwards.
"""

from __future__ import annotations

import inspect
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

from adapter.domain.model import OSLO
from adapter.messages import build_requests as rq
from adapter.messages.envelope import Party, Professional
from adapter.messages.read_replies import EventSummary
from adapter.transport.directory import ARCHIVE_DIR, DirectoryTransport
from tests.e2e.conftest import FOLKE, HELSENORGE_QUEUES, START, field_problems
from tests.hostile import harness as h
from tests.servers.adapter_process import COMMAND

#: How often the directory transport looks at a queue (its default, which the daemon uses).
POLL_INTERVAL: Final[float] = float(
    inspect.signature(DirectoryTransport).parameters["poll_interval"].default
)
CLOCK_START: Final = START.astimezone(OSLO).strftime("%Y-%m-%dT%H:%M")
TIMEOUT: Final = 30.0
#: How long to wait for the answers a row expects, and then for any extra one.
ANSWER_WAIT: Final = 5.0
SETTLE: Final = 0.15
DROPPED_SETTLE: Final = 0.3

CLINIC: Final = Party(
    name="DDFL Ehelse Interntest med Mock",
    her_id=h.CLINIC_HER,
    org_number="912345678",
    professional=Professional(her_id="8142520", given_name="Benedikte", family_name="Geiran"),
)
ARNA: Final = Party(
    name="DDFL Ehelse Interntest med Mock",
    her_id=h.CLINIC_HER,
    org_number="912345678",
    professional=Professional(her_id="8142522", given_name="Arna", family_name="Jordal"),
)


class Daemon:
    """One ``epj-adapter run --config CONFIG --clock-start 2026-11-30T07:50``."""

    def __init__(self, config: Path, cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        self.started_real = time.time()
        self.process = subprocess.Popen(
            [*COMMAND, "run", "--config", str(config), "--clock-start", CLOCK_START],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def now(self) -> datetime:
        """About what the daemon's clock says (it ran from START when started)."""
        return START.astimezone(UTC) + timedelta(seconds=time.time() - self.started_real)

    def wait_for_line(self, text: str, timeout: float = TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if text in line:
                    return line
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        tail = "\n".join(self.lines[-30:])
        raise AssertionError(f"no {text!r} from the daemon; stderr:\n{tail}")

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        """The JSON log lines from line ``since`` on."""
        found = []
        for line in self.lines[since:]:
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
        return found

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._reader.join(timeout=5)
        return self.process.returncode


class Canary:
    """A local HTTP server that counts every connection, and a file with a token:
    neither may ever be read by the adapter."""

    def __init__(self, folder: Path) -> None:
        self.token = f"CANARY-{uuid.uuid4().hex}"
        self.file = folder / "canary-secret.txt"
        self.file.write_text(self.token + "\n", encoding="utf-8")
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                payload = f'<!ENTITY x "{self.headers.get("Host")}">'.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        class Server(ThreadingHTTPServer):
            def verify_request(self, request: Any, client_address: Any) -> bool:
                hits.append(f"connection from {client_address}")
                return True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Result:
    """What one corpus message got, and the figures measured."""

    case: h.Case
    items: tuple[str, ...]
    outputs: list[h.Output]
    handled: bool
    elapsed: float | None  # drop to last answer (or to being taken, if none), seconds
    rss_before: int
    rss_after: int
    peak: int | None  # VmHWM while it was handled (None where it cannot be reset)
    db_changes: list[str]
    kt: str
    problems: list[str] = field(default_factory=list)

    @property
    def latency(self) -> float | None:
        """Pick-up to answer: :attr:`elapsed` less one poll interval (the most the
        message can have waited before the daemon looked), not below zero."""
        if self.elapsed is None:
            return None
        return max(self.elapsed - POLL_INTERVAL, 0.0)

    @property
    def rss_growth(self) -> int:
        return self.rss_after - self.rss_before

    def line(self) -> str:
        latency = f"{self.elapsed * 1000:7.1f}" if self.elapsed is not None else "      -"
        peak = f"{self.peak / h.MB:6.1f}" if self.peak is not None else "     -"
        got = ", ".join(self.items) or "dropped"
        return (
            f"{self.case.name:38s} drop->answer {latency} ms  rss {self.rss_before / h.MB:6.1f}"
            f"->{self.rss_after / h.MB:6.1f} MB  peak {peak} MB  {got}"
        )


class CorpusRunner:
    """Feeds corpus rows to a running :class:`Daemon` and checks the invariants."""

    def __init__(self, root: Path, daemon: Daemon, canary: Canary) -> None:
        self.root = root
        self.queues = root / "queues"
        self.db = root / "state" / "adapter.db"
        self.daemon = daemon
        self.canary = canary
        self.outputs = h.Outputs(self.queues)
        self.renderer = h.Renderer(canary.file, canary.url, daemon.now)
        self.slots: dict[str, list[h.SlotRef]] = {}
        self._free_taken = 0
        self.results: list[Result] = []

    # -- talking to the daemon -------------------------------------------------------------

    def _wait_handled(self, json_path: Path, timeout: float = TIMEOUT) -> bool:
        deadline = time.monotonic() + timeout
        while json_path.exists():
            if time.monotonic() > deadline or self.daemon.process.poll() is not None:
                return False
            time.sleep(0.002)
        return True

    def _collect(self, expected: int) -> list[h.Output]:
        found: list[h.Output] = []
        deadline = time.monotonic() + ANSWER_WAIT
        while len(found) < expected and time.monotonic() < deadline:
            found += self.outputs.new()
            time.sleep(0.005)
        time.sleep(SETTLE if expected else DROPPED_SETTLE)
        return found + self.outputs.new()

    def ask(self, body: bytes) -> h.Output:
        """A sync request on our sync queue; its reply (matched on correlationId)."""
        queue = h.CLINIC_QUEUES["sync"]
        props = h.default_properties(body, queue, self.daemon.now())
        name = f"hostile-ask-{uuid.uuid4().hex[:8]}"
        h.drop(self.queues, queue, name, body, props)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            for out in self.outputs.new():
                if out.message.correlation_id == props["correlation_id"]:
                    return out
            time.sleep(0.005)
        raise AssertionError("no sync reply within 30 s")

    def kt(self) -> str:
        """Ask a Kommunikasjonstest; the reply's item (``sync RKT`` when answered)."""
        parties = rq.RequestParties(receiver=CLINIC, patient=FOLKE)
        built = rq.kommunikasjonstest(parties, self.daemon.now())
        try:
            return self.ask(built.body).item
        except AssertionError as exc:
            return f"no answer ({exc})"

    def discover_slots(self, past: h.SlotRef) -> None:
        """Free, held-back and other practitioners' slots, as an HLT shows them."""
        first = START.astimezone(OSLO).date() + timedelta(days=1)
        now = self.daemon.now()

        def events(receiver: Party) -> list[EventSummary]:
            parties = rq.RequestParties(receiver=receiver, patient=FOLKE)
            built = rq.hent_ledige_timer(parties, now, first, first + timedelta(days=13))
            out = self.ask(built.body)
            assert out.summary is not None
            return list(out.summary.events)

        def ref(e: EventSummary) -> h.SlotRef:
            return h.SlotRef(e.uid, e.start, e.end, e.contact)

        benedikte = [e for e in events(CLINIC) if not e.categories]
        arna = [e for e in events(ARNA) if "MustCall" not in e.categories]
        self.slots = {
            "free": [ref(e) for e in benedikte if e.available_at is None],
            "held_back": [ref(e) for e in benedikte if e.available_at is not None],
            "other_practitioner": [ref(e) for e in arna if e.available_at is None],
            "past": [past],
        }
        assert all(self.slots.values()), {k: len(v) for k, v in self.slots.items()}

    def _slot(self, kind: str) -> h.SlotRef:
        if kind == "free":
            self._free_taken += 1
            return self.slots["free"][self._free_taken % len(self.slots["free"])]
        return self.slots[kind][0]

    # -- one row ---------------------------------------------------------------------------------

    def _body(
        self, case: h.Case, values: dict[str, str], workdir: Path
    ) -> tuple[bytes | Path, bytes]:
        """The payload (a Path for a generated big one) and its first bytes."""
        raw = case.payload_path.read_bytes()
        if case.generate_mb is None:
            body = self.renderer.render_bytes(raw, values)
            return body, body
        raw_head, _, raw_tail = raw.partition(b"${PADDING}")
        head = self.renderer.render_bytes(raw_head, values)
        tail = self.renderer.render_bytes(raw_tail, values)
        path = workdir / f"{case.name}.xml"
        size = case.generate_mb * h.MB
        chunk = b"Jeg har hatt vondt lenge. " * 40_000  # ~1 MB
        with open(path, "wb") as fh:
            fh.write(head)
            written = len(head) + len(tail)
            while written < size:
                piece = chunk[: size - written]
                fh.write(piece)
                written += len(piece)
            fh.write(tail)
        assert path.stat().st_size == size, (path, path.stat().st_size)
        return path, head

    def properties(self, case: h.Case, head: bytes, values: dict[str, str]) -> dict[str, Any]:
        queue = h.CLINIC_QUEUES[case.queue]
        if case.props_path is None:
            return h.default_properties(head, queue, self.daemon.now())
        data = json.loads(self.renderer.render(case.props_path.read_text("utf-8"), values))
        assert isinstance(data, dict)
        return data

    def run(self, case: h.Case, workdir: Path) -> Result:
        slot = self._slot(case.slot)
        values = self.renderer.values(slot)
        body, head = self._body(case, values, workdir)
        props = self.properties(case, head, values)
        msg_id = h.msg_id_of(head)
        queue = h.CLINIC_QUEUES[case.queue]
        name = f"{case.name}-{uuid.uuid4().hex[:6]}"

        before = h.snapshot(self.db)
        self.outputs.new()  # nothing left over from before
        hits_before = len(self.canary.hits)
        pid = self.daemon.pid
        rss_before = h.proc_status(pid)["VmRSS"]
        can_peak = h.reset_peak(pid)
        log_mark = len(self.daemon.lines)

        json_path = h.drop(self.queues, queue, name, body, props)
        dropped_at = json_path.stat().st_mtime_ns
        handled = self._wait_handled(json_path)
        outputs = self._collect(len(case.expect.items)) if handled else []

        status = h.proc_status(pid)
        after = h.snapshot(self.db)
        elapsed = self._elapsed(queue, json_path, dropped_at, outputs)
        result = Result(
            case=case,
            items=tuple(sorted(o.item for o in outputs)),
            outputs=outputs,
            handled=handled,
            elapsed=elapsed,
            rss_before=rss_before,
            rss_after=status["VmRSS"],
            peak=status["VmHWM"] if can_peak else None,
            db_changes=h.changes(before, after, h.own_ids(msg_id, outputs)),
            kt="",
        )
        result.problems += self._field_problems(outputs)
        if len(self.canary.hits) != hits_before:
            result.problems.append(f"the canary server was asked: {self.canary.hits[hits_before:]}")
        leaked = [o.queue for o in outputs if self.canary.token.encode() in _raw(o)]
        if leaked:
            result.problems.append(f"the canary file's content came back on {leaked}")
        for event in self.daemon.events(log_mark):
            if event.get("event") == "message.failed":
                result.problems.append(f"the daemon logged message.failed: {event}")
        if isinstance(body, Path):
            body.unlink(missing_ok=True)
        result.kt = self.kt()
        return result

    def _elapsed(
        self, queue: str, json_path: Path, dropped_at: int, outputs: list[h.Output]
    ) -> float | None:
        """Seconds from the drop (the ``.json``'s mtime) to the last answer written (its
        ``.json``'s mtime); with no answer, to the message being taken off the queue
        (the archived ``.json``'s ctime: the rename after the commit)."""
        if outputs:
            done = max(o.mtime_ns for o in outputs)
        else:
            archived = self.queues / ARCHIVE_DIR / queue / json_path.name
            try:
                done = archived.stat().st_ctime_ns
            except FileNotFoundError:
                return None
        return (done - dropped_at) / 1e9

    def _field_problems(self, outputs: list[h.Output]) -> list[str]:
        """Every message we sent carries every field HITS 1216 §2.1.2 marks R."""
        problems = []
        for out in outputs:
            if out.queue not in HELSENORGE_QUEUES:
                problems.append(f"sent to {out.queue}, not one of Helsenorge's queues")
                continue
            data = json.loads(out.path.read_bytes())
            found = field_problems(data, out.queue)
            if found:
                problems.append(f"{out.queue}/{out.path.name}: {'; '.join(found)}")
        return problems


def _raw(out: h.Output) -> bytes:
    xml = out.path.with_suffix(".xml")
    return out.path.read_bytes() + (xml.read_bytes() if xml.exists() else b"")


def personal_data_lines(lines: list[str], names: tuple[str, ...]) -> Iterator[str]:
    """Log lines holding a fødselsnummer-shaped number or a test patient's name."""
    from adapter.privacy import has_person_number

    for line in lines:
        if has_person_number(line) or any(name in line for name in names):
            yield line
