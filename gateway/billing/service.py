"""The billing service: the runner of decisions.py, confirmed gifts and card requests in,
one charge attempt, payment page or refusal out.

Why a periodic task and not the MO pipeline: limits need the donor's totals,
and a card charge or a Checkout page is an HTTP call that must never run
inside the MO's transaction. What to do is decided in decisions.py (pure);
this class reads what a decision needs, records what it decided and makes
the calls. Each tick:

1. claims confirmed gifts (SKIP LOCKED, so several gateways share the queue)
   and, per gift, in that one transaction: decides (`on_confirmed`), reading
   the opt-out state, then, under the donor's lock, their totals, details on
   file and saved card; records exactly one of `cancelled`, `refused` (and
   queues the polite refusal), `details_requested` (the details text with
   its link and the SMS dialog's first question), `billing_submitted`
   (carrier: the billed MT goes into the outbox with the aggregator's
   parameters) or `charge_requested` (card);
2. claims card requests of the Checkout flow (numbers without a saved card)
   and decides the same way before any page can take money (`on_request`);
3. after COMMIT, charges each requested card at Stripe and creates each page
   (`on_charge`, `on_page` record the answers). A charge's idempotency key
   is the donation's id, a page's is derived from it, so a retry, a second
   gateway, or a restart after a crash between COMMIT and the call charges
   at most once and gets the same page back. Gifts left in
   `charge_requested` are asked again after `card_retry_after_s`; a page's
   link is recorded (`confirmation_sent`, once) before it is texted;
4. expires requests with no YES by their deadline (plus a grace period for a
   YES still in the MO pipeline) and holds whose details never came;
5. settles billed MTs from their receipts (`on_receipt`).

A held gift is released by billing/details.py (web form, SMS dialog or
staff) to `confirmed`, or `requested` for a Checkout gift, and the next tick
decides again. Paying on a page is the confirmation; its webhook
(webhook_ledger.py) records confirmed and charged and saves the card for the
next GIVE. Without a Stripe key no page can be made: such requests are
refused with the `unavailable` text (app.py warns at start-up).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import asyncpg

from gateway.billing import decisions
from gateway.billing.aggregators import AggregatorProfile
from gateway.billing.decision_types import (
    Cancel,
    CarrierBilling,
    ConfirmedDecision,
    DonorFacts,
    Hold,
    NeedFacts,
    OfferPage,
    Refuse,
    RequestCharge,
    RequestDecision,
    SendLink,
    Settle,
    Skip,
    SubmitBilledMt,
    Wait,
)
from gateway.billing.details import new_details_link
from gateway.billing.policy import DonationPolicy, DonorTotals
from gateway.billing.stripe_client import ChargeResult, CheckoutLink, StripeCards, StripeFailure
from gateway.engine.holder import RulesHolder
from gateway.logs import get_logger
from gateway.privacy.pseudonym import number_hash, pseudonym_of
from gateway.store import billing as billing_store
from gateway.store import contacts as contacts_store
from gateway.store import donations as donation_store
from gateway.store import outbound as outbound_store
from gateway.store import stripe_store
from gateway.store.donations import DonationRow, NewDonationEvent, sum_totals
from gateway.store.outbound import NewBilledMt, NewOutbound

log = get_logger("gateway.billing")

# What one transaction decided and the call it leaves for after COMMIT.
Call = tuple[DonationRow, RequestCharge] | tuple[DonationRow, DonationPolicy, OfferPage]


class BillingService:
    def __init__(
        self, pool: asyncpg.Pool, rules: RulesHolder, *, aggregator: AggregatorProfile,
        cards: StripeCards | None = None, batch: int = 100, expiry_grace_s: float = 300.0,
        card_retry_after_s: float = 30.0, clock: Callable[[], datetime] | None = None,
        details_base_url: str | None = None, tariff_codes: Mapping[int, str] | None = None,
        privacy_key: bytes | None = None,
    ) -> None:
        self._pool = pool
        self._rules = rules
        self._aggregator = aggregator
        self._carrier = CarrierBilling(aggregator, dict(tariff_codes or {}))
        self._cards = cards
        self._batch = batch
        self._grace = timedelta(seconds=expiry_grace_s)
        self._card_retry = timedelta(seconds=card_retry_after_s)
        self._now = clock or (lambda: datetime.now(UTC))
        self._details_base_url = details_base_url
        self._privacy_key = privacy_key

    async def tick(self) -> int:
        """One pass of every job; returns how many donations changed."""
        changed = await self.charge_confirmed()
        changed += await self.offer_pages()
        changed += await self.retry_stale_charges()
        changed += await self.expire()
        changed += await self.settle_billed()
        return changed

    # -- the jobs -----------------------------------------------------------------------

    async def charge_confirmed(self) -> int:
        rules = self._rules.current
        calls: list[Call] = []
        async with self._pool.acquire() as conn, conn.transaction():
            claimed = await donation_store.claim_to_charge(conn, limit=self._batch)
            if not claimed:
                return 0
            states = await contacts_store.list_states(
                conn, list(dict.fromkeys((d.msisdn, d.shortcode) for d in claimed)))
            for d in sorted(claimed, key=lambda d: (d.msisdn, d.committee, d.id)):
                policy = decisions.policy_for(rules, d)
                opted_out = states.get((d.msisdn, d.shortcode), (False, {}))[0]
                decision = decisions.on_confirmed(d, policy, opted_out=opted_out, facts=None,
                                                  carrier=self._carrier, now=self._now())
                if isinstance(decision, NeedFacts):
                    facts = await self._read_facts(conn, d, decision)
                    decision = decisions.on_confirmed(d, policy, opted_out=opted_out,
                                                      facts=facts, carrier=self._carrier,
                                                      now=self._now())
                calls += await self._apply(conn, d, policy, decision)
        await self._call(calls)  # after COMMIT: charge_requested is on record first
        return len(claimed)

    async def offer_pages(self) -> int:
        """A Checkout page for each card request waiting for one; returns how many changed."""
        rules, now = self._rules.current, self._now()
        calls: list[Call] = []
        async with self._pool.acquire() as conn, conn.transaction():
            claimed = await billing_store.checkout_due(conn, now=now, limit=self._batch)
            for d in sorted(claimed, key=lambda d: (d.msisdn, d.committee, d.id)):
                policy = decisions.policy_for(rules, d)
                stripe = self._cards is not None
                decision = decisions.on_request(d, policy, stripe=stripe, facts=None, now=now)
                if isinstance(decision, NeedFacts):
                    facts = await self._read_facts(conn, d, decision)
                    decision = decisions.on_request(d, policy, stripe=stripe, facts=facts,
                                                    now=now)
                calls += await self._apply(conn, d, policy, decision)
        await self._call(calls)  # after COMMIT: no HTTP call inside a transaction
        return len(claimed)

    async def retry_stale_charges(self) -> int:
        """Card charges whose outcome we never recorded (a crash, Stripe down): ask again."""
        if self._cards is None:
            return 0
        calls: list[Call] = []
        async with self._pool.acquire() as conn:
            stale = await billing_store.stale_charges(
                conn, before=self._now() - self._card_retry, limit=self._batch)
            for d in stale:
                card = await stripe_store.get_saved_card(conn, d.msisdn)
                if card is not None:
                    calls.append((d, RequestCharge(card.customer_id, card.payment_method_id)))
        await self._call(calls)
        return len(calls)

    async def expire(self) -> int:
        sweep = decisions.expiry(self._now(), grace=self._grace)
        async with self._pool.acquire() as conn, conn.transaction():
            expired = await donation_store.expire_due(
                conn, before=sweep.before, details_within_s=sweep.details_within_s,
                limit=self._batch)
        return len(expired)

    async def settle_billed(self) -> int:
        """Record billed/failed for every billed MT now final; returns how many were recorded.

        A send cut off (`billed_unknown`) stays billing_submitted: it may or may not
        have been billed, and only the aggregator's settlement lines can say.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            due = await billing_store.final_billed_mts(conn, limit=self._batch)
            events = [decisions.on_receipt(self._aggregator, mt, now=self._now()) for mt in due]
            return len(await donation_store.insert_events(conn, events))

    # -- reads --------------------------------------------------------------------------

    async def _read_facts(self, conn: asyncpg.Connection, d: DonationRow, need: NeedFacts
                          ) -> DonorFacts:
        """Lock the donor, then their totals, details on file and (card) saved card: two
        gifts of one number must not both read totals that leave room for only one."""
        await donation_store.lock_donor(conn, d.msisdn, d.committee)
        # A donor who had their number erased keeps their gifts under a pseudonym
        # (gateway/privacy/): they still count toward the legal limits.
        numbers = [d.msisdn]
        if self._privacy_key:
            numbers.append(pseudonym_of(number_hash(self._privacy_key, d.msisdn)))
        w = need.windows
        by_number = await donation_store.donor_totals(
            conn, [(n, d.committee) for n in numbers], month=w.month, cycle=w.cycle,
            election=w.election)
        summed = sum_totals(by_number.values())
        totals = DonorTotals(w, summed.month_by_phone_cents, summed.cycle_by_phone_cents,
                             summed.cycle_cents, summed.election_cents)
        on_file = (await donation_store.list_donor_details(
            conn, [(d.msisdn, d.committee)])).get((d.msisdn, d.committee))
        card = await stripe_store.get_saved_card(conn, d.msisdn) if need.card else None
        return DonorFacts(totals, on_file.facts() if on_file else {}, card)

    # -- writes -------------------------------------------------------------------------

    async def _apply(self, conn: asyncpg.Connection, d: DonationRow,
                     policy: DonationPolicy | None,
                     decision: RequestDecision | ConfirmedDecision
                     ) -> list[Call]:
        """Record one decision in the claim's transaction; return the call it leaves."""
        now = self._now()
        match decision:
            case Cancel(reason=reason):
                await self._record(conn, d, "cancelled", now, data={"reason": reason})
            case Refuse():
                await self._refuse(conn, d, decision, now)
            case Hold() if policy is not None:
                await self._hold(conn, d, policy, decision, now)
            case SubmitBilledMt():
                outbound_id = await outbound_store.insert_billed(conn, NewBilledMt(
                    d.msisdn, d.shortcode, decision.body, d.id, decision.service_type,
                    decision.tlvs, now, in_reply_to=d.id))
                if outbound_id is None:  # unreachable while the claim holds: one MT per gift
                    raise RuntimeError(f"donation {d.id} already has a billed MT")
                await self._record(conn, d, decision.kind, now, money=True,
                                   outbound_id=outbound_id,
                                   data={"aggregator": decision.aggregator})
            case RequestCharge():
                await self._record(conn, d, decision.kind, now, money=True,
                                   data={"payment_method": decision.payment_method_id})
                return [(d, decision)]
            case OfferPage() if policy is not None:
                return [(d, policy, decision)]
            case Skip(reason=reason):
                log.info("donation_skipped", donation_id=d.id, reason=reason)
        return []

    async def _call(self, calls: list[Call]) -> None:
        for call in calls:
            if len(call) == 2:
                await self._charge(call[0], call[1])
            else:
                await self._offer_page(*call)

    async def _charge(self, d: DonationRow, job: RequestCharge) -> None:
        if self._cards is None:
            log.warning("card_charge_waiting_for_stripe", donation_id=d.id)
            return
        answer: ChargeResult | StripeFailure
        try:
            answer = await self._cards.charge_saved_card(
                donation_ref=d.id, amount_cents=d.amount_cents, currency=d.currency.lower(),
                customer_id=job.customer_id, payment_method_id=job.payment_method_id)
        except StripeFailure as err:
            answer = err
        outcome = decisions.on_charge(d, decisions.policy_for(self._rules.current, d), answer)
        if isinstance(outcome, Wait):
            if outcome.detail:
                log.warning(outcome.reason, donation_id=d.id, error=outcome.detail)
            return
        await self._settle(d, outcome)

    async def _offer_page(self, d: DonationRow, policy: DonationPolicy, offer: OfferPage
                          ) -> None:
        assert self._cards is not None  # on_request offers no page without Stripe
        answer: CheckoutLink | StripeFailure
        try:
            answer = await self._cards.create_checkout_session(
                mode="payment", msisdn=d.msisdn, amount_cents=d.amount_cents,
                currency=d.currency.lower(), donation_ref=d.id,
                description=offer.description, save_card=True,
                expires_at=int(offer.closes.timestamp()))
        except StripeFailure as err:
            answer = err
        now = self._now()
        async with self._pool.acquire() as conn, conn.transaction():
            locked = await billing_store.lock_donation(conn, d.id)
            decision = decisions.on_page(d, policy, answer, closes=offer.closes,
                                         status=None if locked is None else locked.status)
            match decision:
                case Wait():
                    log.warning(decision.reason, donation_id=d.id, error=decision.detail)
                case Refuse():
                    await self._refuse(conn, d, decision, now)
                case SendLink():
                    recorded = await self._record(conn, d, decision.kind, now, data={
                        "flow": "checkout", "checkout_session": decision.session_id,
                        "page_expires_at": decision.closes.isoformat()})
                    if recorded:
                        await self._text(conn, d, decision.text, now)
                case Skip():
                    pass  # expired or cancelled meanwhile: no link

    async def _settle(self, d: DonationRow, outcome: Settle) -> None:
        now = self._now()
        async with self._pool.acquire() as conn, conn.transaction():
            recorded = await self._record(conn, d, outcome.kind, now, ref=outcome.ref,
                                          money=outcome.money, data=dict(outcome.data))
            if recorded and outcome.text:
                await self._text(conn, d, outcome.text, now)

    async def _refuse(self, conn: asyncpg.Connection, d: DonationRow, decision: Refuse,
                      now: datetime) -> None:
        await self._record(conn, d, decision.kind, now,
                           data={"reason": decision.reason, "limit_cents": decision.limit_cents})
        if decision.text:
            await self._text(conn, d, decision.text, now)
        log.info("donation_refused", donation_id=d.id, reason=decision.reason, msisdn=d.msisdn)
        problem = decision.problem
        if problem is not None:
            say = log.error if problem.level == "error" else log.warning
            say(problem.event, donation_id=d.id, **({"error": problem.detail}
                                                     if problem.detail else {}))

    async def _hold(self, conn: asyncpg.Connection, d: DonationRow, policy: DonationPolicy,
                    hold: Hold, now: datetime) -> None:
        """One text per hold: the form's link and the SMS dialog's first question."""
        link = await new_details_link(conn, d, policy, hold.missing, now=now,
                                      base_url=self._details_base_url)
        await self._record(conn, d, hold.kind, now, data={
            "needed": sorted(hold.missing),
            "link_expires_at": hold.link_expires_at.isoformat()})
        await self._text(conn, d, decisions.hold_text(policy, d, hold, link), now)
        log.info("donation_held_for_details", donation_id=d.id, needed=sorted(hold.missing),
                 msisdn=d.msisdn)

    async def _text(self, conn: asyncpg.Connection, d: DonationRow, text: str,
                    now: datetime) -> None:
        await outbound_store.insert_batch(conn, [NewOutbound(
            d.msisdn, d.shortcode, text, outbound_store.PRIORITY_REPLY, False, d.id, now)])

    async def _record(self, conn: asyncpg.Connection, d: DonationRow, kind: str,
                      now: datetime, *, money: bool = False, ref: str | None = None,
                      outbound_id: int | None = None, data: dict[str, object] | None = None
                      ) -> bool:
        """Append one event; False when the ledger did not take it (a repeat, too late)."""
        inserted = await donation_store.insert_events(conn, [NewDonationEvent(
            d.id, kind, now, d.amount_cents if money else None, d.currency if money else None,
            data=data or {}, outbound_id=outbound_id, external_ref=ref)])
        return bool(inserted)
