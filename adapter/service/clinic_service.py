"""The service layer's one entry for the clinic: every face calls it.

:meth:`ClinicService.handle` runs a command's handler (:data:`adapter.service.clinic.CLINIC`)
in one unit of work, writes its outgoing messages to the outbox in the same commit,
then tries to send them at once and tells the event subscribers. The Python API, the
CLI, the HTTP API and the daemon's jobs all go through it, so none can skip a step.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TypeVar, cast

from adapter.domain.model import OSLO, Slot
from adapter.logs import get_logger
from adapter.service import commands as c
from adapter.service.clinic import CLINIC
from adapter.service.context import ClinicContext
from adapter.service.events import EventFeed
from adapter.service.outbox import OutboxWriter
from adapter.service.replies import Replies
from adapter.service.scope import Scope
from adapter.service.views import Views
from adapter.store.records import UpsertResult
from adapter.store.uow import Store

log = get_logger("adapter.service")

R = TypeVar("R")

#: The clinic's opening-hours templates: the slots of local days ``start``..``end`` (inclusive).
SlotTemplates = Callable[[date, date], list[Slot]]


class ClinicService:
    """One clinic's use cases, each one transaction with its outgoing messages."""

    def __init__(
        self,
        *,
        ctx: ClinicContext,
        store: Store,
        replies: Replies,
        outbox: OutboxWriter,
        dispatch: Callable[[], int],
        clock: Callable[[], datetime],
        templates: SlotTemplates | None = None,
    ) -> None:
        self.ctx = ctx
        self.clock = clock
        self.views = Views(store, ctx.clinic.key)
        self.feed = EventFeed(self.views)
        self._store = store
        self._replies = replies
        self._outbox = outbox
        self._dispatch = dispatch
        self._templates = templates

    def handle(self, command: c.Command[R], *, now: datetime | None = None) -> R:
        """Run ``command``'s use case at ``now`` (the clock by default) and commit; then
        send what it wrote to the outbox (a failed send is retried by the outbox job)."""
        at = now or self.clock()
        scope = Scope(ctx=self.ctx, replies=self._replies, now=at)
        with self._store.uow() as uow:
            result = CLINIC.run(command, uow, scope)
            self._outbox.write(uow, scope.outgoing, at)
            uow.commit()
        if scope.outgoing:
            try:
                self._dispatch()
            except Exception:
                log.warning("outbox.dispatch_deferred")
        self.feed.notify()
        # CLINIC ties each command type to the handler that returns its R.
        return cast(R, result)

    # -- slots from the clinic's templates ------------------------------------------------

    @property
    def has_templates(self) -> bool:
        """True when slots can be generated from opening-hours templates."""
        return self._templates is not None

    def generate_slots(self, start: date, end: date) -> UpsertResult:
        """Slots from the templates for local days ``start``..``end`` (inclusive), loaded
        (idempotent)."""
        if self._templates is None:
            raise ValueError("generating slots needs the clinic's configuration (templates)")
        slots = self._templates(start, end)
        return self.handle(c.LoadSlots(tuple(slots), source="template"))

    def refresh_slots(self, now: datetime | None = None) -> UpsertResult | None:
        """The templates' slots from today to a week past the longest horizon; None
        when there are no templates (slots then come only from the EPJ)."""
        if self._templates is None:
            return None
        today = (now or self.clock()).astimezone(OSLO).date()
        rules = self.ctx.rules
        horizon = max(
            [rules.default_horizon]
            + [r.horizon for r in rules.release_rules if r.horizon is not None]
        )
        return self.generate_slots(today, today + horizon + timedelta(days=7))
