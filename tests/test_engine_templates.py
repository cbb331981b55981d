from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.engine.templates import TemplateError, parse_template


def test_render_fills_fields_and_fallbacks() -> None:
    template = parse_template("Hi {first_name|friend}, events near {zip}!")
    assert template.names == {"first_name", "zip"}
    assert template.render({"first_name": "Ana", "zip": "10001"}) == "Hi Ana, events near 10001!"
    assert template.render({}) == "Hi friend, events near !"
    assert template.render({"first_name": ""}) == "Hi friend, events near !"


def test_doubled_braces_are_literal() -> None:
    template = parse_template("{{not a field}} {program}")
    assert template.names == {"program"}
    assert template.render({"program": "P"}) == "{not a field} P"


@pytest.mark.parametrize("source", ["Hi {", "Hi }", "{First}", "{ }", "{a-b}", "{{x}"])
def test_malformed_templates_are_refused(source: str) -> None:
    with pytest.raises(TemplateError):
        parse_template(source)


def test_worst_case_segments_assume_long_unknown_fields() -> None:
    template = parse_template("x" * 141 + "{first_name}")
    assert template.worst_case_segments({}) == 2  # 141 + 20 assumed > 160
    assert template.worst_case_segments({"first_name": "Al"}) == 1


def test_non_gsm_text_counts_ucs2_segments() -> None:
    assert parse_template("ê" * 70).worst_case_segments({}) == 1
    assert parse_template("ê" * 71).worst_case_segments({}) == 2


@given(st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=50))
def test_text_without_braces_renders_as_is(text: str) -> None:
    assert parse_template(text).render({}) == text
