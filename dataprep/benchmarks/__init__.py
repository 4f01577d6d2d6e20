"""Benchmark sets to check a corpus against: recognized by path, loaded into items.

The package ships no benchmark data: every set is given by path (a file, a folder holding
one benchmark's files, or a search folder holding many). ``load_benchmarks`` is the entry
point; ``families`` knows the well-known sets, ``generic`` reads any JSONL/CSV/Parquet file.
"""

from dataprep.benchmarks.items import BenchmarkSet, Item
from dataprep.benchmarks.registry import GenericSpec, load_benchmarks

__all__ = ["BenchmarkSet", "GenericSpec", "Item", "load_benchmarks"]
