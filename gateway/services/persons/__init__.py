"""One person, many addresses: the mobile numbers and e-mail addresses verified to be one
citizen (docs/contact-centre.md "One person, many addresses").

What other features call (addresses in their compared form: E.164, or
gateway.email_address.normalize_email):

* `person_of(conn, address)`, `addresses_of(conn, person_id)`,
  `linked_addresses(conn, address)` and `verified_emails(conn, msisdn)` (the
  inbox's "has this SMS asker a verified e-mail?");
* `request_link(...)` sends the other address a one-time link (e-mail or SMS);
  `peek`/`confirm` are the public page's GET and POST;
* `link_both_channels(...)` for a citizen who confirmed on both channels, and
  `link_form_channels(...)`, its use for a form post's e-mail and mobile;
* `merge`/`unmerge`/`send_link` for staff on the contact page.

Nothing joins two addresses on a resemblance: each join is a verified link
(store/persons.py keeps how, by whom, why).
"""

from gateway.services.persons.both_channels import link_both_channels, link_form_channels
from gateway.services.persons.link_tokens import (
    LinkRequest,
    TokenState,
    confirm,
    peek,
    request_link,
)
from gateway.services.persons.membership import (
    Joined,
    Person,
    Split,
    addresses_of,
    linked_addresses,
    person,
    person_of,
    verified_emails,
)
from gateway.services.persons.staff import Merged, merge, send_link, unmerge

__all__ = [
    "Joined",
    "LinkRequest",
    "Merged",
    "Person",
    "Split",
    "TokenState",
    "addresses_of",
    "confirm",
    "link_both_channels",
    "link_form_channels",
    "linked_addresses",
    "merge",
    "peek",
    "person",
    "person_of",
    "request_link",
    "send_link",
    "unmerge",
    "verified_emails",
]
