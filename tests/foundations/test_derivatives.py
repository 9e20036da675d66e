"""Tests for snippets/foundations/derivatives.py (page docs/foundations/derivatives.md)."""

from __future__ import annotations

import numpy as np
import pytest

from snippets.foundations.derivatives import (
    Y_MAX,
    difference_quotient,
    f_example,
    linear_approximation,
    partial_quotients,
    partials_example,
    predicted_change,
)

from checks import EXACT_ATOL, EXACT_RTOL, assert_gradient
from formulas import Case, formula_test

#: e^2 to 15 digits, from the series sum 2^k / k! (worked out independently of NumPy's exp).
E_SQUARED = sum(2.0**k / np.prod(np.arange(1, k + 1, dtype=float)) for k in range(30))


def test_e_squared_reference_value():
    assert E_SQUARED == pytest.approx(7.38905609893065, rel=EXACT_RTOL)


def test_difference_quotient_of_a_square_is_2x_plus_h():
    # ((x + h)^2 - x^2) / h = 2x + h exactly: 6.1 at x = 3, h = 0.1.
    assert difference_quotient(lambda t: t**2, 3.0, 0.1) == pytest.approx(6.1, rel=1e-12)
    assert difference_quotient(lambda t: t**2, 3.0, -0.1) == pytest.approx(5.9, rel=1e-12)


def test_difference_quotient_approaches_the_derivative():
    """Eq. (1): the error of the quotient for sin at 0.7 shrinks with h (like h / 2 sin 0.7)."""
    errors = [abs(difference_quotient(np.sin, 0.7, h) - np.cos(0.7)) for h in (1e-1, 1e-2, 1e-3)]
    assert errors[0] > 5 * errors[1] > 25 * errors[2]
    assert errors[2] < 1e-3


@pytest.mark.parametrize("x", [-1.3, 0.0, 0.4, 2.5])
def test_tangent_line_error_is_second_order(x):
    """Eq. (2): halving the step divides the error by about 4 (f = e^x, f' = e^x)."""
    dx = np.array([1e-2, 5e-3])
    err = np.abs(np.exp(x + dx) - linear_approximation(np.exp(x), np.exp(x), dx))
    assert err[0] / err[1] == pytest.approx(4.0, rel=0.02)


def test_worked_example_at_0_1():
    """The page's numbers: df/dx(0, 1) = e^2 = 7.39, df/dy(0, 1) = 0, f(0, 1) = 0."""
    df_dx, df_dy = partials_example(0.0, 1.0)
    assert df_dx == pytest.approx(E_SQUARED, rel=EXACT_RTOL)
    assert round(float(df_dx), 2) == 7.39
    assert df_dy == 0.0
    assert f_example(0.0, 1.0) == 0.0


def test_worked_example_reading():
    """Near (0, 1) a step 0.01 in x changes f by about 7.389 * 0.01 (four digits)."""
    change = f_example(0.01, 1.0) - f_example(0.0, 1.0)
    assert change == pytest.approx(7.389 * 0.01, rel=1e-4)
    assert predicted_change(0.0, 1.0, 0.01, 0.0) == pytest.approx(E_SQUARED * 0.01, rel=EXACT_RTOL)


def test_hand_values_of_f():
    # f(pi/2, 0) = e^0 sin(pi/2) = 1; f(pi/6, ln 2 / 2) = 2 * 1/2 = 1.
    assert f_example(np.pi / 2, 0.0) == pytest.approx(1.0, rel=EXACT_RTOL)
    assert f_example(np.pi / 6, np.log(2) / 2) == pytest.approx(1.0, rel=EXACT_RTOL)


@pytest.mark.parametrize("point", [(0.0, 1.0), (0.3, -0.4), (2.0, 0.5), (-1.1, 1.2)])
def test_partials_match_finite_differences(point):
    f = lambda v: float(f_example(v[0], v[1]))
    assert_gradient(f, np.array(partials_example(*point)), np.array(point))


def test_partials_vectorised_over_points(rng):
    x, y = rng.standard_normal((2, 3, 4))
    df_dx, df_dy = partials_example(x, y)
    assert df_dx.shape == df_dy.shape == (3, 4)
    for i, j in np.ndindex(3, 4):
        a, b = partials_example(x[i, j], y[i, j])
        np.testing.assert_allclose([df_dx[i, j], df_dy[i, j]], [a, b], rtol=EXACT_RTOL)


def test_partial_quotients_hold_the_other_variable_fixed():
    """Eq. (3) on f(x, y) = x y^2: the quotient in x is y^2 exactly, in y it is 2xy + x h."""
    q_x, q_y = partial_quotients(lambda x, y: x * y**2, 2.0, 3.0, 0.5)
    assert q_x == pytest.approx(9.0, rel=EXACT_RTOL)
    assert q_y == pytest.approx(2 * 2.0 * 3.0 + 2.0 * 0.5, rel=EXACT_RTOL)


def test_partial_quotients_approach_eq_5():
    f = lambda x, y: float(f_example(x, y))
    q_x, q_y = partial_quotients(f, 0.0, 1.0, 1e-6)
    assert q_x == pytest.approx(E_SQUARED, rel=1e-6)
    assert q_y == 0.0


@pytest.mark.parametrize("x, y", [(0.0, 1.0), (0.7, -0.3), (2.0, 0.2)])
def test_predicted_change_error_is_second_order(x, y):
    """Eq. (6): the first-order change misses by O(step^2): halving the steps divides by ~4."""
    errs = []
    for s in (1e-3, 5e-4):
        dx, dy = 0.6 * s, -0.8 * s
        actual = f_example(x + dx, y + dy) - f_example(x, y)
        errs.append(abs(actual - predicted_change(x, y, dx, dy)))
    assert errs[0] / errs[1] == pytest.approx(4.0, rel=0.05)


def test_predicted_change_is_the_sum_of_both_readings(rng):
    x, y, dx, dy = rng.standard_normal(4)
    df_dx, df_dy = partials_example(x, y)
    both = predicted_change(x, y, dx, dy)
    assert both == pytest.approx(df_dx * dx + df_dy * dy, rel=EXACT_RTOL, abs=EXACT_ATOL)


def test_large_y_up_to_the_limit_is_finite():
    assert np.isfinite(f_example(1.0, Y_MAX))
    assert all(np.isfinite(partials_example(1.0, Y_MAX)))
    assert np.isfinite(predicted_change(1.0, Y_MAX, 0.5, 0.5))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: difference_quotient(np.sin, 0.0, 0.0), r"non-zero finite number, got 0.0"),
        (lambda: partial_quotients(lambda x, y: x, 0.0, 0.0, np.inf), r"non-zero finite"),
        (lambda: linear_approximation(1.0, 1.0, np.nan), r"dx must be finite"),
        (lambda: f_example(np.ones(2), np.ones(3)), r"same shape, got \(2,\) and \(3,\)"),
        (lambda: f_example(np.inf, 0.0), r"x must be finite"),
        (lambda: partials_example(0.0, 400.0), r"y must be at most 354"),
        (lambda: difference_quotient(np.sin, 0.0, np.ones(2)),
         r"step h must be a non-zero finite number, got array"),
        (lambda: difference_quotient(np.sin, 0.0, "0.1"),
         r"step h must be a non-zero finite number, got '0.1'"),
        (lambda: difference_quotient(np.sin, np.nan, 0.1), r"x must be finite"),
        (lambda: difference_quotient(np.sin, np.ones(3), 0.1),
         r"x must be a single number, got shape \(3,\)"),
        (lambda: partial_quotients(lambda x, y: x, 0.0, np.ones((2, 3)), 0.1), r"y must be a single number"),
        (lambda: linear_approximation(np.ones(3), 1.0, np.ones((2, 3, 4))), r"f_x must be a single number"),
        (lambda: linear_approximation(1.0, np.inf, 0.1), r"df_x must be finite"),
        (lambda: linear_approximation(1.0, 1.0, np.array([1j])),
         r"dx must hold real numbers, got dtype complex"),
        (lambda: f_example(np.array(["a"]), np.array(["b"])), r"x must hold real numbers"),
        (lambda: predicted_change(np.ones(3), np.ones(3), np.ones(3), np.ones((2, 3, 4))),
         r"dx and dy must have the shape of x, \(3,\), got \(3,\) and \(2, 3, 4\)"),
        (lambda: predicted_change(0.0, 1.0, np.nan, 0.0), r"dx must be finite"),
        (lambda: predicted_change(0.0, Y_MAX, 0.0, 10.0),
         r"a bound on the change, must be a finite float64, got inf"),
        (lambda: predicted_change(0.0, 500.0, 0.0, 0.0), r"y must be at most 354"),
        (lambda: linear_approximation(1e308, 1e308, 10.0),
         r"\|f_x\| \+ \|df_x\| \|dx\| must be a finite float64, got inf"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "foundations/derivatives.md"

#: Points of the worked example, away from the zeros of sin and cos.
POINTS = [(0.7, -0.4), (2.1, 0.3), (-1.2, 0.8)]
#: The step of the linear approximations, eqs. (2) and (6).
STEP = 1e-3
#: Eqs. (2) and (6) drop the second-order term: |f''| STEP^2 / 2 against |f'| STEP, a
#: relative error of about STEP |f''| / |f'|, below 5e-3 at these points and steps.
FIRST_ORDER_RTOL = 5e-3


def _one_variable_envs(rng):
    for x, _ in POINTS:
        yield {"x": x, "f": np.sin, "f'": np.cos, "df/dx": np.cos, "Deltax": STEP}


def _two_variable_envs(rng):
    for x, y in POINTS:
        df_dx, df_dy = partials_example(x, y)
        yield {"x": x, "y": y, "f": f_example,
               "df/dx": df_dx, "df/dy": df_dy, "Deltax": STEP, "Deltay": -STEP,
               "Deltaf": f_example(x + STEP, y - STEP) - f_example(x, y)}


def _partial_function_envs(rng):
    for env in _two_variable_envs(rng):
        yield {**env, "df/dx": lambda x, y: partials_example(x, y)[0],
               "df/dy": lambda x, y: partials_example(x, y)[1]}


FORMULAS = {
    "quotient": Case(_one_variable_envs),
    "tangent": Case(_one_variable_envs, approx_rtol=FIRST_ORDER_RTOL,
                    why_approx="the second-order term is dropped"),
    "partial-quotients": Case(_partial_function_envs),
    "example": Case(_two_variable_envs),
    "partials": Case(_two_variable_envs),
    "change": Case(_two_variable_envs, approx_rtol=FIRST_ORDER_RTOL,
                   why_approx="the second-order terms are dropped"),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
