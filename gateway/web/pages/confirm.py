"""Ask before a destructive form takes effect: a confirm step page, no script needed.

Why a server step rather than a browser `confirm()`: the pages run under a
CSP without inline script and must work with the keyboard and without
JavaScript. A destructive form (revoke a token, disable an account, reset a
password) posts once to ask: the answer is a page that says what will
happen, with the same form again plus `confirmed=yes` and a way back. Only
that second post acts.
"""

from __future__ import annotations

from aiohttp import web

from gateway.web.pages.frame import View
from gateway.web.sessions import CSRF_FIELD

CONFIRMED = "confirmed"


def confirmed(view: View) -> bool:
    return view.field(CONFIRMED) == "yes"


def ask(view: View, step: str, *, title: str, back: str, subject: str) -> web.Response:
    """The confirm step for the form just posted: the same fields, then `confirmed=yes`.

    `step` names what confirm.html says will happen (and its button), about
    `subject` (an account's e-mail, a token's name); `back` is where Cancel goes.
    """
    kept = [(name, value) for name, value in view.form.items()
            if isinstance(value, str) and name not in (CSRF_FIELD, CONFIRMED)]
    return view.render("confirm.html", title=title, step=step, subject=subject, back=back,
                       action=view.request.path, kept=kept)
