"""Does this text revoke consent? `opt_out`, `unclear` (say once how to stop) or `none`.

Opt-out words are the law's and the carriers' (below, code, not configuration)
plus a program's own (`opt_out_words:` in keywords.yaml), which work the
same way on that program's short codes.

The FCC's 2024 revocation rule (47 CFR 64.1200(a)(10)) accepts any
reasonable means: STOP, QUIT, END, REVOKE, OPT OUT, CANCEL or UNSUBSCRIBE in
a reply, and other words a reasonable person would read as "stop". A missed
opt-out is a violation; a wrong one costs the supporter a START. So, on
`normalize()`d text (look-alike letters already folded to Latin):

1. the first word is an opt-out word (or, for words of five letters or more,
   one typo from one: UNSUBSCRIBR) -> opt out, whatever follows;
2. a revocation phrase anywhere, at any length ("wrong number", "don't
   text me anymore", "I said stop") -> opt out;
3. an opt-out word (or such a typo) as a whole word anywhere in a SHORT
   message, at most `SHORT_MESSAGE_WORDS` words -> opt out, unless the word
   is plainly not a request: right after a negation ("don't stop", "can't
   stop"), after an article or possessive ("the end", "my stop"), or before
   BY/OF ("stop by", "end of");
4. an opt-out word anywhere else (a longer message, or a context of 3) ->
   `unclear`: decide.py answers once with how to stop, and the text is
   otherwise handled as usual.

Why four words: every example of a bare revocation we have ("ok stop",
"I said STOP", "can you stop", "why won't you stop", "I want to quit") fits
in four, and past four the words are mostly ordinary prose ("when does the
event end", "see you at the end of the rally", "I need to cancel my RSVP").
Contractions count as one word ("can't"), as a supporter would count them.
The rule rests on rule 1 for "stop by the office": it starts with STOP, so it
opts out, as it always has.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final, Literal

from gateway.engine.model import Profile
from gateway.engine.text import TypoIndex, within_one_edit

Verdict = Literal["opt_out", "unclear", "none"]

SHORT_MESSAGE_WORDS: Final = 4

OPT_OUT_WORDS: dict[Profile, frozenset[str]] = {
    "us": frozenset(
        {"STOP", "STOPALL", "END", "CANCEL", "UNSUBSCRIBE", "QUIT", "REVOKE", "OPTOUT", "REMOVE"}
        # STOP is too short for typo matching (SHOP, STEP), so its common slips are listed.
        | {"STOPP", "STOPS", "SOTP", "STPO"}
    ),
}
OPT_OUT_WORDS["fr"] = OPT_OUT_WORDS["us"] | {"ARRET", "ARRETER", "DESABONNER", "DESINSCRIRE"}

# Two-word forms, matched at the start of the text.
OPT_OUT_PREFIXES: dict[Profile, tuple[str, ...]] = {
    "us": ("OPT OUT",),
    "fr": ("OPT OUT", "STOP SMS"),
}

_STOPS = "STOP|QUIT|UNSUBSCRIBE|REMOVE|CANCEL|OPT OUT|OPTOUT"
_NEG = "DO NOT|DONT|DON T|PLEASE DON T|NO LONGER"
_US_PHRASES = (
    rf"\b(PLEASE|PLS|PLZ|JUST) ({_STOPS})\b(?! BY\b)",
    r"\bSTOP (TEXTING|TEXT|TEXTS|MESSAGING|MESSAGES|MESSAGE|SENDING|CONTACTING|SMS|IT|ME|NOW"
    r"|PLEASE|PLS|PLZ|ALREADY|CALLING|BOTHERING|SPAMMING|EMAILING)\b",
    r"\b(REMOVE|UNSUBSCRIBE|TAKE|OPT) ME\b",
    r"\bOPT ME OUT\b",
    r"\bUNSUBSCRIBE\b",
    r"\bSTOPALL\b",
    r"\bOPT ?OUT\b",
    rf"\b({_NEG}) (TEXT|CONTACT|MESSAGE|SMS|SEND|CALL|EMAIL)\b",
    rf"\b({_NEG}) (WANT|WISH|NEED|LIKE) (TO (GET|RECEIVE) )?((ANY|THESE|THIS|THOSE|YOUR|MORE|THE)"
    r" )*(TEXTS?|MESSAGES?|SMS|ALERTS?)\b",
    r"\bNO MORE (TEXTS|TEXT|MESSAGES|SMS)\b",
    r"\bLEAVE ME ALONE\b",
    r"\bWRONG (NUMBER|NUMBR|NUM|PERSON)\b",
    r"\bNOT MY NUMBER\b",
    rf"\b(SAID|SAY|TOLD YOU|ASKED YOU|ASKED) (TO )?({_STOPS})\b(?! BY\b)",
    rf"\b(CAN|COULD|WOULD|WILL|WHY WON T|WHY WONT) (YOU|U|YALL|Y ALL) (PLEASE |PLS |JUST )?"
    rf"({_STOPS})\b(?! BY\b)",
)
_FR_PHRASES = (
    r"\bSTOP SMS\b",
    r"\bARRET\b",
    r"\b(DESABONNER|DESINSCRIRE|DESABONNEZ|DESINSCRIVEZ)\b",
    r"\bNE PLUS RECEVOIR\b",
    r"\bMAUVAIS NUMERO\b",
)
OPT_OUT_PHRASES: dict[Profile, re.Pattern[str]] = {
    "us": re.compile("|".join(_US_PHRASES)),
    "fr": re.compile("|".join(_US_PHRASES + _FR_PHRASES)),
}

# Opt-out words this long also match with one typo (UNSUBSCRIBR, CANCLE).
TYPO_MIN_LENGTH: Final = 5
_OPT_OUT_TYPOS: dict[Profile, TypoIndex[str]] = {
    profile: TypoIndex((w, w) for w in words if len(w) >= TYPO_MIN_LENGTH)
    for profile, words in OPT_OUT_WORDS.items()
}

# Contexts in which an opt-out word is plainly not a request (rule 3).
_NEGATIONS = frozenset({"NOT", "NEVER", "DONT", "CANT", "WONT", "CANNOT", "DIDNT", "DOESNT",
                        "SHOULDNT", "WOULDNT", "COULDNT", "ISNT", "WASNT", "NE", "PAS"})
_DETERMINERS = frozenset({"THE", "A", "AN", "THIS", "THAT", "ANY", "EVERY", "EACH", "MY",
                          "OUR", "YOUR", "HIS", "HER", "THEIR", "ITS", "LE", "LA", "UN", "UNE"})
_FOLLOWERS = frozenset({"BY", "OF"})
# Tails that phones split off with an apostrophe: can't -> CAN T -> one word CANT.
_CONTRACTION_TAILS = frozenset({"T", "S", "LL", "RE", "VE", "D", "M"})


@lru_cache(maxsize=8192)
def is_opt_out_word(word: str, profile: Profile, own: frozenset[str] = frozenset()) -> bool:
    """An opt-out word (the law's, or `own`: the programs' own on this code), or one typo
    from one of five letters or more.

    Cached: every word of every MO is asked about, supporters' vocabulary is
    small, and a typo lookup costs microseconds of the engine's ~20 µs budget.
    """
    if word in OPT_OUT_WORDS[profile] or word in own:
        return True
    if len(word) < TYPO_MIN_LENGTH:
        return False
    return bool(_OPT_OUT_TYPOS[profile].near(word)) or any(
        len(w) >= TYPO_MIN_LENGTH and within_one_edit(word, w) for w in own)


def words_of(text: str) -> list[str]:
    """The normalized text as a supporter counts words: CAN T -> CANT, OPT OUT -> OPTOUT."""
    merged: list[str] = []
    for token in text.split():
        if merged and (token in _CONTRACTION_TAILS or (token == "OUT" and merged[-1] == "OPT")):
            merged[-1] += token
        else:
            merged.append(token)
    return merged


@lru_cache(maxsize=8192)  # JOIN, Y, STOP, HELP... most MOs are one of a few texts
def classify(text: str, first: str, profile: Profile,
             own: frozenset[str] = frozenset()) -> Verdict:
    """`text` is the whole normalized MO, `first` its first word; `own` the programs'
    own opt-out words on the short code (keywords.yaml `opt_out_words`)."""
    if is_opt_out_word(first, profile, own):
        return "opt_out"
    if any(text == p or text.startswith(p + " ") for p in OPT_OUT_PREFIXES[profile]):
        return "opt_out"
    if OPT_OUT_PHRASES[profile].search(text) is not None:
        return "opt_out"
    words = words_of(text)
    hits = [i for i, w in enumerate(words) if is_opt_out_word(w, profile, own)]
    if not hits:
        return "none"
    if len(words) <= SHORT_MESSAGE_WORDS and any(_plain_request(words, i) for i in hits):
        return "opt_out"
    return "unclear"


def _plain_request(words: list[str], i: int) -> bool:
    before = words[i - 1] if i > 0 else ""
    after = words[i + 1] if i + 1 < len(words) else ""
    return (before not in _NEGATIONS and before not in _DETERMINERS
            and after not in _FOLLOWERS)


def is_opt_out(text: str, first: str, profile: Profile,
               own: frozenset[str] = frozenset()) -> bool:
    return classify(text, first, profile, own) == "opt_out"
