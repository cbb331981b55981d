"""A reply saying "unsubscribe": the pure detector (examples in English and French, and
properties), then `unsubscribe_by_reply` on a mail stored like the listener stores it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.config import Settings
from gateway.email_consent import confirm, may_send_bulk, unsubscribe_by_reply
from gateway.email_consent.reply_words import COMMAND_WORDS, is_unsubscribe_request
from gateway.store import address_consent
from tests.support.email_consent import (
    RULES,
    confirmation_path,
    mailing_settings,
    stored_reply,
    tick_box,
)

REQUESTS = [
    "STOP", "stop.", "Stop!!!", "Unsubscribe", "unsubscribe me please", "UNSUBSCRIBE ME NOW",
    "Please take me off your list.", "Hello,\n\nPlease remove me from your mailing list.\n\nJohn",
    "Stop, thanks", "Stop. I never signed up for this.", "opt-out", "OPT OUT please",
    "How do I unsubscribe?", "I can't unsubscribe, the link is broken!",
    "No more emails please", "Stop sending me these e-mails",
    "Désabonnez-moi svp", "désinscription", "Bonjour,\nDésinscription merci.\nMarie Dupont",
    "DESABONNEMENT", "Je souhaite me désinscrire de votre liste.",
    "Merci de ne plus m'envoyer... non : je veux ne plus recevoir vos mails.",
    "Je n'arrive pas à me désabonner", "Arrêtez de m'envoyer vos courriels",
    "Stop\n\n> Rise Up Alerts newsletter\n> To unsubscribe click here",
]
QUESTIONS = [
    "Will the candidate stop the pension reform?", "stop the reform", "stop?",
    "When does the rally end? I want to stop by.",
    "Please don't unsubscribe me, I love the newsletter",
    "Je ne veux pas me désabonner, mais j'ai une question sur l'hôpital.",
    "Pouvez-vous arrêter la réforme des retraites ?",
    "Comment le candidat compte-t-il arrêter la hausse des prix ?",
    "I have a question about the hospital.\n\nOn Tue, 3 Dec 2024, Rise Up "
    "<news@riseup.example.org> wrote:\n> To unsubscribe, click here",
    "Merci pour la lettre !\n\nLe mar. 3 déc. 2024 à 10:00, Ensemble a écrit :\n"
    "> Pour vous désinscrire, cliquez ici",
    "Thanks for the update\n-- \nJohn\nSent from my phone. Unsubscribe from nothing.",
    "Great work!\n-----Original Message-----\nFrom: news@campaign.example\nUnsubscribe me",
    "My son wants to unsubscribe from the school canteen, what does the programme say?",
    "> unsubscribe\nThanks for the news!", "",
]


@pytest.mark.parametrize("text", REQUESTS)
def test_requests_in_english_and_french_are_read_as_such(text: str) -> None:
    assert is_unsubscribe_request(text)


@pytest.mark.parametrize("text", QUESTIONS)
def test_questions_that_mention_the_word_are_not(text: str) -> None:
    assert not is_unsubscribe_request(text)


def test_the_subject_counts_only_as_a_command_or_a_request_phrase() -> None:
    assert is_unsubscribe_request("", subject="Re: Unsubscribe")
    assert is_unsubscribe_request("Thanks", subject="TR: désabonnez-moi")
    assert not is_unsubscribe_request("", subject="Re: Stop the reform")
    assert not is_unsubscribe_request("", subject="Re: Rise Up news: how to stop climate change")


# Words that are neither commands, fillers, negations nor parts of a request phrase.
NEUTRAL = st.sampled_from(["candidate", "pension", "reform", "hospital", "school", "why",
                           "when", "prices", "energy", "reforme", "retraites", "hopital",
                           "ecole", "pourquoi", "quand", "rally", "volunteer", "question"])
COMMANDS = st.sampled_from(sorted(COMMAND_WORDS))
POLITE = st.sampled_from(["please", "thanks", "merci", "svp", "now", "", "s'il vous plaît",
                          "this newsletter", "cette lettre", "me", "moi", "all"])
PUNCTUATION = st.sampled_from(["", ".", "!", "!!", " .", ",", " !"])


def _cased(word: str, style: int) -> str:
    return (word, word.upper(), word.capitalize())[style % 3]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400), st.text(max_size=80))
def test_any_text_gets_an_answer_without_error(text: str, subject: str) -> None:
    assert isinstance(is_unsubscribe_request(text, subject), bool)


@settings(max_examples=300, deadline=None)
@given(st.lists(NEUTRAL, min_size=1, max_size=12), COMMANDS, st.integers(0, 12),
       st.sampled_from(["?", ".", "!", ""]))
def test_a_command_word_inside_a_sentence_about_something_else_never_fires(
        words: list[str], command: str, at: int, end: str) -> None:
    words.insert(min(at, len(words)), command)
    assert not is_unsubscribe_request(" ".join(words) + end)


@settings(max_examples=300, deadline=None)
@given(COMMANDS, POLITE, POLITE, PUNCTUATION, st.integers(0, 2), st.booleans(),
       st.sampled_from(["", "Bonjour,\n", "Hello,\n\n"]),
       st.sampled_from(["", "\nMarie", "\n\nJohn Smith\n06 12 34 56 78"]))
def test_a_command_with_politeness_always_fires(command: str, before: str, after: str,
                                                end: str, style: int, accents: bool,
                                                greeting: str, signature: str) -> None:
    word = _cased(command, style)
    if accents:
        word = word.replace("e", "é", 1)
    assert is_unsubscribe_request(f"{greeting}{before} {word} {after}{end}{signature}")


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([*QUESTIONS, *REQUESTS, "Thanks!", "Bonjour"]),
       st.lists(st.text(max_size=60).filter(lambda t: "\n" not in t and "\r" not in t),
                max_size=5),
       st.sampled_from(["On Mon, 2 Dec 2024, Rise Up <news@riseup.example.org> wrote:",
                        "Le lun. 2 déc. 2024, Ensemble <info@ensemble.example.fr> a écrit :",
                        "-----Original Message-----", "-- "]))
def test_nothing_quoted_or_below_a_reply_header_changes_the_verdict(
        own: str, quoted: list[str], header: str) -> None:
    tail = "\n".join(["> " + line for line in quoted] + [header, "STOP", "unsubscribe me"])
    assert is_unsubscribe_request(own + "\n" + tail) == is_unsubscribe_request(own)


# -- unsubscribe_by_reply on a stored mail ----------------------------------------------

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


async def test_a_reply_saying_stop_takes_the_address_off_every_list_it_is_on(
        pool: asyncpg.Pool, settings: Settings) -> None:
    settings = mailing_settings(settings)
    async with pool.acquire() as conn:
        for program in ("rise", "ensemble"):
            asked = await tick_box(conn, settings, "ana@example.org", NOW, program=program)
            assert asked.mail_id is not None
            if program == "rise":
                token = (await confirmation_path(conn, asked.mail_id)).rsplit("/", 1)[1]
                await confirm(conn, RULES, token=token, now=NOW, client_ip=None)
        body = "Stop, merci.\n\n> Rise Up Alerts\n> To unsubscribe, click here"
        mail_id = await stored_reply(conn, "Ana <Ana@Example.org>", body)
        later = NOW + timedelta(days=1)
        assert await unsubscribe_by_reply(conn, "Ana@Example.org", mail_id, body, later)
        again = await unsubscribe_by_reply(conn, "ana@example.org", mail_id, body, later)
        rows = await address_consent.history(conn, "ana@example.org")
        assert not await may_send_bulk(conn, "ana@example.org", "rise")
        open_links = await conn.fetchval(
            "SELECT count(*) FROM address_consent_tokens WHERE closed_at IS NULL")
    assert again  # still a request, already honoured: nothing more to route
    outs = [r for r in rows if r["kind"] == "opted_out"]
    assert sorted(r["program"] for r in outs) == ["ensemble", "rise"]
    assert {(r["source"], r["mail_inbound_id"], r["citizen_text"]) for r in outs} == {
        ("reply", mail_id, "Stop, merci.")}
    assert open_links == 0  # the pending ensemble link cannot confirm after the reply


async def test_a_question_or_an_unknown_address_is_left_to_the_router(
        pool: asyncpg.Pool, settings: Settings) -> None:
    settings = mailing_settings(settings)
    async with pool.acquire() as conn:
        await tick_box(conn, settings, "ana@example.org", NOW)
        question = "Will the candidate stop the pension reform?"
        mail_id = await stored_reply(conn, "ana@example.org", question)
        assert not await unsubscribe_by_reply(conn, "ana@example.org", mail_id, question, NOW)
        stranger = await stored_reply(conn, "bob@example.org", "unsubscribe")
        assert not await unsubscribe_by_reply(conn, "bob@example.org", stranger,
                                              "unsubscribe", NOW)
        assert not await unsubscribe_by_reply(conn, "not an address", stranger, "STOP", NOW)
        kinds = [r["kind"] for r in await address_consent.history(conn, "ana@example.org")]
        strangers = await address_consent.history(conn, "bob@example.org")
    assert kinds == ["opt_in_requested"] and strangers == []


async def test_asking_a_question_never_subscribes_anyone(pool: asyncpg.Pool) -> None:
    """The box unticked: a question arrives and is stored; no consent row, no bulk mail."""
    async with pool.acquire() as conn:
        await stored_reply(conn, "carla@example.org",
                           "Bonjour, quel est le programme pour l'hôpital ?")
        assert await conn.fetchval("SELECT count(*) FROM address_consent_events") == 0
        assert await conn.fetchval("SELECT count(*) FROM mail_outbox") == 0
        assert not await may_send_bulk(conn, "carla@example.org", "ensemble")
