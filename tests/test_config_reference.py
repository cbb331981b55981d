"""docs/configuration.md is what gateway/config.py says, and says all of it.

The first test is the CI check: it fails when a setting, default, limit or
description changed in config.py and the page was not regenerated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, Field, SecretStr

from gateway import config_reference as ref
from gateway.config import ENV_NAMES, Settings

PAGE = Path(__file__).resolve().parents[1] / "docs/configuration.md"


def test_the_committed_page_is_current() -> None:
    assert PAGE.read_text(encoding="utf-8") == ref.render(), (
        "docs/configuration.md is out of date with gateway/config.py: run `make docs`")


def test_every_setting_is_described_and_listed_once() -> None:
    page = ref.render()
    for env, field in ENV_NAMES.items():
        assert (Settings.model_fields[field].description or "").strip(), field
        assert page.count(f"| `{env}` |") == 1, env


def test_every_section_holds_a_setting() -> None:
    used = {ref.section_of(name) for name in Settings.model_fields}
    assert used == {heading for heading, _ in ref.SECTIONS}


class Sample(BaseModel):
    port: int = Field(2775, ge=1, le=65535)
    ratio: float = Field(0.5, gt=0, lt=1)
    name: str = Field("", max_length=12)
    code: str = Field("12345", pattern=r"^[0-9]{3,16}$")
    url: str = Field(min_length=1)
    word: str = Field("ab", min_length=2)
    secret: SecretStr = Field(SecretStr("s3"))
    key: SecretStr | None = None
    mode: Literal["a", "b"] = "a"
    flag: bool = True
    off: bool = False
    codes: dict[int, str] = {}
    path: Path = Path("k.yaml")


def test_types_are_named_for_a_reader() -> None:
    fields = Sample.model_fields
    assert ref.type_text(fields["port"].annotation) == "integer"
    assert ref.type_text(fields["ratio"].annotation) == "number"
    assert ref.type_text(fields["key"].annotation) == "secret"
    assert ref.type_text(fields["mode"].annotation) == "one of `a`, `b`"
    assert ref.type_text(fields["flag"].annotation) == "boolean"
    assert ref.type_text(fields["codes"].annotation) == "JSON object"
    assert ref.type_text(fields["path"].annotation) == "file path"
    with pytest.raises(ValueError, match="no reader's name"):
        ref.type_text(bytes)


def test_limits_are_the_ones_pydantic_enforces() -> None:
    fields = Sample.model_fields
    assert ref.limits_text(fields["port"]) == "≥ 1, ≤ 65535"
    assert ref.limits_text(fields["ratio"]) == "> 0, < 1"
    assert ref.limits_text(fields["name"]) == "at most 12 characters"
    assert ref.limits_text(fields["code"]) == "matching `^[0-9]{3,16}$`"
    assert ref.limits_text(fields["url"]) == "not empty"
    assert ref.limits_text(fields["word"]) == "at least 2 characters"
    assert ref.limits_text(fields["mode"]) == ""


def test_defaults_are_shown_as_an_operator_would_type_them() -> None:
    fields = Sample.model_fields
    assert ref.default_text(fields["url"]) == "**required**"
    assert ref.default_text(fields["port"]) == "`2775`"
    assert ref.default_text(fields["ratio"]) == "`0.5`"
    assert ref.default_text(fields["name"]) == "empty"
    assert ref.default_text(fields["secret"]) == "`s3`"
    assert ref.default_text(fields["key"]) == "unset"
    assert ref.default_text(fields["flag"]) == "`true`"
    assert ref.default_text(fields["off"]) == "`false`"
    assert ref.default_text(fields["codes"]) == "`{}`"
    assert ref.default_text(fields["path"]) == "`k.yaml`"


def test_a_pipe_in_a_description_does_not_break_the_table() -> None:
    assert ref._cell("a | b\n  c") == "a \\| b c"
