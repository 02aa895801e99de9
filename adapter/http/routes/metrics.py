"""``/metrics``: the runtime's Prometheus metrics (:mod:`adapter.metrics`) on the HTTP
API's port, so that ``run`` with ``[http] enabled`` needs no second port.

No token is asked, as for ``/healthz``: Prometheus scrapes without one, the API listens
on loopback unless ``[http] listen`` says otherwise, and the metrics hold counts, codes
and queue names only (no person, no free text). Left out of the OpenAPI document: it
is not JSON, and not part of the EPJ's API.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client.exposition import choose_encoder

from adapter.http.deps import ApiDep
from adapter.metrics import metrics_for

router = APIRouter(tags=["metrics"])


@router.get("/metrics", include_in_schema=False)
def metrics(api: ApiDep, request: Request) -> Response:
    """The metrics in the Prometheus text format (OpenMetrics when the scraper asks)."""
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    body = encoder(metrics_for(api.runtime).registry)
    return Response(content=body, headers={"Content-Type": content_type})
