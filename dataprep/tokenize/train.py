"""Training a byte-level BPE tokenizer (GPT-2 style) with HF ``tokenizers``.

Byte-level means every string is encodable (no unknown token), so a tokenizer trained on a
small sample still tokenizes any later text losslessly.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

DEFAULT_SPECIAL_TOKENS = ("<|endoftext|>",)


def train_bpe(
    texts: Iterable[str],
    vocab_size: int,
    special_tokens: tuple[str, ...] = DEFAULT_SPECIAL_TOKENS,
    min_frequency: int = 2,
) -> Tokenizer:
    """A byte-level BPE of ``vocab_size`` tokens (special tokens included) trained on ``texts``."""
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    if vocab_size < len(alphabet) + len(special_tokens):
        raise ValueError(
            f"vocab size {vocab_size} is too small: byte-level BPE needs at least "
            f"{len(alphabet) + len(special_tokens)} ({len(alphabet)} bytes + {len(special_tokens)} special tokens)"
        )
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(special_tokens),
        initial_alphabet=alphabet,
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    return tok
