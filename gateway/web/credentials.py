"""Passwords, API tokens and session ids: made here, stored only as hashes.

Why two kinds of hash: a password is chosen by a person and guessable, so it
gets argon2id (slow, salted, memory-hard). A token or a session id is 256
random bits; nobody can guess it, so a plain SHA-256 is enough, and it lets
the database find the row by the hash in one index lookup on every request.

A token reads `gwt_<prefix>_<secret>`: the prefix is public (shown in lists,
used to find the row), the whole token is what is hashed and compared.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gateway.plain_words import N_, said

TOKEN_PATTERN = re.compile(r"^gwt_(?P<prefix>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})$")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # argon2 would hash a megabyte happily; a login form need not

_hasher = PasswordHasher()  # argon2id with the library's current recommended costs
# Verified against when the e-mail is unknown, so a wrong e-mail costs the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class WeakPassword(ValueError):
    """The password is too short or too long to accept; the message says which."""


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(said(N_("the password needs at least %(min_password_length)s "
                                   "characters"), min_password_length=MIN_PASSWORD_LENGTH))
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(said(N_("the password may have at most %(max_password_length)s "
                                   "characters"), max_password_length=MAX_PASSWORD_LENGTH))


def hash_password(password: str) -> str:
    check_password_rules(password)
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when it matches; a missing or corrupt hash is a mismatch, in the same time."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """The library's recommended costs went up since this hash was made."""
    return _hasher.check_needs_rehash(password_hash)


@dataclass(frozen=True, slots=True)
class NewToken:
    token: str  # shown to the user once, never stored
    prefix: str
    secret_hash: bytes


def new_api_token() -> NewToken:
    prefix = secrets.token_hex(6)
    token = f"gwt_{prefix}_{secrets.token_urlsafe(32)}"
    return NewToken(token=token, prefix=prefix, secret_hash=digest(token))


def token_prefix(token: str) -> str | None:
    """The lookup prefix of a well-formed token, None for anything else."""
    match = TOKEN_PATTERN.match(token)
    return match["prefix"] if match else None


def digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


def same_digest(value: str, expected: bytes) -> bool:
    return hmac.compare_digest(digest(value), expected)


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def same_secret(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison of two short secrets (CSRF tokens)."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
