"""The API's endpoints, one module per resource; :data:`ROUTERS` in the order the
OpenAPI document lists them."""

from __future__ import annotations

from fastapi import APIRouter

from adapter.http.routes import (
    appointments,
    health,
    metrics,
    patients,
    reservations,
    slots,
    wishes,
)

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    slots.router,
    appointments.router,
    reservations.router,
    wishes.router,
    patients.router,
    metrics.router,
)
