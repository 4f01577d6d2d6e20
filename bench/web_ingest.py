"""WARC ingest with HTML extraction: pages per second per core, ours vs datatrove 0.10.1.

Input: a WARC built from real pages (the trafilatura evaluation set and the
article-extraction benchmark under ../shared/data/corpus/web, 1,065 pages, ~150 MB of
HTML) wrapped as Common Crawl-style ``response`` records, one gzip member per record,
plus the real wget WARCs of dolma's tests. It is written to a temporary folder, never to
shared/.

Measured, in one run of this script, on the same files:

1. WARC parsing alone: FastWARC (our reader's parser) vs warcio (datatrove's);
2. our reader ``dataprep.readers.warc.read_warc`` end to end (decompress, parse, split
   HTTP, charset detection, extraction) with each extractor;
3. the peer: datatrove ``WarcReader`` -> ``Trafilatura(favour_precision=True)`` (the
   FineWeb recipe) from its own venv (``bash bench/setup_datatrove.sh``), in a subprocess.

Our extractors are imported before timing; the peer's figure includes importing
trafilatura in its sandbox (~1-2 CPU-s, a few % of a full run). The peer's venv pins
trafilatura 1.11; ours is 2.x.

Rates divide by CPU seconds (user+sys of the process and its children: datatrove extracts
in a sandbox child process), so they are per core and hold on a busy machine. Wall time is
printed too but is noisy: other engineers share the machine.

    python bench/web_ingest.py [--pages N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.extraction_quality import WEB, load_article_benchmark, load_trafilatura_eval  # noqa: E402
from dataprep.core.storage import open_input  # noqa: E402
from dataprep.extract.html import extract_main_text  # noqa: E402
from dataprep.readers.warc import read_warc  # noqa: E402


def cpu_seconds() -> float:
    """user+sys of this process and its waited-for children."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def build_warc(pages: list[bytes], path: Path) -> None:
    """One gzip member per response record, with the headers Common Crawl writes."""
    with open(path, "wb") as out:
        for i, html in enumerate(pages):
            http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(html) + html
            head = (
                "WARC/1.0\r\nWARC-Type: response\r\nWARC-Date: 2024-05-18T01:58:10Z\r\n"
                f"WARC-Record-ID: <urn:uuid:{uuid.UUID(int=i + 1)}>\r\n"
                f"WARC-Target-URI: https://bench.invalid/page/{i + 1}\r\n"
                "WARC-Identified-Payload-Type: text/html\r\n"
                f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(http)}\r\n\r\n"
            )
            out.write(gzip.compress(head.encode() + http + b"\r\n\r\n", compresslevel=6, mtime=0))


def parse_only(paths: list[Path]) -> dict[str, dict[str, float]]:
    from fastwarc.warc import ArchiveIterator as FastIterator
    from fastwarc.warc import WarcRecordType
    from warcio.archiveiterator import ArchiveIterator as WarcioIterator

    out = {}
    for name in ("fastwarc", "warcio"):
        start, n = cpu_seconds(), 0
        for path in paths:
            with open(path, "rb") as f:
                if name == "fastwarc":
                    for rec in FastIterator(f, record_types=WarcRecordType.any_type, parse_http=False):
                        rec.reader.read()
                        n += 1
                else:
                    for rec in WarcioIterator(f):
                        rec.content_stream().read()
                        n += 1
        cpu = cpu_seconds() - start
        out[name] = {"records": n, "cpu_s": cpu, "records_per_cpu_s": n / cpu}
    return out


def ours(paths: list[Path], extractor: str) -> dict[str, float]:
    start, wall, docs, records = cpu_seconds(), time.perf_counter(), 0, 0
    for path in paths:
        with open_input(str(path)) as stream:
            for rec in read_warc(stream, str(path), {"extractor": extractor}):
                records += 1
                docs += rec.fields is not None
    cpu = cpu_seconds() - start
    return {"records": records, "docs": docs, "cpu_s": cpu, "wall_s": time.perf_counter() - wall}


PEER = r"""
import json, resource, sys, time
from datatrove.pipeline.readers import WarcReader
from datatrove.pipeline.extractors import Trafilatura
from datatrove.executor import LocalPipelineExecutor
folder, pattern = sys.argv[1], sys.argv[2]
def cpu():
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime
docs = []
class Count:
    def __call__(self, data, rank=0, world_size=1):
        for d in data:
            docs.append(len(d.text))
            yield d
start, wall = cpu(), time.perf_counter()
LocalPipelineExecutor(pipeline=[WarcReader(folder, glob_pattern=pattern), Trafilatura(favour_precision=True), Count()],
                      tasks=1, workers=1, logging_dir=None, skip_completed=False).run()
print(json.dumps({"docs": len(docs), "cpu_s": cpu() - start, "wall_s": time.perf_counter() - wall}))
"""


def peer(folder: Path, pattern: str) -> dict[str, float] | None:
    python = os.environ.get("DATATROVE_PYTHON", str(REPO / ".bench" / "datatrove-venv" / "bin" / "python"))
    if not Path(python).exists():
        print(f"# datatrove venv missing ({python}): run bash bench/setup_datatrove.sh", file=sys.stderr)
        return None
    done = subprocess.run([python, "-c", PEER, str(folder), pattern], capture_output=True, text=True, cwd=folder)
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=None, help="use only the first N gold pages (smoke runs)")
    args = ap.parse_args()
    pages = [html for html, _ in load_trafilatura_eval(None)] + [html for html, _ in load_article_benchmark(None)]
    pages = pages[: args.pages] if args.pages else pages
    with tempfile.TemporaryDirectory(prefix="dp-web-bench-") as tmp:
        folder = Path(tmp)
        built = folder / "gold-pages.warc.gz"
        build_warc(pages, built)
        for n in (0, 1):
            (folder / f"sample-000{n}.warc.gz").write_bytes(
                (WEB / "dolma-tests" / f"sample-000{n}.warc.gz").read_bytes()
            )
        paths = sorted(folder.glob("*.warc.gz"))
        html_mb = sum(len(p) for p in pages) / 1e6
        print(
            f"# {len(pages)} gold pages ({html_mb:.1f} MB HTML) + 2 real wget WARCs; {os.cpu_count()} cores; "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        )
        for extractor in ("trafilatura", "resiliparse"):  # imports are a one-off cost, not a per-page one
            extract_main_text("<html><body><p>warm up</p></body></html>", extractor)  # type: ignore[arg-type]
        results: dict = {"parse_only": parse_only(paths)}
        for name, r in results["parse_only"].items():
            print(f"parse only   {name:<18} {r['records']:>6} records  {r['records_per_cpu_s']:>9.0f} records/CPU-s")
        for extractor in ("trafilatura", "trafilatura_fast", "resiliparse"):
            r = results[f"ours:{extractor}"] = ours(paths, extractor)
            print(
                f"ours         {extractor:<18} {r['docs']:>6} docs  {r['docs'] / r['cpu_s']:>7.1f} pages/CPU-s  "
                f"(cpu {r['cpu_s']:.1f} s, wall {r['wall_s']:.1f} s)",
                flush=True,
            )
        r = results["datatrove"] = peer(folder, "*.warc.gz")
        if r:
            print(
                f"datatrove    trafilatura(prec.)  {r['docs']:>6} docs  {r['docs'] / r['cpu_s']:>7.1f} pages/CPU-s  "
                f"(cpu {r['cpu_s']:.1f} s, wall {r['wall_s']:.1f} s)"
            )
            for extractor in ("trafilatura", "trafilatura_fast", "resiliparse"):
                o = results[f"ours:{extractor}"]
                ratio = (o["docs"] / o["cpu_s"]) / (r["docs"] / r["cpu_s"])
                print(f"ratio        ours:{extractor} / datatrove = {ratio:.2f}x pages per CPU-second")
    print(json.dumps(results, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
