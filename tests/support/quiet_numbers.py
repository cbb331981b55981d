"""Phone numbers whose own local time lets a broadcast go now, or holds it, by the product's rules.

Why not set a contact's time zone in the database: a test that rewrites where
someone lives to dodge quiet hours proves nothing about quiet hours. Instead,
from numbers spread around the world, the test picks one whose zone (derived
by `gateway.geo` from its area code, as for any supporter) is inside the
allowed window now and one that is outside it, both judged by the gateway's
own `QuietHoursPolicy`. Around the clock there is always one of each.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from gateway import geo
from gateway.broadcast.policy import QuietHoursPolicy
from gateway.broadcast.quiet_hours import is_allowed

# One number per zone, from Guam eastwards to Puerto Rico, then abroad.
CANDIDATES = (
    "+16715550142",  # Guam
    "+18085550142",  # Honolulu
    "+19075550142",  # Anchorage
    "+14155550142",  # San Francisco
    "+13035550142",  # Denver
    "+13125550142",  # Chicago
    "+12125550142",  # New York
    "+17875550142",  # San Juan
    "+4915112345678",  # Germany
    "+971501234567",  # United Arab Emirates
    "+919812345678",  # India
    "+6591234567",  # Singapore
    "+819012345678",  # Japan
)
# Both states must last this long, so the test cannot straddle a window's edge.
MARGIN = timedelta(minutes=30)


def allowed_throughout(msisdn: str, now: datetime, policy: QuietHoursPolicy) -> bool | None:
    """True: allowed from now to now+MARGIN; False: held throughout; None: it changes."""
    where = geo.from_area_code(msisdn)
    rules = policy.rules_for(country=where.country, regions=[where.region])
    zones = policy.schedulable_zones(where.timezones, where.country, rules, now)
    states = {is_allowed(now + step, zones, rules) for step in (timedelta(0), MARGIN / 2, MARGIN)}
    return states.pop() if len(states) == 1 else None


def allowed_and_held(now: datetime, policy: QuietHoursPolicy | None = None) -> tuple[str, str]:
    """(a number the broadcast may reach now, a number it must hold for later)."""
    policy = policy or QuietHoursPolicy()
    states = {number: allowed_throughout(number, now, policy) for number in CANDIDATES}
    allowed = next(n for n, state in states.items() if state is True)
    held = next(n for n, state in states.items() if state is False)
    return allowed, held
