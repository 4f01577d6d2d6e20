"""``dataprep rethreshold STAGE_DIR``: try other quality thresholds on an existing output.

Reads the signal columns of a quality stage's kept and rejected shards and the rules it
used (its ``rules.json``), applies changed thresholds, and reports how the kept and rejected
counts (and each rule's failures) would change. Nothing is recomputed or rewritten.

    dataprep rethreshold runs/qs/02-quality --set gopher_quality.min_doc_words=100 \\
        --set language.min_score=off --add c4
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rethreshold",
        help="apply other quality thresholds to a quality output (no recompute)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("stage_dir", help="a quality stage directory, e.g. runs/qs/02-quality")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="RULE=VALUE",
        help="new threshold (off: drop the rule; a,b,c: allowed values); repeatable",
    )
    p.add_argument(
        "--add",
        action="append",
        default=[],
        metavar="RULE_SET",
        help="also apply a rule set (built-in name or .yaml path); repeatable",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_rethreshold)


def parse_setting(text: str) -> tuple[str, Any]:
    """``name=value`` -> (name, float | list[str] | None)."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise ValueError(f"--set takes RULE=VALUE, got {text!r}")
    if value.lower() in ("off", "none", "null"):
        return name, None
    try:
        return name, float(value)
    except ValueError:
        return name, value.split(",")


def _rethreshold(args: argparse.Namespace) -> int:
    import polars as pl

    from dataprep.api import read_stage
    from dataprep.quality.rules import Rule, apply_overrides, load_rules, rethreshold, rule_set_path
    from dataprep.stages.quality import RULES_ARTIFACT

    rules_file = Path(args.stage_dir) / RULES_ARTIFACT
    if not rules_file.exists():
        raise FileNotFoundError(f"{rules_file} not found: is {args.stage_dir} a quality stage directory?")
    old = [Rule(**r) for r in json.loads(rules_file.read_text())]
    new = old + [r for name in args.add for r in load_rules(rule_set_path(name))]
    new = apply_overrides(new, dict(parse_setting(s) for s in args.set))
    columns = sorted({"id", *(r.signal for r in new + old)})
    tables = [read_stage(args.stage_dir, columns=columns, rejected=rej) for rej in (False, True)]
    signals = pl.concat([pl.from_arrow(t) for t in tables if t.num_rows], how="vertical_relaxed")
    report = rethreshold(signals, old, new)
    print(json.dumps(report, indent=1) if args.json else _text(report))
    return 0


def _text(report: dict[str, Any]) -> str:
    b, a = report["before"], report["after"]
    lines = [
        f"documents: {report['docs']}",
        f"kept:      {b['kept']} -> {a['kept']}   rejected: {b['rejected']} -> {a['rejected']}",
        f"newly rejected: {report['newly_rejected']}   newly kept: {report['newly_kept']}",
        "rule                                      fails before -> after",
    ]
    names = dict.fromkeys([*report["rules_failed_before"], *report["rules_failed_after"]])
    for name in names:
        before = report["rules_failed_before"].get(name, "-")
        after = report["rules_failed_after"].get(name, "off")
        lines.append(f"  {name:<40} {before!s:>6} -> {after}")
    return "\n".join(lines)
