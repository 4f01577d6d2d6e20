"""Contamination detection: normalization, the benchmark n-gram index, matching, reports.

``ngrams`` turns text into stable 64-bit word n-gram hashes, ``index`` holds a benchmark
set's hashes as sorted numpy arrays, ``match`` finds them in documents and maps hits back
to character spans, ``report`` renders what an auditor reads.
"""
