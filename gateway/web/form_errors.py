"""A form's refusal in sentences, beside the field, from a pydantic ValidationError.

Why not pydantic's own messages: "String should match pattern '^[A-Z]{2}$'" tells
an organizer nothing. A validator that knows better raises a ValueError with a
sentence of its own ("a postal code is 5 digits, like 60601"), kept as is; the
generic kinds get the plain sentences below, in the viewer's language (each
marked N_ for the catalog, its values as %(name)s placeholders so the French
can place them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic import ValidationError

from gateway.plain_words import N_
from gateway.web.locale import Viewer

_SENTENCES: Final[Mapping[str, str]] = {
    "missing": N_("This is needed."),
    "string_too_short": N_("This is needed."),
    "string_too_long": N_("Too long: at most %(max_length)s characters."),
    "datetime_parsing": N_("Choose a date and a time."),
    "datetime_from_date_parsing": N_("Choose a date and a time."),
    "timezone_aware": N_("Give the time with its zone."),
    "int_parsing": N_("A whole number, please."),
    "greater_than_equal": N_("At least %(ge)s."),
    "less_than_equal": N_("At most %(le)s."),
    "literal_error": N_("Choose one of the offered values."),
    "extra_forbidden": N_("This form does not take this field."),
}
_FALLBACK: Final = N_("This value was not accepted.")
ENGLISH: Final = Viewer()


def field_errors(err: ValidationError, viewer: Viewer = ENGLISH) -> dict[str, str]:
    """The first problem of each field, in a sentence; 'form' for a whole-form problem."""
    errors: dict[str, str] = {}
    for problem in err.errors():
        where = str(problem["loc"][0]) if problem["loc"] else "form"
        errors.setdefault(where, sentence(problem["type"], str(problem["msg"]),
                                          problem.get("ctx") or {}, viewer))
    return errors


def sentence(kind: str, message: str, ctx: Mapping[str, Any], viewer: Viewer = ENGLISH) -> str:
    if kind == "value_error":  # the project's own validators speak for themselves
        text = message.removeprefix("Value error, ")
        return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
    template = _SENTENCES.get(kind)
    if template is None:
        return viewer.gettext(_FALLBACK)
    try:
        return viewer.gettext(template) % {name: str(value) for name, value in ctx.items()}
    except (KeyError, ValueError, TypeError):
        return viewer.gettext(_FALLBACK)
