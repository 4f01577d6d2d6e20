"""Mixture planning: weights, temperature, UniMax caps and infeasible requests (pure numbers)."""

from __future__ import annotations

import pytest

from dataprep.mix.plan import InfeasibleMix, plan_mixture

SIZES = {"web": 1_000_000, "code": 200_000, "books": 50_000}
WEIGHTS = {"web": 0.5, "code": 0.3, "books": 0.2}


def _targets(plans) -> dict[str, float]:
    return {p.domain: p.target for p in plans}


def test_feasible_weights_are_met_exactly():
    plans = plan_mixture(SIZES, weights=WEIGHTS, budget=200_000, max_epochs=4)
    assert _targets(plans) == pytest.approx({"web": 100_000, "code": 60_000, "books": 40_000})
    books = next(p for p in plans if p.domain == "books")
    assert (books.repeats, books.fraction) == (0, 40_000)


def test_unimax_caps_a_small_domain_and_gives_its_share_to_the_others():
    plans = plan_mixture(SIZES, weights=WEIGHTS, budget=1_000_000, max_epochs=2)
    t = _targets(plans)
    assert t["books"] == 100_000  # wanted 200k, cap is 2 epochs of 50k
    assert t["web"] / t["code"] == pytest.approx(0.5 / 0.3)  # the excess is shared by weight
    assert sum(t.values()) == pytest.approx(1_000_000)
    books = next(p for p in plans if p.domain == "books")
    assert (books.repeats, books.fraction, books.epochs) == (2, 0, 2.0)


def test_caps_cascade_when_redistribution_overfills_another_domain():
    plans = plan_mixture(SIZES, weights=WEIGHTS, budget=1_150_000, max_epochs=1, max_epochs_per_domain={"books": 2})
    t = _targets(plans)
    assert t["books"] == 100_000 and t["code"] == 200_000  # code capped after books' excess arrived
    assert t["web"] == pytest.approx(850_000)


def test_temperature_flattens_the_natural_proportions():
    natural = _targets(plan_mixture(SIZES, temperature=1.0, budget=100_000))
    assert natural["web"] / natural["code"] == pytest.approx(5.0)
    flat = _targets(plan_mixture(SIZES, temperature=2.0, budget=100_000))
    assert flat["web"] / flat["code"] == pytest.approx(5.0**0.5)


def test_without_budget_the_largest_exact_mixture_is_taken():
    t = _targets(plan_mixture(SIZES, weights=WEIGHTS))
    assert t["books"] == 50_000  # the binding domain is used once
    assert t["web"] == pytest.approx(125_000) and t["code"] == pytest.approx(75_000)


def test_a_budget_beyond_the_caps_fails_saying_what_is_possible():
    with pytest.raises(InfeasibleMix, match=r"at most 1250000 tokens.*Lower the budget to 1250000"):
        plan_mixture(SIZES, weights=WEIGHTS, budget=2_000_000, max_epochs=1)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"web": 1, "code": 1, "books": 1, "news": 1}, "'news', which the input does not have"),
        ({"web": 1, "code": 1}, "'books' \\(50000 units\\) but weights do not mention it"),
        ({"web": 0, "code": 0, "books": 0}, "every domain has weight 0"),
    ],
)
def test_weights_that_do_not_match_the_data_are_errors(weights, message):
    with pytest.raises(InfeasibleMix, match=message):
        plan_mixture(SIZES, weights=weights, budget=1000)


def test_weight_zero_drops_a_domain():
    t = _targets(plan_mixture(SIZES, weights={"web": 1, "code": 1, "books": 0}, budget=100_000))
    assert t == pytest.approx({"web": 50_000, "code": 50_000, "books": 0})
