"""``/healthz`` (the process answers) and ``/readyz`` (database and transport answer)."""

from __future__ import annotations

from fastapi import APIRouter

from adapter.http.deps import ApiDep
from adapter.http.models import Health
from adapter.http.problems import ProblemError, problems
from adapter.logs import get_logger

router = APIRouter(tags=["health"])
log = get_logger("adapter.http")


@router.get("/healthz")
def healthz() -> Health:
    """The process answers (liveness): no database or broker is asked."""
    return Health(status="ok")


@router.get("/readyz", responses=problems(503))
def readyz(api: ApiDep) -> Health:
    """The database answers a read and the transport answers (readiness): 503 with the
    part that does not."""
    try:
        api.read(lambda: api.adapter.appointment("readyz"))
    except Exception as exc:
        log.warning("http.not_ready", part="database", error=type(exc).__name__)
        raise ProblemError("unavailable", "the database does not answer") from None
    try:
        api.runtime.transport_ready()
    except Exception as exc:
        log.warning("http.not_ready", part="transport", error=type(exc).__name__)
        raise ProblemError("unavailable", "the transport does not answer") from None
    return Health(status="ok")
