"""Knowledge-base documents, their versions and passages, and the search (migration 210). SQL only.

The one writer of `knowledge_documents`, `knowledge_versions` and
`knowledge_passages`. A new version takes the next number by bumping the
document's `current_version` first: that UPDATE locks the row, so two
uploads racing get 2 and 3, never two 2s. Versions and passages are
append-only (refused by trigger), so an answer that quoted version 2 can
still be read after version 3 replaced it in search.

The search is PostgreSQL's: the expert's words through
`websearch_to_tsquery` in each language's configuration (French or English
stemming after `unaccent`), matched against the GIN-indexed `search` column
of the current versions' passages, ranked by `ts_rank`, the best few then
highlighted by `ts_headline` between HIGHLIGHT_START and HIGHLIGHT_STOP
(private-use characters extraction removes from every text).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

HIGHLIGHT_START: Final = "\ue000"
HIGHLIGHT_STOP: Final = "\ue001"
HEADLINE_OPTIONS: Final = (f"StartSel={HIGHLIGHT_START}, StopSel={HIGHLIGHT_STOP}, "
                           "MaxWords=35, MinWords=15, MaxFragments=2, FragmentDelimiter=\" … \"")
CONFIGS: Final = {"fr": "french_unaccent", "en": "english_unaccent"}

INSERT_DOCUMENT = """
INSERT INTO knowledge_documents (program, theme, key, title, kind, language, url,
                                 created_by, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
RETURNING id
"""

# The next version number; locks the document row until the upload commits.
NEXT_VERSION = """
UPDATE knowledge_documents
SET current_version = current_version + 1, updated_at = $2
WHERE id = $1
RETURNING current_version, language
"""

INSERT_VERSION = """
INSERT INTO knowledge_versions (document_id, version, body, source_name, source_format,
                                source_bytes, source_sha256, note, created_by, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
RETURNING id
"""

INSERT_PASSAGES = """
INSERT INTO knowledge_passages (version_id, position, body, language)
SELECT $1, position, body, $3
FROM unnest($2::text[]) WITH ORDINALITY AS p (body, position)
"""

SET_ACTIVE = """
UPDATE knowledge_documents SET active = $2, updated_at = $3 WHERE id = $1 RETURNING id
"""

_DOCUMENT_FIELDS = """d.id, d.program, d.theme, d.key, d.title, d.kind, d.language, d.url,
    d.active, d.current_version, d.created_by, d.created_at, d.updated_at"""

LIST_DOCUMENTS = f"""
SELECT {_DOCUMENT_FIELDS}, v.source_name, v.source_format, v.created_by AS version_by,
       v.created_at AS version_at,
       (SELECT count(*) FROM knowledge_passages p WHERE p.version_id = v.id) AS passages
FROM knowledge_documents d
JOIN knowledge_versions v ON v.document_id = d.id AND v.version = d.current_version
WHERE ($1::text IS NULL OR d.program = $1) AND ($2::text IS NULL OR d.theme = $2)
ORDER BY d.program, d.theme NULLS FIRST, d.title, d.id
LIMIT $3
"""

GET_DOCUMENT = f"SELECT {_DOCUMENT_FIELDS} FROM knowledge_documents d WHERE d.id = $1"

LIST_VERSIONS = """
SELECT v.id, v.version, v.source_name, v.source_format, v.source_bytes, v.source_sha256,
       v.note, v.created_by, v.created_at, length(v.body) AS characters,
       (SELECT count(*) FROM knowledge_passages p WHERE p.version_id = v.id) AS passages
FROM knowledge_versions v WHERE v.document_id = $1 ORDER BY v.version DESC
"""

GET_VERSION_TEXT = """
SELECT body FROM knowledge_versions WHERE document_id = $1 AND version = $2
"""

GET_PASSAGE = f"""
SELECT p.id, p.body, p.position, v.version, {_DOCUMENT_FIELDS}
FROM knowledge_passages p
JOIN knowledge_versions v ON v.id = p.version_id
JOIN knowledge_documents d ON d.id = v.document_id
WHERE p.id = $1
"""

# $1 the words as typed; $2 program, $3 theme (documents of that theme and those of
# every theme), $4 language (NULL: all); $5 how many; $6 HEADLINE_OPTIONS. Each passage
# is matched with the query parsed in its own language's configuration.
SEARCH = f"""
WITH query AS (
    SELECT websearch_to_tsquery('{CONFIGS["fr"]}', $1) AS fr,
           websearch_to_tsquery('{CONFIGS["en"]}', $1) AS en
), hits AS (
    SELECT p.id, p.body, p.position, p.language, v.version, d.id AS document_id, d.title,
           d.kind, d.url, d.program, d.theme,
           CASE p.language WHEN 'fr' THEN q.fr ELSE q.en END AS query,
           ts_rank(p.search, CASE p.language WHEN 'fr' THEN q.fr ELSE q.en END) AS rank
    FROM query q
    JOIN knowledge_passages p
      ON (p.language = 'fr' AND p.search @@ q.fr) OR (p.language = 'en' AND p.search @@ q.en)
    JOIN knowledge_versions v ON v.id = p.version_id
    JOIN knowledge_documents d ON d.id = v.document_id AND v.version = d.current_version
    WHERE d.active AND ($2::text IS NULL OR d.program = $2)
      AND ($3::text IS NULL OR d.theme = $3 OR d.theme IS NULL)
      AND ($4::text IS NULL OR d.language = $4)
    ORDER BY rank DESC, p.id
    LIMIT $5
)
SELECT id, body, position, language, version, document_id, title, kind, url, program, theme,
       rank,
       ts_headline(CASE language WHEN 'fr' THEN '{CONFIGS["fr"]}'::regconfig
                                 ELSE '{CONFIGS["en"]}'::regconfig END,
                   body, query, $6) AS snippet
FROM hits
ORDER BY rank DESC, id
"""

# A standard answer's quote (keywords.yaml `lookup: document`): the active document of
# program $1 with key $2, and its current version's passage that best matches any word
# of $3 (the supporter's text), else its first passage. The words are OR-ed: each lexeme
# of $3 quoted for tsquery input (quotes doubled, backslashes escaped), not re-stemmed.
DOCUMENT_QUOTE = r"""
WITH doc AS (
    SELECT d.title, d.url, v.id AS version_id,
           CASE d.language WHEN 'fr' THEN 'french_unaccent'::regconfig
                           ELSE 'english_unaccent'::regconfig END AS config
    FROM knowledge_documents d
    JOIN knowledge_versions v ON v.document_id = d.id AND v.version = d.current_version
    WHERE d.program = $1 AND d.key = $2 AND d.active
), asked AS (
    SELECT doc.*, (
        SELECT coalesce(string_agg(
            '''' || replace(replace(lexeme, '\', '\\'), '''', '''''') || '''', ' | '), '')
        FROM unnest(to_tsvector(doc.config, $3))
    )::tsquery AS words
    FROM doc
)
SELECT a.title, a.url, p.body, ts_rank(p.search, a.words) AS rank,
       ts_headline(a.config, p.body, a.words, $4) AS headline
FROM asked a JOIN knowledge_passages p ON p.version_id = a.version_id
ORDER BY rank DESC, p.position
LIMIT 1
"""
QUOTE_OPTIONS: Final = 'StartSel="", StopSel="", MaxWords=25, MinWords=12, MaxFragments=1'


@dataclass(frozen=True, slots=True)
class NewDocument:
    program: str
    theme: str | None
    key: str | None
    title: str
    kind: str
    language: str
    url: str | None


@dataclass(frozen=True, slots=True)
class NewVersion:
    body: str
    passages: Sequence[str]
    source_name: str
    source_format: str
    source_bytes: int
    source_sha256: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Stored:
    document_id: int
    version: int
    version_id: int
    passages: int


class KeyTaken(ValueError):
    """Another document of the program already has this key."""


async def insert_document(conn: asyncpg.Connection, document: NewDocument, first: NewVersion,
                          *, by: str, now: datetime) -> Stored:
    """A document and its version 1, in one transaction."""
    async with conn.transaction():
        try:
            document_id = int(await conn.fetchval(
                INSERT_DOCUMENT, document.program, document.theme, document.key,
                document.title, document.kind, document.language, document.url, by, now))
        except asyncpg.UniqueViolationError:
            raise KeyTaken(f"program {document.program!r} already has a document with key "
                           f"{document.key!r}") from None
        return await _insert_version(conn, document_id, 1, document.language, first,
                                     by=by, now=now)


async def insert_version(conn: asyncpg.Connection, document_id: int, version: NewVersion,
                         *, by: str, now: datetime) -> Stored | None:
    """The document's next version, now the one searched; None when there is no such document."""
    async with conn.transaction():
        row = await conn.fetchrow(NEXT_VERSION, document_id, now)
        if row is None:
            return None
        return await _insert_version(conn, document_id, int(row["current_version"]),
                                     str(row["language"]), version, by=by, now=now)


async def _insert_version(conn: asyncpg.Connection, document_id: int, number: int,
                          language: str, version: NewVersion, *, by: str,
                          now: datetime) -> Stored:
    version_id = int(await conn.fetchval(
        INSERT_VERSION, document_id, number, version.body, version.source_name,
        version.source_format, version.source_bytes, version.source_sha256, version.note,
        by, now))
    await conn.execute(INSERT_PASSAGES, version_id, list(version.passages), language)
    return Stored(document_id, number, version_id, len(version.passages))


async def set_active(conn: asyncpg.Connection, document_id: int, active: bool, *,
                     now: datetime) -> bool:
    """Put a document in or out of search; False when there is no such document."""
    return await conn.fetchval(SET_ACTIVE, document_id, active, now) is not None


async def list_documents(conn: asyncpg.Connection, *, program: str | None = None,
                         theme: str | None = None, limit: int = 500) -> list[asyncpg.Record]:
    """Documents with their current version's file and passage count, by program and theme."""
    return list(await conn.fetch(LIST_DOCUMENTS, program, theme, limit))


async def get_document(conn: asyncpg.Connection, document_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(GET_DOCUMENT, document_id)


async def list_versions(conn: asyncpg.Connection, document_id: int) -> list[asyncpg.Record]:
    """Every version of a document, newest first, without its text."""
    return list(await conn.fetch(LIST_VERSIONS, document_id))


async def version_text(conn: asyncpg.Connection, document_id: int,
                       version: int) -> str | None:
    text: str | None = await conn.fetchval(GET_VERSION_TEXT, document_id, version)
    return text


async def get_passage(conn: asyncpg.Connection, passage_id: int) -> asyncpg.Record | None:
    """A passage with its version number and its document's fields."""
    return await conn.fetchrow(GET_PASSAGE, passage_id)


async def search(conn: asyncpg.Connection, words: str, *, program: str | None = None,
                 theme: str | None = None, language: str | None = None,
                 limit: int = 10) -> list[asyncpg.Record]:
    """The best passages of active documents' current versions for `words`, best first."""
    return list(await conn.fetch(SEARCH, words, program, theme, language, limit,
                                 HEADLINE_OPTIONS))


async def document_quote(conn: asyncpg.Connection, program: str, key: str,
                         words: str) -> asyncpg.Record | None:
    """The document's title, url and best passage for `words` (rank 0: no word matched)."""
    return await conn.fetchrow(DOCUMENT_QUOTE, program, key, words, QUOTE_OPTIONS)
