"""Finding the links of a broadcast's text (gateway/broadcast/links.py), property-tested."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from gateway.broadcast.links import TOKEN_LENGTH, find_urls, shorten_parts, shortened_text
from gateway.store.broadcasts import BodyPart, ProfileField, ShortLink

BASE = "https://go.example.org/"

host = st.from_regex(r"[a-z0-9]{1,12}(\.[a-z0-9]{1,8}){1,2}", fullmatch=True)
path = st.text(alphabet=string.ascii_letters + string.digits + "/-_~%=&", max_size=30)
query = st.text(alphabet=string.ascii_letters + string.digits + "=&_-", max_size=20)
urls = st.builds(lambda scheme, h, p, q: f"{scheme}://{h}/{p}" + (f"?{q}" if q else ""),
                 st.sampled_from(["http", "https", "HTTPS"]), host, path, query)
# words around the links: anything but what could extend or start a link
words = st.text(alphabet=st.characters(exclude_characters=":/<>\"", codec="utf-8",
                                       exclude_categories=["Cs"]), max_size=25)
ending = st.sampled_from(["", ".", ",", "!", "?", ")", "…", "."])


@given(st.lists(st.tuples(words, urls, ending), min_size=1, max_size=4), words)
def test_every_link_is_found_exactly_with_its_sentence_punctuation_left_out(
    pieces: list[tuple[str, str, str]], tail: str
) -> None:
    text, expected = "", []
    for before, url, end in pieces:
        text += before + " "
        expected.append((len(text), len(text) + len(url)))
        text += url + end + " "
    text += tail
    assert find_urls(text) == expected
    assert [text[a:b] for a, b in find_urls(text)] == [url for _, url, _ in pieces]


@given(words)
def test_a_text_without_a_scheme_has_no_link(text: str) -> None:
    assert find_urls(text) == []
    assert shortened_text(text, BASE) == text


@given(st.lists(st.tuples(words, urls), min_size=1, max_size=3), words)
def test_shortening_keeps_every_word_and_replaces_each_link_by_one_of_fixed_length(
    pieces: list[tuple[str, str]], tail: str
) -> None:
    text = "".join(f"{before} {url} " for before, url in pieces) + tail
    short = shortened_text(text, BASE)
    stand_in = BASE + "x" * TOKEN_LENGTH
    assert short == "".join(f"{before} {stand_in} " for before, _ in pieces) + tail
    assert shortened_text(text, None) == text
    found = shorten_parts([text], BASE)
    assert found.destinations == tuple(url for _, url in pieces)
    assert [p.position for p in found.parts if isinstance(p, ShortLink)] == list(
        range(len(pieces)))


def test_brackets_a_link_opened_stay_and_a_sentence_bracket_goes() -> None:
    text = "See https://en.wikipedia.org/wiki/Foo_(bar). (or https://x.org/a)"
    assert [text[a:b] for a, b in find_urls(text)] == [
        "https://en.wikipedia.org/wiki/Foo_(bar)", "https://x.org/a"]


def test_a_scheme_without_a_host_is_not_a_link() -> None:
    assert find_urls("type https:// then the site, or http:///x") == []


def test_a_link_running_into_a_placeholder_is_left_as_written() -> None:
    parts: list[BodyPart] = ["Hi, see https://x.org/?who=", ProfileField("first_name", ""),
                             " and https://y.org"]
    found = shorten_parts(parts, BASE)
    assert found.destinations == ("https://y.org",)
    assert found.parts == ["Hi, see https://x.org/?who=", ProfileField("first_name", ""),
                           " and ", ShortLink(0, BASE)]
