"""Finding benchmark n-grams in documents and turning hits into character spans.

Two speeds: ``find_hits`` runs over every document of a batch with numpy (no Python per
word); ``word_spans`` and ``match_spans`` run only for the few documents with hits, to
say where in the original text (not the normalized one) each match lies.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from dataprep.decontam.index import NgramIndex
from dataprep.decontam.ngrams import APOSTROPHES, NON_WORD, Tokens, normalize, rolling_ngrams, text_ends, tokenize


@dataclass
class Hits:
    """Index n-grams found in a batch: one row per (occurrence, item holding the n-gram)."""

    text: np.ndarray  # int64: which text of the batch
    word: np.ndarray  # int64: first word of the n-gram within its text
    length: np.ndarray  # int64: words in the n-gram
    key: np.ndarray  # uint64
    item: np.ndarray  # uint32: item row in the index

    def __len__(self) -> int:
        return len(self.key)

    def select(self, mask: np.ndarray) -> Hits:
        return Hits(self.text[mask], self.word[mask], self.length[mask], self.key[mask], self.item[mask])

    def to_table(self) -> pa.Table:
        return pa.table({f: getattr(self, f) for f in _HIT_FIELDS})

    @classmethod
    def from_table(cls, table: pa.Table) -> Hits:
        return cls(*(table.column(f).to_numpy() for f in _HIT_FIELDS))


_HIT_FIELDS = ("text", "word", "length", "key", "item")


def _empty_hits() -> Hits:
    z = np.zeros(0, np.int64)
    return Hits(z, z, z, np.zeros(0, np.uint64), np.zeros(0, np.uint32))


def find_hits(tokens: Tokens, index: NgramIndex) -> Hits:
    """Every occurrence of an index key inside one text of ``tokens``."""
    if not index.lengths or len(tokens.hashes) == 0:
        return _empty_hits()
    ends = text_ends(tokens)
    positions, lengths, keys = [], [], []
    for length, grams in rolling_ngrams(tokens.hashes, index.lengths):
        cand = np.flatnonzero(index.maybe_contains(grams, length))
        cand = cand[cand + length <= ends[cand]]
        positions.append(cand)
        lengths.append(np.full(len(cand), length, np.int64))
        keys.append(grams[cand])
    if not positions:
        return _empty_hits()
    pos, length, key = np.concatenate(positions), np.concatenate(lengths), np.concatenate(keys)
    lo, hi = index.ranges(key)
    count = hi - lo
    # One row per (occurrence, item): a key shared by k items yields k rows.
    row = np.repeat(np.arange(len(key)), count)
    entry = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count) + lo[row]
    pos, length, key = pos[row], length[row], key[row]
    text = np.searchsorted(tokens.ends, pos, "right")
    return Hits(text, pos - tokens.starts[text], length, key, index.items[entry])


SCAN_CHARS = 32 << 20  # characters tokenized at once: bounds the word arrays' memory


def scan(texts: Sequence[str | None], index: NgramIndex) -> Hits:
    """``find_hits`` over any number of texts, a bounded batch at a time."""
    parts, start = [], 0
    while start < len(texts):
        end, chars = start, 0
        while end < len(texts) and (end == start or chars < SCAN_CHARS):
            chars += len(texts[end] or "")
            end += 1
        hits = find_hits(tokenize(texts[start:end]), index)
        hits.text += start
        parts.append(hits)
        start = end
    if not parts:
        return _empty_hits()
    return Hits(*(np.concatenate([getattr(h, f) for h in parts]) for f in _HIT_FIELDS))


def doc_frequency(hits: Hits) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, documents)``: how many distinct texts hold each key found."""
    if len(hits) == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    pairs = np.unique(np.stack([hits.key, hits.text.astype(np.uint64)], axis=1), axis=0)
    return np.unique(pairs[:, 0], return_counts=True)


def common_keys(key_lists: Sequence[tuple[np.ndarray, np.ndarray]], max_docs: int) -> np.ndarray:
    """Keys seen in more than ``max_docs`` documents over all batches (GPT-3's rule), sorted."""
    keys = np.concatenate([k for k, _ in key_lists]) if key_lists else np.zeros(0, np.uint64)
    docs = np.concatenate([d for _, d in key_lists]) if key_lists else np.zeros(0, np.int64)
    uniq, inverse = np.unique(keys, return_inverse=True)
    totals = np.bincount(inverse, weights=docs, minlength=len(uniq))
    return uniq[totals > max_docs]


def drop_keys(hits: Hits, keys: np.ndarray) -> Hits:
    """Hits without the given (common) keys."""
    return hits.select(~np.isin(hits.key, keys)) if len(keys) and len(hits) else hits


@dataclass
class ItemMatch:
    """One benchmark item found in one text: its n-grams found and where they lie."""

    text: int
    item: int
    matched_keys: int  # distinct item n-grams found in the text
    overlap: float  # matched_keys / the item's n-grams
    spans: list[tuple[int, int]]  # character spans in the original text, merged
    words: int  # words of the text covered by the item's n-grams


def item_matches(
    hits: Hits, texts: Mapping[int, str] | Sequence[str], item_keys: np.ndarray, min_overlap: float = 0.0
) -> list[ItemMatch]:
    """Group hits by (text, item), keep items at or above ``min_overlap``, locate spans.

    ``item_keys[i]`` is the number of distinct n-grams of item i (``NgramIndex.item_keys``).
    Counting, merging and locating run over all groups at once in numpy (a Python loop per
    group was a quarter of the locating time with many flagged documents).

    Sorted by text then item, so the output order never depends on hit order.
    """
    if len(hits) == 0:
        return []
    h = hits.select(np.lexsort((hits.word, hits.item, hits.text)))
    new_group = np.r_[True, (h.text[1:] != h.text[:-1]) | (h.item[1:] != h.item[:-1])]
    group = np.cumsum(new_group) - 1
    first = np.flatnonzero(new_group)
    matched = _distinct_keys(group, h.key, len(first))
    overlap = matched / np.maximum(1, item_keys[h.item[first]].astype(np.int64))
    run_group, run_start, run_end = _merged_runs(group, h.word, h.word + h.length)
    run_bounds = np.flatnonzero(np.r_[True, run_group[1:] != run_group[:-1]])
    words = np.add.reduceat(run_end - run_start, run_bounds)
    begin, end = _char_spans(h.text[first[run_group]], run_start, run_end, texts)
    spans = list(zip(begin.tolist(), end.tolist()))
    bounds = np.r_[run_bounds, len(run_group)].tolist()
    return [
        ItemMatch(
            int(h.text[first[g]]),
            int(h.item[first[g]]),
            int(matched[g]),
            float(overlap[g]),
            spans[bounds[g] : bounds[g + 1]],
            int(words[g]),
        )
        for g in np.flatnonzero(overlap >= min_overlap).tolist()
    ]


def _distinct_keys(group: np.ndarray, keys: np.ndarray, groups: int) -> np.ndarray:
    """For each group, how many distinct keys its rows hold."""
    order = np.lexsort((keys, group))
    g, k = group[order], keys[order]
    new = np.r_[True, (g[1:] != g[:-1]) | (k[1:] != k[:-1])]
    return np.bincount(g[new], minlength=groups)


def _merged_runs(group: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``merge_ranges`` within every group at once: (group, start, end) of each merged run.

    Rows are sorted by group then start. Offsetting each group past the previous one's ends
    lets one running maximum of the ends serve all groups.
    """
    shift = int(end.max()) + 1
    offset = group.astype(np.int64) * shift
    reach = np.maximum.accumulate(end + offset)
    new = np.r_[True, start[1:] + offset[1:] > reach[:-1]]
    firsts = np.flatnonzero(new)
    lasts = np.r_[firsts[1:], len(start)] - 1
    return group[firsts], start[firsts], reach[lasts] - offset[firsts]


def _char_spans(
    text: np.ndarray, start: np.ndarray, end: np.ndarray, texts: Mapping[int, str] | Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Character span in ``texts[text[i]]`` of words ``start[i]:end[i]``, for every i."""
    flagged = np.unique(text)
    located = word_spans([texts[t] for t in flagged.tolist()])
    base = np.cumsum([0] + [len(s) for s, _ in located])[:-1]
    row = base[np.searchsorted(flagged, text)]
    return np.concatenate([s for s, _ in located])[row + start], np.concatenate([e for _, e in located])[row + end - 1]


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of half-open ranges, as sorted disjoint ranges (touching ranges merge)."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(ranges):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def word_spans(texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Character spans in each text of its normalized words (as ``tokenize`` splits them).

    One polars pass turns every separator of the normalized texts into a space, keeping
    their length in characters; words are then the runs of other characters, found with
    numpy (a Python search per word was most of the locating time). Offsets are mapped back
    to the original text through a per-character normalization (``_offset_maps``).
    """
    masks = normalize(pl.Series(list(texts), dtype=pl.String)).str.replace_all(NON_WORD, " ")
    out = []
    for text, mask in zip(texts, masks.to_list()):
        is_word = np.frombuffer((mask or "").encode("utf-32-le"), np.uint32) != ord(" ")
        edges = np.flatnonzero(np.diff(is_word.astype(np.int8), prepend=0, append=0))
        first, last = _offset_maps(text, mask or "")
        out.append((first[edges[0::2]], last[edges[1::2] - 1]))
    return out


def _offset_maps(text: str, norm: str) -> tuple[np.ndarray, np.ndarray]:
    """For each character of ``norm``: start and end in ``text`` of the character(s) it came from.

    Normalization is applied per cluster (a character with its combining marks), which
    equals whole-text normalization except in rare cases; those get proportional offsets.
    ASCII characters are mapped with numpy (lower case keeps length, apostrophes vanish);
    only non-ASCII characters are normalized one by one.
    """
    codes = np.frombuffer(text.encode("utf-32-le"), np.uint32)
    piece = np.ones(len(text), np.int64)
    piece[np.isin(codes, _APOSTROPHE_CODES)] = 0
    cluster_end = np.arange(1, len(text) + 1, dtype=np.int64)
    for i in np.flatnonzero(codes >= 128).tolist():
        if piece[i] == 0 or (unicodedata.combining(text[i]) and i > 0):
            piece[i] = 0  # an apostrophe, or a mark counted with its base below
            continue
        end = i + 1
        while end < len(text) and unicodedata.combining(text[end]):
            end += 1
        piece[i] = len(_drop_apostrophes(unicodedata.normalize("NFKC", text[i:end]).lower()))
        cluster_end[i] = end
    for j in np.flatnonzero((codes >= 128) & (piece == 0)).tolist():  # marks after an ASCII base
        if not unicodedata.combining(text[j]):
            continue
        base = j - 1
        while base > 0 and unicodedata.combining(text[base]):
            base -= 1
        if codes[base] < 128 and base < j:
            end = j + 1
            while end < len(text) and unicodedata.combining(text[end]):
                end += 1
            piece[base] = len(unicodedata.normalize("NFKC", text[base:end]).lower())
            cluster_end[base] = end
    if int(piece.sum()) == len(norm):
        return np.repeat(np.arange(len(text), dtype=np.int64), piece), np.repeat(cluster_end, piece)
    scaled = (np.arange(len(norm)) * (len(text) / max(1, len(norm)))).astype(np.int64)
    return np.minimum(scaled, len(text) - 1), np.minimum(scaled + 1, len(text))


_APOSTROPHE_CHARS = APOSTROPHES.strip("[]")
_APOSTROPHE_CODES = np.array([ord(c) for c in _APOSTROPHE_CHARS], np.uint32)


def _drop_apostrophes(text: str) -> str:
    return text.translate({ord(c): None for c in _APOSTROPHE_CHARS})
