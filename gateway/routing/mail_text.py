"""What a stored e-mail says, as text: its subject and its body, for the classifier and
the expert.

Why the HTML part goes through an HTML parser (the knowledge base's
`html_text`, the standard library's `html.parser`): many mail programs send
HTML only, and tags, entities and style blocks must neither reach the
classifier nor an expert's screen. The text part is preferred when there
is one: it is what the writer's program meant as the text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from gateway.knowledge.extract import html_text, tidy

MAX_CHARS: Final = 20_000  # a question, not an archive: the raw mail keeps everything
TRUNCATED: Final = " [...]"
MAX_REFERENCES: Final = 20


def body_text(mail: Mapping[str, Any]) -> str:
    """The text part, else the HTML part as text; tidied (no control characters)."""
    text = mail["text_body"]
    if not (text or "").strip() and mail["html_body"]:
        text = html_text(mail["html_body"])
    return _capped(tidy(text or ""))


def question_text(mail: Mapping[str, Any]) -> str:
    """Subject, a blank line, body: what is classified and what the expert reads."""
    subject = " ".join((mail["subject"] or "").split())
    body = body_text(mail)
    return _capped("\n\n".join(part for part in (subject, body) if part))


def thread_ids(mail: Mapping[str, Any]) -> list[str]:
    """The message ids a reply names, the nearest first: In-Reply-To, then References
    from the last (its parent) back to the first (the conversation's start)."""
    ids = [mail["in_reply_to"], *reversed(list(mail["references_ids"] or ()))]
    return list(dict.fromkeys(i for i in ids if i))[:MAX_REFERENCES]


def _capped(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - len(TRUNCATED)] + TRUNCATED
