"""JSON Lines: one JSON object per line (``.jsonl``, ``.json``, ``.ndjson``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson

from dataprep.readers.base import LINES, RAW_LIMIT, RawRecord, decode_utf8, reader


@reader("jsonl", extensions=(".jsonl", ".ndjson", ".json"), splitter=LINES)
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
    """Lines split on ``\\n`` only (JSON strings escape newlines; ``\\r`` is whitespace).

    A line longer than a chunk is kept as pieces and joined once: re-joining it with every
    chunk made a 200 MB line cost 36 CPU s (quadratic), now 0.6 s."""
    pending: list[bytes] = []
    while chunk := stream.read(1 << 20):
        parts = chunk.split(b"\n")
        if len(parts) == 1:
            pending.append(chunk)
            continue
        yield b"".join([*pending, parts[0]])
        yield from parts[1:-1]
        pending = [parts[-1]]
    rest = b"".join(pending)
    if rest:
        yield rest
