"""Tracked short links in keyword replies (docs/links-and-results.md, migration 480).

A keyword's reply may carry a link (`JOIN` answers "Welcome! RSVP at
https://example.org/rally"). With GATEWAY_LINK_DOMAIN set, each such link
becomes `https://<domain>/<token>` with a fresh token per reply, exactly as a
broadcast's links do (broadcast/links.py finds them and makes the tokens;
broadcast/clicks.py counts the clicks, preview bots apart). The token row is
written in the MO's own transaction, with the reply's outbox row, and its
destination is the link as it was when the reply was written.

Why only links the organizer wrote: the engine renders replies with the
supporter's own answers (`Thanks {first_name}!`). A link a supporter typed
into a profile answer would otherwise become a redirect under the campaign's
own domain. So a link is shortened only when it is, character for character,
a link in the literal text of a template of the loaded rules (collected once
per rules: `written_links`), not one that runs into a placeholder (personalized,
as in a broadcast).

Why shortening never costs a segment: the rules' loader counted every reply's
segments as written, against `max_segments`. A short link can be longer than a
short campaign address, so a reply whose short form would take more SMS
segments than as written goes as written (untracked), and the log says so.

Why this costs the MO path nothing when no reply has a link: the rules'
written links are collected once per loaded rules (an identity check per
batch after that); with none, or no link domain, the replies are returned
untouched; otherwise a reply is looked at only if it contains "://", and a
statement runs only when a reply really carries a link.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import asyncpg

from gateway.broadcast.links import find_urls, new_tokens, short_url
from gateway.engine import Rules
from gateway.engine.templates import Placeholder, Template
from gateway.logs import get_logger
from gateway.smstext import segment_count
from gateway.store import short_links
from gateway.store.outbound import NewOutbound

log = get_logger("gateway.pipeline.reply_links")


def template_links(template: Template) -> set[str]:
    """The links in a template's literal text, but those running into a placeholder."""
    found: set[str] = set()
    parts = template.parts
    for index, part in enumerate(parts):
        if not isinstance(part, str):
            continue
        followed = index + 1 < len(parts) and isinstance(parts[index + 1], Placeholder)
        for start, end in find_urls(part):
            if not (followed and end == len(part)):
                found.add(part[start:end])
    return found


def written_links(rules: Rules) -> frozenset[str]:
    """Every link the organizer wrote in a template of `rules` (walked once per rules)."""
    found: set[str] = set()
    seen: set[int] = set()
    stack: list[object] = [rules]
    while stack:
        item = stack.pop()
        if item is None or isinstance(item, (str, bytes, int, float)) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, Template):
            found |= template_links(item)
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, (tuple, list, set, frozenset)):
            stack.extend(item)
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
    return frozenset(found)


def shorten_replies(
    replies: Sequence[NewOutbound], written: frozenset[str], base: str,
    tokens: Callable[[int], list[str]] = new_tokens,
) -> tuple[list[NewOutbound], list[short_links.NewReplyLink]]:
    """The replies with their written links shortened, and the links to store. Pure."""
    out: list[NewOutbound] = []
    links: list[short_links.NewReplyLink] = []
    positions: dict[int, int] = {}  # per MO: links of its replies so far
    for reply in replies:
        if reply.in_reply_to is None or "://" not in reply.body:
            out.append(reply)
            continue
        spans = [(s, e) for s, e in find_urls(reply.body) if reply.body[s:e] in written]
        if not spans:
            out.append(reply)
            continue
        fresh = tokens(len(spans))
        pieces: list[str] = []
        at = 0
        for (start, end), token in zip(spans, fresh, strict=True):
            pieces += [reply.body[at:start], short_url(base, token)]
            at = end
        pieces.append(reply.body[at:])
        body = "".join(pieces)
        if segment_count(body) > segment_count(reply.body):
            log.warning("reply_link_not_shortened", in_reply_to=reply.in_reply_to,
                        reason="the short form takes more SMS segments")
            out.append(reply)
            continue
        first = positions.get(reply.in_reply_to, 0)
        positions[reply.in_reply_to] = first + len(spans)
        links += [short_links.NewReplyLink(token, reply.in_reply_to, reply.msisdn,
                                           reply.shortcode, first + n, reply.body[s:e])
                  for n, ((s, e), token) in enumerate(zip(spans, fresh, strict=True))]
        out.append(dataclasses.replace(reply, body=body))
    return out, links


class ReplyLinks:
    """The reply path's one call: shorten the batch's replies and store their links."""

    def __init__(self, base: str | None) -> None:
        self._base = base  # GATEWAY_LINK_DOMAIN's prefix; None: replies go as written
        self._written: tuple[Rules, frozenset[str]] | None = None

    def _links_of(self, rules: Rules) -> frozenset[str]:
        if self._written is None or self._written[0] is not rules:
            self._written = (rules, written_links(rules))
        return self._written[1]

    async def shorten(self, conn: asyncpg.Connection, rules: Rules,
                      replies: list[NewOutbound]) -> list[NewOutbound]:
        """In the MO's transaction, before the replies are inserted."""
        if self._base is None:
            return replies
        written = self._links_of(rules)
        if not written:
            return replies
        shortened, links = shorten_replies(replies, written, self._base)
        await short_links.insert_reply_links(conn, links)  # no statement when none
        return shortened
