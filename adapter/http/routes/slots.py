"""Slots: bulk upsert (with ``Idempotency-Key``), list with their visibility at an
instant (the same read as HentLedigeTimer and the admin preview), get one, withdraw and
restore."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from adapter.domain.errors import NotFound
from adapter.domain.model import Slot
from adapter.http.deps import ApiDep, Reader, Writer
from adapter.http.etags import IfMatch, check_if_match, etag_of
from adapter.http.idempotency import IdempotencyKey, request_hash, run_once
from adapter.http.models import InstantIn, SlotOut, SlotsIn, UpsertOut, WithdrawalOut, WithdrawBody
from adapter.http.pagination import Cursor, Limit, Page, paginate
from adapter.http.problems import ProblemError, problems
from adapter.service.views import SlotStatus

router = APIRouter(prefix="/clinics/{clinic}/slots", tags=["slots"])

#: The window a listing covers when ``start``/``end`` are not given: four weeks from now.
DEFAULT_WINDOW = timedelta(days=28)
#: The longest window one listing may cover.
MAX_WINDOW = timedelta(days=366)


def _out(status: SlotStatus) -> SlotOut:
    slot = status.slot
    return SlotOut(
        id=slot.id,
        practitioner=slot.practitioner,
        appointment_type=slot.appointment_type,
        start=slot.start,
        end=slot.end,
        state="open" if status.state.value == "open" else "withdrawn",
        visibility=status.visibility,  # type: ignore[arg-type]
        available_at=status.available_at,
        appointment_id=status.appointment_id,
    )


def _one(api: ApiDep, slot_id: str, at: datetime | None = None) -> SlotOut:
    """The slot as listed (its visibility now), or a not-found problem."""
    found = api.adapter.slot_status(slot_id, at=at)
    if found is None:
        raise ProblemError("not-found", f"no slot {slot_id}")
    return _out(found)


@router.put("", response_model=UpsertOut, responses=problems(403, 409, 412))
def upsert(
    api: ApiDep, token: Writer, body: SlotsIn, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Add or update slots by id (at most 20,000 at once), and schedule their release
    online by the clinic's rules. Nothing is stored when any slot is refused (an unknown
    practitioner or type, end before start: 422). A withdrawn slot stays withdrawn. With
    an ``Idempotency-Key`` a retry gets the first answer; another body under the key is
    409."""
    clinic = api.clinic
    slots = [
        Slot(s.id, clinic, s.practitioner, s.appointment_type, s.start, s.end) for s in body.slots
    ]

    def run() -> UpsertOut:
        try:
            result = api.adapter.load_slots(slots, source="api")
        except NotFound as exc:  # a key in the body, not the resource asked for
            raise ProblemError("invalid-value", str(exc)) from None
        return UpsertOut(added=result.added, updated=result.updated, unchanged=result.unchanged)

    fingerprint = request_hash("PUT", f"/clinics/{clinic}/slots", body)
    return run_once(api, idempotency_key, fingerprint, run)


@router.get("")
def slots(
    api: ApiDep,
    token: Reader,
    start: Annotated[InstantIn | None, Query(description="from (default: now)")] = None,
    end: Annotated[InstantIn | None, Query(description="until (default: start + 28 days)")] = None,
    at: Annotated[
        InstantIn | None, Query(description="the instant to judge visibility at (default: now)")
    ] = None,
    practitioner: str | None = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Page[SlotOut]:
    """Slots starting in [start, end), withdrawn ones too, by start then id, each with
    what helsenorge.no does with it at ``at``: the slots marked bookable, held_back and
    must_call are exactly what HentLedigeTimer answers at that instant."""
    now = api.adapter.now()
    since = start or now
    until = end or since + DEFAULT_WINDOW
    if until - since > MAX_WINDOW:
        raise ProblemError("validation", "end: at most 366 days after start")
    found = api.read(
        lambda: api.adapter.slot_statuses(since, until, at=at or now, practitioner=practitioner)
    )
    return paginate(
        found, lambda s: (s.slot.start.isoformat(), s.slot.id), _out, cursor=cursor, limit=limit
    )


@router.get("/{slot_id}")
def slot(
    api: ApiDep,
    slot_id: str,
    token: Reader,
    response: Response,
    at: Annotated[InstantIn | None, Query(description="default: now")] = None,
) -> SlotOut:
    """One slot with its visibility at ``at``, and its ETag."""
    found = api.read(lambda: _one(api, slot_id, at))
    response.headers["ETag"] = etag_of(found)
    return found


@router.post("/{slot_id}/withdraw", responses=problems(403, 409, 412))
def withdraw(
    api: ApiDep,
    slot_id: str,
    token: Writer,
    response: Response,
    body: WithdrawBody | None = None,
    if_match: IfMatch = None,
) -> WithdrawalOut:
    """Take a slot off offer (the practitioner fell ill): HentLedigeTimer no longer
    offers it; a pending reservation on it is answered 06 (with ``note``), a confirmed
    appointment on it is cancelled (Avtale 08). Withdrawing again changes nothing."""
    note = body.note if body else ""

    def run() -> WithdrawalOut:
        check_if_match(if_match, _one(api, slot_id))
        done = api.adapter.withdraw_slot(slot_id, note=note, actor=token.actor)
        response.headers["ETag"] = etag_of(_one(api, slot_id))
        return WithdrawalOut(
            slot_id=done.slot_id,
            changed=done.changed,
            appointment_id=done.appointment_id,
            answer=done.answer.value if done.answer else None,
        )

    return api.call(run)


@router.post("/{slot_id}/restore", responses=problems(403, 409, 412))
def restore(
    api: ApiDep, slot_id: str, token: Writer, response: Response, if_match: IfMatch = None
) -> SlotOut:
    """Offer a withdrawn slot again (an appointment the withdrawal cancelled stays
    cancelled). Restoring an open slot changes nothing."""

    def run() -> SlotOut:
        check_if_match(if_match, _one(api, slot_id))
        api.adapter.restore_slot(slot_id, actor=token.actor)
        return _one(api, slot_id)

    found = api.call(run)
    response.headers["ETag"] = etag_of(found)
    return found
