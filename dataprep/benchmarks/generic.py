"""Any JSONL, CSV or Parquet file as a benchmark: named text fields, an optional id field."""

from __future__ import annotations

from dataclasses import dataclass

from dataprep.benchmarks.families import _records_set, file_stem
from dataprep.benchmarks.files import texts_of
from dataprep.benchmarks.items import BenchmarkSet, strip_scaffold


@dataclass(frozen=True)
class GenericSpec:
    """How to read a set no family knows: which fields hold text, which holds the id."""

    text_fields: tuple[str, ...]
    id_field: str | None = None
    name: str | None = None  # default: the file's stem
    split: str = "eval"
    strip_prompts: bool = True  # drop "Question:" / "A." scaffolding inside the text fields


def load_generic(path: str, spec: GenericSpec) -> BenchmarkSet:
    """Items from ``spec.text_fields`` of every record; a record missing all of them is an error."""
    if not spec.text_fields:
        raise ValueError(f"{path}: a generic benchmark needs at least one text field")

    def extract(rec: dict) -> list[str]:
        missing = [f for f in spec.text_fields if f not in rec]
        if len(missing) == len(spec.text_fields):
            raise ValueError(
                f"{path}: record has none of the text fields {list(spec.text_fields)} (has {sorted(rec)})"
            )
        texts = [t for f in spec.text_fields for t in texts_of(rec.get(f))]
        return [p for t in texts for p in strip_scaffold(t)] if spec.strip_prompts else texts

    return _records_set(path, spec.name or file_stem(path), spec.split, spec.text_fields, extract, spec.id_field)
