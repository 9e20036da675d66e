"""Tests for snippets/optimisation/hard_landscapes.py (page docs/optimisation/hard-landscapes.md)."""

from __future__ import annotations

import numpy as np
import pytest

from snippets.optimisation.gradient_descent import gradient_descent
from snippets.optimisation.hard_landscapes import (
    best_factor,
    convergence_factor,
    double_well,
    double_well_derivative,
    heavy_ball_tuning,
    narrow_valley,
    narrow_valley_gradient,
    rosenbrock,
    rosenbrock_gradient,
    rosenbrock_hessian,
)
from snippets.optimisation.optimisers import momentum_step

from checks import EXACT_ATOL, EXACT_RTOL, assert_gradient
from formulas import Case, formula_test

KAPPAS = [1.0, 10.0, 100.0, 1000.0]


def test_narrow_valley_hand_computed():
    # (2, 1), kappa = 10: 0.5 * (4 + 10) = 7, gradient (2, 10)
    assert narrow_valley([2.0, 1.0], 10.0) == 7.0
    np.testing.assert_array_equal(narrow_valley_gradient([2.0, 1.0], 10.0), [2.0, 10.0])


@pytest.mark.parametrize("kappa", KAPPAS)
def test_narrow_valley_gradient_matches_finite_differences(rng, kappa):
    theta = rng.normal(size=2)
    assert_gradient(lambda p: narrow_valley(p, kappa), narrow_valley_gradient(theta, kappa), theta)


@pytest.mark.parametrize("kappa", KAPPAS)
def test_best_factor_is_reached_at_two_over_one_plus_kappa(kappa):
    """Eq. (2): at lr = 2/(1 + kappa), |1 - lr| = |1 - lr kappa| = (kappa - 1)/(kappa + 1)."""
    lr = 2.0 / (1.0 + kappa)
    assert convergence_factor(lr, [1.0, kappa]) == pytest.approx(best_factor(kappa), abs=EXACT_ATOL)
    assert abs(1 - lr) == pytest.approx(abs(1 - lr * kappa), abs=EXACT_ATOL)


@pytest.mark.parametrize("kappa", [10.0, 100.0])
def test_best_factor_beats_a_grid_of_rates(kappa):
    grid = np.linspace(1e-6, 2.0 / kappa, 20_001)
    worst = [convergence_factor(lr, [1.0, kappa]) for lr in grid]
    assert best_factor(kappa) <= min(worst) + EXACT_ATOL


def test_best_factor_hand_computed():
    # kappa = 100: 99 / 101 = 0.980198..., kappa = 1: 0 (one step reaches the minimum)
    assert best_factor(100.0) == pytest.approx(99 / 101, rel=EXACT_RTOL)
    assert best_factor(1.0) == 0.0


@pytest.mark.parametrize("kappa", [10.0, 100.0])
def test_gradient_descent_shrinks_the_error_by_the_best_factor_every_step(kappa):
    lr = 2.0 / (1.0 + kappa)
    path = gradient_descent(lambda p: narrow_valley_gradient(p, kappa), [1.0, 1.0], lr, 50)
    # both coordinates are multiplied by -(kappa-1)/(kappa+1) or +(kappa-1)/(kappa+1)
    np.testing.assert_allclose(np.abs(path[1:] / path[:-1]), best_factor(kappa), rtol=1e-10)


def test_steps_needed_grow_like_kappa():
    # steps to divide the error by 10: ln 10 / -ln((k-1)/(k+1)), about k ln(10) / 2
    for kappa in [100.0, 1000.0, 10000.0]:
        steps = np.log(10) / -np.log(best_factor(kappa))
        assert steps == pytest.approx(kappa * np.log(10) / 2, rel=1e-3)


def test_heavy_ball_tuning_hand_computed():
    # kappa = 100: sqrt = 10, lr = 4 / 11^2 = 4/121, factor 9/11, beta = 81/121
    lr, beta, factor = heavy_ball_tuning(100.0)
    assert lr == pytest.approx(4 / 121, rel=EXACT_RTOL)
    assert beta == pytest.approx(81 / 121, rel=EXACT_RTOL)
    assert factor == pytest.approx(9 / 11, rel=EXACT_RTOL)


@pytest.mark.parametrize("kappa", [4.0, 100.0, 1e4])
def test_heavy_ball_roots_have_size_sqrt_beta_for_every_curvature(kappa):
    """Eq. (3): for every curvature lambda in [1, kappa], the momentum iteration
    e_{t+1} = (1 + beta - lr lambda) e_t - beta e_{t-1} has characteristic roots that are
    complex conjugates (discriminant <= 0) whose product, hence squared size, is beta."""
    lr, beta, factor = heavy_ball_tuning(kappa)
    lam = np.linspace(1.0, kappa, 1001)
    c = 1.0 + beta - lr * lam
    assert np.all(c**2 - 4.0 * beta <= EXACT_ATOL)
    assert factor == pytest.approx(np.sqrt(beta), rel=EXACT_RTOL)
    inner = lam[1:-1]   # distinct roots there, so eigvals are accurate to rounding
    for li in inner[::100]:
        M = np.array([[1.0 + beta - lr * li, -beta], [1.0, 0.0]])
        np.testing.assert_allclose(np.abs(np.linalg.eigvals(M)), factor, rtol=1e-9)


@pytest.mark.parametrize("kappa", [4.0, 100.0, 1e4])
def test_heavy_ball_has_a_double_real_root_at_both_ends(kappa):
    """Eq. (3): at lambda = 1 and lambda = kappa the discriminant is 0, and the double root
    is +sqrt(beta) and -sqrt(beta): real, of the same size as the complex roots inside."""
    lr, beta, factor = heavy_ball_tuning(kappa)
    c_flat, c_steep = 1.0 + beta - lr * 1.0, 1.0 + beta - lr * kappa
    assert c_flat == pytest.approx(2.0 * factor, rel=EXACT_RTOL)
    assert c_steep == pytest.approx(-2.0 * factor, rel=EXACT_RTOL)
    assert c_flat**2 - 4.0 * beta == pytest.approx(0.0, abs=EXACT_ATOL)
    assert c_steep**2 - 4.0 * beta == pytest.approx(0.0, abs=EXACT_ATOL)


def test_tuned_momentum_is_much_faster_than_tuned_gradient_descent():
    # kappa = 100, 300 updates from (1, 1): gradient descent keeps 0.98^300 ~ 2.5e-3 of its
    # error; momentum's error stays below 2 (t + 1) (9/11)^t |e_0| (a double root adds the t).
    kappa = 100.0
    lr, beta, factor = heavy_ball_tuning(kappa)
    theta, v = np.ones(2), np.zeros(2)
    for t in range(1, 301):
        theta, v = momentum_step(theta, narrow_valley_gradient(theta, kappa), v, lr, beta)
        assert np.linalg.norm(theta) <= 2 * (t + 1) * factor**t * np.sqrt(2)
    gd = gradient_descent(lambda p: narrow_valley_gradient(p, kappa), [1.0, 1.0],
                          2 / (1 + kappa), 300)[-1]
    assert np.linalg.norm(gd) == pytest.approx(best_factor(kappa) ** 300 * np.sqrt(2), rel=1e-9)
    assert np.linalg.norm(theta) < 1e-15 * np.linalg.norm(gd)


def test_rosenbrock_hand_computed():
    # (0, 0): (1 - 0)^2 + 100 (0 - 0)^2 = 1, gradient (-2, 0)
    assert rosenbrock([0.0, 0.0]) == 1.0
    np.testing.assert_array_equal(rosenbrock_gradient([0.0, 0.0]), [-2.0, 0.0])
    # minimum at (a, a^2) = (1, 1): value 0, gradient 0
    assert rosenbrock([1.0, 1.0]) == 0.0
    np.testing.assert_array_equal(rosenbrock_gradient([1.0, 1.0]), [0.0, 0.0])
    # (-1, 1): (1 + 1)^2 + 100 (1 - 1)^2 = 4; gradient (-2 * 2 - 0, 0) = (-4, 0)
    assert rosenbrock([-1.0, 1.0]) == 4.0
    np.testing.assert_array_equal(rosenbrock_gradient([-1.0, 1.0]), [-4.0, 0.0])


def test_rosenbrock_gradient_matches_finite_differences(rng):
    for _ in range(10):
        theta = rng.uniform([-2.0, -1.0], [2.0, 3.0])
        assert_gradient(rosenbrock, rosenbrock_gradient(theta), theta)
    theta = rng.normal(size=2)
    assert_gradient(lambda p: rosenbrock(p, 2.0, 5.0), rosenbrock_gradient(theta, 2.0, 5.0), theta)


def test_rosenbrock_hessian_matches_finite_differences_of_the_gradient(rng):
    for _ in range(10):
        theta = rng.uniform([-2.0, -1.0], [2.0, 3.0])
        H = rosenbrock_hessian(theta)
        np.testing.assert_array_equal(H, H.T)
        for k in range(2):
            assert_gradient(lambda p, k=k: float(rosenbrock_gradient(p)[k]), H[k], theta)


def test_rosenbrock_hessian_at_the_minimum_hand_computed():
    # (1, 1): d2/dx2 = 2 - 0 + 800 = 802, d2/dxdy = -400, d2/dy2 = 200;
    # trace 1002, determinant 802 * 200 - 400^2 = 400.
    H = rosenbrock_hessian([1.0, 1.0])
    np.testing.assert_array_equal(H, [[802.0, -400.0], [-400.0, 200.0]])
    lam = np.linalg.eigvalsh(H)
    assert lam.sum() == pytest.approx(1002.0, rel=EXACT_RTOL)
    assert lam.prod() == pytest.approx(400.0, rel=1e-9)
    expected_max = (1002 + np.sqrt(1002**2 - 4 * 400)) / 2   # about 1001.6
    assert lam[-1] == pytest.approx(expected_max, rel=EXACT_RTOL)
    assert lam[-1] / lam[0] > 2500


def test_gradient_descent_bound_near_the_rosenbrock_minimum():
    # Near (1, 1) the loss is a quadratic with largest curvature ~1001.6: lr < 2/1001.6 = 0.001997.
    start = np.array([1.01, 1.0])
    below = gradient_descent(rosenbrock_gradient, start, 0.0019, 30)[-1]
    above = gradient_descent(rosenbrock_gradient, start, 0.0021, 30)[-1]
    d0 = np.linalg.norm(start - 1.0)
    assert np.linalg.norm(below - 1.0) < d0
    assert np.linalg.norm(above - 1.0) > 5 * d0


def test_double_well_hand_computed():
    # f(1) = 1/4 + 1/3 - 1 = -5/12; f(-2) = 16/4 - 8/3 - 4 = -8/3; f(0) = 0
    np.testing.assert_allclose(double_well(np.array([1.0, -2.0, 0.0])), [-5 / 12, -8 / 3, 0.0],
                               rtol=EXACT_RTOL)
    np.testing.assert_array_equal(double_well_derivative(np.array([1.0, -2.0, 0.0])), 0.0)
    # f'(2) = 8 + 4 - 4 = 8 and the factored form 2 * 1 * 4 = 8
    assert double_well_derivative(2.0) == 8.0


def test_double_well_derivative_matches_finite_differences_and_its_factored_form(rng):
    w = rng.uniform(-3.0, 2.0, size=1)
    assert_gradient(lambda v: float(double_well(v)[0]), double_well_derivative(w), w)
    ws = rng.uniform(-3.0, 2.0, size=50)
    np.testing.assert_allclose(double_well_derivative(ws), ws * (ws - 1) * (ws + 2), rtol=1e-10,
                               atol=EXACT_ATOL)


@pytest.mark.parametrize("w0, minimum", [(-2.9, -2.0), (-1.0, -2.0), (-0.01, -2.0),
                                         (0.01, 1.0), (0.5, 1.0), (1.8, 1.0)])
def test_the_starting_point_decides_the_minimum(w0, minimum):
    # lr = 0.05 is below 2 / f''(-2) = 2/6, so both minima are stable; 500 steps suffice.
    path = gradient_descent(double_well_derivative, [w0], 0.05, 500)
    assert path[-1, 0] == pytest.approx(minimum, abs=1e-9)


def test_starting_exactly_on_the_hilltop_never_moves():
    path = gradient_descent(double_well_derivative, [0.0], 0.05, 50)
    np.testing.assert_array_equal(path, 0.0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: narrow_valley([1.0], 10.0), r"theta must be a finite array of shape \(2,\)"),
        (lambda: narrow_valley_gradient([1.0, np.nan], 10.0), r"theta must be a finite array"),
        (lambda: narrow_valley([1.0, 1.0], 0.5), r"kappa must be a finite number >= 1"),
        (lambda: best_factor(np.inf), r"kappa must be a finite number >= 1"),
        (lambda: heavy_ball_tuning(0.0), r"kappa must be a finite number >= 1"),
        (lambda: convergence_factor(0.1, [1.0, -2.0]), r"curvatures must be finite numbers > 0"),
        (lambda: convergence_factor(0.1, [1.0, np.nan]), r"curvatures must be finite numbers > 0"),
        (lambda: convergence_factor(0.1, [np.inf]), r"curvatures must be finite numbers > 0"),
        (lambda: convergence_factor(0.1, []), r"non-empty 1-D array, got shape \(0,\)"),
        (lambda: convergence_factor(0.1, [[1.0, 2.0]]), r"1-D array, got shape \(1, 2\)"),
        (lambda: convergence_factor(np.ones(2), [1.0]), r"learning rate must be a positive"),
        (lambda: narrow_valley([1.0, 1.0], np.ones(2)), r"kappa must be a finite number >= 1"),
        (lambda: convergence_factor(-0.1, [1.0]), r"learning rate must be a positive"),
        (lambda: rosenbrock([1.0, 2.0, 3.0]), r"shape \(2,\), got shape \(3,\)"),
        # a and b: single finite numbers, b > 0 (else there is no unique minimum at (a, a^2)).
        (lambda: rosenbrock([1.0, 2.0], a=np.nan), r"a must be a single finite number"),
        (lambda: rosenbrock_gradient([1.0, 2.0], a=np.ones(2)), r"a must be a single finite"),
        (lambda: rosenbrock_hessian([1.0, 2.0], a=np.inf), r"a must be a single finite"),
        (lambda: rosenbrock([1.0, 2.0], b=-1.0), r"b must be a finite number > 0.*got -1\.0"),
        (lambda: rosenbrock_gradient([1.0, 2.0], b=0.0), r"b must be a finite number > 0"),
        (lambda: rosenbrock_hessian([1.0, 2.0], b=np.inf), r"b must be a finite number > 0"),
        (lambda: rosenbrock_hessian([1.0, 2.0], b=np.array([1.0, 2.0])), r"b must be a finite"),
        (lambda: rosenbrock_hessian([np.inf, 0.0]), r"theta must be a finite array"),
        (lambda: double_well([np.nan]), r"w must be finite"),
        (lambda: double_well_derivative(np.inf), r"w must be finite"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "optimisation/hard-landscapes.md"


def _narrow_envs(rng):
    for kappa in (1.0, 10.0, 100.0):
        x, y = rng.standard_normal(2)
        lr = rng.uniform(0.0, 2.0 / kappa)
        best = 2.0 / (1.0 + kappa)
        grid = [*np.linspace(0.005, 2.0, 400), best]
        lr_hb, beta, factor = heavy_ball_tuning(kappa)
        yield {"x": x, "y": y, "kappa": kappa, "lr": lr,
               "f": lambda x, y, k=kappa: narrow_valley(np.array([x, y]), k),
               "grad_f": lambda x, y, k=kappa: narrow_valley_gradient(np.array([x, y]), k),
               "rho": lambda v, k=kappa: convergence_factor(v, np.array([1.0, k])),
               "__domain__": {"lr": grid}, "best_factor": best_factor(kappa)}


def _heavy_ball_envs(rng):
    for kappa in (1.0, 10.0, 100.0):
        lr, beta, factor = heavy_ball_tuning(kappa)
        yield {"lr": lr, "beta": beta, "kappa": kappa}
        assert factor == pytest.approx(np.sqrt(beta), rel=EXACT_RTOL)


def _rosenbrock_envs(rng):
    for a, b in [(1.0, 100.0), (0.5, 3.0)]:
        x, y = rng.standard_normal(2)
        yield {"x": x, "y": y, "a": a, "b": b,
               "f": lambda x, y, a=a, b=b: rosenbrock(np.array([x, y]), a, b),
               "grad_f": lambda x, y, a=a, b=b: rosenbrock_gradient(np.array([x, y]), a, b),
               "H": lambda x, y, a=a, b=b: rosenbrock_hessian(np.array([x, y]), a, b)}


def _hessian_envs(rng):
    # the page's numbers are for the usual a = 1, b = 100
    for env in _rosenbrock_envs(rng):
        if env["b"] == 100.0:
            yield env


def _double_well_envs(rng):
    for w in (-2.5, -0.3, 0.0, 0.8, 1.7):
        yield {"w": w, "f": double_well, "f'": double_well_derivative}


FORMULAS = {
    "narrow": Case(_narrow_envs),
    "rate": Case(_narrow_envs),
    "heavy-ball": Case(_heavy_ball_envs),
    "rosenbrock": Case(_rosenbrock_envs),
    "rosenbrock-hessian": Case(_hessian_envs),
    "double-well": Case(_double_well_envs),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
