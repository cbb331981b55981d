"""Every word of the public form /write, in French and English (the citizen's language).

Why a table here rather than in keywords.yaml: these are the page's own
words (labels, the sentence next to a wrong field), the same for every
program, and the form offers both languages whatever the program's
profile. What is the campaign's to word lives in keywords.yaml: the
campaign box (wording and version), the theme names, the privacy charter's
address, and the e-mails that follow a post (engine/mail_texts.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from gateway.engine.model import Language

_FR: Final = {
    "title": "Écrire à la campagne",
    "intro": "Posez votre question à {program} : un expert du thème choisi vous répondra.",
    "other_language": "English",
    "theme": "Thème",
    "theme_choose": "Choisissez un thème",
    "message": "Votre message",
    "name": "Votre nom (facultatif)",
    "email": "Votre adresse e-mail",
    "mobile": "Votre numéro de mobile",
    "contact_hint": "Donnez une adresse e-mail et/ou un numéro de mobile : la réponse y "
                    "arrivera.",
    "honeypot": "Laissez ce champ vide",
    "send": "Envoyer",
    "privacy": "Vos coordonnées servent à vous répondre. Lire notre charte de "
               "confidentialité",
    "thanks_title": "Merci !",
    "thanks_email": "Votre message est bien arrivé. Vous recevrez un accusé de réception "
                    "puis la réponse par e-mail.",
    "thanks_sms": "Votre message est bien arrivé. Vous recevrez la réponse par SMS.",
    "write_again": "Écrire un autre message",
    "fix": "Merci de corriger les champs signalés ci-dessous.",
    "theme_missing": "Choisissez un thème dans la liste.",
    "message_missing": "Écrivez votre message.",
    "message_too_long": "Votre message dépasse {max} caractères : raccourcissez-le.",
    "name_too_long": "Votre nom dépasse 200 caractères.",
    "email_invalid": "Cette adresse e-mail n'est pas valide : vérifiez-la.",
    "mobile_invalid": "Ce numéro de mobile n'est pas valide : vérifiez-le (par ex. "
                      "06 12 34 56 78 ou +33 6 12 34 56 78).",
    "contact_missing": "Donnez une adresse e-mail ou un numéro de mobile, pour que nous "
                       "puissions vous répondre.",
    "form_expired": "Ce formulaire a expiré : vérifiez votre message et envoyez-le à nouveau.",
    "too_fast": "Le formulaire a été envoyé trop vite : vérifiez votre message et "
                "envoyez-le à nouveau.",
    "too_many": "Trop de messages ont été envoyés depuis cette adresse : réessayez dans "
                "une heure.",
    "unavailable": "Le formulaire n'est pas disponible pour le moment.",
}
_EN: Final = {
    "title": "Write to the campaign",
    "intro": "Ask {program} your question: an expert of the theme you choose will answer.",
    "other_language": "Français",
    "theme": "Theme",
    "theme_choose": "Choose a theme",
    "message": "Your message",
    "name": "Your name (optional)",
    "email": "Your e-mail address",
    "mobile": "Your mobile number",
    "contact_hint": "Give an e-mail address and/or a mobile number: the answer will go there.",
    "honeypot": "Leave this field empty",
    "send": "Send",
    "privacy": "We use your details to answer you. Read our privacy charter",
    "thanks_title": "Thank you!",
    "thanks_email": "Your message has arrived. You will get an acknowledgement, then the "
                    "answer, by e-mail.",
    "thanks_sms": "Your message has arrived. You will get the answer by text message.",
    "write_again": "Write another message",
    "fix": "Please correct the fields marked below.",
    "theme_missing": "Choose a theme from the list.",
    "message_missing": "Write your message.",
    "message_too_long": "Your message is over {max} characters: shorten it.",
    "name_too_long": "Your name is over 200 characters.",
    "email_invalid": "This e-mail address is not valid: check it.",
    "mobile_invalid": "This mobile number is not valid: check it (a number from abroad "
                      "starts with + and its country code).",
    "contact_missing": "Give an e-mail address or a mobile number, so that we can answer you.",
    "form_expired": "This form has expired: check your message and send it again.",
    "too_fast": "The form was sent too quickly: check your message and send it again.",
    "too_many": "Too many messages were sent from this address: try again in an hour.",
    "unavailable": "The form is not available at the moment.",
}
WORDS: Final[Mapping[Language, Mapping[str, str]]] = MappingProxyType(
    {"fr": MappingProxyType(_FR), "en": MappingProxyType(_EN)})
