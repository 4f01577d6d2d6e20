"""``dataprep lineage DIR DOC_ID``: where a document went, and why it was dropped.

``dataprep lineage DIR --token N``: which document token N of the run's token file belongs to.
"""

from __future__ import annotations

import argparse
import json

SPANS_SUFFIX = "_spans"  # list<struct{start, end, also_in}> columns of span-removing stages
SPANS_SHOWN = 10
# Columns the "why" lines already put in words: quality signals, language, duplicates, benchmarks.
EXPLAINED_PREFIXES = ("q_", "decontam_", "lang")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lineage", help="follow one document through a run", description=__doc__)
    p.add_argument("run_dir", help="run directory")
    p.add_argument("doc_id", nargs="?", help="document id, e.g. web/cc_en_head-0091.jsonl.gz:3")
    p.add_argument("--token", type=int, metavar="N", help="find the document holding token N of the token file")
    p.set_defaults(func=_lineage)


def _lineage(args: argparse.Namespace) -> int:
    from dataprep.engine.lineage import token_owner, trace

    if args.token is not None:
        owner = token_owner(args.run_dir, args.token)
        if owner is None:
            print(f"token {args.token}: no exported token file of {args.run_dir} holds it")
            return 1
        end = owner.start + owner.n_tokens
        print(f"token {args.token} is in {owner.doc_id} (tokens [{owner.start}, {end}) of {owner.index})")
        args.doc_id = owner.doc_id.split("#r")[0]
    if not args.doc_id:
        raise ValueError("give a DOC_ID or --token N")
    sightings = trace(args.run_dir, args.doc_id)
    if not sightings:
        print(f"{args.doc_id}: not found in {args.run_dir}")
        return 1
    for s in sightings:
        where = f"{s.shard} row {s.row}"
        if s.status == "rejected":
            reason = s.detail.get("reason")
            extra = {
                k: v
                for k, v in s.detail.items()
                if k not in ("reason", "stage", "meta", "source", "domain", "url", "why", "dup_of")
                and not k.startswith(EXPLAINED_PREFIXES)
            }
            print(f"{s.stage:<18} REJECTED  {s.doc_id}  reason={reason}  ({where})")
            for line in s.detail.get("why", []):
                print(f"{'':<18}           {line}")
            shown = {k: v for k, v in extra.items() if not k.endswith(SPANS_SUFFIX)}
            if shown:
                print(f"{'':<18}           {json.dumps(shown, ensure_ascii=False, default=str)[:400]}")
        else:
            span = s.detail.get("tokens")
            tokens = f"  tokens [{span['span'][0]}, {span['span'][1]}) of {span['index']}" if span else ""
            print(f"{s.stage:<18} kept      {s.doc_id}  ({where}){tokens}")
        for line in _removed_spans(s.detail):
            print(f"{'':<18}           {line}")
    return 0


def _removed_spans(detail: dict) -> list[str]:
    """Spans a stage cut out of the document (``*_spans`` columns) and where else each occurred."""
    out = []
    for key, spans in detail.items():
        if not key.endswith(SPANS_SUFFIX) or not spans:
            continue
        out.append(f"{key}: {len(spans)} removed span(s), character offsets into the stage's input text")
        for span in spans[:SPANS_SHOWN]:
            if "type" in span:  # pii: what was found there, never the value
                out.append(f"  [{span['start']}, {span['end']})  {span['type']}")
                continue
            others = ", ".join(span.get("also_in") or []) or "-"
            out.append(f"  [{span['start']}, {span['end']})  also in: {others}")
        if len(spans) > SPANS_SHOWN:
            out.append(f"  ... {len(spans) - SPANS_SHOWN} more")
    return out
