"""The programs a broadcast may name, with their promised frequency, for the API and the pages.

Why a fallback to the keywords file: in a running gateway the rules in
force come from its context (a reload swaps them); a web frame run without
a gateway (tests, a read-only admin) reads the file its settings name, so
an unknown program and a frequency limit are refused there too.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.engine import load_rules
from gateway.engine.rules import ProgramRules
from gateway.web.context import WebContext


def programs_in_force(context: WebContext) -> Mapping[str, ProgramRules]:
    if context.rules is not None:
        return context.rules().programs
    return load_rules(context.settings.keywords).programs
