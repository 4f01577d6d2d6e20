"""What a benchmark is once loaded: items with the text fields that are checked.

Loaders keep only benchmark text: prompt scaffolding added by evaluation harnesses
("Question:", "Choices:", "A." option labels, "Answer:") is stripped, because it is not
part of the benchmark and would make ordinary quiz pages look contaminated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Item:
    """One benchmark item: a stable id and the texts checked (question, passage, choices, ...)."""

    item_id: str
    fields: tuple[str, ...]


@dataclass
class BenchmarkSet:
    """One split of one benchmark, with the files it was read from (hashed for the report)."""

    name: str
    split: str
    files: list[str]
    fields: tuple[str, ...]  # names of the checked fields, for the report
    items: list[Item] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.name}/{self.split}"


# Labels MosaicML / lm-eval style prompts put at the start of a line.
_LABEL = re.compile(r"^\s*(?:passage|context|question|q|choices|answer|hint)\s*:\s?", re.IGNORECASE)
# Option labels: "A. text", "B) text", "C.) text".
_OPTION = re.compile(r"^\s*[A-J](?:\.\)|\.|\))\s+")


def strip_scaffold(text: str) -> list[str]:
    """Split a harness prompt into its benchmark texts, dropping labels and option letters.

    Each labelled line or option line starts a new part; unlabelled lines continue the
    current part. Empty parts (e.g. a trailing "Answer:") are dropped.
    """
    parts: list[list[str]] = [[]]
    for line in text.split("\n"):
        label = _LABEL.match(line)
        rest = line[label.end() :] if label else line
        option = _OPTION.match(rest)  # also after a label: "Choices: A. text"
        if label or option:
            parts.append([rest[option.end() :] if option else rest])
        else:
            parts[-1].append(line)
    return [p for p in ("\n".join(lines).strip() for lines in parts) if p]
