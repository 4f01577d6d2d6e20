"""How much of each domain a mixture takes: weights, temperature, UniMax epoch caps, budget.

Everything here works on counts per domain (tokens or documents: the "unit"), never on
documents, so a plan is cheap to compute, to test and to explain. ``plan_mixture`` fails
with ``InfeasibleMix`` *before any work* when the request cannot be met, saying what is
possible.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass


class InfeasibleMix(ValueError):
    """A mixture request that the data cannot satisfy; the message says what is possible."""


@dataclass(frozen=True)
class DomainPlan:
    """The plan for one domain, in units (tokens or documents)."""

    domain: str
    available: int  # units in the pool
    weight: float  # requested share, normalised over all domains (before UniMax caps)
    cap: float  # the most this domain may give: max_epochs * available
    target: float  # units to draw after capping and redistribution

    @property
    def epochs(self) -> float:
        """How many times the domain is seen: 0.5 = half its units, 2.3 = two repeats and 30%."""
        return self.target / self.available if self.available else 0.0

    @property
    def repeats(self) -> int:
        """Whole passes over every document of the domain."""
        return math.floor(self.epochs + 1e-12)

    @property
    def fraction(self) -> float:
        """Units to draw by seeded sampling on top of the whole repeats."""
        return max(0.0, self.target - self.repeats * self.available)

    def as_dict(self) -> dict[str, float | int | str]:
        return {**asdict(self), "epochs": self.epochs, "repeats": self.repeats}


def requested_weights(
    sizes: Mapping[str, int], weights: Mapping[str, float] | None, temperature: float | None
) -> dict[str, float]:
    """Normalised target shares: explicit ``weights``, or temperature sampling p ∝ size^(1/T).

    With neither, the natural proportions (T = 1). Domains are reported in sorted order so
    plans and manifests never depend on dict or set order.
    """
    if weights is not None and temperature is not None:
        raise InfeasibleMix("give either weights or temperature, not both")
    if weights is not None:
        unknown = sorted(set(weights) - set(sizes))
        if unknown:
            raise InfeasibleMix(
                f"weights name {', '.join(map(repr, unknown))}, which the input does not have; "
                f"its domains are: {', '.join(sorted(sizes))}"
            )
        missing = sorted(d for d in sizes if d not in weights)
        if missing:
            raise InfeasibleMix(
                f"the input has {', '.join(f'{d!r} ({sizes[d]} units)' for d in missing)} but weights do "
                "not mention it; give every domain a weight (0 drops it)"
            )
        raw = {d: float(weights[d]) for d in sorted(sizes)}
    else:
        power = 1.0 / (temperature if temperature is not None else 1.0)
        raw = {d: float(sizes[d]) ** power if sizes[d] > 0 else 0.0 for d in sorted(sizes)}
    total = sum(raw.values())
    if total <= 0:
        raise InfeasibleMix("every domain has weight 0 (or no data): nothing to sample")
    return {d: w / total for d, w in raw.items()}


def caps_for(sizes: Mapping[str, int], max_epochs: float, overrides: Mapping[str, float]) -> dict[str, float]:
    """The most units each domain may contribute (UniMax: ``max_epochs`` passes over it)."""
    unknown = sorted(set(overrides) - set(sizes))
    if unknown:
        raise InfeasibleMix(
            f"max_epochs_per_domain names {', '.join(map(repr, unknown))}, which the input does not have"
        )
    return {d: float(overrides.get(d, max_epochs)) * sizes[d] for d in sorted(sizes)}


def unimax_targets(weights: Mapping[str, float], caps: Mapping[str, float], budget: float) -> dict[str, float]:
    """Spread ``budget`` by weight; a domain that would exceed its cap gets the cap and its
    excess is shared among the others by their weights, until nobody is over (UniMax)."""
    targets = {d: 0.0 for d in weights}
    # A sorted list, not a set: float sums depend on their order, and a set's order on the hash seed.
    active = sorted(d for d, w in weights.items() if w > 0)
    remaining = budget
    while active:
        wsum = sum(weights[d] for d in active)
        over = [d for d in active if weights[d] / wsum * remaining > caps[d]]
        if not over:
            for d in active:
                targets[d] = weights[d] / wsum * remaining
            break
        for d in over:
            targets[d] = caps[d]
            remaining -= caps[d]
        active = [d for d in active if d not in over]
    return targets


def _caps_text(sizes: Mapping[str, int], caps: Mapping[str, float], weights: Mapping[str, float], unit: str) -> str:
    return "; ".join(f"{d}: {sizes[d]} {unit} available, cap {caps[d]:.0f}" for d in sorted(caps) if weights[d] > 0)


def plan_mixture(
    sizes: Mapping[str, int],
    *,
    weights: Mapping[str, float] | None = None,
    temperature: float | None = None,
    budget: float | None = None,
    max_epochs: float = 1.0,
    max_epochs_per_domain: Mapping[str, float] | None = None,
    unit: str = "tokens",
) -> list[DomainPlan]:
    """The per-domain plan, or ``InfeasibleMix`` naming the largest budget the caps allow.

    Without a ``budget`` the mixture is the largest one that meets the weights exactly
    without any domain passing its cap (with ``max_epochs`` 1: plain down-sampling).
    """
    shares = requested_weights(sizes, weights, temperature)
    caps = caps_for(sizes, max_epochs, max_epochs_per_domain or {})
    possible = sum(caps[d] for d, w in shares.items() if w > 0)
    if budget is None:
        budget = min(caps[d] / w for d, w in shares.items() if w > 0)
    elif budget > possible:
        raise InfeasibleMix(
            f"a budget of {budget:.0f} {unit} is more than the epoch caps allow: at most {possible:.0f} {unit} "
            f"({_caps_text(sizes, caps, shares, unit)}). Lower the budget to {possible:.0f} or less, "
            "or raise max_epochs."
        )
    targets = unimax_targets(shares, caps, budget)
    return [DomainPlan(d, int(sizes[d]), shares[d], caps[d], targets[d]) for d in sorted(sizes)]
