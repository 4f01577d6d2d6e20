"""Quality stage vs datatrove's Gopher quality, Gopher repetition and C4 quality filters.

    python bench/quality.py                 # >= 200 MB of real text through the stage; datatrove on 2 of its shards
    python bench/quality.py record-fixture  # re-record tests/fixtures/quality_datatrove.jsonl

Both sides read the same Parquet shards. Rates are documents per CPU second of the working
process(es) (``time.process_time`` inside each), because the machine is shared and wall
time is noisy. The peer runs in its own venv (``bash bench/setup_datatrove.sh``); this file
is also its entry point there (``peer`` subcommand), importing only datatrove and pyarrow.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
WORK = REPO / ".bench" / "quality"
FIXTURE = REPO / "tests" / "fixtures" / "quality_datatrove.jsonl"
FIXTURE_EVERY = 10  # the fixture keeps every 10th document of the corpus
PEER_FILTERS = ("gopher_quality", "gopher_repetition", "c4")


def peer(files: list[str], out: str) -> None:
    """Run datatrove's three filters, each on the original text, and record keep/drop + reason."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datatrove.data import Document
    from datatrove.pipeline.filters import C4QualityFilter, GopherQualityFilter, GopherRepetitionFilter

    filters = {
        "gopher_quality": GopherQualityFilter(),
        "gopher_repetition": GopherRepetitionFilter(),
        "c4": C4QualityFilter(),
    }
    rows: dict[str, list] = {"id": [], **{f"{k}_keep": [] for k in filters}, **{f"{k}_reason": [] for k in filters}}
    cpu = 0.0
    docs = 0
    for path in files:
        table = pq.read_table(path, columns=["id", "text"])
        ids, texts = table.column("id").to_pylist(), table.column("text").to_pylist()
        start = time.process_time()
        for doc_id, text in zip(ids, texts):
            rows["id"].append(doc_id)
            for key, filt in filters.items():
                result = filt.filter(Document(text=text, id=doc_id))
                keep, reason = (result, "") if isinstance(result, bool) else result
                rows[f"{key}_keep"].append(bool(keep))
                rows[f"{key}_reason"].append(reason)
        cpu += time.process_time() - start
        docs += len(ids)
    pq.write_table(pa.table(rows), out)
    Path(out + ".json").write_text(json.dumps({"cpu_seconds": cpu, "docs": docs}))


def build_shards(out_dir: Path, repeat: int, shards: int) -> list[Path]:
    """Write the shared-data corpus ``repeat`` times over ``shards`` Parquet files (ids made unique)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    docs = _corpus()
    rows = [(f"r{r}/{doc_id}", text) for r in range(repeat) for doc_id, text in docs]
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(shards):
        part = rows[i::shards]
        path = out_dir / f"part-{i:05d}.parquet"
        pq.write_table(pa.table({"id": [r[0] for r in part], "text": [r[1] for r in part]}), path)
        paths.append(path)
    return paths


def peer_python() -> str:
    return (
        os.environ.get("DATATROVE_PYTHON")
        or subprocess.check_output(["bash", str(REPO / "bench" / "setup_datatrove.sh")], text=True)
        .strip()
        .splitlines()[-1]
    )


def run_peer(files: list[Path], out_prefix: Path) -> tuple[list[Path], float]:
    """datatrove on ``files``, one process per file (in parallel); (decision files, CPU seconds)."""
    python = peer_python()
    outs = [out_prefix.with_name(f"{out_prefix.name}-{i}.parquet") for i in range(len(files))]
    procs = [subprocess.Popen([python, __file__, "peer", str(o), str(f)]) for o, f in zip(outs, files)]
    if any(p.wait() for p in procs):
        raise RuntimeError("the datatrove peer failed")
    return outs, sum(json.loads(Path(str(o) + ".json").read_text())["cpu_seconds"] for o in outs)


def record_fixture() -> None:
    """Datatrove's decisions on every FIXTURE_EVERY-th corpus document -> tests/fixtures."""
    import polars as pl

    files = build_shards(WORK / "corpus-1x", repeat=1, shards=2)
    outs, _ = run_peer(files, WORK / "peer-1x")
    peer_rows = pl.concat([pl.read_parquet(o) for o in outs]).with_columns(pl.col("id").str.replace(r"^r0/", ""))
    order = {doc_id: i for i, (doc_id, _) in enumerate(_corpus())}
    sample = peer_rows.filter(pl.col("id").replace_strict(order, default=-1) % FIXTURE_EVERY == 0)
    sample = sample.sort(pl.col("id").replace_strict(order)).select("id", *(f"{k}_keep" for k in PEER_FILTERS))
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    sample.write_ndjson(FIXTURE)
    print(f"wrote {sample.height} decisions to {FIXTURE}")


def _corpus() -> list[tuple[str, str]]:
    sys.path.insert(0, str(REPO / "tests"))
    from quality_corpus import load_corpus

    return load_corpus(SHARED)


def run_ours(files: list[Path], rule_sets: list[str]) -> tuple[list[pl.DataFrame], list[float], list[int]]:
    """The quality stage's ``process`` on every shard in this process: signals, CPU s and
    text bytes per shard."""
    import polars as pl
    import pyarrow.parquet as pq

    from dataprep.core.contract import RunInfo
    from dataprep.stages.quality import QualityConfig, QualityStage

    stage = QualityStage(QualityConfig(rule_sets=rule_sets), RunInfo(seed=0, base_dir=str(REPO)))
    results, cpu, size = [], [], []
    for path in files:
        table = pq.read_table(path)
        size.append(sum(len(t.encode()) for t in table.column("text").to_pylist()))
        start = time.process_time()
        res = stage.process(table, None)  # type: ignore[arg-type]  # process uses no context
        cpu.append(time.process_time() - start)
        both = pl.concat(
            [pl.from_arrow(res.kept), pl.from_arrow(res.rejected.drop_columns(["reason"]))], how="diagonal_relaxed"
        )
        results.append(both.drop("text"))
    return results, cpu, size


def agreement(ours: pl.DataFrame, peer_files: list[Path]) -> dict[str, dict[str, float | int]]:
    """Per filter: share of documents where our rule set and datatrove decide alike."""
    import polars as pl

    from dataprep.quality.rules import evaluate, load_rules, rule_set_path

    both = ours.join(pl.concat([pl.read_parquet(f) for f in peer_files]), on="id")
    out: dict[str, dict[str, float | int]] = {}
    for name in PEER_FILTERS:
        keep = evaluate(both, load_rules(rule_set_path(name))).get_column("reason").is_null()
        theirs = both.get_column(f"{name}_keep")
        out[name] = {
            "docs": both.height,
            "agreement": round(float((keep == theirs).mean()), 4),
            "ours_kept": int(keep.sum()),
            "datatrove_kept": int(theirs.sum()),
            "only_we_drop": int((~keep & theirs).sum()),
            "only_datatrove_drops": int((keep & ~theirs).sum()),
        }
    return out


def _rates(docs: int, cpu: float, size: int) -> dict[str, float]:
    return {
        "docs": docs,
        "mb": round(size / 1e6, 1),
        "cpu_seconds": round(cpu, 1),
        "docs_per_cpu_s": round(docs / cpu, 1),
        "mb_per_cpu_s": round(size / 1e6 / cpu, 3),
    }


def bench(repeat: int, shards: int, peer_shards: int) -> dict[str, object]:
    """Ours on every shard; datatrove (one process per shard, in parallel) on the first
    ``peer_shards`` of the same files; rates on the common shards and on everything."""
    import platform

    import polars as pl

    files = build_shards(WORK / f"corpus-{repeat}x", repeat=repeat, shards=shards)
    python = peer_python()
    outs = [WORK / f"peer-{repeat}x-{i}.parquet" for i in range(peer_shards)]
    procs = [subprocess.Popen([python, __file__, "peer", str(o), str(f)]) for o, f in zip(outs, files)]
    ours, cpu, size = run_ours(files, list(PEER_FILTERS) + ["fineweb"])
    if any(p.wait() for p in procs):
        raise RuntimeError("the datatrove peer failed")
    peer_stats = [json.loads(Path(str(o) + ".json").read_text()) for o in outs]
    peer_cpu = sum(s["cpu_seconds"] for s in peer_stats)
    common_docs = sum(s["docs"] for s in peer_stats)
    common_ours = _rates(common_docs, sum(cpu[:peer_shards]), sum(size[:peer_shards]))
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f}",
        "corpus": f"../shared/data/corpus x{repeat} in {len(files)} Parquet shards",
        "ours_all_shards": _rates(sum(len(t) for t in ours), sum(cpu), sum(size)),
        "ours_common_shards": common_ours,
        "datatrove_common_shards": _rates(common_docs, peer_cpu, sum(size[:peer_shards])),
        "speedup_docs_per_cpu_s": round(peer_cpu / sum(cpu[:peer_shards]), 1),
        "agreement": agreement(pl.concat(ours[:peer_shards], how="diagonal_relaxed"), outs),
    }
    (WORK / f"result-{repeat}x.json").write_text(json.dumps(result, indent=1))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="copies of the corpus (5 x 49 MB = 247 MB)")
    parser.add_argument("--shards", type=int, default=10)
    parser.add_argument(
        "--peer-shards",
        type=int,
        default=2,
        help="shards datatrove also runs on (it needs ~7.5 CPU s per MB: all 247 MB would take ~31 CPU min)",
    )
    sub = parser.add_subparsers(dest="cmd")
    p = sub.add_parser("peer", help="(runs in the datatrove venv) decisions of datatrove's filters")
    p.add_argument("out")
    p.add_argument("files", nargs="+")
    sub.add_parser("record-fixture", help="re-record datatrove's decisions for the agreement test")
    args = parser.parse_args(argv)
    if args.cmd == "peer":
        peer(args.files, args.out)
        return 0
    if args.cmd == "record-fixture":
        record_fixture()
        return 0
    print(json.dumps(bench(args.repeat, args.shards, args.peer_shards), indent=1))
    return 0


if __name__ == "__main__":
    # one thread per process, like one Ray task per core, so CPU seconds compare fairly
    os.environ.setdefault("POLARS_MAX_THREADS", "1")
    sys.exit(main())
