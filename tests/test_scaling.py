"""Scaling-law budgets reproduce the published numbers (dataprep/mix/scaling.py)."""

from __future__ import annotations

import math

import pytest

from dataprep.mix.scaling import (
    HOFFMANN_2022,
    MUENNIGHOFF_2023,
    R_STAR_D,
    chinchilla_budget,
    compute_flops,
    effective_data,
    repetition_plan,
    rule_of_thumb_tokens,
)

# Hoffmann et al. 2022, Table 3 (approach 1): parameters, FLOPs, tokens.
TABLE_3 = [
    (400e6, 1.92e19, 8.0e9),
    (1e9, 1.21e20, 20.2e9),
    (10e9, 1.23e22, 205.1e9),
    (67e9, 5.76e23, 1.5e12),
    (175e9, 3.85e24, 3.7e12),
    (280e9, 9.90e24, 5.9e12),
    (520e9, 3.43e25, 11.0e12),
    (1e12, 1.27e26, 21.2e12),
    (10e12, 1.30e28, 216.2e12),
]


@pytest.mark.parametrize(("params", "flops", "tokens"), TABLE_3)
def test_table_3_tokens_are_the_20_per_parameter_rule(params, flops, tokens):
    """Table 3 comes from approach 1, whose coefficients the paper does not publish; its tokens
    are 20.0-21.6 per parameter (a = b = 0.50), so the rule of thumb is checked against it:
    within 7.5% below every row but 67B. That row (1.5T) is the Gopher-compute row and
    disagrees with its own FLOPs under C = 6ND by 4.7% (5.76e23 / 6N = 1.43T); it gets 11%."""
    rule = rule_of_thumb_tokens(params)
    tolerance = 0.11 if params == 67e9 else 0.075
    assert tokens * (1 - tolerance) <= rule <= tokens * 1.0001
    if params != 67e9:  # Table 3's FLOPs column is C = 6ND within its 3-digit rounding
        assert compute_flops(params, tokens) == pytest.approx(flops, rel=0.01)


def test_fitted_law_matches_table_2_approach_3_exponents():
    """Table 2, approach 3: N_opt ∝ C^0.46, D_opt ∝ C^0.54. From the rounded constants:
    beta/(alpha+beta) = 0.452 and alpha/(alpha+beta) = 0.548, within the two-decimal rounding
    of alpha and beta (which allows 0.444-0.460)."""
    a = HOFFMANN_2022.beta / (HOFFMANN_2022.alpha + HOFFMANN_2022.beta)
    assert a == pytest.approx(0.46, abs=0.01) and 1 - a == pytest.approx(0.54, abs=0.01)
    n1, d1 = HOFFMANN_2022.optimal_for_compute(1e21)
    n2, d2 = HOFFMANN_2022.optimal_for_compute(1e23)
    assert math.log(n2 / n1, 100) == pytest.approx(a) and math.log(d2 / d1, 100) == pytest.approx(1 - a)


@pytest.mark.parametrize("flops", [1e20, 5.76e23, 1e26])
def test_the_optimum_minimises_the_law_on_its_iso_flop_line(flops):
    n, d = HOFFMANN_2022.optimal_for_compute(flops)
    assert compute_flops(n, d) == pytest.approx(flops)
    assert HOFFMANN_2022.optimal_tokens(n) == pytest.approx(d)
    best = HOFFMANN_2022.loss(n, d)
    for f in (0.8, 0.95, 1.05, 1.25):
        assert HOFFMANN_2022.loss(n * f, d / f) > best


def test_budget_for_7b_by_hand():
    b = chinchilla_budget(7e9)
    g = (0.34 * 406.4 / (0.28 * 410.7)) ** (1 / 0.62)
    assert b.tokens == pytest.approx((7e9 / g) ** (0.34 / 0.28) / g) and b.tokens == pytest.approx(467.67e9, rel=1e-4)
    assert b.rule_tokens == 140e9 and b.flops == pytest.approx(6 * 7e9 * b.tokens)
    with_c = chinchilla_budget(7e9, flops=1e22)
    assert with_c.tokens == pytest.approx(1e22 / 42e9)
    assert with_c.law_optimum_for_flops == pytest.approx(HOFFMANN_2022.optimal_for_compute(1e22))


def test_muennighoff_law_reproduces_the_authors_figure_1_losses():
    """datablations README, "Parametric Fit": the two models of Figure 1 (right), 25B unique tokens."""
    assert MUENNIGHOFF_2023.loss(6.34e9, 242e9, 25e9) == pytest.approx(2.2256440889984477, abs=1e-12)
    assert MUENNIGHOFF_2023.loss(8.67e9, 178e9, 25e9) == pytest.approx(2.2269634075087867, abs=1e-12)


@pytest.mark.parametrize(
    ("epochs", "worth"),
    [
        (1, 1.0),  # no repetition: D' = D
        (4, 1 + R_STAR_D * (1 - math.exp(-3 / R_STAR_D))),  # = 3.726: 4 epochs ~ 93% as good as new data
        (1 + R_STAR_D, 1 + R_STAR_D * (1 - math.exp(-1))),  # R = R*: repeats worth 1 - 1/e of new ones
        (1e9, 1 + R_STAR_D),  # the ceiling: U (1 + R*) = 16.4 U
    ],
)
def test_effective_data_points(epochs, worth):
    unique = 25e9
    assert effective_data(unique, epochs * unique) == pytest.approx(unique * worth, rel=1e-9)
    assert effective_data(unique, 0.5 * unique) == 0.5 * unique  # below one epoch nothing repeats
    assert R_STAR_D == pytest.approx(15.4, abs=0.05)


def test_effective_data_at_four_epochs_is_close_to_new_data():
    assert effective_data(1.0, 4.0) == pytest.approx(3.7257, abs=1e-4)
    assert effective_data(1.0, 40.0) == pytest.approx(15.1675, abs=1e-4)  # 40 epochs: worth 15 new ones


def test_repetition_plan_spreads_a_budget_by_weight():
    rows = {r.domain: r for r in repetition_plan(1000.0, {"web": 800.0, "code": 50.0}, {"web": 3, "code": 1})}
    assert rows["web"].tokens == 750 and rows["web"].epochs == pytest.approx(750 / 800) and not rows["web"].warn
    assert rows["code"].epochs == 5 and rows["code"].warn
    assert rows["code"].effective == pytest.approx(effective_data(50, 250))
