"""The admin page in headless Chromium: log in, pick a practitioner and a day, see a
held-back slot with its release time, confirm a pending reservation by keyboard, see
the SvarTimeReservasjon sent; readable at 360 px; screenshots as test artifacts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from adapter.domain.model import AppointmentState
from adapter.messages.read_replies import read_reply
from adapter.testing import reserve
from tests.browser.conftest import ADMIN_TOKEN, ROOT, Served
from tests.http.conftest import FOLKE

pytestmark = pytest.mark.browser

HN_ASYNC = "8093248_async"
Shoot = Callable[[Page, str], Path]


def log_in_by_keyboard(page: Page, url: str) -> None:
    """Log in using the keyboard alone: the token field has focus, Enter submits."""
    page.goto(f"{url}/admin/login")
    expect(page.get_by_label("Admin-token")).to_be_focused()
    page.keyboard.type(ADMIN_TOKEN)
    page.keyboard.press("Enter")
    page.wait_for_url("**/admin/timebok**")


def tab_to(page: Page, selector: str, limit: int = 40) -> None:
    """Press Tab until the element ``selector`` has focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_an_admin_confirms_a_reservation_seen_on_the_portal_view(
    browser: Browser, served: Served, shots: Shoot
) -> None:
    made = reserve(served.runtime, "ingar-1", FOLKE, subject="Vondt i halsen")
    assert made.appointment is not None
    page = browser.new_page(viewport={"width": 1000, "height": 900}, locale="nb-NO")
    log_in_by_keyboard(page, served.url)

    # Pick a practitioner, an instant and a day in the GET form.
    page.get_by_label("Behandler", exact=True).select_option("benedikte")
    page.get_by_label("Tidspunkt", exact=True).fill("2026-12-01T07:30")
    page.get_by_label("Dag", exact=True).fill("2026-12-01")
    page.get_by_role("button", name="Vis timeboken").click()
    page.wait_for_url("**practitioner=benedikte**")
    expect(
        page.get_by_role("heading", name="Timer som kan bli tilgjengelig senere")
    ).to_be_visible()
    later = page.locator("#senere li", has_text="13:00 - 13:15 Hastetime")
    expect(later).to_contain_text("Tilgjengelig fra tir. 1. des. kl. 08:00")
    expect(later.locator(".merke.haster")).to_have_text("Hastetime")
    expect(page.locator('#opptatt li[data-slot="ingar-1"]')).to_contain_text("Opptatt")
    expect(page.locator("a.dag.valgt")).to_have_attribute("aria-current", "date")
    shots(page, "portal")
    page.screenshot(path=str(ROOT / "docs" / "admin.png"), full_page=True)

    # To the pending reservations, then confirm by keyboard alone.
    page.get_by_role("link", name="Forespørsler").click()
    expect(page.get_by_role("heading", name="Reservasjoner som venter på svar (1)")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text(FOLKE.ident)
    tab_to(page, f"textarea[id='bekreft-{made.appointment.id}']")
    page.keyboard.type("Velkommen til Ingar")
    page.keyboard.press("Tab")
    confirm = page.get_by_role("button", name="Bekreft reservasjonen")
    expect(confirm).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused button shows its focus"
    shots(page, "before-confirm")
    page.keyboard.press("Enter")
    page.wait_for_load_state()

    expect(page.get_by_role("status")).to_contain_text("Reservasjonen er bekreftet")
    expect(page.get_by_text("Ingen reservasjoner venter på svar.")).to_be_visible()
    last = page.locator("table.meldinger tbody tr").first
    expect(last).to_contain_text("SvarTimeReservasjon")
    expect(last.locator(".kode")).to_have_text("10")
    shots(page, "after-confirm")
    found = served.runtime.adapter.appointment(made.appointment.id)
    assert found is not None
    assert found.state is AppointmentState.CONFIRMED
    replies = [read_reply(m.body) for m in served.transport.sent[HN_ASYNC]]
    assert [r.code for r in replies if r.ref_to_parent == made.msg_id and r.kind == "msghead"] == [
        "10"
    ]
    page.close()


def test_the_skip_link_is_the_first_tab_stop_and_leads_to_the_content(
    browser: Browser, served: Served
) -> None:
    page = browser.new_page()
    log_in_by_keyboard(page, served.url)
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Hopp til innholdet")).to_be_focused()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "innhold"
    page.close()


@pytest.mark.parametrize("path", ["timebok", "foresporsler", "meldinger", "drift"])
def test_every_page_is_readable_at_360_px_without_horizontal_scrolling(
    browser: Browser, served: Served, shots: Shoot, path: str
) -> None:
    made = reserve(served.runtime, "ingar-1", FOLKE, subject="Vondt i halsen")
    assert made.appointment is not None
    if path == "meldinger":  # a message to list
        served.runtime.adapter.confirm(made.appointment.id)
    page = browser.new_page(viewport={"width": 360, "height": 740}, locale="nb-NO")
    log_in_by_keyboard(page, served.url)
    query = "?practitioner=benedikte&at=2026-12-01T07%3A30&day=2026-12-01"
    page.goto(f"{served.url}/admin/{path}" + (query if path == "timebok" else ""))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"/admin/{path} is {width} px wide at a 360 px viewport"
    shots(page, "360px")
    page.close()
