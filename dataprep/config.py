"""Pipeline files: loading, validating every stage's config up front, and hashing configs.

A pipeline is YAML (or a dict from Python)::

    name: quickstart
    seed: 1234
    tokenizer: tokenizer.json      # optional, used by mix and tokenize
    stages:
      - stage: ingest
        inputs: [{path: data/*.jsonl.gz, domain: web}]
      - stage: quality
        rule_sets: [gopher_quality]

Relative paths are relative to the pipeline file. Every error is reported before any
work starts, each naming the stage and field it is about.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from dataprep.core.contract import InputPath, RunInfo, StageConfig
from dataprep.core.storage import redact
from dataprep.mix.mixtures import NAME
from dataprep.mix.settings import MixConfig
from dataprep.stages import STAGES, stage_class
from dataprep.stages.base import Stage
from dataprep.stages.ingest import IngestConfig


class PipelineError(ValueError):
    """The pipeline file is wrong; the message says where and how."""


class _PipelineModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    seed: int = 0
    tokenizer: InputPath | None = None
    storage: Literal["delta", "full"] = "delta"
    stages: list[dict[str, Any]]

    @field_validator("name")
    @classmethod
    def _folder_name(cls, value: str) -> str:
        """The name becomes the folder ``runs/<name>``: ``../x`` or ``a/b`` would write elsewhere."""
        if not NAME.match(value):
            raise ValueError(
                "a pipeline name is letters, digits, '.', '_' or '-', starting with a letter or digit "
                "(it becomes the run folder runs/<name>)"
            )
        return value


@dataclass
class StagePlan:
    """One validated stage of a pipeline, ready to run."""

    index: int
    name: str
    config: StageConfig
    cls: type[Stage]
    materialize: bool = False  # stored in full even when the pipeline stores deltas

    @property
    def dir(self) -> str:
        return f"{self.index:02d}-{self.name}"

    @property
    def resolved(self) -> dict[str, Any]:
        return self.config.model_dump(mode="json")

    @property
    def config_sha256(self) -> str:
        """Of the config as the manifest stores it (credentials removed): a rotated key keeps
        ``--resume`` valid, and the hash never depends on a secret."""
        return sha256_json({"stage": self.name, "config": redact(self.resolved)})


@dataclass
class Pipeline:
    name: str
    seed: int
    base_dir: str
    stages: list[StagePlan]
    tokenizer: str | None = None
    path: str | None = None
    sha256: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    settings: list[str] = field(default_factory=list)  # --set KEY=VALUE, applied to raw; kept for run.json
    storage: Literal["delta", "full"] = "delta"

    def stores_delta(self, plan: StagePlan) -> bool:
        """Whether ``plan``'s shards are stored as deltas over its input (``core/delta.py``).

        The last stage and any stage with ``materialize: true`` are written in full, so other
        tools (polars, duckdb, HF datasets, Spark) read them as plain Parquet; a source stage
        has no input to be a delta of.
        """
        last = plan.index == self.stages[-1].index
        return self.storage == "delta" and not plan.materialize and not last and plan.cls.kind != "source"

    @property
    def run_info(self) -> RunInfo:
        tok = RunInfo(self.seed, self.base_dir).resolve(self.tokenizer) if self.tokenizer else None
        return RunInfo(seed=self.seed, base_dir=self.base_dir, tokenizer=tok)

    def build(self, plan: StagePlan) -> Stage:
        return plan.cls(plan.config, self.run_info)


def sha256_json(obj: Any) -> str:
    """sha256 of canonical JSON: the same config always hashes the same."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def load_pipeline(
    source: str | Path | dict[str, Any],
    inputs: list[str] | None = None,
    base_dir: str | None = None,
    settings: list[str] | None = None,
) -> Pipeline:
    """Read and validate a pipeline; ``inputs`` replaces the ingest stage's input paths and
    ``settings`` (``STAGE.KEY=VALUE``, as ``--set``) change settings before validation."""
    path = sha = None
    if isinstance(source, dict):
        raw = copy.deepcopy(source)
        base = os.path.abspath(base_dir or os.getcwd())
    else:
        path = os.path.abspath(source)
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            raise PipelineError(f"pipeline file not found: {source}") from None
        sha = hashlib.sha256(data).hexdigest()
        try:
            raw = yaml.safe_load(data)
        except yaml.YAMLError as exc:
            raise PipelineError(f"{source}: not valid YAML: {exc}") from None
        if not isinstance(raw, dict):
            raise PipelineError(f"{source}: a pipeline is a mapping with name and stages")
        base = base_dir or os.path.dirname(path)
    where = path or "pipeline"
    if inputs:
        raw = _with_inputs(raw, inputs, where)
    if settings:
        raw = apply_settings(raw, settings, where)
    ctx = {"base_dir": base}
    try:
        model = _PipelineModel.model_validate(raw, context=ctx)
    except ValidationError as exc:
        raise PipelineError(_format(where, "pipeline", exc)) from None
    errors: list[str] = []
    plans: list[StagePlan] = []
    for i, spec in enumerate(model.stages):
        spec = dict(spec)
        name = spec.pop("stage", None)
        materialize = spec.pop("materialize", False)
        label = f"stage {i + 1} ({name})"
        if not isinstance(name, str):
            errors.append(f"{where}: stage {i + 1}: missing 'stage:' naming what it is")
            continue
        if not isinstance(materialize, bool):
            errors.append(f"{where}: {label}: materialize: true or false (got {materialize!r})")
            continue
        try:
            cls = stage_class(name)
            config = cls.config_model.model_validate(spec, context=ctx)
        except ValidationError as exc:
            errors.append(_format(where, label, exc))
            continue
        except (ValueError, ImportError) as exc:
            errors.append(f"{where}: {label}: {exc}")
            continue
        plans.append(StagePlan(i, name, config, cls, materialize))
    if not errors:
        errors += _check_order(where, plans) or _check_mix_groups(where, plans)
    if errors:
        raise PipelineError("\n".join(errors))
    return Pipeline(
        model.name, model.seed, base, plans, model.tokenizer, path, sha, raw, list(settings or []), model.storage
    )


def check_columns(plans: Sequence[StagePlan], stages: Sequence[Stage], given: Iterable[str] = ()) -> None:
    """Every column a stage reads is produced before it: by an earlier stage or, for a pipeline
    starting from a pool, by the pool's shards (``given``). Checked on the built stages, since
    some columns depend on config (a classifier score, dedup's ``keep: [q_score]``)."""
    made: dict[str, list[str]] = {"pool": list(given)} if given else {}
    for plan, stage in zip(plans, stages):
        have = {c for cols in made.values() for c in cols}
        missing = [c for c in stage.input_columns() if c not in have]
        if missing:
            upstream = "; ".join(f"{who} produces {', '.join(cols)}" for who, cols in made.items()) or "nothing"
            raise PipelineError(
                f"stage {plan.index + 1} ({plan.name}) reads column {missing[0]!r}, which no stage before it "
                f"produces ({upstream})"
            )
        made[plan.dir] = [c for c in stage.output_columns() if c not in have]


def _check_order(where: str, plans: list[StagePlan]) -> list[str]:
    if not plans:
        return [f"{where}: the pipeline has no stages"]
    errors = []
    if plans[0].cls.kind != "source":
        errors.append(f"{where}: the first stage must read data (ingest), not {plans[0].name!r}")
    errors += [
        f"{where}: stage {p.index + 1} ({p.name}) reads data but is not first"
        for p in plans[1:]
        if p.cls.kind == "source"
    ]
    return errors


def _check_mix_groups(where: str, plans: list[StagePlan]) -> list[str]:
    """Mix settings naming a domain (or source) the inputs cannot produce, or missing one they do,
    fail now rather than after every stage before mix has run. Known only when every input
    declares the value (not mapped from a field of its records); otherwise nothing is checked."""
    produced = plans[0].config.constant_values if isinstance(plans[0].config, IngestConfig) else None
    errors = []
    for p in plans:
        if not produced or not isinstance(p.config, MixConfig):
            continue
        have = produced(p.config.by)
        if have is None:
            continue
        label = f"{where}: stage {p.index + 1} ({p.name})"
        values = f"the inputs' {p.config.by}s are: {', '.join(sorted(have))}"
        for what, names in (
            ("weights", p.config.weights or {}),
            ("max_epochs_per_domain", p.config.max_epochs_per_domain),
        ):
            unknown = sorted(set(names) - have)
            if unknown:
                errors.append(
                    f"{label}: {what} name {', '.join(map(repr, unknown))}, which the ingest inputs cannot produce "
                    f"({values}); fix the name or the inputs' {p.config.by}"
                )
        missing = sorted(have - set(p.config.weights)) if p.config.weights is not None else []
        if missing:
            errors.append(
                f"{label}: weights do not mention {', '.join(map(repr, missing))}, which the ingest inputs produce "
                f"({values}); give every {p.config.by} a weight (0 drops it)"
            )
    return errors


def apply_settings(raw: dict[str, Any], settings: list[str], where: str) -> dict[str, Any]:
    """The pipeline with each ``KEY=VALUE`` applied, VALUE read as YAML (so typed as in a file).

    KEY is ``STAGE.SETTING[.SUB...]`` where STAGE is a stage's name (or its directory, e.g.
    ``02-dedup``, when a name repeats), or a pipeline field (``seed``). Validation happens
    afterwards, exactly as for the file, so a wrong key or type gives the same error.
    """
    raw = copy.deepcopy(raw)
    stages = [s for s in raw.get("stages") or [] if isinstance(s, dict)]
    dirs = {f"{i:02d}-{s.get('stage')}": s for i, s in enumerate(stages)}
    for item in settings:
        key, eq, text = item.partition("=")
        if not eq or not key:
            raise PipelineError(f"--set {item!r}: write KEY=VALUE, e.g. dedup.threshold=0.7")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise PipelineError(f"--set {item!r}: the value is not valid YAML: {exc}") from None
        head, _, rest = key.partition(".")
        if not rest:
            raw[head] = value
            continue
        named = [s for s in stages if s.get("stage") == head]
        target = dirs.get(head) or (named[0] if len(named) == 1 else None)
        if target is None:
            hint = f"{head!r} names {len(named)} stages: use its directory" if named else f"no stage {head!r}"
            raise PipelineError(f"{where}: --set {item!r}: {hint}; stages are {', '.join(dirs)}")
        *parents, leaf = rest.split(".")
        for part in parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise PipelineError(f"{where}: --set {item!r}: {part!r} is not a group of settings")
        target[leaf] = value
    return raw


def _with_inputs(raw: dict[str, Any], inputs: list[str], where: str) -> dict[str, Any]:
    """Run the same pipeline on other files: each path gets the first input's settings."""
    raw = copy.deepcopy(raw)
    stages = raw.get("stages") or []
    if not stages or not isinstance(stages[0], dict) or stages[0].get("stage") != "ingest":
        raise PipelineError(f"{where}: --input needs an ingest stage first")
    template = dict((stages[0].get("inputs") or [{}])[0])
    template.pop("path", None)
    if "format" in template and len({_ext(p) for p in inputs}) > 1:
        template.pop("format")
    stages[0]["inputs"] = [{**template, "path": os.path.abspath(p) if "://" not in p else p} for p in inputs]
    return raw


def _ext(p: str) -> str:
    return "".join(Path(p).suffixes)


def _format(where: str, label: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown setting (check the spelling; see the stage's documented options)"
        got = err.get("input")
        shown = "" if err["type"] in ("missing", "extra_forbidden") or isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"{where}: {label}: {loc}: {msg}{shown}")
    return "\n".join(lines)


def pipeline_schema() -> dict[str, Any]:
    """A JSON Schema of the pipeline format, from the stage config models (for editors and CI).

    Each stage entry is its config model's schema plus the ``stage`` key; unknown keys are
    refused (``additionalProperties: false``), as at load time. Definitions of each stage's
    nested models are kept apart by a ``<stage>.`` prefix.
    """
    defs: dict[str, Any] = {}
    entries = []
    for name in sorted(STAGES):
        model = stage_class(name).config_model
        schema = model.model_json_schema(ref_template=f"#/$defs/{name}.{{model}}")
        defs.update({f"{name}.{k}": v for k, v in schema.pop("$defs", {}).items()})
        schema["properties"] = {
            "stage": {"const": name},
            "materialize": {"type": "boolean", "description": "store this stage in full when the run stores deltas"},
            **schema.get("properties", {}),
        }
        schema["required"] = ["stage", *schema.get("required", [])]
        schema["title"] = f"stage: {name}"
        entries.append(schema)
    top = _PipelineModel.model_json_schema()
    top["properties"]["stages"] = {"type": "array", "minItems": 1, "items": {"oneOf": entries}}
    top["properties"]["name"]["pattern"] = NAME.pattern
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "dataprep pipeline",
        **top,
        "$defs": defs,
    }


@dataclass(frozen=True)
class Setting:
    """One setting of a stage, as ``dataprep stages`` lists it."""

    key: str  # dotted for nested groups, e.g. "language.min_score"
    type: str
    default: Any
    meaning: str


def stage_settings(model: type[BaseModel], prefix: str = "") -> list[Setting]:
    """Every setting of a config model, nested groups flattened to dotted keys."""
    out = []
    for key, f in model.model_fields.items():
        nested = _model_of(f.annotation)
        default = None if f.is_required() else f.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            default = default.model_dump(mode="json")
        shown = "(required)" if f.is_required() else default
        kind = "path" if _PATH_CHECK in f.metadata else _type_name(f.annotation)
        out.append(Setting(prefix + key, kind, shown, f.description or ""))
        if nested is not None:
            out += stage_settings(nested, f"{prefix}{key}.")
    return out


_PATH_CHECK = get_args(InputPath)[1]  # how pydantic records a plain ``InputPath`` field


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The config model inside an annotation such as ``LanguageConfig | None``."""
    for arg in (annotation, *get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _type_name(annotation: Any) -> str:
    """A readable type: ``path``, ``float``, ``list[str] | None``, ``LanguageConfig``..."""
    if annotation is InputPath:
        return "path"
    if annotation is type(None):
        return "None"
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _type_name(args[0])
    if origin in (Union, UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(_type_name(a) for a in args)}]"
    return getattr(annotation, "__name__", str(annotation))
