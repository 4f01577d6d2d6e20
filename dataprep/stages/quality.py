"""The quality stage: per-document signals (``q_*``, ``lang``, ``lang_score``) and rules.

Signals are computed once and kept as columns (in kept and rejected rows), so thresholds
can be changed afterwards without recomputing anything (``dataprep rethreshold``). Rules
come from rule sets in ``filters/`` (Gopher quality and repetition, C4, FineWeb), plus the
language rule and, optionally, a fastText quality classifier. A rejected row's ``reason``
is its first failing rule; the manifest counts every failing rule and gives quantiles of
every signal. The effective rules are saved as the artifact ``rules.json``.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from dataprep.core.contract import InputPath, RunInfo, StageConfig
from dataprep.core.schema import REASON, normalize_table
from dataprep.quality.classifier import POSITIVE
from dataprep.quality.langid import DEFAULT_MODEL, FastTextModel, fasttext_inputs, identify
from dataprep.quality.rules import (
    Rule,
    apply_overrides,
    evaluate,
    failure_counts,
    load_rules,
    rule_set_path,
    stop_words,
)
from dataprep.quality.signals import SIGNALS, compute_signals
from dataprep.stages.base import FinalizeContext, ShardContext, ShardResult, Stage

RULES_ARTIFACT = "rules.json"
CLASSIFIER_SIGNAL = "q_classifier_score"
QUANTILES = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)


class LanguageConfig(StageConfig):
    allowed: list[str] | None = Field(["en"], description="lid.176 codes to keep; null keeps every language")
    # datatrove LanguageFilter's default language_threshold is 0.65
    min_score: float = Field(0.65, ge=0, le=1, description="minimum probability of the predicted language")
    model: InputPath | None = Field(None, description="a fastText LID model; default: the vendored lid.176.ftz")
    max_chars: int | None = Field(2000, gt=0, description="identify on the first N characters (null: whole text)")


class ClassifierConfig(StageConfig):
    model: InputPath = Field(description="a model from `dataprep train-classifier`")
    min_score: float = Field(0.5, ge=0, le=1, description="minimum probability of the high-quality label")
    max_chars: int | None = Field(10000, gt=0, description="score the first N characters (null: whole text)")


class QualityConfig(StageConfig):
    rule_sets: list[str] = Field(
        ["gopher_quality", "gopher_repetition"], description="built-in names (filters/<name>.yaml) or .yaml paths"
    )
    overrides: dict[str, float | list[str] | None] = Field(
        {}, description='threshold by rule name, e.g. {"c4.min_sentences": 3}; null switches a rule off'
    )
    language: LanguageConfig | None = Field(LanguageConfig(), description="language ID and rule; null: none")
    classifier: ClassifierConfig | None = None
    batch_docs: int = Field(2000, gt=0, description="documents per signal batch (bounds memory)")


class QualityStage(Stage):
    name = "quality"
    config_model = QualityConfig
    reads = ("id", "text")
    writes = (*SIGNALS, "lang", "lang_score", CLASSIFIER_SIGNAL)
    config: QualityConfig

    def __init__(self, config: QualityConfig, run: RunInfo) -> None:
        """Load and check every rule now, so a typo in a rule name fails before any work."""
        super().__init__(config, run)
        self.rules = resolve_rules(config, run)
        self.stop_words = stop_words()
        lang = config.language
        self.lid = FastTextModel(run.resolve(lang.model) if lang and lang.model else DEFAULT_MODEL) if lang else None
        self.scorer = FastTextModel(run.resolve(config.classifier.model)) if config.classifier else None

    def process(self, table: pa.Table, ctx: ShardContext) -> ShardResult:
        texts = pl.from_arrow(table.column("text")).cast(pl.String)
        step = self.config.batch_docs
        signals = pl.concat([self.signals(texts.slice(i, step)) for i in range(0, max(len(texts), 1), step)])
        decisions = evaluate(signals, self.rules)
        rejected_mask = decisions.get_column(REASON).is_not_null()
        # a second quality pass replaces the signals of the first
        full = table.drop_columns([c for c in signals.columns if c in table.column_names])
        for name, column in zip(signals.columns, normalize_table(signals.to_arrow()).columns):
            full = full.append_column(name, column)
        mask = rejected_mask.to_arrow()
        reasons = decisions.get_column(REASON).filter(rejected_mask).to_arrow().cast(pa.string())
        stats = {"docs": table.num_rows, "rules_failed": failure_counts(decisions)}
        if self.lid is not None:
            stats["lang"] = {k: int(v) for k, v in signals.get_column("lang").value_counts().iter_rows()}
        kept = full.filter(pc.invert(mask))
        return ShardResult(kept=kept, rejected=full.filter(mask).append_column(REASON, reasons), stats=stats)

    def signals(self, texts: pl.Series) -> pl.DataFrame:
        """Every signal column for one batch of texts."""
        parts = [compute_signals(texts, self.stop_words)]
        if self.lid is not None:
            parts.append(identify(self.lid, texts, self.config.language.max_chars))
        if self.scorer is not None:
            lines = fasttext_inputs(texts, self.config.classifier.max_chars)
            parts.append(pl.DataFrame({CLASSIFIER_SIGNAL: self.scorer.label_probability(lines, POSITIVE)}))
        return pl.concat(parts, how="horizontal")

    def output_columns(self) -> tuple[str, ...]:
        """Language columns only with language ID, the classifier score only with a classifier."""
        absent = ({"lang", "lang_score"} if self.lid is None else set()) | (
            {CLASSIFIER_SIGNAL} if self.scorer is None else set()
        )
        return tuple(c for c in self.writes if c not in absent)

    def finalize(self, ctx: FinalizeContext) -> dict[str, Any]:
        """Quantiles of every signal over all documents (kept and rejected); save the rules."""
        with ctx.artifacts.open(RULES_ARTIFACT) as f:
            f.write(json.dumps([r.model_dump(exclude_none=True) for r in self.rules], indent=1).encode())
        columns = [c for c in self.output_columns() if c != "lang"]
        tables = [s.read(columns) for s in [*ctx.outputs, *ctx.rejected] if s.rows]
        return {
            "signal_quantiles": signal_quantiles(pl.concat([pl.from_arrow(t) for t in tables]) if tables else None)
        }


def resolve_rules(config: QualityConfig, run: RunInfo) -> list[Rule]:
    """The effective rules: rule sets in order, then language and classifier, then overrides."""
    rules = [r for name in config.rule_sets for r in load_rules(rule_set_path(_resolve_set(name, run)))]
    if config.language is not None:
        if config.language.allowed is not None:
            rules.append(Rule(name="language.allowed", signal="lang", allowed=tuple(config.language.allowed)))
        rules.append(Rule(name="language.min_score", signal="lang_score", min=config.language.min_score))
    if config.classifier is not None:
        rules.append(Rule(name="classifier.min_score", signal=CLASSIFIER_SIGNAL, min=config.classifier.min_score))
    return apply_overrides(rules, config.overrides)


def _resolve_set(name: str, run: RunInfo) -> str:
    return run.resolve(name) if name.endswith((".yaml", ".yml")) else name


def signal_quantiles(frame: pl.DataFrame | None) -> dict[str, dict[str, float]]:
    """``{signal: {"p50": ..., ...}}`` with linear interpolation (deterministic)."""
    if frame is None or frame.height == 0:
        return {}
    return {
        col: {f"p{round(q * 100)}": float(frame.get_column(col).quantile(q, "linear")) for q in QUANTILES}
        for col in frame.columns
    }
