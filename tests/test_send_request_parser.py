"""The send API's body parser, property-tested: whatever a client sends becomes checked
messages or a 400 naming the field; numbers come out E.164; a bad number is named by
its index and shown masked; the request's fingerprint ignores key order and spacing."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.services.errors import ServiceError
from gateway.services.send_api import check_messages, request_hash
from gateway.web.api.messages import SendRequest
from gateway.web.body import validate

FIELDS = ("program", "text", "to", "segment", "shortcode", "messages")
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
GOOD = ["+12025550123", "(202) 555-0142", "+33 6 12 34 56 78", "202.555.0199"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20),
                    st.sampled_from([*GOOD, "rise", "", "state = NY", "12", "+1"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(FIELDS), inner, max_size=4),
                      max_leaves=12)
one = st.dictionaries(st.sampled_from(FIELDS[:-1]), values, max_size=5)
bodies = st.one_of(one, st.fixed_dictionaries({"messages": st.lists(one, max_size=4)}),
                   st.dictionaries(st.sampled_from(FIELDS), values, max_size=6))


def parse(data: dict[str, Any], limit: int = 3) -> list[Any]:
    body = validate(SendRequest, data)
    return check_messages(body.as_messages(), limit=limit, region="US",
                          batch=body.messages is not None)


@settings(max_examples=400, deadline=None)
@given(bodies)
def test_any_body_is_messages_or_a_400_naming_the_field(data: dict[str, Any]) -> None:
    try:
        wanted = parse(data)
    except ServiceError as err:  # ApiError is one
        assert err.status == 400
        assert err.field
        assert err.field.split(".")[0] in (*FIELDS, "body")  # body: its shape as a whole
        return
    assert 1 <= len(wanted) <= 3
    assert [w.index for w in wanted] == list(range(len(wanted)))
    for item in wanted:
        assert (item.to is None) != (item.segment is None)
        assert item.to is None or E164.fullmatch(item.to)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(GOOD), min_size=1, max_size=5), st.data())
def test_a_bad_number_is_named_by_its_index_and_masked(numbers: list[str],
                                                       data: st.DataObject) -> None:
    bad_at = data.draw(st.integers(0, len(numbers) - 1))
    bad = data.draw(st.sampled_from(["+1 202 555 01239876", "not a number", "+99912345678",
                                     "555-0199"]))
    numbers[bad_at] = bad
    body = {"messages": [{"program": "rise", "text": "hi", "to": n} for n in numbers]}
    try:
        parse(body, limit=10)
    except ServiceError as err:
        assert err.field == f"messages.{bad_at}.to"
        assert f"message {bad_at}" in err.message
        digits = re.sub(r"\D", "", bad)
        if len(digits) > 6:
            assert digits not in re.sub(r"\D", "", err.message.split(":", 1)[1])
    else:
        raise AssertionError(f"{bad!r} was accepted")


@given(st.integers(4, 30))
def test_more_than_the_limit_is_refused_naming_it(count: int) -> None:
    body = {"messages": [{"program": "rise", "text": "hi", "to": GOOD[0]}] * count}
    try:
        parse(body, limit=3)
    except ServiceError as err:
        assert err.code == "batch_too_large" and "at most 3" in err.message
    else:
        raise AssertionError("over the limit was accepted")


@given(st.dictionaries(st.sampled_from(FIELDS), scalars, max_size=6), st.randoms())
def test_the_fingerprint_ignores_key_order(data: dict[str, Any], rnd: Any) -> None:
    keys = list(data)
    rnd.shuffle(keys)
    shuffled = json.loads(json.dumps({k: data[k] for k in keys}, indent=2))
    assert request_hash(shuffled) == request_hash(data)
