"""What a contact search may ask, and what the asked values mean: one rule for page and API.

Why a module: the page shows programs, statuses and keywords as choices (a
program typed as its display name used to match nothing, silently), and the
API must refuse exactly what the page cannot offer. Both build their choices
and check their values here, from the keywords file in force: a program is
one of its programs (on whichever short code), a keyword one of its opt-in
keywords, a status one of `STATUSES`.

What each filter finds (the SQL is store/lookups.py `SEARCH_CONTACTS`):

* name: each word is some of the letters of a profile answer whose field
  is a name (`first_name`, `last_name`...: the profile fields ending in
  "name"), or close to one (a misspelling: "jon smth" finds John Smith),
  ignoring case (pg_trgm, see docs/data-access.md). Donors' names (donor
  details) are not searched: only admins and finance staff may see who a
  donor is (services/fences.py).
* zip: the number's derived zip or postal code starts with it.
* keyword: the number joined a program by texting that keyword (its
  consent ledger says so; the state forgets the word at a STOP).
* tag: the number carries that tag (store/tags.py), however it got it.
* program and status: see `STATUSES`; with no program, subscribed means to
  any program, opted out a STOP on the short code, never no program at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from gateway.engine import Rules
from gateway.plain_words import N_, reason, said
from gateway.services.errors import invalid
from gateway.store.lookups import ContactFilter
from gateway.store.tags import BadTag
from gateway.store.tags import normalized as normalized_tag

# status value -> what the page's select says (translated there, gateway/plain_words.py)
STATUSES: Final[Mapping[str, str]] = {
    "subscribed": N_("subscribed"),
    "pending": N_("asked to join, not confirmed yet"),
    "opted_out": N_("opted out"),
    "never": N_("never joined"),
}
ZIP_TEXT: Final = re.compile(r"^[A-Z0-9 -]{1,10}$")


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True, slots=True)
class SearchChoices:
    """The selects of the search form, from the keywords file in force."""

    programs: tuple[Choice, ...]
    keywords: tuple[Choice, ...]
    statuses: tuple[Choice, ...]
    profile_fields: tuple[str, ...]
    name_fields: tuple[str, ...]
    program_codes: Mapping[str, tuple[str, ...]]
    program_names: Mapping[str, str]


def search_choices(rules: Rules) -> SearchChoices:
    """Programs by name, opt-in keywords (with the program each joins), the statuses."""
    programs = sorted(rules.programs.values(), key=lambda p: p.name.lower())
    keywords = sorted({(k.word, rules.programs[k.program].name)
                       for code in rules.shortcodes.values() for k in code.exact.values()
                       if k.action == "opt_in" and k.program in rules.programs})
    fields = tuple(sorted(rules.profile_fields))
    return SearchChoices(
        programs=tuple(Choice(p.id, f"{p.name} ({', '.join(p.shortcodes)})") for p in programs),
        keywords=tuple(Choice(word, f"{word} ({name})") for word, name in keywords),
        statuses=tuple(Choice(k, v) for k, v in STATUSES.items()),
        profile_fields=fields,
        name_fields=tuple(f for f in fields if f.endswith("name")) or ("first_name",),
        program_codes={p.id: p.shortcodes for p in programs},
        program_names={p.id: p.name for p in programs})


@dataclass(frozen=True, slots=True)
class Asked:
    """The typed and chosen values of a search, as they came (None or '' = not asked)."""

    name: str | None = None
    zip: str | None = None
    keyword: str | None = None
    program: str | None = None
    status: str | None = None
    tag: str | None = None


def _one_of(value: str, allowed: tuple[Choice, ...], *, field: str, what: str) -> str:
    if value not in {c.value for c in allowed}:
        names = "; ".join(c.label if c.label.startswith(c.value) else f"{c.value} ({c.label})"
                          for c in allowed) or "none configured"
        raise invalid(said(N_("%(what)s %(value)r is not one of this campaign's. Choose one of: "
                              "%(names)s."), what=what, value=value, names=names), field=field)
    return value


def contact_filter(asked: Asked, choices: SearchChoices, *, shortcodes: list[str] | None,
                   number: Mapping[str, str], field: str | None,
                   value: str | None) -> ContactFilter:
    """The store's filter for these values, or a refusal naming the field at fault."""
    name = (asked.name or "").strip() or None
    if name is not None and len(name) > 100:
        raise invalid(N_("A name is at most 100 characters."), field="name")
    zip_code = (asked.zip or "").strip().upper() or None
    if zip_code is not None and not ZIP_TEXT.match(zip_code):
        raise invalid(N_("A zip or postal code is letters, digits, spaces or '-', at most 10 "
                         "(e.g. 10001 or 75011)."), field="zip")
    keyword = _one_of(asked.keyword.strip().upper(), choices.keywords, field="keyword",
                      what="Keyword") if asked.keyword else None
    program = _one_of(asked.program, choices.programs, field="program",
                      what="Program") if asked.program else None
    status = _one_of(asked.status, choices.statuses, field="status",
                     what="Status") if asked.status else None
    tag = None
    if asked.tag and asked.tag.strip():
        try:
            tag = normalized_tag(asked.tag)
        except BadTag as err:
            raise invalid(reason(err), field="tag") from None
    return ContactFilter(
        shortcodes=shortcodes, number_prefix=number.get("number_prefix"),
        number_digits=number.get("number_digits"), name=name,
        zip_prefix=zip_code, keyword=keyword,
        program=program, status=status,
        program_codes=choices.program_codes.get(program, ()) if program else (),
        field=field, value=value, tag=tag)

