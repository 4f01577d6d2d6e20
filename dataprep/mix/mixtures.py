"""The mixtures file: several mixtures drawn from one pool, each validated before any work.

For researchers comparing mixtures, the expensive stages (quality, dedup, ...) run once and
each mixture is a mix stage over their output (``dataprep mix``; the runs are the engine's,
see ``dataprep.api.write_mixtures``). The file::

    seed: 1234                      # default seed of every mixture (a mixture may set its own)
    tokenizer: tokenizer.json       # optional: exact token counts
    mixes:
      code-heavy: {weights: {code: 0.5, web: 0.5}, budget_tokens: 1000000, max_epochs: 2}
      natural:    {temperature: 1.0, budget_tokens: 1000000}

Each mixture's settings are the mix stage's (``MixConfig``); a name becomes a folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dataprep.core.contract import InputPath
from dataprep.mix.settings import MixConfig

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class MixturesError(ValueError):
    """The mixtures file is wrong; the message names the mixture and field."""


class MixturesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    tokenizer: InputPath | None = None
    mixes: dict[str, dict[str, Any]] = Field(min_length=1)


@dataclass(frozen=True)
class Mixture:
    name: str
    config: MixConfig
    raw: dict[str, Any]  # as written in the file


@dataclass(frozen=True)
class Mixtures:
    seed: int
    tokenizer: str | None  # resolved against the file's folder
    mixtures: list[Mixture]


def parse_mixtures(data: bytes, where: str, base_dir: str) -> Mixtures:
    """Every mixture of the file's bytes, validated; all errors at once, each naming mixture and field."""
    ctx = {"base_dir": base_dir}
    try:
        spec = MixturesFile.model_validate(yaml.safe_load(data), context=ctx)
    except yaml.YAMLError as exc:
        raise MixturesError(f"{where}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        raise MixturesError(f"{where}: {exc}") from None
    errors: list[str] = []
    mixtures: list[Mixture] = []
    for name, raw in spec.mixes.items():
        if not NAME.match(name):
            errors.append(
                f"{where}: mixture {name!r}: a name is letters, digits, '.', '_' or '-' (it becomes a folder)"
            )
            continue
        try:
            mixtures.append(Mixture(name, MixConfig.model_validate(raw, context=ctx), raw))
        except ValidationError as exc:
            errors += [f"{where}: mixture {name!r}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    if errors:
        raise MixturesError("\n".join(errors))
    return Mixtures(spec.seed, spec.tokenizer, mixtures)
