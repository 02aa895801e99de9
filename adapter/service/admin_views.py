"""What the admin page reads besides :mod:`adapter.service.views`: the last messages
sent with their delivery state, and the transport's dead letters.

Each read is one read-only unit of work (or a look at the transport), nothing written.
Codes come with their display names as the guide writes them (7602 answers, 8221
AppRec errors), so the page does not need the message layer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from adapter.domain.codes import Svar
from adapter.messages.codes import AppRecError, AppRecStatus, display
from adapter.store.records import DeliveryState, SentMessage
from adapter.store.uow import Store
from adapter.transport.base import Transport
from adapter.transport.deadletters import DeadLetter, DirectoryDeadLetters
from adapter.transport.directory import DirectoryTransport

#: How many dead letters of one queue the page lists at most.
DEAD_LETTER_LIMIT: Final = 100


def code_name(code: str, codes: type[StrEnum] = Svar) -> str:
    """The display name of a code of ``codes`` (7602 Svar by default, e.g. ``"05"`` ->
    "Timereservasjon bekreftet"); the code itself when the list has no such value."""
    try:
        return display(codes(code))
    except ValueError:
        return code


@dataclass(frozen=True, slots=True)
class SentLine:
    """A sent message as the admin page lists it.

    ``name`` is the message (``SvarTimeReservasjon``, ``Avtale``, ``AppRec``, ...),
    ``code`` its answer code (7602, or the AppRec status) and ``code_name`` that code's
    display name; ``errors`` the 8221 codes of a rejecting AppRec with their names.
    """

    message: SentMessage
    name: str
    code: str
    code_name: str
    errors: tuple[tuple[str, str], ...]

    @property
    def state(self) -> DeliveryState:
        """Where the message stands (new, sent, AppRec OK, rejected, no AppRec)."""
        return self.message.state


def sent_line(message: SentMessage) -> SentLine:
    """Name a sent message and its code. The outbox records the MsgInfo/Type as
    ``function`` and the message's own name as ``code``: ``"SvarTimeReservasjon/05"``,
    ``"Avtale/07"``, ``"AppRec/2/T02"`` (a bare MsgInfo/Type when it has none)."""
    label = message.code or message.function
    name, _, rest = label.partition("/")
    code = rest.partition("/")[0]
    codes: type[StrEnum] = AppRecStatus if name == "AppRec" else Svar
    errors = tuple((e, code_name(e, AppRecError)) for e in message.apprec_errors)
    return SentLine(message, name, code, code_name(code, codes) if code else "", errors)


@dataclass(frozen=True, slots=True)
class DeadLetterLine:
    """A dead letter as ``epj-adapter deadletters list`` prints it (no body)."""

    queue: str
    message_id: str
    from_her_id: str
    subject: str
    reason: str


@dataclass(frozen=True, slots=True)
class DeadLetters:
    """The dead letters of some queues; ``readable`` False when this transport's box
    cannot be read without taking messages off the broker (AMQP: use the CLI)."""

    readable: bool
    lines: tuple[DeadLetterLine, ...] = ()

    @property
    def count(self) -> int:
        """How many dead letters were listed."""
        return len(self.lines)


def _peek(transport: Transport) -> Callable[[str], Sequence[DeadLetter]] | None:
    if isinstance(transport, DirectoryTransport):
        box = DirectoryDeadLetters(transport.root)
        return lambda queue: box.peek(queue, DEAD_LETTER_LIMIT)
    # The in-memory transport (adapter.testing) keeps its dead letters in ``dead``.
    dead = getattr(transport, "dead", None)
    if isinstance(dead, Mapping):
        held: Mapping[str, Sequence[DeadLetter]] = dead
        return lambda queue: list(held.get(queue, ()))[:DEAD_LETTER_LIMIT]
    return None


def dead_letters(transport: Transport, queues: Iterable[str]) -> DeadLetters:
    """The dead letters of ``queues``, left in place: the directory transport's (and
    the in-memory one's); AMQP's are not read here (peeking takes each message and
    puts it back, which a page view should not do)."""
    peek = _peek(transport)
    if peek is None:
        return DeadLetters(readable=False)
    lines = []
    for queue in queues:
        for letter in peek(queue):
            m = letter.message
            lines.append(
                DeadLetterLine(
                    queue=queue,
                    message_id=m.message_id,
                    from_her_id=m.prop("fromHerId") or "",
                    subject=m.subject or "",
                    reason=letter.reason,
                )
            )
    return DeadLetters(readable=True, lines=tuple(lines))


@dataclass(frozen=True)
class AdminViews:
    """Read-side queries of one clinic for the admin page."""

    store: Store
    clinic: str

    def recent_messages(self, limit: int = 50) -> list[SentLine]:
        """The ``limit`` messages made last, newest first, with their delivery state."""
        with self.store.uow(read_only=True) as uow:
            found = uow.sent.recent(self.clinic, limit)
        return [sent_line(m) for m in found]
