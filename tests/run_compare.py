"""What a disturbed run (killed, signalled, a worker lost) must share with an undisturbed one.

Used by the signal tests and by ``bench/kill_resume.py`` (which puts ``tests/`` on its path).
"""

from __future__ import annotations

import json
from pathlib import Path


def data_files(run_dir: Path) -> dict[str, bytes]:
    """Every shard and artifact (token files, reports) of every stage: what a resume must reproduce
    (not scratch, progress records or manifests)."""
    return {
        str(p.relative_to(run_dir)): p.read_bytes()
        for p in sorted(run_dir.glob("[0-9][0-9]-*/**/*"))
        if p.is_file() and p.name != "manifest.json" and not {"_work", "_progress"} & set(p.parts)
    }


def manifests(run_dir: Path) -> dict[str, dict]:
    """Stage manifests without their timing (wall time, workers, retries differ between attempts):
    the same for a resumed run as for an undisturbed one.

    Without the git commit (other sessions commit to this checkout while a slow run goes on) and the
    CPU seconds some stages count in their stats (decontaminate's scan and lookup times).
    """
    out = {}
    for path in sorted(run_dir.glob("[0-9][0-9]-*/manifest.json")):
        doc = json.loads(path.read_text())
        doc.pop("timing")
        doc["versions"].pop("git_commit")
        doc["stats"] = {k: v for k, v in doc["stats"].items() if not k.endswith("_seconds")}  # CPU times
        out[str(path.relative_to(run_dir))] = doc
    return out
