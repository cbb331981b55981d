"""Wiring: one settings object in, the running gateway out.

Start order follows the data flow backwards so nothing is accepted before
it can be handled: database and migrations, rules, the writers and the
outbox, then the SMPP bind (which starts MOs flowing), then the web server.
Stop order is the reverse, so every MO acknowledged was committed and every
claimed MT is recorded or released.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
import structlog
from aiohttp import web

from gateway.billing import decisions
from gateway.billing.aggregators import get_profile, tariff_problems
from gateway.billing.service import BillingService
from gateway.billing.stripe_client import StripeCards, StripeConfig
from gateway.billing.webhook_ledger import record_stripe_event
from gateway.broadcast.control import BroadcastTicker
from gateway.broadcast.newsletters import NewsletterQueue
from gateway.broadcast.policy import QuietHoursPolicy
from gateway.clock import Clock, utc_now
from gateway.config import ConfigError, Settings
from gateway.engine import Rules, RulesError, load_rules
from gateway.engine.holder import RulesHolder
from gateway.hooks.sender import WebhookSender, webhook_sender
from gateway.hooks.wanted import WantedTypesListener
from gateway.logs import get_logger
from gateway.mail.intake import MailIntake, start_mail_intake
from gateway.mail.mail_out import start_mail_out
from gateway.mail.sender import MailSender
from gateway.metrics import Metrics
from gateway.notify import digest
from gateway.notify.staff_mail import StaffMail
from gateway.pipeline.ingest import Ingest
from gateway.pipeline.outbox import LEASE_SECONDS, OutboxSender
from gateway.pipeline.receipts import ReceiptWriter
from gateway.pipeline.rules_sync import RulesSync
from gateway.pipeline.tps_share import BEAT_SECONDS, TpsShare
from gateway.pipeline.unsure import UnsureResolver
from gateway.privacy import stripe_erasure
from gateway.routing.programs import program_problems
from gateway.routing.worker import MailRouter, start_mail_router
from gateway.services import answers, export_jobs
from gateway.services.imports.runner import import_runner
from gateway.smpp import receipts
from gateway.smpp.client import EsmeClient
from gateway.smpp.link import DeliverAnswer
from gateway.smpp.pdu import Pdu
from gateway.store import login_throttle, web_sessions
from gateway.store.db import create_pool, ping
from gateway.store.migrate import apply_migrations, default_migrations_dir
from gateway.store.webhook_events import WantedTypes
from gateway.tasks import Supervisor
from gateway.voice.recordings import RecordingFetcher
from gateway.voice.steps import VoiceLine, voice_problems
from gateway.web.api import add_api_routes
from gateway.web.context import WebContext
from gateway.web.donor_details import add_donor_details_routes
from gateway.web.health import make_web_app
from gateway.web.mail_consent import add_mail_consent_routes
from gateway.web.pages import add_pages
from gateway.web.short_links import add_short_link_routes
from gateway.web.voice_webhooks import add_voice_routes
from gateway.web.webhooks import add_stripe_webhook_route
from gateway.web.write_form import add_write_form_routes
from gateway.workers.status import SupervisorLink

log = get_logger("gateway.app")

RECEIPT_SWEEP_SECONDS = 1.0
PARTS_SWEEP_SECONDS = 30.0
BROADCAST_TICK_SECONDS = 1.0
WEB_PURGE_SECONDS = 3600.0
STRIPE_ERASURE_SECONDS = 60.0
VOICE_DOWNLOAD_SECONDS = 1.0
# Collect young objects 14x less often and the old generations far less often than
# CPython's (700, 10, 10). The sender, the SMPP client and the writers make a few
# short-lived objects per MT; with the defaults the cyclic collector kept walking
# the whole long-lived heap (the web app, the rules...): 20% of the gateway's CPU
# during a broadcast, measured with perf. Nearly all of that garbage is freed by
# reference counting anyway.
GC_THRESHOLDS = (10_000, 20, 20)


def tune_gc() -> None:
    """Process-wide: set once by `run_gateway`, the process's entry point."""
    if gc.get_threshold() != GC_THRESHOLDS:
        gc.set_threshold(*GC_THRESHOLDS)


def freeze_heap() -> int:
    """Put every object alive now out of the cyclic collector's reach; return how many.

    Process-wide, like `tune_gc`: called once by `run_gateway`, after start-up and
    before the first bind. The heap start-up leaves (modules, the rules, the web app,
    asyncpg's codecs: about 140,000 objects) was walked by every full collection, a
    pause of the event loop of 104-171 ms in the MO benchmark that every MO and reply
    in flight waited out. Frozen, a full collection walks only what was made since:
    7-16 ms (docs/performance.md, "The garbage collector, and start-up's heap frozen").
    A frozen object is still freed when nothing refers to it; only cycles among them
    would stay.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


class Gateway:
    """The running parts of one gateway process, started and stopped together."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool, rules: RulesHolder, *,
                 clock: Clock = utc_now, webhook_types: WantedTypes | None = None) -> None:
        self.settings = settings
        self.pool = pool
        self.rules = rules
        self.clock = clock  # "now" for every part below (gateway/clock.py)
        self.metrics = Metrics()
        self.client = EsmeClient(settings, on_deliver=self.on_deliver)
        self.outbox = OutboxSender(pool, self.client, settings, self.metrics)
        self.ingest = Ingest(pool, settings, rules, self.metrics, on_committed=self.outbox.wake,
                             handoff=self.outbox, clock=clock)
        self.receipts = ReceiptWriter(pool, self.metrics)
        self.unsure = UnsureResolver(pool, settings, lease_seconds=LEASE_SECONDS)
        self.tps_share = TpsShare(pool, settings, self.client)
        self.rules_sync = RulesSync(pool, settings.database_url, settings.instance_name,
                                    self.reload_rules)
        # the clock is read per tick; tests may swap the policy before start()
        self.broadcasts = BroadcastTicker(
            pool, policy=QuietHoursPolicy(), clock=clock,
            newsletters=NewsletterQueue(settings, lambda: self.rules.current),
            link_base=settings.link_base())
        self.cards = _stripe_cards(settings)
        self.billing = BillingService(
            pool, rules, aggregator=get_profile(settings.billing_aggregator), cards=self.cards,
            clock=clock, details_base_url=settings.donor_details_url,
            tariff_codes=settings.billing_tariff_codes,
            privacy_key=(settings.privacy_hash_secret.get_secret_value().encode()
                         if settings.privacy_hash_secret is not None else None))
        # read at scrape time, so /metrics never shows a stale value
        self.metrics.smpp_window_in_use.set_function(lambda: self.client.window_in_use)
        self.metrics.smpp_bound.set_function(lambda: 1 if self.client.bound else 0)
        # every background task runs under it: retried on database and network
        # errors, reported by /healthz, and the process exits if one dies
        self.supervisor = Supervisor()
        # One-off jobs (a reload's announcement): not supervised, since they are meant to
        # end; held here so they are not garbage-collected and are cancelled at stop.
        self._errands: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        # A worker of `gateway run --workers N` (gateway/workers/): only worker 1 serves
        # HTTP, and its /healthz reports every worker's state as its supervisor tells it.
        self.serve_web = True
        self.worker_states: Callable[[], Mapping[str, str]] | None = None
        self.http_port: int | None = None
        self.mail = MailIntake()  # e-mail in, when configured (docs/email.md)
        # notices to staff: the leads on an SLA breach, the experts' digest (gateway/notify/)
        self.staff_mail = StaffMail.from_settings(settings)
        self.digests = digest.DigestJob(
            pool, lambda: self.rules.current, schedule=digest_schedule(settings),
            mail=self.staff_mail, clock=clock)
        self.mail_out: MailSender | None = None  # e-mail out, when configured
        self.mail_router: MailRouter | None = None  # stored mail into the contact centre
        # the voice line (gateway/voice/, docs/voice.md), when GATEWAY_VOICE_ENABLED
        self.voice = VoiceLine(pool, settings, lambda: self.rules.current, clock=clock,
                               metrics=self.metrics, wake_outbox=self.outbox.wake)
        self.recordings = RecordingFetcher(pool, settings, lambda: self.rules.current,
                                           clock=clock, metrics=self.metrics)
        # outgoing webhooks (gateway/hooks/, docs/webhooks.md)
        self.webhooks: WebhookSender = webhook_sender(settings, pool,
                                                      staff_mail=self.staff_mail, clock=clock)
        # the event types subscriptions want, carried by the pool's connections (open_gateway)
        self.webhook_types = WantedTypesListener(
            webhook_types or WantedTypes(), settings.database_url, settings.instance_name,
            refresh_seconds=settings.webhooks_subscriptions_refresh_seconds)
        # contact imports in the background (gateway/services/imports/, docs/import.md)
        self.imports = import_runner(settings, pool, lambda: self.rules.current, clock=clock)

    async def on_deliver(self, pdu: Pdu) -> int | DeliverAnswer:
        if receipts.is_receipt(pdu.get_int("esm_class")):
            return await self.receipts.handle_receipt(pdu)
        return await self.ingest.handle_mo(pdu)

    async def start(self) -> None:
        self.ingest.start()
        self.receipts.start()
        await self.tps_share.beat()  # our share of the TPS before the first send
        self._every(BEAT_SECONDS, self.tps_share.beat, "tps-share")
        self._spawn(self.outbox.run, "outbox")
        self._spawn(self.rules_sync.run, "keywords-sync")
        self._every(RECEIPT_SWEEP_SECONDS, self.receipts.sweep, "receipt-sweep")
        self._every(RECEIPT_SWEEP_SECONDS, self.unsure.sweep, "unsure-sweep")
        self._every(PARTS_SWEEP_SECONDS, self.ingest.flush_stale_parts, "parts-sweep")
        self._every(self.settings.billing_interval, self.billing.tick, "billing")
        self._every(BROADCAST_TICK_SECONDS, self._broadcast_tick, "broadcasts")
        self._every(WEB_PURGE_SECONDS, self._purge_web_state, "web-purge")
        self._every(STRIPE_ERASURE_SECONDS, self._erase_at_stripe, "stripe-erasure")
        self._every(self.settings.questions_escalation_interval, self._escalate_questions,
                    "questions-escalation")
        if self.settings.notify_digest_minutes and self.staff_mail.sender is not None:
            self._every(digest.TICK_SECONDS, self.digests.tick, "expert-digests")
        if self.settings.voice_enabled:
            self._every(VOICE_DOWNLOAD_SECONDS, self.recordings.tick, "voice-recordings")
        self._spawn(self.webhooks.run, "webhooks")
        self._spawn(self.webhook_types.run, "webhook-types")
        self._spawn(self.imports.run, "imports")
        self._spawn(self.client.run, "smpp")
        self.mail = start_mail_intake(self.settings, self.pool, self.supervisor)
        self.mail_out = start_mail_out(self.settings, self.pool, self.supervisor, self.metrics,
                                       self.clock)
        self.mail_router = start_mail_router(self.settings, self.pool,
                                             lambda: self.rules.current, self.supervisor,
                                             clock=self.clock)
        async with self.pool.acquire() as conn:  # export jobs this instance left running
            await export_jobs.fail_stale(conn, self.settings, now=self.clock())
        if self.serve_web:
            await self._start_web()
        log.info("gateway_started", http_port=self.http_port, shortcode=self.settings.shortcode)

    async def _start_web(self) -> None:
        app = make_web_app(metrics=self.metrics, health_check=self.health)
        add_api_routes(app, WebContext(self.pool, self.settings,
                                       reload_rules=self.reload_everywhere,
                                       rules=lambda: self.rules.current,
                                       wake_outbox=self.outbox.wake, cards=self.cards,
                                       clock=self.clock))
        add_pages(app, smpp_state=lambda: "bound" if self.client.bound else "unbound",
                  programs=lambda: list(self.rules.current.programs))
        add_donor_details_routes(app, pool=self.pool, rules=lambda: self.rules.current,
                                 cookie_secure=self.settings.web_cookie_secure,
                                 clock=self.clock)
        if self.settings.write_form_enabled:
            add_write_form_routes(app, pool=self.pool, rules=lambda: self.rules.current,
                                  settings=self.settings, clock=self.clock,
                                  wake_outbox=self.outbox.wake)
        add_mail_consent_routes(app, pool=self.pool, settings=self.settings,
                                rules=lambda: self.rules.current, clock=self.clock)
        add_short_link_routes(app, pool=self.pool, settings=self.settings, clock=self.clock)
        if self.settings.voice_enabled:
            add_voice_routes(app, self.voice, self.settings, self.metrics)
        webhook_secret = self.settings.stripe_webhook_secret
        if self.cards is not None and webhook_secret is not None:
            add_stripe_webhook_route(
                app, pool=self.pool, webhook_secret=webhook_secret.get_secret_value(),
                card_lookup=self.cards.saved_card_of_intent,
                on_event=record_stripe_event)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.http_host, self.settings.http_port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.http_port = sockets[0].getsockname()[1] if sockets else self.settings.http_port

    async def stop(self) -> None:
        self.supervisor.stopping()  # tasks that end from here on end normally
        await self.outbox.stop()
        if self.mail_out is not None:
            await self.mail_out.stop()  # the mail under way finishes; the rest waits
        await self.imports.stop()
        await self.webhooks.stop()  # the POSTs under way finish; the rest waits
        await self.client.stop()
        with contextlib.suppress(asyncpg.PostgresError, OSError):
            await self.tps_share.leave()
        await self.ingest.close()
        await self.receipts.close()
        for errand in list(self._errands):
            errand.cancel()
        await asyncio.gather(*self._errands, return_exceptions=True)
        await self.supervisor.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        await export_jobs.stop()
        if self.cards is not None:
            await self.cards.aclose()
        await self.recordings.close()
        log.info(
            "gateway_stopped",
            mo_batches=sum(lane.batches for lane in self.ingest.lanes),
            mo_batched=sum(lane.items for lane in self.ingest.lanes),
        )

    async def health(self) -> dict[str, Any]:
        database = await ping(self.pool, within=1.0)
        result = {"database": database, "smpp": "bound" if self.client.bound else "unbound",
                  "tasks": self.supervisor.status()}
        if self.worker_states is not None:
            result["workers"] = dict(self.worker_states())
        return result

    def reload_rules(self) -> bool:
        """SIGHUP: swap in the new file, or keep the rules in force and say why."""
        try:
            rules = load_rules(self.settings.keywords)
            if problems := tariff_problems(self.settings.billing_aggregator,
                                           self.settings.billing_tariff_codes, rules):
                raise RulesError(problems)  # a price point the aggregator cannot bill
            if problems := shortcode_problems(self.settings, rules) + program_problems(
                    self.settings, rules):
                raise RulesError(problems)
            if problems := voice_problems(self.settings, rules):
                raise RulesError(problems)
            self.rules.replace(rules)
        except RulesError as err:
            log.error("keywords_reload_refused", problems=err.problems[:20])
            return False
        log.info("keywords_reloaded", path=str(self.settings.keywords))
        return True

    def reload_everywhere(self) -> bool:
        """The API's reload and SIGHUP: here, then on every other instance (rules_sync.py)."""
        swapped = self.reload_rules()
        if swapped:
            # A one-off errand, not a supervised task: the supervisor takes a task that
            # returns for a dead one (the gateway exited after every reload), and a second
            # reload would reuse the name.
            errand = asyncio.ensure_future(self._announce_reload())
            self._errands.add(errand)
            errand.add_done_callback(self._errands.discard)
        return swapped

    async def _announce_reload(self) -> None:
        try:
            await self.rules_sync.announce()
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as err:
            log.error("keywords_reload_not_announced", error=type(err).__name__)

    async def _broadcast_tick(self) -> int:
        touched = await self.broadcasts.tick()
        if touched:
            self.outbox.wake()  # new or re-timed rows: claim now, not at the next idle poll
        return touched

    async def _purge_web_state(self) -> int:
        """Expired sessions and login attempts older than the rate-limit window go."""
        now = self.clock()
        async with self.pool.acquire() as conn:
            sessions = await web_sessions.delete_expired(conn, now)
            window = timedelta(seconds=self.settings.web_login_window)
            attempts = await web_sessions.delete_old_attempts(conn, now - window)
            throttled = await login_throttle.delete_idle(conn, now - window)
        return sessions + attempts + throttled

    async def _escalate_questions(self) -> int:
        return await answers.escalate(self.pool, self.rules.current, self.clock(),
                                      mail=self.staff_mail)

    async def _erase_at_stripe(self) -> int:
        """Erased numbers' Stripe customers, deleted there (they wait without a Stripe key)."""
        if self.cards is None:
            return 0
        return await stripe_erasure.work_off(self.pool, self.cards)

    def _spawn(self, job: Callable[[], Awaitable[Any]], name: str) -> None:
        """A long-running task under the supervisor: the coroutine function, so it can restart."""
        self.supervisor.run(name, job)

    def _every(self, seconds: float, job: Callable[[], Awaitable[int]], name: str) -> None:
        self.supervisor.every(name, seconds, job)


def _stripe_cards(settings: Settings) -> StripeCards | None:
    """Card donations need a Stripe key; without one they wait in charge_requested."""
    key = settings.stripe_secret_key
    if key is None:
        return None
    webhook = settings.stripe_webhook_secret
    return StripeCards(StripeConfig(
        api_key=key.get_secret_value(),
        webhook_secret=webhook.get_secret_value() if webhook is not None else "",
        api_base=settings.stripe_api_base,
        checkout_success_url=settings.stripe_checkout_success_url,
        checkout_cancel_url=settings.stripe_checkout_cancel_url))


def digest_schedule(settings: Settings) -> digest.DigestSchedule:
    """GATEWAY_NOTIFY_DIGEST_*: the slots in the organization's time zone (finance's)."""
    try:
        zone = ZoneInfo(settings.organization_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError([f"GATEWAY_ORGANIZATION_TIMEZONE: {settings.organization_timezone!r} "
                           "is not an IANA time zone (e.g. Europe/Paris)"]) from None
    return digest.DigestSchedule(every_minutes=settings.notify_digest_minutes,
                                 hour=settings.notify_digest_hour, zone=zone)


def shortcode_problems(settings: Settings, rules: Rules) -> list[str]:
    """GATEWAY_SHORTCODE (the code of an MO that names none) must be one a program runs."""
    if settings.shortcode in rules.shortcodes:
        return []
    return [f"GATEWAY_SHORTCODE={settings.shortcode} names no program in {settings.keywords}; "
            f"its programs' short codes are {', '.join(sorted(rules.shortcodes))}"]


async def open_gateway(settings: Settings, *, migrate: bool, clock: Clock = utc_now) -> Gateway:
    """Load rules (refuse a bad file), connect, migrate, and build the gateway.

    `clock`: the gateway's "now" (gateway/clock.py); tests pass their own.
    """
    rules = load_rules(settings.keywords)
    if problems := tariff_problems(settings.billing_aggregator, settings.billing_tariff_codes,
                                   rules) + shortcode_problems(settings, rules) + \
            program_problems(settings, rules) + voice_problems(settings, rules):
        raise ConfigError(problems)
    if settings.stripe_secret_key is None and (offered := decisions.card_programs(rules)):
        # Such gifts are refused at once with the `unavailable` text (decisions.on_request).
        log.warning("card_gifts_offered_without_stripe_key", programs=offered)
    webhook_types = WantedTypes()  # every connection carries it: emits skip unwanted types
    pool = await create_pool(settings, min_size=2, max_size=settings.ingest_lanes + 8,
                             init=webhook_types.attach)
    if migrate:
        applied = await apply_migrations(pool, default_migrations_dir())
        if applied:
            log.info("migrations_applied", versions=applied)
    return Gateway(settings, pool, RulesHolder(rules), clock=clock,
                   webhook_types=webhook_types)


async def run_gateway(settings: Settings, *, migrate: bool, web: bool = True,
                      status_fd: int | None = None) -> None:
    """Run until SIGTERM/SIGINT; SIGHUP reloads keywords.yaml (on every instance).

    `web`: serve HTTP (False for the workers after the first); `status_fd`: the
    pipe a worker's supervisor writes to (gateway/workers/status.py); its end
    stops the worker.
    """
    tune_gc()
    if status_fd is not None:  # every log line of a worker says which one
        structlog.contextvars.bind_contextvars(instance=settings.instance_name)
    gateway = await open_gateway(settings, migrate=migrate)
    gateway.serve_web = web
    started_at = time.perf_counter()
    frozen = freeze_heap()
    log.info("heap_frozen", objects=frozen,
             ms=round((time.perf_counter() - started_at) * 1000, 1))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, gateway.reload_everywhere)
    link: asyncio.Task[None] | None = None
    ready: Callable[[], None] | None = None
    if status_fd is not None:
        supervisor = SupervisorLink(status_fd)
        gateway.worker_states = lambda: supervisor.states
        ready = supervisor.ready
        link = asyncio.create_task(supervisor.run(on_gone=stop.set))
    try:
        await serve(gateway, stop, started=ready)
    finally:
        if link is not None:
            link.cancel()
            await asyncio.gather(link, return_exceptions=True)


async def serve(gateway: Gateway, stop: asyncio.Event, *,
                started: Callable[[], None] | None = None) -> None:
    """Start, run until `stop` is set or a background task dies, stop, close the pool.

    `started`: called once everything has started (a worker tells its supervisor).

    A dead task raises `BackgroundTaskDied` once everything is stopped, so
    `gateway run` exits non-zero and the process supervisor restarts it.
    """
    try:
        await gateway.start()
        if started is not None:
            started()
        stopped = asyncio.create_task(stop.wait())
        died = asyncio.create_task(gateway.supervisor.died.wait())
        await asyncio.wait({stopped, died}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        died.cancel()
    finally:
        await gateway.stop()
        await gateway.pool.close()
    gateway.supervisor.raise_if_dead()
