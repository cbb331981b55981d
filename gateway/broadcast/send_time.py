"""Send times: read only with an explicit zone, shown back in the organizer's zone.

Why a time without a zone is refused rather than read as UTC (or as the
server's zone): "17:00" is a different instant for an organizer in
New York, the server and a subscriber in Los Angeles; a guess sends a
broadcast hours early or late, and early can mean past quiet hours or
before the embargo. Accepted:

- ISO 8601 with an offset: 2026-03-01T17:00-05:00, 2026-03-01T22:00Z;
- a local time with an IANA zone, written after it in brackets as
  RFC 9557 does (2026-03-01T17:00[America/New_York]) or given on its own
  (`--zone`, the API's `time_zone`, the composer page's zone field).

A local time the zone skips (clocks jump forward) or has twice (clocks
go back) is refused with both readings, so the organizer picks one.
The standard library's `zoneinfo` does the arithmetic (tzdata), as in
the quiet-hours module.

Shown back: in the organizer's zone, the campaign's zone setting
(GATEWAY_ORGANIZATION_TIMEZONE, the zone the dashboard's "today" and the
finance reports use), with the zone's name and offset spelled out.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from gateway.broadcast.compose_checks import ComposeError
from gateway.broadcast.quiet_hours import QuietHoursError, zone_info
from gateway.config import Settings
from gateway.plain_words import N_, said

EXAMPLE = "2026-03-01T17:00-05:00 or 2026-03-01T17:00[America/New_York]"
_BRACKETED = re.compile(r"^(?P<time>[^\[\]]+)\[(?P<zone>[^\[\]]+)\]$")


def organizer_zone(settings: Settings) -> str:
    """The zone send times are shown in (one place to change it)."""
    return settings.organization_timezone


def parse_zone(name: str, *, field: str = "time_zone") -> ZoneInfo:
    try:
        return zone_info(name.strip())
    except QuietHoursError:
        raise ComposeError(field, said(N_("%(name)r is not a time zone; use an IANA name like "
                                          "America/New_York or Europe/Paris"), name=name)) from None


def parse(raw: str, zone: str | None = None, *, field: str = "scheduled_at") -> datetime:
    """`raw` as a UTC instant; `zone` reads a local `raw` (a bracketed zone must agree)."""
    text = raw.strip()
    named: str | None = None
    if bracketed := _BRACKETED.match(text):
        text, named = bracketed["time"].strip(), bracketed["zone"]
    zone = (zone or "").strip() or None
    if named and zone and named.strip() != zone:
        raise ComposeError(field, said(N_("%(raw)r names the zone %(named)s, but the time zone "
                                          "given is %(zone)s; give one"),
                                       raw=raw, named=named, zone=zone))
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ComposeError(field, said(N_("%(raw)r is not an ISO 8601 date and time; write "
                                          "%(example)s"), raw=raw, example=EXAMPLE)) from None
    tz = (parse_zone(named, field=field) if named
          else parse_zone(zone) if zone else None)
    if at.tzinfo is not None:
        if tz is not None and at.utcoffset() != at.astimezone(tz).utcoffset():
            raise ComposeError(field, said(N_("%(raw)r: the offset %(at)s is not %(key)s's on that "
                                              "date; fix the offset or leave it out"),
                                           raw=raw, at=format(at, "%z"), key=tz.key))
        return at.astimezone(UTC)
    if tz is None:
        raise ComposeError(field, said(N_("%(raw)r has no time zone; add an offset or a zone: "
                                          "%(example)s"), raw=raw, example=EXAMPLE))
    return _local(at, tz, raw, field)


def _local(at: datetime, tz: ZoneInfo, raw: str, field: str) -> datetime:
    """A wall-clock time in `tz`, refused when the zone skips it or has it twice."""
    first, second = at.replace(tzinfo=tz, fold=0), at.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first.astimezone(UTC)
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != at:
        raise ComposeError(field, said(N_("%(raw)r does not exist in %(key)s (the clocks jump "
                                          "forward then); pick another time"), raw=raw, key=tz.key))
    raise ComposeError(field, said(N_("%(raw)r happens twice in %(key)s (the clocks go back then); "
                                      "write %(first)s or %(second)s"),
                                   raw=raw, key=tz.key, first=first.isoformat(),
                                   second=second.isoformat()))


def show(at: datetime, zone: str) -> str:
    """`2026-03-01 17:00 America/New_York (UTC-05:00)`; `2026-03-01 22:00 UTC`."""
    local = at.astimezone(zone_info(zone))
    if zone == "UTC":
        return f"{local:%Y-%m-%d %H:%M} UTC"
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {zone} (UTC{offset[:3]}:{offset[3:]})"


def check_ahead(at: datetime | None, *, now: datetime, zone: str) -> None:
    """A send time must be ahead of `now`: a past one would start the broadcast at once."""
    if at is not None and at <= now:
        raise ComposeError("scheduled_at", said(N_("%(at)s is already past (it is now %(now)s); "
                                                   "pick a later time, or leave it empty for a "
                                                   "draft you start yourself"),
                                                at=show(at, zone), now=show(now, zone)))


def local_iso(at: datetime, zone: str) -> str:
    """The same instant as ISO 8601 with the zone's offset (for JSON answers)."""
    return at.astimezone(zone_info(zone)).isoformat()
