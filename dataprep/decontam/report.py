"""The contamination report: one JSON document (schema ``manifests/audit.schema.json``) and
its Markdown rendering, written by the decontaminate stage (``dataprep audit`` is a
pipeline ending in that stage, so both are this one report).

A match row is one span of one document matching one benchmark item. The report says,
per benchmark split, how many items were found (count and %) and how many documents and
characters are involved; per item, the fraction of its n-grams found and the documents;
per match, where it is (document id, the input file and row its id names, character span),
what it says and which item it matches. The config and the sha256 of every benchmark file make two reports
comparable.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dataprep import __version__
from dataprep.benchmarks.items import BenchmarkSet
from dataprep.core.schema import id_origin
from dataprep.core.storage import file_sha256_and_size
from dataprep.decontam.match import ItemMatch, merge_ranges

SCHEMA = "dataprep.audit"
SCHEMA_VERSION = 1
TEXT_LIMIT = 2000  # characters of matched text kept per match in the JSON report
MD_MATCHES = 200  # matches listed in the Markdown page (all are in the JSON)
MD_TEXT = 300  # characters of each match shown in the Markdown page

MATCH_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("file", pa.string()),
        ("row", pa.int64()),
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("text", pa.string()),
        ("item", pa.int64()),
        ("overlap", pa.float64()),
        ("matched_ngrams", pa.int64()),
    ]
)


def match_rows(
    matches: Sequence[ItemMatch],
    texts: Sequence[str],
    doc_ids: Sequence[str],
    files: Sequence[str],
    rows: Sequence[int],
) -> pa.Table:
    """One row per (document, item, span); ``texts[m.text]`` etc. describe match ``m``'s document."""
    cols: dict[str, list[Any]] = {f.name: [] for f in MATCH_SCHEMA}
    for m in matches:
        for start, end in m.spans:
            cols["doc_id"].append(doc_ids[m.text])
            cols["file"].append(files[m.text])
            cols["row"].append(int(rows[m.text]))
            cols["start"].append(start)
            cols["end"].append(end)
            cols["text"].append(texts[m.text][start:end][:TEXT_LIMIT])
            cols["item"].append(m.item)
            cols["overlap"].append(m.overlap)
            cols["matched_ngrams"].append(m.matched_keys)
    return pa.table(cols, schema=MATCH_SCHEMA)


def origins(doc_ids: Sequence[str], shard: str) -> tuple[list[str], list[int]]:
    """The input file and row each document id names (id rule); for an id of another form,
    the ``shard`` holding it and its 1-based row there."""
    found = [id_origin(d) for d in doc_ids]
    return (
        [o[0] if o else shard for o in found],
        [o[1] if o else i for i, o in enumerate(found, start=1)],
    )


def file_totals(files: Sequence[str], text: pa.ChunkedArray | pa.Array) -> dict[str, list[int]]:
    """Documents, characters and UTF-8 bytes per file, in order of first appearance."""
    out: dict[str, list[int]] = {}
    chars = pc.utf8_length(text).to_numpy(zero_copy_only=False).tolist()
    nbytes = pc.binary_length(text).to_numpy(zero_copy_only=False).tolist()
    for f, c, b in zip(files, chars, nbytes):
        t = out.setdefault(f, [0, 0, 0])
        t[0] += 1
        t[1] += c
        t[2] += b
    return out


def benchmark_entries(
    sets: Sequence[BenchmarkSet], indexed: dict[str, int], base: str | None = None
) -> list[dict[str, Any]]:
    """Each set with its files' sha256, so two audits can be compared; paths relative to ``base``."""
    out = []
    for b in sets:
        files = []
        for p in b.files:
            sha, size = file_sha256_and_size(p)
            files.append(
                {"path": os.path.relpath(p, base) if base and "://" not in p else p, "sha256": sha, "bytes": size}
            )
        out.append(
            {
                "name": b.name,
                "split": b.split,
                "fields": list(b.fields),
                "items": len(b.items),
                "indexed_items": indexed.get(b.key, 0),
                "files": files,
            }
        )
    return out


def build_report(
    *,
    config: dict[str, Any],
    benchmarks: list[dict[str, Any]],
    items: pa.Table,
    item_ngrams: Sequence[int],
    matches: pa.Table,
    data: dict[str, Any],
    common: list[dict[str, Any]],
) -> dict[str, Any]:
    """The report document. ``items`` names item i in row i (benchmark, split, item_id).

    No creation time: the report's bytes must not depend on the clock (the run's
    ``run.json`` says when it ran).
    """
    bench = items.column("benchmark").to_pylist()
    split = items.column("split").to_pylist()
    item_id = items.column("item_id").to_pylist()
    rows = matches.sort_by(
        [("file", "ascending"), ("row", "ascending"), ("item", "ascending"), ("start", "ascending")]
    ).to_pylist()
    match_list = []
    per_item: dict[int, dict[str, Any]] = {}
    spans_by_split_doc: dict[tuple[str, str], dict[str, list[tuple[int, int]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for r in rows:
        i = r["item"]
        key = (bench[i], split[i])
        match_list.append(
            {
                "doc_id": r["doc_id"],
                "file": r["file"],
                "row": r["row"],
                "start": r["start"],
                "end": r["end"],
                "text": r["text"],
                "benchmark": bench[i],
                "split": split[i],
                "item_id": item_id[i],
                "item_overlap": round(r["overlap"], 6),
            }
        )
        entry = per_item.setdefault(
            i,
            {
                "benchmark": bench[i],
                "split": split[i],
                "item_id": item_id[i],
                "ngrams": int(item_ngrams[i]),
                "max_overlap": 0.0,
                "documents": [],
            },
        )
        entry["max_overlap"] = max(entry["max_overlap"], round(r["overlap"], 6))
        if r["doc_id"] not in entry["documents"]:
            entry["documents"].append(r["doc_id"])
        spans_by_split_doc[key][r["doc_id"]].append((r["start"], r["end"]))
    summary = []
    for b in benchmarks:
        key = (b["name"], b["split"])
        found = [e for e in per_item.values() if (e["benchmark"], e["split"]) == key]
        docs = spans_by_split_doc.get(key, {})
        chars = sum(e - s for spans in docs.values() for s, e in merge_ranges(spans))
        summary.append(
            {
                "benchmark": b["name"],
                "split": b["split"],
                "items": b["items"],
                "indexed_items": b["indexed_items"],
                "contaminated_items": len(found),
                "contaminated_pct": round(100.0 * len(found) / b["items"], 4) if b["items"] else 0.0,
                "documents": len(docs),
                "characters": chars,
            }
        )
    all_docs = {r["doc_id"] for r in rows}
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "dataprep_version": __version__,
        "config": config,
        "benchmarks": benchmarks,
        "data": data,
        "totals": {
            "documents": data["documents"],
            "characters": data["characters"],
            "contaminated_documents": len(all_docs),
            "contaminated_items": len(per_item),
            "matches": len(match_list),
        },
        "summary": summary,
        "items": sorted(
            per_item.values(), key=lambda e: (e["benchmark"], e["split"], -e["max_overlap"], e["item_id"])
        ),
        "matches": match_list,
        "common_ngrams": common,
    }


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=1, ensure_ascii=False) + "\n"


def render_markdown(report: dict[str, Any]) -> str:
    """A page an auditor can act on: what is contaminated, where, and how to check it."""
    cfg, totals, data = report["config"], report["totals"], report["data"]
    out = [
        "# Benchmark contamination audit",
        "",
        f"Made by dataprep {report['dataprep_version']}. "
        f"Word {cfg['ngram']}-grams after normalization (NFKC, lower case, punctuation and whitespace folded); "
        f"benchmark fields shorter than {cfg['ngram']} words but at least {cfg['min_item_words']} are matched whole; "
        f"n-grams found in more than {cfg['max_doc_freq']} corpus documents are treated as common text and ignored.",
        "",
        f"**Corpus:** {totals['documents']:,} documents, {totals['characters']:,} characters"
        + (f" in {len(data['files'])} file(s). " if data["files"] else ". ")
        + f"**Contaminated:** {totals['contaminated_documents']:,} documents, "
        + f"{totals['contaminated_items']:,} benchmark items, "
        f"{totals['matches']:,} matched spans.",
        "",
        "## Per benchmark",
        "",
        "| benchmark | split | items | indexed | contaminated items | % | documents | matched characters |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in sorted(report["summary"], key=lambda s: (-s["contaminated_items"], s["benchmark"], s["split"])):
        out.append(
            f"| {s['benchmark']} | {s['split']} | {s['items']:,} | {s['indexed_items']:,} "
            f"| {s['contaminated_items']:,} "
            f"| {s['contaminated_pct']:.2f} | {s['documents']:,} | {s['characters']:,} |"
        )
    out += [
        "",
        "Items too short to index (fewer words than the whole-match minimum) cannot be detected: "
        "compare *items* with *indexed*.",
        "",
    ]
    if report["items"]:
        out += [
            "## Contaminated items",
            "",
            "| benchmark | split | item | n-grams | largest share found in one document | documents |",
            "|---|---|---|---:|---:|---|",
        ]
        for e in report["items"]:
            docs = ", ".join(f"`{d}`" for d in e["documents"][:5]) + (
                f" and {len(e['documents']) - 5} more" if len(e["documents"]) > 5 else ""
            )
            out.append(
                f"| {e['benchmark']} | {e['split']} | `{e['item_id']}` | {e['ngrams']} "
                f"| {e['max_overlap']:.0%} | {docs} |"
            )
        out.append("")
    if report["matches"]:
        shown = report["matches"][:MD_MATCHES]
        out += [
            "## Matches",
            "",
            f"Showing {len(shown)} of {len(report['matches'])} (all are in the JSON report). "
            "Spans are character offsets in the document's text.",
            "",
        ]
        for m in shown:
            text = m["text"][:MD_TEXT] + ("…" if len(m["text"]) > MD_TEXT else "")
            out += [
                f"- `{m['doc_id']}` ({m['file']}, row {m['row']}, chars {m['start']}–{m['end']}) matches "
                f"**{m['benchmark']}/{m['split']}** item `{m['item_id']}` "
                f"({m['item_overlap']:.0%} of its n-grams in this document)",
                "",
                "  > " + " ".join(text.split()),
                "",
            ]
    if report["common_ngrams"]:
        out += ["## Common n-grams ignored", "", "| n-gram | documents |", "|---|---:|"]
        out += [f"| {c['text']} | {c['documents']:,} |" for c in report["common_ngrams"]]
        out.append("")
    out += ["## Benchmark files", "", "| benchmark | split | file | sha256 |", "|---|---|---|---|"]
    out += [
        f"| {b['name']} | {b['split']} | {f['path']} | `{f['sha256']}` |"
        for b in report["benchmarks"]
        for f in b["files"]
    ]
    return "\n".join(out) + "\n"
