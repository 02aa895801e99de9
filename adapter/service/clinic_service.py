"""The service layer's one entry for the clinic: every face calls it.

:meth:`ClinicService.handle` runs a command's handler (:data:`adapter.service.clinic.CLINIC`)
in one unit of work, writes its outgoing messages to the outbox in the same commit,
then tries to send them at once and tells the event subscribers. The Python API, the
CLI, the HTTP API and the daemon's jobs all go through it, so none can skip a step.

What the configuration gives the service (the clinic's context, the replies built
from it, the slot templates) is one :class:`ClinicSetup`, held by one reference:
:meth:`ClinicService.reconfigure` replaces it whole (a reload of ``clinic.toml`` and
``rules.toml``), and each use case reads it once, so a call in flight finishes on the
setup it started with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ClinicSetup:
    """What one configuration gives the service layer, replaced whole on a reload.

    ``replies`` builds its messages from ``ctx`` (the same context); ``templates`` are
    the opening-hours templates of the same configuration (None: slots come only from
    the EPJ).
    """

    ctx: ClinicContext
    replies: Replies
    templates: SlotTemplates | None = None


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
        self._setup = ClinicSetup(ctx=ctx, replies=replies, templates=templates)
        self.clock = clock
        self.views = Views(store, ctx.clinic.key)
        self.feed = EventFeed(self.views)
        self._store = store
        self._outbox = outbox
        self._dispatch = dispatch

    @property
    def ctx(self) -> ClinicContext:
        """The clinic as configured now (the setup's context)."""
        return self._setup.ctx

    @property
    def setup(self) -> ClinicSetup:
        """The configuration's parts the use cases run on now."""
        return self._setup

    def reconfigure(self, setup: ClinicSetup) -> None:
        """Serve ``setup`` from the next call on: its catalog (clinic, practitioners,
        appointment types) is written to the store first, then the one reference is
        replaced. A call in flight finishes on the setup it started with.

        Raises:
            ValueError: ``setup`` is another clinic (its key names other rows).
        """
        if setup.ctx.clinic.key != self._setup.ctx.clinic.key:
            raise ValueError(
                f"a service of clinic {self._setup.ctx.clinic.key!r} cannot serve "
                f"{setup.ctx.clinic.key!r}"
            )
        self._run(c.SyncCatalog(), setup, self.clock())
        self._setup = setup

    def handle(self, command: c.Command[R], *, now: datetime | None = None) -> R:
        """Run ``command``'s use case at ``now`` (the clock by default) and commit; then
        send what it wrote to the outbox (a failed send is retried by the outbox job)."""
        return self._run(command, self._setup, now or self.clock())

    def _run(self, command: c.Command[R], setup: ClinicSetup, at: datetime) -> R:
        scope = Scope(ctx=setup.ctx, replies=setup.replies, now=at)
        with self._store.uow() as uow:
            result = CLINIC.run(command, uow, scope)
            self._outbox.write(uow, scope.outgoing, at, hand_off=True)
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
        return self._setup.templates is not None

    def generate_slots(self, start: date, end: date) -> UpsertResult:
        """Slots from the templates for local days ``start``..``end`` (inclusive), loaded
        (idempotent)."""
        return self._generate(self._setup, start, end)

    def _generate(self, setup: ClinicSetup, start: date, end: date) -> UpsertResult:
        if setup.templates is None:
            raise ValueError("generating slots needs the clinic's configuration (templates)")
        slots = setup.templates(start, end)
        return self._run(c.LoadSlots(tuple(slots), source="template"), setup, self.clock())

    def refresh_slots(self, now: datetime | None = None) -> UpsertResult | None:
        """The templates' slots from today to a week past the longest horizon; None
        when there are no templates (slots then come only from the EPJ)."""
        setup = self._setup
        if setup.templates is None:
            return None
        today = (now or self.clock()).astimezone(OSLO).date()
        rules = setup.ctx.rules
        horizon = max(
            [rules.default_horizon]
            + [r.horizon for r in rules.release_rules if r.horizon is not None]
        )
        return self._generate(setup, today, today + horizon + timedelta(days=7))
