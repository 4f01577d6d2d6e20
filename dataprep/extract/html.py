"""HTML page -> main text: charset detection, then a configurable main-content extractor.

Pages lie about their charset (a ``charset=iso-8859-1`` header on a UTF-8 body is common),
so bytes are decoded here, once, the same way for every extractor:

1. bytes that are valid UTF-8 are UTF-8 (random non-UTF-8 text is almost never valid UTF-8);
   mostly-UTF-8 bytes with a few stray cp1252 bytes are UTF-8 with those bytes as cp1252;
2. otherwise a declared multi-byte charset (HTTP header, then ``<meta>``) that decodes
   strictly;
3. otherwise charset-normalizer decides among plausible readings: a declared single-byte
   charset first, then cp1252, then its own best guess; cp1252 with replacement last.

Extractors (chosen by ``bench/extraction_quality.py`` on the trafilatura evaluation set and
the article-extraction benchmark; figures in docs/BENCHMARKS.md):

* ``trafilatura`` (default): the best precision/recall of the well-kept libraries;
* ``trafilatura_fast``: trafilatura without its readability/justext fallbacks, ~2x faster;
* ``resiliparse``: main-content mode of resiliparse, ~10x faster, lower precision.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from typing import Literal

Extractor = Literal["trafilatura", "trafilatura_fast", "resiliparse"]
DEFAULT_EXTRACTOR: Extractor = "trafilatura"

# WHATWG: these labels mean windows-1252 in browsers; Python's latin-1 would turn the
# 0x80-0x9F bytes (curly quotes, euro sign) into control characters.
_CP1252_LABELS = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "us-ascii", "ascii", "windows-1252"}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
_SNIFF_BYTES = 4096


def canonical_charset(label: str | None) -> str | None:
    """A Python codec name for a declared charset label, or None if Python does not know it."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _CP1252_LABELS:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def declared_charset(data: bytes) -> str | None:
    """The charset a page declares in a ``<meta>`` tag near its start."""
    match = _META_CHARSET.search(data[:_SNIFF_BYTES])
    return canonical_charset(match.group(1).decode("ascii", "replace")) if match else None


def decode_html(data: bytes, http_charset: str | None = None) -> tuple[str, str]:
    """Decode page bytes; returns ``(text, charset_used)`` (see the module doc for the order)."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if _mostly_utf8(data):
        return data.decode("utf-8", errors=_CP1252_FALLBACK), "utf-8+cp1252"
    declared = [c for c in (canonical_charset(http_charset), declared_charset(data)) if c and c != "utf-8"]
    for charset in declared:
        if not _single_byte(charset):
            try:
                return data.decode(charset), charset
            except UnicodeDecodeError:
                continue
    # Single-byte charsets decode any bytes, so a wrong claim never fails: only believe one
    # the detector finds plausible. Among plausible readings prefer the declared ones, then
    # cp1252 (the web's usual legacy charset, which the detector tends to confuse with
    # cp1250/cp775), then the detector's best.
    from charset_normalizer import from_bytes

    matches = from_bytes(data)
    plausible = {codecs.lookup(m.encoding).name for m in matches}  # same spelling as canonical_charset
    for charset in [*declared, "cp1252"]:
        if charset in plausible:
            return data.decode(charset), charset
    best = matches.best()
    if best is not None:
        return str(best), best.encoding
    return data.decode("cp1252", errors="replace"), "cp1252"


def _cp1252_bytes(err: UnicodeError) -> tuple[str, int]:
    assert isinstance(err, UnicodeDecodeError)
    return err.object[err.start : err.end].decode("cp1252", errors="replace"), err.end


_CP1252_FALLBACK = "dataprep-cp1252-fallback"
codecs.register_error(_CP1252_FALLBACK, _cp1252_bytes)


def _mostly_utf8(data: bytes) -> bool:
    """UTF-8 with a few stray cp1252 bytes (a pasted ad snippet, a legacy footer): more valid
    multi-byte characters than invalid bytes. Decoding it all as cp1252 would garble the rest."""
    text = data.decode("utf-8", errors="replace")
    invalid = text.count("\ufffd")
    valid = sum(1 for ch in text if ord(ch) > 127) - invalid
    return valid > invalid


def _single_byte(charset: str) -> bool:
    """True when every byte is one character in ``charset`` (latin-1, cp1252, koi8-r...)."""
    return len(bytes(range(128, 256)).decode(charset, errors="replace")) == 128


def _trafilatura(html: str, fast: bool) -> str:
    import trafilatura

    # The settings trafilatura's own evaluation uses: main text with tables, no comments.
    text = trafilatura.extract(
        html, fast=fast, include_comments=False, include_tables=True, include_formatting=False, deduplicate=False
    )
    return text or ""


def _resiliparse(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text

    return extract_plain_text(html, main_content=True, alt_texts=False, links=False, comments=False)


_EXTRACTORS: dict[str, Callable[[str], str]] = {
    "trafilatura": lambda html: _trafilatura(html, fast=False),
    "trafilatura_fast": lambda html: _trafilatura(html, fast=True),
    "resiliparse": _resiliparse,
}


def extract_main_text(html: str, extractor: Extractor = DEFAULT_EXTRACTOR) -> str:
    """The main text of a decoded page ('' when the extractor finds none)."""
    try:
        fn = _EXTRACTORS[extractor]
    except KeyError:
        raise ValueError(f"unknown HTML extractor {extractor!r}; choose one of {', '.join(_EXTRACTORS)}") from None
    return fn(html).strip()


def fragment_to_text(html: str) -> str:
    """All the text of an HTML fragment (a forum post body), keeping code indentation.

    No main-content detection: a post body has no boilerplate, and an extractor would
    throw away short answers and code blocks.
    """
    from resiliparse.extract.html2text import extract_plain_text

    return extract_plain_text(html, main_content=False, preserve_formatting=True, links=False, alt_texts=False).strip()


def html_to_text(
    data: bytes, http_charset: str | None = None, extractor: Extractor = DEFAULT_EXTRACTOR
) -> tuple[str, str]:
    """Page bytes -> ``(main_text, charset_used)``."""
    html, charset = decode_html(data, http_charset)
    return extract_main_text(html, extractor), charset
