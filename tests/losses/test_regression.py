"""Tests for snippets/losses/regression.py (page docs/losses/regression.md)."""

from __future__ import annotations

import math

import high_precision as hp
import numpy as np
import pytest

from snippets.losses.regression import (
    Z_MAX,
    gaussian_nll_grad,
    gaussian_nll_loss,
    gaussian_nll_var_grad,
    huber_grad,
    huber_loss,
    log_cosh_grad,
    log_cosh_loss,
    mae_grad,
    mae_loss,
    mse_grad,
    mse_loss,
    naive_log_cosh_loss,
    poisson_nll_grad,
    poisson_nll_loss,
    quantile_grad,
    quantile_loss,
    rmse_grad,
    rmse_loss,
    smooth_l1_grad,
    smooth_l1_loss,
)

from checks import EXACT_ATOL, EXACT_RTOL, assert_gradient
from formulas import Case, formula_test

#: Shapes of y_hat: one example, one output per example, several outputs per example.
SHAPES = [(1,), (7,), (1, 1), (5, 3), (6, 10)]

#: A residual this large overflows any square (1e200 ** 2 > 1.8e308) and any cosh.
R_EXTREME = 1e200


def make_pair(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 2.0,
              avoid: float = 0.0, away: float = 0.05):
    """Random y_hat, y whose residuals stay at least `away` from the kinks at +-avoid."""
    y = rng.standard_normal(shape)
    r = rng.normal(scale=scale, size=shape)
    for kink in {avoid, -avoid}:
        close = np.abs(r - kink) < away
        r[close] += 2 * away * np.where(r[close] >= kink, 1.0, -1.0)
    return y + r, y


# Pairs (loss, grad) on y_hat whose gradient is checked away from kinks, with parameters.
SMOOTH_PAIRS = [
    (mse_loss, mse_grad, {}),
    (mae_loss, mae_grad, {}),
    (rmse_loss, rmse_grad, {}),
    (huber_loss, huber_grad, {"delta": 1.0}),
    (huber_loss, huber_grad, {"delta": 0.3}),
    (smooth_l1_loss, smooth_l1_grad, {"beta": 1.0}),
    (smooth_l1_loss, smooth_l1_grad, {"beta": 2.5}),
    (log_cosh_loss, log_cosh_grad, {}),
    (quantile_loss, quantile_grad, {"tau": 0.5}),
    (quantile_loss, quantile_grad, {"tau": 0.9}),
]


def kink_of(kwargs: dict) -> float:
    return kwargs.get("delta", kwargs.get("beta", 0.0))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("loss, grad, kwargs", SMOOTH_PAIRS,
                         ids=lambda p: getattr(p, "__name__", str(p)))
def test_gradients_match_finite_differences(rng, shape, loss, grad, kwargs):
    y_hat, y = make_pair(rng, shape, avoid=kink_of(kwargs))
    g = grad(y_hat, y, **kwargs)
    assert g.shape == y_hat.shape
    assert_gradient(lambda v: loss(v, y, **kwargs), g, y_hat, rng)


@pytest.mark.parametrize("loss, grad, kwargs", SMOOTH_PAIRS,
                         ids=lambda p: getattr(p, "__name__", str(p)))
def test_mean_is_mean_of_per_example_losses(rng, loss, grad, kwargs):
    """Each loss is the mean of the one-entry losses; the gradient is each one's over m."""
    y_hat, y = make_pair(rng, (9,), avoid=kink_of(kwargs))
    if loss is rmse_loss:   # RMSE is not a mean of per-entry terms: its square is
        per = [mse_loss(y_hat[i:i + 1], y[i:i + 1]) for i in range(9)]
        assert loss(y_hat, y) ** 2 == pytest.approx(np.mean(per), rel=EXACT_RTOL)
        return
    per = [loss(y_hat[i:i + 1], y[i:i + 1], **kwargs) for i in range(9)]
    assert loss(y_hat, y, **kwargs) == pytest.approx(np.mean(per), rel=EXACT_RTOL)
    per_grad = np.array([grad(y_hat[i:i + 1], y[i:i + 1], **kwargs)[0] for i in range(9)])
    np.testing.assert_allclose(grad(y_hat, y, **kwargs), per_grad / 9, rtol=EXACT_RTOL)


def test_mse_known_values_and_link_to_chapter_form():
    # Residuals 1, -2, 3: (1 + 4 + 9) / 3 = 14/3; gradient 2 r / 3.
    y_hat, y = np.array([1.0, 0.0, 5.0]), np.array([0.0, 2.0, 2.0])
    assert mse_loss(y_hat, y) == pytest.approx(14 / 3, rel=EXACT_RTOL)
    np.testing.assert_allclose(mse_grad(y_hat, y), [2 / 3, -4 / 3, 2.0], rtol=EXACT_RTOL)


def test_mae_known_values_and_subgradient_at_zero():
    # |1| + |-2| + |0| over 3 = 1; slopes sign(r) / 3, and 0 where r = 0.
    y_hat, y = np.array([1.0, 0.0, 2.0]), np.array([0.0, 2.0, 2.0])
    assert mae_loss(y_hat, y) == pytest.approx(1.0, rel=EXACT_RTOL)
    np.testing.assert_array_equal(mae_grad(y_hat, y), [1 / 3, -1 / 3, 0.0])
    # 0 is a subgradient: |r| >= |0| + 0 * r for every r (no direction lowers the loss).
    one_sided = [(mae_loss([h], [0.0]) - 0.0) / h for h in (1e-3, -1e-3)]
    assert one_sided == [1.0, -1.0] and -1.0 <= mae_grad([0.0], [0.0])[0] <= 1.0


def test_rmse_known_values_chain_rule_and_zero_residuals(rng):
    # Residuals 3 and 4 (and -4): sqrt((9 + 16) / 2) = 5 / sqrt 2.
    assert rmse_loss([3.0, 4.0], [0.0, 0.0]) == pytest.approx(5 / np.sqrt(2), rel=EXACT_RTOL)
    y_hat, y = make_pair(rng, (6,))
    # Chain rule of eq. (5): d sqrt(u) / du = 1 / (2 sqrt u), times du/dy_hat = mse_grad.
    chain = mse_grad(y_hat, y) / (2 * np.sqrt(mse_loss(y_hat, y)))
    np.testing.assert_allclose(rmse_grad(y_hat, y), chain, rtol=EXACT_RTOL)
    # All residuals zero: the code returns the subgradient 0, and RMSE grows like |t| * |d|
    # along any direction d, so every g with |g| <= 1 / sqrt(m) is a subgradient.
    y0 = rng.standard_normal(4)
    np.testing.assert_array_equal(rmse_grad(y0, y0), np.zeros(4))
    d = rng.standard_normal(4)
    assert rmse_loss(y0 + 1e-3 * d, y0) == pytest.approx(1e-3 * np.linalg.norm(d) / 2,
                                                         rel=1e-9)


def test_rmse_gradient_has_length_one_over_sqrt_m(rng):
    for m in (1, 4, 30):
        y_hat, y = make_pair(rng, (m,), scale=10.0 ** rng.uniform(-3, 3))
        assert np.linalg.norm(rmse_grad(y_hat, y)) == pytest.approx(1 / np.sqrt(m), rel=EXACT_RTOL)


def test_huber_written_out_pieces_overflow_where_the_min_form_does_not():
    r = np.array([R_EXTREME, 0.5])
    with pytest.warns(RuntimeWarning, match="overflow"):
        np.where(np.abs(r) <= 1.0, 0.5 * r**2, np.abs(r) - 0.5)
    assert huber_loss(r, np.zeros(2)) == pytest.approx((R_EXTREME - 0.5 + 0.125) / 2, rel=EXACT_RTOL)


def test_rmse_extreme_residuals_are_finite_where_the_naive_form_overflows():
    r = np.array([R_EXTREME, -R_EXTREME, 0.0, R_EXTREME])
    with pytest.warns(RuntimeWarning, match="overflow"):
        naive = np.sqrt(np.mean(r**2))
    assert naive == np.inf
    assert rmse_loss(r, np.zeros(4)) == pytest.approx(R_EXTREME * np.sqrt(3) / 2, rel=1e-14)
    np.testing.assert_allclose(rmse_grad(r, np.zeros(4)), np.sign(r) / (2 * np.sqrt(3)),
                               rtol=1e-14)


def test_huber_known_values_and_piecewise_definition():
    # delta = 1: r = 0.5 -> 0.125 (quadratic), r = -3 -> 1 * (3 - 0.5) = 2.5 (linear).
    assert huber_loss([0.5, -3.0], [0.0, 0.0]) == pytest.approx((0.125 + 2.5) / 2, rel=EXACT_RTOL)
    np.testing.assert_allclose(huber_grad([0.5, -3.0], [0.0, 0.0]), [0.25, -0.5], rtol=EXACT_RTOL)
    # delta = 2, r = 5: 2 * (5 - 1) = 8.
    assert huber_loss([5.0], [0.0], delta=2.0) == pytest.approx(8.0, rel=EXACT_RTOL)


@pytest.mark.parametrize("delta", [0.1, 1.0, 3.0])
def test_huber_pieces_meet_with_equal_value_and_slope_at_delta(delta):
    # Quadratic piece at delta - h: delta^2/2 - delta h + h^2/2; linear piece at delta + h:
    # delta (delta + h - delta/2) = delta^2/2 + delta h. Both tend to delta^2/2 with slope delta.
    h = 1e-6
    below, above = huber_loss([delta - h], [0.0], delta), huber_loss([delta + h], [0.0], delta)
    assert below == pytest.approx(delta**2 / 2 - delta * h + h**2 / 2, rel=EXACT_RTOL)
    assert above == pytest.approx(delta**2 / 2 + delta * h, rel=EXACT_RTOL)
    assert huber_grad([delta], [0.0], delta)[0] == delta


@pytest.mark.parametrize("delta", [0.2, 1.0, 4.0])
def test_huber_is_delta_times_smooth_l1_and_matches_pytorch_formula(rng, delta):
    y_hat, y = make_pair(rng, (40,), scale=3 * delta)
    assert huber_loss(y_hat, y, delta=delta) == pytest.approx(
        delta * smooth_l1_loss(y_hat, y, beta=delta), rel=EXACT_RTOL)
    np.testing.assert_allclose(huber_grad(y_hat, y, delta=delta),
                               delta * smooth_l1_grad(y_hat, y, beta=delta), rtol=EXACT_RTOL)
    # PyTorch's documented SmoothL1Loss: 0.5 r^2 / beta if |r| < beta else |r| - 0.5 beta.
    r = y_hat - y
    torch_doc = np.where(np.abs(r) < delta, 0.5 * r**2 / delta, np.abs(r) - 0.5 * delta)
    assert smooth_l1_loss(y_hat, y, beta=delta) == pytest.approx(np.mean(torch_doc), rel=EXACT_RTOL)
    # and its HuberLoss: 0.5 r^2 if |r| <= delta else delta (|r| - 0.5 delta).
    torch_huber = np.where(np.abs(r) <= delta, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta))
    assert huber_loss(y_hat, y, delta=delta) == pytest.approx(np.mean(torch_huber), rel=EXACT_RTOL)


def test_huber_with_delta_one_equals_smooth_l1_with_beta_one(rng):
    y_hat, y = make_pair(rng, (30,))
    assert huber_loss(y_hat, y) == pytest.approx(smooth_l1_loss(y_hat, y), rel=EXACT_RTOL)


def test_smooth_l1_known_values():
    # beta = 2: r = 1 -> 0.25, r = -4 -> 4 - 1 = 3; slopes 0.5 and -1, over m = 2.
    assert smooth_l1_loss([1.0, -4.0], [0.0, 0.0], beta=2.0) == pytest.approx(1.625, rel=EXACT_RTOL)
    np.testing.assert_allclose(smooth_l1_grad([1.0, -4.0], [0.0, 0.0], beta=2.0), [0.25, -0.5])


def test_log_cosh_known_values_and_stable_equals_naive(rng):
    # cosh(ln 2) = (2 + 1/2) / 2 = 5/4; tanh(ln 2) = (2 - 1/2) / (2 + 1/2) = 3/5.
    assert log_cosh_loss([np.log(2.0)], [0.0]) == pytest.approx(np.log(1.25), rel=EXACT_RTOL)
    assert log_cosh_grad([np.log(2.0)], [0.0])[0] == pytest.approx(0.6, rel=EXACT_RTOL)
    y_hat, y = make_pair(rng, (50,), scale=5.0)
    assert log_cosh_loss(y_hat, y) == pytest.approx(naive_log_cosh_loss(y_hat, y), rel=1e-12)


@pytest.mark.parametrize("r", [1e-10, -1e-8, 3e-6, 1e-3, 0.5, -1.0, 1.0 + 1e-9, 3.0, 30.0, 1000.0])
def test_log_cosh_keeps_its_digits_from_tiny_to_huge_residuals(r):
    """Against 420-digit arithmetic: the sinh form below |r| = 1, the exp form above."""
    value, gradient = hp.value_and_gradient(hp.log_cosh(0.0), [r])
    assert log_cosh_loss([r], [0.0]) == pytest.approx(value, rel=EXACT_RTOL, abs=0.0)
    np.testing.assert_allclose(log_cosh_grad([r], [0.0]), gradient, rtol=EXACT_RTOL)


def test_log_cosh_derivative_step_sinh_over_cosh(rng):
    """Eq. (11): the chain rule gives sinh(r) / cosh(r), which is tanh(r)."""
    y_hat, y = make_pair(rng, (20,), scale=3.0)
    r = y_hat - y
    np.testing.assert_allclose(log_cosh_grad(y_hat, y) * r.size, np.sinh(r) / np.cosh(r),
                               rtol=EXACT_RTOL)


def test_log_cosh_naive_overflows_where_the_stable_form_is_exact():
    with pytest.warns(RuntimeWarning, match="overflow"):
        assert naive_log_cosh_loss([1000.0], [0.0]) == np.inf
    # For |r| = 1000, e^{-2000} vanishes: log cosh r = 1000 - log 2 exactly in float64.
    assert log_cosh_loss([1000.0], [0.0]) == 1000.0 - np.log(2.0)


@pytest.mark.parametrize("loss, grad", [(mae_loss, mae_grad), (huber_loss, huber_grad),
                                        (smooth_l1_loss, smooth_l1_grad),
                                        (log_cosh_loss, log_cosh_grad),
                                        (quantile_loss, quantile_grad),
                                        (rmse_loss, rmse_grad)])
def test_linear_tailed_losses_are_finite_and_warning_free_at_extreme_residuals(loss, grad):
    y_hat = np.array([R_EXTREME, -R_EXTREME, 1e-300, 0.0])
    y = np.zeros(4)
    assert np.isfinite(loss(y_hat, y))
    g = grad(y_hat, y)
    assert np.all(np.isfinite(g)) and np.all(np.abs(g) <= 1.0)


def test_quantile_known_values_and_subgradient_at_zero():
    # tau = 0.9, y = 1: y_hat = 0 is too low by 1 -> 0.9; y_hat = 3 too high by 2 -> 0.2.
    assert quantile_loss([0.0, 3.0], [1.0, 1.0], tau=0.9) == pytest.approx(0.55, rel=EXACT_RTOL)
    np.testing.assert_allclose(quantile_grad([0.0, 3.0, 1.0], [1.0, 1.0, 1.0], tau=0.9),
                               [-0.3, 0.1 / 3, 0.0], rtol=EXACT_RTOL)
    # At y_hat = y the one-sided slopes are -tau and 1 - tau; 0 lies between them.
    h = 1e-6
    left = (quantile_loss([1.0], [1.0], 0.9) - quantile_loss([1.0 - h], [1.0], 0.9)) / h
    right = (quantile_loss([1.0 + h], [1.0], 0.9) - quantile_loss([1.0], [1.0], 0.9)) / h
    assert left == pytest.approx(-0.9, rel=1e-6) and right == pytest.approx(0.1, rel=1e-6)
    assert left <= quantile_grad([1.0], [1.0], 0.9)[0] == 0.0 <= right


def test_quantile_at_one_half_is_half_the_mae(rng):
    y_hat, y = make_pair(rng, (25,))
    assert quantile_loss(y_hat, y) == pytest.approx(mae_loss(y_hat, y) / 2, rel=EXACT_RTOL)
    # and scikit-learn's documented mean_pinball_loss form, alpha max(r, 0) + (1 - alpha) max(-r, 0).
    r = y - y_hat
    sk = np.mean(0.9 * np.maximum(r, 0) + 0.1 * np.maximum(-r, 0))
    assert quantile_loss(y_hat, y, tau=0.9) == pytest.approx(sk, rel=EXACT_RTOL)


def test_quantile_minimiser_is_the_quantile(rng):
    """Minimising the mean pinball loss over one constant gives the tau-quantile."""
    y = rng.standard_normal(101)
    grid = np.sort(y)
    losses = [quantile_loss(np.full(101, c), y, tau=0.8) for c in grid]
    # With 101 sorted values, the 0.8-quantile is the 81st (index 80).
    assert grid[int(np.argmin(losses))] == grid[80]


@pytest.mark.parametrize("shape", SHAPES)
def test_poisson_gradient_matches_finite_differences(rng, shape):
    z = rng.normal(size=shape)
    y = rng.poisson(3.0, size=shape).astype(float)
    assert_gradient(lambda v: poisson_nll_loss(v, y), poisson_nll_grad(z, y), z, rng)


def test_poisson_is_the_nll_of_the_pmf_minus_log_factorial(rng):
    """Eq. (14): -log(lambda^y e^-lambda / y!) with lambda = e^z, dropping log y!."""
    z = rng.normal(size=12)
    y = rng.poisson(2.0, size=12).astype(float)
    rate = np.exp(z)
    pmf = np.array([rate[i] ** y[i] * math.exp(-rate[i]) / math.factorial(int(y[i]))
                    for i in range(12)])
    log_fact = np.array([math.log(math.factorial(int(k))) for k in y])
    assert poisson_nll_loss(z, y) == pytest.approx(np.mean(-np.log(pmf) - log_fact), rel=1e-12)
    # The chain rule of eq. (15): (1 - y / lambda) * d lambda / dz, with d lambda / dz = lambda.
    np.testing.assert_allclose(poisson_nll_grad(z, y) * 12, (1 - y / rate) * rate, rtol=1e-12)


def test_poisson_accepts_any_target_at_least_zero(rng):
    """Eq. (14) is defined for every y >= 0, counts or not (PyTorch checks nothing)."""
    z, y = rng.normal(size=8), rng.uniform(0.0, 5.0, size=8)
    assert_gradient(lambda v: poisson_nll_loss(v, y), poisson_nll_grad(z, y), z, rng)
    # Measured with torch 2.13.0: PoissonNLLLoss() at z = (0.3, -1.2), y = (2.5, 0.7).
    assert poisson_nll_loss([0.3, -1.2], [2.5, 0.7]) == pytest.approx(0.8705265097441026,
                                                                      rel=EXACT_RTOL)
    # The minimum over z is at e^z = y, for a rate of 2.5 as for a count.
    np.testing.assert_allclose(poisson_nll_grad([np.log(2.5)], [2.5]), [0.0], atol=EXACT_ATOL)


def test_poisson_known_values_minimum_and_extremes():
    # z = 0, y = 3: e^0 - 0 = 1; z = ln 2, y = 2: 2 - 2 ln 2.
    assert poisson_nll_loss([0.0, np.log(2.0)], [3.0, 2.0]) == pytest.approx(
        (1 + 2 - 2 * np.log(2)) / 2, rel=EXACT_RTOL)
    # The gradient vanishes where the rate equals the count.
    np.testing.assert_allclose(poisson_nll_grad([np.log(5.0)], [5.0]), [0.0], atol=EXACT_ATOL)
    # Very negative log-rates: exp underflows quietly to 0, the loss is finite.
    assert poisson_nll_loss([-1e4, -1e4], [0.0, 2.0]) == pytest.approx(1e4, rel=EXACT_RTOL)
    assert np.isfinite(poisson_nll_loss([Z_MAX], [1.0]))


def test_gaussian_known_values_and_full_constant():
    # y_hat - y = 2, var = 4: 0.5 (log 4 + 4 / 4) = log 2 + 0.5.
    assert gaussian_nll_loss([2.0], [0.0], [4.0]) == pytest.approx(np.log(2) + 0.5, rel=EXACT_RTOL)
    # full=True adds 0.5 log(2 pi): the exact -log of the normal density.
    density = np.exp(-(2.0**2) / (2 * 4.0)) / np.sqrt(2 * np.pi * 4.0)
    assert gaussian_nll_loss([2.0], [0.0], [4.0], full=True) == pytest.approx(
        -np.log(density), rel=EXACT_RTOL)
    assert gaussian_nll_grad([2.0], [0.0], [4.0])[0] == pytest.approx(0.5, rel=EXACT_RTOL)
    # (v - r^2) / (2 v^2) = (4 - 4) / 32 = 0: the variance equal to r^2 is the best one.
    assert gaussian_nll_var_grad([2.0], [0.0], [4.0])[0] == 0.0


@pytest.mark.parametrize("shape", SHAPES)
def test_gaussian_gradients_match_finite_differences(rng, shape):
    y_hat, y = make_pair(rng, shape)
    var = rng.uniform(0.3, 3.0, size=shape)
    assert_gradient(lambda v: gaussian_nll_loss(v, y, var), gaussian_nll_grad(y_hat, y, var),
                    y_hat, rng)
    assert_gradient(lambda v: gaussian_nll_loss(y_hat, y, v), gaussian_nll_var_grad(y_hat, y, var),
                    var, rng)


def test_gaussian_variance_derivative_steps(rng):
    """Eq. (17): d/dv of 0.5 (log v + r^2 / v) is 0.5 (1/v - r^2/v^2) = (v - r^2) / (2 v^2)."""
    y_hat, y = make_pair(rng, (10,))
    var = rng.uniform(0.2, 2.0, size=10)
    r = y_hat - y
    np.testing.assert_allclose(gaussian_nll_var_grad(y_hat, y, var) * 10,
                               0.5 * (1 / var - r**2 / var**2), rtol=1e-12)


def test_gaussian_clamps_variance_at_eps_like_pytorch():
    # Every var below eps gives the loss at var = eps, and no gradient through var.
    a = gaussian_nll_loss([1.0], [0.5], [1e-9], eps=1e-3)
    b = gaussian_nll_loss([1.0], [0.5], [1e-3], eps=1e-3)
    assert a == b == pytest.approx(0.5 * (np.log(1e-3) + 0.25 / 1e-3), rel=EXACT_RTOL)
    assert gaussian_nll_var_grad([1.0], [0.5], [1e-9], eps=1e-3)[0] == 0.0
    assert gaussian_nll_grad([1.0], [0.5], [1e-300])[0] == pytest.approx(0.5 / 1e-6, rel=EXACT_RTOL)
    # A variance of exactly 0 is clamped like any other below eps (PyTorch accepts it too).
    assert gaussian_nll_loss([1.0], [0.5], [0.0], eps=1e-3) == b
    assert gaussian_nll_grad([1.0], [0.5], [0.0], eps=1e-3)[0] == pytest.approx(0.5 / 1e-3,
                                                                               rel=EXACT_RTOL)
    assert gaussian_nll_var_grad([1.0], [0.5], [0.0], eps=1e-3)[0] == 0.0
    # full=False drops exactly 0.5 log(2 pi) per entry.
    diff = gaussian_nll_loss([1.0, 2.0], [0.0, 0.0], [1.0, 3.0], full=True) - \
        gaussian_nll_loss([1.0, 2.0], [0.0, 0.0], [1.0, 3.0])
    assert diff == pytest.approx(0.5 * np.log(2 * np.pi), rel=EXACT_RTOL)


def test_gaussian_against_pytorch_where_the_variance_is_clamped():
    """PyTorch clamps var under no_grad, so its var gradient is eq. (17) at the clamped value.

    Measured with torch 2.13.0, GaussianNLLLoss() in float64, y_hat = 1, y = 0.5, and
    var = 1e-8 or var = 0: loss 124993.09224472102, gradient 500000.0 in y_hat and
    -124999500000.0 in var.
    """
    for var in (1e-8, 0.0):
        assert gaussian_nll_loss([1.0], [0.5], [var]) == pytest.approx(124993.09224472102,
                                                                       rel=EXACT_RTOL)
        assert gaussian_nll_grad([1.0], [0.5], [var])[0] == pytest.approx(500000.0,
                                                                          rel=EXACT_RTOL)
        # Ours is the derivative of the clamped loss, which does not depend on var there ...
        assert gaussian_nll_var_grad([1.0], [0.5], [var])[0] == 0.0
        # ... PyTorch's is (eps - r^2) / (2 eps^2) / m, eq. (17) with v = eps.
        eps, r = 1e-6, 0.5
        assert (eps - r**2) / (2 * eps**2) == pytest.approx(-124999500000.0, rel=EXACT_RTOL)
    # Above eps the two agree: at var = 1e-3 PyTorch gives -124500.0 in var.
    assert gaussian_nll_var_grad([1.0], [0.5], [1e-3])[0] == pytest.approx(-124500.0,
                                                                          rel=EXACT_RTOL)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: mse_loss([1.0, 2.0], [1.0]), r"same shape, got \(2,\) and \(1,\)"),
        (lambda: mse_grad([], []), r"non-empty"),
        (lambda: mae_loss([np.nan], [1.0]), r"y_hat must be finite"),
        (lambda: mae_grad([1.0], [np.inf]), r"y must be finite"),
        (lambda: rmse_loss([[1.0]], [1.0]), r"same shape"),
        (lambda: rmse_grad([1.0], [1.0, 2.0]), r"same shape"),
        (lambda: huber_loss([1.0], [0.0], delta=0.0), r"delta must be a positive"),
        (lambda: huber_grad([1.0], [0.0], delta=-1.0), r"delta must be a positive"),
        (lambda: smooth_l1_loss([1.0], [0.0], beta=np.inf), r"beta must be a positive"),
        (lambda: smooth_l1_grad([1.0], [0.0], beta=[1.0]), r"beta must be a positive"),
        (lambda: log_cosh_loss([1.0], [[0.0]]), r"same shape"),
        (lambda: log_cosh_grad([np.nan], [0.0]), r"finite"),
        (lambda: naive_log_cosh_loss([1.0], []), r"same shape"),
        (lambda: quantile_loss([1.0], [0.0], tau=1.0), r"tau must be .* between 0 and 1, got 1.0"),
        (lambda: quantile_grad([1.0], [0.0], tau=0.0), r"tau must be"),
        (lambda: poisson_nll_loss([0.0], [-1.0]), r"targets y must be >= 0, got min -1.0"),
        (lambda: poisson_nll_grad([800.0], [1.0]), r"log-rates z must be <= 709.78"),
        (lambda: poisson_nll_loss([0.0, 1.0], [1.0]), r"z and y must have the same shape"),
        (lambda: gaussian_nll_loss([1.0], [0.0], [-1e-9]), r"var must be >= 0 .*got min -1e-09"),
        (lambda: gaussian_nll_grad([1.0], [0.0], [1.0, 2.0]), r"var must have the shape"),
        (lambda: gaussian_nll_var_grad([1.0], [0.0], [1.0], eps=0.0), r"eps must be a positive"),
        (lambda: gaussian_nll_loss([1.0], [0.0], [np.inf]), r"var must be finite"),
        (lambda: gaussian_nll_loss([1.0], [0.0], [1.0], full=np.ones(2)), r"full must be True or"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "losses/regression.md"

DELTA, BETA, TAU = 0.8, 0.6, 0.3


def _rows(fn, *arrays, **kwargs):
    """Each example's loss alone: the code on a batch of one."""
    return np.array([fn(*(a[i:i + 1] for a in arrays), **kwargs) for i in range(len(arrays[0]))])


def _pair_envs(rng):
    # residuals on both sides of delta and beta, and one exact fit (r = 0)
    y = rng.standard_normal(8)
    r = np.array([-2.1, -0.7, -0.3, 0.0, 0.2, 0.5, 0.9, 1.8])
    y_hat = y + r
    m = y.size
    yield {"y": y, "y_hat": y_hat, "m": m, "r": r, "u": y - y_hat, "delta": DELTA,
           "beta": BETA, "tau": TAU,
           "mse": mse_loss(y_hat, y), "Loss_mse": mse_loss(y_hat, y),
           "dy_hat_mse": mse_grad(y_hat, y)}


def _env_for(rng, loss, grad, **kwargs):
    for env in _pair_envs(rng):
        y_hat, y = env["y_hat"], env["y"]
        yield {**env, "loss": _rows(loss, y_hat, y, **kwargs), "Loss": loss(y_hat, y, **kwargs),
               "dy_hat": grad(y_hat, y, **kwargs)}


def _rmse_envs(rng):
    for env in _env_for(rng, rmse_loss, rmse_grad):
        yield {**env, "s": float(np.max(np.abs(env["r"]))), "u": env["mse"],
               "du/dy_hat": 2.0 / env["m"] * env["r"]}


def _log_cosh_scalar_envs(rng):
    for r in (-3.0, -0.4, 0.0, 0.7, 5.0):
        yield {"r": r}


def _poisson_envs(rng):
    z = rng.uniform(-1.5, 1.5, size=6)
    y = np.array([0.0, 1.0, 2.0, 5.0, 3.0, 0.0])
    yield {"z": z, "y": y, "m": 6, "lam": np.exp(z), "loss": _rows(poisson_nll_loss, z, y),
           "dz": poisson_nll_grad(z, y)}


def _gaussian_envs(rng):
    y, y_hat = rng.standard_normal(6), rng.standard_normal(6)
    v = rng.uniform(0.2, 3.0, size=6)
    yield {"y": y, "y_hat": y_hat, "v": v, "m": 6,
           "loss": _rows(gaussian_nll_loss, y_hat, y, v),
           "dy_hat": gaussian_nll_grad(y_hat, y, v), "dv": gaussian_nll_var_grad(y_hat, y, v)}


FORMULAS = {
    "mse": Case(lambda rng: _env_for(rng, mse_loss, mse_grad)),
    "mae": Case(lambda rng: _env_for(rng, mae_loss, mae_grad)),
    "mae-grad": Case(lambda rng: _env_for(rng, mae_loss, mae_grad)),
    "rmse": Case(_rmse_envs),
    "rmse-grad": Case(_rmse_envs),
    "huber": Case(lambda rng: _env_for(rng, huber_loss, huber_grad, delta=DELTA)),
    "huber-grad": Case(lambda rng: _env_for(rng, huber_loss, huber_grad, delta=DELTA)),
    "smooth-l1": Case(lambda rng: _env_for(rng, smooth_l1_loss, smooth_l1_grad, beta=BETA)),
    "log-cosh-naive": Case(lambda rng: _env_for(rng, naive_log_cosh_loss, log_cosh_grad)),
    "log-cosh": Case(_log_cosh_scalar_envs),
    "log-cosh-grad": Case(lambda rng: _env_for(rng, log_cosh_loss, log_cosh_grad)),
    "quantile": Case(lambda rng: _env_for(rng, quantile_loss, quantile_grad, tau=TAU)),
    "quantile-grad": Case(lambda rng: _env_for(rng, quantile_loss, quantile_grad, tau=TAU)),
    "poisson": Case(_poisson_envs),
    "poisson-grad": Case(_poisson_envs),
    "gaussian": Case(_gaussian_envs),
    "gaussian-grad": Case(_gaussian_envs),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
