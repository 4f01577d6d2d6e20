"""Replacing found spans: a typed placeholder, or a keyed hash that keeps equality.

A hash replacement (``<EMAIL:1f2e3d4c5b6a>``) lets a model still see that two mentions are
the same address without seeing the address. It is keyed (BLAKE2b with a secret salt): an
unkeyed hash of a phone number or SSN is reversed by hashing every possible number.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from dataprep.pii.detectors import Found

PLACEHOLDERS: dict[str, str] = {
    "key": "<KEY>",
    "email": "<EMAIL>",
    "iban": "<IBAN>",
    "national_id": "<ID>",
    "card": "<CARD>",
    "ssn": "<SSN>",
    "ip": "<IP>",
    "phone": "<PHONE>",
    "name": "<NAME>",
    "address": "<ADDRESS>",
}


class Replacer:
    """Placeholder per type (``placeholders`` overrides the defaults), or a keyed hash."""

    def __init__(self, placeholders: dict[str, str] | None = None, salt: bytes | None = None) -> None:
        self.placeholders = {**PLACEHOLDERS, **(placeholders or {})}
        self.key = hashlib.blake2b(salt, digest_size=32).digest() if salt is not None else None

    def __call__(self, kind: str, value: str) -> str:
        mark = self.placeholders.get(kind, f"<{kind.upper()}>")
        if self.key is None:
            return mark
        digest = hashlib.blake2b(f"{kind}\0{value}".encode(), key=self.key, digest_size=6).hexdigest()
        return f"{mark[:-1]}:{digest}>" if mark.endswith(">") else f"{mark}:{digest}"


def redact(text: str, spans: Sequence[Found], replace: Replacer) -> str:
    """``text`` with every span (sorted, not overlapping) replaced."""
    parts, pos = [], 0
    for f in spans:
        parts += [text[pos : f.start], replace(f.type, text[f.start : f.end])]
        pos = f.end
    parts.append(text[pos:])
    return "".join(parts)
