"""``dataprep verify DIR``: re-hash every shard and re-check the run's accounting."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="check a run against its manifests", description=__doc__)
    p.add_argument("run_dir", help="run directory")
    p.set_defaults(func=_verify)


def _verify(args: argparse.Namespace) -> int:
    from dataprep.engine.verify import verify_run

    problems = verify_run(args.run_dir)
    for line in problems:
        print(f"FAIL {line}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in {args.run_dir}", file=sys.stderr)
        return 1
    print(f"OK {args.run_dir}: every shard, count and manifest checks out")
    return 0
