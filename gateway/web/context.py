"""What the web handlers need from the running gateway, handed in once at start.

Why a context object on the app rather than imports of the gateway: the web
layer must run in a test with only a database (no SMPP, no gateway), and the
page helpers reach the same pool, settings and clock through it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg
from aiohttp import web

from gateway.billing.stripe_client import StripeCards
from gateway.clock import Clock, utc_now
from gateway.config import Settings
from gateway.engine import Rules


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
