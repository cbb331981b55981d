"""The shape of keywords.yaml, as pydantic models that refuse unknown keys.

Why `extra="forbid"` everywhere: a misspelt key (`doubel_opt_in: true`) that
is silently ignored is a compliance bug waiting to happen. Cross-references
(a keyword naming a program, a template naming a field) are checked in
`checks.py`, where the whole file is in view.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(value: object) -> object:
    """`90`, `"90s"`, `"30m"`, `"2h"`, `"1d"` -> seconds; anything else fails validation."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError("expected a duration such as 90s, 30m, 2h or 1d")
        return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return value


Seconds = Annotated[int, BeforeValidator(duration_seconds), Field(ge=1)]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
Text = Annotated[str, Field(min_length=1)]
Profile = Literal["us", "fr"]
Action = Literal["opt_in", "dialog", "reply", "donate", "theme"]
ValidatorName = Literal[
    "us_zip", "fr_postal_code", "gender", "choice", "number", "free_text", "email"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class Defaults(_Strict):
    fuzzy_min_length: int = Field(5, ge=3, le=20)
    max_segments: int = Field(3, ge=1, le=10)
    default_reply: Text
    default_reply_every: Seconds = 86400
    flood_limit_per_minute: int = Field(10, ge=2, le=1000)
    confirm_within: Seconds = 86400
    dialog_expires_after: Seconds = 86400


class Privacy(_Strict):
    url: Annotated[str, Field(pattern=r"^https://\S+$")]
    version: Text


class ProgramTexts(_Strict):
    help: Text
    confirmation: Text  # the opt-in confirmation: carries every disclosure
    confirm_request: Text | None = None  # double opt-in: "Reply Y to confirm..."
    opted_out: Text
    already_subscribed: Text | None = None
    default_reply: Text | None = None


class Program(_Strict):
    name: Text
    shortcodes: Annotated[list[Annotated[str, Field(pattern=r"^[0-9A-Za-z+]{3,16}$")]],
                          Field(min_length=1)]
    profile: Profile = "us"
    support: Text
    frequency: Text
    privacy: Privacy
    disclosure_version: Text
    double_opt_in: bool = False
    texts: ProgramTexts


class Keyword(_Strict):
    word: Text
    aliases: list[Text] = []
    program: Identifier
    action: Action
    dialog: Identifier | None = None  # dialog to start (action dialog, or after opt-in)
    reply: Text | None = None  # action reply
    theme: Identifier | None = None  # action theme
    fuzzy: bool | None = None  # None: by length (defaults.fuzzy_min_length)


class Step(_Strict):
    field: Identifier
    prompt: Text
    validator: ValidatorName
    reprompt: Text | None = None
    retries: int = Field(2, ge=0, le=10)
    skip: Text | None = "SKIP"
    choices: list[Text] | None = None  # validator choice
    min: float | None = None  # validator number
    max: float | None = None


class Dialog(_Strict):
    program: Identifier
    steps: Annotated[list[Step], Field(min_length=1)]
    expires_after: Seconds | None = None
    closing: Text | None = None


class RulesFile(_Strict):
    version: Literal[1]
    defaults: Defaults
    fields: Annotated[list[Identifier], Field(min_length=1)]
    programs: Annotated[dict[Identifier, Program], Field(min_length=1)]
    keywords: list[Keyword] = []
    dialogs: dict[Identifier, Dialog] = {}
