"""``dataprep export RUN/STAGE --output DIR``: write a stage in full, as plain Parquet any tool reads."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a stage in full as plain Parquet", description=__doc__)
    p.add_argument("stage_dir", help="a stage directory, e.g. runs/quickstart/03-dedup")
    p.add_argument("--output", required=True, help="an empty or new directory (or s3:// URI)")
    p.add_argument("--no-rejected", action="store_true", help="leave out the rejected rows")
    p.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from dataprep.api import export_stage

    doc = export_stage(args.stage_dir, args.output, rejected=not args.no_rejected)
    print(f"exported {doc['rows']:,} rows of {doc['stage']} ({len(doc['files'])} files) to {args.output}")
    return 0
