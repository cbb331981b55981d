"""The shape of keywords.yaml, as pydantic models that refuse unknown keys.

Why `extra="forbid"` everywhere: a misspelt key (`doubel_opt_in: true`) that
is silently ignored is a compliance bug waiting to happen. Cross-references
(a keyword naming a program, a template naming a field) are checked in
`checks.py`, where the whole file is in view.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from gateway.engine.frequency import Period, derived_text, parse_text
from gateway.engine.voice_texts import VoiceLanguage

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(value: object) -> object:
    """`90`, `"90s"`, `"30m"`, `"2h"`, `"1d"` -> seconds; anything else fails validation."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError("expected a duration such as 90s, 30m, 2h or 1d")
        return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return value


_MONEY = re.compile(
    r"^\s*[$€]?\s*(\d{1,7})(?:[.,](\d{1,2}))?\s*(?:[$€]|USD|EUR)?\s*$", re.IGNORECASE
)


def money_cents(value: object) -> object:
    """`10`, `"10"`, `"10.50"`, `"$10"`, `"10 €"` -> integer cents (1000, 1050...).

    Why major units in the file: organizers and counsel write "$50", and a
    bare `5000` meaning fifty dollars is a mistake waiting to happen. A YAML
    float (`10.5`) is read through its text, never through binary floating point.
    """
    if isinstance(value, bool):
        return value  # refused by the int validation below
    if isinstance(value, int):
        return value * 100
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, str):
        match = _MONEY.match(value)
        if not match:
            raise ValueError('expected an amount such as 10, "10.50" or "$10"')
        return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    return value


Seconds = Annotated[int, BeforeValidator(duration_seconds), Field(ge=1)]
Cents = Annotated[int, BeforeValidator(money_cents), Field(ge=1, le=100_000_000)]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
# a contact tag, as gateway/store/tags.py stores it
TagName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
Text = Annotated[str, Field(min_length=1)]
Profile = Literal["us", "fr"]
Action = Literal["opt_in", "dialog", "reply", "donate", "theme", "menu", "knowledge"]
ValidatorName = Literal[
    "us_zip", "fr_postal_code", "gender", "choice", "number", "free_text", "email"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class Defaults(_Strict):
    fuzzy_min_length: int = Field(5, ge=3, le=20)
    max_segments: int = Field(3, ge=1, le=10)
    default_reply: Text
    default_reply_every: Seconds = 86400
    flood_limit_per_minute: int = Field(10, ge=2, le=1000)
    confirm_within: Seconds = 86400
    dialog_expires_after: Seconds = 86400
    # the answer to an MO sent to a short code no program names (sent from that
    # code); none: such MOs are kept and counted, and nothing is answered
    unknown_shortcode_reply: Text | None = None


class Privacy(_Strict):
    url: Annotated[str, Field(pattern=r"^https://\S+$")]
    version: Text


class ProgramTexts(_Strict):
    help: Text
    confirmation: Text  # the opt-in confirmation: carries every disclosure
    confirm_request: Text | None = None  # double opt-in: "Reply Y to confirm..."
    opted_out: Text
    already_subscribed: Text | None = None
    default_reply: Text | None = None
    # answered once to a text that mentions an opt-out word without clearly opting out
    # ("don't stop", a long message with END in it); absent: the help text, which says how
    stop_hint: Text | None = None


def frequency_from_text(value: object) -> object:
    """An old free-text `frequency:` becomes the structured form, its text kept as written."""
    if isinstance(value, str):
        number, per = parse_text(value)
        return {"max_messages": number, "per": per, "text": value}
    return value


class Frequency(_Strict):
    """`frequency: {max_messages: 6, per: month}`: the promise, enforced on broadcasts.

    `text` is optional: without it the disclosure wording is derived from the
    numbers (engine/frequency.py); with it, it must state the same number and period.
    """

    max_messages: int = Field(ge=1, le=1000)
    per: Period
    text: Text | None = None

    @model_validator(mode="after")
    def _text_matches(self) -> Frequency:
        if self.text is not None:
            number, per = parse_text(self.text)
            if (number, per) != (self.max_messages, self.per):
                raise ValueError(
                    f"text {self.text!r} says {number} per {per}, but max_messages is "
                    f"{self.max_messages} per {self.per}"
                )
        return self

    def text_for(self, profile: str) -> str:
        return self.text or derived_text(self.max_messages, self.per, profile)


class Program(_Strict):
    name: Text
    shortcodes: Annotated[list[Annotated[str, Field(pattern=r"^[0-9A-Za-z+]{3,16}$")]],
                          Field(min_length=1)]
    profile: Profile = "us"
    support: Text
    frequency: Annotated[Frequency, BeforeValidator(frequency_from_text)]
    privacy: Privacy
    disclosure_version: Text
    double_opt_in: bool = False
    # more single words that opt out on this program's short codes, like STOP (revocation.py)
    opt_out_words: list[Text] = []
    texts: ProgramTexts

    @property
    def frequency_text(self) -> str:
        """What `{frequency}` says in this program's texts."""
        return self.frequency.text_for(self.profile)


class Keyword(_Strict):
    word: Text
    aliases: list[Text] = []
    program: Identifier
    action: Action
    dialog: Identifier | None = None  # dialog to start (action dialog, or after opt-in)
    reply: Text | None = None  # action reply
    theme: Identifier | None = None  # action theme
    knowledge: Identifier | None = None  # action knowledge: an entry of knowledge.<program>
    fuzzy: bool | None = None  # None: by length (defaults.fuzzy_min_length)
    tags: list[TagName] = []  # put on the texter's number when the keyword matches


class Step(_Strict):
    field: Identifier
    prompt: Text
    validator: ValidatorName
    reprompt: Text | None = None
    retries: int = Field(2, ge=0, le=10)
    skip: Text | None = "SKIP"
    choices: list[Text] | None = None  # validator choice
    min: float | None = None  # validator number
    max: float | None = None


class Dialog(_Strict):
    program: Identifier
    steps: Annotated[list[Step], Field(min_length=1)]
    expires_after: Seconds | None = None
    closing: Text | None = None


DonationMethod = Literal["carrier", "card"]


class DonationTexts(_Strict):
    """What the donation dialog and the billing service say; see keywords.yaml."""

    confirm_carrier: Text | None = None  # "Reply YES to give {amount}... mobile account"
    confirm_card: Text | None = None  # "Reply YES to give {amount} with card ending {card_last4}"
    ask_amount: Text  # GIVE without a usable amount
    refused: Text  # over a legal limit (billing service)
    unavailable: Text | None = None  # refused for another reason (method off, election closed)
    expired: Text  # YES after the confirmation window
    thanks: Text  # the billed MT / the card receipt (billing service)
    cancelled: Text | None = None  # NO to a pending confirmation
    already_confirmed: Text | None = None  # a second YES
    details_name_address: Text | None = None  # aggregate over the first threshold
    details_employer: Text | None = None  # over the second: with the best-efforts statement
    # Absent ones below say the profile's default (engine/donation_texts.py, docs/donations.md).
    checkout_link: Text | None = None  # the Checkout page: names {checkout_url}
    checkout_description: Text | None = None  # the gift's line on the page and the receipt
    requires_action: Text | None = None  # the bank wants the donor: names {action_url}
    limit_per_text: Text | None = None  # {limit} in `refused`, per limit broken
    limit_per_month: Text | None = None
    limit_per_cycle: Text | None = None
    limit_per_election: Text | None = None
    details_reply_here: Text | None = None  # after the details text: names {question}
    details_ask_name: Text | None = None  # the SMS details dialog's questions
    details_ask_address: Text | None = None
    details_ask_employer: Text | None = None
    details_ask_occupation: Text | None = None
    details_unreadable: Text | None = None  # names {expected} and {question}
    details_expected_name: Text | None = None  # {expected}, per answer that cannot be read
    details_expected_address: Text | None = None
    details_expected_street: Text | None = None
    details_expected_city: Text | None = None
    details_expected_region: Text | None = None
    details_expected_postal_code: Text | None = None
    details_expected_employer: Text | None = None
    details_expected_occupation: Text | None = None
    details_gave_up: Text | None = None  # three unreadable answers: the link is the way
    details_complete: Text | None = None  # every fact is on file


class DonationLimits(_Strict):
    """Counsel's numbers; absent ones take the profile's default (FEC text-giving opinions)."""

    per_text: Cents | None = None
    per_month_by_phone: Cents | None = None
    per_cycle_by_phone: Cents | None = None
    per_election: Cents | None = None


class DonorDetailsThresholds(_Strict):
    name_address_over: Cents | None = None
    employer_occupation_over: Cents | None = None


class Election(_Strict):
    name: Text
    starts: date
    ends: date  # inclusive, in the committee's time zone


class Donations(_Strict):
    """One program's text-to-give settings (`donations.<program id>`)."""

    committee: Text
    terms_url: Annotated[str, Field(pattern=r"^https://\S+$")]
    methods: list[DonationMethod] | None = None  # default: us both, fr card only
    price_points: list[Cents] = []  # carrier billing: the aggregator's tariffs
    currency: Literal["USD", "EUR"] | None = None
    confirm_within: Seconds = 86400
    timezone: Text | None = None  # the committee's: calendar months and cycles
    cycle: Literal["two_year", "calendar_year"] | None = None
    election: Election | None = None  # default: the whole cycle
    limits: DonationLimits = DonationLimits()
    details: DonorDetailsThresholds = DonorDetailsThresholds()
    texts: DonationTexts


class ThemeTexts(_Strict):
    """What the contact centre says (engine/themes.py); see keywords.yaml."""

    menu: Text  # the numbered list of topics: names {menu}
    ask: Text  # a theme chosen without a question yet: names {theme}
    acknowledgement: Text  # a question was queued: names {theme} and {response_time}
    answer: Text = "{answer}"  # wraps an expert's answer: names {answer}


Language = Literal["fr", "en"]


class Topic(_Strict):
    name: Text  # in the program's language: what supporters read, and pages by default
    names: dict[Language, Text] = {}  # on pages shown in that language (the expert inbox)
    sla: Seconds | None = None  # expected response time; default themes.<program>.sla
    leads: list[Text] = []  # who an unclaimed question is escalated to past its SLA
    words: list[Text] = []  # one word each; WORD* matches every word starting with WORD
    phrases: list[Text] = []  # several words, matched in that order anywhere in the text


class MailTexts(_Strict):
    """The contact centre's e-mails in one language; an absent one says engine/mail_texts.py's
    default. Placeholders: docs/contact-centre.md."""

    acknowledgement_subject: Text | None = None
    acknowledgement: Text | None = None  # a question was queued: names {theme}, {response_time}
    knowledge_subject: Text | None = None
    knowledge: Text | None = None  # a standard answer: names {answer}
    answer_subject: Text | None = None
    answer: Text | None = None  # an expert's answer: names {answer}


class CampaignBox(_Strict):
    """The public form's unticked "receive information about the campaign" box."""

    version: Text  # recorded with every post, ticked or not
    fr: Text | None = None  # its wording, per language of the form
    en: Text | None = None


class WriteForm(_Strict):
    campaign_box: CampaignBox | None = None  # None: the form shows no box


class Themes(_Strict):
    """One program's contact centre (`themes.<program id>`): questions by theme."""

    fallback: Identifier = "general"  # where free text no rule classifies goes
    sla: Seconds = 172800
    min_words: int = Field(3, ge=1, le=50)  # shorter unmatched texts are not questions
    choose_within: Seconds = 3600  # a menu number or a question must follow within this
    texts: ThemeTexts
    topics: Annotated[dict[Identifier, Topic], Field(min_length=1, max_length=30)]
    mail: dict[Language, MailTexts] = {}  # e-mail and form questions (engine/mail_texts.py)
    form: WriteForm = WriteForm()  # the public form /write


class KnowledgeEntry(_Strict):
    """An automatic answer (`knowledge.<program id>.<entry>`), reached by keywords or phrases."""

    lookup: Literal["committee", "events", "document"] | None = None
    document: Identifier | None = None  # lookup document: a knowledge-base document's key
    answer: Text
    not_found: Text | None = None  # the lookup found nothing
    usage: Text | None = None  # committee: no usable postal code in the text or the profile
    phrases: list[Text] = []
    limit: int = Field(3, ge=1, le=10)  # events: how many


class VoiceTexts(_Strict):
    """The voice line's texts in one language (`voice.<program>.texts.<fr|en>`).

    Each one left out says the default of engine/voice_texts.py, which also
    lists what each says and when; `donation_link` is an SMS, the rest are spoken.
    """

    greeting: Text | None = None
    option_message: Text | None = None
    option_support: Text | None = None
    option_question: Text | None = None
    no_input: Text | None = None
    invalid: Text | None = None
    goodbye: Text | None = None
    message_intro: Text | None = None
    no_message: Text | None = None
    back_to_menu: Text | None = None
    support_donate: Text | None = None
    support_updates: Text | None = None
    donation_sent: Text | None = None
    opt_in_done: Text | None = None
    opt_in_confirm: Text | None = None
    already_subscribed: Text | None = None
    opted_out: Text | None = None
    theme_intro: Text | None = None
    theme_choice: Text | None = None
    theme_other: Text | None = None
    record_prompt: Text | None = None
    recorded: Text | None = None
    recorded_withheld: Text | None = None
    not_recorded: Text | None = None
    question_placeholder: Text | None = None
    donation_link: Text | None = None


class Voice(_Strict):
    """One program's voice line (`voice.<program id>`, engine/voice.py): all optional."""

    # the version of the wording a keypress opt-in is recorded with; absent: derived from it
    prompt_version: Text | None = None
    donation_url: Annotated[str, Field(pattern=r"^https://\S+$")] | None = None  # menu 2, 1
    topics: Annotated[list[Identifier], Field(min_length=1, max_length=8)] | None = None
    tts_voice: dict[VoiceLanguage, Text] = {}  # the provider's voice name, e.g. Polly.Lea
    texts: dict[VoiceLanguage, VoiceTexts] = {}


class RulesFile(_Strict):
    version: Literal[1]
    defaults: Defaults
    fields: Annotated[list[Identifier], Field(min_length=1)]
    programs: Annotated[dict[Identifier, Program], Field(min_length=1)]
    keywords: list[Keyword] = []
    dialogs: dict[Identifier, Dialog] = {}
    donations: dict[Identifier, Donations] = {}
    themes: dict[Identifier, Themes] = {}
    knowledge: dict[Identifier, dict[Identifier, KnowledgeEntry]] = {}
    voice: dict[Identifier, Voice] = {}
