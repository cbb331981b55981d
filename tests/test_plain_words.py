"""Every code a page can show has plain words, in English and in French.

Walks each source of codes: the engine's event kinds (`EngineEvent`), the
reconciliation statuses (finance/matching.py), and every checked column of
gateway/store/words.py as the migrated database's CHECK constraint states
it (so a migration that adds a status fails here until it has words). Then
every word, and every string of the translated templates (TRANSLATED_TEMPLATES:
the frame, login, error, home, My settings and the organizers' and admins'
pages) and of the navigation, must have a French translation in the catalog,
which must compile.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import get_args

import asyncpg
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

import gateway.web
from gateway.engine.events import EngineEvent
from gateway.finance import matching
from gateway.web.locale import translations
from gateway.web.pages import NAV
from gateway.web.plain import VOCABULARIES

TEMPLATES = Path(gateway.web.__file__).parent / "templates"
CATALOG = (Path(gateway.web.__file__).parent / "translations" / "fr" / "LC_MESSAGES"
           / "messages.po")
TRANSLATED_TEMPLATES = (
    "base.html", "login.html", "error.html", "home.html", "my_settings.html",
    # contacts, the expert inbox, knowledge base, donations and the demo's simulators
    "contacts.html", "contact.html", "contact_consent.html", "contact_donations.html",
    "contact_email.html", "contact_gifts.html", "contact_person.html", "contact_timeline.html",
    "consent_words.html", "email_consent_steps.html",
    "inbox.html", "inbox_question.html", "inbox_knowledge.html", "knowledge.html",
    "knowledge_document.html", "mailbox.html", "mailbox_message.html", "donations.html",
    "reconciliation.html", "phone.html", "voice_simulator.html", "erased.html",
    # the webhooks admin pages
    "webhooks.html", "webhook.html", "webhook_confirm.html", "webhooks_macros.html",
    # the organizers' and admins' pages (fradmin)
    "dashboard.html", "broadcasts.html", "broadcast.html", "broadcast_new.html",
    "broadcast_confirm.html", "campaign.html", "keywords.html", "users.html", "user.html",
    "users_macros.html", "my_tokens.html", "subscribers.html", "subscriber.html",
    "newsletters.html", "newsletter.html", "voice.html", "voice_report.html", "macros.html",
    "confirm.html",
)
# Templates with no words of their own (they show what their callers pass, through `t`):
# covered by the "no text outside gettext" test, not by the catalog test.
WORDLESS_TEMPLATES = frozenset({"macros.html"})

CHECK_VALUES = """
SELECT pg_get_constraintdef(c.oid) AS definition
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = c.conkey[1]
WHERE c.contype = 'c' AND t.relname = $1 AND a.attname = $2
  AND cardinality(c.conkey) = 1 AND pg_get_constraintdef(c.oid) LIKE '%ARRAY[%'
"""


def test_every_engine_event_kind_has_words() -> None:
    kinds = {event.name for event in get_args(EngineEvent)}
    assert kinds - set(VOCABULARIES["event"]) == set()


def _written_event_names() -> dict[str, str]:
    """Every literal timeline name in gateway/: NewEvent's 4th argument, questions' _log 3rd.

    A name held in a module constant (`DONATION_LINK_SENT`) is read from the module's
    assignments; `event.name` (an engine event) is covered by the test above.
    """
    root = Path(gateway.web.__file__).parent.parent
    found: dict[str, str] = {}
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {target.id: node.value.value for node in ast.walk(tree)
                     if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                     and isinstance(node.value.value, str)
                     for target in node.targets if isinstance(target, ast.Name)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            callee = node.func.attr if isinstance(node.func, ast.Attribute) else \
                node.func.id if isinstance(node.func, ast.Name) else ""
            position = {"NewEvent": 3, "_log": 2}.get(callee)
            if position is None or len(node.args) <= position:
                continue
            arg = node.args[position]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found[arg.value] = f"{path.relative_to(root)}:{node.lineno}"
            elif isinstance(arg, ast.Name) and arg.id in constants:
                found[constants[arg.id]] = f"{path.relative_to(root)}:{node.lineno}"
    return found


def test_every_timeline_name_written_outside_the_engine_has_words() -> None:
    written = _written_event_names()
    assert {"unknown_shortcode", "question_claimed", "voice_donation_link_sent"} <= set(written)
    missing = {name: where for name, where in written.items()
               if name not in VOCABULARIES["event"]}
    assert missing == {}


def test_every_reconciliation_status_has_words() -> None:
    statuses = {*matching.STATUSES, matching.BILLED_UNKNOWN}
    assert statuses - set(VOCABULARIES["reconciliation"]) == set()


async def test_every_value_a_checked_column_accepts_has_words(pool: asyncpg.Pool) -> None:
    from gateway.store.words import CHECKED
    async with pool.acquire() as conn:
        for name, checked in CHECKED.items():
            rows = await conn.fetch(CHECK_VALUES, checked.table, checked.column)
            assert rows, f"{checked.table}.{checked.column} has no CHECK ... IN constraint"
            allowed = {value for row in rows
                       for value in re.findall(r"'([^']*)'::text", row["definition"])}
            missing = allowed - set(checked.words)
            assert missing == set(), f"plain({name!r}) has no words for {sorted(missing)}"


def _french() -> dict[str, str]:
    with CATALOG.open("rb") as source:
        catalog = read_po(source, locale="fr")
    return {str(message.id): str(message.string) for message in catalog
            if message.id and message.string and not message.fuzzy}


def _template_strings(name: str) -> set[str]:
    found = extract_from_file("jinja2", str(TEMPLATES / name),
                              options={"trim_blocks": "True", "lstrip_blocks": "True"})
    return {str(message) for _, message, _, _ in found}


def test_every_word_the_pages_show_has_a_french_translation() -> None:
    french = _french()
    wanted = {words for vocabulary in VOCABULARIES.values() for words in vocabulary.values()}
    wanted |= {item.label for item in NAV}
    for template in TRANSLATED_TEMPLATES:
        strings = _template_strings(template)
        assert bool(strings) != (template in WORDLESS_TEMPLATES), \
            f"{template}: translatable strings {sorted(strings)[:3]}, or none: still translated?"
        wanted |= strings
    assert sorted(wanted - set(french)) == []


def test_the_translated_templates_have_no_text_outside_gettext() -> None:
    for template in TRANSLATED_TEMPLATES:
        text = (TEMPLATES / template).read_text(encoding="utf-8")
        text = re.sub(r"\{[{%#].*?[}%#]\}", "", text, flags=re.S)  # jinja expressions
        text = re.sub(r"<[^>]*>", "", text)  # tags and their attributes
        text = re.sub(r'[\w-]+="[^"]*"', "", text)  # attributes a macro writes into a tag
        leftover = [line.strip() for line in text.splitlines()
                    if re.search(r"[A-Za-z]{2}", line) and line.strip() != "·"]
        assert leftover == [], f"{template}: words outside _(): {leftover}"


def test_the_catalog_compiles_and_translates() -> None:
    french = translations("fr")
    assert french.gettext("Log out") == "Se déconnecter"
    assert french.gettext("in_ledger_not_settled") == "in_ledger_not_settled"  # no msgid


def test_every_macro_import_sees_the_viewer() -> None:
    """A macro imported without `with context` cannot see the viewer: it would speak
    English and show UTC on a French page (as the webhooks form once did)."""
    bare = [f"{path.name}: {line.strip()}" for path in sorted(TEMPLATES.glob("*.html"))
            for line in path.read_text(encoding="utf-8").splitlines()
            if re.match(r"\s*\{%-?\s*(from|import)\s", line) and "with context" not in line]
    assert bare == []
