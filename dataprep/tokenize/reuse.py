"""Token ids computed once and carried to the tokenize stage (each kept document encoded once).

Mix must encode every document to count its tokens; it keeps those ids (text only, no
BOS/EOS) and emits them with each kept copy, so tokenize only frames them. Three columns:

* ``text_ids``: the ids, in the tokenizer's dtype;
* ``text_ids_tokenizer``: sha256 of the tokenizer file that made them (dictionary-encoded:
  one string per shard), so ids from another tokenizer are never reused;
* ``text_ids_text``: xxh3-64 of the text they were encoded from, so a stage that rewrites
  text between mix and tokenize (e.g. redaction) makes them stale rather than wrong.

Tokenize reuses a shard's ids only when every row matches, else encodes the shard itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from dataprep.core.storage import file_sha256_and_size
from dataprep.tokenize.encoder import body_array, encode_texts, load_tokenizer, token_dtype

TEXT_IDS = "text_ids"
TEXT_IDS_TOKENIZER = "text_ids_tokenizer"
TEXT_IDS_TEXT = "text_ids_text"
COLUMNS = (TEXT_IDS, TEXT_IDS_TOKENIZER, TEXT_IDS_TEXT)


@lru_cache(maxsize=4)
def tokenizer_sha256(path: str) -> str:
    """The identity of a tokenizer: sha256 of its file (a name or path could hide a different model)."""
    return file_sha256_and_size(path)[0]


def text_hashes(texts: Sequence[str]) -> np.ndarray:
    return np.fromiter((xxhash.xxh3_64_intdigest(t.encode("utf-8")) for t in texts), np.uint64, count=len(texts))


def encode_with_identity(texts: Sequence[str], tokenizer: str) -> pa.Table:
    """The three columns for ``texts``, in order: what mix keeps from its counting pass."""
    tok = load_tokenizer(tokenizer)
    ids = body_array(encode_texts(tok, texts), token_dtype(tok))
    source = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(len(texts), np.int32)), pa.array([tokenizer_sha256(tokenizer)], pa.string())
    )
    return pa.table({TEXT_IDS: ids, TEXT_IDS_TOKENIZER: source, TEXT_IDS_TEXT: pa.array(text_hashes(texts))})


def without_ids(table: pa.Table) -> pa.Table:
    return table.drop_columns([c for c in COLUMNS if c in table.column_names])


def reusable_ids(table: pa.Table, tokenizer: str, texts: Sequence[str]) -> pa.ListArray | None:
    """The carried ids of every row of ``table``, or None unless all were made by ``tokenizer``
    from exactly ``texts`` (the rows' current text)."""
    if not set(COLUMNS) <= set(table.column_names) or table.num_rows == 0:
        return None
    ids = table.column(TEXT_IDS).combine_chunks()
    if ids.null_count:
        return None
    source = table.column(TEXT_IDS_TOKENIZER).combine_chunks()
    if pc.any(pc.not_equal(source.cast(pa.string()), tokenizer_sha256(tokenizer))).as_py() is not False:
        return None
    hashes = table.column(TEXT_IDS_TEXT).to_numpy()
    if not np.array_equal(hashes, text_hashes(texts)):
        return None
    return ids
