"""Bytes held in memory served with HTTP range requests: a recorded question's audio.

Why not aiohttp's FileResponse, which serves the candidate's public message
(voice/messages.py copies it to a file for that): a caller's recording is
personal data that erasure deletes from the database, and a copy on disk
would outlive it. aiohttp parses the Range header (`request.http_range`, one
range as a slice); this answers it: 206 with Content-Range, 416 for a range
past the end, 200 with the whole body otherwise. Browsers' <audio> elements
ask for ranges to seek and to learn the length.
"""

from __future__ import annotations

from aiohttp import web


def ranged_response(request: web.Request, data: bytes, content_type: str, *,
                    cache_control: str = "private, no-store") -> web.Response:
    headers = {"Accept-Ranges": "bytes", "Cache-Control": cache_control}
    try:
        wanted = request.http_range
    except ValueError:
        wanted = slice(None)  # an unreadable Range header is ignored, as RFC 9110 allows
    size = len(data)
    if wanted.start is None and wanted.stop is None:
        return web.Response(body=data, content_type=content_type, headers=headers)
    start, stop = wanted.start or 0, wanted.stop
    if start < 0:  # "bytes=-N": the last N bytes
        start, stop = max(0, size + start), size
    stop = size if stop is None else min(stop, size)
    if start >= size or start >= stop:
        return web.Response(status=416, headers={**headers,
                                                 "Content-Range": f"bytes */{size}"})
    return web.Response(status=206, body=data[start:stop], content_type=content_type,
                        headers={**headers, "Content-Range": f"bytes {start}-{stop - 1}/{size}"})


def starts_at_zero(request: web.Request) -> bool:
    """The request reads from the first byte (a new listening, not a seek)."""
    try:
        wanted = request.http_range
    except ValueError:
        return True
    return wanted.start in (None, 0)
