"""Tests for snippets/foundations/gradient.py (page docs/foundations/gradient.md)."""

from __future__ import annotations

import numpy as np
import pytest

from snippets.foundations.gradient import (
    descend_valley,
    directional_derivative,
    directional_derivatives_around,
    numerical_gradient,
    steepest_directions,
    valley,
    valley_gradient,
)
from snippets.foundations.gradient_checking import directional_difference

from checks import EXACT_ATOL, EXACT_RTOL, GRAD_RTOL, assert_gradient
from formulas import Case, EnvFn, formula_test

#: Number of directions around the circle in the steepest-ascent test: every half degree.
N_ANGLES = 720


def f_point(v: np.ndarray) -> float:
    return float(valley(v))


def test_numerical_gradient_matches_a_closed_form(rng):
    x = rng.standard_normal(5)
    g = numerical_gradient(lambda v: float(np.sum(np.sin(v)) * v[0]), x)
    # d/dx_j (x_0 sum sin) = x_0 cos x_j, plus sum sin for j = 0.
    expected = x[0] * np.cos(x)
    expected[0] += np.sum(np.sin(x))
    np.testing.assert_allclose(g, expected, rtol=1e-8)
    assert g.shape == x.shape


def test_numerical_gradient_of_one_variable():
    assert numerical_gradient(lambda v: float(v[0] ** 3), np.array([2.0]))[0] == pytest.approx(12.0)


def test_valley_hand_values():
    # f(0, 1) = 4 + 4 + 2 = 10; f(2, 0) = 4; f(3, -1) = 4 + 1 + 2 = 7.
    assert valley(np.array([0.0, 1.0])) == 10.0
    assert valley(np.array([2.0, 0.0])) == 4.0
    assert valley(np.array([3.0, -1.0])) == 7.0
    # gradient at (0, 1): (2 (0 - 2), 4 * 1) = (-4, 4).
    np.testing.assert_array_equal(valley_gradient(np.array([0.0, 1.0])), [-4.0, 4.0])


@pytest.mark.parametrize("point", [(0.0, 1.0), (2.0, 0.0), (-1.5, 0.3), (3.7, -2.2)])
def test_valley_gradient_matches_finite_differences(point):
    p = np.array(point)
    assert_gradient(f_point, valley_gradient(p), p)


def test_valley_of_large_but_safe_points():
    # (1e150 - 2)^2 + 2 (1e150)^2 = 3e300 to 15 digits: within float64.
    assert valley(np.array([1e150, 1e150])) == pytest.approx(3e300, rel=EXACT_RTOL)
    np.testing.assert_allclose(valley_gradient(np.array([1e300, 1e300])), [2e300, 4e300], rtol=EXACT_RTOL)


def test_valley_functions_work_on_grids_of_points(rng):
    P = rng.standard_normal((4, 3, 2))
    assert valley(P).shape == (4, 3)
    assert valley_gradient(P).shape == (4, 3, 2)
    np.testing.assert_allclose(valley_gradient(P)[2, 1], valley_gradient(P[2, 1]), rtol=EXACT_RTOL)


def test_valley_minimum_is_2_0_4():
    """The page's minimum (x, y, f) = (2, 0, 4), by three independent routes."""
    p_star = np.array([2.0, 0.0])
    # 1. The gradient vanishes there (and f = 4 by hand: both squares are 0).
    np.testing.assert_array_equal(valley_gradient(p_star), [0.0, 0.0])
    assert valley(p_star) == 4.0
    # 2. A grid search over [-3, 7] x [-5, 5] in steps of 0.01 finds the same point.
    xs = np.linspace(-3, 7, 1001)
    ys = np.linspace(-5, 5, 1001)
    grid = np.stack(np.meshgrid(xs, ys, indexing="ij"), axis=-1)
    values = valley(grid)
    i, j = np.unravel_index(np.argmin(values), values.shape)
    assert (xs[i], ys[j], values[i, j]) == pytest.approx((2.0, 0.0, 4.0), abs=1e-12)
    # 3. Gradient descent from (-1, 1.5) ends there.
    path = descend_valley(np.array([-1.0, 1.5]), lr=0.1, n_steps=100)
    assert path.shape == (101, 2)
    np.testing.assert_allclose(path[-1], p_star, atol=1e-9)
    assert valley(path[-1]) == pytest.approx(4.0, rel=1e-15)


def test_descent_contracts_by_the_factors_on_the_page():
    """Each step multiplies x - 2 by 1 - 2 lr and y by 1 - 4 lr."""
    lr = 0.1
    path = descend_valley(np.array([-1.0, 1.5]), lr=lr, n_steps=5)
    np.testing.assert_allclose((path[1:, 0] - 2) / (path[:-1, 0] - 2), 1 - 2 * lr, rtol=EXACT_RTOL)
    np.testing.assert_allclose(path[1:, 1] / path[:-1, 1], 1 - 4 * lr, rtol=EXACT_RTOL)
    assert np.all(np.diff(valley(path)) < 0)


def test_descent_with_too_large_a_step_diverges():
    path = descend_valley(np.array([-1.0, 1.5]), lr=0.6, n_steps=20)
    assert abs(path[-1, 1]) > abs(path[0, 1]) * 100      # |1 - 4 * 0.6| = 1.4 > 1
    assert descend_valley(np.array([1.0, 1.0]), lr=0.1, n_steps=0).shape == (1, 2)
    # Up to the overflow limit the diverging path is returned, every point finite.
    assert np.all(np.isfinite(descend_valley(np.array([-1.0, 1.5]), lr=0.6, n_steps=2000)))
    # Started at the minimum, even a huge step stays there: the gradient is 0.
    np.testing.assert_array_equal(descend_valley(np.array([2.0, 0.0]), lr=1e300, n_steps=3)[-1],
                                  [2.0, 0.0])
    # Many starts at once: shape (n_steps + 1, number of starts, 2).
    assert descend_valley(np.zeros((4, 2)), lr=0.1, n_steps=3).shape == (4, 4, 2)


@pytest.mark.parametrize("point", [(0.0, 1.0), (3.1, -0.4), (1.0, 2.0)])
def test_directional_derivative_is_largest_along_the_gradient(point):
    """Measured rates along 720 directions (no gradient used) peak at |grad| along grad."""
    p = np.array(point)
    angles = np.linspace(0, 2 * np.pi, N_ANGLES, endpoint=False)
    U = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    measured = np.array([directional_difference(f_point, p, u) for u in U])
    grad = valley_gradient(p)
    ascent, descent, rate = steepest_directions(grad)
    # No measured rate beats |grad|, and the best one, half a degree away at most, nearly meets it.
    assert measured.max() <= rate * (1 + GRAD_RTOL)
    assert measured.max() == pytest.approx(rate, rel=1 - np.cos(np.pi / N_ANGLES) + GRAD_RTOL)
    assert measured.min() == pytest.approx(-rate, rel=1 - np.cos(np.pi / N_ANGLES) + GRAD_RTOL)
    best = U[np.argmax(measured)]
    assert np.arccos(np.clip(best @ ascent, -1, 1)) <= np.pi / N_ANGLES + 1e-9
    # Eq. (4) agrees with the measurement in every direction.
    _, from_grad = directional_derivatives_around(grad, N_ANGLES)
    np.testing.assert_allclose(from_grad, measured, rtol=0, atol=GRAD_RTOL * rate)
    # The steepest rate and the descent direction, straight from eq. (4).
    assert directional_derivative(grad, ascent) == pytest.approx(rate, rel=EXACT_RTOL)
    assert directional_derivative(grad, descent) == pytest.approx(-rate, rel=EXACT_RTOL)


def test_steepest_at_0_1_hand_computed():
    # grad (-4, 4) has length sqrt(32) and direction (-1, 1) / sqrt(2).
    ascent, descent, rate = steepest_directions(np.array([-4.0, 4.0]))
    assert rate == pytest.approx(np.sqrt(32.0), rel=EXACT_RTOL)
    np.testing.assert_allclose(ascent, np.array([-1.0, 1.0]) / np.sqrt(2), rtol=EXACT_RTOL)
    np.testing.assert_allclose(descent, -ascent, rtol=EXACT_RTOL)


def test_directional_derivative_equals_norm_times_cosine(rng):
    """Eq. (4), middle form against last form, in n = 5 dimensions."""
    g = rng.standard_normal(5)
    u = rng.standard_normal(5)
    u /= np.linalg.norm(u)
    cos_theta = (u @ g) / np.linalg.norm(g)
    assert directional_derivative(g, u) == pytest.approx(
        np.linalg.norm(g) * cos_theta, rel=EXACT_RTOL, abs=EXACT_ATOL)
    # An axis direction gives the partial derivative.
    assert directional_derivative(g, np.eye(5)[2]) == g[2]


def test_perpendicular_direction_does_not_change_f():
    grad = valley_gradient(np.array([0.0, 1.0]))       # (-4, 4)
    u = np.array([1.0, 1.0]) / np.sqrt(2)              # at right angles to it
    assert directional_derivative(grad, u) == pytest.approx(0.0, abs=EXACT_ATOL)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: valley(np.ones(3)), r"shape \(2,\) or \(\.\.\., 2\).*got \(3,\)"),
        (lambda: valley_gradient(np.array(1.0)), r"got \(\)"),
        (lambda: valley(np.array([np.nan, 0.0])), r"p must be finite"),
        (lambda: numerical_gradient(lambda v: 0.0, np.ones((2, 2))), r"x must be a non-empty 1-D"),
        (lambda: directional_derivative(np.ones(2), np.ones(3) / np.sqrt(3)), r"shape \(2,\)"),
        (lambda: directional_derivative(np.ones(2), np.ones(2)), r"unit vector, got length"),
        (lambda: steepest_directions(np.zeros(2)), r"gradient is zero"),
        (lambda: descend_valley(np.zeros(2), lr=0.0, n_steps=1), r"lr must be a positive"),
        (lambda: descend_valley(np.zeros(2), lr=0.1, n_steps=2.5), r"non-negative integer"),
        (lambda: descend_valley(np.zeros(2), lr=0.1, n_steps=-1), r"non-negative integer"),
        (lambda: descend_valley(np.zeros(2), lr=0.1, n_steps=3.0), r"non-negative integer, got 3.0"),
        (lambda: descend_valley(np.zeros(2), lr=0.1, n_steps=True), r"non-negative integer, got True"),
        (lambda: descend_valley(np.zeros(2), lr=0.1, n_steps=np.ones(3)), r"n_steps must be a non-negative"),
        (lambda: descend_valley(np.zeros(2), lr=np.ones(3), n_steps=1), r"lr must be a positive number"),
        (lambda: descend_valley(np.zeros(2), lr="0.1", n_steps=1), r"lr must be a positive number"),
        (lambda: descend_valley(np.zeros(3), lr=0.1, n_steps=1), r"p must have shape \(2,\) .* got \(3,\)"),
        (lambda: descend_valley(np.array([-1.0, 1.5]), lr=0.6, n_steps=3000), r"lr=0.6 diverges.*1e\d+"),
        (lambda: descend_valley(np.array([2.0, 1e-300]), lr=1e308, n_steps=1), r"diverges"),
        (lambda: numerical_gradient(lambda v: 0.0, np.ones(2), h=0.0), r"step h must be a positive"),
        (lambda: numerical_gradient(lambda v: 0.0, np.ones(2), h=np.ones(2)), r"step h must be a positive"),
        (lambda: valley(np.array(["a", "b"])), r"p must hold real numbers, got dtype <U1"),
        (lambda: directional_derivatives_around(np.ones(3), 8), r"grad must have shape \(2,\).*got \(3,\)"),
        (lambda: directional_derivatives_around(np.array([np.nan, 1.0]), 8), r"grad must be finite"),
        (lambda: directional_derivatives_around(np.ones(2), np.ones(3)),
         r"n_angles must be a positive integer"),
        (lambda: directional_derivatives_around(np.ones(2), 0), r"positive integer, got 0"),
        (lambda: directional_derivatives_around(np.ones(2), 8.0), r"positive integer, got 8.0"),
        (lambda: steepest_directions(np.array([1e200, 1e200])), r"length of grad must be a finite number"),
        (lambda: steepest_directions(np.ones((2, 2))), r"grad must be a non-empty 1-D array"),
        (lambda: valley(np.array([0.0, 1e160])), r"p is too large: the valley f\(p\) overflows .* 1e\+160"),
        (lambda: valley_gradient(np.array([[0.0, 0.0], [1e308, 0.0]])), r"the gradient at p overflows"),
        (lambda: descend_valley(np.array([1e308, 0.0]), lr=0.1, n_steps=1), r"p is too large"),
        (lambda: directional_derivative(np.full(2, 1e200), np.array([1.0, 0.0])),
         r"length of grad must be a finite"),
        (lambda: directional_derivative(np.ones(2), np.full(2, 1e200)), r"unit vector, got length inf"),
        (lambda: directional_derivatives_around(np.full(2, 1e308), 8), r"length of grad must be a finite"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "foundations/gradient.md"

POINTS = [np.array([0.5, 1.0]), np.array([3.0, -0.7]), np.array([2.0, 0.25])]


def _valley_envs(rng):
    for p in POINTS:
        x, y = p
        yield {"x": x, "y": y, "f": lambda x, y: valley(np.array([x, y])),
               "grad_f": lambda x, y: valley_gradient(np.array([x, y]))}


def _direction_envs(rng):
    for p in POINTS:
        grad = valley_gradient(p)
        angle = rng.uniform(0.0, 2 * np.pi)
        u = np.array([np.cos(angle), np.sin(angle)])
        ascent, descent, top = steepest_directions(grad)
        circle = [np.array([np.cos(t), np.sin(t)]) for t in np.linspace(0, 2 * np.pi, 720)]
        yield {"x": p, "f": valley, "grad_f": valley_gradient, "u": u, "n": 2,
               "df/dx": grad, "theta": angle - np.arctan2(grad[1], grad[0]),
               "D_u": EnvFn(lambda env, _value: directional_derivative(
                   valley_gradient(env["x"]), env["u"])),
               "u_ascent": ascent, "u_descent": descent,
               # the candidates of the max: every half degree, and the maximiser itself
               "__domain__": {"u": [*circle, grad / np.linalg.norm(grad)]}}
        assert top == np.linalg.norm(grad)


def _descent_envs(rng):
    for p in POINTS:
        lr = 0.1
        path = descend_valley(p, lr, 1)
        yield {"x_t": path[0], "x_t+1": path[1], "lr": lr, "grad_f": valley_gradient, "n": 2}


FORMULAS = {
    "valley": Case(_valley_envs),
    "valley-gradient": Case(_valley_envs),
    "directional": Case(_direction_envs),
    "steepest": Case(_direction_envs),
    "descent": Case(_descent_envs),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
