"""Run the pure engine over stored MOs and persist its decisions, in the MO's transaction.

This is the shell around `engine.decide` (goflow/mailroom's split): load
each contact's state once per batch, thread it through that contact's MOs
in order, then write every new state, event and reply with one statement
each. Replies go to the outbox; nothing is sent from inside the transaction.
Each event goes on the contact's timeline and to its kind's handler
(pipeline/event_handlers.py), which schedules its rows for the batch:
consent events go to the ledger (pointing at the reply that carried their
disclosure), donation events to the donation ledger (pipeline/donation_ledger.py),
after the replies their confirmation requests point at, and questions for
the experts become rows (pipeline/contact_centre.py). Knowledge-base lookups
(`WHERE 90210`) are answered from the database once the batch is decided,
each in its MO's place among the replies. Each contact's saved card (last
four digits) is read once per batch, before deciding, so GIVE can offer the
express flow, and contacts whose profile changed get their derived location
columns (zip, region, time zones) rewritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from gateway import geo
from gateway.engine import Rules, decide
from gateway.engine.holder import RulesHolder
from gateway.engine.types import ContactState, Inbound
from gateway.pipeline import contact_centre, donation_ledger
from gateway.pipeline.batch_writes import BatchWrites, Origin
from gateway.pipeline.event_handlers import schedule
from gateway.pipeline.reply_handoff import Ticket
from gateway.pipeline.reply_links import ReplyLinks
from gateway.privacy.pseudonym import number_hash
from gateway.store import consent as consent_store
from gateway.store import contacts as contacts_store
from gateway.store import lane_reads, one_statement, webhook_events
from gateway.store import outbound as outbound_store
from gateway.store import privacy as privacy_store
from gateway.store import questions as questions_store
from gateway.store import tags as tags_store
from gateway.store import timeline as timeline_store
from gateway.store.inbound import NewInbound
from gateway.store.one_statement import Step
from gateway.store.outbound import NewOutbound
from gateway.store.timeline import NewEvent

# An unknown short code's answer goes to a number at most this often (see _unknown_shortcode).
UNKNOWN_SHORTCODE_REPLY_EVERY = timedelta(hours=24)


class DecisionWriter:
    def __init__(self, rules: RulesHolder, *, privacy_key: bytes | None = None,
                 link_base: str | None = None) -> None:
        self._rules = rules
        self._privacy_key = privacy_key
        self._links = ReplyLinks(link_base)  # tracked links in replies (GATEWAY_LINK_DOMAIN)
        self._postal: tuple[Rules, geo.PostalSteps] | None = None

    async def _returning_opt_outs(
        self, conn: asyncpg.Connection, new_keys: Sequence[tuple[str, str]]
    ) -> set[tuple[str, str]]:
        """New contacts whose number was erased after opting out: they start opted out.

        The erasure kept only a keyed hash of the number (gateway/privacy/); the
        hash is computed for numbers the batch has never stored, so a known
        contact costs nothing. A stray text then subscribes them to nothing,
        and JOIN or START opts them in again as a new consent.
        """
        if not new_keys or not self._privacy_key:
            return set()
        hashes = {key: number_hash(self._privacy_key, key[0]) for key in new_keys}
        found = await privacy_store.erased_opt_outs(conn, sorted(set(hashes.values())))
        return {key for key, digest in hashes.items() if (digest, key[1]) in found}

    async def record_undecided(
        self, conn: asyncpg.Connection, mos: Sequence[tuple[int, NewInbound]]
    ) -> None:
        """Mark MOs the engine could not decide on their contact's timeline, for follow-up."""
        await timeline_store.insert_batch(
            conn,
            [
                NewEvent(mo.msisdn, mo.shortcode, mo_id, "decision_failed", {}, mo.received_at)
                for mo_id, mo in mos
            ],
        )

    async def read(
        self, conn: asyncpg.Connection, keys: Sequence[tuple[str, str]], *,
        digests: Sequence[bytes] = (), since: datetime | None = None, lock: bool = False,
    ) -> lane_reads.BatchRead:
        """What deciding on these contacts reads, in one statement (store/lane_reads.py),
        with the unread acknowledgements of `digests` the lane asks for in the same trip;
        `lock`: the numbers' locks first, in the same statement."""
        cards, holds = donation_ledger.reads(self._rules.current)
        return await lane_reads.read_batch(conn, keys, cards=cards, holds=holds,
                                           digests=digests, since=since, lock=lock)

    async def decide_and_write(
        self, conn: asyncpg.Connection, mos: Sequence[tuple[int, NewInbound]],
        *, first: Sequence[Step] = (), found: lane_reads.BatchRead | None = None,
        handoff: Ticket | None = None,
    ) -> int:
        """Decide every MO in order; return how many replies were queued.

        `first`: the batch's own writes (its MOs), sent in the decisions' one statement;
        `found`: `read` of (at least) these MOs' contacts, already made in this transaction;
        `handoff`: the sender's reservation, for replies written claimed
        (pipeline/reply_handoff.py); without it every reply is queued.
        """
        if not mos:
            await one_statement.run(conn, [step for step in first if step.rows])
            return 0
        rules = self._rules.current
        unknown = [(i, mo) for i, mo in mos if mo.shortcode not in rules.shortcodes]
        if unknown:
            # their timeline rows point at the MOs: those are written first, on their own
            await one_statement.run(conn, [step for step in first if step.rows])
            mos = [(i, mo) for i, mo in mos if mo.shortcode in rules.shortcodes]
            answered = await self._unknown_shortcode(conn, rules, unknown)
            if not mos:
                return answered
            return answered + await self.decide_and_write(conn, mos, found=found,
                                                          handoff=handoff)
        keys = list(dict.fromkeys((mo.msisdn, mo.shortcode) for _, mo in mos))
        if found is None:
            found = await self.read(conn, keys)
        stored = {key: found.states[key] for key in keys if key in found.states}
        returning = await self._returning_opt_outs(conn, [k for k in keys if k not in stored])
        # saved cards and donor-details holds, as the engine reads them
        outside = await donation_ledger.read_outside(conn, rules, found)
        states: dict[tuple[str, str], ContactState] = {}
        for key in keys:
            opted_out, data = stored.get(key, (key in returning, {}))
            data = dict(outside.apply(key, data))
            states[key] = ContactState.from_json(key[0], key[1], opted_out, data)
        writes = BatchWrites()
        last_seen: dict[tuple[str, str], datetime] = {}
        for mo_id, mo in mos:
            key = (mo.msisdn, mo.shortcode)
            inbound = Inbound(mo_id, mo.msisdn, mo.shortcode, mo.body, mo.received_at)
            decision = decide(states[key], inbound, now=mo.received_at, rules=rules)
            states[key] = decision.new_state
            last_seen[key] = mo.received_at
            writes.replies.extend(
                NewOutbound(
                    mo.msisdn, mo.shortcode, reply.text, reply.priority, reply.compliance,
                    mo_id, mo.received_at,
                )
                for reply in decision.replies
            )
            if decision.events:  # after the replies: a lookup's answer follows the engine's
                origin = Origin(mo_id, mo.msisdn, mo.shortcode, mo.received_at,
                                decision.new_state, mo.body)
                for event in decision.events:
                    schedule(event, origin, writes)
        # knowledge-base lookups (committees, events) answered in their places
        replies = await contact_centre.answer_lookups(conn, rules, writes.replies)
        replies = await self._links.shorten(conn, rules, replies)
        # Replies that can leave now (not to an opted-out contact, unless they confirm the
        # opt-out) are written claimed when the sender has room for them.
        handed = handoff.flags([r.compliance or not states[(r.msisdn, r.shortcode)].opted_out
                                for r in replies]) if handoff is not None else []
        # One round trip for what nearly every batch writes (store/one_statement.py);
        # the ledger's step reads the ids of the replies it points at from theirs.
        rows = await one_statement.fetch(conn, [
            *first,
            contacts_store.upsert_step(
                [(k[0], k[1], s.opted_out, s.to_json()) for k, s in states.items()],
                now=max(last_seen.values())),
            timeline_store.insert_step(writes.timeline),
            outbound_store.replies_step(replies, handed,
                                        handoff.taker.lease if handoff is not None else None),
            consent_store.after_replies_step(writes.consent),
        ], outbound_store.HANDED_REPLIES)
        if handoff is not None and rows:
            handoff.handed(outbound_store.handed_messages(
                rows, {mo_id: mo.received_at for mo_id, mo in mos}))
        await consent_store.emit_webhooks(conn, writes.consent)
        await donation_ledger.write(conn, writes)  # after the replies its events point at
        await questions_store.insert_batch(conn, writes.questions)
        await tags_store.insert_batch(conn, writes.tags)  # a keyword's tags (ContactTagged)
        await contacts_store.update_geo(conn, self._relocated(rules, stored, states))
        await webhook_events.emit(conn, writes.webhooks)  # profile answers (no statement if none)
        return len(replies)

    async def _unknown_shortcode(
        self, conn: asyncpg.Connection, rules: Rules, mos: Sequence[tuple[int, NewInbound]]
    ) -> int:
        """No program runs on the texted code: keep the MO, say so, and answer from that code.

        Borrowing another code's program answered with its texts and sent some
        replies from the other code; no program's state, consent or keyword
        applies here. The answer (`defaults.unknown_shortcode_reply`) is optional,
        and goes to a number at most once per UNKNOWN_SHORTCODE_REPLY_EVERY on
        that code: a script or a loop texting a dead code must not make the
        gateway text back at the same rate (every MO is still kept and on the
        timeline).
        """
        await timeline_store.insert_batch(conn, [
            NewEvent(mo.msisdn, mo.shortcode, mo_id, "unknown_shortcode",
                     {"shortcode": mo.shortcode}, mo.received_at)
            for mo_id, mo in mos
        ])
        text = rules.defaults.unknown_shortcode_reply
        if text is None:
            return 0
        first: dict[tuple[str, str], tuple[int, NewInbound]] = {}
        for mo_id, mo in mos:
            first.setdefault((mo.msisdn, mo.shortcode), (mo_id, mo))
        since = min(mo.received_at for _, mo in mos) - UNKNOWN_SHORTCODE_REPLY_EVERY
        answered = await outbound_store.answered_since(conn, list(first), since)
        replies = [
            NewOutbound(mo.msisdn, mo.shortcode, text, outbound_store.PRIORITY_REPLY, False,
                        mo_id, mo.received_at)
            for key, (mo_id, mo) in first.items() if key not in answered
        ]
        await outbound_store.insert_batch(conn, replies)
        return len(replies)

    def _relocated(
        self,
        rules: Rules,
        stored: dict[tuple[str, str], tuple[bool, dict[str, Any]]],
        states: dict[tuple[str, str], ContactState],
    ) -> list[tuple[str, str, geo.Geo]]:
        """Where new contacts and contacts whose profile changed now are."""
        if self._postal is None or self._postal[0] is not rules:
            steps = (step.spec for dialog in rules.dialogs.values() for step in dialog.steps)
            self._postal = (rules, geo.postal_steps(steps))
        moved = []
        for (msisdn, shortcode), state in states.items():
            profile = state.data.get("profile") or {}
            before = stored.get((msisdn, shortcode))
            if before is not None and (before[1].get("profile") or {}) == profile:
                continue
            found = geo.derive(msisdn, profile, self._postal[1])
            if before is not None or found != geo.UNKNOWN:  # a new row's columns start empty
                moved.append((msisdn, shortcode, found))
        return moved

