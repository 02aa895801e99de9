"""Events out: the Server-Sent Events stream (resumable with ``Last-Event-ID``) and the
webhook delivery log. (Filled in by the events work of issue 13.)"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/clinics/{clinic}", tags=["events"])
