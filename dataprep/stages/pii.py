"""The pii stage: find personal data and secrets; annotate, redact or drop the documents.

Columns: ``pii_types`` (sorted distinct types), ``pii_count`` and ``pii_spans`` (type and
``[start, end)`` code-point offsets into the text as it came in), never the values. In
``redact`` mode each span becomes a typed placeholder or a keyed hash; ``drop`` redacts too
and rejects documents with more than ``max_spans`` spans (reason ``pii``), so neither
kept nor rejected rows carry a value found. ``annotate`` only adds the columns.

The manifest's stats count spans per type and the documents touched.
"""

from __future__ import annotations

import os
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field, field_validator, model_validator

from dataprep.core.contract import InputPath, RunInfo, StageConfig
from dataprep.pii import DEFAULT_REGIONS, NATIONAL_IDS, NER_TYPES, PATTERN_TYPES, TYPES, Replacer, build_detectors
from dataprep.pii import redact as redact_text
from dataprep.stages.base import ShardContext, ShardResult, Stage, reject

TYPES_COL, COUNT_COL, SPANS_COL = "pii_types", "pii_count", "pii_spans"
REASON_PII = "pii"
SPAN_TYPE = pa.struct([("type", pa.string()), ("start", pa.int32()), ("end", pa.int32())])


class PhoneSettings(StageConfig):
    regions: list[str] = Field(list(DEFAULT_REGIONS), description="regions whose national formats are tried")


class IpSettings(StageConfig):
    keep_non_public: bool = Field(True, description="leave private, loopback, documentation ranges as they are")


class NationalIdSettings(StageConfig):
    kinds: list[str] = Field(list(NATIONAL_IDS), description="python-stdnum validated ids to look for")


class NerSettings(StageConfig):
    model: InputPath = Field(description="a spaCy pipeline folder (e.g. en_core_web_sm installed by the user)")


class PiiConfig(StageConfig):
    mode: Literal["annotate", "redact", "drop"] = "redact"
    types: list[str] | None = Field(None, description=f"of {', '.join(TYPES)}; default: all but NER types")
    replacement: Literal["placeholder", "hash"] = Field(
        "placeholder", description="typed placeholder, or a keyed hash that keeps equality within a run"
    )
    placeholders: dict[str, str] = Field({}, description='per type, e.g. {"email": "[email]"}')
    salt_env: str = Field("DATAPREP_PII_SALT", description="environment variable holding the hash key (not logged)")
    max_spans: int = Field(0, ge=0, description="drop mode: documents with more spans than this are rejected")
    phone: PhoneSettings = PhoneSettings()
    ip: IpSettings = IpSettings()
    national_id: NationalIdSettings = NationalIdSettings()
    ner: NerSettings | None = Field(None, description="optional NER backend for names and addresses")

    @field_validator("types")
    @classmethod
    def _known(cls, types: list[str] | None) -> list[str] | None:
        unknown = sorted(set(types or ()) - set(TYPES))
        if unknown:
            raise ValueError(f"unknown pii types {unknown}; known: {', '.join(TYPES)}")
        return types

    @model_validator(mode="after")
    def _ner_needs_model(self) -> PiiConfig:
        if self.ner is None and set(self.types or ()) & set(NER_TYPES):
            raise ValueError(f"types {sorted(set(self.types or ()) & set(NER_TYPES))} need `ner: {{model: PATH}}`")
        return self

    def active_types(self) -> tuple[str, ...]:
        if self.types is not None:
            return tuple(t for t in TYPES if t in self.types)
        return PATTERN_TYPES + (NER_TYPES if self.ner is not None else ())


class PiiStage(Stage):
    name = "pii"
    config_model = PiiConfig
    reads = ("id", "text")
    writes = (TYPES_COL, COUNT_COL, SPANS_COL)
    config: PiiConfig

    def __init__(self, config: PiiConfig, run: RunInfo) -> None:
        """Build the detectors and read the hash key now, so a bad setting fails before any work."""
        super().__init__(config, run)
        self.detectors = build_detectors(
            config.active_types(),
            phone_regions=tuple(config.phone.regions),
            keep_non_public_ips=config.ip.keep_non_public,
            national_ids=tuple(config.national_id.kinds),
            ner_model=run.resolve(config.ner.model) if config.ner else None,
        )
        salt = None
        if config.replacement == "hash" and config.mode != "annotate":
            if not os.environ.get(config.salt_env):
                raise ValueError(
                    f"pii replacement 'hash' needs a secret key in the environment variable {config.salt_env}"
                )
            salt = os.environ[config.salt_env].encode()
        self.replacer = Replacer(config.placeholders, salt)

    def process(self, table: pa.Table, ctx: ShardContext) -> ShardResult:
        cfg = self.config
        texts = table.column("text").to_pylist()
        found = self.detectors.find_all(texts)  # whole column: each detector's gate is one polars pass
        per_type: dict[str, int] = {}
        for spans in found:
            for f in spans:
                per_type[f.type] = per_type.get(f.type, 0) + 1
        out = table
        if cfg.mode != "annotate" and any(found):
            new = [redact_text(t, spans, self.replacer) if spans else t for t, spans in zip(texts, found)]
            i = out.schema.get_field_index("text")  # the field as it came (non-nullable): one schema in every shard
            out = out.set_column(i, out.schema.field(i), pa.array(new, pa.string()))
        order = {t: i for i, t in enumerate(TYPES)}
        out = (
            out.append_column(
                TYPES_COL, pa.array([sorted({f.type for f in s}, key=order.get) for s in found], pa.list_(pa.string()))
            )
            .append_column(COUNT_COL, pa.array([len(s) for s in found], pa.int32()))
            .append_column(
                SPANS_COL,
                pa.array(
                    [[{"type": f.type, "start": f.start, "end": f.end} for f in s] for s in found], pa.list_(SPAN_TYPE)
                ),
            )
        )
        stats: dict[str, Any] = {
            "documents": table.num_rows,
            "documents_touched": sum(1 for s in found if s),
            "spans": {t: per_type[t] for t in TYPES if t in per_type},
        }
        mask = [cfg.mode == "drop" and len(s) > cfg.max_spans for s in found]
        if not any(mask):
            return ShardResult(kept=out, stats=stats)
        result = reject(out, mask, [REASON_PII] * len(mask))
        result.stats = stats
        return result
