"""PII benchmark: precision/recall per type and MB per CPU second on the labelled set built
from real text (tests/pii_plants.py), ours vs datatrove 0.10.1's ``PIIFormatter`` (emails
and IPs; in its own venv, see bench/setup_datatrove.sh) vs a plain-regex baseline, in one run.

Speed is MB of UTF-8 text per CPU second of the process doing the detection
(``time.process_time``, which counts polars' threads too), on two texts: the planted set
(denser in numbers and secrets than real text) and the quickstart's multi-domain sample
(pipelines/data/quickstart, 2.8 MB of web, code, docs, science, reviews, fortunes). Ours is timed after a warm-up
on 50 documents (libphonenumber loads a region's metadata on first use, once per worker).
datatrove is timed on ``PIIFormatter.format`` (find and replace); its spans for scoring come
from the same replacers' regexes and validators.

    python bench/pii.py            # prints JSON; figures go to docs/BENCHMARKS.md by hand
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0] == __import__("os").path.dirname(__import__("os").path.abspath(__file__)):
    sys.path.pop(0)  # bench/tokenization.py and friends must not shadow the standard library

import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PEER_PYTHON = REPO / ".bench" / "datatrove-venv" / "bin" / "python"

# What a plain-regex scrubber does: one pattern per type, no validation.
BASELINE = {
    "email": r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
    "ip": r"\b\d{1,3}(?:\.\d{1,3}){3}\b",
    "phone": r"\+?\(?\d{2,4}\)?[ .-]?\d{3,4}[ .-]?\d{3,4}\b",
    "card": r"\b\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{1,4}\b",
    "iban": r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,4})?\b",
    "ssn": r"\b\d{3}-\d{2}-\d{4}\b",
    "key": r"AKIA[0-9A-Z]{16}|gh[pousr]_\w{36}|xox[abpr]-[\w-]+|sk_live_\w+|eyJ[\w-]+\.[\w-]+\.[\w-]+|"
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----|://[^:\s/]+:([^@\s]+)@",
}


def ours(texts: list[str]) -> tuple[list[list[tuple[int, int, str]]], float]:
    from dataprep.pii import build_detectors

    detectors = build_detectors()
    detectors.find_all(texts[:50])
    t0 = time.process_time()
    found = detectors.find_all(texts)
    cpu = time.process_time() - t0
    return [[(f.start, f.end, f.type) for f in spans] for spans in found], cpu


def baseline(texts: list[str]) -> tuple[list[list[tuple[int, int, str]]], float]:
    patterns = {t: re.compile(p) for t, p in BASELINE.items()}
    t0 = time.process_time()
    out = []
    for text in texts:
        spans = []
        for t, p in patterns.items():
            for m in p.finditer(text):
                spans.append((*(m.span(1) if m.re.groups and m.group(1) else m.span()), t))
        out.append(spans)
    return out, time.process_time() - t0


def peer(texts_path: Path) -> dict:
    python = os.environ.get("DATATROVE_PYTHON", str(PEER_PYTHON))
    if not Path(python).exists():
        raise SystemExit(f"datatrove venv missing: run `bash bench/setup_datatrove.sh` ({python})")
    done = subprocess.run([python, __file__, "--peer", str(texts_path)], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_peer(texts_path: str) -> None:
    """In datatrove's venv: spans from PIIFormatter's replacers, time of ``format``."""
    from datatrove.pipeline.formatters import PIIFormatter

    texts = json.load(open(texts_path))
    fmt = PIIFormatter()
    spans = []
    for text in texts:
        doc = []
        for kind, rep in (("email", fmt.emails_replacer), ("ip", fmt.ip_replacer)):
            for m in rep.regex.finditer(text):
                if rep.validator is None or rep.validator(m.group(0)):
                    doc.append((m.start(), m.end(), kind))
        spans.append(doc)
    t0 = time.process_time()
    for text in texts:
        fmt.format(text)
    print(json.dumps({"spans": spans, "cpu_s": time.process_time() - t0}))


def quickstart_texts() -> list[str]:
    import gzip

    return [
        json.loads(line)["text"]
        for path in sorted((REPO / "pipelines/data/quickstart").glob("*.jsonl.gz"))
        for line in gzip.open(path, "rt", encoding="utf-8")
    ]


def main() -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from pii_plants import TYPES, build, host_detections, score

    t0 = time.time()
    texts, labels = build()
    build_s = time.time() - t0
    mb = sum(len(t.encode()) for t in texts) / 1e6
    results = {}
    quick = quickstart_texts()
    quick_mb = sum(len(t.encode()) for t in quick) / 1e6
    ours_spans, ours_cpu = ours(texts)
    base_spans, base_cpu = baseline(texts)
    quick_cpu = {"dataprep": ours(quick)[1], "plain_regex": baseline(quick)[1]}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "texts.json"
        path.write_text(json.dumps(texts))
        dt = peer(path)
        path.write_text(json.dumps(quick))
        quick_cpu["datatrove_PIIFormatter"] = peer(path)["cpu_s"]
    for name, spans, cpu, types in (
        ("dataprep", ours_spans, ours_cpu, TYPES),
        ("datatrove_PIIFormatter", [[tuple(s) for s in d] for d in dt["spans"]], dt["cpu_s"], ("email", "ip")),
        ("plain_regex", base_spans, base_cpu, tuple(BASELINE)),
    ):
        scores, negatives = score(labels, spans, types)
        results[name] = {
            "mb_per_cpu_s_quickstart_text": round(quick_mb / quick_cpu[name], 2),
            "mb_per_cpu_s_planted_set": round(mb / cpu, 2),
            "cpu_s_planted_set": round(cpu, 2),
            "per_type": {t: s.as_dict() for t, s in scores.items()},
            "hard_negatives_flagged": {k: f"{f}/{n}" for k, (f, n) in sorted(negatives.items())},
            "hard_negatives_flagged_share": round(
                sum(f for f, _ in negatives.values()) / max(1, sum(n for _, n in negatives.values())), 4
            ),
            "detections_in_unlabelled_host_text": host_detections(labels, spans),
        }
    out = {
        "machine": f"{os.cpu_count()} cores, {os.uname().sysname} {os.uname().release}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip(),
        "set": {
            "documents": len(texts),
            "mb": round(mb, 2),
            "planted": sum(1 for lb in labels if lb.type in TYPES),
            "hard_negatives": sum(1 for lb in labels if lb.type.startswith("neg:")),
            "build_s": round(build_s, 1),
        },
        "quickstart_text": {"documents": len(quick), "mb": round(quick_mb, 2)},
        **results,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--peer":
        run_peer(sys.argv[2])
    else:
        main()
