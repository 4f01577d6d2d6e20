"""URL-level filters: a domain block-list and exact-URL dedup keys, as pure functions.

The ingest stage calls them (``url_blocklist:`` and ``dedup_urls:`` in its config):

* ``blocked_by(url, blocklist)`` names the block-list entry a URL falls under (the host or
  any parent domain), e.g. ``filters/url_blocklist.txt``; such rows get ``blocked_url``;
* ``url_key`` / ``url_keys``: xxh64 of the normalised URL, stable across processes and
  versions (8 bytes per URL);
* ``later_copies``: from those keys, in run order (inputs as listed, files sorted, rows in
  file order), every row but the first of each key; ingest rejects them as ``duplicate_url``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

BLOCKED, DUPLICATE = "blocked_url", "duplicate_url"
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def load_blocklist(path: str | Path) -> frozenset[str]:
    """Domains from a block-list file: one per line, ``#`` starts a comment, case ignored."""
    entries = set()
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        entry = line.split("#", 1)[0].strip().lower().rstrip(".")
        if not entry:
            continue
        if "/" in entry or " " in entry or "." not in entry:
            raise ValueError(f"{path}:{n}: {line.strip()!r} is not a domain name (one domain per line)")
        entries.add(entry.removeprefix("www."))
    return frozenset(entries)


def host_of(url: str) -> str:
    """The lower-cased host of a URL, without ``www.`` and port ('' if there is none)."""
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""
    return host.rstrip(".").removeprefix("www.")


def blocked_by(url: str, blocklist: frozenset[str]) -> str | None:
    """The block-list entry matching the URL's host or one of its parent domains."""
    host = host_of(url)
    while host:
        if host in blocklist:
            return host
        _, dot, host = host.partition(".")
        if not dot:
            return None
    return None


def normalize_url(url: str) -> str:
    """One spelling per page: scheme and host lower-cased, default port, fragment and a
    trailing ``/`` on an empty path dropped. Path and query stay as they are (they are
    case-sensitive on most servers)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    netloc = host if port is None or str(port) == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    if parts.username or parts.password:
        netloc = f"{parts.username or ''}{':' + parts.password if parts.password else ''}@{netloc}"
    path = "" if parts.path == "/" else parts.path
    return urlunsplit((scheme, netloc, path, parts.query, ""))


def url_key(url: str) -> int:
    """A stable 64-bit key of the normalised URL (xxh64: same in every process and version)."""
    return xxhash.xxh64_intdigest(normalize_url(url).encode("utf-8"))


def url_keys(urls: Iterable[str | None]) -> pa.Array:
    """``url_key`` of each URL as a uint64 column; null where a row has no URL."""
    return pa.array([url_key(u) if u else None for u in urls], pa.uint64())


def later_copies(
    scan: Callable[[], Iterable[tuple[int, pa.Array | pa.ChunkedArray]]], total: int, max_keys: int
) -> dict[int, np.ndarray]:
    """Per part, the sorted row numbers whose key appeared earlier in run order (first copy kept).

    ``scan()`` yields ``(part, keys)`` in run order (``part`` increasing): a uint64 key per row,
    null for a row that takes no part (no URL, or already rejected). Keys are split into
    ``ceil(total / max_keys)`` hash partitions handled one at a time, ``scan()`` streaming the
    parts again for each, so memory is bounded by ``max_keys`` however large the corpus.
    """
    parts = max(1, -(-total // max_keys))
    found: dict[int, list[np.ndarray]] = {}
    for p in range(parts):
        keys, part_ids, rows = [], [], []
        for part, column in scan():
            has = pc.is_valid(column).to_numpy(zero_copy_only=False)
            k = pc.fill_null(column, 0).to_numpy()
            idx = np.nonzero(has & (k % np.uint64(parts) == p))[0]
            keys.append(k[idx])
            part_ids.append(np.full(len(idx), part, np.int64))
            rows.append(idx.astype(np.int64))
        if not keys:
            continue
        k, pt, rw = np.concatenate(keys), np.concatenate(part_ids), np.concatenate(rows)
        order = np.lexsort((rw, pt, k))  # by key, then run order
        ks = k[order]
        later = np.zeros(len(order), bool)
        later[1:] = ks[1:] == ks[:-1]
        for part in np.unique(pt[order[later]]):
            sel = order[later][pt[order[later]] == part]
            found.setdefault(int(part), []).append(rw[sel])
    return {part: np.sort(np.concatenate(v)) for part, v in found.items()}
