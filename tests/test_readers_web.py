"""WARC / WET / WAT ingestion on real Common Crawl and wget captures."""

from __future__ import annotations

import gzip
import io
import json
import re
import zlib
from collections import Counter
from pathlib import Path

import pytest

from dataprep.core.storage import open_input
from dataprep.readers.base import RawRecord, reader_for_path
from dataprep.readers.warc import read_warc, split_http

CC = "corpus/web/cc-whirlwind/whirlwind.warc"
DOLMA = "corpus/web/dolma-tests/sample-000{}.warc.gz"


def _read(path: Path, **options) -> list[RawRecord]:
    """Records as the ingest stage gets them: through the engine's decompressing stream."""
    with open_input(str(path)) as stream:
        return list(read_warc(stream, str(path), options))


def _gzip_members(path: Path) -> int:
    data, members = path.read_bytes(), 0
    while data:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        d.decompress(data)
        data, members = d.unused_data, members + 1
    return members


def test_format_is_chosen_by_extension():
    for name in ("a.warc.gz", "CC-MAIN-1.warc.wet.gz", "CC-MAIN-1.warc.wat.gz", "x.warc"):
        assert reader_for_path(name).name == "warc"


def test_common_crawl_triple(shared_data):
    warc, wet, wat = (_read(shared_data / f"{CC}{ext}.gz") for ext in ("", ".wet", ".wat"))
    assert [r.error for r in warc] == [
        "not_a_document",
        "not_a_document",
        None,
        "not_a_document",
    ]  # info, request, response, metadata
    assert [r.error for r in wet] == ["not_a_document", None]  # warcinfo, conversion
    assert [r.error for r in wat] == ["not_a_document", "not_a_document"]  # WAT holds only metadata
    page, conv = warc[2].fields, wet[1].fields
    assert page["url"] == conv["url"] == "https://an.wikipedia.org/wiki/Escopete"
    assert conv["refers_to"] == page["warc_record_id"] == "<urn:uuid:2aabeff2-67f5-4608-8466-e87c6296e2b6>"
    assert page["fetch_date"] == "2024-05-18T01:58:10Z" and page["content_type"] == "text/html"
    assert conv["language"] == "spa" and conv["content_type"] == "text/plain"


def _shingles(text: str) -> Counter:
    words = re.findall(r"\w+", text)
    return Counter(tuple(words[i : i + 4]) for i in range(len(words) - 3))


def test_wet_text_and_text_extracted_from_the_warc_agree(shared_data):
    """CC's WET is all the page's text; ours is its main text: nearly a subset of the WET."""
    page = _read(shared_data / f"{CC}.gz")[2].fields["text"]
    wet = _read(shared_data / f"{CC}.wet.gz")[1].fields["text"]
    ours, theirs = _shingles(page), _shingles(wet)
    shared = sum((ours & theirs).values())
    assert shared / sum(ours.values()) >= 0.95  # what we extract is on the page CC saw
    assert shared / sum(theirs.values()) <= 0.6  # and we leave out the navigation CC keeps
    assert "Menú principal" in wet and "Menú principal" not in page
    assert "Escopete ye un municipio" in page and "Escopete ye un municipio" in wet


@pytest.mark.parametrize("n,records,pages", [(0, 48, 22), (1, 34, 15)])
def test_multi_member_gzip_is_read_to_the_end(shared_data, n, records, pages):
    path = shared_data / DOLMA.format(n)
    assert _gzip_members(path) == records  # one gzip member per record, as CC writes them
    out = _read(path)
    assert [r.row for r in out] == list(range(1, records + 1))
    reasons = Counter(r.error for r in out)
    assert reasons[None] == pages and reasons["non_html"] == 2  # robots.txt-like text/plain responses
    assert all(r.fields["text"].strip() and r.fields["charset"] == "utf-8" for r in out if r.fields)


def test_extractor_option(shared_data):
    path = shared_data / DOLMA.format(1)
    fast = [r for r in _read(path, extractor="resiliparse") if r.fields]
    assert len(fast) == 15 and all(r.fields["extractor"] == "resiliparse" for r in fast)
    with pytest.raises(ValueError, match="options.extractor must be trafilatura or trafilatura_fast or resiliparse"):
        _read(path, extractor="goose")
    with pytest.raises(ValueError, match=r"unknown warc reader option\(s\) \['min_chars'\]"):
        _read(path, min_chars=3)


def _cc_response(shared_data: Path) -> bytes:
    """The HTTP message of the real Common Crawl response record."""
    data = gzip.decompress((shared_data / f"{CC}.gz").read_bytes())
    start = data.index(b"HTTP/1.1 200")
    head_end = data.index(b"\r\n\r\n", start)
    length = int(
        next(
            line for line in data[start:head_end].split(b"\r\n") if line.lower().startswith(b"content-length:")
        ).split(b":")[1]
    )
    return data[start : head_end + 4 + length]


def _record(http: bytes, record_id: str = "1") -> bytes:
    head = (
        "WARC/1.0\r\nWARC-Type: response\r\n"
        f"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-00000000000{record_id}>\r\n"
        "WARC-Target-URI: https://an.wikipedia.org/wiki/Escopete\r\nWARC-Date: 2024-05-18T01:58:10Z\r\n"
        f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(http)}\r\n\r\n"
    )
    return head.encode() + http + b"\r\n\r\n"


def _with_headers(
    http: bytes, status: bytes = b"200 OK", drop: tuple[bytes, ...] = (), add: bytes = b"", body: bytes | None = None
) -> bytes:
    head, _, payload = http.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    lines[0] = b"HTTP/1.1 " + status
    lines = [ln for ln in lines if not ln.lower().startswith(drop)] if drop else lines
    return b"\r\n".join(lines) + add + b"\r\n\r\n" + (payload if body is None else body)


def test_bad_responses_are_rejected_with_reasons(shared_data):
    http = _cc_response(shared_data)
    status, headers, payload = split_http(http)
    assert status == 200 and headers["content-type"].startswith("text/html")
    enc = (b"content-encoding", b"content-length")
    records = [
        _record(http, "1"),
        _record(_with_headers(http, status=b"404 Not Found"), "2"),
        _record(_with_headers(http, drop=(b"content-type",), add=b"\r\nContent-Type: application/pdf"), "3"),
        _record(_with_headers(http, drop=enc, add=b"\r\nContent-Encoding: gzip", body=gzip.compress(payload)), "4"),
        _record(_with_headers(http, drop=enc, add=b"\r\nContent-Encoding: zstd", body=payload), "5"),
        _record(b"not an HTTP message at all\r\n\r\n", "6"),
    ]
    out = list(read_warc(io.BytesIO(b"".join(records)), "t.warc", {}))
    assert [(r.row, r.error) for r in out] == [
        (1, None),
        (2, "http_status"),
        (3, "non_html"),
        (4, None),
        (5, "content_encoding"),
        (6, "broken_record"),
    ]
    assert out[3].fields["text"] == out[0].fields["text"]  # gzip content-encoding undone
    assert out[1].detail == "HTTP status 404" and "application/pdf" in out[2].detail
    assert out[1].raw.startswith("WARC-Type: response")


def test_truncated_and_broken_files(shared_data):
    data = gzip.decompress((shared_data / DOLMA.format(0)).read_bytes())
    cut = data[: data.index(b"WARC-Type: response") + 5000]
    out = list(read_warc(io.BytesIO(cut), "cut.warc", {}))
    assert (out[-1].row, out[-1].error) == (3, "truncated") and "4446 of 88099 bytes" in out[-1].detail
    at = data.index(b"WARC/1.0", data.index(b"soldaini.net/facts"))
    broken = data[:at] + b"garbage\r\n\r\n" + data[at + 10 :]
    out = list(read_warc(io.BytesIO(broken), "broken.warc", {}))
    assert (out[-1].row, out[-1].error) == (9, "broken_record")
    with pytest.raises(ValueError, match="paths.gz: not a WARC file"):
        _read(shared_data / "corpus/web/cc-whirlwind/CC-MAIN-2024-22.warc.paths.gz")


@pytest.mark.slow
def test_ingest_stage_on_warc_wet_wat(tmp_path, shared_data):
    from dataprep.api import read_stage, run

    web = shared_data / "corpus/web"
    pipeline = {
        "name": "web",
        "stages": [
            {
                "stage": "ingest",
                "shard_rows": 10,
                "inputs": [
                    {"path": str(web / "dolma-tests/sample-*.warc.gz"), "source": "wget", "domain": "web"},
                    {
                        "path": str(web / "cc-whirlwind/whirlwind.warc*.gz"),
                        "source": "cc",
                        "domain": "web",
                        "options": {"extractor": "trafilatura_fast"},
                    },
                ],
            }
        ],
    }
    res = run(pipeline, output=str(tmp_path / "out"), executor="local")
    counts = res.stages[0].manifest["counts"]
    assert counts["in"] == 48 + 34 + 4 + 2 + 2 and counts["out"] == 22 + 15 + 1 + 1
    assert counts["by_reason"] == {"non_html": 4, "not_a_document": 24 + 17 + 3 + 2 + 1}
    kept = read_stage(res.stages[0].dir).to_pylist()
    by_id = {r["id"]: r for r in kept}
    page = by_id["cc/whirlwind.warc.gz:3"]
    assert page["url"] == "https://an.wikipedia.org/wiki/Escopete" and page["domain"] == "web"
    meta = json.loads(page["meta"])
    assert meta["extractor"] == "trafilatura_fast" and meta["warc_record_id"].startswith("<urn:uuid:2aabeff2")
    assert "wget/sample-0000.warc.gz:3" in by_id
    rejected = read_stage(res.stages[0].dir, rejected=True).to_pylist()
    assert {r["reason"] for r in rejected} == {"non_html", "not_a_document"}
