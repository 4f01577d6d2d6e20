"""GPT-3's redaction rule: cut each match with context around it, keep the long pieces."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class Redaction:
    """The outcome for one document: kept text (None = drop the document) and what was cut."""

    text: str | None
    cuts: int  # regions cut out (after merging overlapping ones)
    removed_chars: int
    reason: str | None = None  # why the document is dropped, when it is


def redact(
    text: str,
    spans: Sequence[tuple[int, int]],
    context: int = 200,
    min_piece: int = 200,
    max_cuts: int = 10,
    joiner: str = "\n\n",
) -> Redaction:
    """Cut every span plus ``context`` characters each side; drop pieces under ``min_piece``.

    A document cut more than ``max_cuts`` times, or with nothing left, is dropped. The kept
    pieces are joined into one document (with ``joiner``) rather than split into several,
    so a document keeps its one id (``schema.make_id``: one position holds one document).
    """
    regions: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        start, end = max(0, start - context), min(len(text), end + context)
        if regions and start <= regions[-1][1]:
            regions[-1] = (regions[-1][0], max(regions[-1][1], end))
        else:
            regions.append((start, end))
    if len(regions) > max_cuts:
        return Redaction(None, len(regions), len(text), "contaminated_many_matches")
    bounds = [0] + [b for r in regions for b in r] + [len(text)]
    pieces = [text[a:b] for a, b in zip(bounds[::2], bounds[1::2])]
    kept = [p for p in pieces if len(p) >= min_piece]
    if not kept:
        return Redaction(None, len(regions), len(text), "contaminated_fully_redacted")
    out = joiner.join(kept)
    return Redaction(out, len(regions), len(text) - sum(map(len, kept)))
