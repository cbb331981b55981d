"""Which program a written message belongs to: the contact address it was sent to.

Why a setting (GATEWAY_MAIL_ROUTE_PROGRAMS) rather than keywords.yaml: the
contact addresses are the deployment's, like the short codes' binds, and
the listener's allow-list is a setting too. Mail to an address the setting
does not name, and the form without GATEWAY_WRITE_FORM_PROGRAM, go to the
first program with themes (engine/written.py `default_program`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gateway.config import Settings
from gateway.email_address import EmailAddressError, normalize_email
from gateway.engine import Rules
from gateway.engine.written import default_program


def program_for(rules: Rules, programs: Mapping[str, str], addresses: Iterable[str]) -> str:
    """The program of the first address the mapping names, else the default program."""
    for address in addresses:
        try:
            found = programs.get(normalize_email(address))
        except EmailAddressError:
            continue
        if found is not None:
            return found
    return default_program(rules)


def form_program(settings: Settings, rules: Rules) -> str:
    return settings.write_form_program or default_program(rules)


def program_problems(settings: Settings, rules: Rules) -> list[str]:
    """Programs the routing settings name that keywords.yaml does not define."""
    named = {f"GATEWAY_MAIL_ROUTE_PROGRAMS ({address})": program
             for address, program in settings.mail_route_programs.items()}
    if settings.write_form_program is not None:
        named["GATEWAY_WRITE_FORM_PROGRAM"] = settings.write_form_program
    return [f"{setting} names program {program!r}, which {settings.keywords} does not define; "
            f"its programs are {', '.join(sorted(rules.programs))}"
            for setting, program in named.items() if program not in rules.programs]
