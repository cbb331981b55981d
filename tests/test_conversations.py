"""How a contact's history is grouped into conversations (services/conversations.py).

Why: the rule is a decision staff rely on to read a history (a call is one
conversation, a written question's thread is one however long it lasts,
texts split after a six-hour pause, per address and short code); these
examples pin it down so a change to it is a visible one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from gateway.services.conversations import GAP, conversations

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NUMBER, FRENCH, MAIL = "+12125550101", "+33612345678", "ana@example.org"


def row(minutes: float, kind: str, *, ref: int | None = 1, address: str = NUMBER,
        shortcode: str | None = "12345", body: str | None = None,
        **data: Any) -> dict[str, Any]:
    return {"at": T0 + timedelta(minutes=minutes), "kind": kind, "ref": ref, "body": body,
            "status": None, "data": data or None, "address": address, "shortcode": shortcode}


def test_texts_calls_and_written_threads_are_grouped_newest_first() -> None:
    items = [
        row(0, "mo", body="JOIN"), row(0.1, "mt", body="Reply Y"), row(1, "mo", body="Y"),
        row(2, "form_in", ref=7, address=MAIL, shortcode=None, question_id=3, theme="health"),
        row(2, "event", ref=None, address=MAIL, shortcode=None, body="question_asked",
            question_id=3, channel="web"),
        row(30, "call", body="start", call_sid="CA1"),
        row(31, "mt", body="Thanks for calling"),       # a text during the call: SMS
        row(32, "call", body="status", call_sid="CA1", duration_seconds=90),
        row(60 * 8, "mo", body="When is the rally?"),   # eight hours later: a new exchange
        row(60 * 8, "mo", address=FRENCH, shortcode="38200", body="ADHERER"),
        row(60 * 50, "mail_out", ref=9, address=MAIL, shortcode=None, purpose="answer",
            question_id=3),                               # two days on: the same thread
        row(60 * 51, "mail_in", ref=10, address=MAIL, shortcode=None, question_id=3),
    ]
    found = conversations(items)
    summary = [(c.channel, c.address, c.shortcode, c.question_id, len(c.items))
               for c in found]
    assert summary == [
        ("web", MAIL, None, 3, 4),
        ("sms", NUMBER, "12345", None, 1),
        ("sms", FRENCH, "38200", None, 1),
        ("call", NUMBER, "12345", None, 2),
        ("sms", NUMBER, "12345", None, 4),
    ]
    assert [i["body"] for i in found[-1].items] == ["JOIN", "Reply Y", "Y",
                                                    "Thanks for calling"]


@given(st.lists(st.floats(min_value=0, max_value=60 * 24 * 30), max_size=40))
def test_every_row_is_in_one_conversation_and_texts_split_only_at_a_gap(
    minutes: list[float],
) -> None:
    items = [row(m, "mo", ref=n) for n, m in enumerate(sorted(minutes))]
    found = conversations(items)
    assert sorted(i["ref"] for c in found for i in c.items) == list(range(len(items)))
    for conversation in found:
        steps = [b["at"] - a["at"] for a, b in zip(conversation.items,
                                                    conversation.items[1:], strict=False)]
        assert all(step <= GAP for step in steps)
    starts = sorted(c.started for c in found)
    ends = sorted(c.ended for c in found)
    assert all(start - end > GAP for end, start in zip(ends, starts[1:], strict=False))
