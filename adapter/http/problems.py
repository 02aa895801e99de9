"""RFC 9457 problem details: one stable ``type`` URI per kind of error.

Every error the API answers is ``application/problem+json`` with ``type``, ``title``,
``status`` and (but for the catch-all 500) ``detail``. Never a stack trace.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapter.domain.errors import InvalidTransition, InvalidValue, NotFound, SlotOccupied
from adapter.logs import get_logger

MEDIA_TYPE: Final = "application/problem+json"

#: The base of every problem ``type`` (stable; not meant to be dereferenced).
BASE: Final = "https://epj-adapter.invalid/problems/"

#: kind -> (status, title)
KINDS: Final[dict[str, tuple[int, str]]] = {
    "not-found": (404, "Not found"),
    "invalid-value": (422, "Invalid value"),
    "invalid-transition": (409, "Invalid transition"),
    "conflict": (409, "Conflict"),
    "stale": (412, "Precondition failed"),
    "validation": (422, "Request validation failed"),
    "bad-request": (400, "Bad request"),
    "unauthorized": (401, "Unauthorized"),
    "forbidden": (403, "Forbidden"),
    "method-not-allowed": (405, "Method not allowed"),
    "unavailable": (503, "Service unavailable"),
    "internal": (500, "Internal server error"),
}

_BY_STATUS: Final = {
    status: kind
    for kind, (status, _) in KINDS.items()
    if kind not in {"validation", "conflict", "invalid-value"}
}


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    type: str
    title: str
    status: int
    detail: str | None = None


class ProblemError(Exception):
    """Raise in an endpoint to answer with a problem of ``kind``."""

    def __init__(self, kind: str, detail: str | None = None) -> None:
        super().__init__(detail or kind)
        self.kind = kind
        self.detail = detail


def problem_response(kind: str, detail: str | None = None) -> JSONResponse:
    """The problem of ``kind`` as a response."""
    status, title = KINDS[kind]
    body = Problem(type=BASE + kind, title=title, status=status, detail=detail)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entry of an endpoint that may answer these problems."""
    titles = {status: title for status, title in KINDS.values()}
    return {s: {"model": Problem, "description": titles.get(s, "Problem")} for s in statuses}


#: What every endpoint may answer, for the OpenAPI document.
RESPONSES: Final[dict[int | str, dict[str, object]]] = {
    status: {"model": Problem, "description": title}
    for status, title in (
        (400, "The body cannot be read (not UTF-8 JSON)"),
        (401, "Unauthorized"),
        (404, "Not found"),
        (422, "Invalid request"),
    )
}


def document_problems(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI document say what is sent: every error answer (4xx, 5xx)
    is ``application/problem+json``, not the ``application/json`` FastAPI writes for a
    response model."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if status[:1] in "45" and "application/json" in content:
                        content.setdefault(MEDIA_TYPE, content.pop("application/json"))
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` as a problem."""
    log = get_logger("adapter.http")

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(exc.kind, exc.detail)

    async def on_domain(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, NotFound):
            return problem_response("not-found", str(exc))
        if isinstance(exc, InvalidTransition):
            return problem_response("invalid-transition", str(exc))
        if isinstance(exc, SlotOccupied):
            return problem_response("conflict", str(exc))
        return problem_response("invalid-value", str(exc))

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        where = "; ".join(
            f"{'.'.join(str(p) for p in error.get('loc', ()))}: {error.get('msg', '')}"
            for error in exc.errors()
        )
        return problem_response("validation", where or "the request is not valid")

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        kind = _BY_STATUS.get(exc.status_code)
        if kind is None:
            status = exc.status_code
            return JSONResponse(
                Problem(type="about:blank", title=str(exc.detail), status=status).model_dump(
                    exclude_none=True
                ),
                status_code=status,
                media_type=MEDIA_TYPE,
            )
        return problem_response(kind, None if kind == "internal" else str(exc.detail))

    async def on_anything(request: Request, exc: Exception) -> JSONResponse:
        log.error("http.internal_error", path=request.url.path, error=type(exc).__name__)
        return problem_response("internal")

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(NotFound, on_domain)
    app.add_exception_handler(InvalidTransition, on_domain)
    app.add_exception_handler(InvalidValue, on_domain)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_anything)
