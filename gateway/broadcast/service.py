"""Create, preview and materialize broadcasts: the pure parts joined to the store.

The CLI and the admin API call these; each takes a connection and the
values it needs (time included), so the same code runs in tests, in the
CLI and in the gateway process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from gateway.audience import Audience, parse_audience
from gateway.broadcast import ab_test, compose_checks, frequency, links, send_time
from gateway.broadcast.messages import TextReport, body_parts, parse_text, report
from gateway.broadcast.policy import QuietHoursPolicy
from gateway.broadcast.quiet_hours import NoAllowedTime
from gateway.broadcast.schedule import Scheduler
from gateway.engine import Rules
from gateway.engine.templates import Template
from gateway.logs import get_logger
from gateway.plain_words import N_, said
from gateway.store import audience as audience_store
from gateway.store import broadcast_results as results_store
from gateway.store import broadcast_variants as variant_store
from gateway.store import broadcasts as store
from gateway.store import outbound as outbound_store

log = get_logger("gateway.broadcast")

DEFAULT_BATCH = 10_000
MAX_RETIMES = 5


class BroadcastError(Exception):
    """A broadcast that cannot be created or materialized; the message says what to fix."""


class FrequencyExceeded(BroadcastError):
    """The broadcast would send recipients past their program's promised frequency."""


@dataclass(frozen=True, slots=True)
class Preview:
    recipients: int
    text: TextReport
    samples: tuple[tuple[str, str], ...]  # (msisdn, rendered text)
    shortcode: str  # the code it would go out on


@dataclass(frozen=True, slots=True)
class MaterializeResult:
    broadcast_id: int
    inserted: int  # outbox rows made by this call
    recipients: int  # outbox rows of the broadcast in all (this call and earlier ones)
    batches: int


def variables_of(program: str, shortcode: str) -> dict[str, str]:
    """The values filled in for every recipient; other placeholders are profile fields."""
    return {"program": program, "shortcode": shortcode}


def shortcode_of(rules: Rules, program: str, asked: str | None, default: str) -> str:
    """The short code a broadcast of `program` goes out on (`ComposeError` if not its own)."""
    return compose_checks.shortcode_for(compose_checks.program_of(rules, program), asked, default)


def _checked_text(
    rules: Rules, program: str, shortcode: str, text: str, variables: Mapping[str, str]
) -> Template:
    template = parse_text(text)
    found = compose_checks.program_of(rules, program)
    compose_checks.shortcode_for(found, shortcode, shortcode)
    compose_checks.check_text(template, found, rules=rules, shortcode=shortcode,
                              variables=variables)
    return template


async def create(
    conn: asyncpg.Connection,
    *,
    rules: Rules,
    program: str,
    shortcode: str,
    where: str,
    text: str,
    created_by: str,
    now: datetime,
    scheduled_at: datetime | None = None,
    zone: str = "UTC",
    override_frequency: bool = False,
    segment: tuple[int, str] | None = None,
    ab: ab_test.AbTest | None = None,
) -> int:
    """Check the filter, the text, the send time and the promised frequency; store a draft
    (or a scheduled one).

    `rules` are the keywords in force (the program, its profile fields, its
    language, its promised frequency); `zone` is the organizer's, for the
    refusal of a past time. `segment` (id, name): a saved segment whose filter
    `where` is now; it is read again when the broadcast is materialized. A
    broadcast that would send anyone past the
    program's promise is refused unless `override_frequency`, and an override
    that mattered is written to the audit log in the caller's transaction.
    """
    audience = parse_audience(where)  # AudienceError says where the filter is wrong
    _checked_text(rules, program, shortcode, text, variables_of(program, shortcode))
    if ab is not None:  # variant 1 is `text`; every variant is checked as `text` is
        ab = ab_test.checked(ab)
        if ab.texts[0] != text:
            raise compose_checks.ComposeError("variants", N_("variant 1 is the broadcast's text"))
        for variant in ab.texts[1:]:
            _checked_text(rules, program, shortcode, variant, variables_of(program, shortcode))
    if scheduled_at is not None and scheduled_at.tzinfo is None:
        raise BroadcastError(N_("scheduled_at needs a time zone (an ISO time with +00:00 or Z)"))
    send_time.check_ahead(scheduled_at, now=now, zone=zone)
    program_rules = compose_checks.program_of(rules, program)
    past = await frequency.pushed_past(
        conn, program_rules, shortcode=shortcode, audience=audience, at=scheduled_at, now=now)
    if past.recipients and not override_frequency:
        raise FrequencyExceeded(past.refusal())
    broadcast_id = await store.insert_broadcast(
        conn, program=program, shortcode=shortcode, filter=where, template=text,
        status="draft" if scheduled_at is None else "scheduled", scheduled_at=scheduled_at,
        created_by=created_by, frequency=frequency.kept_promise(program_rules),
        frequency_overridden=override_frequency, segment=segment,
    )
    if past.recipients:
        await frequency.record_override(conn, broadcast_id, past, actor=created_by)
    if ab is not None:
        await variant_store.insert(conn, broadcast_id, ab.texts)
        await store.set_ab_test(conn, broadcast_id, test_percent=ab.test_percent,
                                metric=ab.metric, wait=ab.wait, auto=ab.auto)
    return broadcast_id


async def preview(
    conn: asyncpg.Connection,
    *,
    rules: Rules,
    program: str,
    shortcode: str,
    where: str,
    text: str,
    variables: Mapping[str, str],
    now: datetime,
    sample_size: int = 5,
    link_base: str | None = None,
) -> Preview:
    """How many it reaches, a few rendered messages, and the SMS cost, before anything is sent.

    The text is refused here as `create` would refuse it, so the organizer
    learns at the preview, not at the last click. With `link_base` (tracked
    links on), the samples and the segments are those of the text as sent: each
    link at its short link's length.
    """
    audience = parse_audience(where)
    template = links.shortened_template(
        _checked_text(rules, program, shortcode, text, variables), link_base)
    recipients = await audience_store.count(
        conn, shortcode=shortcode, program=program, audience=audience, now=now
    )
    contacts = await audience_store.sample(
        conn, shortcode=shortcode, program=program, audience=audience, now=now, limit=sample_size
    )
    text_report = report(template, variables, [c.profile for c in contacts])
    rendered = tuple(
        (c.msisdn, s.text) for c, s in zip(contacts, text_report.samples, strict=True)
    )
    return Preview(recipients, text_report, rendered, shortcode)


async def materialize(
    conn: asyncpg.Connection,
    broadcast_id: int,
    *,
    policy: QuietHoursPolicy,
    variables: Mapping[str, str],
    clock: Callable[[], datetime],
    program_country: str | None = "US",
    batch_size: int = DEFAULT_BATCH,
    link_base: str | None = None,
) -> MaterializeResult:
    """Write the broadcast's outbox rows, batch by batch, from where an earlier run stopped.

    With `link_base` (GATEWAY_LINK_DOMAIN), each link of the text becomes the
    recipient's own tracked short link (broadcast/links.py), its destination
    fixed now; without it the text goes as written.

    Safe to call again after a crash or on a finished broadcast: each batch
    commits with the cursor, and (broadcast, number) is unique.

    The outbox's planner statistics are refreshed after the first batch (its
    rows are claimable at once, while later batches are still being written)
    and after the last. Without that, the sender's claim ran on a plan cached
    while the outbox was small, which walked every queued row for each claim:
    seconds per claim until autovacuum's next ANALYZE, replies stuck behind it.
    """
    broadcast = await store.get_broadcast(conn, broadcast_id)
    if broadcast is None:
        raise BroadcastError(said(N_("broadcast %(broadcast_id)s does not exist"),
                                  broadcast_id=broadcast_id))
    if broadcast.status == "cancelled":
        raise BroadcastError(said(N_("broadcast %(broadcast_id)s is cancelled; nothing to "
                                     "materialize"), broadcast_id=broadcast_id))
    if broadcast.materialized_at is not None or broadcast.ab_phase == "waiting":
        return MaterializeResult(broadcast_id, 0, broadcast.recipients, 0)
    # a saved segment is read now, once: the broadcast keeps the definition it went to
    if broadcast.segment_name is not None and broadcast.segment_resolved_at is None:
        await store.resolve_segment(conn, broadcast_id, now=clock())
        broadcast = await store.get_broadcast(conn, broadcast_id) or broadcast
    audience = parse_audience(broadcast.filter)
    texts = await _texts(conn, broadcast, variables, link_base)
    now = clock()
    scheduler = Scheduler(
        policy, program_country=program_country, start=broadcast.scheduled_at or now
    )
    scheduler.add(await store.list_zone_keys(conn, broadcast, audience, now=now), now)
    cursor = broadcast.materialized_through or ""
    inserted = batches = skipped = 0
    analyzed_at = 0  # rows inserted when the outbox's statistics were last refreshed
    while True:
        result = await _one_batch(
            conn, broadcast, audience, texts, scheduler, cursor, batch_size, clock, now
        )
        inserted += result.inserted
        skipped += result.over_frequency
        batches += 1
        if inserted and not analyzed_at:  # the first rows are due now: see below
            await outbound_store.refresh_statistics(conn)
            analyzed_at = inserted
        if result.through is not None:
            cursor = result.through
        if result.scanned < batch_size:
            break
        if await store.get_status(conn, broadcast_id) == "cancelled":  # cancelled meanwhile
            raise BroadcastError(said(N_("broadcast %(broadcast_id)s was cancelled while "
                                         "materializing"), broadcast_id=broadcast_id))
    if inserted > analyzed_at:
        await outbound_store.refresh_statistics(conn)
    if broadcast.ab_phase == "testing":  # the test's texts are written; the rest waits
        decide_at = now + (broadcast.ab_wait or timedelta(0))
        await store.end_test_phase(conn, broadcast_id, decide_at)
        log.info("broadcast_ab_test_written", broadcast_id=broadcast_id, inserted=inserted,
                 decide_at=decide_at.isoformat())
        return MaterializeResult(broadcast_id, inserted, inserted, batches)
    async with conn.transaction():  # finished and, if any were skipped, said so: together
        await store.mark_materialized(conn, broadcast_id)
        done = await store.get_broadcast(conn, broadcast_id)
        if done is not None and done.over_frequency:
            await frequency.record_skipped(conn, done)
    recipients = done.recipients if done is not None else inserted
    log.info("broadcast_materialized", broadcast_id=broadcast_id, inserted=inserted,
             recipients=recipients, batches=batches, over_frequency=skipped)
    return MaterializeResult(broadcast_id, inserted, recipients, batches)


async def _texts(conn: asyncpg.Connection, broadcast: store.Broadcast,
                 variables: Mapping[str, str], link_base: str | None) -> list[store.VariantText]:
    """What this materialization writes: the broadcast's text; an A/B test's variants (the
    test share); or its winner (everyone not yet sent)."""
    if broadcast.ab_phase is None:
        chosen = {0: broadcast.template}
    else:
        variants = await variant_store.texts_of(conn, broadcast.id)
        if broadcast.ab_phase == "testing":
            chosen = variants
        else:
            winner = broadcast.ab_winner or 1
            chosen = {winner: variants[winner]}
    texts = []
    for number, template in sorted(chosen.items()):
        short = links.shorten_parts(body_parts(parse_text(template), variables), link_base)
        texts.append(store.VariantText(number or None, short.parts, short.destinations))
    return texts


async def decide(conn: asyncpg.Connection, broadcast_id: int, *,
                 winner: int | None = None) -> int:
    """Choose the A/B test's winner (by its metric, or `winner` when an organizer picks one);
    the gateway's next tick sends it to the rest. `BroadcastError` when not waiting."""
    broadcast = await store.get_broadcast(conn, broadcast_id)
    if broadcast is None:
        raise BroadcastError(said(N_("broadcast %(broadcast_id)s does not exist"),
                                  broadcast_id=broadcast_id))
    if broadcast.ab_phase != "waiting" or broadcast.ab_metric is None:
        raise BroadcastError(said(N_("broadcast %(broadcast_id)s has no A/B test waiting for a "
                                     "winner"), broadcast_id=broadcast_id))
    count = len(await variant_store.texts_of(conn, broadcast_id))
    if winner is None:
        stats = [ab_test.VariantStats(**dict(r))
                 for r in await results_store.variant_stats(conn, broadcast_id)]
        winner = ab_test.winner(broadcast.ab_metric, stats, count)
    elif not 1 <= winner <= count:
        raise compose_checks.ComposeError("winner", said(N_("variant %(winner)s is not one of 1 to "
                                                            "%(count)s"),
                                                         winner=winner, count=count))
    if not await store.decide(conn, broadcast_id, winner):
        raise BroadcastError(said(N_("broadcast %(broadcast_id)s: the winner was chosen meanwhile"),
                                  broadcast_id=broadcast_id))
    log.info("broadcast_ab_winner", broadcast_id=broadcast_id, winner=winner,
             metric=broadcast.ab_metric)
    return winner


async def _one_batch(
    conn: asyncpg.Connection,
    broadcast: store.Broadcast,
    audience: Audience | None,
    texts: list[store.VariantText],
    scheduler: Scheduler,
    cursor: str,
    batch_size: int,
    clock: Callable[[], datetime],
    audience_now: datetime,
) -> store.BatchResult:
    """One batch; quiet hours are timed at this batch's own `now` (windows close meanwhile)."""
    for _ in range(MAX_RETIMES):
        now = clock()
        try:
            timing = scheduler.timing(now)
        except NoAllowedTime as err:
            raise BroadcastError(
                said(N_("broadcast %(id)s: %(err)s; the quiet-hours config leaves no time to send"),
                     id=broadcast.id, err=err)
            ) from err
        per_row = max(len(t.destinations) for t in texts)
        result = await store.materialize_batch(
            conn, broadcast, audience, body=(), timing=timing, after=cursor,
            batch_size=batch_size, now=audience_now, caps=scheduler.caps(),
            link_tokens=links.new_tokens(batch_size * per_row), texts=texts,
            test_percent=broadcast.ab_test_percent if broadcast.ab_phase == "testing" else None,
        )
        if not result.untimed:
            return result
        scheduler.add(result.untimed, now)
    raise BroadcastError(
        said(N_("broadcast %(id)s: contacts kept changing location during materialization; run it "
                "again"), id=broadcast.id)
    )
