"""Plain words for why an imported row was skipped or only made a contact.

The codes come from rows.py (read from the row) and from store/contact_imports.py's
CLASSIFY (`duplicate`, `opted_out_before`); pages show them with
`{{ reason | plain("import_reason") }}`.
"""

from __future__ import annotations

from typing import Final

from gateway.plain_words import N_, Words
from gateway.services.imports import rows

IMPORT_REASON_WORDS: Final[Words] = {
    rows.BAD_NUMBER: N_("Not a phone number"),
    rows.NO_NUMBER: N_("No phone number"),
    rows.UNKNOWN_PROGRAM: N_("No such program"),
    "duplicate": N_("Same number as an earlier row"),
    rows.NO_CONSENT: N_("No proof of consent (where, when and wording)"),
    rows.BAD_CONSENT_DATE: N_("Consent date unreadable (use YYYY-MM-DD)"),
    rows.FUTURE_CONSENT_DATE: N_("Consent date in the future"),
    rows.BAD_TAG: N_("Not a tag: use lower-case letters, digits, - or _ (up to 40)"),
    "opted_out_before": N_("Opted out before: never subscribed again by an import"),
}
