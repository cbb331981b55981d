"""Files for the knowledge-base tests: a real PDF written byte by byte, and documents added
through the real service on a real database.

Why a hand-written PDF: pypdf reads what any PDF writer produces, and the
smallest valid file (catalog, page tree, one page, a Type1 font, a content
stream and the cross-reference table with true byte offsets) is a few
lines; no PDF-making library is needed to test the reading one.
"""

from __future__ import annotations

import io
import zlib
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from pypdf import PdfReader, PdfWriter

from gateway.engine import load_rules
from gateway.knowledge import service
from gateway.knowledge.placement import place

ROOT = Path(__file__).resolve().parents[2]
RULES = load_rules(ROOT / "keywords.yaml")
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ORGANIZER = service.Actor(None, "organizer@example.org", "127.0.0.1")


def minimal_pdf(*lines: str, deflate: bool = False) -> bytes:
    """A one-page PDF showing `lines` in Helvetica (WinAnsi: French accents included).

    `deflate`: the content stream compressed, as most writers do (a small file, much text).
    """
    shown = " ".join(f"({_pdf_string(line)}) Tj 0 -16 Td" for line in lines)
    content = f"BT /F1 12 Tf 72 720 Td {shown} ET".encode("cp1252")
    stream_head = b"<< /Length %d >>"
    if deflate:
        content = zlib.compress(content)
        stream_head = b"<< /Length %d /Filter /FlateDecode >>"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        stream_head % len(content) + b"\nstream\n" + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def encrypted_pdf(*lines: str, password: str = "secret") -> bytes:
    """The same PDF locked with a user password (RC4: pypdf needs no crypto library for it)."""
    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(minimal_pdf(*lines))).pages:
        writer.add_page(page)
    writer.encrypt(password, algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _pdf_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


async def add(pool: asyncpg.Pool, filename: str, text: str | bytes, *, program: str,
              theme: str | None = None, title: str = "A document", kind: str = "other",
              key: str | None = None, url: str | None = None) -> service.Added:
    """A document added through the service, as the API and the page do."""
    data = text.encode() if isinstance(text, str) else text
    return await service.add_document(
        pool, ORGANIZER, place(RULES, program, theme), service.Upload(filename, data),
        title=title, kind=kind, key=key, url=url, now=NOW)
