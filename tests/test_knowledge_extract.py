"""Text extraction and passages: every format, every refusal naming the file, and properties.

Pure functions, no database: a bad upload must be refused with a message an
organizer can act on, and nothing a file holds may raise anything else.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.knowledge.extract import (
    MAX_SOURCE_BYTES,
    MAX_TEXT_CHARS,
    ExtractionError,
    extract,
    html_text,
    tidy,
)
from gateway.knowledge.passages import MAX_CHARS, TARGET_CHARS, split_passages
from gateway.knowledge.service import base_name, marked_parts
from gateway.store.knowledge_docs import HIGHLIGHT_START, HIGHLIGHT_STOP
from tests.support.knowledge_files import encrypted_pdf, minimal_pdf


def test_markdown_keeps_the_text_not_the_marks() -> None:
    source = ("# Le programme\n\nDu **travail** pour [tous](https://example.org/t).\n\n"
              "- un\n- deux\n\n<script>alert(1)</script>\n\n    code gardé\n")
    assert extract("programme.md", source.encode()).text == (
        "Le programme\n\nDu travail pour tous.\n\nun\n\ndeux\n\ncode gardé")


def test_html_keeps_visible_text_in_blocks() -> None:
    page = ("<!doctype html><html><head><title>Titre</title><style>p{color:red}</style>"
            "</head><body><h1>Santé</h1><p>Un&nbsp;h&ocirc;pital <b>par</b>\n  ville.</p>"
            "<ul><li>un</li><li>deux</li></ul><script>var x = '<p>no</p>';</script>"
            "<pre>a\n  b</pre><p>ligne<br/>suite</p></body></html>")
    extracted = extract("page.HTM", page.encode())
    assert extracted.format == "html"
    assert extracted.text == "Santé\n\nUn hôpital par ville.\n\nun\n\ndeux\n\na\nb\n\nligne\nsuite"


def test_plain_text_is_tidied() -> None:
    source = "\ufeffLigne  un\r\nsuite\t ici\r\n\r\n\r\n\x07Deuxième\u00a0paragraphe  \n"
    extracted = extract("faq.txt", source.encode())
    assert (extracted.format, extracted.text) == (
        "text", "Ligne un\nsuite ici\n\nDeuxième paragraphe")


def test_pdf_text_with_accents() -> None:
    extracted = extract("discours.pdf", minimal_pdf("Discours de Lyon", "L'école, l'hôpital"))
    assert extracted.format == "pdf"
    assert extracted.text.split("\n") == ["Discours de Lyon", "L'école, l'hôpital"]


@pytest.mark.parametrize(("name", "data", "problem"), [
    ("notes.docx", b"PK\x03\x04", "cannot read files of type .docx; send Markdown (.md), "
                                  "HTML (.html), plain text (.txt) or PDF (.pdf)"),
    ("README", b"text", "cannot read files without an extension"),
    ("empty.md", b"", "the file is empty"),
    ("latin1.txt", "café".encode("latin-1"), "is not UTF-8 text (byte 3); save it as UTF-8"),
    ("fake.pdf", b"<html>not a pdf</html>", "is not a PDF (it does not start with %PDF-)"),
    ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog", "is not a readable PDF ("),
    ("locked.pdf", encrypted_pdf("secret"), "is encrypted with a password; save a copy "
                                            "without protection"),
    ("scan.pdf", minimal_pdf(), "has no text layer (a scanned image?)"),
    ("blank.html", b"<p> </p><script>x</script>", "no text was found in it"),
    ("big.txt", b"a" * (MAX_SOURCE_BYTES + 1), f"the file has {MAX_SOURCE_BYTES + 1:,} bytes"),
])
def test_bad_files_are_refused_naming_the_file_and_the_problem(
        name: str, data: bytes, problem: str) -> None:
    with pytest.raises(ExtractionError) as refused:
        extract(name, data)
    assert str(refused.value).startswith(f"{name}: ")
    assert problem in str(refused.value)
    assert refused.value.filename == name


def test_a_small_compressed_pdf_with_too_much_text_is_refused() -> None:
    line = "mot " * 250
    pdf = minimal_pdf(*[line] * (MAX_TEXT_CHARS // len(line) + 1), deflate=True)
    assert len(pdf) < MAX_SOURCE_BYTES  # the byte limit alone would not stop it
    with pytest.raises(ExtractionError, match=r"^huge\.pdf: its text has [0-9,]+ characters, "
                                              r"more than the 1,000,000 allowed"):
        extract("huge.pdf", pdf)
    assert extract("small.pdf", minimal_pdf(line, deflate=True)).text == line.strip()


def test_file_names_lose_their_paths() -> None:
    assert base_name("C:\\Users\\me\\programme.pdf") == "programme.pdf"
    assert base_name("../../etc/passwd.txt") == "passwd.txt"


def test_highlights_split_into_marked_parts() -> None:
    s, e = HIGHLIGHT_START, HIGHLIGHT_STOP
    assert marked_parts(f"L'{s}hôpital{e} et les {s}urgences{e}.") == (
        ("L'", False), ("hôpital", True), (" et les ", False), ("urgences", True), (".", False))
    assert marked_parts("rien") == (("rien", False),)


def test_passages_pack_paragraphs_up_to_the_target() -> None:
    paragraph = "Une phrase de taille moyenne sur les transports publics. " * 3
    text = "\n\n".join(paragraph.strip() for _ in range(8))
    passages = split_passages(text)
    assert len(passages) > 1
    assert all(len(p) <= TARGET_CHARS for p in passages)
    assert "\n\n".join(passages) == text


def test_a_long_paragraph_is_cut_at_sentences() -> None:
    sentence = "Nous ouvrirons une maison de santé dans chaque canton rural. "
    passages = split_passages(sentence * 40)
    assert all(len(p) <= MAX_CHARS for p in passages)
    assert all(p.endswith("rural.") for p in passages)


def _letters(text: str) -> str:
    return "".join(text.split())


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_html_and_markdown_extraction_never_raise_anything_else(text: str) -> None:
    html_text(text)  # the parser itself never raises
    for name in ("a.html", "a.md", "a.txt"):
        try:
            extracted = extract(name, text.encode("utf-8", "surrogatepass"))
        except ExtractionError:
            continue
        assert extracted.text == tidy(extracted.text)
        assert extracted.text.strip() and "\n\n\n" not in extracted.text


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_as_pdf_or_text_are_read_or_refused(data: bytes) -> None:
    for name in ("x.pdf", "x.txt"):
        try:
            extract(name, b"%PDF-1.4\n" + data if name.endswith(".pdf") else data)
        except ExtractionError as err:
            assert str(err).startswith(f"{name}: ")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=2500), max_size=8))
def test_passages_keep_every_character_and_respect_the_bound(paragraphs: list[str]) -> None:
    text = tidy("\n\n".join(paragraphs))
    passages = split_passages(text)
    assert all(0 < len(p) <= MAX_CHARS for p in passages)
    assert _letters("".join(passages)) == _letters(text)
