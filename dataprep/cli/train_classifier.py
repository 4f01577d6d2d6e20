"""``dataprep train-classifier``: train a fastText quality classifier (GPT-3 / DCLM style).

    dataprep train-classifier --positive wiki.parquet --negative web.jsonl.gz -o hq.ftz

Positives are examples of the text to keep, negatives of the text to drop (Parquet or JSONL,
text in ``--text-field``). The quality stage scores with it via ``classifier: {model: ...}``.
The model is quantized (a few MB instead of ~800 MB, loaded by every worker); ``--full``
keeps the unquantized one.
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
    p.add_argument(
        "-o", "--output", required=True, help="where to save the model (.ftz by fastText convention; .bin with --full)"
    )
    p.add_argument("--text-field", default="text", help="the field/column holding the text (default: text)")
    p.add_argument("--epoch", type=int, default=5)
    p.add_argument("--lr", type=float, default=0.1, help="learning rate (raise it for small training sets)")
    p.add_argument("--word-ngrams", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--full", action="store_true", help="save the unquantized model (~800 MB at the defaults)")
    p.add_argument(
        "--cutoff", type=int, help="embedding rows kept when quantizing (default: 100,000, fastText's advice)"
    )
    p.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    from dataprep.quality.classifier import QUANTIZE_CUTOFF, read_texts, train

    positives = [t for f in args.positive for t in read_texts(f, args.text_field)]
    negatives = [t for f in args.negative for t in read_texts(f, args.text_field)]
    report = train(
        positives,
        negatives,
        args.output,
        seed=args.seed,
        epoch=args.epoch,
        lr=args.lr,
        word_ngrams=args.word_ngrams,
        quantize=not args.full,
        cutoff=args.cutoff or QUANTIZE_CUTOFF,
    )
    kind = "quantized" if report.quantized else "full"
    print(f"trained on {report.positives} positive / {report.negatives} negative documents -> {args.output}")
    print(f"{kind} model: {report.model_bytes / 1e6:.1f} MB")
    print(
        f"held-out {report.validation_docs} documents: precision {report.validation_precision:.3f}, "
        f"recall {report.validation_recall:.3f}"
        + (
            f"; same decision as the full model on {100 * report.agreement:.1f}%"
            if report.agreement is not None
            else ""
        )
    )
    return 0
