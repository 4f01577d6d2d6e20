"""``dataprep train-classifier``: train a fastText quality classifier (GPT-3 / DCLM style).

    dataprep train-classifier --positive wiki.parquet --negative web.jsonl.gz -o hq.bin

Positives are examples of the text to keep, negatives of the text to drop (Parquet or JSONL,
text in ``--text-field``). The quality stage scores with it via ``classifier: {model: ...}``.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-classifier",
        help="train a fastText quality classifier",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--positive", action="append", required=True, metavar="FILE", help="high-quality examples; repeatable"
    )
    p.add_argument(
        "--negative", action="append", required=True, metavar="FILE", help="low-quality examples; repeatable"
    )
    p.add_argument("-o", "--output", required=True, help="where to save the model (.bin)")
    p.add_argument("--text-field", default="text", help="the field/column holding the text (default: text)")
    p.add_argument("--epoch", type=int, default=5)
    p.add_argument("--lr", type=float, default=0.1, help="learning rate (raise it for small training sets)")
    p.add_argument("--word-ngrams", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    from dataprep.quality.classifier import read_texts, train

    positives = [t for f in args.positive for t in read_texts(f, args.text_field)]
    negatives = [t for f in args.negative for t in read_texts(f, args.text_field)]
    report = train(
        positives, negatives, args.output, seed=args.seed, epoch=args.epoch, lr=args.lr, word_ngrams=args.word_ngrams
    )
    print(f"trained on {report.positives} positive / {report.negatives} negative documents -> {args.output}")
    print(
        f"held-out {report.validation_docs} documents: precision {report.validation_precision:.3f}, "
        f"recall {report.validation_recall:.3f}"
    )
    return 0
