"""Megatron-LM indexed dataset (``MMapIndexedDataset``): the ``.idx`` writer and a reader.

The ``.bin`` is the documents' tokens back to back, little-endian, in the index's dtype.
The ``.idx`` layout, as documented in Megatron-LM (``megatron/core/datasets/indexed_dataset.py``
and its ``readme.md``):

* 9 bytes magic ``b"MMIDIDX\\x00\\x00"``, then u64 version = 1, then u8 dtype code
  (1 uint8, 2 int8, 3 int16, 4 int32, 5 int64, 6 float64, 7 float32, 8 uint16);
* u64 sequence count ``S``, u64 document-index length ``D`` (documents + 1);
* ``S`` × int32 sequence lengths (elements), ``S`` × int64 byte offsets into ``.bin``,
  ``D`` × int64 document index: document ``d`` spans sequences ``[doc_idx[d], doc_idx[d+1])``.

We write one sequence per document. Megatron has no uint32 code; ids of larger
vocabularies are written as int32 (same bytes for ids < 2^31, which every vocabulary is).

``read_index`` is written from that description alone, not from the writer's code, so a
round trip checks the writer against the documented layout rather than against itself.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

MAGIC = b"MMIDIDX\x00\x00"
VERSION = 1
DOC_IDX_CHUNK = 1 << 20  # document-index entries written at a time (8 MB)
DTYPE_CODES = {np.dtype(np.uint16): 8, np.dtype(np.uint32): 4, np.dtype(np.int32): 4}


def write_index(f: BinaryIO, count: int, pieces: Callable[[], Iterable[np.ndarray]], dtype: np.dtype) -> None:
    """Write the ``.idx`` for ``count`` documents, one sequence each, whose token lengths ``pieces()``
    yields in order, a piece (e.g. a shard) at a time: the index is streamed, never held whole."""
    f.write(MAGIC)
    f.write(struct.pack("<Q", VERSION))
    f.write(struct.pack("<B", DTYPE_CODES[np.dtype(dtype)]))
    f.write(struct.pack("<Q", count))
    f.write(struct.pack("<Q", count + 1))
    seen = 0
    for lengths in pieces():
        f.write(np.asarray(lengths, dtype="<i4").tobytes())
        seen += len(lengths)
    if seen != count:
        raise ValueError(f"Megatron index: {seen} document lengths for {count} documents")
    offset = 0
    for lengths in pieces():
        ends = offset + np.cumsum(np.asarray(lengths, dtype=np.int64) * np.dtype(dtype).itemsize)
        f.write(np.concatenate([[offset], ends[:-1]]).astype("<i8").tobytes() if len(ends) else b"")
        offset = int(ends[-1]) if len(ends) else offset
    for start in range(0, count + 1, DOC_IDX_CHUNK):
        f.write(np.arange(start, min(start + DOC_IDX_CHUNK, count + 1), dtype="<i8").tobytes())


@dataclass(frozen=True)
class MegatronIndex:
    """A parsed ``.idx``: element dtype, per-sequence lengths and byte offsets, document index."""

    dtype: np.dtype
    sizes: np.ndarray
    pointers: np.ndarray
    doc_idx: np.ndarray


_READ_DTYPES = {
    1: np.uint8,
    2: np.int8,
    3: np.int16,
    4: np.int32,
    5: np.int64,
    6: np.float64,
    7: np.float32,
    8: np.uint16,
}


def read_index(data: bytes) -> MegatronIndex:
    """Parse ``.idx`` bytes following Megatron's documented layout; errors say what is wrong."""
    if data[:9] != b"MMIDIDX\x00\x00":
        raise ValueError(f"not a Megatron index: magic is {data[:9]!r}")
    (version,) = struct.unpack_from("<Q", data, 9)
    if version != 1:
        raise ValueError(f"unsupported Megatron index version {version}")
    (code,) = struct.unpack_from("<B", data, 17)
    n_seq, n_doc = struct.unpack_from("<QQ", data, 18)
    pos = 34
    sizes = np.frombuffer(data, dtype="<i4", count=n_seq, offset=pos)
    pos += 4 * n_seq
    pointers = np.frombuffer(data, dtype="<i8", count=n_seq, offset=pos)
    pos += 8 * n_seq
    doc_idx = np.frombuffer(data, dtype="<i8", count=n_doc, offset=pos)
    return MegatronIndex(np.dtype(_READ_DTYPES[code]), sizes, pointers, doc_idx)


def read_documents(index: MegatronIndex, bin_path: str) -> list[np.ndarray]:
    """Each document's tokens (its sequences joined), read through a memory map of ``.bin``."""
    data = np.memmap(bin_path, dtype=np.uint8, mode="r")
    seqs = [data[p : p + n * index.dtype.itemsize].view(index.dtype) for p, n in zip(index.pointers, index.sizes)]
    return [
        np.concatenate(seqs[a:b]) if b > a else np.empty(0, index.dtype)
        for a, b in zip(index.doc_idx[:-1], index.doc_idx[1:])
    ]
