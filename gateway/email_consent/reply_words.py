"""Does a citizen's e-mail reply ask to unsubscribe? One pure rule, English and French.

Why a rule of its own rather than the SMS one (engine/revocation.py): an SMS
is a few words typed as a command, so "STOP" anywhere in four words is an
opt-out. An e-mail is prose: "Will the candidate stop the pension reform?"
is a question for an expert, not a request to leave the list, and every
reply quotes our newsletter, whose footer says "unsubscribe". So the rule
reads only the citizen's own words, and fires on two shapes
(docs/email.md, "A reply that says unsubscribe"):

1. **A request phrase** anywhere in the citizen's own words: "unsubscribe
   me", "take me off your list", "désabonnez-moi", "je veux me désinscrire",
   "ne plus recevoir"... unless a negation stands just before it ("please
   don't unsubscribe me"). A few phrases that say the person cannot leave
   ("I can't unsubscribe", "je n'arrive pas à me désabonner") count whatever
   precedes them: they want out.
2. **A command sentence**: one of the first three sentences (or the
   subject) is nothing but a command word (STOP, unsubscribe, désabonnement,
   désinscription...) with politeness and words that only name the mail
   ("Stop, thanks", "Unsubscribe me from this newsletter please",
   "Désinscription svp"). A sentence with any other word ("stop the reform")
   or ending in "?" ("stop?") is not a command.

Own words: quoted lines ("> ...") are skipped; everything from a reply header
("On ... wrote:", "Le ... a écrit :", "-----Original Message-----", an
Outlook "From: ...@..." block) or a signature delimiter ("-- ") is dropped.
Case, accents and punctuation are folded before matching.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

COMMAND_WORDS: Final = frozenset({
    "unsubscribe", "unsub", "stop", "optout", "desabonner", "desabonnez", "desabonne",
    "desabonnement", "desinscrire", "desinscrivez", "desinscription", "desinscris",
    "arret", "arreter", "arretez",
})
# Words that may stand beside a command without making it a sentence about something else.
FILLER: Final = frozenset({
    "please", "pls", "plz", "thanks", "thank", "thx", "you", "ok", "okay", "yes", "hello",
    "hi", "dear", "regards", "best", "now", "immediately", "asap", "again", "all", "it",
    "this", "these", "the", "your", "from", "me", "my", "address", "email", "emails", "e",
    "mail", "mails", "newsletter", "newsletters", "list", "mailing", "messages", "message",
    "sending", "merci", "svp", "stp", "s", "il", "vous", "plait", "bonjour", "bonsoir",
    "cordialement", "oui", "moi", "maintenant", "immediatement", "tout", "ca", "cela",
    "de", "du", "la", "le", "les", "vos", "votre", "cette", "ces", "d", "m", "adresse",
    "courriel", "courriels", "lettre", "infos", "envois", "envoi",
})
NEGATIONS: Final = frozenset({"not", "t", "never", "dont", "don", "ne", "n", "pas", "jamais"})
REQUEST_PHRASES: Final = tuple(tuple(p.split()) for p in (
    "unsubscribe me", "remove me from your list", "remove me from this list",
    "remove me from the list", "remove me from your mailing list", "take me off your list",
    "take me off this list", "take me off the list", "take me off your mailing list",
    "opt me out", "stop emailing me", "stop sending me", "stop mailing me",
    "stop contacting me", "no more emails", "no more e mails", "no more newsletters",
    "do not email me", "don t email me", "dont email me", "i want to unsubscribe",
    "i wish to unsubscribe", "i would like to unsubscribe", "i d like to unsubscribe",
    "how do i unsubscribe", "how can i unsubscribe", "please unsubscribe",
    "unsubscribe from your", "desabonnez moi", "desinscrivez moi", "retirez moi de",
    "supprimez moi de", "me desabonner", "me desinscrire", "me retirer de votre liste",
    "ne plus recevoir", "plus de mails", "plus d e mails", "plus d emails",
    "plus de courriels", "plus de newsletter", "arretez de m envoyer",
    "arreter de m envoyer", "cessez de m envoyer",
))
HELPLESS_PHRASES: Final = tuple(tuple(p.split()) for p in (
    "can t unsubscribe", "cannot unsubscribe", "unable to unsubscribe",
    "n arrive pas a me desabonner", "n arrive pas a me desinscrire",
    "impossible de me desabonner", "impossible de me desinscrire",
))
COMMAND_SENTENCES: Final = 3  # only the first sentences: a command comes first

_REPLY_HEADER = re.compile(
    r"^\s*(on\s.{0,300}\swrote\s*:?|le\s.{0,300}\sa\s+[ée]crit\s*:?"
    r"|-{2,}\s*(original message|message d'origine|forwarded message|message transf[ée]r[ée])"
    r"\s*-{2,}|(from|de)\s*:.*@.*)\s*$", re.IGNORECASE)
_SIGNATURE = re.compile(r"^--\s?$")
_SENTENCE_END = re.compile(r"([.!?;\n]+)")
_SUBJECT_PREFIX = re.compile(r"^\s*((re|fwd?|tr|aw|wg)\s*:\s*)+", re.IGNORECASE)


def is_unsubscribe_request(text: str, subject: str = "") -> bool:
    """True when the reply (its text part, and optionally its subject) asks to leave the list."""
    own = own_words(text)
    subject = _SUBJECT_PREFIX.sub("", subject)
    words = _words(own)
    if _has_phrase(words) or _has_phrase(_words(subject)):
        return True
    return _is_command(subject) or any(
        _is_command(sentence) for sentence in _sentences(own)[:COMMAND_SENTENCES])


def own_words(text: str) -> str:
    """The citizen's own lines: no quoted line, nothing from a reply header or signature on."""
    kept: list[str] = []
    for line in text.splitlines():
        if _REPLY_HEADER.match(line) or _SIGNATURE.match(line):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line)
    return "\n".join(kept)


def fold(text: str) -> str:
    """Lower case, no accents, every run of non-alphanumerics one space; 'opt out' one word."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    spaced = re.sub(r"[\W_]+", " ", bare).strip()
    return re.sub(r"\bopt out\b", "optout", spaced)


def _words(text: str) -> list[str]:
    return fold(text).split()


def _sentences(text: str) -> list[str]:
    """Non-empty sentences, each ending with its terminator ('?' marks a question)."""
    parts = _SENTENCE_END.split(text)
    sentences = []
    for i in range(0, len(parts), 2):
        body = parts[i]
        end = parts[i + 1] if i + 1 < len(parts) else ""
        if fold(body):
            sentences.append(body + end.strip())
    return sentences


def _is_command(sentence: str) -> bool:
    words = _words(sentence)
    if not words or sentence.rstrip().endswith("?"):
        return False
    commands = [i for i, word in enumerate(words) if word in COMMAND_WORDS]
    if not commands or any(word not in COMMAND_WORDS and word not in FILLER for word in words):
        return False
    return not any(_negated(words, i) for i in commands)


def _has_phrase(words: list[str]) -> bool:
    for phrases, negatable in ((HELPLESS_PHRASES, False), (REQUEST_PHRASES, True)):
        for phrase in phrases:
            for start in _starts(words, phrase):
                if not (negatable and _negated(words, start)):
                    return True
    return False


def _starts(words: list[str], phrase: tuple[str, ...]) -> list[int]:
    size = len(phrase)
    return [i for i in range(len(words) - size + 1) if tuple(words[i:i + size]) == phrase]


def _negated(words: list[str], at: int) -> bool:
    """A negation one or two words before `at` ("don't unsubscribe me", "ne pas me ...")."""
    return any(word in NEGATIONS for word in words[max(0, at - 2):at])
