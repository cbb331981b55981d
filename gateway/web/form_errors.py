"""A form's refusal in sentences, beside the field, from a pydantic ValidationError.

Why not pydantic's own messages: "String should match pattern '^[A-Z]{2}$'" tells
an organizer nothing. A validator that knows better raises a ValueError with a
sentence of its own ("a postal code is 5 digits, like 60601"), kept as is; the
generic kinds get the plain sentences below.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic import ValidationError

_SENTENCES: Final[Mapping[str, str]] = {
    "missing": "This is needed.",
    "string_too_short": "This is needed.",
    "string_too_long": "Too long: at most {max_length} characters.",
    "datetime_parsing": "Choose a date and a time.",
    "datetime_from_date_parsing": "Choose a date and a time.",
    "timezone_aware": "Give the time with its zone.",
    "int_parsing": "A whole number, please.",
    "greater_than_equal": "At least {ge}.",
    "less_than_equal": "At most {le}.",
    "literal_error": "Choose one of the offered values.",
    "extra_forbidden": "This form does not take this field.",
}
_FALLBACK: Final = "This value was not accepted."


def field_errors(err: ValidationError) -> dict[str, str]:
    """The first problem of each field, in a sentence; 'form' for a whole-form problem."""
    errors: dict[str, str] = {}
    for problem in err.errors():
        where = str(problem["loc"][0]) if problem["loc"] else "form"
        errors.setdefault(where, sentence(problem["type"], str(problem["msg"]),
                                          problem.get("ctx") or {}))
    return errors


def sentence(kind: str, message: str, ctx: Mapping[str, Any]) -> str:
    if kind == "value_error":  # the project's own validators speak for themselves
        text = message.removeprefix("Value error, ")
        return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
    template = _SENTENCES.get(kind)
    if template is None:
        return _FALLBACK
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return _FALLBACK
