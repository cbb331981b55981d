"""Preview: the count, a few rendered messages, the encoding and the segment cost."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from gateway.broadcast import service
from gateway.broadcast.messages import body_parts, describe, parse_text, report
from gateway.engine import load_rules
from gateway.store.broadcasts import ProfileField

CODE = "12345"
RULES = load_rules(Path(__file__).resolve().parents[1] / "keywords.yaml")
NOW = datetime(2024, 7, 1, 15, 0, tzinfo=UTC)
VARIABLES = {"program": "Rise Up", "shortcode": CODE}
# 148 GSM-7 characters around the name: one SMS with "friend", two with a long name.
LONG = "Hi {first_name|friend}! " + "x" * 124 + " STOP to quit"


def test_encoding_and_segments_are_reported() -> None:
    assert describe("Hello José").encoding == "gsm7"  # é is in the GSM alphabet
    assert describe("Hello Zoë").encoding == "ucs2"  # ë is not
    plain = describe("a" * 160)
    assert (plain.encoding, plain.segments) == ("gsm7", 1)
    assert describe("a" * 161).segments == 2
    polish = describe("Cześć " + "a" * 64)
    assert (polish.encoding, polish.segments) == ("ucs2", 1)
    assert describe("Cześć " + "a" * 65).segments == 2


def test_personalization_that_adds_a_segment_is_warned_about() -> None:
    template = parse_text(LONG)
    short = report(template, VARIABLES, [{"first_name": "Al"}])
    assert short.base.segments == 1 and short.samples[0].segments == 1
    assert any("from 1 to 2 segments" in w for w in short.warnings)  # worst case
    long_name = report(template, VARIABLES, [{"first_name": "Bartholomew-Maximilian"}])
    assert any("sample recipient's message takes 2 segments" in w for w in long_name.warnings)
    unicode_name = report(template, VARIABLES, [{"first_name": "Łukasz"}])
    assert any("switches some messages to UCS-2" in w for w in unicode_name.warnings)
    quiet = report(parse_text("Polls open at 7. STOP to quit"), VARIABLES, [{}])
    assert quiet.warnings == () and quiet.worst_case_segments == 1


def test_program_values_are_filled_in_and_profile_fields_left_to_each_row() -> None:
    template = parse_text("{program}: hi {first_name|friend}, text {shortcode}{missing|}")
    assert body_parts(template, VARIABLES) == [
        "Rise Up: hi ", ProfileField("first_name", "friend"), ", text 12345",
        ProfileField("missing", ""),
    ]


async def test_preview_counts_and_renders_a_sample(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.executemany(
            "INSERT INTO contacts (msisdn, shortcode, state, region) VALUES ($1, $2, $3, $4)",
            [(f"+1212555{n:04d}", CODE,
              json.dumps({"subs": {"rise": {"status": "subscribed"}},
                          "profile": {"first_name": name}}), region)
             for n, (name, region) in enumerate([("Ana", "NY"), ("", "NY"), ("Łukasz", "FL")])],
        )
        preview = await service.preview(
            conn, rules=RULES, program="rise", shortcode=CODE, where="state = NY", text=LONG,
            variables=VARIABLES, now=NOW, sample_size=5,
        )
    assert preview.recipients == 2
    texts = sorted(text for _, text in preview.samples)
    assert texts == sorted([LONG.replace("{first_name|friend}", "Ana"),
                            LONG.replace("{first_name|friend}", "friend")])
    assert preview.text.base.encoding == "gsm7"
