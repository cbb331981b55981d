"""A contact's zone key: what decides its quiet hours, as one SQL expression and a row.

Why a module of its own: broadcasts time their rows per zone key
(store/broadcasts.py lists the keys and plans each batch by them) and the
outbox moves a broadcast's expired rows to their key's next window
(store/outbound.py `redefer_broadcast_rows`); both must compute the key the
same way from the same columns.
"""

from __future__ import annotations

from dataclasses import dataclass

# Zone key parts: the contact's zones, state, country, and the dialling prefix
# that gives the area code's state and zones (+1 and NPA; for others only
# when nothing else is known). chr(31) (unit separator) never occurs in them.
ZONE_PREFIX = (
    "CASE WHEN c.msisdn LIKE '+1%' OR c.timezones IS NULL THEN left(c.msisdn, 5) ELSE '' END"
)
ZONE_KEY = (
    "concat_ws(chr(31), coalesce(array_to_string(c.timezones, ' '), ''),"
    " coalesce(c.region, ''), coalesce(c.country, ''), " + ZONE_PREFIX + ")"
)


@dataclass(frozen=True, slots=True)
class ZoneKey:
    """What decides a contact's quiet hours, as stored; `sample` is one of its numbers."""

    key: str
    timezones: tuple[str, ...]
    region: str | None
    country: str | None
    prefix: str
    sample: str


def zone_key(
    key: str, timezones: str | None, region: str | None, country: str | None, prefix: str,
    sample: str,
) -> ZoneKey:
    """A key as read back (`timezones` space-separated, as the statements select it)."""
    zones = tuple(timezones.split(" ")) if timezones else ()
    return ZoneKey(key, zones, region, country, prefix, sample)
