"""Every refusal a page can show has its French, and names the values it is given.

A refusal's message is written `N_("...")` or `said(N_("... %(name)s ..."), name=x)`
(gateway/plain_words.py). Read from the source, not run: each such msgid
inside a refusal (invalid, forbidden, not_found, conflict, unavailable,
bad_request, ServiceError, ApiError, ComposeError, and the domain errors a
service passes on) must have a French msgstr
in messages.po with the same %(name)s placeholders, and each `said()` must
pass exactly the values its msgid names: a typo there would raise KeyError on
the very refusal it was meant to explain.
"""

from __future__ import annotations

import ast
import copy
import pickle
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st

from gateway.plain_words import N_, joined, reason, said, sentence
from gateway.web.locale import Viewer

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "gateway/web/translations/fr/LC_MESSAGES/messages.po"
REFUSERS = frozenset({
    "invalid", "forbidden", "not_found", "conflict", "unavailable", "bad_request",
    "ServiceError", "ApiError", "ComposeError",
    # the domain's refusals a service passes on to a page (as `reason(err)`)
    "BroadcastError", "ReceiverUrlError", "EmailAddressError", "InvalidNumber", "BadTag",
    "TextTooLong", "AnswerTooLong", "AnswerNotSendable", "WeakPassword"})
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdr]")


@dataclass(frozen=True)
class Marked:
    where: str
    msgid: str
    given: frozenset[str] | None  # the said() values, None for a bare N_


def _name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else \
        func.attr if isinstance(func, ast.Attribute) else None


def _text(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def marked(source: str, where: str) -> Iterator[Marked]:
    """The msgids of the refusals in `source`, and every said() anywhere in it."""
    tree = ast.parse(source)
    seen: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if _name(node) == "said" and node.args:  # said(N_(...)), or one of two N_
            for inner in ast.walk(node.args[0]):
                if (isinstance(inner, ast.Call) and _name(inner) == "N_" and inner.args
                        and (msgid := _text(inner.args[0])) is not None):
                    seen.add(id(inner))
                    yield Marked(f"{where}:{inner.lineno}", msgid,
                                 frozenset(k.arg for k in node.keywords if k.arg))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _name(node) in REFUSERS:
            for inner in ast.walk(node):
                if (isinstance(inner, ast.Call) and _name(inner) == "N_" and inner.args
                        and id(inner) not in seen and (msgid := _text(inner.args[0]))):
                    seen.add(id(inner))
                    yield Marked(f"{where}:{inner.lineno}", msgid, None)


def all_marked() -> list[Marked]:
    found: list[Marked] = []
    for path in sorted((ROOT / "gateway").rglob("*.py")):
        found += marked(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    return found


def french() -> dict[str, str]:
    with PO.open("rb") as source:
        catalog = read_po(source, locale="fr_FR")
    return {str(m.id): str(m.string) for m in catalog if m.id and isinstance(m.id, str)}


def problems(found: list[Marked], translated: dict[str, str]) -> list[str]:
    wrong = []
    for m in found:
        names = set(PLACEHOLDER.findall(m.msgid))
        if m.given is not None and names != m.given:
            wrong.append(f"{m.where}: {m.msgid!r} names {sorted(names)}, "
                         f"said() gives {sorted(m.given)}")
        text = translated.get(m.msgid)
        if not text:
            wrong.append(f"{m.where}: no French for {m.msgid!r}")
        elif set(PLACEHOLDER.findall(text)) != names:
            wrong.append(f"{m.where}: the French of {m.msgid!r} names "
                         f"{sorted(set(PLACEHOLDER.findall(text)))}")
    return wrong


def test_every_refusal_has_its_french_and_names_its_values() -> None:
    found = all_marked()
    assert len({m.msgid for m in found}) > 150  # the collector sees the refusals
    assert problems(found, french()) == []


def test_a_refusal_without_french_or_with_a_misnamed_value_is_caught() -> None:
    source = ('raise invalid(N_("no French for this one, ever"), field="x")\n'
              'raise not_found(said(N_("user %(user_id)s"), userid=7))\n'
              'raise ComposeError("text", said(N_("filter: %(err)s"), err=e))\n'
              'said(N_("%(a)s") if a else N_("%(a)s and %(b)s"), a=1)\n')
    found = list(marked(source, "example.py"))
    assert {m.msgid for m in found} == {"no French for this one, ever", "user %(user_id)s",
                                        "filter: %(err)s", "%(a)s", "%(a)s and %(b)s"}
    translated = {**french(), "%(a)s": "%(a)s", "%(a)s and %(b)s": "%(a)s et %(b)s"}
    assert sorted(problems(found, translated)) == [
        "example.py:1: no French for 'no French for this one, ever'",
        "example.py:2: 'user %(user_id)s' names ['user_id'], said() gives ['userid']",
        "example.py:4: '%(a)s and %(b)s' names ['a', 'b'], said() gives ['a']",
    ]
    assert "example.py:3: the French of 'filter: %(err)s' names ['erreur']" in \
        problems(found, {**french(), "filter: %(err)s": "filtre : %(erreur)s"})


@pytest.mark.parametrize("language, shown", [
    ("en", "user 7 not found"), ("fr", "utilisateur 7 introuvable")])
def test_a_refusal_reads_as_english_text_and_in_the_viewers_language(
        language: str, shown: str) -> None:
    message = said(N_("%(what)s not found"), what=said(N_("user %(user_id)s"), user_id=7))
    assert message == "user 7 not found"  # what the API and the CLI say, as before
    assert Viewer(language="fr" if language == "fr" else "en").gettext(message) == shown


@given(st.text(), st.integers(), st.text())
def test_a_said_sentence_is_its_english_text_whatever_the_values(
        name: str, count: int, before: str) -> None:
    message = said(N_("No program %(name)r; %(count)s known"), name=name, count=count)
    assert message == f"No program {name!r}; {count} known"
    assert message.msgid == "No program %(name)r; %(count)s known"
    assert Viewer().gettext(message) == message
    assert copy.deepcopy(message).params == message.params
    assert pickle.loads(pickle.dumps(message)).msgid == message.msgid
    assert sentence(before) == before and Viewer().gettext(sentence(before)) == before
    assert joined([before, message]) == f"{before}, {message}"


def test_a_domain_error_passed_on_keeps_its_sentence() -> None:
    raised = ValueError(said(N_("user %(user_id)s"), user_id=7))
    wrapped = said(N_("%(what)s not found"), what=raised)
    assert wrapped == "user 7 not found"
    assert Viewer(language="fr").gettext(wrapped) == "utilisateur 7 introuvable"
    assert Viewer(language="fr").gettext(reason(ValueError("two", "args"))) == \
        "('two', 'args')"
    assert Viewer(language="fr").gettext(
        joined([said(N_("%(name)s (did you mean %(close)s?)"), name="{a}", close="{b}"),
                "{c}"])) == "{a} (vouliez-vous dire {b} ?), {c}"
