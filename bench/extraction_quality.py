"""Precision/recall of HTML main-text extractors against human gold, plus CPU time per page.

Two gold sets under ``../shared/data/corpus/web``:

* trafilatura's evaluation set (``tests/evaldata.json``): per page, snippets that must
  ("with") and must not ("without") appear in the extracted text. Scored exactly as
  trafilatura's ``tests/eval_common.py`` does: whitespace-normalised substring matching,
  micro-averaged over all snippets; a crash counts as a full miss.
* the article-extraction benchmark (scrapinghub): a gold article body per page. Scored as
  its ``evaluate.py`` does: bags of 4-token shingles (``\\w+`` tokens), per-page TP/FP/FN
  normalised, precision and recall averaged over pages.

Rows: our three configurable extractors (``dataprep.extract.html``, our charset detection
first), and reference libraries fed the same decoded text. ``trafilatura (bytes)`` gives
trafilatura the raw bytes, the protocol of its published table, for a like-for-like check.

    python bench/extraction_quality.py [--limit N] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import tarfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dataprep.extract.html import decode_html, extract_main_text  # noqa: E402

WEB = REPO.parent / "shared" / "data" / "corpus" / "web"


def _trafilatura_bytes(data: bytes) -> str:
    import trafilatura

    return trafilatura.extract(data, include_comments=False, include_tables=True, include_formatting=False) or ""


def _reference(name: str) -> Callable[[str], str]:
    """Reference extractors on decoded text, each with its usual settings."""
    if name == "justext":
        import justext

        return lambda html: "\n".join(
            p.text
            for p in justext.justext(html.encode("utf-8"), justext.get_stoplist("English"), encoding="utf-8")
            if not p.is_boilerplate
        )
    if name == "readability-lxml":
        import html_text
        from readability import Document

        return lambda html: html_text.extract_text(Document(html).summary(html_partial=True))
    if name == "html_text":
        import html_text

        return html_text.extract_text
    if name == "inscriptis":
        from inscriptis import get_text

        return get_text
    raise ValueError(name)


def extractors() -> dict[str, Callable[[bytes], str]]:
    """name -> fn(page bytes) -> text."""
    out: dict[str, Callable[[bytes], str]] = {}
    for name in ("trafilatura", "trafilatura_fast", "resiliparse"):
        out[f"ours:{name}"] = lambda data, n=name: extract_main_text(decode_html(data)[0], n)  # type: ignore[misc]
    out["trafilatura (bytes)"] = _trafilatura_bytes
    for name in ("readability-lxml", "justext", "html_text", "inscriptis"):
        try:
            fn = _reference(name)
        except ImportError:
            print(f"# {name} not installed: skipped", file=sys.stderr)
            continue
        out[name] = lambda data, fn=fn: fn(decode_html(data)[0])  # type: ignore[misc]
    return out


# -- trafilatura evaluation set --------------------------------------------------------------


def load_trafilatura_eval(limit: int | None) -> list[tuple[bytes, dict]]:
    """(page bytes, annotation) for every annotated page present in the archive."""
    # One sequential pass: random access into a .tar.xz re-decompresses from the start.
    pages: dict[str, bytes] = {}
    evaldata: dict = {}
    with tarfile.open(WEB / "trafilatura-eval" / "trafilatura_eval_html.tar.xz", mode="r|xz") as tar:
        for member in tar:
            if member.name == "tests/evaldata.json":
                evaldata = json.load(tar.extractfile(member))  # type: ignore[arg-type]
            elif member.name.startswith("tests/eval/") and member.isfile():
                pages[Path(member.name).name] = tar.extractfile(member).read()  # type: ignore[union-attr]
    items = [(pages[item["file"]], item) for _url, item in sorted(evaldata.items()) if item["file"] in pages]
    return items[:limit] if limit else items


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def snippet_counts(item: dict, result: str | None) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) of one page, as trafilatura's eval_common.count_item."""
    res = _norm(result) if isinstance(result, str) else None
    tp = sum(1 for w in item["with"] if res is not None and _norm(w) in res)
    fp = sum(1 for w in item["without"] if res is not None and _norm(w) in res)
    return tp, fp, len(item["with"]) - tp, len(item["without"]) - fp


def snippet_scores(counts: list[tuple[int, int, int, int]]) -> dict[str, float]:
    tp, fp, fn, tn = (sum(c[i] for c in counts) for i in range(4))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "accuracy": (tp + tn) / (tp + fp + fn + tn),
        "f1": 2 * tp / (2 * tp + fp + fn) if tp else 0.0,
    }


# -- article-extraction benchmark -------------------------------------------------------------


def load_article_benchmark(limit: int | None) -> list[tuple[bytes, str]]:
    root = WEB / "article-extraction-benchmark"
    gold = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    items = [
        (gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes()), gold[key]["articleBody"])
        for key in sorted(gold)
    ]
    return items[:limit] if limit else items


_TOKEN = re.compile(r"\w+")


def _shingles(text: str, n: int = 4) -> Counter:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n])


def shingle_counts(gold: str, pred: str) -> tuple[float, float, float]:
    """Normalised (tp, fp, fn) of 4-shingle bags, as the benchmark's string_shingle_matching."""
    g, p = _shingles(gold), _shingles(pred)
    tp = sum((g & p).values())
    fp = sum((p - g).values())
    fn = sum((g - p).values())
    s = tp + fp + fn
    return (tp / s, fp / s, fn / s) if s else (0.0, 0.0, 0.0)


def shingle_scores(counts: list[tuple[float, float, float]]) -> dict[str, float]:
    def prec(tp: float, fp: float, fn: float) -> float:
        return 1.0 if fp == fn == 0 else (0.0 if tp == fp == 0 else tp / (tp + fp))

    def rec(tp: float, fp: float, fn: float) -> float:
        return 1.0 if fp == fn == 0 else (0.0 if tp == fn == 0 else tp / (tp + fn))

    ps = [prec(*c) for c in counts if c[0] + c[1] > 0]
    rs = [rec(*c) for c in counts if c[0] + c[2] > 0]
    precision, recall = sum(ps) / len(ps), sum(rs) / len(rs)
    return {"precision": precision, "recall": recall, "f1": 2 * precision * recall / (precision + recall)}


# -- driver -------------------------------------------------------------------------------------


def run_one(fn: Callable[[bytes], str], pages: list[bytes]) -> tuple[list[str | None], float]:
    """Outputs (None on a crash) and CPU seconds spent."""
    out: list[str | None] = []
    start = time.process_time()
    for data in pages:
        try:
            out.append(fn(data))
        except Exception:  # a crash counts as a miss, as in both benchmarks' own scripts
            out.append(None)
    return out, time.process_time() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="first N pages of each set (smoke runs)")
    ap.add_argument("--only", nargs="*", default=None, help="extractor names to run")
    args = ap.parse_args()

    traf = load_trafilatura_eval(args.limit)
    arts = load_article_benchmark(args.limit)
    print(f"# trafilatura eval: {len(traf)} annotated pages present; article benchmark: {len(arts)} pages")
    header = (
        f"{'extractor':<22} {'tf-P':>6} {'tf-R':>6} {'tf-Acc':>6} {'tf-F1':>6} {'ms/page':>8} | "
        f"{'ae-P':>6} {'ae-R':>6} {'ae-F1':>6} {'ms/page':>8} crashes"
    )
    print(header)
    results = {}
    for name, fn in extractors().items():
        if args.only and name not in args.only:
            continue
        t_out, t_cpu = run_one(fn, [d for d, _ in traf])
        a_out, a_cpu = run_one(fn, [d for d, _ in arts])
        ts = snippet_scores([snippet_counts(item, r) for (_, item), r in zip(traf, t_out)])
        as_ = shingle_scores([shingle_counts(gold, r or "") for (_, gold), r in zip(arts, a_out)])
        crashes = sum(r is None for r in t_out + a_out)
        t_ms, a_ms = 1000 * t_cpu / len(traf), 1000 * a_cpu / len(arts)
        results[name] = {
            "trafilatura_eval": ts,
            "article_benchmark": as_,
            "cpu_ms_per_page": [t_ms, a_ms],
            "crashes": crashes,
        }
        print(
            f"{name:<22} {ts['precision']:6.3f} {ts['recall']:6.3f} {ts['accuracy']:6.3f} {ts['f1']:6.3f} "
            f"{t_ms:8.1f} | "
            f"{as_['precision']:6.3f} {as_['recall']:6.3f} {as_['f1']:6.3f} {a_ms:8.1f} {crashes}",
            flush=True,
        )
    print(json.dumps(results, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
