"""Whatever bytes arrive, the row is written and the raw bytes come back unchanged.

The property the listener's 451-or-250 promise rests on: a message that
cannot be written would be refused for ever, so any header, charset or
garbage must make a storable row (PostgreSQL refuses NUL characters and
lone surrogates in text and jsonb).
"""

from __future__ import annotations

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.mail.record import build_record, smtp_dedupe_key
from gateway.store import mail_inbound
from tests.support.mail_messages import messages

NASTY = [
    b"Subject: =?utf-7?q?+2AA-?=\r\nFrom: =?utf-8?b?AA==?= <a@example.org>\r\n\r\n\x00\r\n",
    b"Content-Type: text/plain; charset=utf-16\r\n\r\n\xff\xfe\x00\xd8\r\n",
    b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n"
    b"\r\nSubject: \xe9\r\n\r\n\x00\r\n--x--\r\n",
    b"\xff" * 10,
]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(raw=st.one_of(st.sampled_from(NASTY), messages(), st.binary(max_size=200)))
async def test_any_message_is_stored_with_its_raw_bytes(pool: asyncpg.Pool, raw: bytes) -> None:
    key = smtp_dedupe_key("a@example.org", ["c@x.example"], raw)
    record = build_record(raw, intake="smtp", dedupe_key=key, envelope_from="a@example.org",
                          envelope_to=["c@x.example"], max_attachment_bytes=50)
    async with pool.acquire() as conn, conn.transaction():
        mail_id, _ = await mail_inbound.insert(conn, record)
        again, created = await mail_inbound.insert(conn, record)
    assert (again, created) == (mail_id, False)
    async with pool.acquire() as conn:
        row = await mail_inbound.get_mail(conn, mail_id)
        attachments = await mail_inbound.list_attachments(conn, mail_id)
    assert row is not None and bytes(row["raw"]) == raw and row["size"] == len(raw)
    assert len(attachments) == len(record.attachments)
