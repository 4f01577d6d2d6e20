"""Recognizing benchmarks by path: which family a file or folder belongs to, by name and layout.

A path is a benchmark file, a folder holding one benchmark's files (MMLU's per-subject
CSVs), or a search folder holding many benchmarks: folders whose name says nothing are
searched recursively. Files are recognized by a family name in their path (``gsm8k/``,
``HumanEval.jsonl.gz``), else by layout (MosaicML ICL records), else by a ``GenericSpec``.
Licences, READMEs and other non-data files are skipped; a data file nobody recognizes is
an error, never silently left out.
"""

from __future__ import annotations

import itertools
import json
import os

from dataprep.benchmarks.families import FAMILIES, ICL_KEYS, Family, load_icl
from dataprep.benchmarks.files import data_format, open_text
from dataprep.benchmarks.generic import GenericSpec, load_generic
from dataprep.benchmarks.items import BenchmarkSet
from dataprep.core.storage import expand_inputs, strip_compression


def load_benchmarks(paths: list[str], generic: GenericSpec | None = None) -> list[BenchmarkSet]:
    """Every benchmark set found under ``paths``, merged by (name, split), sorted by key."""
    sets: dict[str, BenchmarkSet] = {}
    for path in paths:
        files = _data_files(path)
        if not files:
            if "://" not in path and not os.path.exists(path):
                raise FileNotFoundError(f"benchmark path {path!r} does not exist")
            raise ValueError(f"no benchmark data files under {path!r}")
        for file in files:
            loaded = _load_file(file, generic)
            if loaded.key in sets:
                seen = sets[loaded.key]
                if file in seen.files:
                    continue
                seen.files.append(file)
                seen.items.extend(loaded.items)
            else:
                sets[loaded.key] = loaded
    return [sets[k] for k in sorted(sets)]


def _data_files(path: str) -> list[str]:
    """The file ``path``, or the data files under it (local or object store), skipping licences
    and docs, in ``os.walk`` order (a folder's files, then its sub-folders): the order a set's
    files are merged in."""
    found = expand_inputs(path)
    if len(found) == 1 and found[0][0] == (path if "://" in path else os.path.abspath(path)):
        return [found[0][0]]
    return [full for full, rel in sorted(found, key=lambda f: _walk_order(f[1])) if _is_data(os.path.basename(rel))]


def _walk_order(rel: str) -> list[tuple[bool, str]]:
    """Sort key putting a folder's files before its sub-folders."""
    parts = rel.split("/")
    return [(i < len(parts) - 1, part) for i, part in enumerate(parts)]


def _is_data(name: str) -> bool:
    return data_format(name) is not None or any(
        name.lower().endswith(f + s) for f in (".txt",) for s in ("", ".gz", ".bz2")
    )


def _family(path: str) -> Family | None:
    """The family named in the file's name or its two parent folders, if its format fits."""
    parts = [p.lower() for p in os.path.normpath(os.path.abspath(path)).split(os.sep)][-3:]
    fmt = data_format(path) or os.path.splitext(strip_compression(path))[1].lower()
    for family in FAMILIES:
        if fmt in family.formats and any(h in part for h, part in itertools.product(family.hints, parts)):
            return family
    return None


def _is_icl(path: str) -> bool:
    """True for a JSONL file whose first record has the MosaicML ICL keys."""
    if data_format(path) != "jsonl":
        return False
    with open_text(path) as f:
        first = next((line for line in f if line.strip()), "")
    try:
        rec = json.loads(first)
    except json.JSONDecodeError:
        return False
    return isinstance(rec, dict) and any(k in rec for k in ICL_KEYS)


def _load_file(path: str, generic: GenericSpec | None) -> BenchmarkSet:
    family = _family(path)
    if family is not None:
        return family.load(path)
    if generic is not None:
        return load_generic(path, generic)
    if _is_icl(path):
        return load_icl(path)
    raise ValueError(
        f"cannot tell which benchmark {path!r} is (known families: {', '.join(f.name for f in FAMILIES)}, "
        "or MosaicML ICL JSONL); give its text fields to read it as a generic benchmark"
    )
