"""`load_rules(path)`: keywords.yaml -> `Rules`, or every problem with its position.

The only I/O in the engine is reading this one file, and it happens here.
A reload calls the same function: on RulesError the caller keeps the old
rules and logs `problems`, so a bad edit never takes the gateway down.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from gateway.engine.checks import check, known_fields, own_opt_out_words, shortcode_profiles
from gateway.engine.gift_requests import compile_donations
from gateway.engine.knowledge import compile_knowledge
from gateway.engine.model import Dialog, Keyword, Program, RulesFile
from gateway.engine.rules import (
    DialogRules,
    KeywordRules,
    ProgramRules,
    Rules,
    ShortcodeRules,
    StepRules,
)
from gateway.engine.templates import Template
from gateway.engine.text import TypoIndex, normalize
from gateway.engine.themes import compile_themes
from gateway.engine.voice import compile_voice
from gateway.engine.yamlsource import Located, YamlSourceError, load_located
from gateway.engine.yamlsource import Path as NodePath


class RulesError(Exception):
    """keywords.yaml is unusable; `problems` are "FILE:LINE:COL: message" lines."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in keywords file:\n" + "\n".join(problems))


def load_rules(path: Path) -> Rules:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RulesError([f"{path}:1:1: cannot read the keywords file: {err}"]) from err
    return parse_rules(text, str(path))


def parse_rules(text: str, filename: str = "keywords.yaml") -> Rules:
    """Same as `load_rules` for text already in memory (tests, the admin upload)."""
    try:
        located = load_located(text, filename)
    except YamlSourceError as err:
        raise RulesError(err.problems) from None
    try:
        doc = RulesFile.model_validate(located.data)
    except ValidationError as err:
        raise RulesError(_schema_problems(err, located)) from None
    findings, templates, segments = check(doc)
    if findings:
        raise RulesError(sorted(
            (f"{located.where(p)}: {message}" for p, message in findings), key=_position
        ))
    return _compile(doc, templates, segments, filename)


def _schema_problems(err: ValidationError, located: Located) -> list[str]:
    problems = []
    for error in err.errors(include_url=False):
        loc: NodePath = tuple(error["loc"])
        is_key = "[key]" in loc or error["type"] == "extra_forbidden"
        loc = tuple(part for part in loc if part != "[key]")
        dotted = ".".join(str(p) for p in loc) or "(top level)"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key (check its spelling and indentation)"
        elif error["type"] == "missing":
            message = f"missing required key {loc[-1]!r}" if loc else message
            loc = loc[:-1]
        problems.append(f"{located.where(loc, key=is_key)}: {dotted}: {message}")
    return sorted(problems, key=_position)


def _position(problem: str) -> tuple[int, int]:
    parts = problem.split(":", 3)
    try:
        return int(parts[1]), int(parts[2])
    except (IndexError, ValueError):
        return 0, 0


def _compile(
    doc: RulesFile, templates: dict[NodePath, Template], segments: dict[str, int], source: str
) -> Rules:
    programs = {pid: _program(pid, p, templates) for pid, p in doc.programs.items()}
    dialogs = {did: _dialog(did, d, templates, doc.defaults.dialog_expires_after)
               for did, d in doc.dialogs.items()}
    profiles = shortcode_profiles(doc)
    default_reply = templates[("defaults", "default_reply")]
    shortcodes: dict[str, ShortcodeRules] = {}
    for code, profile in profiles.items():
        on_code = tuple(p for p in programs.values() if code in p.shortcodes)
        exact: dict[str, KeywordRules] = {}
        fuzzy: list[tuple[str, KeywordRules]] = []
        for i, kw in enumerate(doc.keywords):
            if code not in doc.programs[kw.program].shortcodes:
                continue
            compiled = _keyword(kw, templates.get(("keywords", i, "reply")))
            for raw in (kw.word, *kw.aliases):
                word = normalize(raw)
                exact[word] = compiled
                if kw.fuzzy if kw.fuzzy is not None else len(word) >= doc.defaults.fuzzy_min_length:
                    fuzzy.append((word, compiled))
        lead = on_code[0]
        lead_default = templates.get(("programs", lead.id, "texts", "default_reply"))
        shortcodes[code] = ShortcodeRules(
            code=code, profile=profile, lead=lead, programs=on_code,
            exact=MappingProxyType(exact), fuzzy=TypoIndex(fuzzy),
            default_reply=lead_default or default_reply,
            variables=MappingProxyType({p.id: p.variables(code) for p in on_code}),
            opt_out_words=own_opt_out_words(doc, code),
        )
    return Rules(
        source=source, defaults=doc.defaults, shortcodes=MappingProxyType(shortcodes),
        programs=MappingProxyType(programs), dialogs=MappingProxyType(dialogs),
        segment_counts=MappingProxyType(dict(segments)),
        donations=compile_donations(doc, templates),
        themes=compile_themes(doc, templates), knowledge=compile_knowledge(doc, templates),
        profile_fields=known_fields(doc), voice=compile_voice(doc),
    )


def _program(pid: str, p: Program, templates: dict[NodePath, Template]) -> ProgramRules:
    def text(name: str) -> Any:
        return templates.get(("programs", pid, "texts", name))

    return ProgramRules(
        id=pid, name=p.name, profile=p.profile, shortcodes=tuple(p.shortcodes),
        support=p.support, frequency=p.frequency_text, privacy_url=p.privacy.url,
        privacy_version=p.privacy.version, disclosure_version=p.disclosure_version,
        double_opt_in=p.double_opt_in, help=text("help"), confirmation=text("confirmation"),
        confirm_request=text("confirm_request"), opted_out=text("opted_out"),
        already_subscribed=text("already_subscribed"), stop_hint=text("stop_hint"),
        frequency_limit=p.frequency,
    )


def _keyword(kw: Keyword, reply: Template | None) -> KeywordRules:
    return KeywordRules(
        word=normalize(kw.word), program=kw.program, action=kw.action, dialog=kw.dialog,
        reply=reply, theme=kw.theme, knowledge=kw.knowledge, tags=tuple(kw.tags),
    )


def _dialog(
    did: str, d: Dialog, templates: dict[NodePath, Template], default_expiry: int
) -> DialogRules:
    steps = []
    for j, step in enumerate(d.steps):
        prompt = templates[("dialogs", did, "steps", j, "prompt")]
        reprompt = templates.get(("dialogs", did, "steps", j, "reprompt"))
        steps.append(StepRules(
            spec=step, prompt=prompt,
            reprompt=reprompt or prompt,  # language-neutral: ask the same question again
            skip=normalize(step.skip) if step.skip else None,
        ))
    return DialogRules(
        id=did, program=d.program, steps=tuple(steps),
        expires_after=d.expires_after or default_expiry,
        closing=templates.get(("dialogs", did, "closing")),
    )
