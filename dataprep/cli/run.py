"""``dataprep run PIPELINE.yaml``: run a pipeline, locally or on a Ray cluster."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a pipeline", description=__doc__)
    p.add_argument("pipeline", help="pipeline YAML file")
    p.add_argument(
        "--input",
        nargs="+",
        dest="inputs",
        metavar="PATH",
        help="run on these files instead (format by extension unless the pipeline says)",
    )
    p.add_argument("--output", help="run directory (default: runs/<pipeline name>); local path or s3://...")
    p.add_argument("--address", help="address of an existing Ray cluster (default: start a local one)")
    p.add_argument("--num-cpus", type=int, help="CPUs to use (default: all)")
    p.add_argument("--resume", action="store_true", help="continue a run: keep verified shards, redo the rest")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument(
        "--executor",
        choices=["ray", "local"],
        default="ray",
        help="ray (default): parallel tasks; local: every task in this process, for debugging",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from dataprep.api import run
    from dataprep.engine.runner import summary_table

    result = run(
        args.pipeline,
        output=args.output,
        inputs=args.inputs,
        address=args.address,
        num_cpus=args.num_cpus,
        resume=args.resume,
        verbose=not args.quiet,
        executor=args.executor,
    )
    print(summary_table(result))
    return 0
