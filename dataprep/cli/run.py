"""``dataprep run PIPELINE.yaml``: run a pipeline, locally or on a Ray cluster."""

from __future__ import annotations

import argparse
import shlex
import sys

from dataprep.cli._progress import add_progress_options, progress_style


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
    p.add_argument(
        "--set",
        action="append",
        default=[],
        dest="settings",
        metavar="STAGE.KEY=VALUE",
        help="change a setting, e.g. --set dedup.threshold=0.7 --set quality.language.min_score=0.5 "
        "(VALUE is YAML; checked like the file; recorded in run.json); `dataprep stages` lists the settings",
    )
    p.add_argument("--output", help="run directory (default: runs/<pipeline name>); local path or s3://...")
    p.add_argument("--address", help="address of an existing Ray cluster (default: start a local one)")
    p.add_argument("--num-cpus", type=int, help="CPUs to use (default: all)")
    p.add_argument("--resume", action="store_true", help="continue a run: keep verified shards, redo the rest")
    add_progress_options(p)
    p.add_argument(
        "--force-unlock",
        action="store_true",
        help="take the output's lock even if its process looks alive; only when that run is surely gone",
    )
    p.add_argument("--no-report", action="store_true", help="do not write report.html at the end (dataprep report)")
    p.add_argument(
        "--executor",
        choices=["ray", "local"],
        default="ray",
        help="ray (default): parallel tasks; local: every task in this process, for debugging",
    )
    p.set_defaults(func=_run)


def _resume_command(args: argparse.Namespace, output: str) -> str:
    """The command line that continues this run: the same arguments, the output named, --resume."""
    argv = ["dataprep", "run", args.pipeline]
    argv += ["--input", *args.inputs] if args.inputs else []
    argv += [a for kv in getattr(args, "settings", None) or [] for a in ("--set", kv)]
    argv += ["--output", output]
    argv += ["--address", args.address] if args.address else []
    argv += ["--num-cpus", str(args.num_cpus)] if args.num_cpus else []
    argv += ["--executor", args.executor] if args.executor != "ray" else []
    argv += [flag for flag, on in (("--quiet", args.quiet), ("--no-report", getattr(args, "no_report", False))) if on]
    return shlex.join([*argv, "--resume"])


def _run(args: argparse.Namespace) -> int:
    from dataprep.api import run
    from dataprep.core.storage import Storage
    from dataprep.engine.runner import RunInterrupted, summary_table
    from dataprep.report import REPORT_HTML

    try:
        result = run(
            args.pipeline,
            output=args.output,
            inputs=args.inputs,
            address=args.address,
            num_cpus=args.num_cpus,
            resume=args.resume,
            verbose=progress_style(args),
            executor=args.executor,
            report=not args.no_report,
            settings=args.settings,
            force_unlock=args.force_unlock,
        )
    except RunInterrupted as exc:
        print(f"{exc}; continue it with: {_resume_command(args, exc.output)}", file=sys.stderr)
        return exc.exit_code
    print(summary_table(result))
    if not args.no_report:
        print(f"report: {Storage(result.output_dir).display}/{REPORT_HTML}")
    return 0
