"""Rule sets (thresholds over signal columns) loaded from ``filters/*.yaml`` and applied.

A rule keeps a document when ``min <= signal <= max`` (or ``signal in allowed``); a NaN
signal passes, as in datatrove, where a comparison with NaN is false. Rules keep their
file order, so the first failing rule (the rejected row's ``reason``) is the one the
reference implementation would have reported first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

# Shipped inside the package (``dataprep/filters`` links to the top-level ``filters/``), so a wheel
# install finds them; dataprep is installed as files, so the resource is a real Path.
FILTERS_DIR = Path(str(resources.files("dataprep").joinpath("filters")))
BOUNDS = ("min", "max", "allowed")


class Rule(BaseModel):
    """One threshold: ``name`` is ``<rule set>.<rule>``, e.g. ``gopher_quality.min_doc_words``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    signal: str
    min: float | None = None
    max: float | None = None
    allowed: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> Rule:
        if sum(getattr(self, b) is not None for b in BOUNDS) != 1:
            raise ValueError(f"rule {self.name!r} needs exactly one of min, max, allowed")
        return self

    @property
    def bound(self) -> str:
        return next(b for b in BOUNDS if getattr(self, b) is not None)

    def with_value(self, value: Any) -> Rule:
        return self.model_copy(update={self.bound: tuple(value) if self.bound == "allowed" else float(value)})

    def fails(self) -> pl.Expr:
        """True where this rule rejects the document."""
        col = pl.col(self.signal)
        if self.allowed is not None:
            return ~col.is_in(list(self.allowed)).fill_null(False)
        limit = self.min if self.min is not None else self.max
        bad = col < limit if self.min is not None else col > limit
        return bad.fill_null(False)


class _RuleSetFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    stop_words: list[str] | None = None
    rules: list[dict[str, Any]]


def rule_set_path(name_or_path: str) -> Path:
    """A built-in rule set by name (``filters/<name>.yaml``) or a YAML file path."""
    if name_or_path.endswith((".yaml", ".yml")):
        return Path(name_or_path)
    path = FILTERS_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in FILTERS_DIR.glob("*.yaml")))
        raise ValueError(f"unknown rule set {name_or_path!r}; built-in rule sets: {known} (or give a .yaml path)")
    return path


def _read(path: Path) -> _RuleSetFile:
    try:
        return _RuleSetFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (ValidationError, yaml.YAMLError) as exc:
        raise ValueError(f"invalid rule set file {path}: {exc}") from None


def load_rules(path: Path) -> list[Rule]:
    """The rules of one rule set file, named ``<set>.<rule>``."""
    spec = _read(path)
    try:
        return [Rule(**{**r, "name": f"{spec.name}.{r['name']}"}) for r in spec.rules]
    except (ValidationError, KeyError) as exc:
        raise ValueError(f"invalid rule in {path}: {exc}") from None


def stop_words() -> list[str]:
    """Gopher's stop words, from ``filters/gopher_quality.yaml`` (the one place they live)."""
    words = _read(FILTERS_DIR / "gopher_quality.yaml").stop_words
    if not words:
        raise ValueError(f"{FILTERS_DIR / 'gopher_quality.yaml'} has no stop_words")
    return words


def apply_overrides(rules: list[Rule], overrides: Mapping[str, Any]) -> list[Rule]:
    """Replace thresholds by rule name; ``None`` switches a rule off. Unknown names are errors."""
    by_name = {r.name: r for r in rules}
    unknown = sorted(set(overrides) - set(by_name))
    if unknown:
        raise ValueError(f"override of unknown rule(s) {', '.join(unknown)}; known rules: {', '.join(by_name)}")
    return [
        r if r.name not in overrides else r.with_value(overrides[r.name])
        for r in rules
        if not (r.name in overrides and overrides[r.name] is None)
    ]


def evaluate(signals: pl.DataFrame, rules: Iterable[Rule]) -> pl.DataFrame:
    """One boolean column per rule (True = fails) plus ``reason``: the first failing rule."""
    rules = list(rules)
    fails = signals.select([r.fails().alias(r.name) for r in rules])
    reason = pl.lit(None, dtype=pl.String)
    for r in reversed(rules):
        reason = pl.when(pl.col(r.name)).then(pl.lit(r.name)).otherwise(reason)
    return fails.with_columns(reason.alias("reason"))


def explain(signals: Mapping[str, Any], rules: Iterable[Rule]) -> list[str]:
    """Each rule one document fails, as ``rule: value op threshold`` (e.g. for lineage).

    Decided by ``evaluate`` itself, so the explanation can never disagree with the decision.
    """
    rules = [r for r in rules if r.signal in signals]
    if not rules:
        return []
    frame = pl.DataFrame({r.signal: [signals[r.signal]] for r in rules})
    failed = evaluate(frame, rules).row(0, named=True)
    out = []
    for r in rules:
        if failed[r.name]:
            value = signals[r.signal]
            shown = f"{value:.4g}" if isinstance(value, float) else repr(value)
            if r.allowed is not None:
                out.append(f"{r.name}: {r.signal} {shown} not in {list(r.allowed)}")
            else:
                op, limit = ("<", r.min) if r.min is not None else (">", r.max)
                out.append(f"{r.name}: {r.signal} {shown} {op} {limit:g}")
    return out


def failure_counts(decisions: pl.DataFrame) -> dict[str, int]:
    """How many documents fail each rule (every failing rule, not only the first)."""
    rule_cols = [c for c in decisions.columns if c != "reason"]
    if not rule_cols or decisions.height == 0:
        return {c: 0 for c in rule_cols}
    return {k: int(v) for k, v in decisions.select(pl.col(rule_cols).sum()).row(0, named=True).items()}


def rethreshold(signals: pl.DataFrame, old: list[Rule], new: list[Rule]) -> dict[str, Any]:
    """How kept/rejected counts and per-rule failures change from ``old`` to ``new`` rules."""
    before, after = evaluate(signals, old), evaluate(signals, new)
    was_kept, now_kept = before.get_column("reason").is_null(), after.get_column("reason").is_null()
    return {
        "docs": signals.height,
        "before": {"kept": int(was_kept.sum()), "rejected": int((~was_kept).sum())},
        "after": {"kept": int(now_kept.sum()), "rejected": int((~now_kept).sum())},
        "newly_rejected": int((was_kept & ~now_kept).sum()),
        "newly_kept": int((~was_kept & now_kept).sum()),
        "rules_failed_before": failure_counts(before.drop("reason")),
        "rules_failed_after": failure_counts(after.drop("reason")),
        "reasons_after": {
            str(k): int(v) for k, v in after.get_column("reason").drop_nulls().value_counts(sort=True).iter_rows()
        },
    }
