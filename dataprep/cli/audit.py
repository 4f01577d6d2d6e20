"""``dataprep audit``: check any corpus against benchmark sets.

A pipeline run into --out (lock, run.json, --resume): an ingest of the --data files, then
the decontaminate stage in annotate mode, whose report (contamination.json, schema
manifests/audit.schema.json, and contamination.md) lands in OUT/01-decontaminate/.
Rows that cannot be read are the ingest stage's rejected rows, with file, line and reason.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from dataprep.cli._progress import add_progress_options, progress_style

# Flags that are the decontaminate stage's settings, under the same names (dashes for underscores).
STAGE_SETTINGS = ("ngram", "min_item_words", "max_doc_freq", "min_overlap")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="find benchmark items in a corpus and report them", description=__doc__)
    p.add_argument(
        "--data",
        nargs="+",
        required=True,
        metavar="PATH",
        help="corpus files, folders or globs (JSONL, Parquet, or any format ingest reads)",
    )
    p.add_argument(
        "--benchmarks",
        nargs="+",
        required=True,
        metavar="PATH",
        help="benchmark files, benchmark folders, or folders holding many benchmarks",
    )
    p.add_argument("--out", default="audit", help="run directory holding the report (default: ./audit)")
    p.add_argument("--ngram", type=int, help="words per n-gram, 8-50 (default 13)")
    p.add_argument(
        "--min-item-words",
        type=int,
        help="benchmark fields shorter than --ngram but this long are matched whole (default 8)",
    )
    p.add_argument(
        "--max-doc-freq",
        type=int,
        help="n-grams in more corpus documents than this are common text and ignored (default 10)",
    )
    p.add_argument("--min-overlap", type=float, help="share of an item's n-grams a document must hold (default 0)")
    p.add_argument("--text-field", help="corpus field holding the text (default: text)")
    p.add_argument("--id-field", default="id", help="corpus field holding the file's own ids, kept in meta.orig_id")
    p.add_argument("--fields", help="comma-separated text fields, to read benchmark files no family knows")
    p.add_argument("--item-id-field", help="id field of such generic benchmark files")
    p.add_argument("--shard-rows", type=int, help="documents per shard: the unit of parallel work and of --resume")
    p.add_argument("--address", help="address of an existing Ray cluster (default: start a local one)")
    p.add_argument("--num-cpus", type=int, help="CPUs to use (default: all)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted audit in --out")
    add_progress_options(p)
    p.add_argument(
        "--executor", choices=["ray", "local"], default="ray", help="local: every task in this process, for debugging"
    )
    p.set_defaults(func=_audit)


def _no_text_field(ingest: Any, field: str) -> str:
    """Every row lacked the text field: name a file, its fields (from a rejected record) and the fix."""
    from dataprep.core.storage import Storage

    entry = ingest.manifest["rejected"][0]
    row = Storage(ingest.dir).parent().read_parquet(entry["path"], ["text", "meta"]).slice(0, 1).to_pylist()[0]
    try:
        record = json.loads(row["text"])  # a rejected record keeps its raw line
    except (ValueError, TypeError):
        record = None
    fields = ", ".join(record) if isinstance(record, dict) else "unknown"
    where = json.loads(row["meta"]).get("file")
    return (
        f"no record has the text field {field!r} ({ingest.manifest['counts']['in']:,} rows read, none checked); "
        f"{where} has the fields: {fields}; pass --text-field with the one holding the text"
    )


def _audit(args: argparse.Namespace) -> int:
    from dataprep.api import audit
    from dataprep.core.storage import Storage
    from dataprep.stages.decontaminate import REPORT

    fields = [f.strip() for f in args.fields.split(",") if f.strip()] if args.fields else None
    settings = {k: getattr(args, k) for k in STAGE_SETTINGS if getattr(args, k) is not None}
    result = audit(
        args.data,
        args.benchmarks,
        args.out,
        text_field=args.text_field,
        id_field=args.id_field,
        benchmark_fields=fields,
        benchmark_id_field=args.item_id_field,
        shard_rows=args.shard_rows,
        address=args.address,
        num_cpus=args.num_cpus,
        resume=args.resume,
        verbose=progress_style(args),
        executor=args.executor,
        **settings,
    )
    ingest, stage = result.stages
    unread = ingest.manifest["counts"]
    if unread["in"] and unread["by_reason"].get("missing_text") == unread["in"]:
        print(f"error: {_no_text_field(ingest, args.text_field or 'text')}", file=sys.stderr)
        return 2
    report = Storage(stage.dir).read_json(f"{REPORT}.json")
    totals = report["totals"]
    print(
        f"{totals['contaminated_documents']:,} of {totals['documents']:,} documents hold benchmark text "
        f"({totals['contaminated_items']:,} items, {totals['matches']:,} spans)"
    )
    if unread["rejected"]:
        reasons = ", ".join(f"{k} {v:,}" for k, v in unread["by_reason"].items())
        print(f"{unread['rejected']:,} rows not checked ({reasons}): dataprep inspect {ingest.dir} --rejected")
    print(f"report: {stage.dir}/{REPORT}.md\n        {stage.dir}/{REPORT}.json")
    return 0
