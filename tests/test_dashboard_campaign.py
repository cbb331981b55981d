"""The dashboard's campaign sections against rows put in PostgreSQL: every number on the page.

Opt-ins, STOPs, replies and questions go through the real pipeline writer
(tests/support/questions.py `Supporter`), gifts through the ledger helper, a
broadcast's texts are outbox rows as the sender leaves them. The page runs on
a fixed clock in New York's zone, so a text sent at 03:00 UTC counts on the
previous local day.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import replace

import asyncpg

from gateway.services.campaign_stats import program_loads
from gateway.store.dashboard_stats import ThemeWaiting
from tests.support.dashboard_data import FR, NOW, US, seed, site_at_noon
from tests.support.html_tables import tables
from tests.support.questions import RULES
from tests.support.webapi import WebApi

__all__ = ["site_at_noon"]  # the fixture, shared from tests/support/dashboard_data.py

_logins = itertools.count()



async def page(site: WebApi, days: int | None = None) -> tuple[int, str]:
    staff = await site.staff("organizer", email=f"organizer{next(_logins)}@example.org")
    query = "" if days is None else f"?days={days}"
    response = await site.client.get(f"/dashboard{query}", headers=staff.bearer)
    return response.status, await response.text()


def amount(cell: str) -> str:
    """The digits of a money cell, whatever sign and separators the money filter adds."""
    return re.sub(r"[^0-9.|]", "", cell)


async def test_every_campaign_number_on_the_page_is_the_rows_inserted(
    site_at_noon: WebApi, pool: asyncpg.Pool,
) -> None:
    rally, vote = await seed(pool)
    status, html = await page(site_at_noon)
    assert status == 200, html[:400]
    found = tables(html)
    # list growth, 30 days (June 11 .. July 10 in New York): OLD's June 1 opt-in is out
    assert found["by-keyword"][1:] == [["JOIN", US, "3"], ["ADHERER", FR, "1"]]
    assert found["by-code"][1:] == [[US, "3", "1", "2"], [FR, "1", "0", "1"]]
    per_day = {row[0]: row[1:] for row in found["growth-days"][1:]}
    assert len(per_day) == 30 and min(per_day) == "2024-06-11"
    header = found["growth-days"][0]
    assert header[1:] == ["Joined: JOIN on 12345", "Joined: ADHERER on 38200",
                          f"Opted out: short code {US}"]
    assert per_day["2024-07-03"] == ["1", "0", "0"]
    assert per_day["2024-07-08"] == ["1", "0", "0"]  # Ben, 23:00 local
    assert per_day["2024-07-09"] == ["0", "1", "0"]
    assert per_day["2024-07-10"] == ["1", "0", "1"]  # Cal joined, Ana left
    assert sum(int(n) for row in per_day.values() for n in row) == 5
    # the charts draw the same numbers (each bar's tooltip), on an axis of 0-1
    assert "<title>Jul 8 JOIN on 12345: 1</title>" in html
    assert "<title>Jul 10 short code 12345: 1</title>" in html
    # broadcasts: the vote reached Ana and Ben (Cal's text was never sent)
    results = {row[0].split()[0]: row[1:] for row in found["broadcast-results"][1:]}
    assert results[f"#{vote}"][:5] == ["Jul 10, 2024, 6:00 AM EDT", "2", "1 (50.0%)",
                                       "1 (50.0%)", "1"]
    assert amount(results[f"#{vote}"][5]) == "25.00"
    # the rally: Ana's GIVE text is her reply; her second gift is exactly 24 h later
    assert results[f"#{rally}"][:5] == ["Jul 5, 2024, 6:00 AM EDT", "1", "1 (100.0%)", "0 (0.0%)",
                                        "1"]
    assert amount(results[f"#{rally}"][5]) == "10.00"
    # gifts per day, by the local date of the YES
    gifts = {row[0]: [row[1], amount(row[2])] for row in found["gift-days-USD"][1:]
             if row[1] != "0"}
    assert gifts == {"2024-07-05": ["1", "10.00"], "2024-07-06": ["1", "5.00"],
                     "2024-07-10": ["2", "32.00"]}
    # questions waiting: the French program's themes; none for the US program (no centre)
    themes = {row[0]: row[1:] for row in found["themes-ensemble"][1:]}
    assert themes["Education"][:3] == ["48 h", "2", "1"]
    assert themes["Education"][3] == "Jul 1, 2024, 11:00 AM EDT"
    assert themes["Sécurité"][:3] == ["48 h", "1", "0"]
    assert sum(int(row[1]) for row in themes.values()) == 3
    assert list(themes) == ["Education", "Sécurité"]  # the others, in one line below
    assert "Nothing waiting in Régions, Santé," in html
    assert 'id="themes-rise"' not in html
    assert "3 waiting, 1 past the time promised" in html


async def test_the_range_select_widens_the_window_to_ninety_days(
    site_at_noon: WebApi, pool: asyncpg.Pool,
) -> None:
    rally, vote = await seed(pool)
    status, html = await page(site_at_noon, 90)
    assert status == 200
    found = tables(html)
    assert found["by-keyword"][1] == ["JOIN", US, "4"]  # OLD's June 1 opt-in is in
    assert len(found["growth-days"]) == 91
    assert '<option value="90" selected>' in html
    status, html = await page(site_at_noon, 7)
    found = tables(html)
    assert len(found["growth-days"]) == 8
    assert found["by-keyword"][1:] == [["JOIN", US, "2"], ["ADHERER", FR, "1"]]
    assert [r[0].split()[0] for r in found["broadcast-results"][1:]] == [f"#{vote}", f"#{rally}"]


async def test_a_range_that_is_not_offered_is_refused_by_name(site_at_noon: WebApi) -> None:
    status, html = await page(site_at_noon, 5)
    assert status == 400
    assert "days must be one of 7, 30, 90" in html


async def test_an_empty_campaign_says_so_in_words(site_at_noon: WebApi) -> None:
    status, html = await page(site_at_noon)
    assert status == 200
    assert "Nobody joined in these days." in html
    assert "No broadcast was sent in these days." in html
    assert 'id="no-gifts"' in html
    assert "Ensemble Citoyen: no question waiting." in html


def test_a_theme_the_keywords_file_no_longer_names_shows_while_questions_wait() -> None:
    rules = replace(RULES, themes={"ensemble": RULES.themes["ensemble"]})
    waiting = [ThemeWaiting("ensemble", "education", 2, 1, NOW),
               ThemeWaiting("ensemble", "retraites", 1, 0, NOW)]
    [program] = program_loads(rules, waiting)
    assert program.name == "Ensemble Citoyen" and (program.waiting, program.overdue) == (3, 1)
    themes = {t.theme: (t.waiting, t.sla_seconds) for t in program.themes}
    assert themes["education"] == (2, 172_800) and themes["retraites"] == (1, None)
    assert list(themes)[-1] == "retraites"  # after the menu, fallback included
    assert program_loads(replace(RULES, themes={}), []) == []  # no contact centre: nothing
