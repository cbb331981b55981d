"""Words a page module puts together with values, in the viewer's language.

    title = translated(view.viewer, N_("Contact %(address)s"), address=msisdn)

Why: a page title or notice that holds a value (a number, a document's title)
cannot be translated by the template's `t` filter, which looks the whole
string up; the English with its `%(name)s` placeholders is the catalog's
key, so it is looked up first and filled after. Never concatenate words: a
translation may put the values in another order.
"""

from __future__ import annotations

from gateway.web.locale import Viewer


def translated(viewer: Viewer, text: str, **values: object) -> str:
    """`text` (marked `N_` where it is written) in the viewer's language, values filled in."""
    said = viewer.translations.gettext(text)
    return said % values if values else said
