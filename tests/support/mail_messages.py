"""E-mail test data: a citizen's French mail with an attachment, a delivery report, and
hypothesis strategies for any header in any charset (the parser, store and listener tests
share them)."""

from __future__ import annotations

import base64
from email.message import EmailMessage
from email.policy import SMTP

from hypothesis import strategies as st

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 4
SUBJECT = "Question sur l'hôpital, l'école et la sécurité à Besançon"


def french_html_with_attachment() -> bytes:
    """HTML only (no text part), accented subject in quoted-printable, a PDF attached."""
    msg = EmailMessage()
    msg["From"] = "Renée Dupré <renee@example.fr>"
    msg["To"] = "contact@campagne.example"
    msg["Subject"] = SUBJECT
    msg["Message-ID"] = "<q1@example.fr>"
    msg["Date"] = "Tue, 03 Dec 2024 10:00:00 +0100"
    msg.set_content("<p>Où est l'hôpital le plus proche ? Merci — Renée</p>", subtype="html",
                    cte="quoted-printable")
    msg.add_attachment(PDF, maintype="application", subtype="pdf",
                       filename="programme été.pdf")
    raw = msg.as_bytes(policy=SMTP)
    assert b"=?utf-8?q?" in raw  # the subject really travels as an encoded word
    return raw


def dsn(*, recipient: str = "Citizen@Example.org", action: str = "failed") -> bytes:
    return (b"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
            b"To: contact@campagne.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
            b"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\r\n\r\n"
            b"--R\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
            b"--R\r\nContent-Type: message/delivery-status\r\n\r\n"
            b"Reporting-MTA: dns; mx.example.net\r\n\r\n"
            b"Final-Recipient: rfc822; " + recipient.encode() + b"\r\n"
            b"Action: " + action.encode() + b"\r\nStatus: 5.1.1\r\n"
            b"Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n\r\n"
            b"--R\r\nContent-Type: message/rfc822\r\n\r\n"
            b"From: contact@campagne.example\r\nTo: " + recipient.encode() + b"\r\n"
            b"Subject: Votre question\r\n\r\nMerci\r\n--R--\r\n")


header_names = st.sampled_from(["Subject", "From", "To", "Cc", "Reply-To", "Date", "Message-ID",
                                "In-Reply-To", "References", "Content-Type",
                                "Content-Transfer-Encoding", "Content-Disposition",
                                "Auto-Submitted", "List-Id", "X-Anything"])
charsets = st.sampled_from(["utf-8", "iso-8859-1", "windows-1252", "utf-16", "utf-7", "koi8-r",
                            "shift_jis", "x-unknown", "", "us-ascii"])
words = st.text(st.characters(codec="utf-8"), max_size=30)
raw_values = st.binary(max_size=60).filter(lambda b: b"\n" not in b and b"\r" not in b)


@st.composite
def encoded_words(draw: st.DrawFn) -> bytes:
    charset = draw(charsets)
    text = draw(words)
    try:
        data = text.encode(charset or "utf-8")
    except (LookupError, UnicodeEncodeError):
        data = text.encode("utf-8")
    if draw(st.booleans()):
        return f"=?{charset}?b?".encode() + base64.b64encode(data) + b"?="
    quoted = b"".join(bytes([c]) if 48 <= c < 127 and c != 61 and c != 63 else b"=%02X" % c
                      for c in data)
    return f"=?{charset}?q?".encode() + quoted + b"?="


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        name = draw(header_names).encode()
        value = draw(st.one_of(raw_values, encoded_words(), st.just(b"<a@b> <c@d>")))
        lines.append(name + b": " + value)
    body_charset = draw(charsets)
    lines.append(b"Content-Type: text/plain; charset=" + body_charset.encode())
    body = draw(words).encode(body_charset or "utf-8", "ignore") if body_charset not in (
        "x-unknown",) else draw(st.binary(max_size=40))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
