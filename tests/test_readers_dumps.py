"""MediaWiki (UTF-8 and UTF-16) and Stack Exchange dumps to clean text, every record accounted."""

from __future__ import annotations

import gzip
import io
import json
from collections import Counter
from pathlib import Path

import pytest

from dataprep.core.storage import open_input
from dataprep.readers.base import RawRecord, reader_for_path
from dataprep.readers.mediawiki import read_mediawiki, wikitext_to_text
from dataprep.readers.stackexchange import read_stackexchange

ENWIKI = "corpus/wiki/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
BGWIKI = "corpus/wiki/bgwiki-latest-pages-articles-shortened.xml.bz2"
BEER = "corpus/stackexchange/beer.stackexchange.Posts.xml.gz"
MARKUP = ("{{", "}}", "[[", "]]", "<ref", "</", "{|", "''", "thumb|", "Category:")


def _read(fn, path: Path, **options) -> list[RawRecord]:
    with open_input(str(path)) as stream:
        return list(fn(stream, str(path), options))


@pytest.fixture(scope="module")
def enwiki(shared_data) -> list[RawRecord]:
    return _read(read_mediawiki, shared_data / ENWIKI)


@pytest.fixture(scope="module")
def beer(shared_data) -> list[RawRecord]:
    return _read(read_stackexchange, shared_data / BEER)


def test_formats_by_extension():
    assert reader_for_path("bgwiki-latest-pages-articles.xml.bz2").name == "mediawiki"
    assert reader_for_path("beer.stackexchange.Posts.xml.gz").name == "stackexchange"


def test_enwiki_pages_all_accounted_redirects_rejected(enwiki):
    assert [r.row for r in enwiki] == list(range(1, 207))
    assert Counter(r.error for r in enwiki) == {None: 106, "redirect": 100}
    first = enwiki[0]
    assert first.error == "redirect" and first.detail == "'AccessibleComputing' redirects to 'Computer accessibility'"


@pytest.mark.parametrize(
    "title,start",
    [
        ("Anarchism", "Anarchism\n\nAnarchism is a political philosophy that advocates self-governed societies"),
        ("Albedo", 'Albedo\n\nAlbedo or reflection coefficient, derived from Latin albedo "whiteness"'),
        (
            "Abraham Lincoln",
            "Abraham Lincoln\n\nAbraham Lincoln (February 12, 1809 – April 15, 1865) was the 16th President",
        ),
    ],
)
def test_known_enwiki_articles(enwiki, title, start):
    doc = next(r.fields for r in enwiki if r.fields and r.fields["title"] == title)
    assert doc["text"].startswith(start)
    assert doc["url"] == "https://en.wikipedia.org/wiki/" + title.replace(" ", "_")
    assert doc["ns"] == 0 and doc["page_id"] > 0 and doc["timestamp"].startswith("2016-")


def test_enwiki_text_is_free_of_markup(enwiki):
    texts = [r.fields["text"] for r in enwiki if r.fields]
    leftovers = {m: sum(t.count(m) for t in texts) for m in MARKUP}
    # one [[...]] survives in a malformed table cell of "Andre Agassi" among 2.8 MB of text
    assert sum(leftovers.values()) <= 2, leftovers
    anarchism = next(t for t in texts if t.startswith("Anarchism"))
    assert "Etymology and terminology" in anarchism  # headings kept as text
    assert "Category:" not in anarchism and "Anarchismus" not in anarchism  # categories, interlanguage links gone


def test_bgwiki_declared_utf16_is_decoded(shared_data):
    path = shared_data / BGWIKI
    with open_input(str(path)) as stream:
        assert stream.read(2) == b"\xff\xfe"  # a UTF-16 (LE) dump, as declared
    out = _read(read_mediawiki, path)
    assert [r.error for r in out] == [None, "namespace", "namespace"]
    doc = out[0].fields
    assert doc["title"] == "Григориански календар"
    assert doc["text"].startswith("Григориански календар\n\nГригорианският календар")
    assert "ISO 8601" in doc["text"] and doc["url"] == "https://bg.wikipedia.org/wiki/Григориански_календар"
    assert not any(m in doc["text"] for m in MARKUP)
    # project pages (namespace 4) are kept on request
    assert [r.error for r in _read(read_mediawiki, path, namespaces=[0, 4])] == [None, None, None]


def test_wikitext_to_text_drops_non_prose():
    wikitext = (
        "'''Albedo''' {{IPAc-en|æ|l|ˈ|b|iː|d|oʊ}} is the [[reflectivity|diffuse reflectivity]] of a surface."
        "<ref>{{cite book|title=X}}</ref>\n[[File:Albedo-e hg.svg|thumb|Percentage of diffusely reflected light]]\n"
        '== Terrestrial albedo ==\nSnow reflects more.\n{| class="wikitable"\n|-\n| 0.9 || snow\n|}\n'
        "[[Category:Radiometry]]\n[[de:Albedo]]"
    )
    assert (
        wikitext_to_text(wikitext)
        == "Albedo is the diffuse reflectivity of a surface.\n\nTerrestrial albedo\nSnow reflects more."
    )


def test_bad_mediawiki_file_names_the_file(tmp_path):
    bad = tmp_path / "broken.xml"
    bad.write_bytes(b"<mediawiki><page><title>x</title>")
    with pytest.raises(ValueError, match="broken.xml: not a well-formed MediaWiki XML dump"):
        _read(read_mediawiki, bad)
    with pytest.raises(ValueError, match="options.namespaces must be a list"):
        _read(read_mediawiki, bad, namespaces="0")


def test_stackexchange_threads(beer):
    assert Counter(r.error for r in beer) == {None: 663, "post_type": 119}  # tag wikis and excerpts
    assert [r.row for r in beer] == sorted(r.row for r in beer)
    assert sum(len(r.fields["answer_ids"]) for r in beer if r.fields) == 1572  # every answer in a thread
    first = beer[0].fields
    assert first["url"] == "https://beer.stackexchange.com/questions/1" and first["tags"] == ["hops"]
    assert first["text"].startswith(
        "What is a citra hop, and how does it differ from other hops?\n\n"
        "I was offered a beer the other day that was reportedly made with citra hops."
    )
    assert "Answer:\nCitra is a registered trademark since 2007." in first["text"]
    assert "<p>" not in first["text"] and "&lt;" not in first["text"]


@pytest.mark.parametrize("site", ["beer.stackexchange", "coffee.stackexchange", "cstheory.meta.stackexchange"])
def test_every_post_of_every_dump_is_accounted(shared_data, site):
    path = shared_data / f"corpus/stackexchange/{site}.Posts.xml.gz"
    raw = gzip.decompress(path.read_bytes())
    questions, answers = raw.count(b'PostTypeId="1"'), raw.count(b'PostTypeId="2"')
    out = _read(read_stackexchange, path)
    docs = [r.fields for r in out if r.fields]
    assert len(docs) == questions
    assert sum(len(d["answer_ids"]) for d in docs) + sum(r.error == "orphan_answer" for r in out) == answers
    assert len(out) - len(docs) == raw.count(b"<row ") - questions - answers  # other post types
    assert all(d["url"] == f"https://{site}.com/questions/{d['question_id']}" for d in docs)


def test_accepted_answer_comes_first_then_by_score(beer):
    thread = next(r.fields for r in beer if r.fields and r.fields["question_id"] == 2)
    assert thread["accepted_answer_id"] == 175 and thread["answer_ids"][0] == 175
    assert len(thread["answer_ids"]) == 4


def test_answer_without_its_question_is_rejected(shared_data):
    with gzip.open(shared_data / BEER) as f:
        lines = f.read().splitlines()
    kept = [ln for ln in lines if b'<row Id="1" ' not in ln]  # drop question 1, keep its answer (Id 4)
    out = list(read_stackexchange(io.BytesIO(b"\n".join(kept)), "beer.stackexchange.Posts.xml", {}))
    orphan = next(r for r in out if r.error == "orphan_answer")
    assert orphan.detail == "answer 4 to question 1, which is not in the file" and 'Id="4"' in orphan.raw


@pytest.mark.slow
def test_ingest_stage_on_dumps(tmp_path, shared_data):
    from dataprep.api import read_stage, run

    corpus = shared_data / "corpus"
    pipeline = {
        "name": "dumps",
        "stages": [
            {
                "stage": "ingest",
                "inputs": [
                    {"path": str(corpus / "wiki/bgwiki-*.xml.bz2"), "source": "bgwiki", "domain": "wiki"},
                    {
                        "path": str(corpus / "wiki/enwiki-*-shortened.bz2"),
                        "format": "mediawiki",
                        "source": "enwiki",
                        "domain": "wiki",
                    },
                    {
                        "path": str(corpus / "stackexchange/coffee.stackexchange.Posts.xml.gz"),
                        "source": "se",
                        "domain": "qa",
                    },
                ],
            }
        ],
    }
    res = run(pipeline, output=str(tmp_path / "out"), executor="local")
    counts = res.stages[0].manifest["counts"]
    assert counts["in"] == 3 + 206 + 265 and counts["out"] == 1 + 106 + 225
    assert counts["by_reason"] == {"namespace": 2, "redirect": 100, "post_type": 40}
    kept = {r["id"]: r for r in read_stage(res.stages[0].dir).to_pylist()}
    lincoln = kept["enwiki/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2:69"]
    assert lincoln["url"] == "https://en.wikipedia.org/wiki/Abraham_Lincoln"
    assert json.loads(lincoln["meta"])["title"] == "Abraham Lincoln"
    coffee = kept["se/coffee.stackexchange.Posts.xml.gz:1"]
    assert coffee["text"].startswith("How should I store whole bean coffee?") and coffee["domain"] == "qa"
    assert json.loads(coffee["meta"])["answer_ids"] == [24, 1617, 1618]
