"""Unit of work and the store that makes them.

Usage (cosmicpython style)::

    store = Store("sqlite:///var/adapter.db")
    store.create_schema()
    with store.uow() as uow:
        slot = uow.slots.get("ddfl", slot_id)
        uow.appointments.add(appointment)      # may raise SlotTaken
        uow.outbox.add(clinic="ddfl", ...)
        uow.commit()                           # leaving without commit rolls back

Everything written in one unit of work commits (or not) together: state, audit,
events and every outgoing message (the outbox).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from adapter.store.book_versions import (
    BookVersionRepository,
    discard_book_versions,
    flush_book_versions,
)
from adapter.store.bookings import AppointmentRepository, WishRepository
from adapter.store.catalog import (
    AppointmentTypeRepository,
    ClinicRepository,
    PractitionerRepository,
)
from adapter.store.db import READ_ONLY, RELAXED, create_schema, make_engine
from adapter.store.errors import StoreError
from adapter.store.http_state import IdempotencyRepository, WebhookRepository
from adapter.store.instance_lock import InstanceLock, instance_lock
from adapter.store.journal import AuditRepository, EventRepository
from adapter.store.messaging import (
    OutboxRepository,
    ProcessedMessageRepository,
    SentMessageRepository,
)
from adapter.store.patients import PatientRepository
from adapter.store.scheduling import ReleaseRepository
from adapter.store.slots import SlotRepository


class Savepoint:
    """A savepoint of :meth:`UnitOfWork.savepoint`: :meth:`discard` rolls back to it when
    its block ends."""

    __slots__ = ("discarded",)

    def __init__(self) -> None:
        self.discarded = False

    def discard(self) -> None:
        """Undo what was done inside the savepoint when its block ends (no exception)."""
        self.discarded = True


class UnitOfWork:
    """One transaction with a repository per table family.

    Enter with ``with``; call :meth:`commit` to keep the changes. Leaving the
    block without a commit (or by an exception) rolls back. After a commit the
    same unit of work may go on and commit again.
    """

    clinics: ClinicRepository
    practitioners: PractitionerRepository
    types: AppointmentTypeRepository
    slots: SlotRepository
    appointments: AppointmentRepository
    wishes: WishRepository
    patients: PatientRepository
    messages: ProcessedMessageRepository
    outbox: OutboxRepository
    sent: SentMessageRepository
    audit: AuditRepository
    events: EventRepository
    releases: ReleaseRepository
    idempotency: IdempotencyRepository
    webhooks: WebhookRepository
    book_versions: BookVersionRepository

    def __init__(self, engine: Engine) -> None:
        """``engine``: the store's, or its read-only view (:meth:`Store.uow`)."""
        self._engine = engine
        self._session: Session | None = None
        self._on_commit: list[Callable[[], None]] = []

    @property
    def session(self) -> Session:
        """The open session (only inside ``with``)."""
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use it in a with block")
        return self._session

    def __enter__(self) -> UnitOfWork:
        if self._session is not None:
            raise RuntimeError("the unit of work is already open")
        session = Session(self._engine, expire_on_commit=False)
        self._session = session
        self.clinics = ClinicRepository(session)
        self.practitioners = PractitionerRepository(session)
        self.types = AppointmentTypeRepository(session)
        self.slots = SlotRepository(session)
        self.appointments = AppointmentRepository(session)
        self.wishes = WishRepository(session)
        self.patients = PatientRepository(session)
        self.messages = ProcessedMessageRepository(session)
        self.outbox = OutboxRepository(session)
        self.sent = SentMessageRepository(session)
        self.audit = AuditRepository(session)
        self.events = EventRepository(session)
        self.releases = ReleaseRepository(session)
        self.idempotency = IdempotencyRepository(session)
        self.webhooks = WebhookRepository(session)
        self.book_versions = BookVersionRepository(session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self.session
        self._on_commit.clear()
        try:
            session.rollback()
        finally:
            session.close()
            self._session = None

    @property
    def active(self) -> bool:
        """True while the unit of work is open and its transaction can go on (none
        begun yet counts); False once it failed beyond a savepoint's rollback."""
        session = self._session
        if session is None:
            return False
        transaction = session.get_transaction()
        return transaction is None or transaction.is_active

    def commit(self) -> None:
        """Make everything done so far durable, at once (the book versions its writes
        raised included: :func:`~adapter.store.book_versions.flush_book_versions`)."""
        flush_book_versions(self.session)
        self.session.commit()
        done, self._on_commit = self._on_commit, []
        for callback in done:
            callback()

    def rollback(self) -> None:
        """Undo everything since the last commit."""
        self._on_commit.clear()
        discard_book_versions(self.session)
        self.session.rollback()

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the transaction has committed, right after
        :meth:`commit` (Django's ``transaction.on_commit``): never when it is rolled
        back, nor when the savepoint it was registered in is (:meth:`savepoint`).
        Callbacks run in the order registered and must not fail: the transaction is
        committed by then."""
        self._on_commit.append(callback)

    @contextmanager
    def savepoint(self) -> Iterator[Savepoint]:
        """A savepoint inside this unit of work's transaction (``SAVEPOINT``).

        Leaving the block normally releases it: what was done inside stays part of
        the transaction (and is visible to what follows in it), to be committed or
        rolled back with the rest. Leaving by an exception, or after
        :meth:`Savepoint.discard`, rolls back to it: only what was done inside is
        undone, and the transaction goes on. The exception goes on too; an error
        while rolling back (the connection is gone) raises instead, and then the
        whole unit of work must be rolled back.

        Afterwards the session forgets the rows it loaded (``expunge_all``): what
        comes next in the transaction reads them again, as a new unit of work would.
        """
        session = self.session
        nested = session.begin_nested()
        point = Savepoint()
        registered = len(self._on_commit)  # what the savepoint adds goes with it
        try:
            yield point
            if point.discarded:
                del self._on_commit[registered:]
                nested.rollback()
            else:
                nested.commit()  # flushes, then RELEASE SAVEPOINT
        except BaseException:
            del self._on_commit[registered:]
            if nested.is_active:
                nested.rollback()
            raise
        finally:
            session.expunge_all()


class Store:
    """The database: makes units of work. One per process, shared by threads."""

    def __init__(self, url: str, *, echo: bool = False, read_only: bool = False) -> None:
        """Open the database at ``url``. ``read_only``: an existing one, for looking only
        (``status``, ``doctor``); nothing is created and every write fails (see
        :func:`adapter.store.db.make_engine`)."""
        self.read_only = read_only
        self.engine = make_engine(url, echo=echo, read_only=read_only)
        # Made once: a view of the engine costs more than a whole HLT's read from the cache.
        self._reading = self.engine.execution_options(**{READ_ONLY: True})
        self._relaxed = self.engine.execution_options(**{RELAXED: True})

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def create_schema(self) -> None:
        """Create what is missing (idempotent); see :func:`adapter.store.db.create_schema`."""
        if self.read_only:
            raise StoreError("the database was opened read-only: its schema is not created")
        create_schema(self.engine)

    @property
    def one_connection(self) -> bool:
        """True when every unit of work shares one connection (in-memory SQLite): a
        second unit of work must not be opened while one is in a transaction."""
        return isinstance(self.engine.pool, StaticPool)

    def uow(self, *, read_only: bool = False, relaxed: bool = False) -> UnitOfWork:
        """A new unit of work. ``read_only`` lets SQLite readers run beside the writer.

        ``relaxed``: its commits survive a crash of the process but not always a power
        cut (:data:`~adapter.store.db.RELAXED`): for records whose loss only repeats
        work that is safe to repeat (the outbox's "sent" marks), never for a decision."""
        if read_only and relaxed:
            raise ValueError("a read-only unit of work commits nothing to relax")
        if read_only:
            return UnitOfWork(self._reading)
        return UnitOfWork(self._relaxed if relaxed else self.engine)

    def instance_lock(self, name: str) -> InstanceLock:
        """The named lock that lives as long as its holding process (one scheduler per
        database); see :mod:`adapter.store.instance_lock`."""
        return instance_lock(self.engine, name)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
