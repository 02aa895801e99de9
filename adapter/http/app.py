"""``create_app(runtime)``: the HTTP API and the admin page over the runtime's facade.

The endpoints are in :mod:`adapter.http.routes` (one module per resource), the event
stream and the webhook log in :mod:`adapter.http.events`, the admin page in
:mod:`adapter.http.admin`; OpenAPI 3.1 is served at ``/openapi.json``.

Every ``/clinics/{clinic}`` endpoint needs a bearer token (401 without one) for that
clinic (404 for any other clinic, as for an unknown one); a ``read`` token may only GET
(403). Writes are audited with ``http:<token name>`` as the actor. Errors are RFC 9457
problems (:mod:`adapter.http.problems`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from adapter import __version__
from adapter.http.admin import mount as mount_admin
from adapter.http.auth import Tokens, load_tokens
from adapter.http.context import Api
from adapter.http.events import router as events_router
from adapter.http.problems import RESPONSES, document_problems, install
from adapter.http.routes import ROUTERS
from adapter.http.webhooks import WebhookWorker
from adapter.runtime import Runtime

DESCRIPTION = """\
The clinic's side of online booking with Norwegian GPs (helsenorge.no), for EPJs that do
not embed the Python library: slots in, appointments, reservations and wishes waiting for
the clinic's decision, patient lists and blocks, and events out (a resumable
Server-Sent Events stream and signed webhooks).

Authenticate with `Authorization: Bearer <token>`; each token has a role (`epj`, `admin`,
`read`) and the clinics it may reach. Errors are RFC 9457 problem details
(`application/problem+json`) whose `type` names the kind of error. Lists are paged by
cursor: pass `next_cursor` back as `?cursor=`.
"""


def create_app(runtime: Runtime, *, tokens: Tokens | None = None, webhooks: bool = True) -> FastAPI:
    """The FastAPI application serving ``runtime``'s clinic.

    ``tokens`` defaults to the file ``[http] tokens`` names in ``adapter.toml``.
    ``webhooks``: deliver events to the webhooks ``[http]`` configures while the app
    runs (a background thread started and stopped with the app's lifespan).

    Raises:
        adapter.http.auth.TokenFileError: the tokens file is missing or wrong.
    """
    known = tokens if tokens is not None else load_tokens(runtime.settings.http.tokens)
    api = Api(runtime, known)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = WebhookWorker.for_runtime(runtime) if webhooks else None
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()

    app = FastAPI(
        title="epj-adapter",
        version=__version__,
        summary="The clinic's side of online booking on helsenorge.no",
        description=DESCRIPTION,
        responses=RESPONSES,
        lifespan=lifespan,
    )
    app.state.api = api
    install(app)
    document_problems(app)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(events_router)
    mount_admin(app)
    return app
