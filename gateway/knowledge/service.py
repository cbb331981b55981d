"""Add a document, a version, take one out of search, search: pure parts joined to the store.

The web API, the pages and a script call these with a pool and the acting
staff member. Each change commits with its audit entry (the action names
below), so the log says who put which file's text in front of the experts.
Searches are not audited: they read campaign publications, no personal
data, and an expert runs dozens an hour.

Extraction runs in a worker thread: a PDF of several hundred kilobytes
takes pypdf a noticeable time, and the event loop also serves the SMSC.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

from gateway.knowledge.extract import extract
from gateway.knowledge.passages import split_passages
from gateway.knowledge.placement import Placement
from gateway.plain_words import N_
from gateway.store import audit as audit_store
from gateway.store import knowledge_docs as store
from gateway.store.knowledge_docs import HIGHLIGHT_START, HIGHLIGHT_STOP, NewDocument, Stored

DOCUMENT_ADDED: Final = "knowledge.document_added"
VERSION_ADDED: Final = "knowledge.version_added"
DOCUMENT_SWITCHED: Final = "knowledge.document_switched"  # in or out of search
KINDS: Final = ("programme", "speech", "brochure", "faq", "other")
# What the pages call each kind (translated there: gateway/plain_words.py).
KIND_WORDS: Final = {"programme": N_("programme chapter"), "speech": N_("speech"),
                     "brochure": N_("brochure"), "faq": N_("FAQ"), "other": N_("other")}


class DocumentNotFound(LookupError):
    """No document has this id."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: written as `created_by` and in the audit log."""

    user_id: int | None
    email: str
    client: str | None = None


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str  # as sent; only its last path component is kept
    data: bytes


@dataclass(frozen=True, slots=True)
class Added:
    document_id: int
    version: int
    passages: int
    format: str
    characters: int


@dataclass(frozen=True, slots=True)
class Hit:
    passage_id: int
    document_id: int
    title: str
    kind: str
    url: str | None
    program: str
    theme: str | None
    language: str
    version: int
    position: int
    body: str
    snippet: str  # the best fragments, plain
    parts: tuple[tuple[str, bool], ...]  # the snippet, (text, matched) in order
    rank: float


def base_name(filename: str) -> str:
    """`C:\\docs\\a.pdf` and `../a.pdf` -> `a.pdf`: a path is not ours to keep."""
    return filename.replace("\\", "/").rsplit("/", 1)[-1].strip()[:255]


def marked_parts(snippet: str) -> tuple[tuple[str, bool], ...]:
    """A `ts_headline` result split at its highlight marks: (text, matched) pieces."""
    parts: list[tuple[str, bool]] = []
    for i, chunk in enumerate(snippet.split(HIGHLIGHT_START)):
        matched, _, rest = chunk.partition(HIGHLIGHT_STOP) if i else ("", "", chunk)
        parts.extend((text, flag) for text, flag in ((matched, True), (rest, False)) if text)
    return tuple(parts)


async def prepared(upload: Upload, note: str = "") -> store.NewVersion:
    """The upload's text and passages (`ExtractionError` naming the file otherwise)."""
    name = base_name(upload.filename)
    extracted = await asyncio.to_thread(extract, name or upload.filename, upload.data)
    return store.NewVersion(
        body=extracted.text, passages=split_passages(extracted.text), source_name=name,
        source_format=extracted.format, source_bytes=len(upload.data),
        source_sha256=hashlib.sha256(upload.data).hexdigest(), note=note.strip())


async def add_document(
    pool: asyncpg.Pool, actor: Actor, placement: Placement, upload: Upload, *, title: str,
    kind: str, now: datetime, key: str | None = None, url: str | None = None,
) -> Added:
    """A new document from a file: its version 1, searchable once this returns."""
    version = await prepared(upload)
    document = NewDocument(program=placement.program, theme=placement.theme, key=key,
                           title=title.strip(), kind=kind, language=placement.language,
                           url=url)
    async with pool.acquire() as conn, conn.transaction():
        stored = await store.insert_document(conn, document, version, by=actor.email, now=now)
        await _audit(conn, actor, DOCUMENT_ADDED, stored, version, title=document.title,
                     program=document.program, theme=document.theme,
                     language=document.language)
    return _added(stored, version)


async def add_version(pool: asyncpg.Pool, actor: Actor, document_id: int, upload: Upload, *,
                      now: datetime, note: str = "") -> Added:
    """The document's next version from a file; the older ones are kept, out of search."""
    version = await prepared(upload, note)
    async with pool.acquire() as conn, conn.transaction():
        stored = await store.insert_version(conn, document_id, version, by=actor.email,
                                            now=now)
        if stored is None:
            raise DocumentNotFound(f"document {document_id}")
        await _audit(conn, actor, VERSION_ADDED, stored, version, note=version.note)
    return _added(stored, version)


async def set_active(pool: asyncpg.Pool, actor: Actor, document_id: int, active: bool, *,
                     now: datetime) -> None:
    """Put a document back in search, or take it out (its versions stay)."""
    async with pool.acquire() as conn, conn.transaction():
        if not await store.set_active(conn, document_id, active, now=now):
            raise DocumentNotFound(f"document {document_id}")
        await audit_store.insert_entry(
            conn, actor_id=actor.user_id, actor=actor.email, action=DOCUMENT_SWITCHED,
            target=f"knowledge_document:{document_id}", detail={"active": active},
            client=actor.client)


async def search(pool: asyncpg.Pool, words: str, *, program: str | None = None,
                 theme: str | None = None, language: str | None = None,
                 limit: int = 10) -> list[Hit]:
    """The passages that best match `words`, best first, with highlighted snippets."""
    if not words.strip():
        return []
    async with pool.acquire() as conn:
        rows = await store.search(conn, words, program=program, theme=theme,
                                  language=language, limit=limit)
    return [_hit(row) for row in rows]


def _hit(row: asyncpg.Record) -> Hit:
    snippet = str(row["snippet"])
    return Hit(
        passage_id=row["id"], document_id=row["document_id"], title=row["title"],
        kind=row["kind"], url=row["url"], program=row["program"], theme=row["theme"],
        language=row["language"], version=row["version"], position=row["position"],
        body=row["body"],
        snippet=snippet.replace(HIGHLIGHT_START, "").replace(HIGHLIGHT_STOP, ""),
        parts=marked_parts(snippet), rank=float(row["rank"]))


def _added(stored: Stored, version: store.NewVersion) -> Added:
    return Added(stored.document_id, stored.version, stored.passages, version.source_format,
                 len(version.body))


async def _audit(conn: asyncpg.Connection, actor: Actor, action: str, stored: Stored,
                 version: store.NewVersion, **detail: object) -> None:
    await audit_store.insert_entry(
        conn, actor_id=actor.user_id, actor=actor.email, action=action,
        target=f"knowledge_document:{stored.document_id}", client=actor.client,
        detail={"version": stored.version, "file": version.source_name,
                "format": version.source_format, "bytes": version.source_bytes,
                "sha256": version.source_sha256, "passages": stored.passages, **detail})
