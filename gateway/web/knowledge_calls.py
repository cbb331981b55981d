"""The knowledge base's shared calls: the API (web/api/knowledge_base.py) and the organizers'
page (web/pages/knowledge_base.py) validate with these models and write through these
functions, so a document uploaded on the page and one sent by a script get the same
checks, the same extraction, the same errors and the same audit entry (the service,
gateway/knowledge/service.py, writes it). Why here and not in the API module: pages
never call the API's modules (docs/architecture.md).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final, Literal

from pydantic import Field, field_validator, model_validator

from gateway.knowledge import service
from gateway.knowledge.extract import MAX_SOURCE_BYTES, ExtractionError
from gateway.knowledge.placement import Language, PlacementError, place
from gateway.plain_words import N_, said
from gateway.store import knowledge_docs as store
from gateway.store.knowledge_docs import KeyTaken
from gateway.web.auth import Principal
from gateway.web.body import Strict
from gateway.web.context import WebContext, rules_in_force
from gateway.web.errors import ApiError, bad_request, conflict, not_found

ID: Final = r"^[a-z0-9_-]{1,64}$"
URL: Final = r"^https?://\S+$"
KEY: Final = r"^[a-z][a-z0-9_]{0,39}$"  # as keywords.yaml names it (an Identifier)
Kind = Literal["programme", "speech", "brochure", "faq", "other"]
MAX_BASE64: Final = (MAX_SOURCE_BYTES + 2) // 3 * 4


class FileFields(Strict):
    filename: str = Field(min_length=1, max_length=255,
                          description="its extension says the format: .md .html .txt .pdf")
    text: str | None = Field(None, max_length=MAX_SOURCE_BYTES,
                             description="the file's content, for Markdown, HTML or text")
    content_base64: str | None = Field(None, max_length=MAX_BASE64,
                                       description="the file's bytes in base64, any format")

    @model_validator(mode="after")
    def _one_content(self) -> FileFields:
        if (self.text is None) == (self.content_base64 is None):
            raise ValueError("send the file as either text or content_base64")
        return self

    def upload(self) -> service.Upload:
        if self.text is not None:
            return service.Upload(self.filename, self.text.encode("utf-8"))
        try:
            data = base64.b64decode(self.content_base64 or "", validate=True)
        except (binascii.Error, ValueError):
            raise bad_request(N_("content_base64 is not base64"), field="content_base64") from None
        return service.Upload(self.filename, data)


class DocumentFields(Strict):
    """What the organizer says about a document (the page sends the file apart)."""

    program: str = Field(pattern=ID, description="a program of keywords.yaml")
    theme: str | None = Field(None, pattern=ID, description="one of its themes; none: all")
    title: str = Field(min_length=1, max_length=300)
    kind: Kind = "other"
    language: Language | None = Field(None, description="fr or en; default: the program's")
    key: str | None = Field(None, pattern=KEY,
                            description="how a keywords.yaml answer names it (lookup: document)")
    url: str | None = Field(None, pattern=URL, max_length=500,
                            description="where citizens can read it: the link experts insert")


    @field_validator("title")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the title is empty")
        return value.strip()


class DocumentBody(DocumentFields, FileFields):
    """A new document and its first file, in one JSON body."""


class VersionBody(FileFields):
    note: str = Field("", max_length=500, description="what changed")


class Switch(Strict):
    on: bool = Field(description="true: searched; false: out of search (kept)")


class ListQuery(Strict):
    program: str | None = Field(None, pattern=ID)
    theme: str | None = Field(None, pattern=ID)
    limit: int = Field(500, ge=1, le=2000)


class DocumentQuery(Strict):
    version: int | None = Field(None, ge=1, description="whose text to return; default: current")


class SearchQuery(Strict):
    q: str = Field(min_length=1, max_length=200, description="words, \"a phrase\", -not, or")
    program: str | None = Field(None, pattern=ID)
    theme: str | None = Field(None, pattern=ID,
                              description="that theme's documents and those of every theme")
    language: Language | None = None
    limit: int = Field(10, ge=1, le=50)


def actor(principal: Principal, client: str) -> service.Actor:
    return service.Actor(principal.user_id, principal.email, client)


def added_json(added: service.Added) -> dict[str, Any]:
    return {"id": added.document_id, "version": added.version, "passages": added.passages,
            "format": added.format, "characters": added.characters}


def refused(err: Exception, *, file_field: str) -> ApiError:
    """The service's refusals as the API's errors, naming the field at fault."""
    if isinstance(err, ExtractionError):
        return bad_request(str(err), field=file_field, code="unreadable_file")
    if isinstance(err, PlacementError):
        return bad_request(str(err), field=err.field)
    if isinstance(err, KeyTaken):
        return conflict(str(err), field="key")
    if isinstance(err, service.DocumentNotFound):
        return not_found(str(err))
    raise err


async def add_document(context: WebContext, principal: Principal, client: str,
                       body: DocumentFields, upload: service.Upload, *,
                       file_field: str) -> dict[str, Any]:
    try:
        placement = place(rules_in_force(context), body.program, body.theme, body.language)
        added = await service.add_document(
            context.pool, actor(principal, client), placement, upload, title=body.title,
            kind=body.kind, key=body.key, url=body.url, now=context.clock())
    except (ExtractionError, PlacementError, KeyTaken) as err:
        raise refused(err, file_field=file_field) from None
    return added_json(added)


async def add_version(context: WebContext, principal: Principal, client: str,
                      document_id: int, upload: service.Upload, note: str, *,
                      file_field: str) -> dict[str, Any]:
    try:
        added = await service.add_version(context.pool, actor(principal, client), document_id,
                                          upload, note=note, now=context.clock())
    except (ExtractionError, service.DocumentNotFound) as err:
        raise refused(err, file_field=file_field) from None
    return added_json(added)


async def switch(context: WebContext, principal: Principal, client: str, document_id: int,
                 on: bool) -> dict[str, Any]:
    try:
        await service.set_active(context.pool, actor(principal, client), document_id, on,
                                 now=context.clock())
    except service.DocumentNotFound as err:
        raise refused(err, file_field="") from None
    return {"id": document_id, "active": on}


async def document_detail(context: WebContext, document_id: int,
                          version: int | None = None) -> dict[str, Any]:
    """The document, its versions newest first, and one version's text."""
    async with context.pool.acquire() as conn:
        document = await store.get_document(conn, document_id)
        if document is None:
            raise not_found(said(N_("document %(document_id)s"), document_id=document_id))
        shown = version or document["current_version"]
        text = await store.version_text(conn, document_id, shown)
        if text is None:
            raise not_found(said(N_("version %(shown)s of document %(document_id)s"),
                                 shown=shown, document_id=document_id))
        versions = await store.list_versions(conn, document_id)
    return {"document": dict(document), "versions": [dict(v) for v in versions],
            "version": shown, "text": text}


def hit_json(hit: service.Hit) -> dict[str, Any]:
    return {"passage_id": hit.passage_id, "document_id": hit.document_id, "title": hit.title,
            "kind": hit.kind, "url": hit.url, "program": hit.program, "theme": hit.theme,
            "language": hit.language, "version": hit.version, "position": hit.position,
            "body": hit.body, "snippet": hit.snippet, "rank": hit.rank,
            "snippet_parts": [{"text": text, "match": match} for text, match in hit.parts]}


