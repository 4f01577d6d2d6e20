"""``dataprep inspect DIR/STAGE``: show rows a stage kept (or rejected), chosen columns, filtered."""

from __future__ import annotations

import argparse
import fnmatch
import json
import operator
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

OPS = {"==": operator.eq, "!=": operator.ne, "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}
WHERE = re.compile(r"^\s*([\w.#-]+)\s*(==|!=|<=|>=|<|>)\s*(.*?)\s*$")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="show rows of a stage", description=__doc__)
    p.add_argument("stage_dir", help="a stage directory, e.g. runs/quickstart/01-quality")
    p.add_argument("-n", type=int, default=5, help="rows to show (default 5)")
    p.add_argument("--rejected", action="store_true", help="show rejected rows instead")
    p.add_argument("--width", type=int, default=300, help="characters of text to show (default 300)")
    p.add_argument("--columns", help="comma-separated columns to show; globs allowed, e.g. id,text,q_*")
    p.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="COND",
        help="keep rows where COLUMN OP VALUE (OP: == != < <= > >=), e.g. 'domain==code' or 'q_words<50'; "
        "repeat to combine",
    )
    p.set_defaults(func=_inspect)


def _inspect(args: argparse.Namespace) -> int:
    import polars as pl

    from dataprep.api import read_stage

    frame = pl.from_arrow(read_stage(args.stage_dir, rejected=args.rejected))
    for cond in args.where:
        frame = frame.filter(_condition(cond, frame))
    columns = _columns(args.columns, frame.columns) if args.columns else frame.columns
    print(f"{frame.height:,} rows; columns: {', '.join(frame.columns)}")
    for row in frame.select(columns).head(args.n).to_dicts():
        shown = {k: (_short(v, args.width)) for k, v in row.items()}
        print(json.dumps(shown, ensure_ascii=False, indent=1, default=str))
    return 0


def _columns(spec: str, available: list[str]) -> list[str]:
    """The columns named (in the order given), globs expanded; an unknown name is an error."""
    out: list[str] = []
    for pattern in (p.strip() for p in spec.split(",") if p.strip()):
        matched = [c for c in available if fnmatch.fnmatchcase(c, pattern)]
        if not matched:
            raise ValueError(f"--columns: no column matches {pattern!r}; columns are {', '.join(available)}")
        out += [c for c in matched if c not in out]
    return out


def _condition(text: str, frame: pl.DataFrame) -> pl.Expr:
    """``COLUMN OP VALUE`` as a polars filter; the value is typed like the column."""
    import polars as pl

    m = WHERE.match(text)
    if not m:
        raise ValueError(f"--where {text!r}: write COLUMN OP VALUE, e.g. 'q_words<50' or 'domain==code'")
    name, op, raw = m.groups()
    if name not in frame.columns:
        raise ValueError(f"--where: no column {name!r}; columns are {', '.join(frame.columns)}")
    dtype = frame.schema[name]
    value: object = raw.strip("'\"")
    if dtype.is_numeric():
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"--where: column {name!r} is numeric; {raw!r} is not a number") from None
    return OPS[op](pl.col(name), value).fill_null(False)


def _short(value: object, width: int) -> object:
    if isinstance(value, str) and len(value) > width:
        return value[:width] + f"... [{len(value):,} chars]"
    if isinstance(value, list) and len(value) > 20:
        return value[:20] + [f"... [{len(value):,} items]"]
    return value
