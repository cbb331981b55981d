"""The pure keyword engine: keywords.yaml in, decisions out, no I/O.

`load_rules` reads and checks the organizers' file once; `decide` is a pure
function the pipeline calls per MO and persists in the MO's transaction.
"""

from __future__ import annotations

from gateway.engine.decide import decide
from gateway.engine.loader import RulesError, load_rules, parse_rules
from gateway.engine.rules import Rules
from gateway.engine.text import normalize

__all__ = ["Rules", "RulesError", "decide", "load_rules", "normalize", "parse_rules"]
