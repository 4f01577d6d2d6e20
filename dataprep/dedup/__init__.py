"""Deduplication: text normalization, MinHash signatures, LSH banding, partitioned connected
components, and the phases of one dedup pass (``signatures``, ``candidates``, ``verification``,
``clusters``, ``decisions``) that the ``dedup`` stage (``dataprep.stages.dedup``) orchestrates;
``dataprep dedup-sweep`` reuses them on stored signatures."""
