"""What a staff account's e-mail and themes may be: one rule for the API and the CLI.

Why here: the first admin is made from a terminal (`gateway user add`,
web/user_commands.py) before anyone can log in, and later accounts through
the API (web/api/users.py); both must accept and refuse the same values.
"""

from __future__ import annotations

import re
from typing import Final

EMAIL_PATTERN: Final = r"^[^@\s]+@[^@\s]+$"
THEME_PATTERN: Final = r"^[A-Za-z0-9_-]{1,64}$"


def check_themes(themes: list[str]) -> list[str]:
    """An expert's themes, sorted and without repeats; ValueError naming a bad one."""
    for theme in themes:
        if not re.match(THEME_PATTERN, theme):
            raise ValueError(f"theme {theme[:70]!r}: letters, digits, _ and - only")
    return sorted(set(themes))
