"""A typed Python client of the HTTP API (``adapter.http``), over :class:`httpx.Client`.

One method per operation, each answering the pydantic models the server itself answers
with (:mod:`adapter.http.models`, :class:`~adapter.http.pagination.Page`), so a test
reads fields, not dicts::

    with ApiClient("http://127.0.0.1:8470", token, clinic="ddfl") as api:
        api.upsert_slots([SlotIn(id="s1", practitioner="benedikte", ...)])
        for slot in api.iter_slots(practitioner="benedikte"):
            ...
        appointment, etag = api.appointment("a1")
        api.cancel(appointment.id, if_match=etag)

Every answer that is not a success raises :class:`ApiProblem` with the RFC 9457 fields
(``type``, ``title``, ``status``, ``detail``). The ETag of the last answer that carried
one is :attr:`ApiClient.last_etag` (writes answer the resource after the change).

It lives in ``tests/http`` because ``scripts/check_imports.py`` does not let
``adapter.testing`` import ``adapter.http``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from adapter.domain.model import AppointmentState, Channel
from adapter.http.models import (
    AnswerWishBody,
    AppointmentOut,
    BlockIn,
    BlockOut,
    BookBody,
    ConfirmBody,
    Health,
    ListedPatient,
    MoveBody,
    PatientIn,
    PatientListIn,
    PatientListOut,
    RejectBody,
    RejectCode,
    SlotIn,
    SlotOut,
    SlotsIn,
    UnblockIn,
    UpsertOut,
    WishCode,
    WishOut,
    WithdrawalOut,
    WithdrawBody,
)
from adapter.http.pagination import Page

__all__ = ["ApiClient", "ApiProblem"]

M = TypeVar("M", bound=BaseModel)

#: Query parameters as httpx takes them (None values are left out before the call).
Params = Mapping[str, str | int | list[str] | None]


class ApiProblem(Exception):
    """An answer that is not a success, with its RFC 9457 problem details.

    Attributes:
        type: the problem's ``type`` URI (``about:blank`` when the body had none).
        title: the short, stable title of the kind of problem.
        status: the HTTP status code of the answer.
        detail: what went wrong with this request, or None.
        response: the whole :class:`httpx.Response`.
    """

    def __init__(
        self,
        type: str,
        title: str,
        status: int,
        detail: str | None,
        response: httpx.Response,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}" if detail else f"{status} {title}")
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
        self.response = response

    @property
    def kind(self) -> str:
        """The last segment of ``type``: ``not-found``, ``stale``, ``conflict`` ..."""
        return self.type.rstrip("/").rsplit("/", 1)[-1]

    @classmethod
    def of(cls, response: httpx.Response) -> ApiProblem:
        """The problem an error answer carries (built from the status when the body is
        not a problem document)."""
        body: Any = None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {}
        title = body.get("title")
        detail = body.get("detail")
        status = body.get("status")
        return cls(
            type=str(body.get("type") or "about:blank"),
            title=str(title) if title else response.reason_phrase,
            status=status if isinstance(status, int) else response.status_code,
            detail=str(detail) if detail is not None else None,
            response=response,
        )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _q(segment: str) -> str:
    """A path segment, percent-encoded (an id may hold ``/`` or ``?``)."""
    return quote(segment, safe="")


def _clean(params: Params) -> dict[str, str | int | list[str]]:
    return {k: v for k, v in params.items() if v is not None}


class ApiClient:
    """The API of one clinic, as an EPJ calls it: ``base_url``, a bearer ``token`` and
    the ``clinic`` key its paths name.

    Use it as a context manager (or call :meth:`close`). ``timeout`` is in seconds;
    ``http`` replaces the :class:`httpx.Client` made here (its base URL and headers are
    then the caller's).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        clinic: str,
        timeout: float = 10.0,
        http: httpx.Client | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        self.http = http or httpx.Client(base_url=base_url, headers=headers, timeout=timeout)
        self.clinic = clinic
        #: The ETag of the last answer that carried one (None before any).
        self.last_etag: str | None = None

    # -- plumbing ---------------------------------------------------------------------

    def close(self) -> None:
        """Close the connections."""
        self.http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _path(self, rest: str) -> str:
        return f"/clinics/{_q(self.clinic)}{rest}"

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: BaseModel | None = None,
        headers: Mapping[str, str | None] | None = None,
    ) -> httpx.Response:
        sent = {k: v for k, v in (headers or {}).items() if v is not None}
        content = None
        if body is not None:
            content = body.model_dump_json(exclude_unset=False).encode("utf-8")
            sent["Content-Type"] = "application/json"
        response = self.http.request(
            method,
            path,
            params=_clean(params) if params else None,
            content=content,
            headers=sent,
        )
        if response.is_error:
            raise ApiProblem.of(response)
        if "etag" in response.headers:
            self.last_etag = response.headers["etag"]
        return response

    def _get(self, model: type[M], path: str, params: Params | None = None) -> M:
        return model.model_validate_json(self._send("GET", path, params=params).content)

    def _post(
        self,
        model: type[M],
        path: str,
        body: BaseModel | None = None,
        *,
        if_match: str | None = None,
    ) -> M:
        response = self._send("POST", path, body=body, headers={"If-Match": if_match})
        return model.model_validate_json(response.content)

    @staticmethod
    def _follow(page_of: Callable[[str | None], Page[M]]) -> Iterator[M]:
        cursor: str | None = None
        while True:
            page = page_of(cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    # -- health -----------------------------------------------------------------------

    def healthz(self) -> Health:
        """``GET /healthz``: the process answers."""
        return self._get(Health, "/healthz")

    def readyz(self) -> Health:
        """``GET /readyz``: the database and the transport answer (503 problem if not)."""
        return self._get(Health, "/readyz")

    # -- slots ------------------------------------------------------------------------

    def upsert_slots(
        self, slots: Iterable[SlotIn], idempotency_key: str | None = None
    ) -> UpsertOut:
        """``PUT /clinics/{c}/slots``: add or update slots by id, all or none.

        With ``idempotency_key`` a retry of the same slots gets the first answer again;
        other slots under the key are a 409 ``conflict`` problem.
        """
        response = self._send(
            "PUT",
            self._path("/slots"),
            body=SlotsIn(slots=list(slots)),
            headers={"Idempotency-Key": idempotency_key},
        )
        return UpsertOut.model_validate_json(response.content)

    def slots(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        at: datetime | None = None,
        practitioner: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[SlotOut]:
        """``GET /clinics/{c}/slots``: one page of slots starting in [start, end), each
        with its visibility at ``at`` (server defaults: now, four weeks, now)."""
        params: Params = {
            "start": _iso(start),
            "end": _iso(end),
            "at": _iso(at),
            "practitioner": practitioner,
            "cursor": cursor,
            "limit": limit,
        }
        return self._get(Page[SlotOut], self._path("/slots"), params)

    def iter_slots(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        at: datetime | None = None,
        practitioner: str | None = None,
        limit: int | None = None,
    ) -> Iterator[SlotOut]:
        """Every slot :meth:`slots` lists, page after page (following ``next_cursor``)."""
        return self._follow(lambda c: self.slots(start, end, at, practitioner, c, limit))

    def slot(self, slot_id: str, at: datetime | None = None) -> tuple[SlotOut, str]:
        """``GET /clinics/{c}/slots/{id}``: the slot and its ETag."""
        response = self._send("GET", self._path(f"/slots/{_q(slot_id)}"), params={"at": _iso(at)})
        return SlotOut.model_validate_json(response.content), response.headers["etag"]

    def withdraw_slot(
        self, slot_id: str, note: str = "", if_match: str | None = None
    ) -> WithdrawalOut:
        """``POST .../slots/{id}/withdraw``: take the slot off offer (a pending
        reservation on it gets 06 with ``note``; a confirmed appointment Avtale 08)."""
        return self._post(
            WithdrawalOut,
            self._path(f"/slots/{_q(slot_id)}/withdraw"),
            WithdrawBody(note=note),
            if_match=if_match,
        )

    def restore_slot(self, slot_id: str, if_match: str | None = None) -> SlotOut:
        """``POST .../slots/{id}/restore``: offer a withdrawn slot again."""
        return self._post(SlotOut, self._path(f"/slots/{_q(slot_id)}/restore"), if_match=if_match)

    # -- appointments -----------------------------------------------------------------

    def appointments(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        practitioner: str | None = None,
        state: Sequence[AppointmentState] | None = None,
        channel: Channel | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[AppointmentOut]:
        """``GET /clinics/{c}/appointments``: one page of appointments starting in
        [start, end), filtered by practitioner, states and channel."""
        params: Params = {
            "start": _iso(start),
            "end": _iso(end),
            "practitioner": practitioner,
            "state": [s.value for s in state] if state else None,
            "channel": channel.value if channel is not None else None,
            "cursor": cursor,
            "limit": limit,
        }
        return self._get(Page[AppointmentOut], self._path("/appointments"), params)

    def iter_appointments(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        practitioner: str | None = None,
        state: Sequence[AppointmentState] | None = None,
        channel: Channel | None = None,
        limit: int | None = None,
    ) -> Iterator[AppointmentOut]:
        """Every appointment :meth:`appointments` lists, page after page."""
        return self._follow(
            lambda c: self.appointments(start, end, practitioner, state, channel, c, limit)
        )

    def book(
        self, slot_id: str, patient: PatientIn, idempotency_key: str | None = None
    ) -> AppointmentOut:
        """``POST /clinics/{c}/appointments``: book ``slot_id`` for ``patient`` from the
        clinic's side (Avtale 05); its ETag is then :attr:`last_etag`."""
        response = self._send(
            "POST",
            self._path("/appointments"),
            body=BookBody(slot_id=slot_id, patient=patient),
            headers={"Idempotency-Key": idempotency_key},
        )
        return AppointmentOut.model_validate_json(response.content)

    def appointment(self, appointment_id: str) -> tuple[AppointmentOut, str]:
        """``GET /clinics/{c}/appointments/{id}``: the appointment and its ETag."""
        response = self._send("GET", self._path(f"/appointments/{_q(appointment_id)}"))
        return AppointmentOut.model_validate_json(response.content), response.headers["etag"]

    def move(
        self, appointment_id: str, slot_id: str, if_match: str | None = None
    ) -> AppointmentOut:
        """``POST .../appointments/{id}/move``: to another free slot (Avtale 07)."""
        return self._post(
            AppointmentOut,
            self._path(f"/appointments/{_q(appointment_id)}/move"),
            MoveBody(slot_id=slot_id),
            if_match=if_match,
        )

    def cancel(self, appointment_id: str, if_match: str | None = None) -> AppointmentOut:
        """``POST .../appointments/{id}/cancel``: cancelled by the clinic (Avtale 08)."""
        return self._change(appointment_id, "cancel", if_match)

    def no_show(self, appointment_id: str, if_match: str | None = None) -> AppointmentOut:
        """``POST .../appointments/{id}/no-show``: the patient did not come (Avtale 11)."""
        return self._change(appointment_id, "no-show", if_match)

    def complete(self, appointment_id: str, if_match: str | None = None) -> AppointmentOut:
        """``POST .../appointments/{id}/complete``: the appointment took place."""
        return self._change(appointment_id, "complete", if_match)

    def _change(self, appointment_id: str, action: str, if_match: str | None) -> AppointmentOut:
        path = self._path(f"/appointments/{_q(appointment_id)}/{action}")
        return self._post(AppointmentOut, path, if_match=if_match)

    # -- reservations -----------------------------------------------------------------

    def reservations(
        self, cursor: str | None = None, limit: int | None = None
    ) -> Page[AppointmentOut]:
        """``GET /clinics/{c}/reservations``: one page of the reservations waiting for
        the clinic's decision, oldest first."""
        params: Params = {"cursor": cursor, "limit": limit}
        return self._get(Page[AppointmentOut], self._path("/reservations"), params)

    def iter_reservations(self, limit: int | None = None) -> Iterator[AppointmentOut]:
        """Every pending reservation, page after page."""
        return self._follow(lambda c: self.reservations(c, limit))

    def confirm(
        self, appointment_id: str, note: str = "", if_match: str | None = None
    ) -> AppointmentOut:
        """``POST .../reservations/{id}/confirm``: SvarTimeReservasjon 05 (10 with a
        vikar), ``note`` to the patient."""
        return self._post(
            AppointmentOut,
            self._path(f"/reservations/{_q(appointment_id)}/confirm"),
            ConfirmBody(note=note),
            if_match=if_match,
        )

    def reject(
        self,
        appointment_id: str,
        code: RejectCode = "06",
        note: str = "",
        if_match: str | None = None,
    ) -> AppointmentOut:
        """``POST .../reservations/{id}/reject``: answered 06, 26 or 30, ``note`` to
        the patient."""
        return self._post(
            AppointmentOut,
            self._path(f"/reservations/{_q(appointment_id)}/reject"),
            RejectBody(code=code, note=note),
            if_match=if_match,
        )

    # -- wishes -----------------------------------------------------------------------

    def wishes(self, cursor: str | None = None, limit: int | None = None) -> Page[WishOut]:
        """``GET /clinics/{c}/wishes``: one page of the wishes not yet answered."""
        params: Params = {"cursor": cursor, "limit": limit}
        return self._get(Page[WishOut], self._path("/wishes"), params)

    def iter_wishes(self, limit: int | None = None) -> Iterator[WishOut]:
        """Every open wish, page after page."""
        return self._follow(lambda c: self.wishes(c, limit))

    def wish(self, wish_id: str) -> WishOut:
        """``GET /clinics/{c}/wishes/{id}``: one wish, answered or not."""
        return self._get(WishOut, self._path(f"/wishes/{_q(wish_id)}"))

    def answer_wish(
        self, wish_id: str, code: WishCode, slot_id: str | None = None, note: str = ""
    ) -> WishOut:
        """``POST .../wishes/{id}/answer``: SvarØnske ``code`` (05/10/07 need
        ``slot_id``), ``note`` to the patient."""
        return self._post(
            WishOut,
            self._path(f"/wishes/{_q(wish_id)}/answer"),
            AnswerWishBody(code=code, slot_id=slot_id, note=note),
        )

    # -- patient lists and blocks -------------------------------------------------------

    def patient_list(
        self, practitioner: str, cursor: str | None = None, limit: int | None = None
    ) -> Page[ListedPatient]:
        """``GET .../practitioners/{p}/patients``: one page of the practitioner's list."""
        params: Params = {"cursor": cursor, "limit": limit}
        path = self._path(f"/practitioners/{_q(practitioner)}/patients")
        return self._get(Page[ListedPatient], path, params)

    def iter_patient_list(self, practitioner: str, limit: int | None = None) -> Iterator[str]:
        """Every number on the practitioner's list, page after page."""
        return (p.ident for p in self._follow(lambda c: self.patient_list(practitioner, c, limit)))

    def set_patient_list(self, practitioner: str, idents: Iterable[str]) -> PatientListOut:
        """``PUT .../practitioners/{p}/patients``: replace the practitioner's list."""
        response = self._send(
            "PUT",
            self._path(f"/practitioners/{_q(practitioner)}/patients"),
            body=PatientListIn(idents=list(idents)),
        )
        return PatientListOut.model_validate_json(response.content)

    def blocks(self, cursor: str | None = None, limit: int | None = None) -> Page[BlockOut]:
        """``GET /clinics/{c}/blocks``: one page of the patients blocked from digital
        booking, by number."""
        params: Params = {"cursor": cursor, "limit": limit}
        return self._get(Page[BlockOut], self._path("/blocks"), params)

    def iter_blocks(self, limit: int | None = None) -> Iterator[BlockOut]:
        """Every block, page after page."""
        return self._follow(lambda c: self.blocks(c, limit))

    def block(self, ident: str, reason: str = "") -> None:
        """``POST /clinics/{c}/blocks``: block a patient (their reservations get 30)."""
        self._send("POST", self._path("/blocks"), body=BlockIn(ident=ident, reason=reason))

    def unblock(self, ident: str) -> None:
        """``POST /clinics/{c}/blocks/remove``: let the patient book digitally again."""
        self._send("POST", self._path("/blocks/remove"), body=UnblockIn(ident=ident))
