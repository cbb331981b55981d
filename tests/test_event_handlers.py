"""The engine's typed events and the pipeline's handler registry, checked at run time.

mypy already refuses a kind without a handler (pipeline/event_handlers.py
says how); these tests say the same to someone running pytest, and check
what mypy cannot: each registry entry is typed for the class whose `name`
is its key, and each kind's `to_json` stores every field it has, as JSON.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any, get_args, get_type_hints

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.engine.events import EVENT_KINDS, ConsentEvent, EngineEvent
from gateway.pipeline.event_handlers import HANDLERS, Handlers, consent_row, timeline_only
from gateway.store.consent import CONSENT_KINDS

# Keys a kind leaves out of its stored JSON when the field holds its "absent" value
# (as they always were: stored rows and the dashboard's queries rely on it).
OMITTED_WHEN_ABSENT: dict[tuple[str, str], object] = {
    ("unmatched", "answered_by"): None,
    ("dialog_interrupted", "by"): None,
    ("dialog_interrupted", "keyword"): None,
    ("knowledge_answered", "usage"): False,
    ("knowledge_lookup", "document"): None,
    **{(name, "reply_index"): None
       for name in ("opt_in_requested", "opt_in_confirmed", "opted_out", "resubscribed")},
}


def test_every_kind_has_exactly_one_registry_entry() -> None:
    names = [kind.name for kind in EVENT_KINDS]
    assert len(names) == len(set(names)), "two kinds share a stored name"
    assert sorted(HANDLERS) == sorted(names), "registry and EngineEvent disagree"
    assert sorted(Handlers.__annotations__) == sorted(names)


@pytest.mark.parametrize("kind", EVENT_KINDS, ids=lambda kind: kind.name)
def test_each_entry_is_typed_for_its_own_kind(kind: type[EngineEvent]) -> None:
    handler_type = get_type_hints(Handlers)[kind.name]
    handled, *_ = get_args(handler_type)[0]
    assert handled is kind


def test_the_consent_ledger_takes_the_consent_kinds_under_their_names() -> None:
    consent = {kind.name for kind in get_args(ConsentEvent)}
    assert consent == CONSENT_KINDS
    assert {name for name, handler in HANDLERS.items() if handler is consent_row} == consent


def test_the_ignored_kinds_are_the_timeline_only_ones() -> None:
    """What ignoring costs is one timeline row; changing this list is a decision
    (profile_updated left it: its answer goes to the webhooks, profile.answered)."""
    ignored = sorted(name for name, handler in HANDLERS.items() if handler is timeline_only)
    assert ignored == sorted([
        "keyword_matched", "unmatched", "help_sent", "stop_hint_sent", "opt_in_repeated",
        "flood_suppressed", "ignored_opted_out", "compliance_reply_limited", "dialog_started",
        "dialog_completed", "dialog_expired", "dialog_stopped", "dialog_interrupted",
        "step_skipped", "donation_amount_asked", "donation_yes_repeated",
        "donor_details_unreadable", "knowledge_answered", "theme_menu_sent", "theme_prompted",
    ])


def _instances(kind: type[EngineEvent]) -> st.SearchStrategy[Any]:
    times = st.datetimes(timezones=st.just(UTC))
    return st.builds(kind, **{
        field.name: times for field in dataclasses.fields(kind)
        if get_type_hints(kind)[field.name] is datetime
    })


@pytest.mark.parametrize("kind", EVENT_KINDS, ids=lambda kind: kind.name)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_to_json_stores_every_field_as_json(kind: type[EngineEvent], data: st.DataObject
                                           ) -> None:
    event = data.draw(_instances(kind))
    stored = event.to_json()
    fields = {field.name: getattr(event, field.name) for field in dataclasses.fields(kind)}
    absent = {name for name, value in fields.items()
              if (kind.name, name) in OMITTED_WHEN_ABSENT
              and value == OMITTED_WHEN_ABSENT[kind.name, name]}
    expected = set(fields) - absent
    assert set(stored) == expected
    json.dumps(stored, allow_nan=True)  # no default=: nothing but JSON types
    for name, value in fields.items():
        if isinstance(value, datetime):
            assert stored[name] == value.isoformat()
