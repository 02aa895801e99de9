"""A Helsenorge request as the handlers and the reply builders see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from adapter.messages import commands as cmd
from adapter.service.context import ClinicContext


@dataclass(frozen=True)
class Request:
    """A parsed request with what answering it needs besides the command."""

    inbound: cmd.Inbound
    ctx: ClinicContext
    now: datetime
    reply_queue: str  # the request's replyTo (checked against the Adresseregister)
    correlation_id: str  # what our answers carry (HITS 1216 §2.1.2, see admission)
    sync: bool = False  # HB, HLT, HBT, KT: answered at once, never an AppRec
