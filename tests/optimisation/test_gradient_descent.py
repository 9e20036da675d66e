"""Tests for snippets/optimisation/gradient_descent.py (page docs/optimisation/gradient-descent.md)."""

from __future__ import annotations

import numpy as np
import pytest

from snippets.optimisation.gradient_descent import (
    best_learning_rate,
    gradient_descent,
    gradient_descent_step,
    max_stable_learning_rate,
    valley,
    valley_contraction,
    valley_gradient,
    valley_iterate,
)

from checks import EXACT_ATOL, EXACT_RTOL, assert_gradient
from formulas import Case, formula_test

VALLEY_MIN = np.array([2.0, 0.0])
VALLEY_H = np.diag([2.0, 4.0])   # second derivatives of eq. (2): d2f/dx2 = 2, d2f/dy2 = 4


def random_spd(rng: np.random.Generator, p: int) -> np.ndarray:
    """A random symmetric positive definite matrix with curvatures between 0.5 and 5."""
    Q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    return Q @ np.diag(rng.uniform(0.5, 5.0, size=p)) @ Q.T


def test_step_hand_computed():
    # theta = (1, -2), gradient (4, -6), lr = 0.5: (1 - 2, -2 + 3) = (-1, 1).
    np.testing.assert_array_equal(gradient_descent_step([1.0, -2.0], [4.0, -6.0], 0.5), [-1.0, 1.0])


def test_valley_known_values():
    assert valley([2.0, 0.0]) == 4.0
    # (0, 1): 4 + (0 - 2)^2 + 2 * 1^2 = 10.
    assert valley([0.0, 1.0]) == 10.0
    np.testing.assert_array_equal(valley_gradient([2.0, 0.0]), [0.0, 0.0])
    # (0, 1): (2 * (0 - 2), 4 * 1) = (-4, 4).
    np.testing.assert_array_equal(valley_gradient([0.0, 1.0]), [-4.0, 4.0])


def test_valley_gradient_matches_finite_differences(rng):
    for _ in range(5):
        theta = rng.normal(scale=3.0, size=2)
        assert_gradient(valley, valley_gradient(theta), theta)


def test_two_hand_computed_steps_on_the_valley():
    # From (0, 1) with lr = 0.1:
    #   gradient (-4, 4)      -> (0 + 0.4, 1 - 0.4)   = (0.4, 0.6),  f = 4 + 2.56 + 0.72 = 7.28
    #   gradient (-3.2, 2.4)  -> (0.4 + 0.32, 0.6 - 0.24) = (0.72, 0.36)
    path = gradient_descent(valley_gradient, [0.0, 1.0], 0.1, 2)
    np.testing.assert_allclose(path, [[0.0, 1.0], [0.4, 0.6], [0.72, 0.36]], rtol=EXACT_RTOL)
    assert valley(path[1]) == pytest.approx(7.28, rel=EXACT_RTOL)


def test_trajectory_shape_and_zero_steps():
    path = gradient_descent(valley_gradient, [0.0, 1.0], 0.1, 0)
    assert path.shape == (1, 2)
    assert gradient_descent(valley_gradient, [0.0, 1.0], 0.1, 7).shape == (8, 2)


def test_contraction_factors_hand_computed():
    # |1 - 2 lr| and |1 - 4 lr| at the four rates the page discusses.
    np.testing.assert_allclose(valley_contraction(0.1), [0.8, 0.6], rtol=EXACT_RTOL)
    np.testing.assert_allclose(np.abs(valley_contraction(0.49)), [0.02, 0.96], rtol=EXACT_RTOL)
    np.testing.assert_allclose(np.abs(valley_contraction(0.51)), [0.02, 1.04], rtol=EXACT_RTOL)
    np.testing.assert_allclose(valley_contraction(0.5), [0.0, -1.0], atol=EXACT_ATOL)


@pytest.mark.parametrize("lr", [0.05, 0.25, 1 / 3, 0.49, 0.51, 0.7])
def test_one_update_multiplies_the_error_by_the_factors(rng, lr):
    """Eq. (3), first line: (x' - 2, y') = ((1 - 2 lr)(x - 2), (1 - 4 lr) y)."""
    theta = rng.normal(size=2)
    after = gradient_descent_step(theta, valley_gradient(theta), lr)
    np.testing.assert_allclose(after - VALLEY_MIN, valley_contraction(lr) * (theta - VALLEY_MIN),
                               rtol=EXACT_RTOL, atol=EXACT_ATOL)


@pytest.mark.parametrize("lr", [0.05, 1 / 3, 0.49, 0.51])
def test_closed_form_equals_the_iteration(rng, lr):
    """Eq. (3), last line, against 60 updates of eq. (1)."""
    theta0 = rng.normal(size=2)
    path = gradient_descent(valley_gradient, theta0, lr, 60)
    closed = np.array([valley_iterate(theta0, lr, t) for t in range(61)])
    np.testing.assert_allclose(path, closed, rtol=1e-10, atol=EXACT_ATOL)


def test_just_below_the_bound_converges():
    # lr = 0.49: the factors are 0.02 and -0.96, so after 1000 steps y is 0.96^1000 ~ 2e-18.
    path = gradient_descent(valley_gradient, [0.0, 1.0], 0.49, 1000)
    assert np.linalg.norm(path[-1] - VALLEY_MIN) < 1e-15
    assert valley(path[-1]) == pytest.approx(4.0, rel=EXACT_RTOL)
    # |y| shrinks at every step by exactly 0.96.
    np.testing.assert_allclose(np.abs(path[1:40, 1] / path[:39, 1]), 0.96, rtol=1e-12)


def test_just_above_the_bound_diverges():
    # lr = 0.51: y is multiplied by 1 - 4 * 0.51 = -1.04 at every step: |y_200| = 1.04^200.
    path = gradient_descent(valley_gradient, [0.0, 1.0], 0.51, 200)
    assert abs(path[-1, 1]) == pytest.approx(1.04**200, rel=1e-12)
    assert abs(path[-1, 1]) > 2500.0
    losses = np.array([valley(p) for p in path])
    # The first update lowers the loss, 10 -> 4 + 0.04^2 + 2 * 1.04^2 = 6.1648, because it
    # removes 98 % of the x error; every later update raises it.
    assert losses[0] == 10.0
    assert losses[1] == pytest.approx(6.1648, rel=EXACT_RTOL)
    assert np.all(np.diff(losses[1:]) > 0)


def test_exactly_at_the_bound_y_bounces_forever():
    path = gradient_descent(valley_gradient, [0.0, 1.0], 0.5, 11)
    # 1 - 4 * 0.5 = -1: y flips sign and keeps its size; x reaches 2 in one step.
    np.testing.assert_array_equal(path[1:, 1], [(-1.0) ** t for t in range(1, 12)])
    np.testing.assert_array_equal(path[1:, 0], 2.0)


def test_bound_of_the_valley_is_one_half():
    assert max_stable_learning_rate(VALLEY_H) == 0.5


@pytest.mark.parametrize("p", [1, 2, 5])
def test_bound_separates_convergence_from_divergence_on_random_quadratics(rng, p):
    """Eq. (4): on f = 1/2 (theta - c)^T H (theta - c), rates just below 2/lambda_max converge."""
    H = random_spd(rng, p)
    c = rng.normal(size=p)
    grad = lambda theta: H @ (theta - c)
    f = lambda theta: 0.5 * (theta - c) @ H @ (theta - c)
    theta0 = c + rng.normal(size=p)
    assert_gradient(f, grad(theta0), theta0)
    bound = max_stable_learning_rate(H)
    # The error is multiplied by (I - lr H) at every step (eq. (4), second line).
    e1 = gradient_descent(grad, theta0, 0.3 * bound, 1)[1] - c
    np.testing.assert_allclose(e1, (np.eye(p) - 0.3 * bound * H) @ (theta0 - c), rtol=1e-10,
                               atol=EXACT_ATOL)
    below = gradient_descent(grad, theta0, 0.98 * bound, 3000)[-1]
    above = gradient_descent(grad, theta0, 1.02 * bound, 3000)[-1]
    assert np.linalg.norm(below - c) < 1e-6 * np.linalg.norm(theta0 - c)
    assert np.linalg.norm(above - c) > 1e6 * np.linalg.norm(theta0 - c)


def test_best_rate_of_the_valley_hand_computed():
    # 2 / (2 + 4) = 1/3; then |1 - 2/3| = |1 - 4/3| = 1/3.
    lr, factor = best_learning_rate(VALLEY_H)
    assert lr == pytest.approx(1 / 3, rel=EXACT_RTOL)
    assert factor == pytest.approx(1 / 3, rel=EXACT_RTOL)
    np.testing.assert_allclose(np.abs(valley_contraction(lr)), 1 / 3, rtol=EXACT_RTOL)


def test_best_rate_beats_every_other_rate_on_a_grid(rng):
    """Eq. (5) against a brute-force search of max_k |1 - lr lambda_k| over 20 001 rates."""
    H = random_spd(rng, 4)
    curvatures = np.linalg.eigvalsh(H)
    lr, factor = best_learning_rate(H)
    grid = np.linspace(0.0, max_stable_learning_rate(H), 20_001)[1:]
    worst = np.max(np.abs(1.0 - np.outer(grid, curvatures)), axis=1)
    assert factor <= worst.min() + EXACT_ATOL
    assert np.max(np.abs(1.0 - lr * curvatures)) == pytest.approx(factor, rel=EXACT_RTOL)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: gradient_descent_step([1.0], [1.0], 0.0), r"learning rate must be a positive"),
        (lambda: gradient_descent_step([1.0], [1.0], np.inf), r"learning rate must be a positive"),
        (lambda: gradient_descent_step([1.0], [1.0], [0.1]), r"learning rate must be a positive"),
        (lambda: gradient_descent_step([1.0, 2.0], [1.0], 0.1), r"dtheta must have shape \(2,\)"),
        (lambda: gradient_descent_step([[1.0]], [1.0], 0.1), r"theta must be a non-empty 1-D"),
        (lambda: gradient_descent_step([np.nan], [1.0], 0.1), r"theta must be finite"),
        (lambda: valley([1.0, 2.0, 3.0]), r"theta must have shape \(2,\)"),
        (lambda: valley_gradient([1.0]), r"theta must have shape \(2,\)"),
        (lambda: gradient_descent(valley_gradient, [0.0, 1.0], 0.1, -1), r"n_steps must be"),
        (lambda: gradient_descent(valley_gradient, [0.0, 1.0], 0.1, 2.5), r"n_steps must be"),
        (lambda: valley_iterate([0.0, 1.0], 0.1, -3), r"t must be an integer >= 0, got -3"),
        (lambda: valley_iterate([0.0, 1.0], 0.1, 1.5), r"t must be an integer >= 0"),
        (lambda: valley_iterate([0.0, np.nan], 0.1, 2), r"theta0 must be finite"),
        # The rate is checked before the first step, so also when there is none.
        (lambda: gradient_descent(valley_gradient, [0.0, 1.0], -0.1, 0), r"learning rate must"),
        (lambda: gradient_descent(valley_gradient, [0.0, 1.0], [0.1, 0.2], 5), r"learning rate"),
        (lambda: gradient_descent(valley_gradient, [[0.0, 1.0]], 0.1, 5), r"theta0 must be a non-empty 1-D"),
        (lambda: gradient_descent(lambda th: np.ones(3), [0.0, 1.0], 0.1, 5), r"dtheta must have shape"),
        (lambda: gradient_descent_step([], [], 0.1), r"theta must be a non-empty 1-D.*shape \(0,\)"),
        (lambda: valley_contraction(-0.1), r"learning rate must be a positive"),
        (lambda: max_stable_learning_rate(np.ones(3)), r"H must be a square matrix"),
        (lambda: max_stable_learning_rate([[1.0, np.inf], [0.0, 1.0]]), r"H must be finite"),
        (lambda: max_stable_learning_rate([[1.0, 2.0], [0.0, 1.0]]), r"H must be symmetric"),
        (lambda: best_learning_rate([[1.0, 0.0], [0.0, -1.0]]), r"positive definite"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_a_diverging_run_stays_warning_free_for_a_while():
    # 1.04^500 ~ 3e8: far from overflow, so no RuntimeWarning (they are errors here).
    assert np.all(np.isfinite(gradient_descent(valley_gradient, [0.0, 1.0], 0.51, 500)))


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "optimisation/gradient-descent.md"


def _step_envs(rng):
    for p in (1, 3):
        theta, lr = rng.standard_normal(p), 0.1
        grad = lambda v: 2.0 * v + np.sin(v)       # the gradient of a smooth loss
        yield {"theta": theta, "lr": lr, "p": p, "grad_Loss": grad,
               "__after__": {"theta": gradient_descent_step(theta, grad(theta), lr)}}


def _valley_envs(rng):
    for x, y in [(0.0, 1.0), (3.5, -0.4)]:
        yield {"x": x, "y": y, "f": lambda x, y: valley(np.array([x, y])),
               "grad_f": lambda x, y: valley_gradient(np.array([x, y]))}


def _iterate_envs(rng):
    theta0 = np.array([0.0, 1.0])
    for lr in (0.1, 0.3, 0.49):
        for t in (1, 4):
            path = gradient_descent(valley_gradient, theta0, lr, t)
            x_t, y_t = path[t - 1]
            x_next, y_next = path[t]
            closed_x, closed_y = valley_iterate(theta0, lr, t - 1)
            yield {"lr": lr, "t": t - 1, "x_t": x_t, "y_t": y_t, "x_t+1": x_next,
                   "y_t+1": y_next, "x_0": theta0[0], "y_0": theta0[1]}
            assert (closed_x, closed_y) == pytest.approx((x_t, y_t), rel=EXACT_RTOL,
                                                         abs=EXACT_ATOL)


def _quadratic_envs(rng):
    for p in (1, 2, 5):
        Q, _ = np.linalg.qr(rng.standard_normal((p, p)))
        lam = np.sort(rng.uniform(0.5, 4.0, size=p))
        H = Q @ np.diag(lam) @ Q.T
        lr = 0.9 * max_stable_learning_rate(H)         # a stable rate: every factor < 1
        e_t = rng.standard_normal(p)
        best, factor = best_learning_rate(H)
        yield {"H": H, "lr": lr, "p": p, "e_t": e_t, "e_t+1": e_t - lr * (H @ e_t),
               "I": np.eye(p), "Q": Q.T, "lam": lam, "lam_max": lam[-1], "lam_min": lam[0],
               "lr_best": best, "__ranges__": {"k": "p"}}


FORMULAS = {
    "step": Case(_step_envs),
    "valley": Case(_valley_envs),
    "contraction": Case(_iterate_envs),
    "bound": Case(_quadratic_envs),
    "best": Case(_quadratic_envs),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
