"""docs/configuration.md, written from the Settings model.

Why generated: a hand-kept table of settings drifts from the code the day a
setting is added or a default changes. Here the page is a function of
`gateway/config.py` (names, types, defaults, limits, descriptions), and
tests/test_config_reference.py fails when the committed page differs from
what this prints. `make docs` (or `python -m gateway.config_reference >
docs/configuration.md`) regenerates it.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import SecretStr
from pydantic.fields import FieldInfo

from gateway.config import ENV_NAMES, Settings

# Headings in page order; a field goes under the first whose prefix its name starts with.
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Database", ("database_",)),
    ("SMPP link to the SMSC", ("smpp_", "unsure_send_")),
    ("Short code and keywords", ("shortcode", "default_region", "keywords")),
    ("HTTP server and logs", ("http_", "public_", "log_")),
    ("Receiving MOs", ("ingest_", "reassembly_", "mo_")),
    ("Start-up and instances", ("migrate_", "instance_", "workers", "uvloop")),
    ("Donations", ("billing_", "stripe_", "donor_")),
    ("Finance", ("finance_",)),
    ("Organization and locale", ("organization_",)),
    ("Admin web", ("web_",)),
    ("Contact centre", ("questions_", "notify_", "persons_", "write_form_")),
    ("Privacy", ("privacy_",)),
    ("E-mail", ("mail_",)),
    ("Voice line", ("voice_",)),
    ("Outgoing webhooks", ("webhooks_",)),
    ("Contact exports", ("exports_",)),
    ("Send API", ("send_api_",)),
    ("Tracked short links", ("link_",)),
    ("Contact import", ("import_",)),
)
OTHER = "Other"

PREAMBLE = """\
<!-- Generated from gateway/config.py by `python -m gateway.config_reference`.
     Do not edit: change the field's description there and run `make docs`. -->

# Configuration reference

The gateway reads its settings once, at start-up: from an optional TOML
file (named by `GATEWAY_CONFIG`, or by the `--config` option of `gateway
run`, `gateway migrate` and the other subcommands that need settings), then
from the environment, whose variables win over the file. In the TOML file a
setting's key is its variable's name in lower case without `GATEWAY_`
(`smpp_port = 2775`, `database_url = "postgresql://..."`).

Every problem is reported at once, one line per setting, and the command
exits with status 2; a secret's value is never echoed back. Booleans take
`true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`). A setting whose
default is *unset* is off until given a value: leave the variable out to
keep it unset (an empty value is a value, and for a secret an empty one).

The secrets are `DATABASE_URL` (when it holds a password) and every setting
of type *secret*: give them from the environment or a secret store, never in
a committed file.

Two more variables are read outside the settings: `GATEWAY_CONFIG` (the TOML
file above) and `GATEWAY_TRACEBACK=1`, which makes an error print its
traceback (for a bug report).
"""


def env_name(field: str) -> str:
    """The environment variable of a field (`DATABASE_URL`, else `GATEWAY_<FIELD>`)."""
    return next(env for env, name in ENV_NAMES.items() if name == field)


def section_of(field: str) -> str:
    for heading, prefixes in SECTIONS:
        if field.startswith(prefixes):
            return heading
    return OTHER


def type_text(annotation: Any) -> str:
    """A reader's name for a field's type: `integer`, ``one of `a`, `b` ``, ..."""
    origin = get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(f"`{value}`" for value in get_args(annotation))
    if origin in (Union, types.UnionType):
        kinds = [type_text(arg) for arg in get_args(annotation) if arg is not type(None)]
        return " or ".join(kinds)
    if origin is dict:
        return "JSON object"
    if origin is list:
        return "list (comma-separated or JSON)"
    names: dict[Any, str] = {
        str: "text", int: "integer", float: "number", bool: "boolean",
        Path: "file path", SecretStr: "secret",
    }
    if annotation not in names:
        raise ValueError(f"no reader's name for the type {annotation!r}; add one here")
    return names[annotation]


def limits_text(info: FieldInfo) -> str:
    """The field's constraints in words, as pydantic enforces them."""
    parts: list[str] = []
    for item in info.metadata:
        if isinstance(item, Ge):
            parts.append(f"≥ {_number(item.ge)}")
        elif isinstance(item, Gt):
            parts.append(f"> {_number(item.gt)}")
        elif isinstance(item, Le):
            parts.append(f"≤ {_number(item.le)}")
        elif isinstance(item, Lt):
            parts.append(f"< {_number(item.lt)}")
        elif isinstance(item, MinLen):
            parts.append("not empty" if item.min_length == 1
                         else f"at least {item.min_length} characters")
        elif isinstance(item, MaxLen):
            parts.append(f"at most {item.max_length} characters")
        elif (pattern := getattr(item, "pattern", None)) is not None:
            parts.append(f"matching `{pattern}`")
    return ", ".join(parts)


def default_text(info: FieldInfo) -> str:
    if info.is_required():
        return "**required**"
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{_number(value)}`"
    if isinstance(value, dict):
        return "`{}`" if not value else f"`{value}`"
    return f"`{value}`" if str(value) else "empty"


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def rows(section: str) -> Iterator[str]:
    for name, info in Settings.model_fields.items():
        if section_of(name) != section:
            continue
        if not info.description:
            raise ValueError(f"Settings.{name} has no description (gateway/config.py)")
        kind = type_text(info.annotation)
        if limits := limits_text(info):
            kind += f", {limits}"
        yield (f"| `{env_name(name)}` | {_cell(kind)} | {default_text(info)} "
               f"| {_cell(info.description)} |")


def render() -> str:
    """The whole page, as committed in docs/configuration.md."""
    out = [PREAMBLE]
    for heading in [h for h, _ in SECTIONS] + [OTHER]:
        lines = list(rows(heading))
        if not lines:
            continue
        out += [f"## {heading}\n", "| Variable | Type | Default | What it does |",
                "|---|---|---|---|", *lines, ""]
    return "\n".join(out)


def main() -> None:
    print(render(), end="")


if __name__ == "__main__":
    main()
