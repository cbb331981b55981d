"""What every row of one import is read against: its mapping as column indexes, its programs.

Why apart: the runner, the upload's preview and the tests build the same
`rows.Context` from an import's record and the keywords file's programs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gateway.privacy.pseudonym import number_hash
from gateway.services.imports.rows import Context, Program


def programs_of(rules: Any) -> dict[str, Program]:
    """Each program of the keywords file by its id (lower case), with its first short code."""
    return {pid.lower(): Program(p.id, p.name, p.shortcodes[0])
            for pid, p in rules.programs.items() if p.shortcodes}


def row_context(job: Mapping[str, Any], rules: Any, *, now: datetime,
                privacy_key: bytes | None) -> Context:
    headers = list(job["headers"])
    mapping: Mapping[str, str] = job["mapping"] or {}
    key = privacy_key
    return Context(
        columns={field: headers.index(header) for field, header in mapping.items()},
        headers=headers, country=job["country"], program=job["program"],
        programs=programs_of(rules), now=now, tags=tuple(job.get("tags") or ()),
        number_hash=(lambda msisdn: number_hash(key, msisdn)) if key is not None else None)
