"""Tests for snippets/foundations/gradient_checking.py (page docs/foundations/gradient-checking.md).

The checker is what every other test relies on, so it is tested against closed forms and
must flag gradients that are wrong by a sign, a factor or a transpose.
"""

from __future__ import annotations

import numpy as np
import pytest

from snippets.foundations.gradient_checking import (
    H_CENTRAL,
    MAX_COORDINATES,
    central_difference,
    check_gradient,
    directional_difference,
    relative_error,
)

from checks import GRAD_RTOL


def quadratic(A: np.ndarray):
    """f(x) = x^T A x has gradient (A + A^T) x: a closed form independent of the checker."""
    return (lambda x: float(x @ A @ x)), (lambda x: (A + A.T) @ x)


def test_central_difference_is_exact_on_a_quadratic():
    # For f(x) = 3x^2 the central difference (f(x+h) - f(x-h)) / 2h equals 6x exactly in
    # real arithmetic, for every h; only rounding remains.
    g = central_difference(lambda x: 3 * x[0] ** 2, np.array([2.0]))
    assert g[0] == pytest.approx(12.0, rel=1e-10)


def test_central_difference_of_sin_has_second_order_error():
    # The error of the central difference is (h^2 / 6) f'''(x) + O(h^4); for sin at x,
    # f''' = -cos(x), so the estimate is below cos(x) by about h^2 cos(x) / 6.
    x, h = 0.3, 1e-3
    g = central_difference(lambda t: np.sin(t[0]), np.array([x]), h=h)[0]
    assert g - np.cos(x) == pytest.approx(-h**2 * np.cos(x) / 6, rel=1e-3)


@pytest.mark.parametrize("shape", [(1,), (5,), (3, 4)])
def test_central_difference_matches_a_closed_form(rng, shape):
    x = rng.standard_normal(shape)
    g = central_difference(lambda v: float(np.sum(np.exp(v) * v)), x)
    np.testing.assert_allclose(g, np.exp(x) * (1 + x), rtol=1e-9)
    assert g.shape == shape


def test_central_difference_leaves_x_unchanged(rng):
    x = rng.standard_normal(4)
    before = x.copy()
    central_difference(lambda v: float(v @ v), x)
    np.testing.assert_array_equal(x, before)


def test_relative_error_hand_computed():
    # |(3, 4) - (3, 0)| = 4 and max(|(3, 4)|, |(3, 0)|) = 5.
    assert relative_error(np.array([3.0, 4.0]), np.array([3.0, 0.0])) == pytest.approx(0.8)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.ones(2), -np.ones(2)) == pytest.approx(2.0)


def test_directional_difference_estimates_the_dot_product(rng):
    A = rng.standard_normal((6, 6))
    f, grad = quadratic(A)
    x, v = rng.standard_normal(6), rng.standard_normal(6)
    # For a quadratic the central difference along v is exact up to rounding.
    assert directional_difference(f, x, v) == pytest.approx(v @ grad(x), rel=1e-9)


@pytest.mark.parametrize("n", [1, 7, MAX_COORDINATES, MAX_COORDINATES + 1, 400])
def test_check_gradient_accepts_the_right_gradient(rng, n):
    A = rng.standard_normal((n, n))
    f, grad = quadratic(A)
    x = rng.standard_normal(n)
    assert check_gradient(f, grad(x), x, rng=rng) < GRAD_RTOL


@pytest.mark.parametrize("n", [3, 200])
@pytest.mark.parametrize(
    "wrong",
    [
        pytest.param(lambda A, x: -(A + A.T) @ x, id="sign"),
        pytest.param(lambda A, x: 2 * (A + A.T) @ x, id="factor-2"),
        pytest.param(lambda A, x: 2 * A @ x, id="missing-transpose"),
        pytest.param(lambda A, x: (1 + 1e-4) * (A + A.T) @ x, id="off-by-0.01%"),
    ],
)
def test_check_gradient_flags_a_wrong_gradient(rng, n, wrong):
    A = rng.standard_normal((n, n))
    f, _ = quadratic(A)
    x = rng.standard_normal(n)
    assert check_gradient(f, wrong(A, x), x, rng=rng) > 100 * GRAD_RTOL


def test_check_gradient_flags_one_wrong_coordinate_in_a_large_input(rng):
    """Random directions see an error in a single coordinate of a 1000-vector."""
    n = 1000
    x = rng.standard_normal(n)
    grad = 2 * x
    grad[123] += 1.0
    assert check_gradient(lambda v: float(v @ v), grad, x, rng=rng) > 100 * GRAD_RTOL


def test_default_step_is_near_the_cube_root_of_epsilon():
    # Same order of magnitude as eps^(1/3) = 6.1e-6, where the two errors balance.
    assert 0.5 < H_CENTRAL / np.finfo(np.float64).eps ** (1 / 3) < 2


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: central_difference(lambda v: 0.0, np.ones(2), h=0.0), r"step h must be a positive"),
        (lambda: central_difference(lambda v: 0.0, np.ones(2), h=np.nan), r"step h must be a"),
        (lambda: central_difference(lambda v: 0.0, np.array(["a"])), r"x must hold real numbers"),
        (lambda: central_difference(lambda v: 0.0, np.array([1j])), r"x must hold real numbers"),
        (lambda: central_difference(lambda v: 0.0, np.array([np.inf])), r"x must be finite"),
        (lambda: relative_error(np.ones(2), np.ones(3)), r"same shape, got shapes \(2,\) and \(3,\)"),
        (lambda: directional_difference(lambda v: 0.0, np.ones(2), np.ones(3)), r"v must have the shape"),
        (lambda: check_gradient(lambda v: 0.0, np.ones(3), np.ones(2)), r"grad must have the shape"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
