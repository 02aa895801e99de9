"""The admin page over a real uvicorn on 127.0.0.1: login with an admin token, the
session cookie, CSRF on every POST, decisions through the forms, and the portal view
that shows exactly what HentLedigeTimer offers at the chosen instant."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from html.parser import HTMLParser

import httpx
import pytest
from fastapi import FastAPI

from adapter.domain.model import OSLO, AppointmentState, WishState
from adapter.http import create_app, hash_token
from adapter.http.admin.sessions import COOKIE
from adapter.http.auth import Token, Tokens
from adapter.messages.codes import MsgType
from adapter.runtime import Runtime
from adapter.testing import MemoryTransport, Reservation, reserve, wish
from adapter.transport.base import TransportMessage
from adapter.transport.deadletters import DeadLetter
from tests.http.conftest import EPJ_TOKEN, FOLKE, OTHER_TOKEN, READ_TOKEN

pytestmark = pytest.mark.http

ADMIN_TOKEN = "admin-token-0123456789"
OTHER_ADMIN_TOKEN = "admin-elsewhere-0123456789"
HN_ASYNC = "8093248_async"
#: The example clinic's Hastetime on Tuesday 1 December, released at 08:00 that day.
TUESDAY = date(2026, 12, 1)


def admin_tokens(clinic_key: str) -> Tokens:
    """The conftest's tokens and two admin tokens (this clinic's and another's)."""
    return Tokens(
        [
            Token("epj-main", hash_token(EPJ_TOKEN), "epj", frozenset({clinic_key})),
            Token("reader", hash_token(READ_TOKEN), "read", frozenset({clinic_key})),
            Token("elsewhere", hash_token(OTHER_TOKEN), "epj", frozenset({"annen-klinikk"})),
            Token("kontor", hash_token(ADMIN_TOKEN), "admin", frozenset({clinic_key})),
            Token("fremmed", hash_token(OTHER_ADMIN_TOKEN), "admin", frozenset({"annen"})),
        ]
    )


@dataclass(frozen=True)
class Admin:
    """A running app with the admin page, its runtime and its transport."""

    url: str
    runtime: Runtime
    transport: MemoryTransport

    @property
    def clinic(self) -> str:
        return self.runtime.adapter.clinic.key

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, follow_redirects=False)


@pytest.fixture
def admin(runtime: Runtime, serve: Callable[[FastAPI], str]) -> Admin:
    """The conftest's runtime (two slots of Ingar's on Tuesday) with the example
    clinic's own slots of that week from its templates."""
    runtime.adapter.generate_slots(date(2026, 11, 30), date(2026, 12, 4))
    transport = runtime.transport
    assert isinstance(transport, MemoryTransport)
    app = create_app(runtime, tokens=admin_tokens(runtime.adapter.clinic.key), webhooks=False)
    return Admin(serve(app), runtime, transport)


class Page(HTMLParser):
    """What the tests read off a page: hidden CSRF fields, forms, and the day list."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.csrf: list[str] = []
        self.forms: list[dict[str, str]] = []
        self.form_fields: list[set[str]] = []
        self.slots: list[tuple[str, str]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(a)
            self.form_fields.append(set())
        if tag in ("input", "select", "textarea") and self.form_fields:
            self.form_fields[-1].add(a.get("name", ""))
        if tag == "input" and a.get("name") == "csrf":
            self.csrf.append(a.get("value", ""))
        if tag == "li" and "data-slot" in a:
            self.slots.append((a["data-slot"], a["data-visibility"]))


def csrf_of(html: str) -> str:
    found = Page(html).csrf
    assert found, "the page has no CSRF field"
    assert len(set(found)) == 1, "every form carries the same session token"
    return found[0]


def log_in(client: httpx.Client, token: str = ADMIN_TOKEN) -> httpx.Response:
    form = client.get("/admin/login")
    assert form.status_code == 200
    return client.post("/admin/login", data={"token": token, "csrf": csrf_of(form.text)})


def logged_in(admin: Admin) -> httpx.Client:
    client = admin.client()
    response = log_in(client)
    assert response.status_code == 303, response.text
    return client


def pending(admin: Admin, slot: str = "ingar-1") -> Reservation:
    made = reserve(admin.runtime, slot, FOLKE, subject="Vondt i halsen")
    assert made.appointment is not None
    assert made.appointment.state is AppointmentState.REQUESTED
    return made


def answers(admin: Admin, made: Reservation) -> list[str]:
    from adapter.messages.read_replies import read_reply

    replies = [read_reply(m.body) for m in admin.transport.sent.get(HN_ASYNC, [])]
    return [r.code or "" for r in replies if r.kind == "msghead" and r.ref_to_parent == made.msg_id]


def state_of(admin: Admin, appointment_id: str) -> AppointmentState:
    found = admin.runtime.adapter.appointment(appointment_id)
    assert found is not None
    return found.state


@pytest.fixture
def client(admin: Admin) -> Iterator[httpx.Client]:
    c = logged_in(admin)
    yield c
    c.close()


# -- login -------------------------------------------------------------------------------


def test_an_admin_token_logs_in_and_opens_the_portal_view(admin: Admin) -> None:
    with admin.client() as client:
        assert client.get("/admin/timebok").headers["location"] == "/admin/login"
        response = log_in(client)
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/timebok"
        portal = client.get("/admin/timebok")
    assert portal.status_code == 200
    assert portal.headers["content-type"].startswith("text/html")
    assert "Slik ser helsenorge.no ut" in portal.text
    assert "Logg ut" in portal.text


@pytest.mark.parametrize(
    "token",
    [EPJ_TOKEN, READ_TOKEN, OTHER_TOKEN, OTHER_ADMIN_TOKEN, "not-a-token", ""],
    ids=["epj", "read", "other-clinic-epj", "other-clinic-admin", "unknown", "empty"],
)
def test_any_other_token_gets_the_login_page_again_with_a_norwegian_error(
    admin: Admin, token: str
) -> None:
    with admin.client() as client:
        response = log_in(client, token)
        after = client.get("/admin/timebok")
    assert response.status_code == 401
    assert "Innloggingen ble avvist" in response.text
    assert 'name="token"' in response.text
    assert "Traceback" not in response.text
    assert after.status_code == 303
    assert after.headers["location"] == "/admin/login"


def test_the_session_cookie_is_httponly_samesite_strict_on_admin_only(admin: Admin) -> None:
    with admin.client() as client:
        response = log_in(client)
    [cookie] = [c for c in response.headers.get_list("set-cookie") if c.startswith(COOKIE)]
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags
    assert "samesite=strict" in flags
    assert "path=/admin" in flags
    assert "secure" not in flags  # plain http on loopback
    assert not any(f.startswith(("expires", "max-age")) for f in flags)


def test_logging_in_gives_a_new_session_id(admin: Admin) -> None:
    with admin.client() as client:
        client.get("/admin/login")
        before = client.cookies[COOKIE]
        form = client.get("/admin/login")
        client.post("/admin/login", data={"token": ADMIN_TOKEN, "csrf": csrf_of(form.text)})
        after = client.cookies[COOKIE]
    assert before != after


def test_logout_ends_the_session(admin: Admin, client: httpx.Client) -> None:
    page = client.get("/admin/timebok")
    stolen = client.cookies[COOKIE]
    response = client.post("/admin/logout", data={"csrf": csrf_of(page.text)})
    assert response.status_code == 303
    with admin.client() as other:
        other.cookies.set(COOKIE, stolen, path="/admin")
        assert other.get("/admin/timebok").status_code == 303


def test_the_login_form_itself_needs_its_csrf_token(admin: Admin) -> None:
    with admin.client() as client:
        client.get("/admin/login")
        response = client.post("/admin/login", data={"token": ADMIN_TOKEN, "csrf": "wrong"})
        after = client.get("/admin/timebok")
    assert response.status_code == 403
    assert "Skjemaet var utløpt" in response.text
    assert after.status_code == 303


def test_admin_pages_are_not_in_the_openapi_document(admin: Admin) -> None:
    with admin.client() as client:
        document = client.get("/openapi.json").json()
    assert not [p for p in document["paths"] if p.startswith("/admin")]


def test_pages_forbid_framing_scripts_and_caching(admin: Admin, client: httpx.Client) -> None:
    page = client.get("/admin/timebok")
    css = client.get("/admin/static/admin.css")
    assert "script-src" not in page.headers["content-security-policy"]
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "@media" in css.text


# -- CSRF --------------------------------------------------------------------------------


def test_every_post_form_carries_the_csrf_token(admin: Admin, client: httpx.Client) -> None:
    pending(admin)
    for path in ("/admin/timebok", "/admin/foresporsler", "/admin/meldinger", "/admin/drift"):
        page = Page(client.get(path).text)
        posts = [
            f
            for f, a in zip(page.form_fields, page.forms, strict=True)
            if a.get("method") == "post"
        ]
        assert posts, path
        assert all("csrf" in fields for fields in posts), path


@pytest.mark.parametrize("csrf", [None, "", "not-the-token"], ids=["missing", "empty", "wrong"])
def test_a_post_without_the_right_csrf_token_is_refused_and_changes_nothing(
    admin: Admin, client: httpx.Client, csrf: str | None
) -> None:
    made = pending(admin)
    assert made.appointment is not None
    data = {"note": "Velkommen"} | ({"csrf": csrf} if csrf is not None else {})
    response = client.post(f"/admin/foresporsler/{made.appointment.id}/bekreft", data=data)
    assert response.status_code == 403
    assert "Ingenting er endret" in response.text
    assert state_of(admin, made.appointment.id) is AppointmentState.REQUESTED
    assert answers(admin, made) == []


def test_another_sessions_csrf_token_is_refused(admin: Admin, client: httpx.Client) -> None:
    made = pending(admin)
    assert made.appointment is not None
    other = logged_in(admin)
    theirs = csrf_of(other.get("/admin/foresporsler").text)
    other.close()
    response = client.post(
        f"/admin/foresporsler/{made.appointment.id}/bekreft", data={"csrf": theirs}
    )
    assert response.status_code == 403
    assert state_of(admin, made.appointment.id) is AppointmentState.REQUESTED


def test_a_post_without_a_session_is_refused(admin: Admin) -> None:
    made = pending(admin)
    assert made.appointment is not None
    with admin.client() as client:
        response = client.post(
            f"/admin/foresporsler/{made.appointment.id}/bekreft", data={"csrf": "x"}
        )
    assert response.status_code == 403
    assert state_of(admin, made.appointment.id) is AppointmentState.REQUESTED


# -- decisions ---------------------------------------------------------------------------


def test_confirming_through_the_form_sends_the_svartimereservasjon(
    admin: Admin, client: httpx.Client
) -> None:
    made = pending(admin)
    assert made.appointment is not None
    page = client.get("/admin/foresporsler")
    assert made.appointment.id in page.text
    assert "Vondt i halsen" in page.text
    assert FOLKE.ident not in page.text  # masked
    assert FOLKE.ident[:6] + "*****" in page.text
    assert FOLKE.family_name not in page.text
    response = client.post(
        f"/admin/foresporsler/{made.appointment.id}/bekreft",
        data={"csrf": csrf_of(page.text), "note": "Velkommen\r\ntil oss"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/foresporsler"
    assert state_of(admin, made.appointment.id) is AppointmentState.CONFIRMED
    assert answers(admin, made) == ["10"]  # Ingar is a vikar: 10
    [sent] = [m for m in admin.transport.sent[HN_ASYNC] if b"Velkommen\ntil oss" in m.body]
    assert sent.subject == MsgType.TIMERESERVASJON.value
    with admin.runtime.store.uow(read_only=True) as uow:
        audit = uow.audit.for_appointment(admin.clinic, made.appointment.id)
    assert [e.actor for e in audit if e.action == "reservation.confirmed"] == ["http:kontor"]
    after = client.get("/admin/foresporsler")
    assert "Reservasjonen er bekreftet" in after.text
    assert "Ingen reservasjoner venter på svar" in after.text
    assert re.search(r"SvarTimeReservasjon</span>\s*<span class=\"kode\">10</span>", after.text)


def test_rejecting_through_the_form_sends_the_chosen_code(
    admin: Admin, client: httpx.Client
) -> None:
    made = pending(admin)
    assert made.appointment is not None
    csrf = csrf_of(client.get("/admin/foresporsler").text)
    response = client.post(
        f"/admin/foresporsler/{made.appointment.id}/avvis",
        data={"csrf": csrf, "code": "26", "note": "Ring oss"},
    )
    assert response.status_code == 303
    assert state_of(admin, made.appointment.id) is AppointmentState.REJECTED
    assert answers(admin, made) == ["26"]


def test_a_reject_code_outside_06_26_30_is_a_notice_and_changes_nothing(
    admin: Admin, client: httpx.Client
) -> None:
    made = pending(admin)
    assert made.appointment is not None
    csrf = csrf_of(client.get("/admin/foresporsler").text)
    client.post(
        f"/admin/foresporsler/{made.appointment.id}/avvis", data={"csrf": csrf, "code": "05"}
    )
    page = client.get("/admin/foresporsler")
    assert "Avvisningen gikk ikke" in page.text
    assert state_of(admin, made.appointment.id) is AppointmentState.REQUESTED
    assert answers(admin, made) == []


def test_confirming_twice_is_a_notice_not_a_stack_trace(admin: Admin, client: httpx.Client) -> None:
    made = pending(admin)
    assert made.appointment is not None
    csrf = csrf_of(client.get("/admin/foresporsler").text)
    path = f"/admin/foresporsler/{made.appointment.id}/bekreft"
    client.post(path, data={"csrf": csrf})
    again = client.post(path, data={"csrf": csrf}, follow_redirects=True)
    assert again.status_code == 200
    assert "Bekreftelsen gikk ikke" in again.text
    assert "Traceback" not in again.text
    assert answers(admin, made) == ["10"]


def test_answering_a_wish_through_the_form_assigns_the_slot(
    admin: Admin, client: httpx.Client
) -> None:
    sent = wish(
        admin.runtime,
        FOLKE,
        practitioner="benedikte",
        subject="Time neste uke",
        text="Helst etter kl. 14",
    )
    assert sent.wish is not None
    wish_id = sent.wish.id
    page = client.get("/admin/foresporsler")
    assert "Time neste uke" in page.text
    assert "Helst etter kl. 14" in page.text
    assert FOLKE.ident not in page.text
    slot = next(
        s.slot.id
        for s in admin.runtime.adapter.slot_statuses(
            datetime(2026, 12, 2, tzinfo=OSLO), datetime(2026, 12, 3, tzinfo=OSLO)
        )
        if s.slot.practitioner == "benedikte" and s.visibility == "bookable"
    )
    assert f'value="{slot}"' in page.text
    response = client.post(
        f"/admin/onsker/{wish_id}/svar",
        data={"csrf": csrf_of(page.text), "code": "05", "slot": slot, "note": "Passer det?"},
    )
    assert response.status_code == 303
    answered = admin.runtime.adapter.wish(wish_id)
    assert answered is not None
    assert answered.state is WishState.ANSWERED
    assert answered.assigned_appointment_id is not None
    assigned = admin.runtime.adapter.appointment(answered.assigned_appointment_id)
    assert assigned is not None
    assert assigned.slot_id == slot
    assert "Ønsket er besvart" in client.get("/admin/foresporsler").text


# -- the portal view ---------------------------------------------------------------------


def _day(admin: Admin, client: httpx.Client, practitioner: str, at: str, day: date) -> str:
    response = client.get(
        "/admin/timebok", params={"practitioner": practitioner, "at": at, "day": day.isoformat()}
    )
    assert response.status_code == 200, response.text
    return response.text


def test_the_day_list_shows_a_held_back_hastetime_with_its_release_time(
    admin: Admin, client: httpx.Client
) -> None:
    html = _day(admin, client, "benedikte", "2026-12-01T07:30", TUESDAY)
    senere = html[html.index('id="senere"') :]
    senere = senere[: senere.index("</ul>")]
    assert "Timer som kan bli tilgjengelig senere" in html
    assert "13:00 - 13:15 Hastetime" in senere
    assert "Tilgjengelig fra" in senere
    assert "tir. 1. des. kl. 08:00" in senere
    assert 'class="merke haster"' in senere
    after = _day(admin, client, "benedikte", "2026-12-01T08:05", TUESDAY)
    ledige = after[after.index('id="ledige"') :]
    assert "13:00 - 13:15 Hastetime" in ledige[: ledige.index("</ul>")]


@pytest.mark.parametrize(
    ("practitioner", "at", "day"),
    [
        ("benedikte", "2026-11-30T07:50", TUESDAY),
        ("benedikte", "2026-12-01T07:29", date(2026, 12, 3)),  # the 30 % share held back
        ("", "2026-11-30T07:50", TUESDAY),
        ("arna", "2026-11-30T07:50", date(2026, 11, 30)),  # must call
        ("ingar", "2026-11-30T07:50", TUESDAY),
    ],
)
def test_the_day_list_offers_exactly_what_slot_statuses_and_hlt_offer(
    admin: Admin, client: httpx.Client, practitioner: str, at: str, day: date
) -> None:
    pending(admin)  # ingar-1 is booked
    html = _day(admin, client, practitioner, at, day)
    shown = Page(html).slots
    instant = datetime.fromisoformat(at).replace(tzinfo=OSLO)
    start = datetime.combine(day, time.min, OSLO)
    statuses = admin.runtime.adapter.slot_statuses(start, start + timedelta(days=1), at=instant)
    ctx = admin.runtime.ctx
    if practitioner:
        keys = {practitioner} | {p.key for p in ctx.stand_ins_for(practitioner)}
    else:
        keys = {p.key for p in ctx.online_practitioners()}
    expected = {
        (s.slot.id, s.visibility)
        for s in statuses
        if s.slot.practitioner in keys
        and s.visibility in ("bookable", "held_back", "must_call", "booked")
    }
    assert expected, "the case shows something"
    assert sorted(shown) == sorted(expected)
    assert len(shown) == len(set(shown))


def test_the_portal_view_shows_the_booked_slot_and_the_must_call_text(
    admin: Admin, client: httpx.Client
) -> None:
    pending(admin)
    html = _day(admin, client, "ingar", "2026-11-30T07:50", TUESDAY)
    assert ("ingar-1", "booked") in Page(html).slots
    arna = _day(admin, client, "arna", "2026-11-30T07:50", date(2026, 11, 30))
    assert "Må bestilles på telefon" in arna


def test_the_month_grid_marks_days_with_bookable_slots(admin: Admin, client: httpx.Client) -> None:
    html = _day(admin, client, "benedikte", "2026-11-30T07:50", TUESDAY)
    assert "Desember 2026" in html
    assert re.search(r'class="dag ledig valgt" data-day="2026-12-01" aria-current="date"', html)
    assert re.search(r'class="dag tom" data-day="2026-12-25"', html)  # Christmas Day
    for short in ("Man", "Tir", "Ons", "Tor", "Fre", "Lør", "Søn"):
        assert f">{short}</abbr>" in html


def test_a_bad_instant_is_a_norwegian_notice(admin: Admin, client: httpx.Client) -> None:
    response = client.get("/admin/timebok", params={"at": "i morgen", "day": "1. des"})
    assert response.status_code == 200
    assert "Ugyldig tidspunkt" in response.text
    assert "Ugyldig dag" in response.text


# -- messages and operations -------------------------------------------------------------


def test_messages_show_the_delivery_state_and_apprec_error_codes(
    admin: Admin, client: httpx.Client
) -> None:
    made = pending(admin)
    assert made.appointment is not None
    csrf = csrf_of(client.get("/admin/foresporsler").text)
    client.post(f"/admin/foresporsler/{made.appointment.id}/bekreft", data={"csrf": csrf})
    [answer] = [
        m
        for m in admin.runtime.adapter.deliveries(made.appointment.id)
        if m.code.startswith("SvarTimeReservasjon")
    ]
    with admin.runtime.store.uow() as uow:
        uow.sent.record_apprec(
            admin.clinic, answer.msg_id, status="2", errors=["E35"], at=admin.runtime.clock()
        )
        uow.commit()
    html = client.get("/admin/meldinger").text
    row = html[html.index(f'data-msg-id="{answer.msg_id}"') :]
    row = row[: row.index("</tr>")]
    assert "SvarTimeReservasjon" in row
    assert "Avvist i AppRec" in row
    assert "E35" in row
    assert "Pasient ikke digitalt aktiv" in row


def test_operations_list_config_problems_and_dead_letters(
    admin: Admin, client: httpx.Client
) -> None:
    queue = f"{admin.runtime.ctx.clinic.her_id}_async"
    letter = TransportMessage(
        body=b"<x/>", message_id="dead-0001", subject="DIALOG_INNBYGGER_TIMERESERVASJON"
    )
    admin.transport.dead[queue].append(DeadLetter(letter, "released 10 times"))
    (admin.runtime.settings.config_dir / "rules.toml").write_text(
        "[[rules]]\nname = 1\n", encoding="utf-8"
    )
    html = client.get("/admin/drift").text
    assert "dead-0001" in html
    assert "released 10 times" in html
    assert "rules.toml" in html
    assert "Feil" in html
