"""The benchmark n-gram index: sorted uint64 n-gram hashes, each with the item it came from.

An item's keys are the n-grams of its fields read in order (n-grams may cross from the
question into its choices, as the item reads on a page), plus, for a field or a whole item
shorter than n but at least ``min_words`` long, its full word sequence ("matched whole").
Sorted numpy arrays cost 12 bytes a key (vs ~100 for a Python set of strings) and are
matched with one ``searchsorted`` per batch; a bitmap over the top hash bits rejects most
document n-grams before that binary search.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from dataprep.benchmarks.items import BenchmarkSet
from dataprep.decontam.ngrams import Tokens, rolling_ngrams, tokenize

BITS_PER_KEY = 32  # bitmap size: ~3% of non-matching n-grams pass to the binary search


@dataclass
class NgramIndex:
    """Sorted keys with their items; ``item_keys[i]`` = number of distinct keys of item i."""

    n: int
    min_words: int
    lengths: tuple[int, ...]  # n-gram lengths present (n, and shorter whole fields/items)
    keys: np.ndarray  # uint64, sorted
    items: np.ndarray  # uint32, item of each key (a key shared by items appears once per item)
    item_keys: np.ndarray  # uint32 per item
    _bitmap: np.ndarray = field(init=False, repr=False)
    _shift: np.uint64 = field(init=False, repr=False)

    def __post_init__(self) -> None:
        bits = max(20, int(np.ceil(np.log2(max(1, len(self.keys)) * BITS_PER_KEY))))
        self._shift = np.uint64(64 - bits)
        bitmap = np.zeros(1 << (bits - 3), np.uint8)
        slots = self.keys >> self._shift
        np.bitwise_or.at(bitmap, (slots >> np.uint64(3)).astype(np.int64), (1 << (slots & np.uint64(7))).astype(np.uint8))
        self._bitmap = bitmap

    def maybe_contains(self, keys: np.ndarray) -> np.ndarray:
        """False where a key is certainly absent; True where it may be present."""
        slots = keys >> self._shift
        return (self._bitmap[(slots >> np.uint64(3)).astype(np.int64)] >> (slots & np.uint64(7)).astype(np.uint8)) & 1 == 1

    def ranges(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``[lo, hi)`` of each key's entries in ``self.keys`` (empty when absent)."""
        return np.searchsorted(self.keys, keys, "left"), np.searchsorted(self.keys, keys, "right")

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.items.nbytes + self.item_keys.nbytes + self._bitmap.nbytes

    def to_table(self) -> pa.Table:
        """The keys and items as a table (for a stage's work dir), with n and min_words in metadata."""
        meta = {"n": str(self.n), "min_words": str(self.min_words), "lengths": ",".join(map(str, self.lengths)),
                "items": str(len(self.item_keys))}
        table = pa.table({"key": self.keys, "item": self.items})
        return table.replace_schema_metadata(meta)

    @classmethod
    def from_table(cls, table: pa.Table) -> "NgramIndex":
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        keys = table.column("key").to_numpy()
        items = table.column("item").to_numpy()
        item_keys = np.bincount(items, minlength=int(meta["items"])).astype(np.uint32)
        return cls(int(meta["n"]), int(meta["min_words"]), tuple(int(x) for x in meta["lengths"].split(",") if x),
                   keys, items, item_keys)


def item_keys(tokens: Tokens, field_item: np.ndarray, n_items: int, n: int, min_words: int) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, items)``, unique pairs, for fields tokenized in item order.

    ``tokens`` holds one text per field; ``field_item[f]`` is the item of field f.
    """
    field_len = tokens.lengths
    # Fields are in item order, so an item's words are contiguous: first start, last end.
    item_start = np.zeros(n_items, np.int64)
    item_end = np.zeros(n_items, np.int64)
    backwards = np.arange(len(field_item))[::-1]
    item_start[field_item[backwards]] = tokens.starts[backwards]  # the first field's start wins
    item_end[field_item] = tokens.ends  # the last field's end wins
    item_len = item_end - item_start
    word_item = np.repeat(field_item, field_len)
    word_end = np.repeat(item_end[field_item], field_len)
    out_keys, out_items = [], []
    for length, keys in rolling_ngrams(tokens.hashes, n):
        if length == n:
            ok = np.arange(len(keys)) + n <= word_end[: len(keys)]
            out_keys.append(keys[ok])
            out_items.append(word_item[: len(keys)][ok])
        if length >= min_words and length < n:
            whole_fields = np.flatnonzero(field_len == length)
            whole_items = np.flatnonzero(item_len == length)
            out_keys += [keys[tokens.starts[whole_fields]], keys[item_start[whole_items]]]
            out_items += [field_item[whole_fields], whole_items]
    if not out_keys:
        return np.zeros(0, np.uint64), np.zeros(0, np.uint32)
    keys = np.concatenate(out_keys)
    items = np.concatenate(out_items).astype(np.uint32)
    order = np.lexsort((items, keys))
    keys, items = keys[order], items[order]
    first = np.ones(len(keys), bool)
    first[1:] = (keys[1:] != keys[:-1]) | (items[1:] != items[:-1])
    return keys[first], items[first]


def build_index(sets: list[BenchmarkSet], n: int, min_words: int) -> tuple[NgramIndex, pa.Table]:
    """The index over every item of ``sets``, and a table naming item ``i`` (row i)."""
    texts: list[str] = []
    field_item: list[int] = []
    names: dict[str, list[str]] = {"benchmark": [], "split": [], "item_id": []}
    for bench in sets:
        for item in bench.items:
            texts += item.fields
            field_item += [len(names["item_id"])] * len(item.fields)
            names["benchmark"].append(bench.name)
            names["split"].append(bench.split)
            names["item_id"].append(item.item_id)
    n_items = len(names["item_id"])
    keys, items = item_keys(tokenize(texts), np.asarray(field_item, np.int64), n_items, n, min_words)
    lengths = tuple(sorted({n} | set(range(min_words, n)))) if len(keys) else ()
    counts = np.bincount(items, minlength=n_items).astype(np.uint32)
    return NgramIndex(n, min_words, lengths, keys, items, counts), pa.table(names)
