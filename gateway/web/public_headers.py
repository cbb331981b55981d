"""Security headers of the pages anyone may open without logging in.

Why one module: the donor-details form, the e-mail confirmation and
unsubscribe pages and the public "write to the campaign" form each carried
its own copy of the same headers, and a fix to one would have missed the
others. Pages reached by a link carrying a token (`TOKEN_PAGE_HEADERS`) never
send a Referer, so the token cannot leak to another site; they load nothing
but their inline style. The staff pages have their own set (pages/frame.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

_ALWAYS: Final = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}
_NO_FRAMES: Final = "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"


def public_headers(*, sources: str, referrer: str) -> Mapping[str, str]:
    """The headers for a public page that may load `sources` (CSP source directives)."""
    return {**_ALWAYS, "Referrer-Policy": referrer,
            "Content-Security-Policy": f"default-src 'none'; {sources}; {_NO_FRAMES}"}


TOKEN_PAGE_HEADERS: Final = public_headers(sources="style-src 'unsafe-inline'",
                                           referrer="no-referrer")
