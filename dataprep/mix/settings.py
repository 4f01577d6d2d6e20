"""The mix settings: one model for the mix stage and for each mixture of a mixtures file."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt, model_validator

from dataprep.core.contract import InputPath, StageConfig
from dataprep.mix.scaling import chinchilla_budget
from dataprep.mix.units import Unit


class MixConfig(StageConfig):
    """A mixture request. Shares are of tokens, or of documents with ``budget_documents``."""

    by: Literal["domain", "source"] = Field("domain", description="column whose values are mixed")
    weights: dict[str, NonNegativeFloat] | None = Field(None, description="target share per value (normalised)")
    temperature: PositiveFloat | None = Field(None, description="p ∝ size^(1/T) instead of weights")
    budget_tokens: PositiveInt | Literal["chinchilla"] | None = Field(
        None, description="tokens, or chinchilla: Hoffmann et al. 2022's compute-optimal tokens for model_params"
    )
    budget_documents: PositiveInt | None = None
    model_params: PositiveFloat | None = Field(None, description="model parameters, for budget_tokens: chinchilla")
    max_epochs: PositiveFloat = Field(1.0, description="UniMax cap: most passes over any domain")
    max_epochs_per_domain: dict[str, PositiveFloat] = Field(default_factory=dict)
    tokenizer: InputPath | None = Field(None, description="counts tokens; default: the pipeline's tokenizer")
    seed: int | None = Field(None, description="sampling seed; default: the pipeline's seed")

    @model_validator(mode="after")
    def _one_of_each(self) -> MixConfig:
        if self.budget_tokens is not None and self.budget_documents is not None:
            raise ValueError("give budget_tokens or budget_documents, not both")
        if self.weights is not None and self.temperature is not None:
            raise ValueError("give weights or temperature, not both")
        if (self.budget_tokens == "chinchilla") != (self.model_params is not None):
            raise ValueError("budget_tokens: chinchilla and model_params go together (the budget is for that size)")
        return self

    @property
    def unit(self) -> Unit:
        return "documents" if self.budget_documents is not None else "tokens"

    @property
    def budget(self) -> int | None:
        if self.budget_tokens == "chinchilla":
            return round(chinchilla_budget(self.model_params).tokens)  # type: ignore[arg-type]
        return self.budget_documents if self.budget_documents is not None else self.budget_tokens
