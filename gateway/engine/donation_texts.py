"""Donation texts a program may leave out of keywords.yaml: the wording used then, per profile.

Why defaults: these texts were written in code until the donation workflow
became a decision core (the Checkout link, the bank's authentication
request, the limit phrases of a refusal, the donor-details dialog). Every
one is now a template under `donations.<program>.texts`; a program that
does not write one says what the gateway always said, in its profile's
language. The checker validates what a file writes (fields, segments, and
for some texts what they must carry: donation_checks.py), and the defaults
pass the same checks. docs/donations.md lists each key with its placeholders.

US programs must still write `details_name_address` and `details_employer`
themselves (the FEC's best-efforts statement is the committee's to word);
French ones may, and otherwise say the identity text below.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Final

from gateway.engine.model import Profile
from gateway.engine.templates import Template, parse_template

_US: Final = {
    "checkout_link": "{committee}: to give {amount} by card, use this secure page: "
                     "{checkout_url} You certify you are 18+, giving your own funds, a US "
                     "citizen or permanent resident and not a federal contractor. "
                     "Terms: {terms_url}",
    "checkout_description": "{committee} donation",
    "requires_action": "{committee}: your bank needs you to confirm this gift: {action_url}",
    "limit_per_text": "{limit} per text",
    "limit_per_month": "{limit} a month by text",
    "limit_per_cycle": "{limit} per election cycle by text",
    "limit_per_election": "{limit} per election",
    "details_reply_here": "Or reply here: {question}",
    "details_ask_name": "What is your full name (first and last)?",
    "details_ask_address": "What is your address? Reply like: 12 Main St, Springfield, "
                           "IL 62701",
    "details_ask_employer": "Who is your employer? (Self-employed, retired or not employed? "
                            "Say so.)",
    "details_ask_occupation": "What is your occupation?",
    "details_unreadable": "Sorry, that doesn't look like {expected}. {question}",
    "details_expected_name": "your full name",
    "details_expected_address": "a full address",
    "details_expected_street": "a street address",
    "details_expected_city": "a city",
    "details_expected_region": "a US state code (like IL)",
    "details_expected_postal_code": "a ZIP code (like 62701)",
    "details_expected_employer": "an employer",
    "details_expected_occupation": "an occupation",
    "details_gave_up": "{committee}: sorry, we couldn't read that. Please use the link we "
                       "sent to give your details.",
    "details_complete": "{committee}: thank you, we have your details. Your gift will go "
                        "through.",
}
_FR_IDENTITY: Final = ("{committee} : merci ! Pour un don de {amount}, la loi nous demande "
                       "d'abord votre identité : {details_url} Rien n'a été débité.")
_FR: Final = {
    "checkout_link": "{committee} : pour donner {amount} par carte, rendez-vous sur "
                     "{checkout_url} Conditions : {terms_url}",
    "checkout_description": "{committee} donation",
    "requires_action": "{committee}: your bank needs you to confirm this gift: {action_url}",
    "limit_per_text": "{limit} par SMS",
    "limit_per_month": "{limit} par mois par SMS",
    "limit_per_cycle": "{limit} par cycle électoral par SMS",
    "limit_per_election": "{limit} par an",
    "details_name_address": _FR_IDENTITY,
    "details_employer": _FR_IDENTITY,
    "details_reply_here": "Ou répondez ici : {question}",
    "details_ask_name": "Quels sont vos nom et prénom ?",
    "details_ask_address": "Quelle est votre adresse ? Par ex. : 12 rue de la Paix, "
                           "75002 Paris",
    "details_ask_employer": "Quel est votre employeur ?",
    "details_ask_occupation": "Quelle est votre profession ?",
    "details_unreadable": "Cela ne ressemble pas à {expected}. {question}",
    "details_expected_name": "vos nom et prénom",
    "details_expected_address": "une adresse complète",
    "details_expected_street": "une rue",
    "details_expected_city": "une ville",
    "details_expected_region": "une région",
    "details_expected_postal_code": "un code postal (5 chiffres)",
    "details_expected_employer": "un employeur",
    "details_expected_occupation": "une profession",
    "details_gave_up": "{committee} : nous n'avons pas pu lire votre réponse. Complétez vos "
                       "informations avec le lien envoyé plus tôt.",
    "details_complete": "{committee} : merci, nous avons vos informations. Votre don va "
                        "suivre.",
}
DEFAULT_TEXTS: Final[Mapping[Profile, Mapping[str, str]]] = MappingProxyType(
    {"us": MappingProxyType(_US), "fr": MappingProxyType(_FR)})


@cache
def default_templates(profile: Profile) -> Mapping[str, Template]:
    """The defaults of one profile, parsed once."""
    return MappingProxyType({name: parse_template(source)
                             for name, source in DEFAULT_TEXTS[profile].items()})
