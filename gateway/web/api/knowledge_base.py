"""The knowledge base API: organizers add documents and versions; organizers and experts search.

Why a file travels as `text` (Markdown, HTML, plain text as is) or
`content_base64` (any format, PDF included) in a JSON body: the API reads
JSON and forms through one validated reader (web/body.py), and a script
can send either without multipart. The web app's 1 MiB request limit is
why a file is at most `extract.MAX_SOURCE_BYTES` (base64 adds a third).

Why experts search every theme's documents: they are campaign
publications, no personal data; the inbox narrows the search to the
question's program and theme by default (pages/inbox_knowledge.py), and
the expert may widen it. Adding, versioning and switching documents are
audit-logged by the service (gateway/knowledge/service.py); the functions
shared with the organizers' page are in web/knowledge_calls.py, so both run
the same checks and return the same errors.
"""

from __future__ import annotations

from typing import Any

from gateway.knowledge import service
from gateway.store import knowledge_docs as store
from gateway.web.knowledge_calls import (
    DocumentBody,
    DocumentQuery,
    ListQuery,
    SearchQuery,
    Switch,
    VersionBody,
    add_document,
    add_version,
    document_detail,
    hit_json,
    switch,
)
from gateway.web.registry import Call, RouteTable

routes = RouteTable("knowledge base")


@routes.get("/api/v1/knowledge/documents", name="knowledge.documents.list", query=ListQuery,
            summary="Knowledge-base documents with their current version, by program and theme")
async def list_documents(call: Call) -> dict[str, Any]:
    query = call.query_as(ListQuery)
    async with call.pool.acquire() as conn:
        rows = await store.list_documents(conn, program=query.program, theme=query.theme,
                                          limit=query.limit)
    return {"documents": [dict(r) for r in rows]}


@routes.post("/api/v1/knowledge/documents", name="knowledge.documents.create",
             body=DocumentBody, status=201,
             summary="Add a document from a Markdown, HTML, text or PDF file (version 1)",
             description="400 naming the field: an unknown program or theme, or a file that "
                         "cannot be read (type, size, encoding, encrypted or image-only PDF); "
                         "409 when the program already has a document with this key.")
async def create_document(call: Call) -> dict[str, Any]:
    body = call.body_as(DocumentBody)
    return await add_document(call.context, call.user, call.client, body, body.upload(),
                              file_field="text" if body.text is not None else "content_base64")


@routes.get("/api/v1/knowledge/documents/{document_id}", name="knowledge.documents.get",
            query=DocumentQuery, summary="One document, its versions, and a version's text")
async def get_document(call: Call) -> dict[str, Any]:
    return await document_detail(call.context, call.path_int("document_id"),
                                 call.query_as(DocumentQuery).version)


@routes.post("/api/v1/knowledge/documents/{document_id}/versions",
             name="knowledge.versions.create", body=VersionBody, status=201,
             summary="Add a new version of a document; it replaces the old one in search")
async def create_version(call: Call) -> dict[str, Any]:
    body = call.body_as(VersionBody)
    return await add_version(call.context, call.user, call.client,
                             call.path_int("document_id"), body.upload(), body.note,
                             file_field="text" if body.text is not None else "content_base64")


@routes.post("/api/v1/knowledge/documents/{document_id}/active",
             name="knowledge.documents.activate", body=Switch,
             summary="Put a document in search or take it out (never deleted)")
async def activate_document(call: Call) -> dict[str, Any]:
    return await switch(call.context, call.user, call.client, call.path_int("document_id"),
                        call.body_as(Switch).on)


@routes.get("/api/v1/knowledge/search", name="knowledge.search", query=SearchQuery,
            summary="Full-text search of the current versions: best passages first, "
                    "highlighted")
async def search(call: Call) -> dict[str, Any]:
    query = call.query_as(SearchQuery)
    hits = await service.search(call.pool, query.q, program=query.program, theme=query.theme,
                                language=query.language, limit=query.limit)
    return {"query": query.q, "results": [hit_json(hit) for hit in hits]}
