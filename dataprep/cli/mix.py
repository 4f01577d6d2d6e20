"""``dataprep mix POOL --mixtures FILE``: several mixtures from one finished stage, no re-run.

Each mixture becomes its own run directory under ``--output`` (``<name>/run.json``,
``<name>/00-mix/`` with shards, rejected rows and manifest); see ``dataprep.mix.mixtures``
for the mixtures file.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mix",
        help="write several mixtures from one stage's output",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("pool", help="a finished stage directory, e.g. runs/quickstart/03-decontaminate")
    p.add_argument("--mixtures", required=True, help="YAML naming the mixtures (see dataprep/mix/mixtures.py)")
    p.add_argument("--output", required=True, help="folder that receives one run directory per mixture")
    p.add_argument("--address", help="address of an existing Ray cluster (default: start a local one)")
    p.add_argument("--num-cpus", type=int, help="CPUs to use (default: all)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_mix)


def _mix(args: argparse.Namespace) -> int:
    from dataprep.mix.mixtures import write_mixtures

    outcomes = write_mixtures(
        args.pool, args.mixtures, args.output, address=args.address, num_cpus=args.num_cpus, verbose=not args.quiet
    )
    for o in outcomes:
        report = o.manifest["stats"]["mix"]
        shares = ", ".join(f"{d} {v['achieved_weight']:.1%}" for d, v in report["domains"].items())
        print(f"{o.dir}: {report['achieved_total']:,} {report['units'].split(',')[0]} ({shares})")
    return 0
