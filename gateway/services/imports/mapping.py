"""Which column of the file holds which field: the organizer's choice, and a first guess.

Why a guess: a CRM export names its columns "Phone", "Mobile Phone",
"cell", "Téléphone"... The guess compares the folded header (no case, no
accents, no punctuation) with a few names per field; the organizer checks it
on the mapping step and can change every choice. Only the phone is required.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Final

from gateway.services.imports.reading import FileProblem

PHONE: Final = "phone"
TAGS: Final = "tags"  # a column of tags, several to a cell (rows.py `cell_tags`)
# field -> names a header may have (folded), the first the most likely
FIELDS: Final[dict[str, tuple[str, ...]]] = {
    PHONE: ("phone", "mobile", "mobilephone", "cell", "cellphone", "phonenumber", "msisdn",
            "number", "telephone", "tel", "portable", "telephoneportable", "numero",
            "numerodetelephone", "mobilenumber", "sms"),
    "first_name": ("firstname", "first", "givenname", "prenom"),
    "last_name": ("lastname", "last", "surname", "familyname", "nom", "nomdefamille"),
    "email": ("email", "emailaddress", "mail", "courriel", "adressemail", "adresseemail"),
    "zip": ("zip", "zipcode", "postalcode", "postcode", "codepostal", "cp"),
    "program": ("program", "programme", "list", "liste"),
    "consent_source": ("consentsource", "source", "optinsource", "signupsource",
                       "collectedvia", "origine"),
    "consent_date": ("consentdate", "optindate", "signupdate", "subscribedat", "consentedat",
                     "dateconsentement", "dateoptin", "date"),
    "consent_wording": ("consentwording", "consenttext", "wording", "campaign",
                        "consentcampaign", "optinwording", "optintext", "texteconsentement",
                        "campagne"),
    "opted_out": ("optedout", "optout", "unsubscribed", "donotcontact", "donottext", "stop",
                  "desabonne", "desinscrit"),
    TAGS: ("tags", "tag", "labels", "label", "etiquettes", "etiquette", "groups"),
}


def fold(text: str) -> str:
    """Header as compared: lower case, accents and everything but letters and digits gone."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", plain.lower())


def guess(headers: Sequence[str]) -> dict[str, str]:
    """field -> header for every field a header plainly names; each header used once."""
    folded = {fold(h): h for h in headers}
    chosen: dict[str, str] = {}
    used: set[str] = set()
    for field, names in FIELDS.items():
        for name in names:
            header = folded.get(name)
            if header is not None and header not in used:
                chosen[field] = header
                used.add(header)
                break
    return chosen


def checked(mapping: Mapping[str, str], headers: Sequence[str]) -> dict[str, str]:
    """The mapping with its empty choices dropped; a wrong one is a `FileProblem` naming it."""
    known = set(headers)
    result: dict[str, str] = {}
    for field, header in mapping.items():
        if field not in FIELDS:
            raise FileProblem(f"there is no field {field!r} to map (fields: "
                              f"{', '.join(FIELDS)})")
        if not header:
            continue
        if header not in known:
            raise FileProblem(f"the file has no column {header!r} for {field}", row=1,
                              column=header)
        result[field] = header
    if PHONE not in result:
        raise FileProblem("choose the column that holds the phone numbers", row=1)
    twice = [h for h in set(result.values()) if list(result.values()).count(h) > 1]
    if twice:
        raise FileProblem("one column is chosen for two fields", row=1, column=twice[0])
    return result
