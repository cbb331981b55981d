"""Every page, for every role, at desktop and phone widths: screenshot, then axe-core.

A gateway as `make demo` runs it (phone, mailbox and call simulators on) with a
little of everything in it, made through the project's own writers: a supporter
who joined by text, a French question waiting for the education expert, a
citizen's e-mail, a broadcast, a saved segment, a knowledge document, a confirmed e-mail
subscriber, a newsletter, a letter in the demo mailbox and a person-link token.
Each role logs in through the login form and opens every page the page tables
and gateway/web/access.py let it open (tests/support/page_walk.py), first at
1280x800 and then at 375x812 in the same browser context; each page is saved as a
full-page screenshot and checked with axe-core (tests/support/a11y.py). The test
fails on any "serious" or "critical" violation, on a page that answers an error,
on a Content-Security-Policy refusal in the console, and on a page that needs an
id that no walked page links to; all of them listed at once, readably.

Screenshots: GATEWAY_A11Y_SCREENSHOTS names a directory to keep them in; without
it they go to this test's pytest output directory (tmp_path/screenshots); the
test prints where. Skipped, saying why, without Chromium or without axe-core
(scripts/test-deps installs it with npm).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from gateway.app import Gateway
from gateway.broadcast import newsletters
from gateway.config import Settings
from gateway.mail import demo_mailbox
from gateway.services import persons
from gateway.smpp.simulator import SmscSimulator
from gateway.store import contact_imports, webhook_subscriptions
from gateway.store import segments as segment_store
from gateway.store import users as user_store
from gateway.web.credentials import hash_password
from gateway.web.write_form import WRITE_PATH
from tests.support import a11y, knowledge_files, page_walk
from tests.support import broadcasts as broadcast_data
from tests.support.browser import EXECUTABLE, LAUNCH_FLAGS, WAIT_MS, needs_chromium
from tests.support.e2e import gateway_settings, running_gateway, stop_gateway
from tests.support.email_consent import RULES, confirmed_subscriber, mailing_settings, path_of
from tests.support.persons import citizen_mail, store_mail, token_in
from tests.support.questions import EDU, EDU_TEXT, Supporter, asked
from tests.support.voice import voice_settings
from tests.support.write_site import form_settings

pytestmark = [needs_chromium, pytest.mark.skipif(a11y.why_no_axe() is not None,
                                                 reason=a11y.why_no_axe() or "")]

PASSWORD = "a long enough passphrase"
WIDTHS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 375, "height": 812}}
THEMES = {"expert": ("education",)}  # the expert answers the seeded question's theme
SUPPORTER = "+12125550101"
CITIZEN = "ana@example.org"
SUBSCRIBER = "sam@example.org"
MAIL_CITIZEN = "renee@example.org"
# searches a person makes to find what the default lists do not show (e-mail contacts)
SEARCHES = {"search-emails": "/contacts?q=example.org"}
MISSING = "/broadcasts/999999"  # the error page, as a 404 shows it
# finance staff reach a donor's gifts by the Donations page's number form (a form, not a
# link: tests/test_contact_page_roles.py follows it); the walk opens where it leads
DONOR_PAGE = (f"/contacts/{SUPPORTER}/donations",)


# how wide the page is when it is wider than the screen, and the outermost elements that
# reach past the right edge (those inside a table's scroll box first ruled out, as the
# box clips them, unless nothing else is left to blame)
WIDER_THAN_SCREEN = """() => {
  const edge = document.documentElement.clientWidth + 1;
  const width = document.documentElement.scrollWidth;
  if (width <= edge) return [];
  const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
    + [...e.classList].map((c) => "." + c).join("");
  const past = [...document.body.querySelectorAll("*")].filter((e) =>
    e.getBoundingClientRect().right > edge
    && !(e.parentElement.getBoundingClientRect().right > edge));
  const blamed = past.filter((e) => !e.closest(".table-scroll > *"));
  return [`${width} px`, ...(blamed.length ? blamed : past).slice(0, 5).map(
    (e) => name(e) + " in " + name(e.parentElement))];
}"""


@dataclass
class Walked:
    """What a walk found wrong, and how many pages it looked at."""

    problems: list[str] = field(default_factory=list)
    pages: int = 0
    milder: Counter[str] = field(default_factory=Counter)  # "moderate"/"minor", by rule


@pytest.fixture
async def demo(settings: Settings, phone_smsc: SmscSimulator,
               tmp_path: Path) -> AsyncIterator[Gateway]:
    assert phone_smsc.phone is not None
    wanted = voice_settings(form_settings(mailing_settings(settings)), voice_simulator=True)
    gw = await running_gateway(gateway_settings(
        wanted, phone_smsc, web_phone_simulator=phone_smsc.phone.port,
        mail_demo_mailbox=tmp_path / "mailbox"), phone_smsc)
    try:
        yield gw
    finally:
        await stop_gateway(gw)


@dataclass(frozen=True)
class Outside:
    """What a citizen opens from a mail: pages outside the page tables, and a link."""

    citizen_pages: dict[str, str]
    link: str  # the person-link page (a page-table page, public, reached by its token)


async def seed(gw: Gateway) -> Outside:
    """A row behind every page that needs an id, and the paths a citizen is sent."""
    now = datetime.now(UTC)
    pool, settings = gw.pool, gw.settings
    await Supporter(pool, SUPPORTER, "12345").text("JOIN", now)
    await asked(pool, EDU, EDU_TEXT, now)
    await knowledge_files.add(pool, "rally.txt", "Rally on Saturday at noon in the park.",
                              program="rise", title="Rally day")
    async with pool.acquire() as conn:
        for role in ("admin", "organizer", "finance", "expert"):
            await user_store.insert_user(conn, email=f"{role}@example.org", role=role,
                                         themes=THEMES.get(role, ()),
                                         password_hash=hash_password(PASSWORD))
        await store_mail(conn, citizen_mail(CITIZEN, "The bus line", "Will it come back?"),
                         envelope_from=CITIZEN)
        await broadcast_data.create(conn, text="Rally Saturday at noon. Reply STOP to opt out.")
        await segment_store.insert(conn, name="Volunteers", program="rise",
                                   filter="tag = volunteer", by="organizer@example.org")
        await contact_imports.create(
            conn, created_by="organizer@example.org", filename="volunteers.csv",
            file_format="csv", content=b"phone,first_name\r\n+12125550190,Ana\r\n",
            headers=["phone", "first_name"], total_rows=1, program="rise", country="US",
            mapping=None, now=now)
        await webhook_subscriptions.insert(
            conn, url="https://crm.example.org/hooks", description="The CRM",
            event_types=("contact.opted_out",), secret="whsec_" + "a" * 40, created_by=None)
        unsubscribe = await confirmed_subscriber(conn, settings, SUBSCRIBER, now)
        await newsletters.create(conn, RULES, program="rise", subject="The rally",
                                 text="Join us Saturday at noon.",
                                 created_by="organizer@example.org", now=now)
        sent = await persons.request_link(
            conn, settings, known=SUPPORTER, claimed=CITIZEN, requested_by="organizer",
            evidence={"inbound_id": 1}, language="en", program="Rise Up Alerts",
            shortcode="12345", now=now)
        body = await conn.fetchval("SELECT text_body FROM mail_outbox WHERE id = $1",
                                   sent.mail_id)
    assert settings.mail_demo_mailbox is not None
    letter = demo_mailbox.citizen_mail(citizen=MAIL_CITIZEN, to="contact@campaign.example",
                                       subject="Hello", text="When is the next rally?")
    demo_mailbox.deliver(settings.mail_demo_mailbox, MAIL_CITIZEN, letter.as_bytes(),
                         envelope_from="contact@campaign.example")
    return Outside({"citizen-write": WRITE_PATH, "citizen-unsubscribe": path_of(unsubscribe)},
                   f"/link/{token_in(body)}")


def screenshot_dir(tmp_path: Path) -> Path:
    named = os.environ.get("GATEWAY_A11Y_SCREENSHOTS")
    where = Path(named) if named else tmp_path / "screenshots"
    where.mkdir(parents=True, exist_ok=True)
    print(f"\naccessibility screenshots: {where}")
    return where


class Walker:
    """One role's browser context: opens pages, collects links, screenshots and checks."""

    def __init__(self, page: Page, base: str, who: str, shots: Path, walked: Walked) -> None:
        self.page, self.base, self.who, self.shots, self.walked = page, base, who, shots, walked
        self.width = "desktop"
        self.links: list[str] = []
        self.refused: list[str] = []
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.refused.append(message.text)

    async def visit(self, path: str, name: str, *, status: int = 200) -> None:
        where = f"{self.who} at {self.width} width, {name} ({path})"
        self.refused.clear()
        response = await self.page.goto(self.base + path, wait_until="load")
        self.walked.pages += 1
        got = response.status if response else 0
        if got != status:
            self.walked.problems.append(f"{where}: HTTP {got}, expected {status}")
        await self.page.screenshot(path=self.shots / f"{self.who}-{self.width}-{name}.png",
                                   full_page=True)
        for refusal in self.refused:
            self.walked.problems.append(f"{where}: the page's CSP refused: {refusal}")
        if self.width == "phone":
            wide: list[str] = await self.page.evaluate(WIDER_THAN_SCREEN)
            if wide:
                self.walked.problems.append(
                    f"{where}: wider than the screen, so the page scrolls sideways: "
                    + ", ".join(wide))
        axe_found = await a11y.violations(self.page)
        for violation in a11y.failing(axe_found):
            self.walked.problems.append(f"{where}:\n    {violation.line()}")
        self.walked.milder.update(f"{v.rule} ({v.impact})" for v in axe_found
                                  if v.impact not in a11y.FAILING)
        hrefs: list[str] = await self.page.eval_on_selector_all(
            "a[href]", "links => links.filter(a => a.origin === location.origin)"
                       ".map(a => a.pathname + a.search)")
        self.links.extend(link for link in hrefs if link not in self.links)

    async def walk(self, role: str | None, *, starts: Mapping[str, str],
                   known: tuple[str, ...] = ()) -> None:
        """`starts`: more pages to open (by a name for their screenshot), for themselves and
        their links; `known`: links from outside, as in a mail."""
        self.links.extend(known)
        pages = page_walk.pages_for(role)
        for page in pages:
            if not page_walk.needs_link(page):
                await self.visit(page.path, page.name)
        for name, path in starts.items():
            await self.visit(path, name)
        for page in pages:
            if page_walk.needs_link(page):
                link = page_walk.first_link(page, self.links)
                if link is None:
                    self.walked.problems.append(
                        f"{self.who}: no walked page links to {page.name} ({page.path}); "
                        "seed a row for it in tests/test_pages_a11y.py")
                else:
                    await self.visit(link, page.name)


async def log_in(page: Page, base: str, role: str) -> None:
    await page.goto(base + "/login")
    await page.get_by_label("E-mail").fill(f"{role}@example.org")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(lambda url: "/login" not in url)


async def walk_as(browser: Browser, base: str, who: str, shots: Path, walked: Walked, *,
                  role: str | None, starts: Mapping[str, str],
                  known: tuple[str, ...] = ()) -> None:
    context = await browser.new_context(viewport=WIDTHS["desktop"])  # type: ignore[arg-type]
    try:
        await a11y.add_axe(context)
        page = await context.new_page()
        page.set_default_timeout(WAIT_MS)
        walker = Walker(page, base, who, shots, walked)
        if role is not None:
            await log_in(page, base, role)
        for width, size in WIDTHS.items():
            walker.width = width
            await page.set_viewport_size(size)  # type: ignore[arg-type]
            await walker.walk(role, starts=starts, known=known)
            if role == "admin":
                await walker.visit(MISSING, "error-404", status=404)
    finally:
        await context.close()


async def test_every_page_of_every_role_passes_axe_at_desktop_and_phone_widths(
    demo: Gateway, tmp_path: Path,
) -> None:
    outside = await seed(demo)
    base = f"http://127.0.0.1:{demo.http_port}"
    shots = screenshot_dir(tmp_path)
    walked = Walked()
    began = time.monotonic()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=EXECUTABLE, headless=True,
                                                   args=LAUNCH_FLAGS)
        try:
            await walk_as(browser, base, "public", shots, walked, role=None,
                          starts=outside.citizen_pages, known=(outside.link,))
            for role in ("admin", "organizer", "finance", "expert"):
                await walk_as(browser, base, role, shots, walked, role=role, starts=SEARCHES
                              if role in ("admin", "organizer") else {},
                              known=DONOR_PAGE if role == "finance" else ())
        finally:
            await browser.close()
    print(f"walked {walked.pages} pages in {time.monotonic() - began:.1f} s")
    if walked.milder:
        print("milder axe findings (not failing), pages each:",
              ", ".join(f"{rule} x{count}" for rule, count in walked.milder.most_common()))
    assert walked.pages > 40, walked.pages
    assert not walked.problems, (
        f"{len(walked.problems)} accessibility problems (screenshots in {shots}):\n"
        + "\n".join(walked.problems))
