"""Span-level dedup benchmark: substring_dedup and line_dedup against plain single-process references.

    python bench/substring_dedup.py                 # 1x (~29 MB) and 4x corpora, writes a JSON report
    python bench/substring_dedup.py --scales 1      # quicker

Corpus (1x): real text from ``../shared/data/corpus`` (Gutenberg books cut into ~4 KB
passages, Python docs pages, TheAlgorithms Python/JS/C files, the Jargon File in entries,
Debian fortunes), plus 100 spans of 50-500 words of LAMBADA passages (text found nowhere
else) planted 2-50 times each before random words. Scale k adds k-1 *ciphered* copies of
the 1x corpus: every word replaced through a random permutation of the vocabulary, one per
copy, among words of the same length. A cipher keeps every repeat inside its copy and
creates none across copies, so the k-x corpus has exactly k times the 1x bytes, words and
repeat structure: the fair way to measure how cost grows with size.

Figures:
- substring_dedup (``min_tokens: 50`` words, ``keep: first``): removed spans compared span
  for span with ``tests/span_reference.py`` (one pydivsufsort suffix array over the 1x
  corpus); MB per CPU second at each scale and the cost exponent log(cpu_4x/cpu_1x)/log(4).
- line_dedup (``unit: line``, ``min_docs: 2``, ``keep: 1``): removed lines compared with a
  dictionary count on the quickstart and on the largest corpus; MB per CPU second.

Each stage runs in its own process on the in-process executor (``executor="local"``,
polars on one thread) after an untimed ingest: CPU seconds are that process's own
(``time.process_time``), peak memory its VmHWM, so the figures are per core and do not
include Ray's start-up or the scheduling of other work on a shared machine.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
WORD = re.compile(r"[^ \t\n\r\x0b\x0c]+")
FILES = 8


def real_documents() -> list[str]:
    """~29 MB of real text in documents of a few KB."""
    corpus = DATA / "corpus"
    docs = []
    for book in sorted((corpus / "books" / "gitenberg").glob("pg*.txt.gz")):
        text = gzip.open(book, "rt", encoding="utf-8", errors="replace").read()
        docs += passages(text.split("\n\n"), 4000)
    for name in ("techdocs/python3.11-doc_rst_sources.jsonl.gz", "misc/debian_fortunes.jsonl.gz") + tuple(
        f"code/thealgorithms_{lang}.jsonl.gz" for lang in ("python", "javascript", "c")
    ):
        with gzip.open(corpus / name, "rt") as f:
            docs += [json.loads(line)["text"] for line in f]
    jargon = gzip.open(corpus / "misc" / "jargon-file-4.4.7.txt.gz", "rt", encoding="utf-8", errors="replace").read()
    docs += passages(jargon.split("\n\n"), 4000)
    return [d for d in docs if d.strip()]


def passages(paragraphs: list[str], chars: int) -> list[str]:
    out, cur = [], []
    for p in paragraphs:
        cur.append(p)
        if sum(map(len, cur)) >= chars:
            out.append("\n\n".join(cur))
            cur = []
    return out + (["\n\n".join(cur)] if cur else [])


def donor_passages() -> list[str]:
    path = DATA / "benchmarks" / "llm-foundry-icl" / "lambada_openai.jsonl"
    texts = [json.loads(line)["context"] for line in open(path)]
    joined = passages(texts, 4000)  # LAMBADA passages are short: join them to fit 500-word spans
    return [p for p in joined if len(p.split()) > 600]


def cipher(texts: list[str], seed: int) -> list[str]:
    """Every word through one random permutation of the vocabulary (whitespace kept). Words
    are permuted among words of the same UTF-8 length, so the copy has exactly the bytes,
    words and lines of the original."""
    table = cipher_table({w for t in texts for w in WORD.findall(t)}, seed)
    return [WORD.sub(lambda m: table[m.group()], t) for t in texts]


def cipher_table(vocabulary: set[str], seed: int) -> dict[str, str]:
    """``cipher``'s permutation of ``vocabulary`` for ``seed``: each word to a word of its UTF-8 length."""
    rng = random.Random(seed)
    by_length: dict[int, list[str]] = {}
    for w in sorted(vocabulary):
        by_length.setdefault(len(w.encode()), []).append(w)
    table = {}
    for words in by_length.values():
        shuffled = list(words)
        rng.shuffle(shuffled)
        table.update(zip(words, shuffled))
    return table


def build(out: Path, scales: list[int]) -> dict[int, Path]:
    """One JSONL folder per scale: the 1x corpus and k-1 ciphered copies of it."""
    sys.path.insert(0, str(REPO / "tests"))
    from span_reference import plant

    rng = random.Random(11)
    planted = plant(
        real_documents(), donor_passages(), rng, 100, [50, 500, 73, 120, 260, 51, 400, 88], [2, 50, 3, 17, 2, 30, 5]
    )
    variants = [planted.texts]
    folders = {}
    for k in range(1, max(scales) + 1):
        if k > 1:
            variants.append(cipher(planted.texts, k))
        if k in scales:
            folder = out / f"corpus-{k}x"
            folder.mkdir(parents=True, exist_ok=True)
            for f in range(FILES):
                with open(folder / f"docs-{f}.jsonl", "w") as fh:
                    for v, texts in enumerate(variants):
                        for i in range(f, len(texts), FILES):
                            fh.write(json.dumps({"id": f"v{v}-{i}", "text": texts[i]}) + "\n")
            folders[k] = folder
    return folders


def pipeline(pattern: str, stage: dict | None) -> dict:
    ingest = {"stage": "ingest", "shard_rows": 1000, "inputs": [{"path": pattern, "source": "b"}]}
    return {"name": "span-bench", "seed": 1, "stages": [ingest] + ([stage] if stage else [])}


def measure(pattern: str, out: Path, stage: dict) -> dict:
    """Runs in a child process: the stage alone after an untimed ingest, on the local executor."""
    from dataprep.api import run

    run(pipeline(pattern, None), output=str(out), executor="local")
    cpu0, wall0 = time.process_time(), time.monotonic()
    result = run(pipeline(pattern, stage), output=str(out), executor="local", resume=True)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    return {
        "cpu_s": round(cpu, 2),
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(hwm / 1024),
        "dir": result.stages[1].dir,
    }


def in_child(pattern: str, out: Path, stage: dict) -> dict:
    env = dict(os.environ, POLARS_MAX_THREADS="1", RAYON_NUM_THREADS="1", OMP_NUM_THREADS="1", ARROW_NUM_THREADS="1")
    cmd = [sys.executable, __file__, "--measure", pattern, str(out), json.dumps(stage)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def corpus_mb(stage_dir: str) -> float:
    from dataprep.api import read_stage

    return (
        sum(
            len(t.encode())
            for t in read_stage(stage_dir.rsplit("/", 1)[0] + "/00-ingest", ["text"])["text"].to_pylist()
        )
        / 1e6
    )


def stage_spans(stage_dir: str, column: str) -> dict[str, list[tuple[int, int]]]:
    from dataprep.api import read_stage

    out = {}
    for rejected in (False, True):
        for row in read_stage(stage_dir, ["id", column], rejected=rejected).to_pylist():
            if row[column]:
                out[row["id"]] = [(s["start"], s["end"]) for s in row[column]]
    return out


def check_substring(stage_dir: str) -> dict:
    from span_reference import removed_spans, word_tokens

    from dataprep.api import read_stage

    rows = read_stage(stage_dir.rsplit("/", 1)[0] + "/00-ingest", ["id", "text"]).to_pylist()
    t0 = time.process_time()
    reference = removed_spans([(r["id"], *word_tokens(r["text"])) for r in rows], 50, "first")
    ref_cpu = time.process_time() - t0
    ours = stage_spans(stage_dir, "substr_spans")
    return {
        "identical_spans": ours == reference,
        "spans": sum(map(len, reference.values())),
        "documents_with_spans": len(reference),
        "removed_chars": sum(e - s for v in reference.values() for s, e in v),
        "reference_cpu_s": round(ref_cpu, 1),
    }


def check_lines(stage_dir: str) -> dict:
    from span_reference import dictionary_removals

    from dataprep.api import read_stage

    rows = read_stage(stage_dir.rsplit("/", 1)[0] + "/00-ingest", ["id", "text"]).to_pylist()
    expected, keys = dictionary_removals(rows, "line", 2, 1)
    ours = {(d, s, e) for d, spans in stage_spans(stage_dir, "line_spans").items() for s, e in spans}
    return {"identical_to_dictionary": ours == expected, "removed_lines": len(expected), "repeated_lines": keys}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--scales", default="1,4")
    ap.add_argument("--work", default=None, help="scratch folder (default: a temp dir)")
    ap.add_argument("--json", default=None, help="also write the report here")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "tests"))
    if args.measure:
        pattern, out, stage = args.measure
        print(json.dumps(measure(pattern, Path(out), json.loads(stage))))
        return
    work = Path(args.work or tempfile.mkdtemp(prefix="span-bench-"))
    scales = [int(s) for s in args.scales.split(",")]
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    report: dict = {
        "command": "python bench/substring_dedup.py --scales " + args.scales,
        "machine": f"{platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": commit.stdout.strip(),
        "load_avg_at_start": os.getloadavg()[0],
        "substring_dedup": {},
        "line_dedup": {},
    }
    substr = {"stage": "substring_dedup", "min_tokens": 50, "keep": "first", "tokens": "words"}
    lines = {"stage": "line_dedup", "unit": "line", "min_docs": 2, "keep": 1}
    qs = in_child(str(REPO / "pipelines" / "data" / "quickstart" / "*.jsonl.gz"), work / "lines-qs", lines)
    report["line_dedup"]["quickstart"] = {**check_lines(qs.pop("dir")), **qs}
    for k, corpus in build(work, scales).items():
        pattern = str(corpus / "*.jsonl")
        res = in_child(pattern, work / f"substr-{k}x", substr)
        res["mb"] = round(corpus_mb(res["dir"]), 2)
        res["mb_per_cpu_s"] = round(res["mb"] / res["cpu_s"], 3)
        if k == 1:
            res["reference"] = check_substring(res["dir"])
        report["substring_dedup"][f"{k}x"] = {key: v for key, v in res.items() if key != "dir"}
        res = in_child(pattern, work / f"lines-{k}x", lines)
        res["mb"] = round(corpus_mb(res["dir"]), 2)
        res["mb_per_cpu_s"] = round(res["mb"] / res["cpu_s"], 3)
        if k == max(scales):
            res["dictionary"] = check_lines(res["dir"])
        report["line_dedup"][f"{k}x"] = {key: v for key, v in res.items() if key != "dir"}
        print(json.dumps(report, indent=1), flush=True)
    for part in (report["substring_dedup"], report["line_dedup"]):
        if "1x" in part and "4x" in part:
            part["cost_exponent_1x_to_4x"] = round(
                math.log(part["4x"]["cpu_s"] / part["1x"]["cpu_s"]) / math.log(part["4x"]["mb"] / part["1x"]["mb"]), 3
            )
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
