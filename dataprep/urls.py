"""URL-level filters: a domain block-list and exact-URL dedup keys, as pure functions.

The ingest stage calls them (``url_blocklist:`` and ``dedup_urls:`` in its config):

* ``blocked_by(url, blocklist)`` names the block-list entry a URL falls under (the host or
  any parent domain), e.g. ``filters/url_blocklist.txt``; such rows get ``blocked_url``;
* ``url_key`` / ``url_keys``: xxh64 of the normalised URL, stable across processes and
  versions (8 bytes per URL), from which the engine keeps the first copy in run order
  (inputs as listed, files sorted, rows in file order) and marks the rest ``duplicate_url``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa
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
