"""``dataprep inspect DIR/STAGE``: show the first rows a stage kept (or rejected)."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="show rows of a stage", description=__doc__)
    p.add_argument("stage_dir", help="a stage directory, e.g. runs/quickstart/01-quality")
    p.add_argument("-n", type=int, default=5, help="rows to show (default 5)")
    p.add_argument("--rejected", action="store_true", help="show rejected rows instead")
    p.add_argument("--width", type=int, default=300, help="characters of text to show (default 300)")
    p.set_defaults(func=_inspect)


def _inspect(args: argparse.Namespace) -> int:
    from dataprep.api import read_stage

    table = read_stage(args.stage_dir, rejected=args.rejected)
    print(f"{table.num_rows:,} rows; columns: {', '.join(table.column_names)}")
    for row in table.slice(0, args.n).to_pylist():
        shown = {k: (_short(v, args.width)) for k, v in row.items()}
        print(json.dumps(shown, ensure_ascii=False, indent=1, default=str))
    return 0


def _short(value: object, width: int) -> object:
    if isinstance(value, str) and len(value) > width:
        return value[:width] + f"... [{len(value):,} chars]"
    if isinstance(value, list) and len(value) > 20:
        return value[:20] + [f"... [{len(value):,} items]"]
    return value
