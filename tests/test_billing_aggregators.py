"""Aggregator billing profiles against hand-written sample PDUs, and the receipt classifier."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.app import open_gateway
from gateway.billing.aggregators import (
    PROFILES,
    BilledDonation,
    BillingParameterError,
    ReceiptOutcome,
    billing_parameters,
    check_tariff_codes,
    classify_receipt,
    get_profile,
    price_point_code,
    tariff_problems,
)
from gateway.config import ConfigError, load_settings
from gateway.engine import load_rules
from gateway.smpp.pdu import decode, encode, make_submit_sm
from gateway.smpp.receipts import format_receipt_text, parse_receipt

DONATION = BilledDonation(amount_cents=1000, price_point_code="DON1000", currency="USD",
                          donation_ref=42)

# Everything but the billing fields is the same in the three samples:
_COMMON = (
    "03" "00" "313233343500"                # source: TON 3 (network specific), NPI 0, "12345"
    "01" "01" "313535353132333030303000"    # destination: TON 1, NPI 1, "15551230000"
    "00" "00" "00"                          # esm_class, protocol_id, priority_flag
    "00" "00"                               # schedule_delivery_time "", validity_period ""
    "01" "00" "00" "00"                     # registered_delivery 1, replace, data_coding, msg id
    "0e" "5468616e6b20796f752120243130"     # sm_length 14, "Thank you! $10"
)
SAMPLES = {
    "tariff_code": bytes.fromhex(
        "0000004f" "00000004" "00000000" "00000007"   # length 79, submit_sm, status 0, seq 7
        "50534d5300"                                   # service_type "PSMS"
        + _COMMON +
        "1403" "0008" "444f4e3130303000"               # 0x1403, 8 octets: "DON1000" NUL
    ),
    "amount_tlv": bytes.fromhex(
        "0000004d" "00000004" "00000000" "00000007"   # length 77
        "444f4e00"                                     # service_type "DON"
        + _COMMON +
        "1403" "0007" "000003e8" "555344"              # 0x1403, 7 octets: 1000 cents, "USD"
    ),
    "smpp50": bytes.fromhex(
        "00000057" "00000004" "00000000" "00000007"   # length 87
        "00"                                           # service_type "" (default)
        + _COMMON +
        "060b" "0014" "80"                             # billing_identification, 20 octets,
        "444f4e313030307c313030307c5553447c3432"       # format 0x80, "DON1000|1000|USD|42"
    ),
}


def billed_submit_sm(profile_name: str) -> bytes:
    service_type, tlvs = billing_parameters(get_profile(profile_name), DONATION)
    pdu = make_submit_sm("12345", "15551230000", b"Thank you! $10", tlvs=tlvs, sequence=7,
                         service_type=service_type, source_addr_ton=3, dest_addr_ton=1,
                         dest_addr_npi=1, registered_delivery=1)
    return encode(pdu)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_profile_builds_its_sample_pdu_byte_for_byte(name: str) -> None:
    assert billed_submit_sm(name) == SAMPLES[name]


@pytest.mark.parametrize(("name", "back"), [
    ("tariff_code", BilledDonation(0, "DON1000")),  # the tariff table holds the amount
    ("amount_tlv", BilledDonation(1000, "", "USD")),
    ("smpp50", DONATION),
])
def test_each_sample_decodes_back(name: str, back: BilledDonation) -> None:
    pdu = decode(SAMPLES[name])
    profile = get_profile(name)
    assert pdu.get_str("service_type") == profile.service_type
    assert profile.decode(pdu.tlvs) == back


def test_every_profile_has_a_sample() -> None:
    assert set(PROFILES) == set(SAMPLES)


@given(st.sampled_from(["amount_tlv", "smpp50"]), st.integers(1, 10**7),
       st.sampled_from(["USD", "EUR"]), st.integers(0, 2**40),
       st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=1, max_size=15))
def test_amounts_survive_the_wire(name: str, cents: int, currency: str, ref: int,
                                  code: str) -> None:
    donation = BilledDonation(cents, code, currency, ref)
    service_type, tlvs = billing_parameters(get_profile(name), donation)
    wire = encode(make_submit_sm("12345", "15551230000", b"x", tlvs=tlvs,
                                 service_type=service_type))
    back = get_profile(name).decode(decode(wire).tlvs)
    assert (back.amount_cents, back.currency) == (cents, currency)


@pytest.mark.parametrize(("name", "donation", "message"), [
    ("tariff_code", BilledDonation(1000, "A" * 16), "at most 15"),
    ("tariff_code", BilledDonation(1000, ""), "printable ASCII"),
    ("smpp50", BilledDonation(1000, "DON|1"), "without '|'"),
    ("amount_tlv", BilledDonation(1000, "X", "US"), "3 letters"),
    ("amount_tlv", BilledDonation(0, "X"), "positive amount"),
])
def test_impossible_parameters_are_refused(name: str, donation: BilledDonation,
                                           message: str) -> None:
    with pytest.raises(BillingParameterError, match=message):
        billing_parameters(get_profile(name), donation)


def test_a_billed_mt_without_its_tlv_does_not_decode() -> None:
    with pytest.raises(BillingParameterError, match="no TLV 0x060B"):
        get_profile("smpp50").decode({})
    with pytest.raises(KeyError, match="known: amount_tlv, smpp50, tariff_code"):
        get_profile("nope")


# -- receipts -----------------------------------------------------------------

T = datetime(2024, 5, 1, 15, 0, tzinfo=UTC)


def receipt(stat: str, err: str = "000", *, esm_class: int = 0x04) -> tuple[str, str, bool]:
    text = format_receipt_text("abc123", stat, submitted_at=T, done_at=T, err=err)
    parsed = parse_receipt(esm_class, text.encode("latin-1"), {})
    return parsed.stat, parsed.err, parsed.final


@pytest.mark.parametrize(("name", "stat", "err", "expected"), [
    ("tariff_code", "DELIVRD", "000", ReceiptOutcome("billed")),
    ("tariff_code", "UNDELIV", "069", ReceiptOutcome("failed", "insufficient_credit", True)),
    ("tariff_code", "REJECTD", "070", ReceiptOutcome("failed", "barred", True)),
    ("amount_tlv", "UNDELIV", "102", ReceiptOutcome("failed", "charging_failed", True)),
    ("smpp50", "REJECTD", "201", ReceiptOutcome("failed", "insufficient_credit", True)),
    # Another profile's billing code is just a delivery failure here.
    ("smpp50", "UNDELIV", "069", ReceiptOutcome("failed", "undelivered:UNDELIV:069")),
    ("tariff_code", "EXPIRED", "000", ReceiptOutcome("failed", "undelivered:EXPIRED:000")),
    ("tariff_code", "ENROUTE", "000", None),
    ("tariff_code", "ACCEPTD", "000", None),
])
def test_final_receipts_settle_the_charge(name: str, stat: str, err: str,
                                          expected: ReceiptOutcome | None) -> None:
    stat, err, final = receipt(stat, err)
    assert classify_receipt(get_profile(name), stat=stat, err=err, final=final) == expected


def test_an_intermediate_delivrd_settles_nothing() -> None:
    stat, err, final = receipt("DELIVRD", esm_class=0x20)  # intermediate notification
    assert stat == "DELIVRD" and not final
    assert classify_receipt(get_profile("smpp50"), stat=stat, err=err, final=final) is None


def test_error_codes_are_compared_as_three_digits() -> None:
    outcome = classify_receipt(get_profile("tariff_code"), stat="UNDELIV", err="69", final=True)
    assert outcome == ReceiptOutcome("failed", "insufficient_credit", True)


# -- price point codes from configuration -------------------------------------

RULES_FILE = Path(__file__).resolve().parents[1] / "keywords.yaml"


def test_a_configured_tariff_code_is_what_the_billed_mt_carries() -> None:
    profile = get_profile("tariff_code")
    codes = {500: "RUP05", 1000: "RUP10"}
    assert price_point_code(profile, codes, 1000) == "RUP10"
    _, tlvs = billing_parameters(profile, BilledDonation(1000, price_point_code(
        profile, codes, 1000)))
    assert tlvs == {0x1403: b"RUP10\x00"}


def test_a_price_point_without_a_code_is_refused_not_guessed() -> None:
    with pytest.raises(BillingParameterError, match="no tariff code for the price point 500"):
        price_point_code(get_profile("tariff_code"), {1000: "RUP10"}, 500)
    with pytest.raises(BillingParameterError, match="GATEWAY_BILLING_TARIFF_CODES"):
        price_point_code(get_profile("tariff_code"), {}, 500)
    # layouts that carry the amount itself keep a default code when no table is set
    assert price_point_code(get_profile("amount_tlv"), {}, 500) == "DON500"
    # ...but a table, once given, must cover every price point
    with pytest.raises(BillingParameterError):
        price_point_code(get_profile("smpp50"), {1000: "RUP10"}, 500)


def test_the_keywords_price_points_are_checked_against_the_table() -> None:
    rules = load_rules(RULES_FILE)  # rise: carrier price points $5 and $10
    assert tariff_problems("tariff_code", {500: "RUP05", 1000: "RUP10"}, rules) == []
    assert tariff_problems("amount_tlv", {}, rules) == []
    [problem] = tariff_problems("tariff_code", {1000: "RUP10"}, rules)
    assert problem.startswith("GATEWAY_BILLING_TARIFF_CODES: donations.rise: price point 5.00")
    assert check_tariff_codes("tariff_code", {500: "A" * 16}, {"rise": (500,)}) != []


async def test_the_gateway_refuses_to_start_with_a_price_point_without_a_code() -> None:
    settings = load_settings({
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",  # never reached
        "GATEWAY_KEYWORDS": str(RULES_FILE), "GATEWAY_BILLING_AGGREGATOR": "tariff_code",
        "GATEWAY_BILLING_TARIFF_CODES": '{"1000": "RUP10"}'})
    with pytest.raises(ConfigError, match=r"price point 5\.00: no tariff code"):
        await open_gateway(settings, migrate=False)
