"""Reservations waiting for the clinic's decision: list, confirm, reject."""

from __future__ import annotations

from fastapi import APIRouter, Response

from adapter.domain.codes import Svar
from adapter.http.deps import ApiDep, Reader, Writer
from adapter.http.etags import IfMatch
from adapter.http.models import AppointmentOut, ConfirmBody, RejectBody
from adapter.http.pagination import Cursor, Limit, Page, paginate
from adapter.http.problems import problems
from adapter.http.routes.appointments import change

router = APIRouter(prefix="/clinics/{clinic}/reservations", tags=["reservations"])


@router.get("")
def reservations(
    api: ApiDep, token: Reader, cursor: Cursor = None, limit: Limit = 100
) -> Page[AppointmentOut]:
    """Reservations waiting for the clinic's decision, oldest first (by when they came,
    then id)."""
    pending = api.read(api.adapter.pending_reservations)
    return paginate(
        pending, lambda a: (a.created_at.isoformat(), a.id), AppointmentOut.of,
        cursor=cursor, limit=limit,
    )  # fmt: skip


@router.post("/{appointment_id}/confirm", responses=problems(403, 409, 412))
def confirm(
    api: ApiDep,
    appointment_id: str,
    token: Writer,
    response: Response,
    body: ConfirmBody | None = None,
    if_match: IfMatch = None,
) -> AppointmentOut:
    """Confirm a pending reservation: the patient gets SvarTimeReservasjon 05 (10 when a
    vikar takes it), with ``note`` in TekstNotatInnhold."""
    note = body.note if body else ""
    return change(
        api, appointment_id, if_match, response,
        lambda: api.adapter.confirm(appointment_id, note=note, actor=token.actor),
    )  # fmt: skip


@router.post("/{appointment_id}/reject", responses=problems(403, 409, 412))
def reject(
    api: ApiDep,
    appointment_id: str,
    token: Writer,
    response: Response,
    body: RejectBody | None = None,
    if_match: IfMatch = None,
) -> AppointmentOut:
    """Reject a pending reservation with 06 (time ikke tilgjengelig), 26 or 30."""
    given = body or RejectBody()
    return change(
        api, appointment_id, if_match, response,
        lambda: api.adapter.reject(
            appointment_id, Svar(given.code), note=given.note, actor=token.actor
        ),
    )  # fmt: skip
