"""Deduplication building blocks: text normalization, MinHash signatures, LSH banding and
partitioned connected components. The ``dedup`` stage (``dataprep.stages.dedup``) wires
them into a Ray pipeline; ``dataprep dedup-sweep`` reuses them on stored signatures."""
