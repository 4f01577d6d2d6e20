"""``dataprep train-tokenizer STAGE_DIR``: train a byte-level BPE on a stage's output text."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-tokenizer", help="train a BPE tokenizer on a stage's output", description=__doc__)
    p.add_argument("stage_dir", help="a stage directory of a run, e.g. runs/quickstart/03-decontaminate")
    p.add_argument("--vocab-size", type=int, required=True, help="tokens in the vocabulary, special tokens included")
    p.add_argument("--output", required=True, help="where to write tokenizer.json")
    p.add_argument(
        "--special-tokens",
        nargs="+",
        default=None,
        metavar="TOKEN",
        help="special tokens, the first being end-of-document (default: <|endoftext|>)",
    )
    p.add_argument("--min-frequency", type=int, default=2, help="pairs seen fewer times are not merged (default 2)")
    p.set_defaults(func=_train)


def _texts(stage_dir: str, batch: int = 1024) -> Iterator[str]:
    from dataprep.api import read_stage

    for chunk in read_stage(stage_dir, columns=["text"]).column("text").chunks:
        for start in range(0, len(chunk), batch):
            yield from chunk.slice(start, batch).to_pylist()


def _train(args: argparse.Namespace) -> int:
    from dataprep.tokenize.train import DEFAULT_SPECIAL_TOKENS, train_bpe

    if os.path.exists(args.output):
        raise FileExistsError(f"{args.output} exists; choose another --output or remove it")
    special = tuple(args.special_tokens) if args.special_tokens else DEFAULT_SPECIAL_TOKENS
    tok = train_bpe(_texts(args.stage_dir), args.vocab_size, special, args.min_frequency)
    tok.save(args.output)
    print(f"wrote {args.output}: {tok.get_vocab_size()} tokens, end-of-document {special[0]!r}")
    return 0
