"""``create_app(runtime)``: the HTTP API over the runtime's EPJ facade.

Endpoints (OpenAPI 3.1 at ``/openapi.json``):

* ``GET /healthz`` live; ``GET /readyz`` the database answers a read (else 503);
* ``GET /clinics/{clinic}/reservations`` pending reservations, oldest first;
* ``POST /clinics/{clinic}/reservations/{id}/confirm`` and ``/reject``;
* ``GET /clinics/{clinic}/appointments/{id}``.

Every ``/clinics`` endpoint needs a bearer token (401 without one) for that clinic (404
for any other clinic, as for an unknown one); a ``read`` token may only GET (403).
Writes are audited with ``http:<token name>`` as the actor. Facade calls are serialised
by one lock (uvicorn runs the endpoints in a thread pool; the facade is one unit of
work at a time).
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations,
# some of which are local to create_app.

import threading
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, FastAPI, Path
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from adapter import __version__
from adapter.domain.codes import Svar
from adapter.http.auth import Token, Tokens, load_tokens
from adapter.http.models import AppointmentOut, ConfirmBody, Health, RejectBody
from adapter.http.problems import RESPONSES, Problem, ProblemError, install
from adapter.logs import get_logger
from adapter.runtime import Runtime

T = TypeVar("T")

_bearer = HTTPBearer(auto_error=False, description="a token from [http] tokens")


def create_app(runtime: Runtime, *, tokens: Tokens | None = None) -> FastAPI:
    """The FastAPI application serving ``runtime``'s clinic.

    ``tokens`` defaults to the file ``[http] tokens`` names in ``adapter.toml``.

    Raises:
        adapter.http.auth.TokenFileError: the tokens file is missing or wrong.
    """
    known = tokens if tokens is not None else load_tokens(runtime.settings.http.tokens)
    adapter = runtime.adapter
    clinic_key = adapter.clinic.key
    lock = threading.Lock()
    log = get_logger("adapter.http")

    def call(use_case: Callable[[], T]) -> T:
        with lock:
            return use_case()

    app = FastAPI(
        title="epj-adapter",
        version=__version__,
        summary="The clinic's side of online booking: reservations waiting for a decision",
        responses=RESPONSES,
    )
    install(app)

    def authenticated(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Token:
        if credentials is None:
            raise ProblemError("unauthorized", "a bearer token is required")
        token = known.find(credentials.credentials)
        if token is None:
            raise ProblemError("unauthorized", "the bearer token is not known")
        return token

    def for_clinic(
        clinic: Annotated[str, Path(description="the clinic's key")],
        token: Annotated[Token, Depends(authenticated)],
    ) -> Token:
        if clinic != clinic_key or clinic not in token.clinics:
            raise ProblemError("not-found", f"no clinic {clinic}")
        return token

    def writer(token: Annotated[Token, Depends(for_clinic)]) -> Token:
        if not token.may_write:
            raise ProblemError("forbidden", f"token {token.name} may only read")
        return token

    def found(appointment_id: str) -> AppointmentOut:
        appointment = call(lambda: adapter.appointment(appointment_id))
        if appointment is None:
            raise ProblemError("not-found", f"no appointment {appointment_id}")
        return AppointmentOut.of(appointment)

    @app.get("/healthz", tags=["health"])
    def healthz() -> Health:
        """The process answers."""
        return Health(status="ok")

    @app.get("/readyz", tags=["health"], responses={503: {"model": Problem}})
    def readyz() -> Health:
        """The database answers a read."""
        try:
            call(lambda: adapter.appointment("readyz"))
        except Exception as exc:
            log.warning("http.not_ready", error=type(exc).__name__)
            raise ProblemError("unavailable", "the database does not answer") from None
        return Health(status="ok")

    @app.get("/clinics/{clinic}/reservations", tags=["reservations"])
    def reservations(token: Annotated[Token, Depends(for_clinic)]) -> list[AppointmentOut]:
        """Reservations waiting for the clinic's decision, oldest first."""
        return [AppointmentOut.of(a) for a in call(adapter.pending_reservations)]

    @app.post(
        "/clinics/{clinic}/reservations/{appointment_id}/confirm",
        tags=["reservations"],
        responses={403: {"model": Problem}, 409: {"model": Problem}},
    )
    def confirm(
        appointment_id: str,
        token: Annotated[Token, Depends(writer)],
        body: ConfirmBody | None = None,
    ) -> AppointmentOut:
        """Confirm a pending reservation (the patient gets 05, or 10 with a vikar)."""
        note = body.note if body else ""
        call(lambda: adapter.confirm(appointment_id, note=note, actor=token.actor))
        return found(appointment_id)

    @app.post(
        "/clinics/{clinic}/reservations/{appointment_id}/reject",
        tags=["reservations"],
        responses={403: {"model": Problem}, 409: {"model": Problem}},
    )
    def reject(
        appointment_id: str,
        token: Annotated[Token, Depends(writer)],
        body: RejectBody | None = None,
    ) -> AppointmentOut:
        """Reject a pending reservation with 06, 26 or 30."""
        given = body or RejectBody()
        call(
            lambda: adapter.reject(
                appointment_id, Svar(given.code), note=given.note, actor=token.actor
            )
        )
        return found(appointment_id)

    @app.get("/clinics/{clinic}/appointments/{appointment_id}", tags=["appointments"])
    def appointment(
        appointment_id: str, token: Annotated[Token, Depends(for_clinic)]
    ) -> AppointmentOut:
        """One appointment by id."""
        return found(appointment_id)

    return app
