"""What one (writer, reader) read of a shuffle costs: a Parquet row group against an Arrow IPC
record batch, as the partition count grows (why ``Storage.write_partitioned`` writes IPC).

A shuffle phase of S writers and P readers reads S x P pieces: each writer's file holds one
piece per partition, and each reader opens every writer's file for its own piece. The cost of
one read must not grow with P, or the phase costs S x P x P. S = P files of 250 rows per piece
and five columns like dedup's exact-check rows (two uint64 nodes, shard, row, a list of hashes)
are written once per format, then every tenth partition is read from every file; CPU seconds
of this process (``time.process_time``).

    python bench/shuffle_reads.py --sizes 20 200
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

ROWS = 250  # rows per (writer, partition) piece


def piece_table(parts: int, rng: np.random.Generator) -> pa.Table:
    n = ROWS * parts
    return pa.table(
        {
            "a": rng.integers(0, 2**63, n, dtype=np.uint64),
            "b": rng.integers(0, 2**63, n, dtype=np.uint64),
            "shard_b": np.repeat(np.arange(parts), ROWS),
            "row_b": rng.integers(0, 50_000, n),
            "set_a": pa.array([[1, 2, 3]] * n, pa.list_(pa.uint64())),
        }
    )


def write(folder: Path, fmt: str, parts: int) -> None:
    rng = np.random.default_rng(0)
    for s in range(parts):
        table = piece_table(parts, rng)
        if fmt == "parquet":
            with pq.ParquetWriter(folder / f"{s:05d}", table.schema, compression="zstd") as w:
                for p in range(parts):
                    w.write_table(table.slice(p * ROWS, ROWS), row_group_size=ROWS)
        else:
            batch = table.combine_chunks().to_batches()[0]
            options = ipc.IpcWriteOptions(compression="lz4")
            with pa.OSFile(str(folder / f"{s:05d}"), "wb") as f, ipc.new_file(f, table.schema, options=options) as w:
                for p in range(parts):
                    w.write_batch(batch.slice(p * ROWS, ROWS))


def read_ms(folder: Path, fmt: str, parts: int) -> float:
    """CPU milliseconds per piece read, over every tenth partition of every file."""
    reads = 0
    t0 = time.process_time()
    for p in range(0, parts, max(1, parts // 10)):
        for s in range(parts):
            path = str(folder / f"{s:05d}")
            if fmt == "parquet":
                pq.ParquetFile(path).read_row_group(p)
            else:
                with pa.OSFile(path) as f:
                    ipc.open_file(f).get_batch(p)
            reads += 1
    return (time.process_time() - t0) / reads * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[20, 200], help="S = P values")
    args = ap.parse_args()
    for parts in args.sizes:
        for fmt in ("parquet", "ipc"):
            with tempfile.TemporaryDirectory() as tmp:
                write(Path(tmp), fmt, parts)
                ms = read_ms(Path(tmp), fmt, parts)
            row = {"writers=readers": parts, "format": fmt, "ms_per_read": round(ms, 3)}
            row["phase_cpu_s"] = round(ms * parts * parts / 1e3, 1)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
