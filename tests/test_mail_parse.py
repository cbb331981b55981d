"""MIME decoding, classification and the answer rule, on messages built as senders build them.

The messages are made with the standard library's own generator (and, for
the broken ones, by hand), then read back through `parse_mail`: what a
citizen wrote must come out as they wrote it, whatever the encoding.
"""

from __future__ import annotations

import base64

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.mail.answer_policy import answerable
from gateway.mail.classify import classify
from gateway.mail.parse import parse_mail
from gateway.mail.record import build_record, imap_dedupe_key, smtp_dedupe_key
from gateway.store.mail_inbound import NewInboundMail
from tests.support.mail_messages import (
    PDF,
    SUBJECT,
    dsn,
    french_html_with_attachment,
    messages,
)


def test_french_html_only_mail_with_attachment_is_decoded_whole() -> None:
    mail = parse_mail(french_html_with_attachment())
    assert mail.subject == SUBJECT
    assert mail.from_address == "renee@example.fr"
    assert mail.from_name == "Renée Dupré"
    assert mail.text_body is None
    assert mail.html_body is not None and "Où est l'hôpital le plus proche ?" in mail.html_body
    assert [(a.filename, a.content_type, a.content) for a in mail.attachments] == [
        ("programme été.pdf", "application/pdf", PDF)]
    assert mail.message_id == "<q1@example.fr>"
    assert mail.sent_at is not None and mail.sent_at.utcoffset() is not None
    assert mail.defects == ()


def test_legacy_charsets_and_base64_bodies_are_decoded() -> None:
    subject = "À l'été, “guillemets” et œuvre"
    encoded = base64.b64encode(subject.encode("windows-1252")).decode()
    raw = ("From: =?iso-8859-1?q?Fran=E7ois?= <f@example.fr>\r\n"
           "To: contact@campagne.example\r\n"
           f"Subject: =?windows-1252?b?{encoded}?=\r\n"
           "Content-Type: text/plain; charset=iso-8859-1\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n").encode() + \
        base64.encodebytes("Où sont les réunions ?".encode("latin-1"))
    mail = parse_mail(raw)
    assert mail.from_name == "François"
    assert mail.subject == subject
    assert mail.text_body is not None and mail.text_body.strip() == "Où sont les réunions ?"


def test_unknown_charset_is_read_as_utf8_and_noted() -> None:
    raw = ("From: a@example.org\r\nContent-Type: text/plain; charset=x-no-such\r\n\r\n"
           "déjà vu\r\n").encode()
    mail = parse_mail(raw)
    assert mail.text_body is not None and "déjà vu" in mail.text_body
    assert any("x-no-such" in defect for defect in mail.defects)


def test_raw_8bit_headers_and_nul_bytes_come_out_storable() -> None:
    raw = (b"From: \xc3\xa9lise <elise@example.fr>\r\nSubject: caf\xc3\xa9 \x00 ok\r\n\r\n"
           b"body\x00\r\n")
    mail = parse_mail(raw)
    assert mail.subject == "café \ufffd ok"
    assert mail.text_body is not None and "\x00" not in mail.text_body
    assert mail.from_address == "elise@example.fr"


def test_threading_headers_are_kept() -> None:
    raw = (b"From: a@example.org\r\nMessage-ID: <m3@example.org>\r\n"
           b"In-Reply-To: <m2@campagne.example>\r\n"
           b"References: <m1@campagne.example>\r\n <m2@campagne.example>\r\n\r\nmerci\r\n")
    mail = parse_mail(raw)
    assert mail.message_id == "<m3@example.org>"
    assert mail.in_reply_to == "<m2@campagne.example>"
    assert mail.references == ("<m1@campagne.example>", "<m2@campagne.example>")


def test_malformed_mime_is_decoded_as_far_as_it_goes_and_the_defects_listed() -> None:
    raw = (b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\n"
           b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           b"!!!not base64\r\n")  # no closing boundary, bad base64
    mail = parse_mail(raw)
    assert mail.text_body is not None and "hello" in mail.text_body
    assert "CloseBoundaryNotFoundDefect" in mail.defects
    assert len(mail.attachments) == 1


def test_garbage_parses_without_raising() -> None:
    for raw in (b"", b"\x00\xff\xfe", b":\r\n:\r\n", b"Subject: =?utf-8?q?=FF=FE?=\r\n\r\n",
                b"Content-Type: multipart/mixed\r\n\r\n--\r\n--\r\n"):
        parse_mail(raw)


def test_a_delivery_report_is_a_bounce_naming_the_failed_recipient() -> None:
    record = build_record(dsn(), intake="smtp", dedupe_key="k", envelope_from="",
                          max_attachment_bytes=10_000)
    assert record.kind == "bounce"
    assert record.bounced_addresses == ("citizen@example.org",)
    assert record.bounce_report[0]["status"] == "5.1.1"
    assert record.never_answer == "bounce"
    assert record.envelope_from == ""
    # the original message stays readable as an attachment
    assert any(a.content_type == "message/rfc822" and a.content and b"Votre question" in a.content
               for a in record.attachments)


def test_a_delayed_notice_is_a_bounce_without_a_failed_address() -> None:
    record = build_record(dsn(action="delayed"), intake="smtp", dedupe_key="k",
                          envelope_from="", max_attachment_bytes=10)
    assert record.kind == "bounce" and record.bounced_addresses == ()
    assert all(a.omitted == (a.size > 10) for a in record.attachments)


def kind_of(headers: str, envelope_from: str | None = "someone@example.org") -> str:
    raw = f"From: someone@example.org\r\n{headers}\r\nhello\r\n".encode()
    return classify(parse_mail(raw), envelope_from=envelope_from).kind


def test_classification_follows_the_headers() -> None:
    assert kind_of("Subject: hi\r\n") == "normal"
    assert kind_of("Auto-Submitted: no\r\n") == "normal"
    assert kind_of("Auto-Submitted: auto-replied\r\n") == "auto_reply"
    assert kind_of("Auto-Submitted: auto-generated; owner-email=x@y\r\n") == "auto_reply"
    assert kind_of("X-Autoreply: yes\r\n") == "auto_reply"
    assert kind_of("Precedence: bulk\r\n") == "auto_reply"
    assert kind_of("Precedence: junk\r\n") == "auto_reply"
    assert kind_of("List-Id: <news.example.org>\r\n") == "list"
    assert kind_of("List-Unsubscribe: <mailto:u@example.org>\r\nPrecedence: list\r\n") == "list"
    assert kind_of("Subject: old bounce\r\n", envelope_from="<>") == "bounce"
    # RFC 3834 auto-replies come from the null sender too: still auto-replies
    assert kind_of("Auto-Submitted: auto-replied\r\n", envelope_from="") == "auto_reply"
    # over IMAP the Return-Path header stands in for the envelope
    assert kind_of("Return-Path: <>\r\n", envelope_from=None) == "bounce"
    assert kind_of("Return-Path: <a@example.org>\r\n", envelope_from=None) == "normal"


def test_answerable_says_why_not() -> None:
    assert answerable(parse_record("From: a@example.org\r\n")) is True
    assert answerable(parse_record("From: a@example.org\r\nReply-To: b@example.org\r\n")) is True
    assert answerable(parse_record("From: a@example.org\r\nX-Autoreply: yes\r\n")) == "auto_reply"
    assert answerable(parse_record("Subject: no sender\r\n")) == "no_reply_address"
    assert answerable(parse_record("From: noreply@shop.example\r\n")) == "robot_address"
    own = parse_record("From: Contact@Campagne.example\r\n")
    assert answerable(own, ["contact@campagne.example"]) == "own_address"


def parse_record(headers: str) -> NewInboundMail:
    return build_record(f"{headers}\r\nbonjour\r\n".encode(), intake="imap", dedupe_key="k",
                        envelope_from=None, max_attachment_bytes=100)


def test_dedupe_keys_depend_on_the_delivery() -> None:
    raw = b"Subject: x\r\n\r\ny\r\n"
    key = smtp_dedupe_key("a@example.org", ["C@x.example", "b@x.example"], raw)
    assert key == smtp_dedupe_key("a@example.org", ["b@x.example", "c@x.example"], raw)
    assert key != smtp_dedupe_key("", ["b@x.example", "c@x.example"], raw)
    assert key != smtp_dedupe_key("a@example.org", ["b@x.example", "c@x.example"], raw + b"z")
    assert imap_dedupe_key("u@h:993/INBOX", raw) != imap_dedupe_key("u@h:993/Other", raw)


# --- properties: whatever the headers and charsets, parsing never raises -----------

def storable_text(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" not in value and not any("\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, tuple):
        return all(storable_text(item) for item in value)
    return True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.one_of(messages(), st.binary(max_size=300)))
def test_any_header_and_charset_parses_without_raising_into_storable_text(raw: bytes) -> None:
    record = build_record(raw, intake="smtp", dedupe_key="k", envelope_from="a@example.org",
                          envelope_to=["c@x.example"], max_attachment_bytes=1000)
    assert record.raw == raw
    for name in ("subject", "from_address", "from_name", "reply_to", "text_body", "html_body",
                 "message_id", "in_reply_to", "references", "to_addresses", "headers",
                 "defects", "signals", "content_type"):
        value = getattr(record, name)
        assert storable_text(value), (name, value)
        if name == "headers":
            assert all(storable_text(pair) for pair in value)
