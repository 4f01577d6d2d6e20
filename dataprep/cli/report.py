"""``dataprep report RUN_DIR [RUN_DIR ...]``: an HTML report with plots of a run, or several side by side.

One run: ``RUN_DIR/report.html`` and ``RUN_DIR/report/*.png`` (``dataprep run`` writes it at the
end of every run). Several runs (e.g. two thresholds, or mixtures from ``dataprep mix``): the
same plots with one panel per run, into ``--output``. The page is self-contained: it opens
offline, figures included.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="HTML report with plots of one run, or several side by side", description=__doc__
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories (local path or s3://...)")
    p.add_argument("--output", help="folder for report.html and report/*.png (default: the run, if only one)")
    p.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from dataprep.report import write_report

    print(write_report(args.run_dirs, args.output))
    return 0
