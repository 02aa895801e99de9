"""Reloading ``clinic.toml`` and ``rules.toml`` in a running adapter (issue 14, item 5).

:meth:`Runtime.reload` checks the files first and keeps the old configuration on any
error; a good configuration answers the next request (an HLT as Helsenorge sends it);
``adapter.toml`` changes are reported as needing a restart and not applied; and a
reload while the daemon handles messages loses or doubles none of them.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterator, MutableMapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapter.config import check_config
from adapter.daemon import Daemon
from adapter.domain.model import OSLO
from adapter.messages import build_requests as rq
from adapter.messages.codes import MsgType
from adapter.messages.read_replies import ReplySummary, read_reply
from adapter.runtime import ReloadResult, Runtime
from adapter.testing import MemoryTransport, capture_logs
from adapter.testing.helsenorge import helsenorge_message
from tests.http.hlt import ASKER, hlt, offered

#: The hold-back rule of the example clinic: 30 % of Benedikte's ordinary slots.
HOLD_BACK = re.compile(
    r'\[\[rules\]\]\nname = "benedikte-hold-back"\n.*?release = "2 working days before at 07:30"\n',
    re.S,
)


@pytest.fixture
def config_dir(runtime: Runtime) -> Path:
    """The running runtime's configuration directory (a copy of the example's)."""
    return runtime.settings.config_dir


@pytest.fixture
def window(runtime: Runtime) -> tuple[date, date]:
    """Benedikte's days three to eight days ahead, with slots generated: some held back."""
    today = runtime.clock().date()
    runtime.adapter.generate_slots(today, today + timedelta(days=14))
    return today + timedelta(days=3), today + timedelta(days=8)


def _edit(path: Path, old: str | re.Pattern[str], new: str) -> str:
    """Replace ``old`` in the file (once, and it must be there); the text before."""
    text = path.read_text(encoding="utf-8")
    changed = (
        old.sub(new, text, count=1) if isinstance(old, re.Pattern) else text.replace(old, new, 1)
    )
    assert changed != text, f"{old!r} not in {path.name}"
    path.write_text(changed, encoding="utf-8")
    return text


def _kinds(runtime: Runtime, practitioner: str, window: tuple[date, date]) -> Counter[str]:
    return Counter(offered(e)[3] for e in hlt(runtime, practitioner, *window))


def _events(logs: list[MutableMapping[str, Any]], name: str) -> list[MutableMapping[str, Any]]:
    return [e for e in logs if e["event"] == name]


# -- applied ----------------------------------------------------------------------------


def test_a_removed_hold_back_rule_applies_to_the_next_hlt(
    runtime: Runtime, config_dir: Path, window: tuple[date, date]
) -> None:
    before = _kinds(runtime, "benedikte", window)
    assert before["held_back"] > 0
    _edit(config_dir / "rules.toml", HOLD_BACK, "")
    with capture_logs() as logs:
        result = runtime.reload()
    assert result == ReloadResult(applied=True, issues=[], restart_needed=[])
    after = _kinds(runtime, "benedikte", window)
    # Only the urgent slots (Hastetime, released at 08:00) are still held back.
    assert 0 < after["held_back"] < before["held_back"]
    assert after["bookable"] == before["bookable"] + before["held_back"] - after["held_back"]
    assert runtime.ctx.rules.release_rules == runtime.service.setup.replies.ctx.rules.release_rules
    [reloaded] = _events(logs, "config.reloaded")
    assert reloaded["log_level"] == "info"
    assert reloaded["rules"] == 3
    assert reloaded["policies"] == 1
    assert reloaded["practitioners"] == 3
    assert reloaded["online_practitioners"] == 3
    assert not _events(logs, "config.reload_refused")


def test_online_booking_off_hides_the_practitioner_from_the_next_hlt(
    runtime: Runtime, config_dir: Path, window: tuple[date, date]
) -> None:
    assert sum(_kinds(runtime, "arna", window).values()) > 0
    _edit(
        config_dir / "clinic.toml",
        "open_to_unlisted = true",
        "open_to_unlisted = true\nonline_booking = false",
    )
    assert runtime.reload().applied
    assert [p.key for p in runtime.ctx.online_practitioners()] == ["benedikte", "ingar"]
    assert hlt(runtime, "arna", *window) == []
    # The catalog in the store follows (as bootstrap writes it at the start).
    with runtime.store.uow(read_only=True) as uow:
        online = {p.key for p in uow.practitioners.list("ddfl", online_only=True)}
    assert online == {"benedikte", "ingar"}


def test_warnings_alone_do_not_refuse_a_reload(runtime: Runtime, config_dir: Path) -> None:
    path = config_dir / "rules.toml"
    path.write_text(
        path.read_text(encoding="utf-8")
        + '\n[[rules]]\nname = "late-evening"\npractitioners = ["benedikte"]\n'
        'start_between = "22:00-23:00"\naction = "must_call"\n',
        encoding="utf-8",
    )
    warnings = [i for i in check_config(config_dir) if not i.is_error]
    assert warnings  # a rule no template's slot matches
    result = runtime.reload()
    assert result.applied
    assert [str(i) for i in result.issues] == [str(i) for i in warnings]
    assert [r.name for r in runtime.ctx.rules.release_rules][-1] == "late-evening"


# -- refused ----------------------------------------------------------------------------


def _refused(
    runtime: Runtime, window: tuple[date, date], break_it: Path, text: str
) -> ReloadResult:
    """Write ``text`` to the file, reload, and check nothing changed for Helsenorge."""
    old_ctx = runtime.ctx
    before = [offered(e) for e in hlt(runtime, "benedikte", *window)]
    break_it.write_text(text, encoding="utf-8")
    with capture_logs() as logs:
        result = runtime.reload()
    assert not result.applied
    assert result.errors
    assert runtime.ctx is old_ctx
    assert [offered(e) for e in hlt(runtime, "benedikte", *window)] == before
    [refused] = _events(logs, "config.reload_refused")
    assert refused["log_level"] == "error"
    assert refused["issues"] == [str(i) for i in result.issues]
    assert not _events(logs, "config.reloaded")
    return result


def test_a_rules_file_with_a_syntax_error_is_refused_and_the_old_rules_serve(
    runtime: Runtime, config_dir: Path, window: tuple[date, date]
) -> None:
    rules = config_dir / "rules.toml"
    text = rules.read_text(encoding="utf-8")
    broken = text + '\n[[rules]\nname = "half-written"\n'
    result = _refused(runtime, window, rules, broken)
    [issue] = result.errors
    assert (issue.file, issue.line, issue.key) == ("rules.toml", broken.count("\n") - 1, "rules[4]")
    assert "TOML syntax error" in issue.message
    assert str(issue).startswith(f"rules.toml:{issue.line} [rules[4]] TOML syntax error")
    # Fixed, the next reload applies it.
    rules.write_text(HOLD_BACK.sub("", text), encoding="utf-8")
    assert runtime.reload().applied
    assert _kinds(runtime, "benedikte", window)["held_back"] < 30


def test_a_rule_naming_an_unknown_practitioner_is_refused(
    runtime: Runtime, config_dir: Path, window: tuple[date, date]
) -> None:
    rules = config_dir / "rules.toml"
    text = rules.read_text(encoding="utf-8")
    broken = HOLD_BACK.sub("", text) + (
        '\n[[rules]]\nname = "nobody-held"\npractitioners = ["nobody"]\n'
        'action = "hold_back"\nrelease = "1 day before at 08:00"\n'
    )
    result = _refused(runtime, window, rules, broken)
    [issue] = result.errors
    line = broken.splitlines().index('practitioners = ["nobody"]') + 1
    assert (issue.file, issue.line, issue.key) == ("rules.toml", line, "rules[3].practitioners")
    assert "unknown practitioner 'nobody'" in issue.message
    # Refused whole: the hold-back rule the broken file dropped still holds slots back.
    assert [r.name for r in runtime.ctx.rules.release_rules][1] == "benedikte-hold-back"


def test_a_new_practitioner_the_routing_file_lacks_is_refused(
    runtime: Runtime, config_dir: Path, window: tuple[date, date]
) -> None:
    clinic = config_dir / "clinic.toml"
    text = clinic.read_text(encoding="utf-8")
    added = text.replace(
        "# --- Appointment types",
        '[practitioners.nyla]\nher_id = "8142599"\nhpr_number = "9144892"\n'
        'given_name = "Nyla"\nfamily_name = "Ny"\nrole = "turnuslege"\n\n'
        "# --- Appointment types",
        1,
    )
    assert added != text
    result = _refused(runtime, window, clinic, added)
    assert any(i.file == "routing.toml" and i.key == "parties.8142599" for i in result.errors)
    assert "nyla" not in runtime.ctx.practitioners


def test_a_changed_clinic_her_id_is_refused(
    runtime: Runtime, config_dir: Path, window: tuple[date, date]
) -> None:
    clinic = config_dir / "clinic.toml"
    text = clinic.read_text(encoding="utf-8")
    moved = text.replace('her_id = "8142519"', 'her_id = "8142599"', 1)
    result = _refused(runtime, window, clinic, moved)
    [issue] = [i for i in result.errors if i.file == "clinic.toml"]  # routing.toml's too
    line = moved.splitlines().index(next(x for x in moved.splitlines() if "8142599" in x)) + 1
    assert (issue.file, issue.line, issue.key) == ("clinic.toml", line, "clinic.her_id")
    assert "restart" in issue.fix


# -- adapter.toml -----------------------------------------------------------------------


def test_an_adapter_toml_change_needs_a_restart_and_is_not_applied(
    runtime: Runtime, config_dir: Path, window: tuple[date, date]
) -> None:
    settings = runtime.settings
    adapter_toml = config_dir / "adapter.toml"
    _edit(adapter_toml, 'level = "info"', 'level = "debug"\n\n[outbox]\nmax_attempts = 3')
    _edit(config_dir / "rules.toml", HOLD_BACK, "")
    with capture_logs() as logs:
        result = runtime.reload()
    assert result.applied  # rules.toml still is
    assert result.restart_needed == ["logging.level", "outbox.max_attempts"]
    assert runtime.settings is settings
    assert runtime.dispatcher.max_attempts == settings.outbox.max_attempts != 3
    assert _kinds(runtime, "benedikte", window)["held_back"] < 30
    [restart] = _events(logs, "config.restart_needed")
    assert restart["log_level"] == "warning"
    assert restart["keys"] == ["logging.level", "outbox.max_attempts"]
    # Said again on every reload until the process restarts.
    assert runtime.reload().restart_needed == ["logging.level", "outbox.max_attempts"]


def test_a_routing_file_change_needs_a_restart(runtime: Runtime, config_dir: Path) -> None:
    routing = config_dir / "routing.toml"
    routing.write_text(routing.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    result = runtime.reload()
    assert result.applied
    assert result.restart_needed == ["routing.toml"]


def test_a_reload_without_bootstrap_says_why(runtime: Runtime) -> None:
    runtime._reloading = None
    with pytest.raises(RuntimeError, match="no configuration to reload"):
        runtime.reload()


# -- while the daemon serves --------------------------------------------------------------


class _Received:
    """What the adapter sent to Helsenorge's ``queues``, each message read once."""

    def __init__(self, transport: MemoryTransport, queues: set[str]) -> None:
        self.transport = transport
        self.queues = queues
        self._read: dict[str, list[ReplySummary]] = {q: [] for q in queues}

    def read(self) -> list[ReplySummary]:
        """Every reply so far."""
        for queue, done in self._read.items():
            sent = list(self.transport.sent.get(queue, []))
            done.extend(read_reply(m.body) for m in sent[len(done) :])
        return [r for done in self._read.values() for r in done]


@pytest.fixture
def serving(runtime: Runtime) -> Iterator[Daemon]:
    """The real daemon loop on the runtime, in a thread."""
    daemon = Daemon(runtime, poll_timeout=0.01, start_work_delay=600)
    runner = threading.Thread(target=daemon.run, daemon=True)
    runner.start()
    try:
        yield daemon
    finally:
        daemon.stop()
        runner.join(timeout=30)


def test_reloads_while_the_daemon_serves_lose_and_double_no_message(
    runtime: Runtime,
    transport: MemoryTransport,
    config_dir: Path,
    window: tuple[date, date],
    serving: Daemon,
) -> None:
    rules = config_dir / "rules.toml"
    with_hold_back = rules.read_text(encoding="utf-8")
    without = HOLD_BACK.sub("", with_hold_back)
    stop = threading.Event()
    reloads: list[ReloadResult] = []

    def reload_again_and_again() -> None:
        texts = [without, with_hold_back]
        while not stop.is_set():
            rules.write_text(texts[len(reloads) % 2], encoding="utf-8")
            reloads.append(runtime.reload())
            time.sleep(0.02)  # let the daemon have the interpreter too

    ctx = runtime.ctx
    benedikte = ctx.practitioners["benedikte"]
    parties = rq.RequestParties(receiver=ctx.party(benedikte), patient=ASKER)
    runtime.adapter.set_patient_list("benedikte", [ASKER.ident])
    # Reserved: slots after the HLT's window (a day's hold-backs count the day's slots).
    start = datetime.combine(window[1] + timedelta(days=1), datetime.min.time(), OSLO)
    with runtime.store.uow(read_only=True) as uow:
        slots = uow.slots.in_window(
            "ddfl", start, start + timedelta(days=5), practitioner="benedikte", free_only=True
        )
    sync_queue = runtime.router.sync_queue(ctx.clinic.her_id)
    async_queue = runtime.router.async_queue(ctx.clinic.her_id)
    reloader = threading.Thread(target=reload_again_and_again, daemon=True)
    reloader.start()
    asked: list[str] = []
    tested: list[str] = []
    got = _Received(transport, {"8093248_async", "8093248_syncreply"})

    def held_counts() -> set[int]:
        """How many held-back slots each HLT answered so far showed: 8 or 30 by the rule
        set it was answered on."""
        return {
            sum(1 for e in r.events if e.available_at is not None)
            for r in got.read()
            if r.kind == "msghead" and r.ref_to_parent in asked
        }

    try:
        # At least 40 of each; then on until HLTs were answered on both rule sets (the
        # reloads came between them): how the daemon's turns and the reloads interleave
        # is the scheduler's, so a fixed count may see one rule set only.
        for n in range(400):
            if n >= 40 and n % 10 == 0 and len(held_counts()) == 2:
                break
            now = runtime.clock()
            query = rq.hent_ledige_timer(parties, now, *window)
            # Reservations get one AppRec and one answer each, 05 or a refusal (the
            # patient's limit, a slot taken or held back).
            reserve = rq.reserver_time(parties, now, slots[n % len(slots)], benedikte.her_id)
            for built, queue, into in (
                (query, sync_queue, asked),
                (reserve, async_queue, tested),
            ):
                subject = MsgType.TIMERESERVASJON.value
                message = helsenorge_message(built.body, subject, queue=queue, now=now)
                assert message.reply_to in got.queues
                transport.send(queue, message)
                into.append(built.msg_id)
            time.sleep(0.01)
        deadline = time.monotonic() + 30
        while True:
            replies = got.read()
            answers = Counter(r.ref_to_parent for r in replies if r.kind == "msghead")
            apprecs = Counter(r.original_msg_id for r in replies if r.kind == "apprec")
            answered = all(answers[m] for m in asked + tested)
            if answered and all(apprecs[m] for m in tested) and len(reloads) >= 5:
                break
            assert time.monotonic() < deadline, (
                f"not every message was answered ({len(reloads)} reloads)"
            )
            time.sleep(0.05)
    finally:
        stop.set()
        reloader.join(timeout=30)
    assert len(reloads) >= 5
    assert all(r.applied for r in reloads)
    time.sleep(0.3)  # anything doubled would have been sent by now
    replies = got.read()
    answers = Counter(r.ref_to_parent for r in replies if r.kind == "msghead")
    apprecs = Counter(r.original_msg_id for r in replies if r.kind == "apprec")
    assert {m: answers[m] for m in asked + tested} == dict.fromkeys(asked + tested, 1)
    assert {m: apprecs[m] for m in tested} == dict.fromkeys(tested, 1)
    assert not any(apprecs[m] for m in asked)  # sync requests get no AppRec
    # Each HLT was answered wholly on one of the two rule sets, never a mix.
    held = held_counts()
    assert held == {8, 30}, held  # and the reloads came between them
