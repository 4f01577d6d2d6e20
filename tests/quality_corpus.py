"""A corpus of real documents built from ``../shared/data/corpus`` for quality tests and bench.

The quality agreement fixture stores only document ids and datatrove's decisions (most of
this text may not be copied into the repository), so the texts are rebuilt here, in a fixed
order, from the shared files. Ids are ``<file relative to corpus/>:<n>`` (``n`` 1-based).
"""

from __future__ import annotations

import gzip
import html
import json
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from pathlib import Path

import polars as pl

CHUNK_CHARS = 4000  # long files (books, web text) are cut at blank lines into ~4 KB documents

_JSONL_TEXT = (
    "code/thealgorithms_python.jsonl.gz",
    "code/thealgorithms_javascript.jsonl.gz",
    "code/thealgorithms_c.jsonl.gz",
    "misc/debian_fortunes.jsonl.gz",
    "techdocs/python3.11-doc_rst_sources.jsonl.gz",
    "web/dolma-tests/cc_en_head-0091.jsonl.gz",
    "web/dolma-tests/cc_en_head-0174.jsonl.gz",
    "web/dolma-tests/provided_documents_000.json.gz",
)
_ZIPS_WHOLE = ("nltk_data/movie_reviews.zip", "nltk_data/inaugural.zip", "nltk_data/state_union.zip")
_ZIPS_CHUNKED = ("nltk_data/webtext.zip", "nltk_data/abc.zip")
_TAG = re.compile(r"<[^>]+>")


def chunks(text: str, size: int = CHUNK_CHARS) -> list[str]:
    """Cut ``text`` at paragraph breaks into pieces of about ``size`` characters."""
    out: list[str] = []
    current: list[str] = []
    length = 0
    for para in re.split(r"\n\s*\n", text):
        current.append(para)
        length += len(para) + 2
        if length >= size:
            out.append("\n\n".join(current).strip())
            current, length = [], 0
    if current:
        out.append("\n\n".join(current).strip())
    return [c for c in out if c]


def _texts(root: Path) -> Iterator[tuple[str, list[str]]]:
    """(file key, its documents) for every source file, in a fixed order."""
    for name in _JSONL_TEXT:
        with gzip.open(root / name, "rt", encoding="utf-8") as f:
            yield name, [json.loads(line)["text"] for line in f]
    s2orc = "science/s2orc/s2orc_metadata_sample.jsonl.gz"
    with gzip.open(root / s2orc, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    yield s2orc, [f"{r['title']}\n\n{r['abstract']}" for r in rows if r["abstract"] != "None"]
    truth = json.loads((root / "web/article-extraction-benchmark/ground-truth.json").read_text("utf-8"))
    yield "web/article-extraction-benchmark/ground-truth.json", [truth[k]["articleBody"] for k in sorted(truth)]
    with gzip.open(root / "news/lee_background.cor.gz", "rt", encoding="utf-8") as f:
        yield "news/lee_background.cor.gz", [line.strip() for line in f]
    for name in _ZIPS_WHOLE + _ZIPS_CHUNKED:
        with zipfile.ZipFile(root / name) as z:
            members = sorted(m for m in z.namelist() if not m.endswith("/") and "README" not in m)
            docs: list[str] = []
            for m in members:
                text = z.read(m).decode("utf-8", errors="replace")
                docs.extend([text] if name in _ZIPS_WHOLE else chunks(text))
            yield name, docs
    for book in sorted((root / "books/gitenberg").glob("pg*.txt.gz")):
        yield str(book.relative_to(root)), chunks(gzip.open(book, "rt", encoding="utf-8", errors="replace").read())
    jargon = "misc/jargon-file-4.4.7.txt.gz"
    yield jargon, chunks(gzip.open(root / jargon, "rt", encoding="utf-8", errors="replace").read())
    for posts in sorted((root / "stackexchange").glob("*.Posts.xml.gz")):
        with gzip.open(posts) as f:
            bodies = [html.unescape(_TAG.sub("", el.get("Body", ""))) for _, el in ET.iterparse(f) if el.tag == "row"]
        yield str(posts.relative_to(root)), bodies


def load_corpus(shared_data: Path) -> list[tuple[str, str]]:
    """Every (id, text) of the corpus, non-empty texts only, in a fixed order."""
    root = Path(shared_data) / "corpus"
    return [(f"{key}:{i}", text) for key, docs in _texts(root) for i, text in enumerate(docs, 1) if text.strip()]


DATATROVE_FIXTURE = Path(__file__).parent / "fixtures" / "quality_datatrove.jsonl"


def datatrove_sample(shared_data: Path) -> pl.DataFrame:
    """The agreement sample: datatrove's recorded decisions (``<rule set>_keep`` per id) beside
    our signals of the same documents (``python bench/quality.py record-fixture`` wrote them)."""
    from dataprep.quality.rules import stop_words
    from dataprep.quality.signals import compute_signals

    expected = pl.read_ndjson(DATATROVE_FIXTURE)
    texts = dict(load_corpus(shared_data))
    missing = [i for i in expected.get_column("id").to_list() if i not in texts]
    assert not missing, f"fixture ids no longer in the corpus (corpus changed?): {missing[:3]}"
    signals = compute_signals([texts[i] for i in expected.get_column("id").to_list()], stop_words())
    return pl.concat([expected, signals], how="horizontal")
