"""What the web handlers need from the running gateway, handed in once at start.

Why a context object on the app rather than imports of the gateway: the web
layer must run in a test with only a database (no SMPP, no gateway), and the
page helpers reach the same pool, settings and clock through it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from aiohttp import web

from gateway.billing.stripe_client import StripeCards
from gateway.clock import Clock, utc_now
from gateway.config import Settings
from gateway.engine import Rules
from gateway.engine.loader import RulesError, load_rules
from gateway.plain_words import N_, said
from gateway.routing.outgoing import Sender
from gateway.services.errors import unavailable
from gateway.services.inbox import Inbox


@dataclass(frozen=True, slots=True)
class WebContext:
    pool: asyncpg.Pool
    settings: Settings
    # The running gateway's keyword reload (Gateway.reload_rules); None outside a gateway.
    reload_rules: Callable[[], bool] | None = None
    clock: Clock = field(default=utc_now)
    # The rules in force (expert answers are wrapped in their theme's text) and the
    # outbox's wake (an answer goes out now, not at the next idle poll); None outside one.
    rules: Callable[[], Rules] | None = None
    wake_outbox: Callable[[], None] | None = None
    # Stripe, for staff refunds of card gifts; None without GATEWAY_STRIPE_SECRET_KEY.
    cards: StripeCards | None = None


WEB_CONTEXT = web.AppKey("web_context", WebContext)


def context_of(request: web.Request) -> WebContext:
    return request.app[WEB_CONTEXT]


_FILE_RULES: dict[Path, tuple[int, Rules]] = {}


def rules_in_force(context: WebContext) -> Rules:
    """The running gateway's rules; outside a gateway, the keywords file (re-read on change)."""
    if context.rules is not None:
        return context.rules()
    path = context.settings.keywords
    try:
        stamp = path.stat().st_mtime_ns
        cached = _FILE_RULES.get(path)
        if cached is None or cached[0] != stamp:
            cached = _FILE_RULES[path] = (stamp, load_rules(path))
    except (OSError, RulesError) as err:
        raise unavailable("rules_unavailable",
                          said(N_("cannot read the keywords file %(name)s: %(err)s"),
                               name=path.name, err=err)) from None
    return cached[1]


def inbox_for(context: WebContext) -> Inbox:
    """The expert inbox's service, on this gateway's pool, rules, clock and outbox."""
    return Inbox(pool=context.pool, rules=lambda: rules_in_force(context), clock=context.clock,
                 max_segments=context.settings.questions_answer_max_segments,
                 wake_outbox=context.wake_outbox, mail_sender=Sender.of(context.settings))
