"""The icon: every page links the SVG, and the browser's own /favicon.ico request finds it.

Browsers ask for /favicon.ico whatever the page says; a 404 there would be a
line in the logs for every new visitor.
"""

from __future__ import annotations

from tests.support.webapi import WebApi


async def test_pages_link_the_svg_icon_and_favicon_ico_redirects_to_it(site: WebApi) -> None:
    login = await (await site.client.get("/login")).text()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in login
    asked = await site.client.get("/favicon.ico", allow_redirects=False)
    assert asked.status == 301 and asked.headers["Location"] == "/static/favicon.svg"
    icon = await site.client.get("/favicon.ico")
    assert icon.status == 200 and icon.content_type == "image/svg+xml"
    assert (await icon.text()).startswith("<svg ")
