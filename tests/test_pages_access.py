"""Every page for every role, and nobody logged in, against `access.ACCESS` (the one matrix).

The expectations come from the table, as in tests/test_web_access.py for the
API: anonymous visitors are sent to the login page, a role the table allows
gets in (a 404 for a made-up id is still "in"), any other role gets a 403
page. Forms also need the session's CSRF token; that is walked here too.
"""

from __future__ import annotations

import re

from gateway.web.access import ACCESS, PUBLIC, ROLES, allows
from gateway.web.pages import NAV, all_pages
from tests.support.pages_site import form_token
from tests.support.webapi import WebApi

SAMPLE_PATH_VALUES = {"msisdn": "+12025550123", "action": "start"}



def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PATH_VALUES.get(m[1], "999999"), path)


def test_every_page_has_a_rule_and_every_page_rule_a_page() -> None:
    names = [page.name for page in all_pages()]
    assert len(names) == len(set(names))
    assert set(names) == {name for name in ACCESS if name.startswith("page.")}
    assert {item.name for item in NAV} <= set(names)


async def test_every_page_for_every_role_follows_the_matrix(site: WebApi) -> None:
    staff = {role: await site.staff(role) for role in ROLES}
    wrong: list[str] = []
    for page in all_pages():
        rule = ACCESS[page.name]
        path = concrete(page.path)
        for role in (None, *ROLES):
            headers = staff[role].bearer if role else {}
            response = await site.client.request(page.method, path, headers=headers,
                                                 allow_redirects=False, data={})
            who = role or "anonymous"
            location = response.headers.get("Location", "")
            if response.status >= 500:
                wrong.append(f"{page.name} as {who}: {response.status}")
            elif role is None and rule != PUBLIC:
                wanted = 401 if page.json else 303
                if response.status != wanted or (wanted == 303 and
                                                  not location.startswith("/login?next=")):
                    wrong.append(f"{page.name} as anonymous: {response.status} {location}")
            elif allows(rule, role):
                sent_to_login = rule != PUBLIC and location.startswith("/login")
                if response.status in (401, 403) or sent_to_login:
                    wrong.append(f"{page.name} as {who}: {response.status}, wanted in")
            elif response.status != 403:
                wrong.append(f"{page.name} as {who}: {response.status}, wanted 403")
    assert wrong == []


async def test_a_page_form_without_the_sessions_csrf_token_is_refused(site: WebApi) -> None:
    await site.staff("organizer")
    await site.login("organizer@example.org")
    form = {"program": "rise", "where": "", "text": "Rally at noon", "action": "preview"}
    refused = await site.client.post("/broadcasts/new", data=form)
    assert refused.status == 403
    assert "expired" in await refused.text()
    wrong = await site.client.post("/broadcasts/new", data={**form, "csrf_token": "nope"})
    assert wrong.status == 403
    page = await site.client.get("/broadcasts/new")
    token = form_token(await page.text())
    accepted = await site.client.post("/broadcasts/new", data={**form, "csrf_token": token})
    assert accepted.status == 200, await accepted.text()
    for path in ("/broadcasts/999999/start", "/donations/reconciliation", "/logout"):
        assert (await site.client.post(path, data={})).status == 403, path
    assert (await site.client.get("/dashboard")).status == 200  # still logged in


async def test_the_navigation_shows_each_role_only_its_pages(site: WebApi) -> None:
    for role in ROLES:
        staff = await site.staff(role)
        page = await site.client.get("/", headers=staff.bearer)
        html = await page.text()
        for item in NAV:
            shown = f'href="{item.path}"' in html
            # the demo pages (phone, mailbox, the call simulator) are off in these settings
            wanted = allows(ACCESS[item.name], role) and (
                item.when is None or item.when(site.settings))
            assert shown == wanted, (role, item.path)


async def test_home_sends_each_role_to_its_first_page(site: WebApi) -> None:
    assert (await site.client.get("/", allow_redirects=False)).headers["Location"] == "/login"
    firsts = {"admin": "/dashboard", "organizer": "/dashboard", "finance": "/dashboard",
              "expert": "/inbox"}
    for role, first in firsts.items():
        staff = await site.staff(role)
        response = await site.client.get("/", headers=staff.bearer, allow_redirects=False)
        assert response.headers["Location"] == first
