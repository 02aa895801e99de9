"""``Idempotency-Key`` on writes that create or bulk-change (slot upserts, bookings).

The first request under a key runs and its answer (status and JSON body) is kept for
:data:`RETENTION`; the same key with the same request (method, path and body, compared
as parsed JSON) gets that answer again without running anything; the same key with
another request is a 409 ``conflict`` problem. Keys are per clinic, 1 to 255 printable
characters. An answer that is a problem (4xx/5xx) is not kept: the client may fix the
request and retry under the same key.

The effect and the kept answer are two commits: a process that dies between them runs
the request again on retry, which the writes it guards tolerate (an upsert of the same
slots changes nothing the second time; a second booking of the slot is a 409).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Final

from fastapi import Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from adapter.http.context import Api
from adapter.http.problems import ProblemError
from adapter.service.commands import Housekeeping

#: How long an answer is kept: the nightly housekeeping job forgets older ones.
RETENTION: Final[timedelta] = Housekeeping.idempotency_retention

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="a key of your choosing: a retry with the same key and body gets the "
        "first answer again; another body under the key is 409",
    ),
]


def request_hash(method: str, path: str, body: BaseModel | None) -> str:
    """What identifies a request under a key (its body as parsed, not its bytes)."""
    canonical = json.dumps(
        [method, path, body.model_dump(mode="json") if body is not None else None],
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def run_once(
    api: Api,
    key: str | None,
    fingerprint: str,
    run: Callable[[], BaseModel],
    *,
    status: int = 200,
    headers: Callable[[BaseModel], dict[str, str]] | None = None,
) -> JSONResponse:
    """``run()`` answered as JSON, once per ``key`` (every time when ``key`` is None).

    Raises:
        ProblemError: ``conflict``, the key was used for another request.
    """
    store, clinic = api.runtime.store, api.clinic

    def answer(model: BaseModel) -> JSONResponse:
        extra = headers(model) if headers is not None else {}
        return JSONResponse(model.model_dump(mode="json"), status_code=status, headers=extra)

    if key is None:
        return api.call(lambda: answer(run()))
    with api.lock:
        with store.uow(read_only=True) as uow:
            kept = uow.idempotency.get(clinic, key)
        if kept is not None:
            if kept.request_hash != fingerprint:
                raise ProblemError(
                    "conflict", f"Idempotency-Key {key} was used for another request"
                )
            return JSONResponse(
                json.loads(kept.body),
                status_code=kept.status,
                headers={"Idempotent-Replayed": "true"},
            )
        model = run()
        response = answer(model)
        try:
            with store.uow() as uow:
                uow.idempotency.put(
                    clinic, key, fingerprint, status, bytes(response.body), api.adapter.now()
                )
                uow.commit()
        except IntegrityError:
            # Another process kept an answer under the key first: ours stands for this
            # request, theirs for the retries.
            pass
        return response
