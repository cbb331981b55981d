"""A person who only ever called has their calls on their contact page, as conversations.

Why: the contact page is where staff look a number up; a caller who never texted
must not read "Nothing yet" when the line has their calls (issue 16).
"""

from __future__ import annotations

from tests.support.voice import VoiceSite

ONLY_CALLED = "+33612000031"


async def test_a_caller_who_never_texted_has_the_call_as_a_conversation(
        site: VoiceSite) -> None:
    caller = site.caller("CA-only-called", ONLY_CALLED)
    await caller.press(await caller.call(), "1")
    await caller.hang_up(42)
    admin = await site.web.staff("admin")

    page = await site.client.get(f"/contacts/{ONLY_CALLED}", headers=admin.bearer)
    text = await page.text()
    assert page.status == 200, text[:500]
    assert "Nothing yet." not in text
    assert "Call to the voice line" in text
    assert "The call came in" in text and "after 42 s" in text

    api = await site.client.get(f"/api/v1/contacts/{ONLY_CALLED}/timeline",
                                headers=admin.bearer)
    assert api.status == 200, await api.text()
    body = await api.json()
    [conversation] = body["conversations"]
    assert (conversation["channel"], conversation["address"]) == ("call", ONLY_CALLED)
    assert "only called the voice line" in text


async def test_a_number_that_never_called_nor_texted_is_still_not_found(
        site: VoiceSite) -> None:
    admin = await site.web.staff("admin")
    page = await site.client.get("/contacts/+33612000039", headers=admin.bearer)
    assert page.status == 404
