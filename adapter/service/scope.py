"""What a handler gets besides its command and its unit of work.

A handler's shape is ``handler(command, uow, scope) -> result``: it changes state
through the unit of work, hands the messages to send to ``scope.send`` and returns what
its caller asked for (an appointment, a count, or None). It never commits: the caller
commits state and outbox together (:mod:`adapter.service.clinic_service`,
:mod:`adapter.service.pipeline`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from adapter.service.context import ClinicContext
from adapter.service.outgoing import Outgoing
from adapter.service.replies import Replies
from adapter.service.request import Request


@dataclass
class Scope:
    """One use case's clinic, clock reading, reply builders and outgoing messages."""

    ctx: ClinicContext
    replies: Replies
    now: datetime
    outgoing: list[Outgoing] = field(default_factory=list)

    def send(self, *items: Outgoing) -> None:
        """Queue messages to go out with the unit of work's commit."""
        self.outgoing.extend(items)


@dataclass
class RequestScope(Scope):
    """The scope of a Helsenorge request: adds the request being answered."""

    request: Request = field(kw_only=True)
