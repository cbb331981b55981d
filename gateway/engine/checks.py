"""Whole-file checks that a schema cannot express.

Each finding is a (path, message) pair; the loader turns the path into
FILE:LINE:COL. We report everything in one pass so an organizer fixes the
file once, not once per error. The checks mirror compliance rules 7, 8
and 26 and the keyword-matching rules: a keyword that could be mistaken
for another, or for an opt-out, is refused before it reaches a phone.
"""

from __future__ import annotations

from collections.abc import Iterator

from gateway.engine import compliance, contact_checks, mail_texts, voice_checks
from gateway.engine.gift_requests import DONATION_VARIABLES, donation_findings
from gateway.engine.model import Profile, RulesFile, Step
from gateway.engine.templates import PROGRAM_VARIABLES, Template, TemplateError, parse_template
from gateway.engine.text import normalize, within_one_edit
from gateway.engine.validators import DERIVED_FIELDS
from gateway.engine.yamlsource import Path

Finding = tuple[Path, str]


def shortcode_profiles(doc: RulesFile) -> dict[str, Profile]:
    profiles: dict[str, Profile] = {}
    for program in doc.programs.values():
        for code in program.shortcodes:
            if program.profile == "fr" or code not in profiles:
                profiles[code] = program.profile
    return profiles


def own_opt_out_words(doc: RulesFile, code: str) -> frozenset[str]:
    """The programs' own opt-out words on `code`, normalized (revocation.py)."""
    return frozenset(
        normalize(w) for p in doc.programs.values() if code in p.shortcodes
        for w in p.opt_out_words if normalize(w)
    )


def known_fields(doc: RulesFile) -> frozenset[str]:
    derived = {
        name for d in doc.dialogs.values() for s in d.steps for name in DERIVED_FIELDS.get(
            s.validator, frozenset())
    }
    return frozenset(doc.fields) | derived


def template_sources(doc: RulesFile) -> Iterator[tuple[Path, str, str | None]]:
    """Every template in the file: (path, source, program id it speaks for)."""
    for pid, program in doc.programs.items():
        for name, text in program.texts.model_dump().items():
            if text is not None:
                yield ("programs", pid, "texts", name), text, pid
    for i, keyword in enumerate(doc.keywords):
        if keyword.reply is not None:
            yield ("keywords", i, "reply"), keyword.reply, keyword.program
    for did, dialog in doc.dialogs.items():
        for j, step in enumerate(dialog.steps):
            yield ("dialogs", did, "steps", j, "prompt"), step.prompt, dialog.program
            if step.reprompt is not None:
                yield ("dialogs", did, "steps", j, "reprompt"), step.reprompt, dialog.program
        if dialog.closing is not None:
            yield ("dialogs", did, "closing"), dialog.closing, dialog.program
    for pid, donations in doc.donations.items():
        for name, text in donations.texts.model_dump().items():
            if text is not None:
                yield ("donations", pid, "texts", name), text, pid
    yield from contact_checks.template_sources(doc)
    yield ("defaults", "default_reply"), doc.defaults.default_reply, None
    if doc.defaults.unknown_shortcode_reply is not None:
        yield ("defaults", "unknown_shortcode_reply"), doc.defaults.unknown_shortcode_reply, None


def check(doc: RulesFile) -> tuple[list[Finding], dict[Path, Template], dict[str, int]]:
    """Findings, the parsed templates by path, and worst-case segments by dotted path."""
    findings: list[Finding] = []
    findings += _check_references(doc)
    findings += _check_fields(doc)
    findings += _check_own_opt_out_words(doc)
    findings += _check_words(doc)
    templates, segments, template_findings = _check_templates(doc)
    findings += template_findings
    findings += _check_disclosures(doc, templates)
    findings += donation_findings(doc, templates)
    findings += contact_checks.findings(doc, templates)
    findings += mail_texts.findings(doc)
    findings += voice_checks.findings(doc)
    return findings, templates, segments


def _check_references(doc: RulesFile) -> Iterator[Finding]:
    for i, kw in enumerate(doc.keywords):
        at: Path = ("keywords", i)
        if kw.program not in doc.programs:
            yield (*at, "program"), f"unknown program {kw.program!r}; define it under programs:"
        if kw.dialog is not None and kw.dialog not in doc.dialogs:
            yield (*at, "dialog"), f"unknown dialog {kw.dialog!r}; define it under dialogs:"
        needs = {"reply": "reply", "dialog": "dialog", "theme": "theme"}.get(kw.action)
        if needs is not None and getattr(kw, needs) is None:
            yield (*at, "action"), f"action {kw.action} needs a `{needs}:` entry"
        if kw.reply is not None and kw.action != "reply":
            yield (*at, "reply"), f"`reply:` is only used with action reply, not {kw.action}"
        if kw.dialog is not None and kw.action not in ("dialog", "opt_in"):
            yield (*at, "dialog"), "`dialog:` is only used with action dialog or opt_in"
    for did, dialog in doc.dialogs.items():
        if dialog.program not in doc.programs:
            yield ("dialogs", did, "program"), f"unknown program {dialog.program!r}"
    for pid, program in doc.programs.items():
        if program.double_opt_in and program.texts.confirm_request is None:
            yield (("programs", pid, "texts"),
                   "double_opt_in needs texts.confirm_request (\"Reply Y to confirm...\")")


def _check_own_opt_out_words(doc: RulesFile) -> Iterator[Finding]:
    """A program's own STOP word: one word, and never HELP, START or YES (those must work)."""
    for pid, program in doc.programs.items():
        for j, raw in enumerate(program.opt_out_words):
            at: Path = ("programs", pid, "opt_out_words", j)
            word = normalize(raw)
            if not word or " " in word:
                yield at, f"{raw!r} must be one word of letters or digits"
            elif word in compliance.HELP_WORDS[program.profile] | compliance.START_WORDS | \
                    compliance.YES_WORDS[program.profile]:
                yield at, f"{raw!r} is HELP, START or YES, which must keep working; pick another"


def _check_fields(doc: RulesFile) -> Iterator[Finding]:
    declared = set(doc.fields)
    seen: set[str] = set()
    for i, name in enumerate(doc.fields):
        if name in seen:
            yield ("fields", i), f"field {name!r} is listed twice"
        seen.add(name)
    for did, dialog in doc.dialogs.items():
        in_dialog: set[str] = set()
        for j, step in enumerate(dialog.steps):
            at: Path = ("dialogs", did, "steps", j)
            if step.field not in declared:
                yield (*at, "field"), f"unknown field {step.field!r}; add it to fields:"
            if step.field in in_dialog:
                yield (*at, "field"), f"field {step.field!r} is asked twice in this dialog"
            in_dialog.add(step.field)
            yield from _check_step_options(step, at)
            program = doc.programs.get(dialog.program)
            if program is not None:
                own = frozenset().union(*(own_opt_out_words(doc, c) for c in program.shortcodes))
                yield from _check_step_words(step, at, program.profile, own)


def _check_step_options(step: Step, at: Path) -> Iterator[Finding]:
    if step.validator == "choice":
        if not step.choices or len(step.choices) < 2:
            yield (*at, "choices"), "validator choice needs at least two choices:"
        elif len({normalize(c) for c in step.choices}) != len(step.choices):
            yield (*at, "choices"), "two choices are the same after normalization"
    elif step.choices is not None:
        yield (*at, "choices"), f"choices: only apply to validator choice, not {step.validator}"
    if step.validator != "number" and (step.min is not None or step.max is not None):
        yield (*at, "validator"), "min:/max: only apply to validator number"
    if step.min is not None and step.max is not None and step.min > step.max:
        yield (*at, "min"), f"min {step.min} is above max {step.max}"
    if step.skip is not None and " " in normalize(step.skip):
        yield (*at, "skip"), "the skip word must be a single word"


def _check_step_words(step: Step, at: Path, profile: Profile,
                      own: frozenset[str]) -> Iterator[Finding]:
    """An answer that is also STOP or HELP would never reach the dialog.

    Uses the matching rule itself (revocation.py), so a choice such as
    "OK STOP" or "END NOW" is refused as the engine would read it: an opt-out.
    """
    if step.skip is not None and _stops_or_helps(normalize(step.skip), profile, own):
        yield (*at, "skip"), f"skip word {step.skip!r} is a compliance word; pick another"
    for j, option in enumerate(step.choices or []):
        if _stops_or_helps(normalize(option), profile, own):
            yield (*at, "choices", j), (f"choice {option!r} would be read as an opt-out or "
                                        "HELP; pick another")


def _stops_or_helps(words: str, profile: Profile, own: frozenset[str]) -> bool:
    first = words.split(" ", 1)[0]
    return first in compliance.HELP_WORDS[profile] or compliance.is_opt_out(
        words, first, profile, own)


def _check_words(doc: RulesFile) -> Iterator[Finding]:
    profiles = shortcode_profiles(doc)
    minimum = doc.defaults.fuzzy_min_length
    # per short code: normalized word -> (path, keyword index, fuzzy-eligible)
    tables: dict[str, dict[str, tuple[Path, int, bool]]] = {}
    for i, kw in enumerate(doc.keywords):
        program = doc.programs.get(kw.program)
        if program is None:
            continue
        entries = [(("keywords", i, "word"), kw.word)] + [
            (("keywords", i, "aliases", j), alias) for j, alias in enumerate(kw.aliases)
        ]
        for path, raw in entries:
            word = normalize(raw)
            if not word or " " in word:
                yield path, f"{raw!r} must be one word of letters or digits"
                continue
            eligible = kw.fuzzy if kw.fuzzy is not None else len(word) >= minimum
            for code in program.shortcodes:
                yield from _check_one_word(
                    word, raw, path, i, eligible, profiles[code], code,
                    tables.setdefault(code, {}), own_opt_out_words(doc, code),
                )


def _check_one_word(
    word: str, raw: str, path: Path, index: int, eligible: bool, profile: Profile, code: str,
    table: dict[str, tuple[Path, int, bool]], own: frozenset[str],
) -> Iterator[Finding]:
    if word in compliance.reserved_words(profile):
        yield path, f"{raw!r} is a compliance word on {code} (STOP/HELP/START/YES); pick another"
        return
    if word in own:
        yield path, f"{raw!r} is a program's own opt-out word on {code}; pick another"
        return
    if compliance.is_opt_out(word, word, profile, own):  # the matching rule itself
        near = sorted(w for w in compliance.OPT_OUT_WORDS[profile] | own
                      if within_one_edit(word, w))
        yield path, (f"{raw!r} is one typo from {near[0] if near else 'an opt-out word'} on "
                     f"{code} and would opt people out")
        return
    if word in table:
        yield path, f"{raw!r} clashes with {_dotted(table[word][0])} on short code {code}"
        return
    for other, (other_path, other_index, other_eligible) in table.items():
        if other_index != index and (eligible or other_eligible) and within_one_edit(word, other):
            yield path, (
                f"{raw!r} is one edit from {other!r} ({_dotted(other_path)}) on short code "
                f"{code}: a typo could reach either; rename one or set fuzzy: false on both"
            )
    table[word] = (path, index, eligible)


def _check_templates(
    doc: RulesFile,
) -> tuple[dict[Path, Template], dict[str, int], list[Finding]]:
    fields = known_fields(doc) | PROGRAM_VARIABLES
    templates: dict[Path, Template] = {}
    segments: dict[str, int] = {}
    findings: list[Finding] = []
    limit = doc.defaults.max_segments
    for path, source, pid in template_sources(doc):
        try:
            template = parse_template(source)
        except TemplateError as err:
            findings.append((path, str(err)))
            continue
        templates[path] = template
        allowed = fields | DONATION_VARIABLES if path[0] == "donations" else fields
        allowed = allowed | contact_checks.template_variables(doc, path)
        for name in sorted(template.names - allowed):
            findings.append((path, f"template names unknown field {{{name}}}; known: "
                             + ", ".join(sorted(allowed))))
        program = doc.programs.get(pid) if pid else None
        codes = program.shortcodes if program else ["00000"]
        worst = max(template.worst_case_segments(_variables(doc, pid, code)) for code in codes)
        segments[_dotted(path)] = worst
        if worst > limit:
            findings.append((path, f"reply can take {worst} SMS segments, over max_segments "
                             f"{limit}; shorten it"))
    return templates, segments, findings


def _check_disclosures(doc: RulesFile, templates: dict[Path, Template]) -> Iterator[Finding]:
    kinds: tuple[compliance.DisclosureKind, ...] = ("confirmation", "help", "stop_hint")
    for pid, program in doc.programs.items():
        for text_name in kinds:
            path: Path = ("programs", pid, "texts", text_name)
            template = templates.get(path)
            if template is None:
                continue
            for code in program.shortcodes:
                rendered = template.render(_variables(doc, pid, code))
                missing = compliance.missing_disclosures(
                    rendered, text_name, program.profile, name=program.name,
                    frequency=program.frequency_text, support=program.support, shortcode=code,
                )
                if missing:
                    yield path, f"{text_name} text on {code} lacks " + ", ".join(missing)
        request = templates.get(("programs", pid, "texts", "confirm_request"))
        if request is not None and not (
            {"Y", "YES", "OUI"} & set(normalize(request.source).split())
        ):
            yield (("programs", pid, "texts", "confirm_request"),
                   "confirm_request must tell people to reply Y or YES")


def _variables(doc: RulesFile, pid: str | None, code: str) -> dict[str, str]:
    program = doc.programs.get(pid) if pid else None
    if program is None:
        return {"shortcode": code}
    donations = doc.donations.get(pid) if pid else None
    known = {"committee": donations.committee, "terms_url": donations.terms_url} \
        if donations else {}
    return {
        "program": program.name, "shortcode": code, "support": program.support,
        "frequency": program.frequency_text, "privacy_url": program.privacy.url, **known,
    }


def _dotted(path: Path) -> str:
    return ".".join(str(p) for p in path)
