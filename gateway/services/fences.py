"""What each staff role sees of a contact's history: the data fences, in one place.

web/access.py says which routes a role may call; this module says what a
route shows once called, because one contact's history mixes facts of very
different weight. The matrix (docs/data-access.md has it in full):

* admin: everything.
* finance: donations, reports and itemization, with the donor's name and
  address (the FEC itemization needs them); not the contact pages.
* organizer: the contact's whole timeline (messages, consent, profile,
  donations as amounts and statuses), but not the donor's identity: the
  answers to the donor-details questions (name, street address, employer,
  occupation, by SMS) are withheld, and so is the private link of the
  donor-details form in the message that carries it.
* expert: in the inbox only, the questions of their own themes and, of the
  contact's history, only those questions' threads (the question, its
  acknowledgement, the answer, who claimed and answered it). No other
  theme, no donations, no profile, no donor identity; the number is masked.

Why redact in the services rather than in the store: the store keeps the
full record (an admin, a privacy export and finance need it); what differs
is who is looking, which the store does not know. The services (and the
contact pages and API) apply it to what they hand out. Why withhold the whole
SMS answer rather than parse out the name: an answer that could not be read
("donor_details_unreadable") is often a name or an address too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from gateway.services.actor import Actor

DONOR_IDENTITY: Final = frozenset({"admin", "finance"})
DETAILS_EVENTS: Final = frozenset({"donor_details_given", "donor_details_unreadable"})
WITHHELD: Final = "[withheld: donor details]"
# the donor-details form's private link (gateway/web/donor_details.py), whatever the host
DETAILS_LINK: Final = re.compile(r"/give/details/[A-Za-z0-9_-]+")
DETAILS_LINK_SHOWN: Final = "/give/details/[withheld]"


def sees_donor_identity(principal: Actor) -> bool:
    """Admins and finance staff see donors' names and addresses; no one else does."""
    return principal.role in DONOR_IDENTITY


def fenced_timeline(principal: Actor, items: Sequence[dict[str, Any]]
                    ) -> list[dict[str, Any]]:
    """The timeline as this principal may see it (see the module doc).

    Items are `store.timeline.full_timeline` rows; a withheld MO keeps its
    place and time with `body` replaced and `withheld` set, so the history
    still reads in order.
    """
    if sees_donor_identity(principal):
        return list(items)
    answers = {int(item["data"]["mo_id"]) for item in items
               if item["kind"] == "event" and item["body"] in DETAILS_EVENTS
               and isinstance((item["data"] or {}).get("mo_id"), int)}
    shown = []
    for item in items:
        if item["kind"] == "mo" and item["ref"] in answers:
            item = {**item, "body": WITHHELD, "withheld": "donor_details"}
        elif item["kind"] == "event" and item["body"] in DETAILS_EVENTS and item["data"]:
            data = {k: v for k, v in item["data"].items() if k != "values"}
            item = {**item, "data": {**data, "withheld": "donor_details"}}
        elif item["kind"] == "mt" and item["body"] and DETAILS_LINK.search(item["body"]):
            item = {**item, "body": DETAILS_LINK.sub(DETAILS_LINK_SHOWN, item["body"])}
        shown.append(item)
    return shown
