"""The admin page (``/admin``): server-rendered with Jinja2, for clinic admins.

No JavaScript: every page is plain HTML forms and links, styled by one small CSS file
(``/admin/static/admin.css``), usable by keyboard alone and at 360 px width.

* Login (``/admin/login``) with an ``admin`` token of the clinic; a session cookie
  (HttpOnly, SameSite=Strict, Path=/admin, Secure over https) names a session held in
  memory (:mod:`adapter.http.admin.sessions`); every form carries the session's CSRF
  token, checked on every POST (403 otherwise).
* ``/admin/timebok``: the month grid and the day list as helsenorge.no shows them at a
  chosen instant, per practitioner (:mod:`adapter.http.admin.portal`).
* ``/admin/foresporsler``: pending reservations (confirm, reject with 06/26/30) and
  open wishes (answer), each with a note to the patient; decisions are the facade's
  use cases with the token's actor (``http:<name>``).
* ``/admin/meldinger``: the last messages sent and their delivery state.
* ``/admin/drift``: configuration problems as ``epj-adapter check-config`` reports
  them, and the transport's dead letters.

The routes are kept out of the OpenAPI document.
"""

from __future__ import annotations

from fastapi import FastAPI

from adapter.http.admin.pages import AdminState, router
from adapter.http.context import Api

__all__ = ["AdminState", "mount"]


def mount(app: FastAPI) -> None:
    """Add the admin page's routes (under ``/admin``, not in the OpenAPI document) to
    ``app``, whose ``app.state.api`` is the :class:`~adapter.http.context.Api` served."""
    api = app.state.api
    assert isinstance(api, Api)
    app.state.admin = AdminState(api)
    app.include_router(router)
