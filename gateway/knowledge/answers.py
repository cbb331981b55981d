"""What a standard answer quotes from a document: keywords.yaml `lookup: document`.

An entry such as

    brochure_sante:
      lookup: document
      document: brochure_sante   # the key given when the document was added
      answer: "{program} : « {document_quote} » {document_title} : {document_url}"
      not_found: "{program} : notre brochure santé arrive bientôt."

answers `BROCHURESANTE hôpital` with the passage of the document's current
version that best matches the supporter's words (any of them, ranked by
PostgreSQL), else its opening, shortened to `QUOTE_CHARS` at a word
boundary. No active document with that key: the `not_found` text. The
pipeline calls this in the MO's transaction (pipeline/contact_centre.py),
and the engine renders the text (engine/knowledge.py `render_lookup`).
"""

from __future__ import annotations

from typing import Final

import asyncpg

from gateway.store import knowledge_docs as store

QUOTE_CHARS: Final = 160
ELLIPSIS: Final = "..."  # GSM-7, unlike the single character


def shortened(text: str, limit: int = QUOTE_CHARS) -> str:
    """`text` on one line, cut at a word boundary to at most `limit` characters."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - len(ELLIPSIS) + 1].rsplit(" ", 1)[0] or line[: limit - len(ELLIPSIS)]
    return cut[: limit - len(ELLIPSIS)].rstrip(" ,;:") + ELLIPSIS


async def document_values(conn: asyncpg.Connection, program: str, key: str,
                          words: str) -> dict[str, str] | None:
    """`document_title`, `document_url`, `document_quote`; None when no active document."""
    row = await store.document_quote(conn, program, key, words)
    if row is None:
        return None
    quote = row["headline"] if row["rank"] > 0 else row["body"]
    return {"document_title": row["title"], "document_url": row["url"] or "",
            "document_quote": shortened(quote)}
