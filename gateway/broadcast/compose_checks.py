"""What the composer refuses before a broadcast is stored: each refusal names its field.

Why refuse rather than warn: a broadcast goes to thousands at once and
cannot be taken back. A send time already past would start it at once; a
placeholder naming no field (`{firstname}` for `{first_name}`) renders
empty for everyone ("Hi , vote..."); a French program's text without
"STOP au <code>" breaks the rule the keywords checker applies to every
French confirmation and help text, and it is that same rule
(`compliance.broadcast_disclosures`), not a copy.

Pure: the caller passes the rules in force. `gateway.broadcast.service`
calls these for a preview and before storing, and the send time is checked
by `gateway.broadcast.send_time.check_ahead` there and in `control.schedule`;
the CLI, the API and the composer page all go through those, so they
refuse the same things.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from gateway.engine import Rules, compliance
from gateway.engine.rules import ProgramRules
from gateway.engine.templates import Template
from gateway.plain_words import N_, joined, said, sentence


class ComposeError(ValueError):
    """A broadcast the composer refuses; `field` is the input to fix (API and form names)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = sentence(message)  # a page translates it; it reads as the English
        super().__init__(f"{field}: {message}")


def program_of(rules: Rules, program: str) -> ProgramRules:
    found = rules.programs.get(program)
    if found is None:
        raise ComposeError("program", said(N_("%(program)r is not a program of the keywords file; "
                                              "known: %(programs)s"),
                                           program=program,
                                           programs=', '.join(sorted(rules.programs))))
    return found


def shortcode_for(program: ProgramRules, asked: str | None, default: str) -> str:
    """The short code to send on: the one asked for, else the default when the program is on
    it, else the program's first (a French program's subscribers are on its own code)."""
    if asked:
        if asked not in program.shortcodes:
            raise ComposeError("shortcode", said(N_("program %(id)s is on %(shortcodes)s, not "
                                                    "%(asked)s"),
                                                 id=program.id,
                                                 shortcodes=', '.join(program.shortcodes),
                                                 asked=asked))
        return asked
    return default if default in program.shortcodes else program.shortcodes[0]


def check_text(
    template: Template, program: ProgramRules, *, rules: Rules, shortcode: str,
    variables: Mapping[str, str],
) -> None:
    """Every placeholder names a value that exists; a French text says how to stop."""
    known = set(variables) | rules.profile_fields
    unknown = sorted(template.names - known)
    if unknown:
        hints = [
            said(N_("%(name)s (did you mean %(close)s?)"), name=f"{{{name}}}",
                 close=f"{{{close[0]}}}") if close else f"{{{name}}}"
            for name in unknown
            for close in [difflib.get_close_matches(name, sorted(known), n=1)]
        ]
        raise ComposeError("text", said(N_("unknown placeholder %(hints)s: it would be sent empty; "
                                           "known: %(known)s"),
                                        hints=joined(hints), known=', '.join(sorted(known))))
    needs = compliance.broadcast_disclosures(program.profile, shortcode=shortcode)
    if missing := compliance.missing(template.render(variables), needs):
        raise ComposeError("text", said(N_("a broadcast of the French program %(id)s must say "
                                           "%(missing)s, as every French text does"),
                                        id=program.id, missing=' and '.join(missing)))

