"""Appointments: book, get, list with filters, move, cancel, no-show, complete.

Each change sends its Avtale to Helsenorge as the Python API does (05 booked, 07
moved, 08 cancelled, 11 no-show). Every appointment answer carries an ``ETag``; a
change with an ``If-Match`` that is no longer current is a 412 and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from adapter.domain.codes import IdType
from adapter.domain.model import AppointmentState, Channel, Person
from adapter.http.deps import ApiDep, Reader, Writer
from adapter.http.etags import IfMatch, check_if_match, etag_of
from adapter.http.idempotency import IdempotencyKey, request_hash, run_once
from adapter.http.models import AppointmentOut, BookBody, InstantIn, MoveBody
from adapter.http.pagination import Cursor, Limit, Page, paginate
from adapter.http.problems import ProblemError, problems

router = APIRouter(prefix="/clinics/{clinic}/appointments", tags=["appointments"])


#: The window a listing covers when ``start``/``end`` are not given: four weeks from now.
DEFAULT_WINDOW = timedelta(days=28)
#: The longest window one listing may cover.
MAX_WINDOW = timedelta(days=366)


def current(api: ApiDep, appointment_id: str) -> AppointmentOut:
    """The appointment as the API shows it now.

    Raises:
        ProblemError: ``not-found``.
    """
    found = api.adapter.appointment(appointment_id)
    if found is None:
        raise ProblemError("not-found", f"no appointment {appointment_id}")
    return AppointmentOut.of(found)


@router.get("")
def appointments(
    api: ApiDep,
    token: Reader,
    start: Annotated[InstantIn | None, Query(description="from (default: now)")] = None,
    end: Annotated[InstantIn | None, Query(description="until (default: start + 28 days)")] = None,
    practitioner: str | None = None,
    state: Annotated[list[AppointmentState] | None, Query()] = None,
    channel: Channel | None = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Page[AppointmentOut]:
    """Appointments starting in [start, end), by start then id; filter by practitioner,
    state (repeat for several) and channel. Instants without an offset are refused."""
    since = start or api.adapter.now()
    until = end or since + DEFAULT_WINDOW
    if until - since > MAX_WINDOW:
        raise ProblemError("validation", "end: at most 366 days after start")
    found = api.read(lambda: api.adapter.appointments(since, until))
    wanted = set(state or ())
    chosen = [
        a
        for a in found
        if (practitioner is None or a.practitioner == practitioner)
        and (not wanted or a.state in wanted)
        and (channel is None or a.channel is channel)
    ]
    return paginate(
        chosen, lambda a: (a.start.isoformat(), a.id), AppointmentOut.of,
        cursor=cursor, limit=limit,
    )  # fmt: skip


@router.post("", status_code=201, response_model=AppointmentOut, responses=problems(403, 409, 412))
def book(
    api: ApiDep,
    token: Writer,
    body: BookBody,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Book a slot for a patient from the clinic's side (the phone, the desk): Avtale 05
    goes to Helsenorge. The slot must be open and free (409 if another appointment holds
    it). With an ``Idempotency-Key`` a retry gets the first answer again."""
    patient = Person(
        body.patient.ident,
        IdType(body.patient.ident_type),
        body.patient.given_name,
        body.patient.family_name,
        body.patient.middle_name,
    )

    def run() -> AppointmentOut:
        made = api.adapter.book(body.slot_id, patient, actor=token.actor)
        return AppointmentOut.of(made)

    fingerprint = request_hash("POST", f"/clinics/{api.clinic}/appointments", body)
    return run_once(
        api,
        idempotency_key,
        fingerprint,
        run,
        status=201,
        headers=lambda m: {"ETag": etag_of(m)},
    )


@router.get("/{appointment_id}")
def appointment(
    api: ApiDep, appointment_id: str, token: Reader, response: Response
) -> AppointmentOut:
    """One appointment by id (the xCal related-to), with its ETag."""
    found = api.read(lambda: current(api, appointment_id))
    response.headers["ETag"] = etag_of(found)
    return found


def change(
    api: ApiDep,
    appointment_id: str,
    if_match: str | None,
    response: Response,
    action: Callable[[], object],
) -> AppointmentOut:
    """Run ``action`` if ``if_match`` names the appointment's current ETag (else 412);
    the appointment after it, its new ETag in ``response``."""

    def run() -> AppointmentOut:
        check_if_match(if_match, current(api, appointment_id))
        action()
        return current(api, appointment_id)

    done = api.call(run)
    response.headers["ETag"] = etag_of(done)
    return done


@router.post("/{appointment_id}/move", responses=problems(403, 409, 412))
def move(
    api: ApiDep,
    appointment_id: str,
    token: Writer,
    body: MoveBody,
    response: Response,
    if_match: IfMatch = None,
) -> AppointmentOut:
    """Move a confirmed appointment to another free slot (Avtale 07)."""
    return change(
        api, appointment_id, if_match, response,
        lambda: api.adapter.move(appointment_id, body.slot_id, actor=token.actor),
    )  # fmt: skip


@router.post("/{appointment_id}/cancel", responses=problems(403, 409, 412))
def cancel(
    api: ApiDep, appointment_id: str, token: Writer, response: Response, if_match: IfMatch = None
) -> AppointmentOut:
    """Cancel a confirmed appointment from the clinic's side (Avtale 08)."""
    return change(
        api, appointment_id, if_match, response,
        lambda: api.adapter.cancel(appointment_id, actor=token.actor),
    )  # fmt: skip


@router.post("/{appointment_id}/no-show", responses=problems(403, 409, 412))
def no_show(
    api: ApiDep, appointment_id: str, token: Writer, response: Response, if_match: IfMatch = None
) -> AppointmentOut:
    """The patient did not come (Avtale 11)."""
    return change(
        api, appointment_id, if_match, response,
        lambda: api.adapter.no_show(appointment_id, actor=token.actor),
    )  # fmt: skip


@router.post("/{appointment_id}/complete", responses=problems(403, 409, 412))
def complete(
    api: ApiDep, appointment_id: str, token: Writer, response: Response, if_match: IfMatch = None
) -> AppointmentOut:
    """The appointment took place (refused before it begins)."""
    return change(
        api, appointment_id, if_match, response,
        lambda: api.adapter.complete(appointment_id, actor=token.actor),
    )  # fmt: skip
