"""HTML -> text: charset detection on pages that lie, extractor choice, post fragments."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from dataprep.extract.html import canonical_charset, decode_html, extract_main_text, fragment_to_text, html_to_text

ARTICLES = "corpus/web/article-extraction-benchmark"
KOREAN, ITALIAN, RUSSIAN = "0ec95c7261d1", "20b2b64916b0", "3c6d3381ef52"


def _article(shared_data: Path, prefix: str) -> tuple[str, str]:
    """(page HTML, gold article body) of one page of the article-extraction benchmark."""
    gold = json.loads((shared_data / ARTICLES / "ground-truth.json").read_text(encoding="utf-8"))
    key = next(k for k in sorted(gold) if k.startswith(prefix))
    html = gzip.decompress((shared_data / ARTICLES / "html" / f"{key}.html.gz").read_bytes()).decode("utf-8")
    return html, gold[key]["articleBody"]


def _shingle_f1(gold: str, pred: str) -> float:
    """F1 of 4-word shingle bags, the benchmark's own measure."""

    def bag(text: str) -> Counter:
        t = re.findall(r"\w+", text)
        return Counter(tuple(t[i : i + 4]) for i in range(max(1, len(t) - 3)))

    g, p = bag(gold), bag(pred)
    tp = sum((g & p).values())
    return 2 * tp / (sum(g.values()) + sum(p.values()))


def test_utf8_body_wins_over_a_latin1_header(shared_data):
    html, _ = _article(shared_data, ITALIAN)
    text, charset = decode_html(html.encode("utf-8"), http_charset="ISO-8859-1")
    assert (text, charset) == (html, "utf-8")


@pytest.mark.parametrize("prefix,encoding", [(KOREAN, "cp949"), (RUSSIAN, "cp1251"), (ITALIAN, "cp1252")])
@pytest.mark.parametrize("header", [None, "iso-8859-1", "utf-8"])
def test_legacy_encodings_are_detected_whatever_the_header_claims(shared_data, prefix, encoding, header):
    html, _ = _article(shared_data, prefix)
    data = html.encode(encoding, errors="xmlcharrefreplace")
    text, used = decode_html(data, http_charset=header)
    assert text == data.decode(encoding), f"decoded as {used}"


def test_utf8_page_with_stray_cp1252_bytes_keeps_its_utf8(shared_data):
    """Seen in trafilatura's evaluation set: a UTF-8 page with a cp1252 ad snippet."""
    html, _ = _article(shared_data, ITALIAN)
    cut = html.index("</body>")
    data = html[:cut].encode("utf-8") + "<p>Küchenblogs</p>".encode("cp1252") + html[cut:].encode("utf-8")
    text, charset = decode_html(data, http_charset="utf-8")
    assert text == html[:cut] + "<p>Küchenblogs</p>" + html[cut:] and charset == "utf-8+cp1252"


def test_declared_multibyte_charset_is_used_when_it_decodes(shared_data):
    html, _ = _article(shared_data, KOREAN)
    data = html.encode("cp949", errors="xmlcharrefreplace")
    assert decode_html(data, http_charset="EUC-KR") == (data.decode("cp949"), "euc_kr")


def test_declared_single_byte_charset_is_honoured_when_plausible(shared_data):
    """Bulgarian (real bgwiki text) in windows-1251, declared only in <meta>."""
    from dataprep.core.storage import open_input
    from dataprep.readers.mediawiki import read_mediawiki

    path = str(shared_data / "corpus/wiki/bgwiki-latest-pages-articles-shortened.xml.bz2")
    with open_input(path) as stream:
        article = next(read_mediawiki(stream, path, {})).fields["text"][:3000]
    html = f'<html><head><meta charset="windows-1251"><title>x</title></head><body><p>{article}</p></body></html>'
    assert decode_html(html.encode("cp1251")) == (html, "cp1251")


def test_latin1_label_means_windows_1252():
    assert canonical_charset("ISO-8859-1") == "cp1252"
    assert canonical_charset("no-such-charset") is None


@pytest.mark.parametrize("extractor", ["trafilatura", "trafilatura_fast", "resiliparse"])
@pytest.mark.parametrize("prefix", [KOREAN, ITALIAN, RUSSIAN])
def test_extractors_find_the_gold_article_body(shared_data, extractor, prefix):
    html, gold = _article(shared_data, prefix)
    text, charset = html_to_text(html.encode("utf-8"), "utf-8", extractor)
    assert charset == "utf-8"
    assert _shingle_f1(gold, text) > 0.6, text[:500]
    assert "<div" not in text and "function(" not in text


def test_main_text_drops_boilerplate_that_full_text_keeps(shared_data):
    html, gold = _article(shared_data, ITALIAN)
    main = extract_main_text(html)
    everything = fragment_to_text(html)
    assert "Skip to content" in everything and "Skip to content" not in main
    assert _shingle_f1(gold, main) > _shingle_f1(gold, everything) + 0.05


def test_unknown_extractor_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown HTML extractor 'boilerpipe'; choose one of trafilatura"):
        extract_main_text("<p>x</p>", "boilerpipe")  # type: ignore[arg-type]


def test_post_fragment_keeps_code_indentation_and_list_items():
    body = "<p>Try this:</p><pre><code>def f(x):\n    return x\n</code></pre><ul><li>one</li><li>two</li></ul>"
    text = fragment_to_text(body)
    assert "def f(x):\n    return x" in text
    assert "one" in text and "two" in text and "<" not in text
