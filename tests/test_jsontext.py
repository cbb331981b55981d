"""gateway/jsontext.py builds the documents the standard library built, faster.

Property: for any JSON-like value (and the datetimes the timeline carries),
the text parses back to what `json.dumps(..., default=str)` gave.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from gateway import jsontext

SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text() | \
    st.floats(allow_nan=False, allow_infinity=False) | \
    st.datetimes(timezones=st.just(UTC))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(), inner, max_size=4), max_leaves=20)


@given(VALUES)
def test_same_document_as_the_standard_library(value: Any) -> None:
    expected = json.loads(json.dumps(value, separators=(",", ":"), default=str))
    assert json.loads(jsontext.dumps(value)) == expected
    assert jsontext.loads(jsontext.dumps(value)) == expected


def test_datetimes_keep_their_old_text_and_non_ascii_is_utf8() -> None:
    when = datetime(2026, 12, 7, 1, 2, 3, tzinfo=UTC)
    assert jsontext.dumps({"at": when, "name": "Zoé", 1: True}) == \
        '{"at":"2026-12-07 01:02:03+00:00","name":"Zoé","1":true}'
