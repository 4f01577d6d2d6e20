"""MinHash signatures over word n-gram shingles, vectorized over a batch of documents.

Why not datasketch's ``MinHash``: it updates one shingle at a time in Python (0.7 MB/s
with sha1, 11 MB/s with ``bulk`` and xxh32, see docs/BENCHMARKS.md); here shingling and
hashing run as numpy array operations over the whole batch, the permutation minima over
cache-sized blocks of it, in 32-bit arithmetic (as datasketch's values): numpy multiplies
uint32 in SIMD lanes but uint64 one value at a time (minima 0.47 -> 0.32 CPU s per 200k short
documents).

Every hash is stable across processes, platforms and library versions: shingles are
polynomial hashes of their bytes (base from ``hash_seed``) and permutations are fixed integer
arithmetic. No Python ``hash()`` (salted per process),
no polars ``Series.hash`` (may change between polars versions), so stored signatures stay
comparable across runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa
import xxhash

EMPTY = np.iinfo(np.uint32).max  # signature value of a document without any word
_SPAN_SALT = 0x5EED5EED  # derives a shingle hash's polynomial base from ``hash_seed``
SPAN_BYTES = 1 << 18  # text bytes a shingle-hashing chunk takes: its arrays (8 bytes a byte) stay in L2/L3
_POWERS: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # per process: base -> powers, see ``_powers``
CACHE_SHINGLES = 32_768  # 128 KB of uint32: one permutation pass stays in L2
SHORT_SHINGLES = 64  # documents up to this many shingles are reduced in blocks of equal length
LOW_BITS = 4  # bits of each value that signature verification stores and compares (``low_bits``)


def mix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer: spreads every input bit over every output bit.

    Works in place on a copy: fresh temporaries per step cost more in page faults than the
    arithmetic itself."""
    x = np.array(x, dtype=np.uint64)
    for shift, mult in ((33, 0xFF51AFD7ED558CCD), (33, 0xC4CEB9FE1A85EC53)):
        np.bitwise_xor(x, x >> np.uint64(shift), out=x)
        np.multiply(x, np.uint64(mult), out=x)
    np.bitwise_xor(x, x >> np.uint64(33), out=x)
    return x


def splitmix64(seed: int, count: int) -> np.ndarray:
    """``count`` well-mixed 64-bit values from ``seed``; fixed arithmetic, never a library RNG
    whose stream could change between versions."""
    golden = np.uint64(0x9E3779B97F4A7C15)
    steps = np.arange(1, count + 1, dtype=np.uint64) * golden + np.uint64(seed % 2**64)
    return mix64(steps)


def shingle_hashes(texts: pl.Series, ngram: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of the word ``ngram``-grams of single-spaced texts (one space between words, none at
    the ends), all texts' back to back, and how many each text has. A text shorter than ``ngram``
    words gets one shingle of all its words; an empty one gets none.

    A shingle's hash is a polynomial hash of its bytes (its words and the spaces between them),
    read off prefix sums over the batch's Arrow buffer: ``sum((byte_i + 1) * q**(i - start))``
    mod 2**64 with ``q`` odd (from ``seed``), then ``mix64``. No word is split out, looked up
    or hashed one by one in Python: 1M short documents 3.2 -> 1.0 CPU s, where splitting into
    words, Arrow's dictionary of distinct words and xxh3 of each were 38% of sketching them. Mod
    2**64 a polynomial hash has known colliding pairs (e.g. Thue-Morse strings of 2 KB and more,
    whatever ``q``); an engineered collision only makes two shingles count as one.
    """
    arr = texts.fill_null("").to_arrow()
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    offsets = np.frombuffer(arr.buffers()[1], np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(arr.buffers()[2], np.uint8) if len(arr) else np.zeros(0, np.uint8)
    q = int(mix64(np.array([seed ^ _SPAN_SALT], np.uint64))[0]) | 1
    cuts = np.searchsorted(offsets, np.arange(offsets[0], offsets[-1], SPAN_BYTES), side="right") - 1
    bounds = sorted({0, len(arr), *cuts.tolist()})
    pieces = [_span_chunk(data, offsets[a : b + 1], ngram, q) for a, b in zip(bounds, bounds[1:])]
    if not pieces:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    return np.concatenate([h for h, _ in pieces]), np.concatenate([n for _, n in pieces])


def _span_chunk(data: np.ndarray, offsets: np.ndarray, ngram: int, q: int) -> tuple[np.ndarray, np.ndarray]:
    """``shingle_hashes`` of the texts at ``offsets`` into ``data`` (a few hundred KB of text)."""
    text = data[offsets[0] : offsets[-1]]
    offsets = offsets - offsets[0]
    up, down = _powers(q, len(text))
    prefix = np.zeros(len(text) + 1, np.uint64)  # prefix[j]: sum of (byte_i + 1) * q**i over i < j
    np.add(text, 1, out=prefix[1:], dtype=np.uint64)
    np.multiply(prefix[1:], up[: len(text)], out=prefix[1:])
    np.add.accumulate(prefix, out=prefix)
    space = text == ord(" ")
    nonempty = offsets[1:] > offsets[:-1]
    word_start = np.zeros(len(text) + 1, bool)  # after a space, or a text's first byte
    word_start[1:] = space
    word_start[offsets[:-1][nonempty]] = True
    word_end = np.zeros(len(text) + 1, bool)  # a space, or a text's end (exclusive)
    word_end[:-1] = space
    word_end[offsets[1:][nonempty]] = True
    starts, ends = np.flatnonzero(word_start[:-1]), np.flatnonzero(word_end)
    counts = np.diff(np.searchsorted(starts, offsets))
    last = np.cumsum(counts)
    per_doc = np.maximum(counts - ngram + 1, np.minimum(counts, 1))
    first_word = np.repeat(last - counts, per_doc) + ranges(per_doc)
    last_word = np.minimum(first_word + ngram - 1, np.repeat(last - 1, per_doc))
    begin = starts[first_word]
    hashes = prefix[ends[last_word]] - prefix[begin]
    hashes *= down[begin]  # q**-begin: the same bytes hash alike wherever they stand
    return mix64(hashes), per_doc


def _powers(q: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``q**i`` and ``q**-i`` mod 2**64 for i < n (at least): kept for chunks of ``SPAN_BYTES``,
    computed afresh only for a longer single text."""
    cached = _POWERS.get(q)
    if cached is None or len(cached[0]) < n:
        size = max(n, 2 * SPAN_BYTES)
        up, down = np.full(size, q, np.uint64), np.full(size, pow(q, -1, 2**64), np.uint64)
        up[0] = down[0] = 1
        cached = (np.multiply.accumulate(up), np.multiply.accumulate(down))
        if size == 2 * SPAN_BYTES:
            _POWERS[q] = cached
    return cached


def fold32(hashes: np.ndarray) -> np.ndarray:
    """64-bit hashes folded to 32 bits (high xor low): the permutations' input."""
    return (hashes ^ (hashes >> np.uint64(32))).astype(np.uint32)


def ranges(lengths: np.ndarray) -> np.ndarray:
    """0..n-1 for each n in ``lengths``, back to back."""
    return np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)


@dataclass(frozen=True)
class MinHasher:
    """``num_perm`` min-wise hashes of word ``ngram``-gram shingles.

    Permutation ``i`` is ``x -> a_i * x + b_i mod 2**32`` (``a_i`` odd, a bijection) applied to
    the shingle hash folded to 32 bits; the signature keeps its minimum per document. 32 bits:
    two of a document's n shingles share a folded hash with probability ~n^2 / 2^33 (1e-6 at 100
    shingles; about one pair among 10^5 shingles), too rare to move an estimate.
    """

    num_perm: int = 128
    ngram: int = 5
    seed: int = 1
    _a: np.ndarray = field(init=False, repr=False, compare=False)
    _b: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        params = splitmix64(self.seed, 2 * self.num_perm)
        object.__setattr__(self, "_a", (params[: self.num_perm] | np.uint64(1)).astype(np.uint32))
        object.__setattr__(self, "_b", params[self.num_perm :].astype(np.uint32))

    def signatures(self, normalized: pl.Series, single_spaced: bool = False) -> np.ndarray:
        """A ``(len(normalized), num_perm)`` uint32 matrix; rows of empty texts are all ``EMPTY``.

        ``single_spaced``: the texts have exactly one space between words (a faster split)."""
        return self.of_shingles(*self.shingles(normalized, single_spaced))

    def shingles(self, normalized: pl.Series, single_spaced: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The shingle hashes of all texts back to back, and how many each text has."""
        if not single_spaced:
            normalized = normalized.str.replace_all(r"\s+", " ").str.strip_chars(" ")
        return shingle_hashes(normalized, self.ngram, self.seed)

    def of_shingles(self, shingles: np.ndarray, per_doc: np.ndarray) -> np.ndarray:
        """Signatures of documents given as their shingle hashes back to back (see ``shingles``):
        the ``(docs, num_perm)`` minima of every permutation over each document's shingles
        (``EMPTY`` for a document without any).

        Works on blocks of about ``CACHE_SHINGLES`` shingles, so each permutation's pass stays in
        the CPU cache (3x faster than whole-batch passes). A short document's minimum is not a
        ``minimum.reduceat`` segment, whose fixed cost per segment was 2.4 ns a value over the
        ~14 shingles of a 100-byte document: documents with the same number ``c`` of shingles
        (up to ``SHORT_SHINGLES``) form a ``(c, docs)`` block, reduced down its columns in
        whole-row passes: 1.65 -> 0.78 CPU s for 200k short documents. Longer ones (and lengths
        too rare to fill a block) keep ``reduceat``, whose fixed cost their length amortizes.
        """
        shingles = fold32(shingles)
        out = np.empty((len(per_doc), self.num_perm), dtype=np.uint32)  # every row is written below
        out[per_doc == 0] = EMPTY
        starts = np.cumsum(per_doc) - per_doc
        # a block of length-c documents holds up to CACHE_SHINGLES + c - 1 values (array_split rounds up)
        largest = max(CACHE_SHINGLES + SHORT_SHINGLES, int(per_doc.max(initial=0)))
        buf = np.empty(min(len(shingles), largest), dtype=np.uint32)
        lengths, docs_of = np.unique(per_doc[(per_doc > 0) & (per_doc <= SHORT_SHINGLES)], return_counts=True)
        blocked = lengths[docs_of >= 32]  # a block's 3 x num_perm numpy calls want some documents
        for count in blocked.tolist():
            docs = np.flatnonzero(per_doc == count)
            for chunk in np.array_split(docs, -(-len(docs) * count // CACHE_SHINGLES)):
                block = shingles[starts[chunk] + np.arange(count)[:, None]]  # row k: each one's k-th shingle
                work = buf[: block.size].reshape(block.shape)
                out[chunk] = self._minima(block, work, len(chunk)).T
        long = np.flatnonzero((per_doc > 0) & ~np.isin(per_doc, blocked))
        ends = np.cumsum(per_doc[long])
        first = 0
        while first < len(long):
            start = ends[first] - per_doc[long[first]]
            last = max(first + 1, int(np.searchsorted(ends, start + CACHE_SHINGLES, side="right")))
            chunk, counts = long[first:last], per_doc[long[first:last]]
            rows: slice | np.ndarray = chunk
            if chunk[-1] - chunk[0] == len(chunk) - 1:  # consecutive documents: slices, no copies
                rows = slice(chunk[0], chunk[-1] + 1)
                values = shingles[starts[chunk[0]] : starts[chunk[-1]] + counts[-1]]
            else:
                values = shingles[np.repeat(starts[chunk], counts) + ranges(counts)]
            out[rows] = self._minima(values, buf[: len(values)], len(chunk), np.cumsum(counts) - counts).T
            first = last
        return out

    def _minima(
        self, values: np.ndarray, work: np.ndarray, docs: int, offsets: np.ndarray | None = None
    ) -> np.ndarray:
        """The ``(num_perm, docs)`` block of minima of each permutation applied to ``values``
        (into ``work``, a buffer of their shape): down the columns of a ``(c, docs)`` block, or
        over the segments of flat ``values`` starting at ``offsets``."""
        block = np.empty((self.num_perm, docs), dtype=np.uint32)
        for i in range(self.num_perm):
            np.multiply(values, self._a[i], out=work)
            np.add(work, self._b[i], out=work)
            if offsets is None:
                np.minimum.reduce(work, axis=0, out=block[i])
            else:
                np.minimum.reduceat(work, offsets, out=block[i])
        return block


def low_bits(signatures: np.ndarray) -> np.ndarray:
    """The low 4 bits of each value, two values a byte: all that signature verification stores
    and compares (b-bit minwise hashing, Li & Koenig 2010).

    Two different minima agree there by chance with probability 1/16, which
    ``lsh.estimate_similarity`` corrects for and ``DedupConfig.margin`` widens its band by
    (standard error at 0.8 and 128 values: 0.0368, whole values 0.0354). The signatures a pass
    writes for verification are then 64 bytes a document: with 16 bits a value (256 bytes) they
    were the largest part of the pass's scratch on 100-byte documents (264 of 570 bytes)."""
    low = (signatures & 0xF).astype(np.uint8)
    return low[:, 0::2] | (low[:, 1::2] << np.uint8(4))


def pack(signatures: np.ndarray) -> pa.Array:
    """Signatures as one fixed-size binary value each (``num_perm`` little-endian values of the
    matrix's integer width), built on the matrix's buffer without a copy: Parquet writes such a
    column 3x and reads it 7x faster than a fixed-size list of integers (measured on 50k x 128
    values: 0.15 vs 0.44 s and 0.09 vs 0.66 s). Readers get it back as binary (polars has no
    fixed-size binary): see ``unpack``."""
    rows = np.ascontiguousarray(signatures, dtype=signatures.dtype.newbyteorder("<"))
    width = rows.shape[1] * rows.itemsize
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(rows), [None, pa.py_buffer(rows)])


def unpack(blobs: pl.Series, num_perm: int) -> np.ndarray:
    """The matrix of packed signatures (see ``pack``): ``(len(blobs), num_perm)`` whole uint32
    values, or ``(len(blobs), num_perm // 2)`` bytes of two 4-bit values (``low_bits``), as their
    width says."""
    arr = blobs.to_arrow()
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    if not len(arr):
        return np.zeros((0, num_perm), np.uint32)
    width = len(arr[0].as_py())
    dtype = {4 * num_perm: np.dtype("<u4"), num_perm // 2: np.dtype("u1")}.get(width)
    if dtype is None:  # 64-bit values, or 16-bit low bits: written by an older dataprep
        raise ValueError(f"signatures of {width} bytes for {num_perm} values: from an older dataprep; run dedup again")
    fixed = arr.cast(pa.binary(width))
    per_row = width // dtype.itemsize
    values = np.frombuffer(fixed.buffers()[1], dtype=dtype)
    return values[fixed.offset * per_row : (fixed.offset + len(fixed)) * per_row].reshape(len(fixed), per_row)


def exact_digests(normalized: pl.Series) -> list[bytes]:
    """128-bit xxh3 digest of each normalized text: equal digests mean equal texts (the
    chance of a collision among 10^12 documents is about 10^-15)."""
    return list(map(xxhash.xxh3_128_digest, normalized.cast(pl.Binary).to_list()))  # UTF-8 bytes by one cast


def exact_keys(digests: list[bytes]) -> np.ndarray:
    """The first 64 bits of each exact digest: routes exact groups to partitions and tells
    exact copies apart inside an LSH bucket (two different texts in one bucket share them with
    probability 2**-64)."""
    return np.frombuffer(b"".join(digests), dtype="<u8")[::2].copy() if digests else np.zeros(0, np.uint64)
