"""The audience language: who, among a program's subscribers, a broadcast reaches.

    program = news and state in (FL, GA) and not donated
    zip starts with ("331", "332") or profile.team = "blue"
    gender = F and active within 30 days and status(rise) = pending

Why a language of our own, parsed to a typed AST, over SQL fragments or a
generic expression evaluator: organizers type it on a command line (and
later in the admin API), so it must be impossible to reach anything but the
few facts below, and a typo must come back as "column 14: expected '=' or
'in'", not as a database error. The AST is the contract; SQL is produced
from it in `gateway.store.audience` with every value as a parameter. This
module has no imports from the rest of the gateway so the store can depend
on it.

Predicates (every value a bare word or a "quoted string"):
    program = NAME | program in (NAME, ...)       subscribed to that program
    status(NAME) = STATUS | ... in (...)          subscribed, pending or opted_out there
    zip starts with PREFIX | ... with (P, ...)    zip code prefixes
    state = XX | state in (...)                   state (US) or département (FR)
    gender = F | gender in (...)                  F, M or other
    profile.FIELD = VALUE | ... in (...)          any profile answer, compared as text
    active within N days                          last message from them
    number = +E164 | number in (+E164, ...)      these numbers only (the send API's batches)
    donated                                       at least one confirmed donation
    tag = NAME | tag in (...)                     tagged so (by hand, keyword or import)
    keyword = WORD | keyword in (...)             joined by texting that keyword
    timezone = ZONE | timezone in (...)           the number's time zone (IANA name)
Combined with `and`, `or`, `not` and parentheses (`and` binds tighter).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, assert_never

MAX_LENGTH: Final = 10_000
MAX_DEPTH: Final = 32
MAX_VALUES: Final = 1_000
MAX_VALUE_LENGTH: Final = 200
MAX_DAYS: Final = 36_500
STATUSES: Final = ("subscribed", "pending", "opted_out")
GENDERS: Final = {"f": "F", "female": "F", "m": "M", "male": "M", "other": "other"}


class AudienceError(ValueError):
    """A filter that does not parse or names something invalid; says where and what was expected."""

    def __init__(self, message: str, *, position: int, expected: tuple[str, ...] = ()) -> None:
        self.position = position  # 1-based column in the filter text
        self.expected = expected
        super().__init__(f"column {position}: {message}")


# -- the AST -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InProgram:
    programs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ProgramStatus:
    program: str
    statuses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ZipPrefix:
    prefixes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StateIn:
    states: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GenderIn:
    genders: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ProfileIn:
    field: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ActiveWithin:
    days: int


@dataclass(frozen=True, slots=True)
class NumberIn:
    numbers: tuple[str, ...]  # E.164, as the send API (services/send_api.py) normalized them


@dataclass(frozen=True, slots=True)
class Donated:
    pass


@dataclass(frozen=True, slots=True)
class TagIn:
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KeywordIn:
    keywords: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TimeZoneIn:
    zones: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Audience


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Audience, ...]  # two or more


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Audience, ...]  # two or more


Predicate = (InProgram | ProgramStatus | ZipPrefix | StateIn | GenderIn | ProfileIn | ActiveWithin
             | TagIn | KeywordIn | TimeZoneIn | NumberIn)
Audience = Predicate | Donated | Not | And | Or


# -- values: checked and normalized the same way for the parser and the printer's input ----------

_PROGRAM = re.compile(r"[a-z][a-z0-9_]{0,39}")
_FIELD = re.compile(r"[a-z][a-z0-9_]{0,39}")
_STATE = re.compile(r"[A-Z0-9]{2,3}")
_ZIP_PREFIX = re.compile(r"[0-9A-Z]{1,10}")
_TAG = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")  # as gateway/store/tags.py stores them
_KEYWORD = re.compile(r"[A-Z0-9]{1,40}")
_ZONE = re.compile(r"[A-Za-z]+(?:/[A-Za-z0-9_+\-]+){0,2}")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def _program(value: str) -> str | None:
    value = value.lower()
    return value if _PROGRAM.fullmatch(value) else None


def _status(value: str) -> str | None:
    value = value.lower()
    return value if value in STATUSES else None


def _state(value: str) -> str | None:
    value = value.upper()
    return value if _STATE.fullmatch(value) else None


def _zip_prefix(value: str) -> str | None:
    value = value.upper()
    return value if _ZIP_PREFIX.fullmatch(value) else None


def _number(value: str) -> str | None:
    return value if _E164.fullmatch(value) else None


def _gender(value: str) -> str | None:
    return GENDERS.get(value.lower())


def _profile_value(value: str) -> str | None:
    """Any text PostgreSQL can hold (no NUL), up to MAX_VALUE_LENGTH characters."""
    return value if len(value) <= MAX_VALUE_LENGTH and "\x00" not in value else None


def _tag(value: str) -> str | None:
    value = value.lower()
    return value if _TAG.fullmatch(value) else None


def _keyword(value: str) -> str | None:
    value = value.upper()
    return value if _KEYWORD.fullmatch(value) else None


def _zone(value: str) -> str | None:
    return value if len(value) <= 60 and _ZONE.fullmatch(value) else None


def _field(value: str) -> str | None:
    return value if _FIELD.fullmatch(value) else None


def _days(value: str) -> str | None:
    if not (value.isascii() and value.isdigit() and len(value) <= 6):
        return None
    return str(int(value)) if 1 <= int(value) <= MAX_DAYS else None


_Check = Callable[[str], "str | None"]


# -- tokens --------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<word>[A-Za-z0-9_+\-]+)
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<punct>[(),.=])""",
    re.VERBOSE | re.DOTALL,
)
_WORD = re.compile(r"[A-Za-z0-9_+\-]+")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # word, string, punct, end, bad
    text: str  # a word as typed, a string unquoted, the punctuation, what is bad
    position: int  # 1-based


def _tokens(source: str) -> list[_Token]:
    if len(source) > MAX_LENGTH:
        raise AudienceError(f"filter longer than {MAX_LENGTH} characters", position=MAX_LENGTH)
    tokens: list[_Token] = []
    index = 0
    while index < len(source):
        match = _TOKEN.match(source, index)
        if match is None:
            # Reported when the parser reaches it, so the first problem is the one shown.
            char = source[index]
            hint = "an unclosed quote" if char == '"' else f"unexpected character {char!r}"
            tokens.append(_Token("bad", hint, index + 1))
            return tokens
        kind = match.lastgroup or ""
        text = match.group(0)
        if kind == "string":
            text = re.sub(r"\\(.)", r"\1", text[1:-1], flags=re.DOTALL)
        if kind != "space":
            tokens.append(_Token(kind, text, index + 1))
        index = match.end()
    tokens.append(_Token("end", "", len(source) + 1))
    return tokens


# -- parser --------------------------------------------------------------------------------------


def parse_audience(source: str) -> Audience | None:
    """The filter's AST; None for an empty filter (everyone subscribed to the program)."""
    parser = _Parser(_tokens(source))
    if parser.peek.kind == "end":
        return None
    audience = parser.expression(depth=0)
    parser.expect_end()
    return audience


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._index = 0

    @property
    def peek(self) -> _Token:
        token = self._tokens[self._index]
        if token.kind == "bad":
            raise AudienceError(token.text, position=token.position)
        return token

    def _take(self) -> _Token:
        token = self.peek
        if token.kind != "end":
            self._index += 1
        return token

    def _fail(self, expected: tuple[str, ...], after: str | None = None) -> AudienceError:
        token = self.peek
        found = "the end of the filter" if token.kind == "end" else repr(token.text)
        context = f" after {after!r}" if after else ""
        return AudienceError(
            f"expected {' or '.join(expected)}{context}, found {found}",
            position=token.position, expected=expected,
        )

    def _is_word(self, *words: str) -> bool:
        return self.peek.kind == "word" and self.peek.text.lower() in words

    def _word(self, word: str, after: str | None = None) -> None:
        if not self._is_word(word):
            raise self._fail((f"'{word}'",), after)
        self._take()

    def _punct(self, char: str, after: str | None = None) -> None:
        if self.peek.kind != "punct" or self.peek.text != char:
            raise self._fail((f"'{char}'",), after)
        self._take()

    def expect_end(self) -> None:
        if self.peek.kind != "end":
            raise self._fail(("'and'", "'or'", "the end of the filter"))

    def _check_depth(self, depth: int) -> None:
        if depth > MAX_DEPTH:
            position = self.peek.position
            raise AudienceError(f"nested deeper than {MAX_DEPTH} levels", position=position)

    def expression(self, depth: int) -> Audience:
        self._check_depth(depth)
        items = [self._conjunction(depth)]
        while self._is_word("or"):
            self._take()
            items.append(self._conjunction(depth))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def _conjunction(self, depth: int) -> Audience:
        items = [self._unary(depth)]
        while self._is_word("and"):
            self._take()
            items.append(self._unary(depth))
        return items[0] if len(items) == 1 else And(tuple(items))

    def _unary(self, depth: int) -> Audience:
        self._check_depth(depth)
        if self._is_word("not"):
            self._take()
            return Not(self._unary(depth + 1))
        if self.peek.kind == "punct" and self.peek.text == "(":
            self._take()
            inner = self.expression(depth + 1)
            self._punct(")")
            return inner
        return self._predicate()

    def _predicate(self) -> Audience:
        token = self.peek
        name = token.text.lower() if token.kind == "word" else ""
        if name == "program":
            self._take()
            return InProgram(self._values("program", "a program id", _program))
        if name == "status":
            self._take()
            self._punct("(", "status")
            program = self._value("a program id", _program)
            self._punct(")", "the program")
            statuses = self._values("status(...)", "subscribed, pending or opted_out", _status)
            return ProgramStatus(program, statuses)
        if name == "zip":
            self._take()
            self._word("starts", "zip")
            self._word("with", "starts")
            return ZipPrefix(self._list_or_value("digits of a zip code", _zip_prefix))
        if name == "state":
            self._take()
            return StateIn(self._values("state", "a state code like FL", _state))
        if name == "gender":
            self._take()
            return GenderIn(self._values("gender", "F, M or other", _gender))
        if name == "profile":
            self._take()
            self._punct(".", "profile")
            field = self._value("a profile field name (lower_case)", _field)
            return ProfileIn(field, self._values(f"profile.{field}", "a value", _profile_value))
        if name == "active":
            self._take()
            self._word("within", "active")
            days = self._value(f"a number of days (1 to {MAX_DAYS})", _days)
            self._word("days", "the number")
            return ActiveWithin(int(days))
        if name == "donated":
            self._take()
            return Donated()
        if name == "tag":
            self._take()
            return TagIn(self._values("tag", "a tag (lower-case letters, digits, - or _)", _tag))
        if name == "keyword":
            self._take()
            return KeywordIn(self._values("keyword", "a keyword like JOIN", _keyword))
        if name == "timezone":
            self._take()
            return TimeZoneIn(self._values("timezone", "a time zone like America/Chicago", _zone))
        if name == "number":
            self._take()
            return NumberIn(self._values("number", "an E.164 number like +12025550123",
                                         _number))
        raise self._fail(
            ("program", "status(...)", "zip", "state", "gender", "profile.<field>", "active",
             "donated", "tag", "keyword", "timezone", "number", "not", "'('"),
        )

    def _values(self, after: str, what: str, check: _Check) -> tuple[str, ...]:
        """`= value` or `in (value, ...)`."""
        if self.peek.kind == "punct" and self.peek.text == "=":
            self._take()
            return (self._value(what, check),)
        if self._is_word("in"):
            self._take()
            return self._list(what, check)
        raise self._fail(("'='", "'in'"), after)

    def _list_or_value(self, what: str, check: _Check) -> tuple[str, ...]:
        if self.peek.kind == "punct" and self.peek.text == "(":
            return self._list(what, check)
        return (self._value(what, check),)

    def _list(self, what: str, check: _Check) -> tuple[str, ...]:
        self._punct("(", "in")
        values = [self._value(what, check)]
        while self.peek.kind == "punct" and self.peek.text == ",":
            self._take()
            values.append(self._value(what, check))
            if len(values) > MAX_VALUES:
                raise AudienceError(f"more than {MAX_VALUES} values", position=self.peek.position)
        self._punct(")", "the list")
        return tuple(values)

    def _value(self, what: str, check: _Check) -> str:
        token = self.peek
        if token.kind not in ("word", "string"):
            raise self._fail((what,))
        value = check(token.text)
        if value is None:
            raise AudienceError(
                f"{token.text!r} is not {what}", position=token.position, expected=(what,)
            )
        self._take()
        return value


# -- printer -------------------------------------------------------------------------------------


def format_audience(audience: Audience | None) -> str:
    """Canonical text; `parse_audience(format_audience(s)) == s` for every valid AST."""
    return "" if audience is None else _format(audience)


def _format(audience: Audience) -> str:
    match audience:
        case InProgram(programs):
            return "program" + _format_values(programs)
        case ProgramStatus(program, statuses):
            return f"status({_quote(program)})" + _format_values(statuses)
        case ZipPrefix(prefixes):
            return "zip starts with " + (
                _quote(prefixes[0]) if len(prefixes) == 1 else _format_list(prefixes)
            )
        case StateIn(states):
            return "state" + _format_values(states)
        case GenderIn(genders):
            return "gender" + _format_values(genders)
        case ProfileIn(field, values):
            return f"profile.{field}" + _format_values(values)
        case ActiveWithin(days):
            return f"active within {days} days"
        case Donated():
            return "donated"
        case TagIn(tags):
            return "tag" + _format_values(tags)
        case KeywordIn(keywords):
            return "keyword" + _format_values(keywords)
        case TimeZoneIn(zones):
            return "timezone" + _format_values(zones)
        case NumberIn(numbers):
            return "number" + _format_values(numbers)
        case Not(item):
            inner = _format(item)
            return f"not ({inner})" if isinstance(item, And | Or) else f"not {inner}"
        case And(items):
            return " and ".join(_grouped(item) for item in items)
        case Or(items):
            return " or ".join(_grouped(item) for item in items)
        case _:
            assert_never(audience)


def _grouped(item: Audience) -> str:
    text = _format(item)
    return f"({text})" if isinstance(item, And | Or) else text


def _format_values(values: tuple[str, ...]) -> str:
    return f" = {_quote(values[0])}" if len(values) == 1 else f" in {_format_list(values)}"


def _format_list(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(_quote(v) for v in values) + ")"


def _quote(value: str) -> str:
    if _WORD.fullmatch(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
