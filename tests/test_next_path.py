"""Where a login sends the browser: only a same-site path, however the target is disguised."""

from __future__ import annotations

from urllib.parse import quote, unquote, urljoin, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.web.next_path import HOME, safe_next
from tests.support.pages_site import form_token
from tests.support.webapi import PASSWORD, WebApi

SITE = "https://gateway.example.org/login"

# Pieces attackers use; hypothesis glues them together in every order.
PIECES = st.sampled_from(["/", "//", "\\", "\t", "\n", "\r", " ", "\x00", "\x7f", "\u2028",
                          "\u00a0", "\u200b", ":", "@", "?", "#", ".", "%09", "%2f", "evil",
                          "https:", "javascript:", "host.example", "contacts", "é"])
TARGETS = st.one_of(st.text(max_size=40), st.lists(PIECES, max_size=8).map("".join))


def browser_view(target: str) -> str:
    """What a WHATWG-URL browser makes of a Location before resolving it: drops
    tab/CR/LF anywhere, strips C0 controls and spaces at the ends, reads \\ as /."""
    cleaned = "".join(c for c in target if c not in "\t\r\n")
    cleaned = cleaned.strip("".join(chr(n) for n in range(0x21)))
    return cleaned.replace("\\", "/")


@given(TARGETS)
def test_safe_next_returns_the_target_unchanged_or_home(target: str) -> None:
    assert safe_next(target) in (target, HOME)


@given(TARGETS)
def test_whatever_safe_next_lets_through_stays_on_this_site(target: str) -> None:
    kept = safe_next(target)
    for seen in (kept, browser_view(kept)):
        landed = urlsplit(urljoin(SITE, seen))
        assert (landed.scheme, landed.netloc) == ("https", "gateway.example.org")
    assert not any(c in kept for c in "\r\n\t\\\x00")


@pytest.mark.parametrize("target", ["/contacts", "/broadcasts/12?tab=progress",
                                    "/contacts?q=a b", "/inbox#question-3", "/a/b/../c"])
def test_ordinary_paths_are_kept(target: str) -> None:
    assert safe_next(target) == target


@pytest.mark.parametrize("target", [
    "/\t/evil.example/", "//evil.example", "/\\evil.example", "\\\\evil.example",
    "/\r\nSet-Cookie: x=1", "https://evil.example/", "https:evil.example", "javascript:alert(1)",
    " //evil.example", "/\u2028/evil.example", "", None, "contacts", "/" + "a" * 2001,
])
def test_anything_else_goes_home(target: str | None) -> None:
    assert safe_next(target) == HOME


FOREIGN = ["/%09/evil.example/", "//evil.example/", "/%5Cevil.example", "/%5C/evil.example",
           "/%0d%0aSet-Cookie:%20x=1", "https://evil.example/", "https:evil.example",
           "/%E2%80%A8/evil.example"]


@pytest.mark.parametrize("raw", FOREIGN)
async def test_a_logged_in_user_following_a_login_link_stays_on_this_site(
    site: WebApi, raw: str,
) -> None:
    await site.staff("organizer")
    await site.login("organizer@example.org")
    response = await site.client.get(f"/login?next={raw}", allow_redirects=False)
    assert response.status in (302, 303)
    assert response.headers["Location"] == HOME


@pytest.mark.parametrize("raw", FOREIGN)
async def test_the_login_form_does_not_redirect_off_site_or_break(site: WebApi, raw: str) -> None:
    await site.staff("organizer")
    page = await site.client.get(f"/login?next={raw}")
    assert page.status == 200
    posted = await site.client.post("/login", data={
        "email": "organizer@example.org", "password": PASSWORD, "next": unquote(raw),
        "csrf_token": form_token(await page.text())}, allow_redirects=False)
    assert posted.status == 303 and posted.headers["Location"] == HOME


async def test_a_same_site_next_is_followed(site: WebApi) -> None:
    await site.staff("organizer")
    await site.login("organizer@example.org")
    target = "/contacts?q=" + quote("a b")
    response = await site.client.get(f"/login?next={quote(target)}", allow_redirects=False)
    assert response.headers["Location"] == target
