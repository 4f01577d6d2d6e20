"""Peak memory of one huge document through ingest, quality and tokenize (issue 11, item 10).

    python bench/huge_doc.py [--mb 10 50]

For each size, a JSONL file of 200 ordinary documents (real Python code from ../shared/data)
plus one document of exactly that many MB (the same real text repeated) goes through three
pipelines on the local executor, each in a fresh process: ingest alone, ingest -> quality
(gopher_repetition, fineweb, language ID), ingest -> tokenize (the quickstart BPE). Each
reports the process's peak RSS (``ru_maxrss``); the same pipelines without the huge document
are the baseline. ``max_doc_bytes`` is raised above the size so the document is processed:
at the default (10 MB) every later stage sees at most the 10 MB row.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
WORK = REPO / ".bench" / "huge_doc"
SOURCE = SHARED / "corpus/code/thealgorithms_python.jsonl.gz"
TOKENIZER = REPO / "pipelines/tokenizers/quickstart-bpe4k.json"

CHILD = """
import json, resource, sys
from dataprep.api import run
pipeline = json.loads(sys.argv[1])
run(pipeline, output=sys.argv[2], executor="local", report=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""

STAGES = {
    "ingest": [],
    "quality": [
        {
            "stage": "quality",
            "rule_sets": ["gopher_repetition", "fineweb"],
            "language": {"allowed": ["en"], "min_score": 0.0},
        }
    ],
    "tokenize": [{"stage": "tokenize", "tokenizer": str(TOKENIZER)}],
}


def make_input(path: Path, huge_mb: int) -> None:
    with gzip.open(SOURCE, "rt") as f:
        texts = [json.loads(line)["text"] for line in f][:200]
    lines = [json.dumps({"text": t}) for t in texts]
    if huge_mb:
        size = huge_mb << 20
        body = "\n\n".join(texts).encode()
        huge = (body * (size // len(body) + 1))[:size].decode("utf-8", "ignore")
        lines.append(json.dumps({"text": huge}))
    path.write_text("\n".join(lines) + "\n")


def peak_mb(name: str, data: Path, limit: int) -> int:
    out = WORK / f"run-{data.stem}-{name}"
    shutil.rmtree(out, ignore_errors=True)
    ingest = {"stage": "ingest", "inputs": [{"path": str(data)}], "max_doc_bytes": limit}
    pipeline = {"name": "huge", "stages": [ingest, *STAGES[name]]}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(pipeline), str(out)], capture_output=True, text=True, check=True
    )
    return int(done.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, nargs="+", default=[10, 50])
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    base = WORK / "base.jsonl"
    make_input(base, 0)
    limit = (max(args.mb) + 1) << 20
    print(f"{'document':>10} " + " ".join(f"{s:>10}" for s in STAGES) + "   (peak RSS, MB)")
    print(f"{'none':>10} " + " ".join(f"{peak_mb(s, base, limit):>10}" for s in STAGES))
    for mb in args.mb:
        data = WORK / f"huge{mb}.jsonl"
        make_input(data, mb)
        print(f"{f'{mb} MB':>10} " + " ".join(f"{peak_mb(s, data, limit):>10}" for s in STAGES))


if __name__ == "__main__":
    main()
