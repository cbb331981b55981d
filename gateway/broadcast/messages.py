"""A broadcast's text: the engine's template syntax, rendered in SQL, reported in SMS terms.

Templates are the engine's (`{first_name|friend}`; see
`gateway.engine.templates`): one syntax for replies and broadcasts. Program
values (`{program}`, `{shortcode}`...) are the same for every recipient and
are filled in here; profile fields become `ProfileField` parts the store
renders per row in SQL.

What organizers must see before sending: the encoding (GSM-7 packs 160
characters in one SMS, UCS-2 only 70) and the number of segments, which a
long first name or one accented character can raise for some recipients.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gateway import smstext
from gateway.engine.templates import Placeholder, Template, TemplateError, parse_template
from gateway.store.broadcasts import BodyPart, ProfileField


class BroadcastTextError(ValueError):
    """The text does not parse as a template; the message says where."""


@dataclass(frozen=True, slots=True)
class MessageInfo:
    text: str
    encoding: smstext.Encoding
    segments: int
    characters: int


@dataclass(frozen=True, slots=True)
class TextReport:
    base: MessageInfo  # program values filled in, every profile field at its fallback
    worst_case_segments: int  # unknown fields at the engine's assumed length
    samples: tuple[MessageInfo, ...]
    warnings: tuple[str, ...]


def parse_text(source: str) -> Template:
    if not source.strip():
        raise BroadcastTextError("the broadcast text is empty")
    try:
        return parse_template(source)
    except TemplateError as err:
        raise BroadcastTextError(str(err)) from err


def describe(text: str) -> MessageInfo:
    return MessageInfo(text, smstext.choose_encoding(text), smstext.segment_count(text), len(text))


def body_parts(template: Template, variables: Mapping[str, str]) -> list[BodyPart]:
    """Literal text, with program values filled in, and profile fields to render per row."""
    parts: list[BodyPart] = []
    for part in template.parts:
        if isinstance(part, Placeholder) and part.name not in variables:
            parts.append(ProfileField(part.name, part.fallback))
            continue
        # A literal, or a program value rendered exactly as `Template.render` renders it.
        text = part if isinstance(part, str) else Template(part.name, (part,)).render(variables)
        if parts and isinstance(parts[-1], str):
            parts[-1] += text
        else:
            parts.append(text)
    return parts


def report(
    template: Template, variables: Mapping[str, str], profiles: Sequence[Mapping[str, object]]
) -> TextReport:
    base = describe(template.render(variables))
    worst = template.worst_case_segments(variables)
    samples = tuple(describe(template.render({**profile, **variables})) for profile in profiles)
    fields = sorted(template.names - set(variables))
    warnings: list[str] = []
    if base.encoding == "ucs2":
        odd = sorted({c for c in base.text if not smstext.is_gsm7(c)})
        warnings.append(
            f"the text needs UCS-2 (70 characters per SMS) because of {''.join(odd)!r}"
        )
    if worst > base.segments:
        warnings.append(
            f"personalization ({', '.join('{' + f + '}' for f in fields)}) can take the message "
            f"from {base.segments} to {worst} segments"
        )
    longest = max(samples, key=lambda s: s.segments, default=None)
    if longest is not None and longest.segments > base.segments:
        warnings.append(
            f"a sample recipient's message takes {longest.segments} segments, not {base.segments}"
        )
    if base.encoding == "gsm7" and any(s.encoding == "ucs2" for s in samples):
        warnings.append(
            "a personalized value switches some messages to UCS-2 (70 characters per SMS)"
        )
    return TextReport(base, worst, samples, tuple(warnings))
