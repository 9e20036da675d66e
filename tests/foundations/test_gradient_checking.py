"""Tests for snippets/foundations/gradient_checking.py (page docs/foundations/gradient-checking.md).

The checker is what every other test relies on, so it is tested against closed forms and
must flag gradients that are wrong by a sign, a factor or a transpose.
"""

from __future__ import annotations

import numpy as np
import pytest

from snippets.foundations.gradient_checking import (
    EPS,
    H_CENTRAL,
    H_COMPLEX,
    H_FORWARD,
    MAX_COORDINATES,
    best_steps,
    central_difference,
    check_gradient,
    check_layer,
    complex_step,
    directional_difference,
    forward_difference,
    relative_error,
    step_size_errors,
)

from checks import EXACT_RTOL, GRAD_RTOL
from formulas import Case, formula_test


def quadratic(A: np.ndarray):
    """f(x) = x^T A x has gradient (A + A^T) x: a closed form independent of the checker."""
    return (lambda x: float(x @ A @ x)), (lambda x: (A + A.T) @ x)


#: A forward difference with h = 1e-8 keeps about 8 digits (page, eq. (3)); 1e-6 allows for
#: function values up to 100 times the size of the derivative.
FORWARD_RTOL = 1e-6

#: The complex step subtracts nothing: only the rounding of f itself remains, a few eps.
COMPLEX_RTOL = 1e-15

#: The grid of steps for the measured sweep: 4 points per decade from 1e-13 to 1e-1.
STEPS = np.logspace(-13, -1, 49)

#: Points where the sweep measures e^x: away from 0, so that x + h rounds like a typical
#: input, and where e^x, its derivatives and its value are all of order 1 (well scaled).
SWEEP_POINTS = np.linspace(0.5, 1.5, 11)


def test_forward_difference_of_sin_has_first_order_error():
    # Taylor: (f(x+h) - f(x)) / h = f'(x) + (h / 2) f''(x) + O(h^2), and f'' = -sin for sin.
    x, h = 0.3, 1e-4
    g = forward_difference(lambda t: np.sin(t[0]), np.array([x]), h=h)[0]
    assert g - np.cos(x) == pytest.approx(-h * np.sin(x) / 2, rel=1e-3)


@pytest.mark.parametrize("shape", [(1,), (5,), (3, 4)])
def test_forward_difference_matches_a_closed_form(rng, shape):
    x = rng.standard_normal(shape)
    g = forward_difference(lambda v: float(np.sum(np.sin(v) + v**2)), x)
    assert g.shape == shape
    assert relative_error(g, np.cos(x) + 2 * x) < FORWARD_RTOL


def test_forward_difference_is_less_accurate_than_central(rng):
    x = rng.standard_normal(6)
    f = lambda v: float(np.sum(np.exp(v)))
    exact = np.exp(x)
    central_err = relative_error(central_difference(f, x), exact)
    forward_err = relative_error(forward_difference(f, x), exact)
    assert central_err < 1e-2 * forward_err


def test_best_steps_hand_computed():
    # With |f| = |f''| = |f'''| = 1: 2 sqrt(eps) and (3 eps)^(1/3), eps = 2^-52.
    h_fwd, h_cen = best_steps(1.0, 1.0, 1.0)
    assert h_fwd == pytest.approx(2 * np.sqrt(2.0**-52), rel=EXACT_RTOL)
    assert h_cen == pytest.approx((3 * 2.0**-52) ** (1 / 3), rel=EXACT_RTOL)
    assert EPS == 2.0**-52


@pytest.mark.parametrize("sizes", [(1.0, 1.0, 1.0), (3.0, 0.5, 7.0), (1e-3, 2.0, 1e2)])
def test_best_steps_minimise_the_error_models(sizes):
    """Eq. (3), second line against first line: the minimiser of each model, on a fine grid."""
    f_size, d2, d3 = sizes
    h = np.logspace(-12, 0, 200001)
    e_fwd = h / 2 * d2 + 2 * EPS * f_size / h
    e_cen = h**2 / 6 * d3 + EPS * f_size / h
    h_fwd, h_cen = best_steps(f_size, d2, d3)
    assert h_fwd == pytest.approx(h[np.argmin(e_fwd)], rel=1e-3)
    assert h_cen == pytest.approx(h[np.argmin(e_cen)], rel=1e-3)


def test_measured_best_steps_of_exp():
    """The best measured steps: central near 1e-5, forward near 1e-8 (within a factor 10)."""
    forward, central = step_size_errors(np.exp, np.exp, SWEEP_POINTS, STEPS)
    h_fwd, h_cen = STEPS[np.argmin(forward)], STEPS[np.argmin(central)]
    assert 1e-6 <= h_cen <= 1e-4
    assert 1e-9 <= h_fwd <= 1e-7
    # Eq. (3) with |f| = |f''| = |f'''| (true of e^x) predicts the same, within a factor 10.
    pred_fwd, pred_cen = best_steps(1.0, 1.0, 1.0)
    assert 0.1 < h_cen / pred_cen < 10
    assert 0.1 < h_fwd / pred_fwd < 10
    # The best errors: about eps^(2/3) for central and eps^(1/2) for forward differences.
    assert central.min() < 1e-10
    assert 1e-9 < forward.min() < 1e-7


def test_measured_errors_fall_like_h_and_h_squared():
    """Where truncation dominates, 10 times the step gives 10 and 100 times the error."""
    hs = np.array([1e-4, 1e-3])
    forward, central = step_size_errors(np.exp, np.exp, SWEEP_POINTS, hs)
    assert forward[1] / forward[0] == pytest.approx(10, rel=0.05)
    assert central[1] / central[0] == pytest.approx(100, rel=0.05)


def test_complex_step_reaches_machine_precision(rng):
    x = rng.uniform(-1, 1, size=2)
    f = lambda v: np.exp(v[0]) * np.sin(v[1])
    exact = np.array([np.exp(x[0]) * np.sin(x[1]), np.exp(x[0]) * np.cos(x[1])])
    assert relative_error(complex_step(f, x), exact) < COMPLEX_RTOL
    # Central differences, even at their best step, are far less accurate.
    assert relative_error(central_difference(f, x), exact) > 10 * COMPLEX_RTOL
    assert H_COMPLEX**2 < EPS * 1e-20   # truncation (order h^2) far below rounding


def test_complex_step_of_a_matrix_function(rng):
    A = rng.standard_normal((3, 3))
    X = rng.standard_normal((3, 3))
    f = lambda V: np.sum(np.sin(A * V))     # gradient A * cos(A * V), entry by entry
    assert relative_error(complex_step(f, X), A * np.cos(A * X)) < COMPLEX_RTOL


@pytest.mark.parametrize("m, n_in, n_out", [(1, 1, 1), (4, 3, 2), (2, 5, 1), (70, 10, 9)])
def test_check_layer_accepts_a_right_backward_pass(rng, m, n_in, n_out):
    X = rng.standard_normal((m, n_in))
    W = rng.standard_normal((n_in, n_out))
    assert check_layer(lambda V: X @ V, lambda V, G: X.T @ G, W, rng) < GRAD_RTOL
    assert check_layer(lambda V: V @ W, lambda V, G: G @ W.T, X, rng) < GRAD_RTOL


def test_check_layer_flags_a_transpose_in_the_wrong_place(rng):
    X = rng.standard_normal((4, 4))
    W = rng.standard_normal((4, 4))
    assert check_layer(lambda V: X @ V, lambda V, G: X @ G, W, rng) > 100 * GRAD_RTOL
    # Without an rng it draws G from a fixed seed; an elementwise layer passes.
    assert check_layer(np.tanh, lambda V, G: G * (1 - np.tanh(V) ** 2), W) < GRAD_RTOL


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


def test_check_gradient_accepts_a_right_gradient_perpendicular_to_one_of_its_directions():
    """Along a direction perpendicular to the gradient the derivative is 0, and what the
    central difference gives there is rounding alone: compared on its own, that direction
    has a relative error of order 1. Compared with the other directions as one vector, by
    eq. (4), the right gradient passes."""
    n = 200
    x, c0 = np.random.default_rng(3).standard_normal((2, n))
    # The first direction the checker draws from a generator seeded with 4.
    v1 = np.random.default_rng(4).standard_normal(n)
    v1 /= np.linalg.norm(v1)
    # f(u) = sum(u^4) / 4 + c . u has the gradient x^3 + c at x; this c makes it perpendicular to v1.
    c = c0 - v1 * (v1 @ (x**3 + c0))
    grad = x**3 + c
    f = lambda u: float(np.sum(u**4) / 4 + c @ u)  # noqa: E731 - a one-line function
    assert abs(v1 @ grad) < 1e-12 * np.linalg.norm(grad)
    alone = relative_error(np.array([v1 @ grad]), np.array([directional_difference(f, x, v1)]))
    assert alone > 0.99
    assert check_gradient(f, grad, x, rng=np.random.default_rng(4)) < GRAD_RTOL


def test_check_gradient_on_a_large_input_measures_the_relative_error_of_the_whole_gradient(rng):
    """16 random directions keep lengths roughly in proportion: the error they report for a
    gradient that is wrong in one entry is within a factor 3 of eq. (4) on the full vectors."""
    n = 1000
    x = rng.standard_normal(n)
    grad = 2 * x
    grad[123] += 0.01
    full = relative_error(grad, 2 * x)
    found = check_gradient(lambda v: float(v @ v), grad, x, rng=rng)
    assert full / 3 < found < 3 * full


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
        (lambda: forward_difference(lambda v: 0.0, np.ones(2), h=-1.0), r"step h must be a positive"),
        (lambda: complex_step(lambda v: 0.0, np.ones(2), h=0.0), r"step h must be a positive"),
        (lambda: step_size_errors(np.exp, np.exp, np.ones(2), np.array([1e-3, -1.0])), r"positive steps"),
        (lambda: step_size_errors(np.exp, np.exp, np.ones(2), np.ones((2, 2))), r"1-D array"),
        (lambda: step_size_errors(np.exp, np.exp, np.ones(2), np.array([])), r"non-empty"),
        (lambda: step_size_errors(np.sin, np.zeros_like, np.ones(2), STEPS), r"non-zero"),
        (lambda: best_steps(0.0, 1.0, 1.0), r"f_size must be a positive"),
        (lambda: best_steps(1.0, np.inf, 1.0), r"d2_size must be a positive"),
        (lambda: best_steps(1.0, 1.0, -2.0), r"d3_size must be a positive"),
        (lambda: best_steps(np.ones(3), 1.0, 1.0), r"f_size must be a positive finite number, got array"),
        (lambda: best_steps("1", 1.0, 1.0), r"f_size must be a positive finite number, got '1'"),
        (lambda: best_steps(1.0, 1.0, 1.0, eps=-EPS), r"eps must be a positive finite number"),
        (lambda: central_difference(lambda v: 0.0, np.ones(2), h=np.ones(2)), r"step h must be a positive"),
        (lambda: forward_difference(lambda v: 0.0, np.ones(2), h="1e-8"), r"step h must be a positive"),
        (lambda: step_size_errors(np.exp, np.exp, np.zeros(0), STEPS), r"x must hold at least one point"),
        (lambda: step_size_errors(np.exp, lambda x: np.full_like(x, np.inf), np.ones(2), STEPS),
         r"df\(x\) must be finite"),
        (lambda: relative_error(np.full(2, 1e200), np.ones(2)), r"lengths of a and b must be finite"),
        (lambda: relative_error(np.ones(2), np.array(["a", "b"])), r"b must hold real numbers"),
        (lambda: check_gradient(lambda v: 0.0, np.zeros(0), np.zeros(0)),
         r"at least one entry .* got shape \(0,\)"),
        (lambda: check_gradient(lambda v: 0.0, np.ones(2), np.ones(2), n_directions=0),
         r"n_directions must be a positive"),
        (lambda: check_gradient(lambda v: 0.0, np.ones(2), np.ones(2), n_directions=2.5),
         r"positive integer, got 2.5"),
        (lambda: check_gradient(lambda v: 0.0, np.ones(2), np.ones(2), n_directions=True),
         r"positive integer, got True"),
        (lambda: check_gradient(lambda v: 0.0, np.ones((2, 3)), np.ones((3, 2))),
         r"grad must have the shape of x"),
        (lambda: check_layer(lambda V: V, lambda V, G: G, np.zeros((0, 3))), r"at least one entry"),
        (lambda: check_layer(lambda V: V, lambda V, G: G[:1], np.ones((2, 3))),
         r"grad must have the shape of x"),
        (lambda: directional_difference(lambda v: 0.0, np.ones(2), np.ones(2), h=0.0),
         r"step h must be a positive"),
        (lambda: complex_step(lambda v: 0.0, np.array([np.nan])), r"x must be finite"),
        (lambda: best_steps(1e300, 1e-300, 1.0), r"must be positive finite float64 numbers, got inf"),
        (lambda: best_steps(1e-300, 1.0, 1e300), r"got 2.22e-316 and 0"),
        (lambda: check_gradient(lambda v: 0.0, np.full(100, 1e200), np.ones(100)),
         r"length of grad must be finite"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_default_forward_step_is_near_the_square_root_of_epsilon():
    # Same order of magnitude as eps^(1/2) = 1.5e-8, where the two errors of eq. (3) balance.
    assert 0.5 < H_FORWARD / np.sqrt(np.finfo(np.float64).eps) < 2


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "foundations/gradient-checking.md"

#: A smooth test function of p variables with its exact gradient.
P = 4


def _f(x):
    return np.sum(np.sin(x) * np.arange(1, x.size + 1)) + 0.5 * np.sum(x**2)


def _grad_f(x):
    return np.cos(x) * np.arange(1, x.size + 1) + x


#: Eq. (1) drops h |f''| / 2 (h = H_FORWARD): about 1e-7 relative at these points.
FORWARD_RTOL = 1e-5
#: Eqs. (2) and (5) drop h^2 |f'''| / 6 plus rounding eps |f| / h: below 1e-9 here.
CENTRAL_RTOL = 1e-7
#: Eq. (7) has no subtraction: only the h^2 term, 1e-40 at H_COMPLEX.
COMPLEX_RTOL = 1e-13
#: Eq. (3)'s error models hold where one term dominates; at h = 1e-3 the neglected terms
#: are about h relative to the kept one, so 1 % is ten times the expected gap.
MODEL_RTOL = 1e-2


def _point_envs(rng, h):
    for _ in range(3):
        x = rng.uniform(-2.0, 2.0, size=P)
        yield {"x": x, "f": _f, "h": h, "e": np.eye(P), "p": P,
               "df/dx": lambda v: _grad_f(v), "grad_f": _grad_f,
               "v": rng.standard_normal(P), "i": 1j, "__ranges__": {"j": "p"}}


def _code_envs(rng, code):
    """The code's estimate bound to the derivative, as the page says it computes it."""
    for env in _point_envs(rng, None):
        env["h"] = {"forward": H_FORWARD, "central": H_CENTRAL, "complex": H_COMPLEX}[code]
        estimate = {"forward": forward_difference, "central": central_difference,
                    "complex": complex_step}[code](_f, env["x"], env["h"])
        env["df/dx"] = lambda v, e=estimate: e
        yield env


def _step_envs(rng):
    # f = sin near x0: |f|, |f''| and |f'''| are sin, sin and cos there
    x0, h = 0.8, 1e-3
    eps = EPS
    f_size, d2, d3 = abs(np.sin(x0)), abs(np.sin(x0)), abs(np.cos(x0))
    h_fwd, h_cen = best_steps(f_size, d2, d3, eps)
    yield {"h": h, "varepsilon": eps, "f": f_size, "f''": d2, "f'''": d3,
           "h_forward*": h_fwd, "h_central*": h_cen,
           "E_forward": lambda t: abs((np.sin(x0 + t) - np.sin(x0)) / t - np.cos(x0)),
           "E_central": lambda t: abs((np.sin(x0 + t) - np.sin(x0 - t)) / (2 * t) - np.cos(x0))}


def _relative_envs(rng):
    for _ in range(3):
        a = rng.standard_normal(5)
        b = a + rng.normal(scale=1e-3, size=5)
        yield {"g_analytic": a, "g_numeric": b, "rel": relative_error}


def _layer_envs(rng):
    W = rng.standard_normal((3, 2))
    F = lambda V: np.tanh(V @ W)
    backward = lambda V, G: (G * (1.0 - np.tanh(V @ W) ** 2)) @ W.T
    for _ in range(3):
        V, G = rng.standard_normal(3), rng.standard_normal(2)
        s = lambda U, G=G: float(np.sum(G * F(U)))
        J = W.T * (1.0 - np.tanh(V @ W) ** 2)[:, None]      # (2, 3): outputs by inputs
        yield {"V": V, "G": G, "F": F, "s": s, "J": J, "backward": backward,
               "ds/dV": central_difference(s, V), "p": 3, "q": 2, "__ranges__": {"k": 2}}


FORMULAS = {
    "forward": Case(lambda rng: _code_envs(rng, "forward"), approx_rtol=FORWARD_RTOL,
                    why_approx="the forward difference drops h |f''| / 2"),
    "central": Case(lambda rng: _code_envs(rng, "central"), approx_rtol=CENTRAL_RTOL,
                    why_approx="the central difference drops h^2 |f'''| / 6"),
    "best-step": Case(_step_envs, approx_rtol=MODEL_RTOL,
                      why_approx="each error model keeps only the leading terms"),
    "relative": Case(_relative_envs),
    "directional": Case(lambda rng: _point_envs(rng, H_CENTRAL), approx_rtol=CENTRAL_RTOL,
                        why_approx="the central difference drops h^2 |f'''| / 6"),
    "layer": Case(_layer_envs),
    "complex-step": Case(lambda rng: _code_envs(rng, "complex"), approx_rtol=COMPLEX_RTOL,
                         why_approx="the complex step drops only an h^2 term"),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
