"""Plain single-process references for the span-level dedup stages, and a span planter.

ExactSubstr (``removed_spans``): one suffix array over the whole corpus.

Independent of ``dataprep.dedup``: words come from a regular expression and are numbered by a
dictionary (no hashing), and repeated windows come from ``pydivsufsort`` (suffix array + LCP)
over every document's token ids back to back, each document ended by a separator of its own.
Adjacent suffixes with LCP >= k start equal k-token windows; a maximal run of such
neighbours is one window's every occurrence.

Repeated lines (``dictionary_removals``): one dictionary from unit text to its documents.
Both are used by the tests and ``bench/substring_dedup.py``.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from pydivsufsort import divsufsort, kasai

WORD = re.compile(rb"[^ \t\n\r\x0b\x0c]+")


def word_tokens(text: str) -> tuple[list[bytes], list[tuple[int, int]]]:
    """Words (runs of non-ASCII-whitespace bytes) and their character spans."""
    raw = text.encode()
    char_at = np.zeros(len(raw) + 1, dtype=np.int64)
    np.cumsum((np.frombuffer(raw, np.uint8) & 0xC0) != 0x80, out=char_at[1:])
    found = [(m.group(), m.start(), m.end()) for m in WORD.finditer(raw)]
    return [w for w, _, _ in found], [(int(char_at[s]), int(char_at[e])) for _, s, e in found]


def removed_spans(
    docs: list[tuple[str, list, list[tuple[int, int]]]], k: int, keep: str
) -> dict[str, list[tuple[int, int]]]:
    """``doc id -> removed character spans`` for ``docs`` = [(id, tokens, token char spans)]."""
    vocab: dict = {}
    ids = [[vocab.setdefault(t, len(vocab)) for t in toks] for _, toks, _ in docs]
    seq, owner, pos = [], [], []
    for d, doc in enumerate(ids):
        seq += [len(docs) + v for v in doc] + [d]  # separators 0..D-1 are unique and never match
        owner += [d] * (len(doc) + 1)
        pos += list(range(len(doc) + 1))
    arr = np.array(seq, dtype=np.int64)
    sa = divsufsort(arr)
    lcp = kasai(arr, sa)  # lcp[i] = common prefix of suffixes sa[i] and sa[i + 1]
    linked = lcp[:-1] >= k
    order = {d: r for r, d in enumerate(sorted(range(len(docs)), key=lambda d: docs[d][0]))}
    removed_starts = []
    i = 0
    while i < len(linked):
        if not linked[i]:
            i += 1
            continue
        j = i
        while j < len(linked) and linked[j]:
            j += 1
        group = sorted(sa[i : j + 1].tolist(), key=lambda p: (order[owner[p]], pos[p]))
        removed_starts += group if keep == "none" else group[1:]
        i = j + 1
    covered = np.zeros(len(arr) + k, dtype=bool)
    for p in removed_starts:
        covered[p : p + k] = True
    out: dict[str, list[tuple[int, int]]] = {}
    for p in np.flatnonzero(covered[: len(arr)]).tolist():
        d, t = owner[p], pos[p]
        s, e = docs[d][2][t]
        spans = out.setdefault(docs[d][0], [])
        if spans and spans[-1][2] == t - 1:
            spans[-1] = (spans[-1][0], e, t)
        else:
            spans.append((s, e, t))
    return {d: [(s, e) for s, e, _ in spans] for d, spans in out.items()}


@dataclass
class Planted:
    """Documents with planted copies of spans; ``copies[s]`` = (doc, start, end) of span s's copies."""

    texts: list[str]
    copies: list[list[tuple[int, int, int]]]


def plant(
    base: list[str], donors: list[str], rng: random.Random, spans: int, lengths: list[int], copies: list[int]
) -> Planted:
    """Insert ``spans`` spans of real donor text (word counts from ``lengths``, copy counts from
    ``copies``, cycled) before random words of random base documents, one space after each copy.

    Copies in one document sit before distinct words, so unique text separates them, and no two
    copies of a span have the same word before them or the same word after them, so a repeat
    never extends past a copy into the base text by coincidence."""
    inserts: dict[int, list[tuple[int, int]]] = {}  # doc -> [(char position, span)]
    words = [word_tokens(t) for t in base]
    span_texts = []
    for s, donor in enumerate(rng.sample(donors, spans)):  # one donor each: spans never overlap
        _, offs = word_tokens(donor)
        n = lengths[s % len(lengths)]
        i = rng.randrange(len(offs) - n)
        span_texts.append(donor[offs[i][0] : offs[i + n - 1][1]])
        before: set = set()
        after: set = set()
        for _ in range(copies[s % len(copies)]):
            while True:
                d = rng.randrange(len(base))
                toks, offs = words[d]
                j = rng.randrange(len(toks))
                prev = toks[j - 1] if j else None
                if (
                    offs[j][0] not in {p for p, _ in inserts.get(d, [])}
                    and prev not in before
                    and toks[j] not in after
                ):
                    break
            before.add(prev)
            after.add(toks[j])
            inserts.setdefault(d, []).append((offs[j][0], s))
    texts, placed = list(base), [[] for _ in range(spans)]
    for d, items in inserts.items():
        pieces, pos, length = [], 0, 0
        for p, s in sorted(items):
            pieces.append(base[d][pos:p])
            length += p - pos
            placed[s].append((d, length, length + len(span_texts[s])))
            pieces.append(span_texts[s] + " ")
            length += len(span_texts[s]) + 1
            pos = p
        pieces.append(base[d][pos:])
        texts[d] = "".join(pieces)
    return Planted(texts, placed)


TRIM = " \t\r\x0b\x0c"


def dictionary_removals(rows: list[dict], unit: str, min_docs: int, keep: int) -> tuple[set, int]:
    """Removed ``(id, start, end)`` and the number of repeated keys, by counting in one dict."""
    units = []
    for row in rows:
        text, pos, para = row["text"], 0, None
        for line in text.split("\n"):
            end = min(pos + len(line) + 1, len(text))
            key = line.strip(TRIM)
            if unit == "line":
                if key:
                    units.append([row["id"], pos, end, key])
            elif not key:
                para = None
            elif para is None:
                para = [row["id"], pos, end, key]
                units.append(para)
            else:
                para[2], para[3] = end, para[3] + "\n" + key
            pos += len(line) + 1
    docs = defaultdict(set)
    for doc, _, _, key in units:
        docs[key].add(doc)
    repeated = {key: sorted(ids) for key, ids in docs.items() if len(ids) >= min_docs}
    removed = {(d, s, e) for d, s, e, key in units if key in repeated and d not in repeated[key][:keep]}
    return removed, len(repeated)
