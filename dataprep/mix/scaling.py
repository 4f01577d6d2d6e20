"""Token budgets from scaling laws: how many tokens a model of N parameters should see, and
what repeated tokens are worth when the data is smaller than that.

Sources (constants copied from the papers, not refitted):

* Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models" (Chinchilla),
  arXiv:2203.15556. Section 3.3 (approach 3) fits L(N, D) = E + A/N^alpha + B/D^beta with
  E = 1.69, A = 406.4, B = 410.7, alpha = 0.34, beta = 0.28. Minimising it under the
  compute model C = 6 N D (Section 3.3, eq. 4) gives N_opt(C) = G (C/6)^(beta/(alpha+beta)),
  D_opt(C) = G^-1 (C/6)^(alpha/(alpha+beta)), G = (alpha A / (beta B))^(1/(alpha+beta)).
  The paper's Table 3 (optimal tokens per model size) comes from approach 1, not from this
  law; its tokens are 20-22 per parameter, the "~20 tokens per parameter" rule. The fitted
  law gives more tokens per parameter (about 67 at 7B), so both are shown, labelled.
* Muennighoff et al. 2023, "Scaling Data-Constrained Language Models", NeurIPS 2023,
  arXiv:2305.16264, Section 3.1, eq. (5): with U unique tokens seen for D total tokens,
  R_D = D/U - 1 repetitions, the effective data is D' = U + U R*_D (1 - exp(-R_D / R*_D)),
  with the fitted R*_D = 15.387756 (and R*_N = 5.309743 for excess parameters); the
  constants are those of the authors' repository (huggingface/datablations, README
  "Parametric Fit"). Up to ~4 epochs repeated tokens are worth almost as much as new ones
  (Section 4); far beyond R*_D they are worth little.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

FLOPS_PER_PARAM_TOKEN = 6  # C = 6 N D (Kaplan et al. 2020; Hoffmann et al. 2022 Section 3.3)
TOKENS_PER_PARAMETER = 20  # rule of thumb from Hoffmann et al. 2022 Table 3 (approach 1)
EPOCH_WARNING = 4.0  # Muennighoff et al. 2023: up to ~4 epochs, repeated data is about as good as new


@dataclass(frozen=True)
class ChinchillaLaw:
    """L(N, D) = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022, eq. 2)."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float

    @property
    def G(self) -> float:
        return (self.alpha * self.A / (self.beta * self.B)) ** (1 / (self.alpha + self.beta))

    def loss(self, params: float, tokens: float) -> float:
        return self.E + self.A / params**self.alpha + self.B / tokens**self.beta

    def optimal_for_compute(self, flops: float) -> tuple[float, float]:
        """(N_opt, D_opt) minimising L under C = 6 N D."""
        c6 = flops / FLOPS_PER_PARAM_TOKEN
        s = self.alpha + self.beta
        return self.G * c6 ** (self.beta / s), c6 ** (self.alpha / s) / self.G

    def optimal_tokens(self, params: float) -> float:
        """D for which a model of ``params`` is compute-optimal: D = G^-1 (N/G)^(alpha/beta)."""
        return (params / self.G) ** (self.alpha / self.beta) / self.G

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


HOFFMANN_2022 = ChinchillaLaw(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
R_STAR_D = 15.387756  # Muennighoff et al. 2023 (datablations README); ~15.4 in the paper's text
R_STAR_N = 5.309743


def compute_flops(params: float, tokens: float) -> float:
    return FLOPS_PER_PARAM_TOKEN * params * tokens


def rule_of_thumb_tokens(params: float) -> float:
    return TOKENS_PER_PARAMETER * params


def effective_data(unique: float, tokens: float, r_star: float = R_STAR_D) -> float:
    """D' = U + U R* (1 - exp(-R_D/R*)), R_D = max(D/U - 1, 0); never more than D."""
    if unique <= 0:
        return 0.0
    if tokens <= unique:
        return float(tokens)
    repeats = tokens / unique - 1
    return unique + unique * r_star * (1 - math.exp(-repeats / r_star))


@dataclass(frozen=True)
class DataConstrainedLaw:
    """Muennighoff et al. 2023 eq. (7): the Chinchilla form over effective data and parameters."""

    law: ChinchillaLaw
    r_star_d: float
    r_star_n: float

    def loss(self, params: float, tokens: float, unique: float) -> float:
        """Loss of a model of ``params`` trained on ``tokens`` of which ``unique`` are distinct."""
        law = self.law
        unique_params = min(params, (unique * law.G) ** (law.beta / law.alpha) * law.G)
        eff_params = effective_data(unique_params, params, self.r_star_n)
        return law.loss(eff_params, effective_data(unique, tokens, self.r_star_d))


# The authors' own fit on their C4 runs (datablations README): A, B, E are exp() of the stored values.
MUENNIGHOFF_2023 = DataConstrainedLaw(
    ChinchillaLaw(E=math.exp(0.6254804), A=math.exp(6.255414), B=math.exp(7.3049974), alpha=0.3526596, beta=0.3526596),
    r_star_d=R_STAR_D,
    r_star_n=R_STAR_N,
)


@dataclass(frozen=True)
class Budget:
    """A token budget for a model size, with where it came from."""

    params: float
    tokens: float  # the budget used: compute-optimal from the law, or C/(6N) when FLOPs are given
    flops: float
    source: str
    law_tokens: float  # fitted-law optimum for this N
    rule_tokens: float  # 20 tokens per parameter
    law_optimum_for_flops: tuple[float, float] | None  # (N_opt, D_opt) for the given FLOPs

    def as_dict(self) -> dict[str, object]:
        return {
            **asdict(self),
            "law": "Hoffmann et al. 2022, L(N, D) = E + A/N^alpha + B/D^beta, C = 6ND",
            "constants": HOFFMANN_2022.as_dict(),
            "tokens_per_parameter_rule": TOKENS_PER_PARAMETER,
        }


def chinchilla_budget(params: float, flops: float | None = None) -> Budget:
    """The tokens for a model of ``params``: the fitted law's optimum, or what ``flops`` buys."""
    law_tokens = HOFFMANN_2022.optimal_tokens(params)
    if flops is None:
        tokens, source, optimum = law_tokens, "fitted law: D_opt(N)", None
    else:
        tokens, source = flops / (FLOPS_PER_PARAM_TOKEN * params), "C / (6 N)"
        optimum = HOFFMANN_2022.optimal_for_compute(flops)
    return Budget(
        params=params,
        tokens=tokens,
        flops=compute_flops(params, tokens),
        source=source,
        law_tokens=law_tokens,
        rule_tokens=rule_of_thumb_tokens(params),
        law_optimum_for_flops=optimum,
    )


@dataclass(frozen=True)
class DomainRepetition:
    domain: str
    unique: float  # tokens available
    weight: float
    tokens: float  # tokens the budget takes from it
    epochs: float
    effective: float  # Muennighoff D'

    @property
    def warn(self) -> bool:
        return self.epochs > EPOCH_WARNING


def repetition_plan(
    budget_tokens: float, unique: dict[str, float], weights: dict[str, float]
) -> list[DomainRepetition]:
    """Per domain: the share of ``budget_tokens`` its weight gives, the epochs that is, and D'."""
    total = sum(weights.values())
    out = []
    for d in sorted(unique):
        w = weights.get(d, 0.0) / total if total else 0.0
        tokens = budget_tokens * w
        u = unique[d]
        epochs = tokens / u if u else (math.inf if tokens else 0.0)
        out.append(DomainRepetition(d, u, w, tokens, epochs, effective_data(u, tokens)))
    return out
