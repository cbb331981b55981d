"""Who asks, as the services see them, and the one fence they apply by theme.

Why a protocol: the web layer authenticates a `Principal` (web/auth.py) and
the services must not import the web layer; anything with these attributes
will do (a principal, or a test's stand-in).
"""

from __future__ import annotations

from typing import Protocol

from gateway.plain_words import N_, said
from gateway.services.errors import forbidden


class Identity(Protocol):
    """Enough to name someone in the audit log."""

    @property
    def user_id(self) -> int: ...
    @property
    def email(self) -> str: ...


class Actor(Identity, Protocol):
    """A logged-in staff member: their role and, for an expert, their themes."""

    @property
    def role(self) -> str: ...
    @property
    def themes(self) -> tuple[str, ...]: ...


def may_see_theme(actor: Actor, theme: str | None) -> bool:
    """Experts see only their themes; every other role that reached the route sees all."""
    if actor.role != "expert":
        return True
    return theme is not None and theme in actor.themes


def require_theme(actor: Actor, theme: str | None) -> None:
    if not may_see_theme(actor, theme):
        raise forbidden(said(N_("theme %(theme)r is not one of yours"),
                             theme=theme), code="theme_forbidden")
