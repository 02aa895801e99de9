"""The admin page (``/admin``): server-rendered with Jinja2, for clinic admins.
(Filled in by the admin work of issue 13.)"""

from __future__ import annotations

from fastapi import FastAPI


def mount(app: FastAPI) -> None:
    """Add the admin page's routes to ``app``."""
