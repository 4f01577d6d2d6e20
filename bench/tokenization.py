"""Tokenize benchmark: our stage's shard work vs raw ``tokenizers`` ``encode_batch`` vs datatrove.

    python bench/tokenization.py                 # ~16 MB of real text, 1 tokenizer thread
    python bench/tokenization.py --mb 4 --reps 1 # quicker
    python bench/tokenization.py --mix --mb 64   # mix + tokenize vs encoding the kept text once

Same text, same tokenizer (the GPT-NeoX 50k BPE of dolma's tests), same thread count
(``RAYON_NUM_THREADS``, set before ``tokenizers`` loads: 1 by default, which is what each
of our Ray tasks gets) and the same batches (our shards). Rates are MB of UTF-8 text per
CPU second of this process (``time.process_time`` covers all its threads), so they hold
on a shared machine; the best of ``--reps`` alternating repetitions is kept.

* raw: ``Tokenizer.encode_batch(texts)`` per shard, nothing else (the bar: ≥ 90%).
* raw_fast: ``Tokenizer.encode_batch_fast`` (no character offsets), what our stage calls:
  ours / raw_fast is the cost of everything around the tokenizer.
* ours: ``TokenizeStage.process`` per shard: the Arrow text column in, ids framed by EOS,
  a uint16 Arrow list column and counts out (what a Ray task runs between read and write).
* engine: the whole tokenize stage through ``dataprep.api.run`` on Ray (``--num-cpus``
  workers, one tokenizer thread each): read Parquet shards, tokenize, write Parquet, then
  export ``tokens.bin``/``.idx``/``.docs.parquet``. CPU seconds of this process and all its
  descendants (Ray's own processes and workers: psutil), ingest excluded (run before,
  reused with ``resume``), also split by role (task workers, driver, Ray's own services).
  Compared with raw at 1 thread, per CPU second.
* datatrove 0.10.1 ``DocumentTokenizer`` (own venv, ``bash bench/setup_datatrove.sh``),
  run in the same script run on the same text as JSONL: its whole step (read JSONL,
  tokenize, write its ``.ds`` token file and index), unshuffled, one task.

Interop check (with the engine run and the peer): datatrove's ``MegatronDocumentTokenizer``
(an implementation of Megatron's format independent of ours) writes ``.bin``/``.idx`` for
the same documents; the report says whether its bytes equal our ``tokens.bin``/``tokens.idx``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
TOKENIZER = SHARED / "tokenizers" / "dolma-test-tokenizers" / "gpt-neo-test-tokenizer.json"
SOURCES = (
    "techdocs/python3.11-doc_rst_sources.jsonl.gz",
    "code/thealgorithms_python.jsonl.gz",
    "misc/debian_fortunes.jsonl.gz",
)
SHARD_ROWS = 2000


def corpus(mb: float) -> tuple[list[str], list[int]]:
    """Real non-empty documents (Python docs, Python code, fortunes) taken in turn until ``mb`` MB;
    past the ~18 MB they hold, the same documents again (to show fixed per-worker costs amortize).
    Also each document's source (an index into ``SOURCES``): the mix benchmark's domains."""
    per_source = []
    for rel in SOURCES:
        with gzip.open(SHARED / "corpus" / rel, "rt") as f:
            # empty texts (e.g. empty __init__.py files) never reach tokenize: ingest rejects them
            per_source.append([t for t in (json.loads(line)["text"] for line in f) if t])
    texts: list[str] = []
    domains: list[int] = []
    size, i = 0, 0
    longest = max(len(s) for s in per_source)
    while size < mb * 1e6:
        for d, source in enumerate(per_source):
            if i % longest < len(source):
                texts.append(source[i % longest])
                domains.append(d)
                size += len(texts[-1].encode())
        i += 1
    return texts, domains


def cpu(fn) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def tree_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds (user + system) of this process and every descendant, by pid, with the
    process's role: "worker" (a Ray task process), "driver" (this one) or "ray" (Ray's own)."""
    import psutil

    me = psutil.Process()
    out = {}
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
            title = proc.name() + " " + " ".join(proc.cmdline())
        except psutil.NoSuchProcess:
            continue
        role = "driver" if proc.pid == me.pid else "worker" if "default_worker" in title or "ray::" in title else "ray"
        out[proc.pid] = (role, t.user + t.system)
    return out


def run_engine(batches: list[list[str]], work: Path, num_cpus: int) -> dict:
    """The tokenize stage through the engine on Ray; CPU of the whole process tree."""
    import logging

    import pyarrow as pa
    import pyarrow.parquet as pq
    import ray

    from dataprep.api import run
    from dataprep.engine.executor import WORKER_ENV

    (work / "in").mkdir(parents=True)
    for i, b in enumerate(batches):
        pq.write_table(pa.table({"text": b}), work / "in" / f"part-{i:03d}.parquet")
    ingest = {
        "stage": "ingest",
        "shard_rows": SHARD_ROWS,
        "inputs": [{"path": str(work / "in" / "*.parquet"), "domain": "bench", "source": "bench"}],
    }
    pipeline = {"name": "tok-bench", "seed": 1, "tokenizer": str(TOKENIZER), "stages": [ingest]}
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(
        num_cpus=num_cpus,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        _temp_dir=str(work / "ray"),
        runtime_env={"env_vars": WORKER_ENV},
    )
    try:
        run(pipeline, output=str(work / "run"), num_cpus=num_cpus)
        before, t0 = tree_cpu(), time.monotonic()
        result = run(
            {**pipeline, "stages": [ingest, {"stage": "tokenize"}]},
            output=str(work / "run"),
            num_cpus=num_cpus,
            resume=True,
        )
        wall = time.monotonic() - t0
        after = tree_cpu()
    finally:
        ray.shutdown()
    by_role: dict[str, float] = {}
    for pid, (role, seconds) in after.items():
        by_role[role] = by_role.get(role, 0.0) + seconds - before.get(pid, (role, 0.0))[1]
    return {
        "cpu_seconds": sum(by_role.values()),
        "by_role": by_role,
        "wall_seconds": wall,
        "tokens": result.stages[-1].manifest["stats"]["tokens"],
        "dir": result.stages[-1].dir,
    }


def run_mix(texts: list[str], domains: list[int], work: Path, num_cpus: int, reps: int) -> dict:
    """Mix (exact tokens, repeats and down-sampling) then tokenize through the engine on Ray,
    against raw ``encode_batch`` of the unique kept text: each kept document should be encoded
    once (by mix), so the pair should cost little more than encoding that text once."""
    import logging

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    import ray
    from tokenizers import Tokenizer

    from dataprep.api import read_stage, run
    from dataprep.engine.executor import WORKER_ENV

    names = [Path(rel).name.split("_")[0].split(".")[0].split("-")[0] for rel in SOURCES]
    inputs = []
    for d, name in enumerate(names):
        (work / "in" / name).mkdir(parents=True)
        mine = [t for t, dom in zip(texts, domains) if dom == d]
        for i in range(0, len(mine), SHARD_ROWS):
            pq.write_table(pa.table({"text": mine[i : i + SHARD_ROWS]}), work / "in" / name / f"part-{i:07d}.parquet")
        inputs.append({"path": str(work / "in" / name / "*.parquet"), "domain": name, "source": name})
    ingest = {"stage": "ingest", "shard_rows": SHARD_ROWS, "inputs": inputs}
    # 1.3 epochs of every domain: each document kept, 30% of them twice (whole repeats and the
    # seeded sample both); a down-sampling mix would still count (encode) all of its input
    tok = Tokenizer.from_file(str(TOKENIZER))
    total = sum(len(e.ids) for e in tok.encode_batch_fast(texts, add_special_tokens=False))
    mix = {"stage": "mix", "budget_tokens": int(1.3 * total), "max_epochs": 3}
    pipeline = {"name": "mix-bench", "seed": 1, "tokenizer": str(TOKENIZER), "stages": [ingest]}
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(
        num_cpus=num_cpus,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        _temp_dir=str(work / "ray"),
        runtime_env={"env_vars": WORKER_ENV},
    )
    try:
        run(pipeline, output=str(work / "run"), num_cpus=num_cpus, verbose=False, report=False)
        before, t0 = tree_cpu(), time.monotonic()
        result = run(
            {**pipeline, "stages": [ingest, mix, {"stage": "tokenize"}]},
            output=str(work / "run"),
            num_cpus=num_cpus,
            resume=True,
            verbose=False,
            report=False,
        )
        wall = time.monotonic() - t0
        after = tree_cpu()
    finally:
        ray.shutdown()
    by_role: dict[str, float] = {}
    for pid, (role, seconds) in after.items():
        by_role[role] = by_role.get(role, 0.0) + seconds - before.get(pid, (role, 0.0))[1]
    ingested, mixed, tokenized = result.stages
    kept_ids = pc.unique(
        pc.replace_substring_regex(read_stage(mixed.dir, columns=["id"]).column("id"), "#r[0-9]+$", "")
    )
    source = read_stage(ingested.dir, columns=["id", "text"])
    unique = source.filter(pc.is_in(source.column("id"), value_set=kept_ids))
    kept_texts = unique.column("text").to_pylist()
    batches = [kept_texts[i : i + SHARD_ROWS] for i in range(0, len(kept_texts), SHARD_ROWS)]
    raw = min(cpu(lambda: [tok.encode_batch(b) for b in batches]) for _ in range(reps))
    raw_fast = min(cpu(lambda: [tok.encode_batch_fast(b) for b in batches]) for _ in range(reps))
    cpu_total = sum(by_role.values())
    return {
        "workers": num_cpus,
        "documents": {
            "in": source.num_rows,
            "kept_unique": unique.num_rows,
            "out": tokenized.manifest["stats"]["documents"],
        },
        "documents_reused_ids": tokenized.manifest["stats"]["documents_reused_ids"],
        "mb": {
            "in": round(sum(len(t.encode()) for t in texts) / 1e6, 2),
            "kept_unique": round(sum(len(t.encode()) for t in kept_texts) / 1e6, 2),
        },
        "wall_seconds": round(wall, 2),
        "cpu_seconds_mix_plus_tokenize": round(cpu_total, 3),
        "cpu_seconds_by_role": {k: round(v, 3) for k, v in sorted(by_role.items())},
        "cpu_seconds_raw_encode_batch_of_unique_kept": round(raw, 3),
        "cpu_seconds_raw_encode_batch_fast_of_unique_kept": round(raw_fast, 3),
        "mix_plus_tokenize_vs_raw": round(cpu_total / raw, 3),
        "mix_plus_tokenize_vs_raw_fast": round(cpu_total / raw_fast, 3),
        "workers_only_vs_raw": round(by_role.get("worker", 0.0) / raw, 3),
    }


def run_peer(texts: list[str], work: Path, threads: int) -> dict:
    """datatrove's DocumentTokenizer in its own venv, on the same texts written as JSONL."""
    py = subprocess.run(["bash", str(REPO / "bench/setup_datatrove.sh")], capture_output=True, text=True, check=True)
    data = work / "jsonl"
    data.mkdir(parents=True)
    with open(data / "docs.jsonl", "w") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": str(i), "text": t}) + "\n")
    env = {**os.environ, "RAYON_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "true"}
    out = subprocess.run(
        [py.stdout.strip().splitlines()[-1], __file__, "--peer", str(data), str(work / "dt")],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def peer_main(data: str, out: str) -> None:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.tokens import DocumentTokenizer
    from datatrove.pipeline.tokens.megatron_tokenizer import MegatronDocumentTokenizer

    executor = LocalPipelineExecutor(
        pipeline=[
            JsonlReader(data),
            DocumentTokenizer(
                out, tokenizer_name_or_path=str(TOKENIZER), eos_token="<|endoftext|>", shuffle_documents=False
            ),
        ],
        tasks=1,
        workers=1,
        logging_dir=f"{out}-logs",
        skip_completed=False,
    )
    seconds = cpu(executor.run)
    megatron = LocalPipelineExecutor(  # not timed: the interop check
        pipeline=[
            JsonlReader(data),
            MegatronDocumentTokenizer(
                f"{out}-megatron", tokenizer_name_or_path=str(TOKENIZER), eos_token="<|endoftext|>"
            ),
        ],
        tasks=1,
        workers=1,
        logging_dir=f"{out}-megatron-logs",
        skip_completed=False,
    )
    megatron.run()
    print(json.dumps({"cpu_seconds": seconds, "megatron_prefix": f"{out}-megatron/00000_tokens"}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=16.0, help="MB of text (default 16)")
    ap.add_argument("--threads", type=int, default=1, help="RAYON_NUM_THREADS for both sides (default 1)")
    ap.add_argument("--reps", type=int, default=3, help="alternating repetitions; the best is kept (default 3)")
    ap.add_argument("--no-peer", action="store_true", help="skip datatrove")
    ap.add_argument("--num-cpus", type=int, default=2, help="Ray workers of the engine run (default 2; 0 skips it)")
    ap.add_argument("--mix", action="store_true", help="only mix + tokenize vs raw encode_batch of the kept text")
    ap.add_argument("--peer", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer:
        peer_main(*args.peer)
        return
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)  # before tokenizers starts its pool
    if args.mix:
        with tempfile.TemporaryDirectory(prefix="mix-bench-") as tmp:
            report = run_mix(*corpus(args.mb), Path(tmp), max(args.num_cpus, 1), args.reps)
        print(
            json.dumps({"command": " ".join(["python", "bench/tokenization.py", *sys.argv[1:]]), **report}, indent=2)
        )
        return
    import pyarrow as pa
    from tokenizers import Tokenizer

    from dataprep.core.contract import RunInfo
    from dataprep.stages.base import ShardContext
    from dataprep.stages.tokenize import TokenizeConfig, TokenizeStage

    texts, _ = corpus(args.mb)
    mb = sum(len(t.encode()) for t in texts) / 1e6
    batches = [texts[i : i + SHARD_ROWS] for i in range(0, len(texts), SHARD_ROWS)]
    tables = [
        pa.table({"id": [f"d{i + j}" for j in range(len(b))], "text": b})
        for i, b in zip(range(0, len(texts), SHARD_ROWS), batches)
    ]
    raw_tok = Tokenizer.from_file(str(TOKENIZER))
    run_info = RunInfo(seed=0, base_dir=str(REPO))
    stage = TokenizeStage(TokenizeConfig(tokenizer=str(TOKENIZER)), run_info)

    def ours() -> None:
        for i, t in enumerate(tables):
            stage.process(t, ShardContext(i, None, run_info, None))  # type: ignore[arg-type]  # process reads neither

    def raw() -> None:
        for b in batches:
            raw_tok.encode_batch(b)

    def raw_fast() -> None:
        for b in batches:
            raw_tok.encode_batch_fast(b)

    ours()  # warm-up: loads the stage's cached tokenizer, pages in the text
    check = stage.process(tables[0], ShardContext(0, None, run_info, None)).kept.column("input_ids").to_pylist()  # type: ignore[arg-type]
    assert check == [e.ids + [stage.eos_id] for e in raw_tok.encode_batch(batches[0], add_special_tokens=False)]
    sides = {"raw": raw, "raw_fast": raw_fast, "ours": ours}
    times: dict[str, list[float]] = {k: [] for k in sides}
    for _ in range(args.reps):
        for name, fn in sides.items():
            times[name].append(cpu(fn))
    best = {k: min(v) for k, v in times.items()}
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f} at start of timing",
        "command": " ".join(["python", "bench/tokenization.py", *sys.argv[1:]]),
        "text": {"documents": len(texts), "mb": round(mb, 2), "shards": len(tables)},
        "threads": args.threads,
        "cpu_seconds": {k: [round(x, 3) for x in v] for k, v in times.items()},
        "mb_per_cpu_s": {k: round(mb / v, 3) for k, v in best.items()},
        "ours_vs_raw": round(best["raw"] / best["ours"], 3),
        "ours_vs_raw_fast": round(best["raw_fast"] / best["ours"], 3),
    }
    with tempfile.TemporaryDirectory(prefix="tok-bench-") as tmp:
        work = Path(tmp)
        engine = run_engine(batches, work / "engine", args.num_cpus) if args.num_cpus else None
        if engine:
            report["engine"] = {
                "workers": args.num_cpus,
                "wall_seconds": round(engine["wall_seconds"], 2),
                "cpu_seconds": round(engine["cpu_seconds"], 3),
                "tokens": engine["tokens"],
                "cpu_seconds_by_role": {k: round(v, 3) for k, v in sorted(engine["by_role"].items())},
            }
            report["mb_per_cpu_s"]["engine"] = round(mb / engine["cpu_seconds"], 3)
            report["engine_vs_raw"] = round(best["raw"] / engine["cpu_seconds"], 3)
        if not args.no_peer:
            peer = run_peer(texts, work / "peer", args.threads)
            report["mb_per_cpu_s"]["datatrove"] = round(mb / peer["cpu_seconds"], 3)
            report["cpu_seconds"]["datatrove"] = round(peer["cpu_seconds"], 3)
            report["ours_vs_datatrove"] = round(peer["cpu_seconds"] / best["ours"], 3)
            if engine:
                report["megatron_bytes_equal_datatrove"] = {
                    ext: Path(engine["dir"], f"tokens{ext}").read_bytes()
                    == Path(peer["megatron_prefix"] + ext).read_bytes()
                    for ext in (".bin", ".idx")
                }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
