"""WARC and WET files (Common Crawl layout): one record -> one document or one rejected row.

Parsing uses FastWARC (``bench/web_ingest.py`` measures it against warcio on the same
files). Multi-member gzip (one member per record, as Common Crawl writes) needs nothing
special: the engine's decompressing stream reads every member, which ``tests/test_readers_web.py``
checks against the record count.

* ``response`` / ``resource`` records holding HTML (HTTP 200) go through
  ``dataprep.extract.html`` (charset detection + the configured extractor);
* ``conversion`` records (WET) are taken as text;
* everything else is accounted as a rejected row with a reason: ``not_a_document``
  (warcinfo, request, metadata/WAT, revisit), ``http_status``, ``non_html``, ``truncated``,
  ``content_encoding``, ``no_main_text``, ``invalid_utf8``, and ``broken_record`` when the
  framing is lost mid-file (strict parsing: the rest of the file is not guessed at).

Options (``options:`` of the input): ``extractor`` (``trafilatura`` | ``trafilatura_fast`` |
``resiliparse``, default ``trafilatura``).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any, BinaryIO, get_args

from fastwarc.warc import ArchiveIterator, WarcRecord, WarcRecordType

from dataprep.extract.html import DEFAULT_EXTRACTOR, Extractor, html_to_text
from dataprep.readers.base import RAW_LIMIT, UNREADABLE_FILE, RawRecord, UnreadableFile, decode_utf8, reader

HTML_TYPES = ("text/html", "application/xhtml+xml")
_DOC_TYPES = WarcRecordType.response | WarcRecordType.resource | WarcRecordType.conversion


@reader("warc", extensions=(".warc", ".warc.wet", ".wet", ".warc.wat", ".wat"))
def read_warc(stream: BinaryIO, path: str, options: dict[str, Any]) -> Iterator[RawRecord]:
    """One RawRecord per WARC record, numbered from 1 in file order."""
    extractor = _extractor_option(options, path)
    records = iter(ArchiveIterator(_Tell(stream), parse_http=False, record_types=WarcRecordType.any_type))
    row = 0
    while True:
        try:
            record = next(records)
        except StopIteration:
            return
        except OSError as exc:
            if row == 0:
                raise UnreadableFile(path, UNREADABLE_FILE, f"not a WARC file ({exc})") from exc
            # The framing is lost: the rest of the file cannot be split into records.
            yield RawRecord(row + 1, None, "broken_record", f"{exc}; the rest of the file is unreadable")
            return
        row += 1
        yield record_to_raw(row, record, extractor)


class _Tell:
    """A forward-only stream that knows its position: FastWARC calls ``tell()``, which the
    engine's decompressing stream refuses (it is not seekable)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._pos += len(data)
        return data

    def tell(self) -> int:
        return self._pos


def _extractor_option(options: dict[str, Any], path: str) -> Extractor:
    unknown = set(options) - {"extractor"}
    if unknown:
        raise ValueError(f"{path}: unknown warc reader option(s) {sorted(unknown)}; known: extractor")
    value = options.get("extractor", DEFAULT_EXTRACTOR)
    if value not in get_args(Extractor):
        raise ValueError(f"{path}: options.extractor must be {' or '.join(get_args(Extractor))}, not {value!r}")
    return value


def record_to_raw(row: int, record: WarcRecord, extractor: Extractor) -> RawRecord:
    """Turn one parsed WARC record into a document record or a reasoned rejection."""
    headers = {k: v for k, v in record.headers}
    body = record.reader.read()
    raw = _raw(headers, body)
    if not (record.record_type & _DOC_TYPES):
        return RawRecord(row, None, "not_a_document", f"WARC {str(record.record_type)} record", raw)
    if headers.get("WARC-Truncated"):
        return RawRecord(row, None, "truncated", f"WARC-Truncated: {headers['WARC-Truncated']}", raw)
    declared = headers.get("Content-Length", "")
    if not declared.strip().isdigit():
        return RawRecord(row, None, "broken_record", f"Content-Length {declared!r} is not a number", raw)
    if len(body) < int(declared):
        return RawRecord(row, None, "truncated", f"record body has {len(body)} of {declared} bytes", raw)
    meta = {
        "url": _target_uri(headers),
        "warc_record_id": headers.get("WARC-Record-ID"),
        "warc_type": str(record.record_type),
        "fetch_date": headers.get("WARC-Date"),
    }
    if lang := headers.get("WARC-Identified-Content-Language"):
        meta["language"] = lang
    if record.record_type == WarcRecordType.conversion:
        return _conversion(row, body, headers, meta, raw)
    return _page(row, body, headers, meta, raw, extractor)


def _conversion(row: int, body: bytes, headers: dict[str, str], meta: dict[str, Any], raw: str) -> RawRecord:
    """A WET record: already plain text (UTF-8 in Common Crawl)."""
    text = decode_utf8(body)
    if text is None:
        return RawRecord(row, None, "invalid_utf8", "WET record is not valid UTF-8", raw)
    meta.update(content_type=headers.get("Content-Type", "text/plain"), refers_to=headers.get("WARC-Refers-To"))
    return _document(row, text.strip(), meta, raw)


def _page(
    row: int, body: bytes, headers: dict[str, str], meta: dict[str, Any], raw: str, extractor: Extractor
) -> RawRecord:
    """A response (HTTP message) or resource (bare payload) record holding a web page."""
    is_http = headers.get("Content-Type", "").startswith("application/http")
    if is_http:
        status, http_headers, payload = split_http(body)
        if status is None:
            return RawRecord(row, None, "broken_record", "HTTP headers cannot be parsed", raw)
        if status != 200:
            return RawRecord(row, None, "http_status", f"HTTP status {status}", raw)
        content_type = http_headers.get("content-type", "")
        encoding = http_headers.get("content-encoding", "identity").strip().lower()
    else:
        payload, content_type, encoding = body, headers.get("Content-Type", ""), "identity"
    mime, charset = parse_content_type(content_type)
    if mime not in HTML_TYPES:
        return RawRecord(row, None, "non_html", f"content type {mime or 'missing'!r}", raw)
    try:
        payload = decode_content(payload, encoding)
    except (ValueError, zlib.error) as exc:
        return RawRecord(row, None, "content_encoding", str(exc), raw)
    text, used = html_to_text(payload, charset, extractor)
    meta.update(content_type=mime, charset=used, extractor=extractor)
    return _document(row, text, meta, raw)


def _document(row: int, text: str, meta: dict[str, Any], raw: str) -> RawRecord:
    if not text:
        return RawRecord(row, None, "no_main_text", "no text left after extraction", raw)
    return RawRecord(row, {"text": text, **{k: v for k, v in meta.items() if v is not None}})


def split_http(body: bytes) -> tuple[int | None, dict[str, str], bytes]:
    """``(status, lower-cased headers, payload)`` of an HTTP response message.

    Hand-written rather than FastWARC's ``parse_http``: that accepts a block that is not an
    HTTP message without any error (tests/test_readers_web.py feeds one), while a status of
    None here makes it a ``broken_record``. It costs ~13 us per page (extraction: ~30 ms)."""
    head, sep, payload = body.partition(b"\r\n\r\n")
    if not sep:
        head, sep, payload = body.partition(b"\n\n")
    lines = head.decode("iso-8859-1").splitlines()
    parts = lines[0].split(None, 2) if lines else []
    if not sep or len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return None, {}, b""
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers.setdefault(name.strip().lower(), value.strip())
    return int(parts[1]), headers, payload


def parse_content_type(value: str) -> tuple[str, str | None]:
    """``text/html; charset=UTF-8`` -> ``("text/html", "UTF-8")``."""
    mime, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset":
            charset = val.strip().strip("\"'") or None
    return mime.strip().lower(), charset


def decode_content(payload: bytes, encoding: str) -> bytes:
    """Undo an HTTP Content-Encoding that a crawler stored as received."""
    if encoding in ("", "identity", "none"):
        return payload
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompress(payload, 16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        try:
            return zlib.decompress(payload)
        except zlib.error:
            return zlib.decompress(payload, -zlib.MAX_WBITS)  # raw deflate, as some servers send
    if encoding == "br":
        import brotli

        return brotli.decompress(payload)
    raise ValueError(f"unsupported Content-Encoding {encoding!r}")


def _target_uri(headers: dict[str, str]) -> str | None:
    """WARC 1.0 writers (wget) wrap the URI in angle brackets; 1.1 does not."""
    uri = headers.get("WARC-Target-URI")
    return uri.strip().strip("<>") if uri else None


def _raw(headers: dict[str, str], body: bytes) -> str:
    head = "".join(f"{k}: {v}\n" for k, v in headers.items())
    return (head + "\n" + body[:RAW_LIMIT].decode("utf-8", errors="replace"))[:RAW_LIMIT]
