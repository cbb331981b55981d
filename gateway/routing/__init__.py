"""Written messages into the contact centre: stored e-mail and posts of the public form.

Why a package of its own: e-mail intake (gateway/mail/) stores mail and knows
nothing of themes; the SMS pipeline decides MOs. This joins stored messages
to the contact centre with the SMS path's own rules (engine/written.py):
`worker` takes each stored mail once (`mail-route` under the supervisor),
`threads` files a reply onto its question, `intake` is the one function a
new e-mail and a form post both go through (a standard answer, or a question
and its acknowledgement), `outgoing` composes and queues the mail, and the
`form_*` modules hold the public form's rules. docs/contact-centre.md is the
guide.
"""
