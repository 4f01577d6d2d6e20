"""JSON Lines: one JSON object per line (``.jsonl``, ``.json``, ``.ndjson``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson

from dataprep.readers.base import RAW_LIMIT, RawRecord, decode_utf8, reader


@reader("jsonl", extensions=(".jsonl", ".ndjson", ".json"))
def read_jsonl(stream: BinaryIO, path: str, options: dict[str, Any]) -> Iterator[RawRecord]:
    """Yield one record per non-blank line; bad lines become error records, never exceptions."""
    for row, line in enumerate(_lines(stream), start=1):
        if not line.strip():
            continue
        text = decode_utf8(line)
        if text is None:
            raw = line.decode("utf-8", errors="replace")[:RAW_LIMIT]
            yield RawRecord(row, None, "invalid_utf8", "line is not valid UTF-8", raw)
            continue
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            yield RawRecord(row, None, "malformed_json", str(exc), text[:RAW_LIMIT])
            continue
        if not isinstance(obj, dict):
            yield RawRecord(
                row, None, "malformed_json", f"line holds a JSON {type(obj).__name__}, not an object", text[:RAW_LIMIT]
            )
            continue
        yield RawRecord(row, obj)


def _lines(stream: BinaryIO) -> Iterator[bytes]:
    """Lines split on ``\\n`` only (JSON strings escape newlines; ``\\r`` is whitespace)."""
    rest = b""
    while chunk := stream.read(1 << 20):
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        yield from parts
    if rest:
        yield rest
