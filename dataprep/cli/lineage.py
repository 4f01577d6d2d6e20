"""``dataprep lineage DIR DOC_ID``: where a document went, and why it was dropped."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lineage", help="follow one document through a run", description=__doc__)
    p.add_argument("run_dir", help="run directory")
    p.add_argument("doc_id", help="document id, e.g. web/cc_en_head-0091.jsonl.gz:3")
    p.set_defaults(func=_lineage)


def _lineage(args: argparse.Namespace) -> int:
    from dataprep.lineage import trace

    sightings = trace(args.run_dir, args.doc_id)
    if not sightings:
        print(f"{args.doc_id}: not found in {args.run_dir}")
        return 1
    for s in sightings:
        where = f"{s.shard} row {s.row}"
        if s.status == "rejected":
            reason = s.detail.get("reason")
            extra = {k: v for k, v in s.detail.items() if k not in ("reason", "stage", "meta", "source", "domain", "url")}
            print(f"{s.stage:<18} REJECTED  {s.doc_id}  reason={reason}  ({where})")
            if extra:
                print(f"{'':<18}           {json.dumps(extra, ensure_ascii=False, default=str)[:400]}")
        else:
            print(f"{s.stage:<18} kept      {s.doc_id}  ({where})")
    return 0
