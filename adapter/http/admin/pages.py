"""The admin page's routes: login and logout, the portal view, the decisions waiting
for the clinic, the last messages, and what ops should look at.

Every page is HTML; every POST needs a logged-in session and its CSRF token (a 403
page otherwise, and nothing changes). A GET without a session goes to the login form.
Errors of the use cases are shown as a Norwegian notice on the next page, never as a
stack trace. Patients appear with their number masked (birth date only), never named.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from importlib import resources
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, StrictUndefined

from adapter.config import AdapterConfig, ConfigError, ConfigIssue, load_config
from adapter.config.routing_check import check_all
from adapter.domain.calendar import local
from adapter.domain.codes import Svar
from adapter.domain.errors import DomainError
from adapter.domain.model import WISH_ANSWERS, Appointment, Wish, WishKind
from adapter.http.admin.portal import LATER_HEADING, MUST_CALL_TEXT, portal_view
from adapter.http.admin.sessions import COOKIE, Session, Sessions
from adapter.http.context import Api
from adapter.http.models import mask
from adapter.logs import get_logger
from adapter.preview import norwegian_instant
from adapter.service.admin_views import AdminViews, DeadLetters, SentLine, code_name, dead_letters
from adapter.store.records import DeliveryState

log = get_logger("adapter.http.admin")

router = APIRouter(prefix="/admin", include_in_schema=False)

FormText = Annotated[str, Form()]
QueryText = Annotated[str, Query()]

#: Headers on every admin page: not cached, not framed, no scripts, no referrer.
SECURITY_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}

#: The codes a clinic may reject a reservation with (HITS 1217 §3.4.3.2).
REJECT_CODES: Final = (Svar.TIME_IKKE_TILGJENGELIG, Svar.AVVIST, Svar.IKKE_TILGANG)

#: Answers to a wish that assign a slot.
NEEDS_SLOT: Final = frozenset(
    {Svar.TIMERESERVASJON_BEKREFTET, Svar.HOS_ANNEN_BEHANDLER_BEKREFTET, Svar.ENDRING_BEKREFTET}
)

WISH_KINDS: Final = {
    WishKind.NEW: "Ønske om time",
    WishKind.CHANGE: "Ønske om endring av time",
    WishKind.CANCEL: "Ønske om avbestilling av time",
}

DELIVERY: Final = {
    DeliveryState.NEW: "Venter på sending",
    DeliveryState.SENT: "Sendt, venter på AppRec",
    DeliveryState.APPREC_OK: "AppRec OK",
    DeliveryState.APPREC_REJECTED: "Avvist i AppRec",
    DeliveryState.NO_APPREC: "Ingen AppRec",
}

#: How far ahead a wish's answer may pick a slot.
WISH_SLOTS_AHEAD: Final = timedelta(weeks=6)

LOGIN_REFUSED: Final = (
    "Innloggingen ble avvist: tokenet er ukjent, eller det er ikke et admin-token for "
    "denne klinikken."
)
FORM_EXPIRED: Final = "Skjemaet var utløpt. Prøv igjen."


class AdminState:
    """What the admin page keeps for one app: the API, the sessions, the templates and
    the clinic's configuration (read once, on first use, for names and templates)."""

    def __init__(self, api: Api, sessions: Sessions | None = None) -> None:
        self.api = api
        self.sessions = sessions or Sessions()
        env = Environment(
            loader=PackageLoader("adapter.http.admin", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters["tid"] = norwegian_instant
        self.templates = Jinja2Templates(env=env)
        static = resources.files("adapter.http.admin").joinpath("static", "admin.css")
        self.css = static.read_text(encoding="utf-8")
        self.views = AdminViews(api.runtime.store, api.clinic)
        self._config: AdapterConfig | None = None
        self._lock = threading.Lock()

    def config(self) -> AdapterConfig:
        """The clinic's configuration (``adapter.toml``'s directory), read once.

        Raises:
            ConfigError: the configuration has errors.
        """
        with self._lock:
            if self._config is None:
                self._config = load_config(self.api.runtime.settings.config_dir)
            return self._config


def state_of(request: Request) -> AdminState:
    """The :class:`AdminState` that :func:`adapter.http.admin.mount` put on the app."""
    found = request.app.state.admin
    assert isinstance(found, AdminState)
    return found


def session_of(request: Request) -> Session | None:
    """The request's live session (logged in or not), from its cookie."""
    return state_of(request).sessions.get(request.cookies.get(COOKIE))


def set_cookie(request: Request, response: Response, session: Session) -> None:
    """Send ``session``'s cookie: HttpOnly, SameSite=Strict, Path=/admin, Secure over
    https; no expiry (it ends with the browser, or idle on the server)."""
    response.set_cookie(
        COOKIE,
        session.id,
        httponly=True,
        samesite="strict",
        path="/admin",
        secure=request.url.scheme == "https",
    )


def redirect(path: str) -> Response:
    """303 See Other to ``path`` (after a POST, or to the login form)."""
    return RedirectResponse(path, status_code=303, headers=SECURITY_HEADERS)


def page(
    request: Request,
    name: str,
    session: Session | None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    """Render template ``name`` with what every page shows (the clinic, the menu, the
    session's CSRF token and notices)."""
    admin = state_of(request)
    api = admin.api
    pending = 0
    if session is not None and session.logged_in:
        pending = len(api.read(api.adapter.pending_reservations)) + len(
            api.read(api.adapter.open_wishes)
        )
    context.setdefault("active", "")
    context.setdefault("error", "")
    return admin.templates.TemplateResponse(
        request,
        name,
        {
            "clinic_name": api.adapter.clinic.name,
            "session": session,
            "csrf": session.csrf if session is not None else "",
            "notices": session.take_notices() if session is not None else [],
            "pending_count": pending,
            **context,
        },
        status_code=status,
        headers={**SECURITY_HEADERS, **(headers or {})},
    )


def forbidden(request: Request, session: Session | None) -> Response:
    """The 403 page of a POST without a session or with a wrong CSRF token."""
    return page(
        request,
        "error.html",
        session,
        status=403,
        title="Ikke tillatt",
        message=(
            "Skjemaet manglet et gyldig sikkerhetstoken, eller økten er utløpt. "
            "Ingenting er endret. Gå tilbake, last siden på nytt og prøv igjen."
        ),
    )


def guard(request: Request, csrf: str) -> Session | Response:
    """The logged-in session of a POST whose CSRF token is right, else the 403 page."""
    session = session_of(request)
    if session is None or not session.logged_in or not session.csrf_ok(csrf):
        log.warning("admin.csrf_refused", path=request.url.path, session=session is not None)
        return forbidden(request, session if session and session.logged_in else None)
    return session


def logged_in(request: Request) -> Session | None:
    """The request's logged-in session, None when it has none."""
    session = session_of(request)
    return session if session is not None and session.logged_in else None


# -- login ------------------------------------------------------------------------------


@router.get("")
@router.get("/")
def home(request: Request) -> Response:
    """The portal view when logged in, else the login form."""
    return redirect("/admin/timebok" if logged_in(request) else "/admin/login")


@router.get("/static/admin.css")
def stylesheet(request: Request) -> Response:
    """The admin page's one stylesheet."""
    return Response(
        state_of(request).css,
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


def _login_form(
    request: Request, session: Session | None, *, error: str = "", status: int = 200
) -> Response:
    """The login form in ``session``, or in a new anonymous session (and its cookie)."""
    fresh = session is None or session.logged_in
    if session is None or session.logged_in:
        session = state_of(request).sessions.anonymous()
    headers = {"WWW-Authenticate": 'Bearer realm="epj-adapter admin"'} if status == 401 else None
    response = page(
        request,
        "login.html",
        session,
        status=status,
        headers=headers,
        title="Logg inn",
        error=error,
    )
    if fresh:
        set_cookie(request, response, session)
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    """The login form (with a new anonymous session for its CSRF token)."""
    if logged_in(request):
        return redirect("/admin/timebok")
    return _login_form(request, session_of(request))


@router.post("/login")
def login(request: Request, token: FormText = "", csrf: FormText = "") -> Response:
    """Log in with an ``admin`` token of this clinic: a new session, then the portal."""
    admin = state_of(request)
    session = session_of(request)
    if session is None or session.logged_in or not session.csrf_ok(csrf):
        log.warning("admin.login_form_expired")
        if session is not None and not session.logged_in:
            admin.sessions.end(session)
        return _login_form(request, None, error=FORM_EXPIRED, status=403)
    found = admin.api.tokens.find(token.strip()) if token.strip() else None
    if found is None or found.role != "admin" or admin.api.clinic not in found.clinics:
        log.warning("admin.login_refused", known=found is not None)
        return _login_form(request, session, error=LOGIN_REFUSED, status=401)
    fresh = admin.sessions.login(session, found)
    log.info("admin.login", token=found.name)
    response = redirect("/admin/timebok")
    set_cookie(request, response, fresh)
    return response


@router.post("/logout")
def logout(request: Request, csrf: FormText = "") -> Response:
    """End the session and forget its cookie."""
    session = guard(request, csrf)
    if isinstance(session, Response):
        return session
    state_of(request).sessions.end(session)
    log.info("admin.logout", token=session.login)
    response = redirect("/admin/login")
    response.delete_cookie(COOKIE, path="/admin", httponly=True, samesite="strict")
    return response


# -- the portal view ----------------------------------------------------------------------


def _parse_at(text: str) -> datetime | None:
    try:
        return local(datetime.fromisoformat(text.strip()))
    except ValueError:
        return None


def _parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def _parse_month(text: str) -> tuple[int, int] | None:
    try:
        parsed = datetime.strptime(text.strip(), "%Y-%m")
    except ValueError:
        return None
    return parsed.year, parsed.month


@dataclass(frozen=True, slots=True)
class Choice:
    """A practitioner the portal view can be shown for."""

    key: str
    name: str
    role: str


@router.get("/timebok")
def portal(
    request: Request,
    practitioner: QueryText = "",
    at: QueryText = "",
    day: QueryText = "",
    month: QueryText = "",
) -> Response:
    """The month grid and the day list as helsenorge.no shows them at ``at`` (Europe/
    Oslo wall time, default now) for ``practitioner`` (default: everyone online)."""
    session = logged_in(request)
    if session is None:
        return redirect("/admin/login")
    admin = state_of(request)
    ctx = admin.api.runtime.ctx
    problems: list[str] = []
    instant = _parse_at(at) if at.strip() else None
    if at.strip() and instant is None:
        problems.append(f"Ugyldig tidspunkt «{at}»: skriv f.eks. 2026-11-30T07:50.")
    instant = instant or admin.api.runtime.clock()
    chosen_day = _parse_day(day) if day.strip() else None
    if day.strip() and chosen_day is None:
        problems.append(f"Ugyldig dag «{day}»: skriv f.eks. 2026-12-01.")
    chosen_month = _parse_month(month) if month.strip() and chosen_day is None else None
    who = practitioner.strip() or None
    if who is not None and who not in ctx.practitioners:
        problems.append(f"Ukjent behandler «{who}».")
        who = None
    choices = [
        Choice(p.key, p.display_name, _role(p.role.value)) for p in ctx.online_practitioners()
    ]
    try:
        config = admin.config()
    except ConfigError:
        return page(
            request,
            "error.html",
            session,
            status=503,
            active="timebok",
            title="Timebok",
            message="Konfigurasjonen har feil, så timeboken kan ikke vises. Se Drift.",
        )
    view = portal_view(
        admin.api, config, instant, practitioner=who, day=chosen_day, month=chosen_month
    )
    return page(
        request,
        "portal.html",
        session,
        active="timebok",
        title="Timebok",
        view=view,
        choices=choices,
        practitioner=who or "",
        practitioner_name=view.preview.practitioner_name or "",
        problems=problems,
        later_heading=LATER_HEADING,
        must_call_text=MUST_CALL_TEXT,
        phone=view.preview.phone,
    )


_ROLES: Final = {"6": "fastlege", "15": "vikar for fastlege", "14": "ansvarlig jordmor"}


def _role(code: str) -> str:
    return _ROLES.get(code, "behandler")


# -- reservations and wishes ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReservationRow:
    """A pending reservation as the page lists it (the patient masked)."""

    id: str
    when: str
    practitioner: str
    type_name: str
    patient: str
    subject: str
    text: str
    created: str
    deadline: str
    on_behalf: bool


@dataclass(frozen=True, slots=True)
class WishRow:
    """An open wish with the answers it may get and the slots an answer may assign."""

    id: str
    kind: str
    practitioner: str
    patient: str
    subject: str
    text: str
    created: str
    about: str
    answers: tuple[tuple[str, str], ...]
    slots: tuple[tuple[str, str], ...]


def _names(api: Api) -> tuple[dict[str, str], dict[str, str]]:
    ctx = api.runtime.ctx
    people = {k: p.display_name for k, p in ctx.practitioners.items()}
    kinds = {k: t.name for k, t in ctx.appointment_types.items()}
    return people, kinds


def _reservation_row(
    a: Appointment, people: dict[str, str], kinds: dict[str, str]
) -> ReservationRow:
    return ReservationRow(
        id=a.id,
        when=norwegian_instant(a.start),
        practitioner=people.get(a.practitioner, a.practitioner),
        type_name=kinds.get(a.appointment_type, a.appointment_type),
        patient=mask(a.patient.ident),
        subject=a.text.subject,
        text=a.text.text,
        created=norwegian_instant(a.created_at),
        deadline=norwegian_instant(a.decision_deadline) if a.decision_deadline else "",
        on_behalf=a.requester.is_representative,
    )


def _wish_rows(api: Api, wishes: list[Wish]) -> list[WishRow]:
    if not wishes:
        return []
    people, kinds = _names(api)
    ctx = api.runtime.ctx
    now = api.runtime.clock()
    statuses = api.read(lambda: api.adapter.slot_statuses(now, now + WISH_SLOTS_AHEAD, at=now))
    free = [s for s in statuses if s.visibility in ("bookable", "held_back", "must_call", "hidden")]
    rows = []
    for wish in wishes:
        keys = {wish.practitioner} | {p.key for p in ctx.stand_ins_for(wish.practitioner)}
        slots = tuple(
            (
                s.slot.id,
                f"{norwegian_instant(s.slot.start)} {kinds.get(s.slot.appointment_type, '')}"
                f" ({people.get(s.slot.practitioner, s.slot.practitioner)})",
            )
            for s in free
            if s.slot.practitioner in keys
        )[:200]
        about = ""
        if wish.appointment_id:
            found = api.read(partial(api.adapter.appointment, wish.appointment_id))
            about = norwegian_instant(found.start) if found is not None else wish.appointment_id
        rows.append(
            WishRow(
                id=wish.id,
                kind=WISH_KINDS.get(wish.kind, wish.kind.value),
                practitioner=people.get(wish.practitioner, wish.practitioner),
                patient=mask(wish.patient.ident),
                subject=wish.text.subject,
                text=wish.text.text,
                created=norwegian_instant(wish.created_at),
                about=about,
                answers=tuple(
                    (c.value, f"{c.value} {code_name(c.value)}")
                    for c in sorted(WISH_ANSWERS[wish.kind], key=lambda c: c.value)
                ),
                slots=slots,
            )
        )
    return rows


def _messages(lines: list[SentLine]) -> list[dict[str, Any]]:
    return [
        {
            "created": norwegian_instant(line.message.created_at),
            "name": line.name,
            "code": line.code,
            "code_name": line.code_name,
            "to": line.message.to_her_id,
            "appointment": line.message.appointment_id or line.message.wish_id or "",
            "state": line.state.value,
            "state_name": DELIVERY.get(line.state, line.state.value),
            "errors": line.errors,
            "msg_id": line.message.msg_id,
        }
        for line in lines
    ]


@router.get("/foresporsler")
def requests(request: Request) -> Response:
    """Pending reservations and open wishes, with their decision forms, and the last
    few messages sent."""
    session = logged_in(request)
    if session is None:
        return redirect("/admin/login")
    admin = state_of(request)
    api = admin.api
    people, kinds = _names(api)
    reservations = [
        _reservation_row(a, people, kinds) for a in api.read(api.adapter.pending_reservations)
    ]
    wishes = _wish_rows(api, api.read(api.adapter.open_wishes))
    return page(
        request,
        "requests.html",
        session,
        active="foresporsler",
        title="Forespørsler",
        reservations=reservations,
        wishes=wishes,
        reject_codes=[(c.value, f"{c.value} {code_name(c.value)}") for c in REJECT_CODES],
        messages=_messages(api.read(lambda: admin.views.recent_messages(5))),
    )


class InvalidChoice(DomainError):
    """A form sent a value none of its choices has."""


def _decide(
    request: Request, csrf: str, what: str, done: str, run: Callable[[str], None]
) -> Response:
    """Run ``run(actor)`` for a guarded POST; its outcome is a notice on the next page."""
    session = guard(request, csrf)
    if isinstance(session, Response):
        return session
    api = state_of(request).api
    try:
        api.call(lambda: run(session.actor))
    except DomainError as exc:
        session.notify("error", f"{what} gikk ikke: {exc}")
    else:
        session.notify("ok", done)
    return redirect("/admin/foresporsler")


def _note(text: str) -> str:
    return text.replace("\r\n", "\n").strip()


@router.post("/foresporsler/{appointment_id}/bekreft")
def confirm(
    request: Request, appointment_id: str, csrf: FormText = "", note: FormText = ""
) -> Response:
    """Confirm a pending reservation (SvarTimeReservasjon 05, 10 with a vikar)."""
    api = state_of(request).api
    return _decide(
        request,
        csrf,
        "Bekreftelsen",
        "Reservasjonen er bekreftet, og SvarTimeReservasjon er sendt til pasienten.",
        lambda actor: api.adapter.confirm(appointment_id, note=_note(note), actor=actor),
    )


@router.post("/foresporsler/{appointment_id}/avvis")
def reject(
    request: Request,
    appointment_id: str,
    csrf: FormText = "",
    code: FormText = "06",
    note: FormText = "",
) -> Response:
    """Reject a pending reservation with 06, 26 or 30."""
    api = state_of(request).api

    def run(actor: str) -> None:
        if code not in {c.value for c in REJECT_CODES}:
            raise InvalidChoice(f"ukjent kode {code}; velg 06, 26 eller 30")
        api.adapter.reject(appointment_id, Svar(code), note=_note(note), actor=actor)

    return _decide(
        request,
        csrf,
        "Avvisningen",
        f"Reservasjonen er avvist med {code}, og SvarTimeReservasjon er sendt til pasienten.",
        run,
    )


@router.post("/onsker/{wish_id}/svar")
def answer(
    request: Request,
    wish_id: str,
    csrf: FormText = "",
    code: FormText = "",
    slot: FormText = "",
    note: FormText = "",
) -> Response:
    """Answer an open wish (SvarØnske), assigning ``slot`` where the answer needs one."""
    api = state_of(request).api

    def run(actor: str) -> None:
        try:
            svar = Svar(code)
        except ValueError:
            raise InvalidChoice(f"ukjent kode {code}") from None
        chosen = slot.strip() or None
        if svar not in NEEDS_SLOT:
            chosen = None
        api.adapter.answer_wish(wish_id, svar, slot_id=chosen, note=_note(note), actor=actor)

    return _decide(request, csrf, "Svaret", "Ønsket er besvart, og svaret er sendt.", run)


# -- messages and operations ---------------------------------------------------------------


@router.get("/meldinger")
def messages(request: Request) -> Response:
    """The last 50 messages sent and their delivery state."""
    session = logged_in(request)
    if session is None:
        return redirect("/admin/login")
    admin = state_of(request)
    lines = admin.api.read(lambda: admin.views.recent_messages(50))
    return page(
        request,
        "messages.html",
        session,
        active="meldinger",
        title="Meldinger",
        messages=_messages(lines),
    )


def config_problems(admin: AdminState) -> list[ConfigIssue]:
    """What ``epj-adapter check-config`` reports for the configuration directory:
    the files' issues, then (when they have no errors) the routing file's."""
    return check_all(admin.api.runtime.settings.config_dir, admin.api.runtime.clock())


@router.get("/drift")
def operations(request: Request) -> Response:
    """Configuration problems (as check-config reports them) and dead letters."""
    session = logged_in(request)
    if session is None:
        return redirect("/admin/login")
    admin = state_of(request)
    runtime = admin.api.runtime
    issues = config_problems(admin)
    letters: DeadLetters = dead_letters(runtime.transport, runtime.listen_queues())
    return page(
        request,
        "operations.html",
        session,
        active="drift",
        title="Drift",
        issues=issues,
        errors=sum(i.is_error for i in issues),
        letters=letters,
        queues=runtime.listen_queues(),
        config_dir=str(runtime.settings.config_dir),
    )
