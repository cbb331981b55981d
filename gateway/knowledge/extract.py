"""A document's text from the file an organizer uploads: Markdown, HTML, plain text or PDF.

Why these libraries: Markdown goes through markdown-it-py (CommonMark, the
reference port) to HTML, and HTML through the standard library's
`html.parser`, so link targets, emphasis marks and tags never land in a
passage an expert quotes to a citizen. PDF text comes from pypdf (pure
Python, maintained, no system library): it reads the text layer; a scanned
PDF without one is refused, saying so, rather than stored empty.

Every refusal is an `ExtractionError` naming the file and what is wrong
with it (too big, not UTF-8, encrypted, no text, an unknown type), never a
parser's traceback. The format comes from the file name's extension.
Extraction is CPU work on untrusted bytes; the service runs it in a thread.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Final, Literal

from markdown_it import MarkdownIt
from pypdf import PdfReader
from pypdf.errors import PyPdfError

SourceFormat = Literal["markdown", "html", "text", "pdf"]

MAX_SOURCE_BYTES: Final = 700 * 1024  # base64 in a JSON body must fit the 1 MiB request limit
MAX_TEXT_CHARS: Final = 1_000_000
MAX_PDF_PAGES: Final = 1000
EXTENSIONS: Final[dict[str, SourceFormat]] = {
    ".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html",
    ".txt": "text", ".text": "text", ".pdf": "pdf",
}
SUPPORTED: Final = "Markdown (.md), HTML (.html), plain text (.txt) or PDF (.pdf)"

# Text that stays on a line: everything in a paragraph but its line breaks.
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*")
# Control characters (but tab and newline), and the private-use markers search highlights use.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ue000\ue001]")
_BLOCKS: Final = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
    "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
})
_HIDDEN: Final = frozenset({"head", "script", "style", "template", "noscript", "svg", "title"})
_MARKDOWN = MarkdownIt("commonmark")


class ExtractionError(ValueError):
    """The file cannot become a document's text; the message names it and says why."""

    def __init__(self, filename: str, problem: str) -> None:
        super().__init__(f"{filename}: {problem}")
        self.filename = filename
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Extracted:
    format: SourceFormat
    text: str  # paragraphs separated by one blank line, nothing else blank


def source_format(filename: str) -> SourceFormat:
    """The format the file name says, or `ExtractionError` listing the ones we read."""
    dot = filename.rfind(".")
    extension = filename[dot:].lower() if dot > 0 else ""
    found = EXTENSIONS.get(extension)
    if found is None:
        what = f"files of type {extension}" if extension else "files without an extension"
        raise ExtractionError(filename, f"cannot read {what}; send {SUPPORTED}")
    return found


def extract(filename: str, data: bytes) -> Extracted:
    """The text of `data`, read as the format its `filename` says."""
    kind = source_format(filename)
    if not data:
        raise ExtractionError(filename, "the file is empty")
    if len(data) > MAX_SOURCE_BYTES:
        raise ExtractionError(filename, f"the file has {len(data):,} bytes, more than the "
                                        f"{MAX_SOURCE_BYTES:,} allowed; split it into chapters")
    if kind == "pdf":
        raw = _pdf_text(filename, data)
    else:
        raw = _decoded(filename, data)
        if kind == "markdown":
            raw = html_text(_MARKDOWN.render(raw))
        elif kind == "html":
            raw = html_text(raw)
    text = tidy(raw)
    if not text:
        raise ExtractionError(filename, "no text was found in it")
    if len(text) > MAX_TEXT_CHARS:
        raise ExtractionError(filename, f"its text has {len(text):,} characters, more than "
                                        f"the {MAX_TEXT_CHARS:,} allowed; split it into chapters")
    return Extracted(kind, text)


def tidy(text: str) -> str:
    """NFC, no control characters, spaces collapsed, paragraphs apart by one blank line."""
    text = _CONTROLS.sub(" ", unicodedata.normalize("NFC", text.replace("\r\n", "\n")))
    text = _SPACES.sub(" ", text.replace("\r", "\n"))
    lines = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", lines).strip()


def html_text(markup: str) -> str:
    """The visible text of an HTML document, a blank line after each block."""
    parser = _TextOfHtml()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag in _BLOCKS:
            self.parts.append("\n" if tag == "br" else "\n\n")
            self._pre += tag == "pre"

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCKS and tag != "br":  # <br/> ends no paragraph
            self.parts.append("\n\n")
            self._pre = max(0, self._pre - (tag == "pre"))

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data if self._pre else _SPACES.sub(" ", data.replace("\n", " ")))


def _decoded(filename: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ExtractionError(filename, f"is not UTF-8 text (byte {err.start}); save it as "
                                        "UTF-8 and send it again") from None


def _pdf_text(filename: str, data: bytes) -> str:
    if not data.startswith(b"%PDF-"):
        raise ExtractionError(filename, "is not a PDF (it does not start with %PDF-)")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not _opened_without_password(reader):
            raise ExtractionError(filename, "is encrypted with a password; save a copy "
                                            "without protection and send that")
        count = len(reader.pages)
        if count > MAX_PDF_PAGES:
            raise ExtractionError(filename, f"has {count} pages, more than the "
                                            f"{MAX_PDF_PAGES} allowed; split it into chapters")
        pages = [page.extract_text() or "" for page in reader.pages]
    except ExtractionError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            RecursionError, OverflowError, ZeroDivisionError) as err:  # a damaged file
        raise ExtractionError(filename, f"is not a readable PDF ({type(err).__name__}: "
                                        f"{str(err)[:200]})") from None
    text = "\n\n".join(pages)
    if not text.strip():
        raise ExtractionError(filename, "has no text layer (a scanned image?); run it "
                                        "through OCR or send the text instead")
    return text


def _opened_without_password(reader: PdfReader) -> bool:
    """PDFs locked only against editing open with the empty password; others stay shut."""
    try:
        return bool(reader.decrypt(""))
    except PyPdfError:  # e.g. AES without a crypto library, a wrong password
        return False
