"""How the whole pipeline's cost grows with the corpus (issue 12 item 6).

Corpora, built from ``../shared/data`` (via the quickstart's six domain samples, which are
cut from it; see pipelines/data/quickstart/SOURCES.md):
* **scale k** (1x, 4x, 16x): the quickstart's 882 documents plus a near-duplicate of 5% of
  them (1% of words replaced by other words of the same document: word-5-gram Jaccard ~0.9,
  so dedup has real near-duplicates to find), and k-1 *ciphered* copies of that (each word
  through a permutation of the vocabulary among words of the same length, see
  bench/substring_dedup.py): the k-x corpus has exactly k times the bytes, documents and
  duplicate structure, and its words are still English words (the language filter keeps them).
  The six quickstart stages run on it with ``budget_tokens`` scaled by k.
* **short documents**: N documents of ~100 bytes (word-bounded pieces of the ciphered text,
  3% exact repeats), through ingest, dedup, mix, tokenize.

Measurement: Ray is started once in this process (2 CPUs); the pipeline runs stage prefix by stage
prefix with ``resume`` (the earlier stages are verified and reused, a few hashes), so each stage's
cost is the difference. A sampler thread reads every process of this process's tree (driver, Ray's
services, task workers) every 0.2 s with psutil: CPU seconds (user + system; a process that exits
keeps its last reading; the sampler's own CPU time is taken off the driver's), and peak RSS of the
driver and of the largest worker: the kernel's high-water mark (``VmHWM``), reset in every process
when a stage starts (``clear_refs``), so a spike between two samples counts and a stage with ten
times more tasks is not judged by more samples. Scratch: bytes and files left in each stage's
``_work`` directory, the most files in one of its folders (a shuffle phase), and the bytes relative
to the stage's input Parquet shards. The growth exponent is the least-squares slope of log(CPU) on
log(scale).

    python bench/scale.py --scales 1 4 16 --short 100000 400000 --out /tmp/scale.json
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import logging
import math
import multiprocessing
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from substring_dedup import WORD, cipher, cipher_table  # noqa: E402 - bench scripts are not a package

QUICKSTART = REPO / "pipelines" / "quickstart.yaml"
SHARD_ROWS = 500


def base_corpus() -> dict[str, list[str]]:
    """The quickstart's documents by domain, plus a near-duplicate of 5% of them."""
    import yaml

    rng = random.Random(12)
    spec = yaml.safe_load(QUICKSTART.read_text())
    domains: dict[str, list[str]] = {}
    for inp in spec["stages"][0]["inputs"]:
        with gzip.open(REPO / "pipelines" / inp["path"], "rt") as f:
            domains.setdefault(inp["domain"], []).extend(json.loads(line)["text"] for line in f)
    for texts in domains.values():
        for text in list(texts):
            if rng.random() < 0.05:
                words = WORD.findall(text)
                texts.append(WORD.sub(lambda m: rng.choice(words) if rng.random() < 0.01 else m.group(), text))
    return domains


def scaled(base: dict[str, list[str]], k: int) -> dict[str, list[str]]:
    """The base and k-1 ciphered copies of it (one permutation per copy, over all domains)."""
    names = sorted(base)
    flat = [t for n in names for t in base[n]]
    copies = [flat] + [cipher(flat, seed) for seed in range(2, k + 1)]
    out: dict[str, list[str]] = {n: [] for n in names}
    for copy in copies:
        it = iter(copy)
        for n in names:
            out[n].extend(next(it) for _ in base[n])
    return out


def write_corpus(domains: dict[str, list[str]], folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    size = 0
    for name, texts in domains.items():
        with open(folder / f"{name}.jsonl", "w") as f:
            for t in texts:
                f.write(json.dumps({"text": t}) + "\n")
        size += sum(len(t.encode()) for t in texts)
    return size


def in_child(fn, *args):  # noqa: ANN001, ANN201 - any picklable function of this module
    """``fn(*args)`` in a spawned process: the corpus is built and written there, so the driver
    whose memory is measured never holds it (10M short documents are ~1.5 GB of Python strings)."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def write_scaled(k: int, folder: Path) -> tuple[int, int]:
    """Documents and text bytes of the k-x corpus, written to ``folder``."""
    domains = scaled(base_corpus(), k)
    return sum(map(len, domains.values())), write_corpus(domains, folder)


def write_short(n: int, folder: Path) -> int:
    """Text bytes of the ``n`` short documents, written to ``folder``."""
    return write_corpus(short_corpus(base_corpus(), n), folder)


def short_corpus(base: dict[str, list[str]], n: int) -> dict[str, list[str]]:
    """``n`` documents of ~100 bytes, word-bounded, in two domains; 3% exact repeats."""
    rng = random.Random(7)
    flat = [WORD.findall(t) for name in sorted(base) for t in base[name]]
    vocabulary = {w for words in flat for w in words}
    out: list[str] = []
    seed = 1
    while len(out) < n:
        # a ciphered text's words are the original's words through the table (whitespace kept)
        table = None if seed == 1 else cipher_table(vocabulary, 100 + seed)
        seed += 1
        for words in flat:
            piece: list[str] = []
            size = 0  # characters of the piece's words plus one separator each
            for w in words if table is None else [table[w] for w in words]:
                piece.append(w)
                size += len(w) + 1
                if size >= 100:
                    out.append(" ".join(piece))
                    piece, size = [], 0
                    if rng.random() < 0.03:
                        out.append(out[-1])
    out = out[:n]
    return {"a": out[0::2], "b": out[1::2]}


class Sampler(threading.Thread):
    """CPU seconds and RSS of every process of this process's tree, sampled every 0.2 s.

    The sampling itself (psutil over every process, a walk of the stage's ``_work``) runs in the
    driver process; its own CPU time is measured and taken off the driver's figure, so the
    pipeline is not charged for its measurement."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.me = psutil.Process()
        self.cpu: dict[int, float] = {}
        self.role: dict[int, str] = {}
        self.peak = {"driver": 0, "worker": 0, "scratch": 0}
        self.lock = threading.Lock()
        self.running = True
        self.work: Path | None = None  # the running stage's _work, whose size is sampled too
        self.own = 0.0  # CPU seconds spent sampling (in this process: off the driver's figure)

    def sample(self) -> None:
        start = time.thread_time()
        self._sample()
        if self.work is not None:
            size = folder_bytes(self.work)
            with self.lock:
                self.peak["scratch"] = max(self.peak["scratch"], size)
        with self.lock:
            self.own += time.thread_time() - start

    def _sample(self) -> None:
        for proc in [self.me, *self.me.children(recursive=True)]:
            try:
                with proc.oneshot():
                    t = proc.cpu_times()
                    rss = proc.memory_info().rss
                    if proc.pid not in self.role:
                        title = " ".join(proc.cmdline())
                        self.role[proc.pid] = (
                            "driver"
                            if proc.pid == self.me.pid
                            else "worker"
                            if "default_worker" in title or ("ray::" in title and "Agent" not in title)
                            else "ray"
                        )
            except psutil.Error:
                continue
            role = self.role[proc.pid]
            peak = (high_water(proc.pid) or rss) if role in self.peak else 0  # read before taking the lock
            with self.lock:
                self.cpu[proc.pid] = t.user + t.system
                if role in self.peak:
                    self.peak[role] = max(self.peak[role], peak)

    def run(self) -> None:
        while self.running:
            self.sample()
            time.sleep(0.2)

    def window(self) -> tuple[dict[str, float], dict[str, int]]:
        """CPU so far by role (driver, worker, ray: Ray's own services) and the peaks since the
        last call (which resets them)."""
        self.sample()
        with self.lock:
            cpu = {"driver": 0.0, "worker": 0.0, "ray": 0.0}
            for pid, seconds in self.cpu.items():
                cpu[self.role[pid]] += seconds
            cpu["driver"] -= self.own
            peak = dict(self.peak)
            self.peak = {"driver": 0, "worker": 0, "scratch": 0}
            for pid in self.cpu:
                reset_high_water(pid)
        return cpu, peak


def high_water(pid: int) -> int | None:
    """Peak resident bytes of a process since its last ``reset_high_water`` (Linux ``VmHWM``)."""
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    return None


def reset_high_water(pid: int) -> None:
    """Start a process's ``VmHWM`` again from its current RSS (Linux >= 4.0; a process that ended is skipped)."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under ``folder`` now (files may vanish while it is walked)."""
    total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, name)).st_size
    return total


def scratch(stage_dir: Path) -> tuple[int, int, int]:
    """Bytes and files left in the stage's ``_work``, and the most files in one folder of it
    (a shuffle phase's folder: issue 12 wants <= 4 x (shards + partitions))."""
    files = [p for p in (stage_dir / "_work").rglob("*") if p.is_file()]
    per_folder: dict[Path, int] = {}
    for p in files:
        per_folder[p.parent] = per_folder.get(p.parent, 0) + 1
    return sum(p.stat().st_size for p in files), len(files), max(per_folder.values(), default=0)


def input_bytes(run_dir: Path, manifest: dict) -> int:
    """Parquet bytes of the stage's input shards (what the scratch target is relative to)."""
    return sum(
        (run_dir / i["path"]).stat().st_size for i in manifest.get("inputs", []) if (run_dir / i["path"]).exists()
    )


def run_stages(pipeline: dict, out: Path, sampler: Sampler, text_bytes: int) -> list[dict]:
    """Each stage in turn (prefix runs with resume); its CPU, memory and scratch."""
    from dataprep.api import run

    rows = []
    cpu0, _ = sampler.window()
    own0 = sampler.own
    for i in range(len(pipeline["stages"])):
        prefix = {**pipeline, "stages": pipeline["stages"][: i + 1]}
        sampler.work = out / f"{i:02d}-{pipeline['stages'][i]['stage']}" / "_work"
        t0 = time.monotonic()
        res = run(prefix, output=str(out), resume=i > 0, verbose=False, report=False, base_dir=str(REPO / "pipelines"))
        wall = time.monotonic() - t0
        sampler.work = None
        cpu1, peak = sampler.window()
        outcome = res.stages[-1]
        counts = outcome.manifest["counts"]
        sbytes, sfiles, sfolder = scratch(Path(outcome.dir))
        ibytes = input_bytes(out, outcome.manifest)
        by_role = {role: round(cpu1[role] - cpu0[role], 2) for role in cpu1}
        cpu = sum(cpu1.values()) - sum(cpu0.values())
        rows.append(
            {
                "stage": outcome.name,
                "docs_in": counts["in"],
                "docs_out": counts["out"],
                "cpu_s": round(cpu, 2),
                "cpu_s_by_role": by_role,
                "sampler_cpu_s": round(sampler.own - own0, 2),  # taken off the driver's figure
                "wall_s": round(wall, 1),
                "mb_per_cpu_s": round(text_bytes / 1e6 / cpu, 3),
                "docs_per_cpu_s": round(counts["in"] / cpu),
                "driver_peak_mb": round(peak["driver"] / 2**20),
                "worker_peak_mb": round(peak["worker"] / 2**20),
                "scratch_mb": round(sbytes / 1e6, 2),
                "scratch_files": sfiles,
                "scratch_files_per_folder_max": sfolder,
                "input_parquet_mb": round(ibytes / 1e6, 2),
                "scratch_per_input_parquet": round(sbytes / ibytes, 2) if ibytes else None,
                "scratch_peak_mb": round(peak["scratch"] / 1e6, 2),
                "scratch_peak_per_input_parquet": round(peak["scratch"] / ibytes, 2) if ibytes else None,
                "stage_files": sum(1 for p in Path(outcome.dir).rglob("*") if p.is_file()),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
        cpu0, own0 = cpu1, sampler.own
    return rows


def quickstart_pipeline(folder: Path, k: int) -> dict:
    import yaml

    spec = yaml.safe_load(QUICKSTART.read_text())
    ingest = spec["stages"][0]
    ingest["shard_rows"] = SHARD_ROWS
    ingest["inputs"] = [{**i, "path": str(folder / f"{i['domain']}.jsonl")} for i in ingest["inputs"]]
    mix = next(s for s in spec["stages"] if s["stage"] == "mix")
    mix["budget_tokens"] *= k
    return spec


def short_pipeline(folder: Path, n: int, shard_rows: int = 50_000, bounds: dict | None = None) -> dict:
    """``bounds``: ``unit_bytes`` (ingest) and ``memory_per_task`` (dedup), when given; set below
    what 1M documents would use anyway, the same bound binds at every size, so memory can be
    compared across sizes (by default, 1M documents get smaller read units and dedup partitions
    than the configured caps, and 10M documents the caps)."""
    bounds = bounds or {}
    spec = {
        "name": "short-docs",
        "seed": 1,
        "tokenizer": "tokenizers/quickstart-bpe4k.json",
        "stages": [
            {
                "stage": "ingest",
                "shard_rows": shard_rows,
                "inputs": [{"path": str(folder / f"{d}.jsonl"), "domain": d, "source": d} for d in ("a", "b")],
            },
            {"stage": "dedup", "threshold": 0.8},
            {"stage": "mix", "weights": {"a": 0.5, "b": 0.5}, "budget_tokens": 15 * n},
            {"stage": "tokenize"},
        ],
    }
    if "unit_bytes" in bounds:
        spec["stages"][0]["unit_bytes"] = bounds["unit_bytes"]
    if "memory_per_task" in bounds:
        spec["stages"][1]["memory_per_task"] = bounds["memory_per_task"]
    return spec


def exponent(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of log(cost) on log(size)."""
    if len(points) < 2:
        return None
    xs = [math.log(x) for x, _ in points]
    ys = [math.log(y) for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return round(sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs), 3)


def start(prefix: str, num_cpus: int) -> tuple[Path, Sampler]:
    """A temp work dir, Ray started in it (as the engine's workers run: one thread per library),
    and a running sampler of this process tree."""
    import ray

    from dataprep.engine.executor import WORKER_ENV

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    work = Path(tempfile.mkdtemp(prefix=prefix))
    ray.init(
        num_cpus=num_cpus,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        _temp_dir=str(work / "ray"),
        runtime_env={"env_vars": WORKER_ENV},
    )
    sampler = Sampler()
    sampler.start()
    return work, sampler


def machine() -> dict:
    """Where and when a benchmark ran: machine, load, commit, date."""
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}",
        "load_average_start": os.getloadavg()[0],
        "commit": subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", type=int, nargs="*", default=[1, 4, 16])
    ap.add_argument("--short", type=int, nargs="*", default=[100_000], help="short-document run sizes")
    ap.add_argument(
        "--short-stages",
        nargs="*",
        default=["ingest", "dedup", "mix", "tokenize"],
        help="stages of the short-document runs (a prefix, e.g. ingest dedup: mix tokenizes every document)",
    )
    ap.add_argument("--shard-rows", type=int, default=50_000, help="ingest shard rows of the short-document runs")
    ap.add_argument("--unit-bytes", type=int, help="ingest unit_bytes of the short-document runs")
    ap.add_argument("--memory-per-task", type=int, help="dedup memory_per_task of the short-document runs")
    ap.add_argument("--num-cpus", type=int, default=2)
    ap.add_argument("--out", help="JSON results file")
    args = ap.parse_args()

    import ray

    work, sampler = start("dp-scale-", args.num_cpus)
    report: dict = {
        **machine(),
        "scales": {},
        "short": {},
    }
    for k in args.scales:
        docs, size = in_child(write_scaled, k, work / f"corpus-{k}x")
        print(f"# scale {k}x: {docs} documents, {size / 1e6:.1f} MB", flush=True)
        rows = run_stages(quickstart_pipeline(work / f"corpus-{k}x", k), work / f"run-{k}x", sampler, size)
        report["scales"][k] = {"docs": docs, "mb": round(size / 1e6, 2), "stages": rows}
    for n in args.short:
        size = in_child(write_short, n, work / f"short-{n}")
        print(f"# short: {n} documents, {size / 1e6:.1f} MB", flush=True)
        bounds = {k: v for k, v in (("unit_bytes", args.unit_bytes), ("memory_per_task", args.memory_per_task)) if v}
        spec = short_pipeline(work / f"short-{n}", n, args.shard_rows, bounds)
        spec["stages"] = [st for st in spec["stages"] if st["stage"] in args.short_stages]
        rows = run_stages(spec, work / f"run-short-{n}", sampler, size)
        report["short"][n] = {"docs": n, "mb": round(size / 1e6, 2), "stages": rows}
    sampler.running = False
    ray.shutdown()
    scales = report["scales"]
    if len(scales) > 1:
        names = [r["stage"] for r in next(iter(scales.values()))["stages"]]
        report["exponent"] = {
            name: exponent(
                [(k, next(r["cpu_s"] for r in v["stages"] if r["stage"] == name)) for k, v in scales.items()]
            )
            for name in names
        }
        report["exponent"]["total"] = exponent([(k, sum(r["cpu_s"] for r in v["stages"])) for k, v in scales.items()])
    report["load_average_end"] = os.getloadavg()[0]
    print(json.dumps({"exponent": report.get("exponent")}), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
