from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.engine import RulesError, load_rules, parse_rules
from tests.support.rules_text import BASE

ROOT = Path(__file__).resolve().parents[1]


def problems_of(text: str) -> list[str]:
    with pytest.raises(RulesError) as caught:
        parse_rules(text, "kw.yaml")
    assert caught.value.problems, "RulesError without problems"
    return caught.value.problems


def test_base_fixture_is_valid() -> None:
    rules = parse_rules(BASE, "kw.yaml")
    assert set(rules.shortcodes) == {"12345"}
    assert rules.default_reply == "Text JOIN for news or HELP for help."
    assert rules.segment_counts["programs.news.texts.confirmation"] == 1


def test_shipped_keywords_file_passes_every_check() -> None:
    rules = load_rules(ROOT / "keywords.yaml")
    assert set(rules.shortcodes) == {"12345", "38200"}
    assert rules.shortcodes["38200"].profile == "fr"
    actions = {k.action for code in rules.shortcodes.values() for k in code.exact.values()}
    assert actions == {"opt_in", "reply", "dialog", "donate", "knowledge", "menu", "theme"}
    assert rules.programs["rise"].double_opt_in
    assert all(n <= rules.defaults.max_segments for n in rules.segment_counts.values())


def test_unreadable_file_is_a_rules_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError) as caught:
        load_rules(tmp_path / "missing.yaml")
    assert caught.value.problems[0].startswith(f"{tmp_path / 'missing.yaml'}:1:1: cannot read")


def test_unknown_key_points_at_the_key() -> None:
    text = BASE.replace("    double_opt_in: true", "    doubel_opt_in: true")
    assert problems_of(text) == [
        "kw.yaml:13:5: programs.news.doubel_opt_in: unknown key (check its spelling and "
        "indentation)"
    ]


def test_missing_key_points_at_the_parent_mapping() -> None:
    text = BASE.replace("    frequency: Up to 4 msgs/mo\n", "")
    (problem,) = problems_of(text)
    assert problem.startswith("kw.yaml:7:5: programs.news.frequency: missing required key")


def test_wrong_type_points_at_the_value() -> None:
    text = BASE.replace("validator: us_zip", "validator: zipcode")
    (problem,) = problems_of(text)
    assert problem.startswith("kw.yaml:36:20: dialogs.profile.steps.0.validator:")


def test_yaml_syntax_error_has_position() -> None:
    (problem,) = problems_of("version: 1\ndefaults: [unclosed\n")
    assert problem.startswith("kw.yaml:3:1: invalid YAML")


def test_duplicate_key_is_refused_not_overwritten() -> None:
    text = BASE.replace("    name: News Alerts\n", "    name: News Alerts\n    name: X\n")
    assert problems_of(text) == ["kw.yaml:8:5: duplicate key 'name'"]


def test_yes_no_words_stay_strings() -> None:
    text = BASE.replace('version: "1"', "version: NO")
    rules = parse_rules(text, "kw.yaml")
    assert rules.programs["news"].privacy_version == "NO"


def test_unknown_field_and_template_field_are_reported_with_lines() -> None:
    text = BASE.replace("- field: zip", "- field: postcode").replace(
        "Hi {first_name|there}!", "Hi {firstname}!"
    )
    problems = problems_of(text)
    assert problems[0].startswith("kw.yaml:29:12: template names unknown field {firstname}")
    assert problems[1] == "kw.yaml:34:16: unknown field 'postcode'; add it to fields:"


def test_every_problem_is_reported_at_once() -> None:
    text = (
        BASE.replace("- field: zip", "- field: postcode")
        .replace("Hi {first_name|there}!", "Hi {firstname}!")
        .replace("  - word: FACTS", "  - word: JOIN")
    )
    assert len(problems_of(text)) == 3


@pytest.mark.parametrize(
    ("removed", "missing"),
    [
        (" Msg&data rates may apply.\n", '"Msg&data rates may apply"'),
        ("Reply HELP for help, ", "HELP instructions"),
        (", STOP to cancel", "STOP instructions"),
        ("{frequency}. Msg", "the message frequency"),
        ("{program}: you're", "the program name"),
    ],
)
def test_opt_in_confirmation_must_carry_disclosures(removed: str, missing: str) -> None:
    confirmation = (
        "      confirmation: >-\n"
        "        {program}: you're in. {frequency}. Msg&data rates may apply.\n"
        "        Reply HELP for help, STOP to cancel.\n"
    )
    assert confirmation in BASE
    broken = confirmation.replace(removed, " " if removed.endswith("\n") else "")
    if removed == "{frequency}. Msg":
        broken = confirmation.replace(removed, "Msg")
    if removed == "{program}: you're":
        broken = confirmation.replace(removed, "You're")
    assert broken != confirmation
    (problem,) = problems_of(BASE.replace(confirmation, broken))
    assert problem.startswith("kw.yaml:16:21: confirmation text on 12345 lacks")
    assert missing in problem


def test_help_text_must_name_support_contact() -> None:
    text = BASE.replace("{program}: {support}. {frequency}", "{program}: {frequency}")
    (problem,) = problems_of(text)
    assert "help text on 12345 lacks the support contact" in problem


def test_double_opt_in_needs_a_confirm_request() -> None:
    text = BASE.replace(
        '      confirm_request: "News Alerts: reply Y to confirm. Up to 4 msgs/mo."\n', ""
    )
    assert "double_opt_in needs texts.confirm_request" in problems_of(text)[0]


def test_same_word_on_one_shortcode_clashes() -> None:
    text = BASE.replace("  - word: FACTS", "  - word: FACTS\n    aliases: [join]")
    (problem,) = problems_of(text)
    assert problem == "kw.yaml:27:15: 'join' clashes with keywords.0.word on short code 12345"


def test_fuzzy_neighbours_clash_unless_fuzzy_is_off() -> None:
    # Two words of one keyword may be one edit apart: a typo still reaches that keyword.
    parse_rules(BASE.replace("  - word: FACTS", "  - word: FACTS\n    aliases: [FACTZ]"), "k")
    other = "keywords:\n  - {word: FACTZ, program: news, action: reply, reply: Z}\n"
    clash = BASE.replace("keywords:\n", other)
    (problem,) = problems_of(clash)
    assert "'FACTS' is one edit from 'FACTZ'" in problem
    both_off = clash.replace("reply: Z}", "reply: Z, fuzzy: false}").replace(
        "    action: reply\n    reply: \"Hi", "    action: reply\n    fuzzy: false\n    reply: \"Hi"
    )
    assert both_off.count("fuzzy: false") == 2
    parse_rules(both_off, "kw.yaml")


@pytest.mark.parametrize("word", ["STOP", "help", "Start", "YES", "OPTOUT", "STOPS"])
def test_compliance_words_cannot_be_keywords(word: str) -> None:
    text = BASE.replace("  - word: FACTS", f"  - word: {word}")
    (problem,) = problems_of(text)
    assert "is a compliance word" in problem


def test_keyword_one_typo_from_an_opt_out_word_is_refused() -> None:
    text = BASE.replace("  - word: FACTS", "  - word: REMOTE")
    (problem,) = problems_of(text)
    assert "one typo from REMOVE" in problem


def test_replies_over_the_segment_limit_are_refused() -> None:
    text = BASE.replace("Hi {first_name|there}!", "x" * 480)
    (problem,) = problems_of(text)
    assert "reply can take 4 SMS segments, over max_segments 3" in problem


def test_french_program_needs_stop_au_shortcode() -> None:
    text = BASE.replace("    double_opt_in: true", "    double_opt_in: true\n    profile: fr")
    problems = problems_of(text)
    assert any('lacks "STOP au 12345"' in p for p in problems)


def test_reference_errors() -> None:
    text = BASE.replace("    dialog: profile", "    dialog: profil").replace(
        "    action: reply\n    reply:", "    action: theme\n    reply:"
    )
    problems = problems_of(text)
    assert any("unknown dialog 'profil'" in p for p in problems)
    assert any("action theme needs a `theme:` entry" in p for p in problems)


def test_choice_step_needs_choices() -> None:
    text = BASE.replace("validator: us_zip", "validator: choice")
    assert "validator choice needs at least two choices" in problems_of(text)[0]


def test_dialog_answers_cannot_be_compliance_words() -> None:
    text = BASE.replace(
        "        validator: us_zip",
        "        validator: choice\n        choices: [STOP, GO]\n        skip: help",
    )
    problems = problems_of(text)
    assert any("skip word 'help' is a compliance word" in p for p in problems)
    assert any("choice 'STOP' would be read as an opt-out" in p for p in problems)


def test_a_choice_with_an_opt_out_word_anywhere_is_refused_like_the_engine_reads_it() -> None:
    text = BASE.replace(
        "        validator: us_zip",
        "        validator: choice\n        choices: [GO ON, OK END, STOP BY]",
    )
    problems = problems_of(text)
    assert any("choice 'OK END' would be read as an opt-out" in p for p in problems)
    assert any("choice 'STOP BY' would be read as an opt-out" in p for p in problems)
    assert not any("'GO ON'" in p for p in problems)


def test_a_keyword_spelt_with_look_alike_letters_is_refused_as_the_word_it_imitates() -> None:
    cyrillic_stop = "\u0405\u0422\u041e\u0420"  # Cyrillic S, T, O, P
    text = BASE.replace("word: JOIN", f"word: {cyrillic_stop}")
    assert any("is a compliance word" in p for p in problems_of(text))


SHIPPED = (ROOT / "keywords.yaml").read_text(encoding="utf-8")


@given(st.data())
@settings(deadline=None, max_examples=150)
def test_any_damaged_file_gives_rules_error_with_positions(data: st.DataObject) -> None:
    """Delete, duplicate or scribble over lines: only RulesError may come out, never a crash."""
    lines = SHIPPED.splitlines()
    index = data.draw(st.integers(0, len(lines) - 1))
    action = data.draw(st.sampled_from(["delete", "duplicate", "replace"]))
    if action == "delete":
        del lines[index]
    elif action == "duplicate":
        lines.insert(index, lines[index])
    else:
        lines[index] = data.draw(st.text(alphabet=" :-[]{}'\"#&*!|>%@`abcY0123456789\t",
                                         max_size=30))
    try:
        parse_rules("\n".join(lines), "kw.yaml")
    except RulesError as err:
        assert err.problems
        for problem in err.problems:
            assert problem.startswith("kw.yaml:"), problem
            _, line, column, _ = problem.split(":", 3)
            assert int(line) >= 1 and int(column) >= 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: !!python/object:os.system x\n", "kw.yaml:1:10: unsupported YAML"),
        ("a: &x [*x]\n", "kw.yaml:1:4: an alias refers to a value that contains it"),
        ("a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
         "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
         "e: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n", "values (aliases?)"),
        ("", "kw.yaml:1:1: the file is empty"),
        ("- 1\n- 2\n", "kw.yaml:1:1: (top level): Input should be a valid dictionary"),
    ],
)
def test_hostile_or_odd_yaml_is_refused_cleanly(text: str, message: str) -> None:
    (problem,) = problems_of(text)
    assert message in problem
