"""Patient lists (fastlegeliste) per practitioner, and blocks from digital booking.

Person numbers travel in bodies only, never in a path or a query, so they stay out of
access logs.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from adapter.http.deps import ApiDep, Reader, Writer
from adapter.http.models import (
    BlockIn,
    BlockOut,
    ListedPatient,
    PatientListIn,
    PatientListOut,
    UnblockIn,
)
from adapter.http.pagination import Cursor, Limit, Page, paginate
from adapter.http.problems import problems

router = APIRouter(prefix="/clinics/{clinic}", tags=["patients"])


@router.get("/practitioners/{practitioner}/patients")
def patient_list(
    api: ApiDep, practitioner: str, token: Reader, cursor: Cursor = None, limit: Limit = 100
) -> Page[ListedPatient]:
    """The practitioner's list, by number."""
    idents = api.read(lambda: api.adapter.patient_list(practitioner))
    return paginate(
        idents, lambda i: (i,), lambda i: ListedPatient(ident=i), cursor=cursor, limit=limit
    )


@router.put("/practitioners/{practitioner}/patients", responses=problems(403))
def set_patient_list(
    api: ApiDep, practitioner: str, token: Writer, body: PatientListIn
) -> PatientListOut:
    """Replace the practitioner's list. Every entry must be a valid fødselsnummer or
    D-nummer (else 422 naming the entry's position, never the number) and nothing
    changes."""

    def run() -> PatientListOut:
        api.adapter.set_patient_list(practitioner, body.idents, actor=token.actor)
        size = len(api.adapter.patient_list(practitioner))
        return PatientListOut(practitioner=practitioner, size=size)

    return api.call(run)


def _block(entry: tuple[str, str, object]) -> BlockOut:
    ident, reason, since = entry
    return BlockOut.model_validate({"ident": ident, "reason": reason, "since": since})


@router.get("/blocks")
def blocks(api: ApiDep, token: Reader, cursor: Cursor = None, limit: Limit = 100) -> Page[BlockOut]:
    """Patients blocked from digital booking, by number."""
    found = api.read(api.adapter.blocked_patients)
    return paginate(found, lambda b: (b[0],), _block, cursor=cursor, limit=limit)


@router.post("/blocks", status_code=204, responses=problems(403))
def block(api: ApiDep, token: Writer, body: BlockIn) -> Response:
    """Block a patient from digital booking (their reservations get 30); blocking again
    updates the reason."""
    api.call(lambda: api.adapter.block_patient(body.ident, body.reason, actor=token.actor))
    return Response(status_code=204)


@router.post("/blocks/remove", status_code=204, responses=problems(403))
def unblock(api: ApiDep, token: Writer, body: UnblockIn) -> Response:
    """Let a blocked patient book digitally again (no block: nothing changes)."""
    api.call(lambda: api.adapter.unblock_patient(body.ident, actor=token.actor))
    return Response(status_code=204)
