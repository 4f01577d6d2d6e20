"""Live progress of a run: per stage, shards and documents done, MB/s, elapsed time, ETA, retries.

Styles (``--log-format`` on the CLI, ``verbose=`` in the API):

* ``rich``: live bars (rich), also in Jupyter notebooks;
* ``plain``: a line per stage at most every two seconds (logs, CI);
* ``json``: one JSON object per line on stderr, for machines (``event``: ``stage``, ``progress``,
  ``note``);
* ``none``: silent. ``auto`` (``verbose=True``) picks rich on a terminal or in a notebook and
  plain elsewhere.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

STYLES = ("auto", "rich", "plain", "json", "none")
Style = bool | str  # True = "auto", False = "none"
PLAIN_EVERY = 2.0  # seconds between plain or JSON lines of one stage


def style_of(verbose: Style) -> str:
    """The concrete style for ``verbose`` (a style name, or True/False)."""
    if verbose is True or verbose == "auto":
        return "rich" if sys.stderr.isatty() or _in_notebook() else "plain"
    if not verbose:
        return "none"
    if verbose not in STYLES:
        raise ValueError(f"unknown progress style {verbose!r}; choose one of {', '.join(STYLES)}")
    return str(verbose)


def note(verbose: Style, message: str, **fields: Any) -> None:
    """A one-off line (a stage starting, damaged inputs) in the run's progress style."""
    style = style_of(verbose)
    if style == "json":
        _json_line({"event": "note", "message": message, **fields})
    elif style != "none":
        print(message, file=sys.stderr, flush=True)


class Progress:
    """Progress of one parallel pass: called with each finished task's record (``on_done``).

    A record is a shard's (``in`` documents, ``output.bytes``) or a read unit's (``rows``,
    ``files[].bytes``); both count towards documents and MB per second.
    """

    def __init__(self, stage: str, total: int, verbose: Style, executor: Any = None) -> None:
        self.stage, self.total, self.style = stage, total, style_of(verbose) if total else "none"
        self.executor = executor
        self.done = self.docs = self.bytes = 0
        self.start = self.last = time.monotonic()
        self.bar: Any = None
        if self.style == "rich":
            self._start_bar()

    def step(self, _index: int = 0, record: Any = None) -> None:
        self.done += 1
        if isinstance(record, dict):
            self.docs += int(record.get("in", record.get("rows", 0)) or 0)
            out = record.get("output")
            self.bytes += (
                int(out["bytes"]) if isinstance(out, dict) else sum(f["bytes"] for f in record.get("files", []))
            )
        now = time.monotonic()
        if self.style == "rich":
            self.bar.update(self.task, completed=self.done, fields=self._fields(now))
            if self.done == self.total:
                self.bar.stop()
        elif self.style != "none" and (now - self.last > PLAIN_EVERY or self.done == self.total):
            self.last = now
            f = self._fields(now)
            if self.style == "json":
                _json_line(
                    {"event": "progress", "stage": self.stage, "shards_done": self.done, "shards": self.total, **f}
                )
            else:
                print(
                    f"  [{self.stage}] {self.done}/{self.total} shards, {self.docs:,} docs, {f['mb_per_s']:.1f} MB/s, "
                    f"{f['elapsed_s']:.0f} s elapsed, ETA {f['eta_s']:.0f} s, {f['retries']} retries",
                    file=sys.stderr,
                    flush=True,
                )

    def _fields(self, now: float) -> dict[str, Any]:
        elapsed = max(now - self.start, 1e-9)
        eta = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        return {
            "docs": self.docs,
            "mb": round(self.bytes / 1e6, 3),
            "mb_per_s": round(self.bytes / 1e6 / elapsed, 3),
            "docs_per_s": round(self.docs / elapsed, 1),
            "elapsed_s": round(elapsed, 1),
            "eta_s": round(eta, 1),
            "retries": int(getattr(self.executor, "retries", 0)),
        }

    def _start_bar(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as Bars

        self.bar = Bars(
            TextColumn("[bold]{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("shards {task.fields[fields][docs]:>10,} docs {task.fields[fields][mb_per_s]:>7.1f} MB/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[fields][retries]} retries"),
            transient=False,
        )
        self.task = self.bar.add_task(self.stage, total=self.total, fields=self._fields(time.monotonic()))
        self.bar.start()


def _json_line(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, sort_keys=True), file=sys.stderr, flush=True)


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    ip = getattr(shell, "get_ipython", lambda: None)() if shell else None
    return type(ip).__name__ == "ZMQInteractiveShell"
