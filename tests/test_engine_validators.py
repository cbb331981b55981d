from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.engine.model import Step, ValidatorName
from gateway.engine.validators import VALIDATORS, Accepted


def step(validator: ValidatorName, **options: object) -> Step:
    return Step.model_validate({"field": "f", "prompt": "?", "validator": validator, **options})


def check(validator: ValidatorName, answer: str, **options: object) -> Accepted | None:
    return VALIDATORS[validator](answer, step(validator, **options))


@pytest.mark.parametrize(
    ("answer", "value", "state", "timezone"),
    [
        ("10001", "10001", "NY", "America/New_York"),
        (" 94103 ", "94103", "CA", "America/Los_Angeles"),
        ("60601-1234", "60601-1234", "IL", "America/Chicago"),
        ("606011234", "60601-1234", "IL", "America/Chicago"),
    ],
)
def test_us_zip_resolves_state_and_timezone(
    answer: str, value: str, state: str, timezone: str
) -> None:
    assert check("us_zip", answer) == Accepted(value, {"state": state, "timezone": timezone})


@pytest.mark.parametrize("answer", ["1000", "100011", "abcde", "00000", "99999", "", "10001-12"])
def test_us_zip_rejects_malformed_or_unknown(answer: str) -> None:
    assert check("us_zip", answer) is None


@pytest.mark.parametrize(
    ("answer", "value", "department", "timezone"),
    [
        ("75011", "75011", "75", "Europe/Paris"),
        ("75 011", "75011", "75", "Europe/Paris"),
        ("20090", "20090", "2A", "Europe/Paris"),
        ("20200", "20200", "2B", "Europe/Paris"),
        ("97400", "97400", "974", "Indian/Reunion"),
        ("97200", "97200", "972", "America/Martinique"),
    ],
)
def test_fr_postal_code(answer: str, value: str, department: str, timezone: str) -> None:
    assert check("fr_postal_code", answer) == Accepted(
        value, {"department": department, "timezone": timezone}
    )


@pytest.mark.parametrize("answer", ["00100", "96000", "99000", "7501", "750011", "paris"])
def test_fr_postal_code_rejects(answer: str) -> None:
    assert check("fr_postal_code", answer) is None


@pytest.mark.parametrize(
    ("answer", "value"),
    [
        ("M", "M"), ("m", "M"), ("male", "M"), ("Homme", "M"), ("man", "M"),
        ("F", "F"), ("f", "F"), ("femme", "F"), ("woman", "F"), ("Female.", "F"),
        ("other", "other"), ("non-binary", "other"), ("nonbinary", "other"), ("autre", "other"),
        ("Female, 34", "F"),
    ],
)
def test_gender_understands_common_answers(answer: str, value: str) -> None:
    result = check("gender", answer)
    assert result is not None and result.value == value


@pytest.mark.parametrize("answer", ["", "banana", "maybe", "1234"])
def test_gender_rejects(answer: str) -> None:
    assert check("gender", answer) is None


CHOICES = {"choices": ["CANVASS", "PHONEBANK", "HOST"]}


@pytest.mark.parametrize(
    ("answer", "value"),
    [("canvass", "CANVASS"), ("Phonebank!", "PHONEBANK"), ("2", "PHONEBANK"),
     ("host a party", "HOST")],
)
def test_choice(answer: str, value: str) -> None:
    result = check("choice", answer, **CHOICES)
    assert result is not None and result.value == value


@pytest.mark.parametrize("answer", ["4", "0", "knock doors", ""])
def test_choice_rejects(answer: str) -> None:
    assert check("choice", answer, **CHOICES) is None


@pytest.mark.parametrize(
    ("answer", "value"), [("5", 5), ("1", 1), ("40", 40), ("2.5", 2.5), ("2,5", 2.5)]
)
def test_number_in_range(answer: str, value: float) -> None:
    result = check("number", answer, min=1, max=40)
    assert result is not None and result.value == value


@pytest.mark.parametrize("answer", ["0", "41", "-3", "five", "", "1e3"])
def test_number_out_of_range_or_not_a_number(answer: str) -> None:
    assert check("number", answer, min=1, max=40) is None


def test_free_text_collapses_whitespace_and_rejects_empty() -> None:
    result = check("free_text", "  I care   about\nhousing ")
    assert result is not None and result.value == "I care about housing"
    assert check("free_text", "   ") is None


@pytest.mark.parametrize(
    ("answer", "value"),
    [("Jane.Doe@Example.ORG", "Jane.Doe@example.org"), (" a@b.co ", "a@b.co")],
)
def test_email(answer: str, value: str) -> None:
    result = check("email", answer)
    assert result is not None and result.value == value


@pytest.mark.parametrize("answer", ["jane", "jane@", "@example.org", "a b@c.org", "a@b", ""])
def test_email_rejects(answer: str) -> None:
    assert check("email", answer) is None


@given(st.sampled_from(sorted(VALIDATORS)), st.text(max_size=60))
@settings(deadline=None)  # the first zip lookup loads the zip database
@example(name="choice", answer="❶")  # a digit for str.isdigit, not for int()
@example(name="choice", answer="²")
def test_validators_never_raise_and_return_json_values(name: ValidatorName, answer: str) -> None:
    options: dict[str, object] = {"choices": ["A1", "B2"]} if name == "choice" else {}
    result = check(name, answer, **options)
    if result is not None:
        assert isinstance(result.value, str | int | float)
        assert all(isinstance(v, str) for v in result.derived.values())
