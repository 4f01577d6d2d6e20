"""``dataprep stages [NAME]``: every stage with every setting, its type, default and meaning."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stages", help="list the stages and their settings", description=__doc__)
    p.add_argument("name", nargs="?", help="show only this stage")
    p.set_defaults(func=_stages)


def _stages(args: argparse.Namespace) -> int:
    import sys

    from dataprep.config import stage_settings
    from dataprep.stages import STAGES, stage_class

    names = [args.name] if args.name else list(STAGES)
    for name in names:
        cls = stage_class(name)
        doc = (cls.__doc__ or sys.modules[cls.__module__].__doc__ or "").strip().splitlines()
        print(f"{name}  ({cls.kind} stage){'  - ' + doc[0] if doc else ''}")
        print(f"  reads: {', '.join(cls.reads)}; writes: {', '.join(cls.writes) or '-'}")
        for s in stage_settings(cls.config_model):
            default = json.dumps(s.default, default=str) if s.default != "(required)" else "(required)"
            print(f"  {s.key:<28} {s.type:<24} default {default}")
            if s.meaning:
                print(f"  {'':<28} {s.meaning}")
        print()
    return 0
