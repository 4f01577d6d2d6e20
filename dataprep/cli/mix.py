"""``dataprep mix POOL --mixtures FILE``: several mixtures from one finished stage, no re-run.

Each mixture becomes its own run directory under ``--output`` (``<name>/run.json``,
``<name>/pool.json``, ``<name>/00-mix/`` with shards, rejected rows and manifest). A mixture
that fails leaves the others complete; ``--resume`` keeps them and finishes the rest. The
mixtures file is described in the README ("Mixing and tokenizing").
"""

from __future__ import annotations

import argparse
import sys

from dataprep.cli._progress import add_progress_options, progress_style


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mix",
        help="write several mixtures from one stage's output",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("pool", help="a finished stage directory, e.g. runs/quickstart/03-decontaminate")
    p.add_argument("--mixtures", required=True, help="YAML naming the mixtures (see the README)")
    p.add_argument("--output", required=True, help="folder that receives one run directory per mixture")
    p.add_argument("--resume", action="store_true", help="keep finished mixtures and verified shards, do the rest")
    p.add_argument("--address", help="address of an existing Ray cluster (default: start a local one)")
    p.add_argument("--num-cpus", type=int, help="CPUs to use (default: all)")
    add_progress_options(p)
    p.add_argument(
        "--executor",
        choices=["ray", "local"],
        default="ray",
        help="ray (default): parallel tasks; local: every task in this process, for debugging",
    )
    p.set_defaults(func=_mix)


def _mix(args: argparse.Namespace) -> int:
    from dataprep.api import write_mixtures

    runs = write_mixtures(
        args.pool,
        args.mixtures,
        args.output,
        address=args.address,
        num_cpus=args.num_cpus,
        resume=args.resume,
        verbose=progress_style(args),
        executor=args.executor,
    )
    failed = [r for r in runs if r.result is None]
    for r in runs:
        if r.result is None:
            print(f"{r.output_dir}: failed: {r.error}", file=sys.stderr)
            continue
        stage = r.result.stages[0]
        report = stage.manifest["stats"]["mix"]
        shares = ", ".join(f"{d} {v['achieved_weight']:.1%}" for d, v in report["domains"].items())
        reused = " (kept from the earlier run)" if stage.reused else ""
        print(f"{stage.dir}: {report['achieved_total']:,} {report['units'].split(',')[0]} ({shares}){reused}")
    if failed:
        print(
            f"error: {len(failed)} of {len(runs)} mixtures failed; the others are complete. "
            "Fix the cause (or the mixtures file) and rerun with --resume to finish them.",
            file=sys.stderr,
        )
        return 1
    return 0
