"""One data row of a contact file, read into what the import stages: the row classifier.

The dry run and the import both call `classify` (and then the same SQL
statement, store/contact_imports.py `CLASSIFY`): one rule in one place, so
their counts agree by construction. What this half decides, from the row
alone:
- the number, parsed with `phonenumbers` (gateway/phone.py) in the import's
  country; an unusable one skips the row, naming its column;
- the program: the row's own (it must exist) or the import's;
- tags: the row's own (its tags column: several to a cell, separated by
  `;`, `,` or `|`) and the file's (chosen with the mapping); a cell that is
  not a tag skips the row, naming the column, so that a typo never tags a
  contact with something nobody chose;
- consent: `opted_out` when the file's opt-out column says so (anything but
  empty, 0, no, false, non, faux counts: an opt-out is never dropped for its
  spelling); `given` only with all three parts of the provenance (source,
  an ISO 8601 date not in the future, wording or campaign); else `none`, and
  the row becomes a contact that is not subscribed, with the reason.
What the database decides (new or updated, a duplicate of an earlier row, an
opt-out already on record) is the SQL half's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Final

from gateway.phone import InvalidNumber, to_e164
from gateway.services.imports.mapping import PHONE, TAGS
from gateway.store.tags import BadTag, normalized

GIVEN: Final = "given"
NONE: Final = "none"
OPTED_OUT: Final = "opted_out"
NOT_OPTED_OUT: Final = frozenset({"", "0", "no", "n", "false", "f", "non", "faux", "none"})
MAX_CELL: Final = 500  # characters kept of a name, an address, a source or a wording

# reasons (words for the page in store/words.py IMPORT_REASONS)
BAD_NUMBER: Final = "bad_number"
NO_NUMBER: Final = "no_number"
UNKNOWN_PROGRAM: Final = "unknown_program"
NO_CONSENT: Final = "no_consent"
BAD_CONSENT_DATE: Final = "bad_consent_date"
FUTURE_CONSENT_DATE: Final = "future_consent_date"
BAD_TAG: Final = "bad_tag"
TAG_SEPARATORS: Final = re.compile(r"[;,|]")


@dataclass(frozen=True, slots=True)
class Program:
    id: str
    name: str
    shortcode: str


@dataclass(frozen=True, slots=True)
class Context:
    """What every row of one import is read against."""

    columns: Mapping[str, int]  # field -> index of its column
    headers: Sequence[str]
    country: str
    program: str  # the import's own, for rows that name none
    programs: Mapping[str, Program]  # by id, lower case
    now: datetime
    number_hash: Callable[[str], str] | None = None  # erased_numbers' keyed hash, if set
    tags: tuple[str, ...] = ()  # the file's tags, for every row (already normalized)


@dataclass(frozen=True, slots=True)
class StagedRow:
    """A row as the SQL half takes it (`skip` set: nothing of it is imported)."""

    row_no: int
    msisdn: str | None
    number_hash: str | None
    program: str
    program_name: str
    shortcode: str
    skip: str | None  # the reason the row is skipped
    note: str | None  # the reason it is only a contact (consent `none`)
    column: str | None  # the header `skip` or `note` is about
    consent: str  # given / none / opted_out
    consent_source: str | None
    consent_at: datetime | None
    consent_wording: str | None
    first_name: str | None
    last_name: str | None
    email: str | None
    zip: str | None
    tags: tuple[str, ...] = ()  # the row's tags and the file's, each once, in order


def cell_tags(text: str) -> tuple[str, ...]:
    """The tags of a cell (`;`, `,` or `|` between them; blanks ignored), each normalized
    once, in order; `BadTag` naming the first that cannot be a tag."""
    found: dict[str, None] = {}
    for part in TAG_SEPARATORS.split(text):
        if part := part.strip():
            found[normalized(part)] = None
    return tuple(found)


def _get(cells: Sequence[str], context: Context, field: str) -> str:
    index = context.columns.get(field)
    if index is None or index >= len(cells):
        return ""
    return cells[index].strip()[:MAX_CELL]


def parse_consent_date(text: str) -> datetime | None:
    """An ISO 8601 date or date-time (naive: UTC); None when it is not one."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _skipped(row_no: int, program: str, reason: str, column: str | None) -> StagedRow:
    return StagedRow(row_no=row_no, msisdn=None, number_hash=None, program=program,
                     program_name="", shortcode="", skip=reason, note=None, column=column,
                     consent=NONE, consent_source=None, consent_at=None, consent_wording=None,
                     first_name=None, last_name=None, email=None, zip=None)


def classify(row_no: int, cells: Sequence[str], context: Context) -> StagedRow:
    """What the row says, read once; the same for the dry run and the import."""
    header = context.headers

    def column(field: str) -> str | None:
        index = context.columns.get(field)
        return header[index] if index is not None else None

    raw_program = _get(cells, context, "program")
    program = context.programs.get((raw_program or context.program).lower())
    raw_number = _get(cells, context, PHONE)
    if not raw_number:
        return _skipped(row_no, raw_program, NO_NUMBER, column(PHONE))
    try:
        msisdn = to_e164(raw_number, default_region=context.country)
    except InvalidNumber:
        return _skipped(row_no, raw_program, BAD_NUMBER, column(PHONE))
    if program is None:
        return _skipped(row_no, raw_program, UNKNOWN_PROGRAM, column("program"))
    try:
        row_tags = cell_tags(_get(cells, context, TAGS))
    except BadTag:
        return _skipped(row_no, raw_program, BAD_TAG, column(TAGS))
    source = _get(cells, context, "consent_source")
    wording = _get(cells, context, "consent_wording")
    when_text = _get(cells, context, "consent_date")
    consent: str = NONE
    note: str | None = NO_CONSENT
    missing = [f for f, v in (("consent_source", source), ("consent_date", when_text),
                              ("consent_wording", wording)) if not v]
    note_column = column(missing[0]) if missing else None
    consent_at: datetime | None = None
    if _get(cells, context, "opted_out").lower() not in NOT_OPTED_OUT:
        consent, note, note_column = OPTED_OUT, None, None
        consent_at = parse_consent_date(when_text) if when_text else None
    elif not missing:
        consent_at = parse_consent_date(when_text)
        if consent_at is None:
            note, note_column = BAD_CONSENT_DATE, column("consent_date")
        elif consent_at > context.now:
            note, note_column, consent_at = FUTURE_CONSENT_DATE, column("consent_date"), None
        else:
            consent, note = GIVEN, None
    return StagedRow(
        row_no=row_no, msisdn=msisdn,
        number_hash=context.number_hash(msisdn) if context.number_hash else None,
        program=program.id, program_name=program.name, shortcode=program.shortcode,
        skip=None, note=note, column=note_column, consent=consent,
        consent_source=source or None, consent_at=consent_at, consent_wording=wording or None,
        first_name=_get(cells, context, "first_name") or None,
        last_name=_get(cells, context, "last_name") or None,
        email=_get(cells, context, "email") or None,
        zip=_get(cells, context, "zip") or None,
        tags=tuple(dict.fromkeys(row_tags + context.tags)))
