"""The searchable knowledge base: documents organizers add, passages experts find and quote.

The pure parts (`extract`: a file's text; `passages`: that text cut into
quotable passages; `placement`: which program, theme and language a
document belongs to) decide without I/O; `service` joins them to
`gateway.store.knowledge_docs`, where PostgreSQL's full-text search does
the searching (docs/knowledge-base.md).
"""
