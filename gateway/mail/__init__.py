"""E-mail in: the SMTP listener and IMAP poller that store every message before answering.

Why a package of its own: the SMS pipeline's parts (SMPP, ingest batching, the
outbox) share nothing with mail intake but the database and the supervisor.
Here `parse` decodes MIME, `dsn` reads delivery reports, `classify` says what
kind of mail it is, `answer_policy` whether anything may answer it, `record`
turns raw bytes into the row `gateway/store/mail_inbound.py` writes, and
`listener` / `imap_poll` are the two ways in. `intake` wires them under the
gateway's task supervisor. docs/email.md is the operator's guide.
"""
