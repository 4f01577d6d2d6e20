"""``dataprep dedup-sweep STAGE_DIR``: removal at other thresholds or (b, r), without running the stage again."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dedup-sweep", help="re-threshold a dedup stage without running it again", description=__doc__)
    p.add_argument("stage_dir", help="a finished dedup stage directory, e.g. runs/x/02-dedup")
    p.add_argument(
        "--threshold",
        type=float,
        nargs="+",
        default=None,
        help="Jaccard thresholds; (b, r) derived as the stage did (default 0.5 0.6 0.7 0.8 0.9)",
    )
    p.add_argument(
        "--bands-rows",
        nargs="+",
        default=[],
        metavar="BxR",
        help="explicit banding such as 9x13, verified at the stage's threshold",
    )
    p.add_argument(
        "--memory-per-task",
        type=int,
        default=None,
        metavar="BYTES",
        help="data one partition task may hold (default: the stage's memory_per_task and partitions)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_sweep)


def _banding(text: str):
    from dataprep.dedup.lsh import Banding

    try:
        bands, rows = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--bands-rows takes BxR such as 9x13, not {text!r}") from None
    return Banding(bands, rows)


def _sweep(args: argparse.Namespace) -> int:
    from dataprep.dedup.lsh import derive_banding
    from dataprep.dedup.sweep import Setting, open_stage, sweep
    from dataprep.engine.executor import LocalExecutor

    stored = open_stage(args.stage_dir)
    config = stored.config
    thresholds = args.threshold or ([] if args.bands_rows else [0.5, 0.6, 0.7, 0.8, 0.9])
    settings = [Setting(derive_banding(t, config.num_perm, config.candidate_recall), t) for t in thresholds]
    settings += [Setting(_banding(b), config.threshold) for b in args.bands_rows]
    for s in settings:
        if s.banding.bands * s.banding.rows > config.num_perm or not 0 < s.threshold < 1:
            raise ValueError(
                f"{s.banding.bands}x{s.banding.rows} at {s.threshold} does not fit num_perm={config.num_perm}"
                " and 0 < threshold < 1"
            )
    rows = sweep(stored, settings, LocalExecutor(), args.memory_per_task)
    if args.json:
        print(json.dumps({"stage_dir": args.stage_dir, "documents": stored.documents, "settings": rows}, indent=1))
        return 0
    print(f"{stored.documents:,} documents in {args.stage_dir}")
    print(
        f"{'threshold':>9} {'b x r':>7} {'P(s)':>6} {'candidates':>11} {'clusters':>9} {'removed':>9} {'fraction':>9}"
    )
    for r in rows:
        print(
            f"{r['threshold']:>9.2f} {r['bands']:>3}x{r['rows']:<3} {r['candidate_probability_at_threshold']:>6.3f} "
            f"{r['candidate_pairs']:>11,} {r['clusters']:>9,} {r['removed']:>9,} {r['removed_fraction']:>9.4f}"
        )
    return 0
