"""Token streams with character offsets, shared by the span-level dedup stages.

A shard's documents become one flat stream of tokens: the document row, the character span
in the original text and a 64-bit value per token (equal tokens, equal values). Tokens are
either the pipeline tokenizer's ids or, without one, *words*: maximal runs of bytes that are
not ASCII whitespace (space, tab, LF, CR, VT, FF), the same split as ``bytes.split()``. About
1.3 GPT-2 tokens make a word of English prose, so ``min_tokens`` words is a slightly longer
span than ``min_tokens`` BPE tokens.

Words are found and hashed over the shard's UTF-8 buffer with numpy (no Python loop per
word): a polynomial hash mod 2^64 with an odd base, whose prefix sums give any span's hash
in O(1) because the base is invertible mod 2^64. Values may collide; callers that need
exactness compare the content (``window_content``) and use values only to route and group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

_WS = np.zeros(256, dtype=bool)
_WS[[9, 10, 11, 12, 13, 32]] = True
_MASK = (1 << 64) - 1
# Odd bases (invertible mod 2^64) for the byte and the token polynomial.
BYTE_BASE, TOKEN_BASE = 0x9E3779B97F4A7C15, 0xD6E8FEB86659FD93


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: spreads polynomial hashes over all 64 bits (for partitioning)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _powers(base: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``base**i`` and ``base**-i`` mod 2^64 for i in [0, n) (numpy uint64 products wrap)."""
    pw = np.full(n, base, dtype=np.uint64)
    pw[0] = 1
    inv = np.full(n, pow(base, -1, 1 << 64), dtype=np.uint64)
    inv[0] = 1
    with np.errstate(over="ignore"):
        return np.cumprod(pw, dtype=np.uint64), np.cumprod(inv, dtype=np.uint64)


def span_hashes(values: np.ndarray, starts: np.ndarray, ends: np.ndarray, base: int) -> np.ndarray:
    """Polynomial hash of ``values[s:e]`` for every (s, e), in O(len(values) + len(starts))."""
    pw, inv = _powers(base, len(values) + 1)
    prefix = np.zeros(len(values) + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        np.cumsum(values.astype(np.uint64) * pw[:-1], dtype=np.uint64, out=prefix[1:])
        return (prefix[ends] - prefix[starts]) * inv[starts]


@dataclass
class Tokens:
    """A shard's token stream, in document order then position order."""

    row: np.ndarray  # int64: document row in the shard
    start: np.ndarray  # int64: first character (Python str index) of the token
    end: np.ndarray  # int64: one past its last character
    value: np.ndarray  # uint64: equal tokens have equal values
    exact: bool  # values are the tokens themselves (tokenizer ids), not hashes

    def to_table(self) -> pa.Table:
        return pa.table({"row": self.row, "start": self.start, "end": self.end, "value": self.value})

    @classmethod
    def from_table(cls, table: pa.Table, exact: bool) -> Tokens:
        col = {n: table.column(n).to_numpy() for n in ("row", "start", "end", "value")}
        return cls(col["row"], col["start"], col["end"], col["value"], exact)

    def row_starts(self, rows: int) -> np.ndarray:
        """Index of each row's first token (rows without tokens point at the next one's)."""
        return np.searchsorted(self.row, np.arange(rows + 1))


def _utf8(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes of ``texts`` back to back and each text's byte offsets (no copy)."""
    arr = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    if pa.types.is_string(arr.type):
        arr = arr.cast(pa.large_string())  # int64 offsets whatever the input
    arr = arr.fill_null("")
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    return data, offsets


def word_tokens(texts: pa.Array) -> Tokens:
    """Words (runs of non-ASCII-whitespace bytes) of every text, vectorized over the shard."""
    data, offsets = _utf8(texts)
    lo, hi = int(offsets[0]), int(offsets[-1])
    data, offsets = data[lo:hi], offsets - lo
    n = len(data)
    ws = _WS[data]
    boundary = np.zeros(n + 1, dtype=bool)
    boundary[offsets] = True  # a text's first byte starts a word, its end ends one
    prev_ws = np.concatenate([[True], ws[:-1]]) if n else np.zeros(0, bool)
    starts = np.flatnonzero(~ws & (prev_ws | boundary[:-1]))
    next_ws = np.concatenate([ws[1:], [True]]) if n else np.zeros(0, bool)
    ends = np.flatnonzero(~ws & (next_ws | boundary[1:])) + 1
    row = np.searchsorted(offsets, starts, side="right") - 1
    # character offsets: a character starts at every byte that is not a UTF-8 continuation byte
    chars = np.zeros(n + 1, dtype=np.int64)
    np.cumsum((data & 0xC0) != 0x80, out=chars[1:])
    base = chars[offsets[row]]
    value = mix64(span_hashes(data, starts, ends, BYTE_BASE) ^ (ends - starts).astype(np.uint64))
    return Tokens(row.astype(np.int64), chars[starts] - base, chars[ends] - base, value, exact=False)


def tokenizer_tokens(texts: list[str], tokenizer) -> Tokens:  # noqa: ANN001 (tokenizers.Tokenizer)
    """The tokenizer's ids with their character offsets (no special tokens)."""
    encs = tokenizer.encode_batch(texts, add_special_tokens=False)
    lengths = np.fromiter((len(e.ids) for e in encs), dtype=np.int64, count=len(encs))
    total = int(lengths.sum())
    ids = np.fromiter((i for e in encs for i in e.ids), dtype=np.uint64, count=total)
    spans = np.fromiter((x for e in encs for o in e.offsets for x in o), dtype=np.int64, count=2 * total)
    row = np.repeat(np.arange(len(encs), dtype=np.int64), lengths)
    return Tokens(row, spans[0::2], spans[1::2], ids, exact=True)


def windows(tokens: Tokens, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Every window of ``k`` tokens inside one document: its first token and its hash.

    Equal windows always get equal hashes (the hash is a function of the token values), so
    grouping by hash never separates two copies of a span.
    """
    n = len(tokens.value)
    if n < k:
        return np.zeros(0, np.int64), np.zeros(0, np.uint64)
    first = np.arange(n - k + 1, dtype=np.int64)
    first = first[tokens.row[first] == tokens.row[first + k - 1]]
    return first, mix64(span_hashes(mix64(tokens.value), first, first + k, TOKEN_BASE))


def window_content(tokens: Tokens, texts: list[str], first: np.ndarray, k: int) -> list[bytes]:
    """The exact content of each window: its token ids, or its words joined by one space.

    Two windows have equal content exactly when their token sequences are equal (words hold
    no ASCII whitespace, so joining them with a space is injective).
    """
    if tokens.exact:
        ids = tokens.value.astype(np.uint32)
        return [ids[j : j + k].tobytes() for j in first.tolist()]
    out = []
    for j in first.tolist():
        text = texts[tokens.row[j]]
        out.append(b" ".join(text[tokens.start[j] : tokens.end[j + k - 1]].encode().split()))
    return out
