"""Why an incoming message is refused, as an AppRec error code (8221) and a readable reason."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapter.messages.codes import AppRecError, Foresporsel, display

if TYPE_CHECKING:
    from adapter.messages.envelope import Envelope


class MessageRejected(Exception):
    """An incoming message that cannot be processed.

    ``code`` is the 8221 code for the negative AppRec (T01 not well-formed, T02 not
    valid, T10 unsupported format, E10 invalid receiver, E21 unknown receiver ...).
    ``reason`` is one readable line that never contains patient data (no
    fødselsnummer, names or free text): it is safe to log and to send as the AppRec
    error text. ``envelope`` holds the MsgHead facts when they could still be read
    (so that the service can address the negative AppRec), else ``None``.
    ``function`` is the request's 7601 code (TypeForesp) when it could still be read,
    so that the service knows whether the request was synchronous.
    """

    def __init__(self, code: AppRecError, reason: str, *, envelope: Envelope | None = None) -> None:
        super().__init__(f"{code.value} {display(code)}: {reason}")
        self.code = code
        self.reason = reason
        self.envelope = envelope
        self.function: Foresporsel | None = None

    def with_envelope(self, envelope: Envelope | None) -> MessageRejected:
        """The same rejection, carrying ``envelope`` (if it had none)."""
        if self.envelope is None and envelope is not None:
            self.envelope = envelope
        return self
