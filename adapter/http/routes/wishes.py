"""Wishes (OT, OET, OAT) waiting for the clinic: list, get, answer."""

from __future__ import annotations

from fastapi import APIRouter

from adapter.domain.codes import Svar
from adapter.http.deps import ApiDep, Reader, Writer
from adapter.http.models import AnswerWishBody, WishOut
from adapter.http.pagination import Cursor, Limit, Page, paginate
from adapter.http.problems import ProblemError, problems

router = APIRouter(prefix="/clinics/{clinic}/wishes", tags=["wishes"])


def _current(api: ApiDep, wish_id: str) -> WishOut:
    found = api.adapter.wish(wish_id)
    if found is None:
        raise ProblemError("not-found", f"no wish {wish_id}")
    return WishOut.of(found)


@router.get("")
def wishes(api: ApiDep, token: Reader, cursor: Cursor = None, limit: Limit = 100) -> Page[WishOut]:
    """Wishes not yet answered, oldest first (by when they came, then id)."""
    found = api.read(api.adapter.open_wishes)
    return paginate(
        found, lambda w: (w.created_at.isoformat(), w.id), WishOut.of, cursor=cursor, limit=limit
    )


@router.get("/{wish_id}")
def wish(api: ApiDep, wish_id: str, token: Reader) -> WishOut:
    """One wish by id, answered or not."""
    return api.read(lambda: _current(api, wish_id))


@router.post("/{wish_id}/answer", responses=problems(403, 409))
def answer(api: ApiDep, wish_id: str, token: Writer, body: AnswerWishBody) -> WishOut:
    """Answer a wish with SvarØnske (HITS 1217 §3.5): 05/10 give the patient the slot
    ``slot_id``, 07 moves their appointment there, 08/09/34 and 06 need no slot; ``note``
    goes to the patient in TekstNotatInnhold."""

    def run() -> WishOut:
        api.adapter.answer_wish(
            wish_id, Svar(body.code), slot_id=body.slot_id, note=body.note, actor=token.actor
        )
        return _current(api, wish_id)

    return api.call(run)
