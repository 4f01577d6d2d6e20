"""``dataprep audit``: check any Parquet/JSONL corpus against benchmark sets, on Ray.

Writes ``report.json`` (schema: manifests/audit.schema.json) and ``report.md`` into --out.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="find benchmark items in a corpus and report them", description=__doc__)
    p.add_argument(
        "--data", nargs="+", required=True, metavar="PATH", help="corpus files, folders or globs (Parquet, JSONL)"
    )
    p.add_argument(
        "--benchmarks",
        nargs="+",
        required=True,
        metavar="PATH",
        help="benchmark files, benchmark folders, or folders holding many benchmarks",
    )
    p.add_argument("--out", default="audit", help="report folder (default: ./audit)")
    p.add_argument("--ngram", type=int, default=13, help="words per n-gram, 8-50 (default 13)")
    p.add_argument(
        "--min-item-words",
        type=int,
        default=8,
        help="benchmark fields shorter than --ngram but this long are matched whole (default 8)",
    )
    p.add_argument(
        "--max-doc-freq",
        type=int,
        default=10,
        help="n-grams in more corpus documents than this are common text and ignored (default 10)",
    )
    p.add_argument(
        "--min-overlap", type=float, default=0.0, help="share of an item's n-grams a document must hold (default 0)"
    )
    p.add_argument("--text-field", default="text", help="corpus field holding the text (default: text)")
    p.add_argument("--id-field", default="id", help="corpus field holding document ids, if any (default: id)")
    p.add_argument("--fields", help="comma-separated text fields, to read benchmark files no family knows")
    p.add_argument("--item-id-field", help="id field of such generic benchmark files")
    p.add_argument("--address", help="address of an existing Ray cluster (default: start a local one)")
    p.add_argument("--num-cpus", type=int, help="CPUs to use (default: all)")
    p.set_defaults(func=_audit)


def _audit(args: argparse.Namespace) -> int:
    from dataprep.benchmarks import GenericSpec
    from dataprep.decontam.audit import AuditConfig, run_audit

    config = AuditConfig(
        args.ngram, args.min_item_words, args.max_doc_freq, args.min_overlap, args.text_field, args.id_field
    )
    generic = (
        GenericSpec(tuple(f.strip() for f in args.fields.split(",") if f.strip()), args.item_id_field)
        if args.fields
        else None
    )
    result = run_audit(args.data, args.benchmarks, args.out, config, generic, args.address, args.num_cpus)
    totals = result.report["totals"]
    print(
        f"{totals['contaminated_documents']:,} of {totals['documents']:,} documents hold benchmark text "
        f"({totals['contaminated_items']:,} items, {totals['matches']:,} spans)"
    )
    print(f"report: {result.markdown_path}\n        {result.json_path}")
    return 0
