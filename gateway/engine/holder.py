"""The rules in force, as one object every part of the gateway shares.

Why a holder and not the `Rules` themselves: a SIGHUP (or an admin upload)
reloads keywords.yaml while the MO pipeline, the billing service and the web
pages keep running. Each reads `holder.current` once per batch or request,
and a reload swaps the whole object, so a batch sees one version of the rules,
never half of each. Pure (no I/O): loading the file is `load_rules`' job.

It lives beside the rules and not in the pipeline so that billing, web and
pipeline all depend on the engine, and none of them on another.
"""

from __future__ import annotations

from gateway.engine.rules import Rules


class RulesHolder:
    """The rules in force. A reload swaps the whole object, so a batch sees one version."""

    def __init__(self, rules: Rules) -> None:
        self.current = rules

    def replace(self, rules: Rules) -> None:
        self.current = rules
