"""Persons test data: a citizen's e-mail stored the way the intake stores it, the link a
queued message carries, and what an erasure leaves of an e-mail address.

Why store mail through `build_record` and `mail_inbound.insert`: the timeline, the export
and the erasure read the columns the real parser fills (a From written in capitals, a
display name, attachments), not columns a test wrote by hand.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP

import asyncpg

from gateway.mail.record import build_record, smtp_dedupe_key
from gateway.store import mail_inbound

CONTACT = "contact@campagne.example"
LINK = re.compile(r"https?://\S+/link/([A-Za-z0-9_-]+)")


def citizen_mail(sender: str, subject: str, text: str, *, name: str = "Ana Example",
                 cc: str | None = None, attachment: bytes | None = None,
                 message_id: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>"
    msg["To"] = CONTACT
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or \
        f"<{hashlib.sha256((subject + text).encode()).hexdigest()[:16]}@mail.example>"
    msg.set_content(text)
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="pdf",
                           filename="tract.pdf")
    return msg.as_bytes(policy=SMTP)


async def store_mail(conn: asyncpg.Connection, raw: bytes, *, envelope_from: str) -> int:
    key = smtp_dedupe_key(envelope_from, [CONTACT], raw)
    record = build_record(raw, intake="smtp", dedupe_key=key, envelope_from=envelope_from,
                          envelope_to=[CONTACT], peer="192.0.2.10",
                          max_attachment_bytes=1_000_000, own_addresses=[CONTACT])
    mail_id, _ = await mail_inbound.insert(conn, record)
    return mail_id


def token_in(text: str) -> str:
    """The token of the /link/ URL in a queued e-mail or SMS."""
    found = LINK.search(text)
    assert found, f"no link in {text!r}"
    return found[1]


async def sms_at(conn: asyncpg.Connection, msisdn: str, body: str, at: datetime, *,
                 out: bool = False, shortcode: str = "12345") -> int:
    """One MO (or MT) at a chosen time, for ordering a history."""
    if out:
        sql = ("INSERT INTO outbound (msisdn, shortcode, body, status, created_at)"
               " VALUES ($1, $2, $3, 'delivered', $4) RETURNING id")
    else:
        sql = ("INSERT INTO inbound (msisdn, shortcode, body, received_at)"
               " VALUES ($1, $2, $3, $4) RETURNING id")
    row_id: int = await conn.fetchval(sql, msisdn, shortcode, body, at)
    return row_id


async def email_traces(conn: asyncpg.Connection, address: str) -> list[str]:
    """table.column of every value anywhere (text, JSON, arrays, bytes) holding the address,
    in any case."""
    columns = await conn.fetch(
        """SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
           JOIN information_schema.tables t USING (table_schema, table_name)
           WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
             AND c.data_type IN ('text', 'jsonb', 'json', 'character varying', 'ARRAY',
                                 'bytea')""")
    found = []
    for row in columns:
        table, column = row["table_name"], row["column_name"]
        value = f"encode(\"{column}\", 'escape')" if row["data_type"] == "bytea" \
            else f'"{column}"::text'
        hit = await conn.fetchval(f'SELECT count(*) FROM "{table}" WHERE {value} ILIKE $1',
                                  f"%{address}%")
        if hit:
            found.append(f"{table}.{column}")
    return found
