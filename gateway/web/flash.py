"""A secret shown once after a redirect (post/redirect/get), sealed to the browser session.

Why: a page that answered a POST with a new token's secret made a second token
when the viewer reloaded it (the browser posts the form again). The POST now
stores the secret as a one-time flash (gateway/store/web_flashes.py) and
redirects; the GET takes it, so a reload shows the list without it and makes
nothing. The secret never goes in a URL. In the table it is sealed with
AES-GCM (the `cryptography` package, already a dependency) under a key derived
from the session's cookie value, which the server sees on each request but
never stores: the rows alone reveal nothing.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timedelta

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.store import web_flashes as store

LIFETIME = timedelta(minutes=10)  # long enough for a slow redirect, short for a stale one
_NONCE = 12


def _key(cookie: str, kind: str) -> bytes:
    return hashlib.sha256(f"gateway web flash\0{kind}\0{cookie}".encode()).digest()


def seal(cookie: str, kind: str, text: str) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(_key(cookie, kind)).encrypt(nonce, text.encode(), kind.encode())


def unseal(cookie: str, kind: str, sealed: bytes) -> str | None:
    """The text, or None when another session's key does not open it."""
    try:
        plain = AESGCM(_key(cookie, kind)).decrypt(sealed[:_NONCE], sealed[_NONCE:],
                                                   kind.encode())
    except InvalidTag:
        return None
    return plain.decode()


async def put(conn: asyncpg.Connection, *, cookie: str, session_hash: bytes, kind: str,
              subject_id: int, text: str, now: datetime) -> None:
    await store.put_flash(conn, session_hash=session_hash, kind=kind, subject_id=subject_id,
                          sealed=seal(cookie, kind, text), expires_at=now + LIFETIME)


async def take(conn: asyncpg.Connection, *, cookie: str, session_hash: bytes, kind: str,
               now: datetime) -> tuple[int, str] | None:
    """(subject id, text) of the session's unread flash of this kind, once; else None."""
    found = await store.take_flash(conn, session_hash=session_hash, kind=kind, now=now)
    if found is None:
        return None
    text = unseal(cookie, kind, found.sealed)
    return None if text is None else (found.subject_id, text)
