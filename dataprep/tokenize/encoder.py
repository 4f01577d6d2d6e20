"""The one place that loads an HF ``tokenizers`` model and turns texts into token arrays.

Models load lazily in the process that uses them (Ray workers included) and are cached per
path, so stage objects stay small and picklable.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from itertools import chain

import numpy as np
import pyarrow as pa
from tokenizers import Tokenizer

from dataprep.core.contract import RunInfo

# Names of end-of-document tokens in common tokenizers, tried in order when none is given.
EOS_CANDIDATES = ("<|endoftext|>", "</s>", "<eos>", "<|end_of_text|>", "[SEP]")
UINT16_LIMIT = 1 << 16


def tokenizer_source(stage_value: str | None, run: RunInfo) -> tuple[str | None, str | None]:
    """A stage's tokenizer (its own, else the pipeline's): the resolved path, and the name a
    manifest shows (as written, or the file name: never the checkout's location)."""
    path = stage_value or run.tokenizer
    if path is None:
        return None, None
    return run.resolve(path), stage_value or os.path.basename(path)


@lru_cache(maxsize=4)
def load_tokenizer(path: str) -> Tokenizer:
    """The tokenizer saved at ``path`` (a ``tokenizer.json``), loaded once per process."""
    try:
        return Tokenizer.from_file(path)
    except Exception as exc:  # tokenizers raises a bare Exception on bad JSON
        raise ValueError(f"cannot load tokenizer {path}: {exc}") from exc


def special_token_id(tok: Tokenizer, token: str | None, path: str, role: str) -> int:
    """The id of ``token``; with None, the first of ``EOS_CANDIDATES`` the vocabulary has."""
    names = (token,) if token is not None else EOS_CANDIDATES
    for name in names:
        found = tok.token_to_id(name)
        if found is not None:
            return found
    tried = ", ".join(names)
    raise ValueError(f"tokenizer {path} has no {role} token ({tried}); set {role}_token: to one of its tokens")


def token_dtype(tok: Tokenizer) -> np.dtype:
    """uint16 when every id fits (vocab ≤ 65,536), else uint32: half the bytes for most models."""
    return np.dtype(np.uint16) if tok.get_vocab_size(with_added_tokens=True) <= UINT16_LIMIT else np.dtype(np.uint32)


def encode_texts(tok: Tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text, without the tokenizer's own special tokens (we add EOS/BOS).

    ``encode_batch_fast`` gives the same ids as ``encode`` but skips character offsets,
    which we never use (measured in bench/tokenization.py).
    """
    return [e.ids for e in tok.encode_batch_fast(list(texts), add_special_tokens=False)]


def token_counts(tok: Tokenizer, texts: Sequence[str]) -> np.ndarray:
    """Tokens per text (no special tokens), as int64."""
    return np.fromiter((len(ids) for ids in encode_texts(tok, texts)), dtype=np.int64, count=len(texts))


def body_array(ids: list[list[int]], dtype: np.dtype) -> pa.ListArray:
    """Documents' ids, unframed, as one Arrow list array of ``dtype`` (one flat buffer, no per-document objects)."""
    offsets = np.zeros(len(ids) + 1, dtype=np.int32)
    np.cumsum(np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids)), out=offsets[1:])
    values = np.fromiter(chain.from_iterable(ids), dtype=dtype, count=int(offsets[-1]))
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))


def frame(body: pa.ListArray, dtype: np.dtype, bos: int | None, eos: int) -> pa.ListArray:
    """Each document's ids framed by optional BOS and EOS, in numpy: reused ids need no Python loop."""
    extra = 1 + (bos is not None)
    old = body.offsets.to_numpy().astype(np.int64)
    src = body.values.to_numpy(zero_copy_only=False)[old[0] : old[-1]].astype(dtype, copy=False)
    offsets = np.zeros(len(body) + 1, dtype=np.int32)
    np.cumsum(np.diff(old) + extra, out=offsets[1:])
    values = np.empty(int(offsets[-1]), dtype=dtype)
    starts = offsets[:-1]
    if bos is not None:
        values[starts] = bos
    values[offsets[1:] - 1] = eos
    mask = np.ones(len(values), dtype=bool)
    mask[offsets[1:] - 1] = False
    if bos is not None:
        mask[starts] = False
    values[mask] = src
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))


def to_list_array(ids: list[list[int]], dtype: np.dtype, bos: int | None, eos: int) -> pa.ListArray:
    """Documents' ids framed by optional BOS and EOS, as one Arrow list array of ``dtype``."""
    return frame(body_array(ids, dtype), dtype, bos, eos)
