"""The billing service: confirmed donations in, one charge attempt (or a refusal) out.

Why a periodic task and not the MO pipeline: limits need the donor's totals,
and a card charge is an HTTP call that must never run inside the MO's
transaction. Each tick:

1. claims confirmed donations (SKIP LOCKED, so several gateways share the
   queue) and, per donation, in that one transaction: cancels it if the
   number has opted out, else locks the donor, sums their totals and checks
   the limits. It then records exactly one of `refused` (and queues the
   polite refusal), `billing_submitted` (carrier: the billed MT goes into the
   outbox with the aggregator's parameters) or `charge_requested` (card);
2. after COMMIT, charges each requested card at Stripe. The idempotency key
   is the donation's id, so a retry, a second gateway, or a restart after a
   crash between COMMIT and the call charges at most once; donations left in
   `charge_requested` are retried the same way after `card_retry_after_s`;
3. expires requests with no YES by their deadline (plus a grace period for a
   YES still in the MO pipeline);
4. settles billed MTs from their receipts (billing/settle.py).

Donor details (compliance rule 18): when the donor's aggregate for the
cycle, with this gift, passes the name/address threshold ($50) or the
employer/occupation one ($200) and the facts are not on file, the donation
is held instead of charged: `details_requested` is recorded and the details
text with its link (and the first question of the SMS dialog) is queued.
It expires like an unconfirmed request if the details never come;
`billing/details.py` releases it when they do (web form, SMS dialog or
staff), and the next tick checks the limits again and charges it.

A card request from a number without a saved card (the engine's `checkout`
flow) gets a payment-mode Checkout link instead (billing/checkout.py): the
limits are checked first (and the gift is held for donor details as above
when the law needs them), the session's idempotency key is derived from the
donation id, and `confirmation_sent` records the link once. Paying on that
page is the confirmation; its webhook records confirmed and charged, and
saves the card for the next `GIVE` (setup_future_usage=off_session).

Carrier price points reach the aggregator as its own tariff codes
(`tariff_codes`, GATEWAY_BILLING_TARIFF_CODES): a price point without a
code is a configuration error at start-up (aggregators.check_tariff_codes),
and refused with a log line if a reload slips one through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from gateway.billing import checkout, settle
from gateway.billing.aggregators import (
    AggregatorProfile,
    BilledDonation,
    BillingParameterError,
    billing_parameters,
    price_point_code,
)
from gateway.billing.details import new_details_link
from gateway.billing.policy import (
    DETAILS_HOLD,
    EMPLOYER_OCCUPATION,
    DonationPolicy,
    DonorTotals,
    check_limits,
    missing_details,
    required_details,
)
from gateway.billing.stripe_client import StripeCards, StripeFailure, StripeRejected
from gateway.engine import Rules
from gateway.engine.donor_details import first_question
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


@dataclass(frozen=True, slots=True)
class CardJob:
    donation: DonationRow
    customer_id: str
    payment_method_id: str


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
        self._cards = cards
        self._batch = batch
        self._grace = timedelta(seconds=expiry_grace_s)
        self._card_retry = timedelta(seconds=card_retry_after_s)
        self._now = clock or (lambda: datetime.now(UTC))
        self._details_base_url = details_base_url
        self._tariff_codes = dict(tariff_codes or {})
        self._privacy_key = privacy_key

    async def tick(self) -> int:
        """One pass of every job; returns how many donations changed."""
        changed = await self.charge_confirmed()
        changed += await checkout.offer_links(self, self._cards, now=self._now(),
                                              limit=self._batch)
        changed += await self.retry_stale_charges()
        changed += await self.expire()
        async with self._pool.acquire() as conn, conn.transaction():
            changed += await settle.settle_billed(conn, self._aggregator, limit=self._batch)
        return changed

    async def expire(self) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            expired = await donation_store.expire_due(
                conn, before=self._now() - self._grace,
                details_within_s=DETAILS_HOLD.total_seconds(),
                limit=self._batch)
        return len(expired)

    async def charge_confirmed(self) -> int:
        rules = self._rules.current
        jobs: list[CardJob] = []
        async with self._pool.acquire() as conn, conn.transaction():
            claimed = await donation_store.claim_to_charge(conn, limit=self._batch)
            if not claimed:
                return 0
            states = await contacts_store.list_states(
                conn, list(dict.fromkeys((d.msisdn, d.shortcode) for d in claimed)))
            for donation in sorted(claimed, key=lambda d: (d.msisdn, d.committee, d.id)):
                opted_out = states.get((donation.msisdn, donation.shortcode), (False, {}))[0]
                job = await self._decide(conn, rules, donation, opted_out=opted_out)
                if job is not None:
                    jobs.append(job)
        for job in jobs:  # after COMMIT: charge_requested is on record before Stripe hears
            await self._charge(job)
        return len(claimed)

    async def retry_stale_charges(self) -> int:
        """Card charges whose outcome we never recorded (a crash, Stripe down): ask again."""
        if self._cards is None:
            return 0
        async with self._pool.acquire() as conn:
            stale = await billing_store.stale_charges(
                conn, before=self._now() - self._card_retry, limit=self._batch)
            jobs = []
            for donation in stale:
                card = await stripe_store.get_saved_card(conn, donation.msisdn)
                if card is not None:
                    jobs.append(CardJob(donation, card.customer_id, card.payment_method_id))
        for job in jobs:
            await self._charge(job)
        return len(jobs)

    async def _decide(self, conn: asyncpg.Connection, rules: Rules, d: DonationRow, *,
                      opted_out: bool) -> CardJob | None:
        now = self._now()
        if opted_out:  # STOP after the YES, before the charge: nothing is taken
            await self._record(conn, d, "cancelled", now, data={"reason": "opted_out"})
            return None
        try:
            policy = DonationPolicy.from_rules(rules, d.program, d.shortcode)
        except KeyError:
            await self._record(conn, d, "cancelled", now, data={"reason": "rules_changed"})
            return None
        totals = await self.within_limits(conn, d, policy, d.confirmed_at or now)
        if totals is None:
            return None
        missing = await self.missing_donor_details(conn, d, policy, totals)
        if missing:
            await self.hold_for_details(conn, d, policy, missing, now)
            return None
        if d.method == "carrier":
            await self._submit_billed_mt(conn, d, policy, now)
            return None
        card = await stripe_store.get_saved_card(conn, d.msisdn)
        if card is None:
            await self.refuse(conn, d, policy, "no_saved_card",
                              policy.render("unavailable", amount=policy.money(d.amount_cents)),
                              now)
            return None
        await self._record(conn, d, "charge_requested", now, money=True,
                           data={"payment_method": card.payment_method_id})
        return CardJob(d, card.customer_id, card.payment_method_id)

    async def within_limits(self, conn: asyncpg.Connection, d: DonationRow,
                            policy: DonationPolicy, at: datetime) -> DonorTotals | None:
        """Lock the donor and sum their totals; refuse (and return None) over a limit."""
        windows = policy.windows(at)
        await donation_store.lock_donor(conn, d.msisdn, d.committee)
        # A donor who had their number erased keeps their gifts under a pseudonym
        # (gateway/privacy/): they still count toward the legal limits.
        numbers = [d.msisdn]
        if self._privacy_key:
            numbers.append(pseudonym_of(number_hash(self._privacy_key, d.msisdn)))
        by_number = await donation_store.donor_totals(
            conn, [(n, d.committee) for n in numbers], month=windows.month, cycle=windows.cycle,
            election=windows.election)
        summed = sum_totals(by_number.values())
        totals = DonorTotals(windows, summed.month_by_phone_cents, summed.cycle_by_phone_cents,
                             summed.cycle_cents, summed.election_cents)
        refusal = check_limits(d.amount_cents, d.method, totals, policy, at)
        if refusal is not None:
            await self.refuse(conn, d, policy, refusal.reason, refusal.text, self._now(),
                              limit_cents=refusal.limit_cents)
            return None
        return totals

    async def missing_donor_details(self, conn: asyncpg.Connection, d: DonationRow,
                                    policy: DonationPolicy, totals: DonorTotals
                                    ) -> frozenset[str]:
        """The facts the law asks for with this gift (compliance rule 18) that are not on file."""
        needed = required_details(d.amount_cents, totals, policy)
        if not needed:
            return frozenset()
        on_file = (await donation_store.list_donor_details(
            conn, [(d.msisdn, d.committee)])).get((d.msisdn, d.committee))
        return missing_details(needed, on_file.facts() if on_file else {})

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    @property
    def rules(self) -> Rules:
        return self._rules.current

    async def hold_for_details(self, conn: asyncpg.Connection, d: DonationRow,
                               policy: DonationPolicy, missing: frozenset[str],
                               now: datetime) -> None:
        """No charge (and no Checkout page) until the law's facts are on file; the donor
        gets one text per hold: the form's link and the SMS dialog's first question."""
        employer = bool(missing & EMPLOYER_OCCUPATION)
        limit = policy.details_employer_over_cents if employer else \
            policy.details_name_address_over_cents
        link = await new_details_link(conn, d, policy, missing, now=now,
                                      base_url=self._details_base_url)
        await self._record(conn, d, "details_requested", now,
                           data={"needed": sorted(missing), "link_expires_at":
                                 (now + DETAILS_HOLD).isoformat()})
        text = policy.render("details_employer" if employer else "details_name_address",
                             amount=policy.money(d.amount_cents), limit=policy.money(limit),
                             details_url=link)
        if not text:  # a program without its own details texts (French ones need none)
            text = _details_text(policy, d, missing, link)
        text = f"{text} {first_question(policy.profile, missing)}"
        await outbound_store.insert_batch(conn, [NewOutbound(
            d.msisdn, d.shortcode, text, outbound_store.PRIORITY_REPLY, False, d.id, now)])
        log.info("donation_held_for_details", donation_id=d.id, needed=sorted(missing),
                 msisdn=d.msisdn)

    async def _submit_billed_mt(self, conn: asyncpg.Connection, d: DonationRow,
                                policy: DonationPolicy, now: datetime) -> None:
        try:
            code = price_point_code(self._aggregator, self._tariff_codes, d.amount_cents)
            billed = BilledDonation(d.amount_cents, price_point_code=code,
                                    currency=d.currency, donation_ref=d.id)
            service_type, tlvs = billing_parameters(self._aggregator, billed)
        except BillingParameterError as err:
            log.error("billing_parameters_refused", donation_id=d.id, error=str(err))
            text = policy.render("unavailable", amount=policy.money(d.amount_cents))
            await self.refuse(conn, d, policy, "billing_parameters", text, now)
            return
        body = policy.render("thanks", amount=policy.money(d.amount_cents)) or \
            f"{policy.committee}: thank you for your gift of {policy.money(d.amount_cents)}!"
        outbound_id = await outbound_store.insert_billed(conn, NewBilledMt(
            d.msisdn, d.shortcode, body, d.id, service_type, tlvs, now, in_reply_to=d.id))
        if outbound_id is None:  # unreachable while the claim holds: one MT per donation
            raise RuntimeError(f"donation {d.id} already has a billed MT")
        await self._record(conn, d, "billing_submitted", now, money=True,
                           outbound_id=outbound_id,
                           data={"aggregator": self._aggregator.name})

    async def refuse(self, conn: asyncpg.Connection, d: DonationRow, policy: DonationPolicy,
                      reason: str, text: str, now: datetime, *,
                      limit_cents: int | None = None) -> None:
        await self._record(conn, d, "refused", now,
                           data={"reason": reason, "limit_cents": limit_cents})
        if text:
            await outbound_store.insert_batch(conn, [NewOutbound(
                d.msisdn, d.shortcode, text, outbound_store.PRIORITY_REPLY, False, d.id, now)])
        log.info("donation_refused", donation_id=d.id, reason=reason, msisdn=d.msisdn)

    async def _charge(self, job: CardJob) -> None:
        if self._cards is None:
            log.warning("card_charge_waiting_for_stripe", donation_id=job.donation.id)
            return
        d = job.donation
        try:
            result = await self._cards.charge_saved_card(
                donation_ref=d.id, amount_cents=d.amount_cents, currency=d.currency.lower(),
                customer_id=job.customer_id, payment_method_id=job.payment_method_id)
        except StripeRejected as err:
            await self._record_outcome(d, "failed", data={"reason": str(err)})
            return
        except StripeFailure as err:  # unavailable: retried later with the same key
            log.warning("card_charge_retry_later", donation_id=d.id, error=str(err))
            return
        policy = DonationPolicy.from_rules(self._rules.current, d.program, d.shortcode) \
            if d.program in self._rules.current.donations else None
        if result.status == "succeeded":
            text = policy.render("thanks", amount=policy.money(d.amount_cents)) if policy else ""
            await self._record_outcome(d, "charged", ref=result.payment_intent_id, text=text,
                                       money=True)
        elif result.status == "failed":
            await self._record_outcome(d, "failed", ref=result.payment_intent_id,
                                       data={"decline_code": result.decline_code})
        elif result.status == "requires_action":
            link = result.action_url or ""
            text = f"{policy.committee if policy else ''}: your bank needs you to confirm " \
                   f"this gift: {link}".lstrip(": ")
            await self._record_outcome(d, "requires_action", ref=result.payment_intent_id,
                                       text=text if link else "")
        # processing: the payment_intent webhook settles it

    async def _record_outcome(self, d: DonationRow, kind: str, *, ref: str | None = None,
                              text: str = "", money: bool = False,
                              data: dict[str, object] | None = None) -> None:
        now = self._now()
        async with self._pool.acquire() as conn, conn.transaction():
            recorded = await self._record(conn, d, kind, now, ref=ref, money=money,
                                          data=data or {})
            if recorded and text:
                await outbound_store.insert_batch(conn, [NewOutbound(
                    d.msisdn, d.shortcode, text, outbound_store.PRIORITY_REPLY, False, d.id,
                    now)])

    async def record(self, conn: asyncpg.Connection, d: DonationRow, kind: str, *,
                     data: dict[str, object] | None = None) -> bool:
        """Append one event without money now; False when the ledger already had it."""
        return await self._record(conn, d, kind, self._now(), data=data)

    async def _record(self, conn: asyncpg.Connection, d: DonationRow, kind: str,
                      now: datetime, *, money: bool = False, ref: str | None = None,
                      outbound_id: int | None = None, data: dict[str, object] | None = None
                      ) -> bool:
        inserted = await donation_store.insert_events(conn, [NewDonationEvent(
            d.id, kind, now, d.amount_cents if money else None, d.currency if money else None,
            data=data or {}, outbound_id=outbound_id, external_ref=ref)])
        return bool(inserted)


def _details_text(policy: DonationPolicy, d: DonationRow, missing: frozenset[str],
                  link: str) -> str:
    amount = policy.money(d.amount_cents)
    if policy.profile == "fr":
        return (f"{policy.committee} : merci ! Pour un don de {amount}, la loi nous demande "
                f"d'abord votre identité : {link} Rien n'a été débité.")
    wanted = "employer and occupation" if missing & EMPLOYER_OCCUPATION else "name and address"
    return (f"{policy.committee}: thank you! For a gift of {amount} the law asks for your "
            f"{wanted} first: {link} Nothing was charged yet.")
