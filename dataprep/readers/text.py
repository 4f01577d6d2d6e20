"""Plain-text files: the whole file is one document (``.txt``, ``.md``, ``.rst``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from dataprep.readers.base import RAW_LIMIT, RawRecord, decode_utf8, reader


@reader("text", extensions=(".txt", ".text", ".md", ".rst"))
def read_text(stream: BinaryIO, path: str, options: dict[str, Any]) -> Iterator[RawRecord]:
    data = stream.read()
    encoding = options.get("encoding", "utf-8")
    text = decode_utf8(data) if encoding == "utf-8" else _decode(data, encoding)
    if text is None:
        raw = data[:RAW_LIMIT].decode("utf-8", errors="replace")
        yield RawRecord(1, None, "invalid_utf8", f"file is not valid {encoding} (set options.encoding)", raw)
        return
    yield RawRecord(1, {"text": text})


def _decode(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None
