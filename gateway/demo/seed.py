"""`gateway demo seed`: play the demo's story into a database marked as the demo's.

Steps, each skipping what an earlier run already wrote (so `make demo` may
run it every time): committees and events; each person's texts (skipped
when their contact exists), decided by the MO pipeline at their time in the
story, with the billing service's pass after every gift and the outbox
delivered as it goes; the public form's questions (deduplicated by their
form nonce, as a double post is); and a broadcast sent today to the rise
program, with a few replies (STOP, GIVE, EVENTS). The random choices come
from one fixed seed (cast.py), so every run plans the same story.

Why the broadcast is timed today and its quiet hours are lifted for the
seed alone: its deliveries, replies and gifts are timestamped by the
database clock when the outbox records them, and "already sent" must hold
at whatever hour the demo starts. The running gateway keeps its real quiet
hours.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Final

import asyncpg

from gateway.broadcast import control
from gateway.broadcast import service as broadcasts
from gateway.broadcast.policy import QuietHoursPolicy
from gateway.broadcast.quiet_hours import QuietRules
from gateway.config import Settings
from gateway.demo import cast, places
from gateway.demo.cards import DemoCards, save_card
from gateway.demo.marker import require_demo_database
from gateway.demo.texting import Texter
from gateway.engine import Rules
from gateway.engine.holder import RulesHolder
from gateway.privacy.pseudonym import number_hash
from gateway.routing.form_post import FormPost
from gateway.routing.form_submit import Limits, submit
from gateway.routing.intake import Routing
from gateway.routing.outgoing import Sender
from gateway.store import broadcasts as broadcast_store
from gateway.store import contacts as contacts_store
from gateway.store import privacy as privacy_store

CREATED_BY: Final = "demo seed"
BROADCAST_TEXT: Final = (
    "{program}: rally for paid family leave this Saturday! Text EVENTS for details or "
    "GIVE 5 to chip in. Reply STOP to cancel.")
BROADCAST_REPLIES: Final = ("STOP", "EVENTS", "GIVE 5", "GIVE 5", "EVENTS", "WHERE", "GIVE 10",
                            "STOP", "GIVE 5", "Thank you, see you Saturday!")
# The seed's own broadcast goes at any hour: see the module's docstring.
ANY_HOUR: Final = QuietRules(start=time(0), end=time(23, 59))
SEED_POLICY: Final = QuietHoursPolicy(default=ANY_HOUR, restricted=ANY_HOUR, countries={})


@dataclass(slots=True)
class Seeded:
    """What one run added (zero everywhere on a second run)."""

    committees: int = 0
    events: int = 0
    people: int = 0
    texts: int = 0
    written_questions: int = 0
    broadcast_recipients: int = 0
    delivered: int = 0

    def summary(self) -> str:
        """One line for `make demo`'s screen: what this run added."""
        parts = [f"{count} {what}" for count, what in (
            (self.people, "made-up supporters"), (self.committees, "committees"),
            (self.events, "events"), (self.written_questions, "form questions")) if count]
        if self.broadcast_recipients:
            parts.append(f"a broadcast to {self.broadcast_recipients}")
        if not parts:
            return "already seeded, nothing added"
        return "seeded " + (", ".join(parts[:-1]) + " and " if len(parts) > 1 else "") + parts[-1]

    def lines(self) -> list[str]:
        return [self.summary(), f"committees added: {self.committees}",
                f"events added: {self.events}",
                f"supporters added: {self.people} ({self.texts} texts)",
                f"questions from the form: {self.written_questions}",
                f"broadcast sent to: {self.broadcast_recipients}",
                f"texts delivered: {self.delivered}"]


async def seed(pool: asyncpg.Pool, settings: Settings, rules: Rules, *,
               now: datetime | None = None) -> Seeded:
    """Refuses (NotADemoDatabase) unless the database carries the demo mark."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    async with pool.acquire() as conn:
        await require_demo_database(conn)
    done = Seeded()
    holder = RulesHolder(rules)
    secret = settings.privacy_hash_secret
    key = secret.get_secret_value().encode() if secret else None
    texter = Texter(pool, holder, privacy_key=key, cards=DemoCards(),
                    aggregator=settings.billing_aggregator)
    async with pool.acquire() as conn, conn.transaction():
        done.committees = await places.add_committees(conn)
        done.events = await places.add_events(conn, now)
    await _play_people(pool, texter, now, done, key)
    done.written_questions = await _written_questions(pool, settings, rules, now)
    await _broadcast(pool, texter, rules, now, done)
    done.delivered = texter.delivered
    return done


async def _play_people(pool: asyncpg.Pool, texter: Texter, now: datetime, done: Seeded,
                       privacy_key: bytes | None) -> None:
    people = cast.cast()
    keys = [(p.msisdn, p.shortcode) for p in people]
    async with pool.acquire() as conn:
        there = set(await contacts_store.list_states(conn, keys))
        if privacy_key:  # someone erased in the demo stays erased
            hashes = {key: number_hash(privacy_key, key[0]) for key in keys}
            gone = await privacy_store.erased(conn, sorted(set(hashes.values())))
            there |= {key for key, digest in hashes.items() if (digest, key[1]) in gone}
    new = [p for p in people if (p.msisdn, p.shortcode) not in there]
    start = now - timedelta(days=cast.STORY_DAYS)
    async with pool.acquire() as conn:
        for n, person in enumerate(new):
            if person.saved_card:
                await save_card(conn, person.msisdn, n, start)
    plan = sorted(((start + t.at, i, t) for i, p in enumerate(new) for t in p.texts),
                  key=lambda item: (item[0], item[1]))
    for when, i, text in plan:
        person = new[i]
        await texter.text(person.msisdn, person.shortcode, text.body, min(when, now))
        if text.bill:
            await texter.bill()
        else:
            await texter.deliver()
    done.people, done.texts = len(new), len(plan)


async def _written_questions(pool: asyncpg.Pool, settings: Settings, rules: Rules,
                             now: datetime) -> int:
    """Posts of the public form, a few hours old; a second run's are duplicates."""
    routing = Routing(Sender.of(settings), settings.mail_route_knowledge_max_words)
    secret = settings.write_form_secret
    limits = Limits(key=(secret.get_secret_value() if secret else "demo").encode(),
                    per_ip=1000, per_address=1000)
    added = 0
    for n, (theme, name, email, message) in enumerate(cast.WRITTEN_QUESTIONS):
        post = FormPost(language="fr", theme=theme, message=message, name=name, email=email,
                        msisdn=None, campaign_box=False)
        result = await submit(pool, rules, routing, limits, program="ensemble", post=post,
                              nonce=f"demo-written-{n}", client="127.0.0.1",
                              now=now - timedelta(hours=3 * (len(cast.WRITTEN_QUESTIONS) - n)),
                              settings=settings)
        added += result.outcome == "accepted"
    return added


async def _broadcast(pool: asyncpg.Pool, texter: Texter, rules: Rules, now: datetime,
                     done: Seeded) -> None:
    async with pool.acquire() as conn:
        if await broadcast_store.find_by_creator(conn, CREATED_BY) is not None:
            return
        async with conn.transaction():
            broadcast_id = await broadcasts.create(
                conn, rules=rules, program="rise", shortcode=cast.RISE_CODE, where="",
                text=BROADCAST_TEXT, created_by=CREATED_BY, now=now)
            await control.start(conn, broadcast_id)
        result = await broadcasts.materialize(
            conn, broadcast_id, policy=SEED_POLICY,
            variables=broadcasts.variables_of("rise", cast.RISE_CODE), clock=lambda: now)
    done.broadcast_recipients = result.recipients
    texter.at(now)
    await texter.deliver()
    async with pool.acquire() as conn:
        states = await contacts_store.list_states(
            conn, [(p.msisdn, p.shortcode) for p in cast.cast() if p.shortcode == cast.RISE_CODE])
    subscribed = sorted(key[0] for key, (opted_out, _) in states.items() if not opted_out)
    rng = random.Random(cast.SEED + 1)
    repliers = rng.sample(subscribed, min(len(subscribed), len(BROADCAST_REPLIES)))
    # Read off the clock as they go: after the deliveries the outbox just recorded, and
    # never ahead of the database's now() (the outbox sends nothing due in the future).
    for msisdn, body in zip(repliers, BROADCAST_REPLIES, strict=False):
        await texter.text(msisdn, cast.RISE_CODE, body, datetime.now(UTC))
        if body.startswith("GIVE"):
            await texter.text(msisdn, cast.RISE_CODE, "YES", datetime.now(UTC))
            await texter.bill(after=timedelta(0))
        else:
            await texter.deliver()
    async with pool.acquire() as conn:
        await broadcast_store.finish_done(conn, datetime.now(UTC))
