"""Tests for snippets/foundations/chain_rule.py (page docs/foundations/chain-rule.md)."""

from __future__ import annotations

import numpy as np
import pytest

from snippets.foundations.chain_rule import (
    fan_out_backward,
    fan_out_forward,
    logistic_backward,
    logistic_forward,
    neuron_backward,
    neuron_forward,
    product_along_path,
    product_along_path_derivative,
    sin_of_square,
    sin_of_square_derivative,
    two_layer_backward,
    two_layer_forward,
)
from snippets.foundations.gradient_checking import central_difference
from snippets.models import logistic_regression

from checks import EXACT_ATOL, EXACT_RTOL, assert_gradient
from formulas import Case, formula_test

N_INPUTS = [1, 2, 5]


def test_single_variable_chain_rule(rng):
    t = rng.uniform(-2, 2, size=7)
    for ti, d in zip(t, sin_of_square_derivative(t), strict=True):
        assert_gradient(lambda v: float(sin_of_square(v[0])), np.array([d]), np.array([ti]))
    # Hand value: at x = sqrt(pi / 2), cos(pi / 2) = 0, so the derivative is 0.
    assert sin_of_square_derivative(np.sqrt(np.pi / 2)) == pytest.approx(0.0, abs=EXACT_ATOL)
    # At x = sqrt(pi), cos(pi) 2 sqrt(pi) = -2 sqrt(pi).
    assert sin_of_square_derivative(np.sqrt(np.pi)) == pytest.approx(-2 * np.sqrt(np.pi), rel=EXACT_RTOL)


def test_multivariable_chain_rule_equals_the_product_rule(rng):
    """Eq. (2) against the derivative of t^2 sin t by the product rule."""
    t = rng.uniform(-3, 3, size=9)
    product_rule = 2 * t * np.sin(t) + t**2 * np.cos(t)
    np.testing.assert_allclose(product_along_path_derivative(t), product_rule,
                               rtol=EXACT_RTOL, atol=EXACT_ATOL)
    for ti in t:
        assert_gradient(lambda v: float(product_along_path(v[0])),
                        np.array([product_along_path_derivative(ti)]), np.array([ti]))


@pytest.mark.parametrize("n", N_INPUTS)
def test_neuron_gradients(rng, n):
    x, w = rng.standard_normal(n), rng.standard_normal(n)
    b, y = float(rng.standard_normal()), float(rng.standard_normal())
    z, loss = neuron_forward(x, w, b, y)
    dx, dw, db = neuron_backward(x, w, z, y)
    assert dx.shape == x.shape and dw.shape == w.shape
    assert_gradient(lambda v: neuron_forward(x, v, b, y)[1], dw, w)
    assert_gradient(lambda v: neuron_forward(v, w, b, y)[1], dx, x)
    assert_gradient(lambda v: neuron_forward(x, w, v[0], y)[1], np.array([db]), np.array([b]))


def test_neuron_hand_computed():
    # x = (1, 2), w = (3, -1), b = 0.5: z = 3 - 2 + 0.5 = 1.5; y = 1: loss 0.25, dl/dz = 1.
    x, w = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    z, loss = neuron_forward(x, w, 0.5, 1.0)
    assert (z, loss) == (1.5, 0.25)
    dx, dw, db = neuron_backward(x, w, z, 1.0)
    # dl/dw_j = x_j (forward value) * 1 (backward value).
    np.testing.assert_array_equal(dw, [1.0, 2.0])
    np.testing.assert_array_equal(dx, [3.0, -1.0])
    assert db == 1.0


def test_neuron_gradient_is_forward_value_times_backward_value(rng):
    """Eq. (4): dl/dw_j = x_j dl/dz and dl/dx_j = w_j dl/dz, dl/dz by finite differences."""
    x, w = rng.standard_normal(3), rng.standard_normal(3)
    z, _ = neuron_forward(x, w, 0.2, -0.7)
    dl_dz = central_difference(lambda t: (t[0] - (-0.7)) ** 2, np.array([z]))[0]
    dx, dw, _ = neuron_backward(x, w, z, -0.7)
    np.testing.assert_allclose(dw, x * dl_dz, rtol=1e-9)
    np.testing.assert_allclose(dx, w * dl_dz, rtol=1e-9)   # the middle formula, for inputs


def test_fan_out_sums_both_paths(rng):
    for x in rng.uniform(-3, 3, size=6):
        u, v, out = fan_out_forward(x)
        dx = fan_out_backward(x, u, v)
        assert_gradient(lambda t: fan_out_forward(t[0])[2], np.array([dx]), np.array([x]))
        # Product rule for x^2 sin x, an independent route.
        assert dx == pytest.approx(2 * x * np.sin(x) + x**2 * np.cos(x), rel=EXACT_RTOL, abs=EXACT_ATOL)


def test_fan_out_with_one_path_forgotten_is_wrong():
    x = 1.3
    u, v, _ = fan_out_forward(x)
    only_u = 2 * x * v
    assert abs(fan_out_backward(x, u, v) - only_u) > 0.1


@pytest.mark.parametrize("n", N_INPUTS)
@pytest.mark.parametrize("y", [0.0, 1.0])
def test_logistic_graph_gradients(rng, n, y):
    x, w = rng.standard_normal(n), rng.standard_normal(n)
    b = float(rng.standard_normal())
    z, a, loss = logistic_forward(x, w, b, y)
    dw, db = logistic_backward(x, a, y)
    assert dw.shape == w.shape
    assert_gradient(lambda v: logistic_forward(x, v, b, y)[2], dw, w)
    assert_gradient(lambda v: logistic_forward(x, w, v[0], y)[2], np.array([db]), np.array([b]))
    # The backward product (dl/da) a (1 - a) simplifies to a - y (eq. (6), second line).
    assert db == pytest.approx(a - y, rel=EXACT_RTOL, abs=EXACT_ATOL)


def test_logistic_graph_hand_computed():
    # w = 0, b = 0: z = 0, a = 1/2, loss = log 2; y = 1: dl/dz = -1/2, dw = -x / 2.
    x = np.array([2.0, -4.0])
    z, a, loss = logistic_forward(x, np.zeros(2), 0.0, 1.0)
    assert (z, a) == (0.0, 0.5)
    assert loss == pytest.approx(np.log(2), rel=EXACT_RTOL)
    dw, db = logistic_backward(x, a, 1.0)
    np.testing.assert_allclose(dw, [-1.0, 2.0], rtol=EXACT_RTOL)
    assert db == pytest.approx(-0.5, rel=EXACT_RTOL)


def test_logistic_graph_large_logits_are_finite_until_saturation():
    # z = -30 and +30: the sigmoid is not yet exactly 0 or 1, and everything stays finite.
    for b in (-30.0, 30.0):
        _, a, loss = logistic_forward(np.zeros(1), np.zeros(1), b, 1.0)
        assert 0 < a < 1 and np.isfinite(loss)
        assert all(np.isfinite(logistic_backward(np.zeros(1), a, 1.0)[0]))


@pytest.mark.parametrize("n", N_INPUTS)
def test_two_layer_gradients(rng, n):
    x, w1 = rng.standard_normal(n), rng.standard_normal(n)
    b1, w2, b2, y = rng.standard_normal(4)
    z1, a1, z2, loss = two_layer_forward(x, w1, b1, w2, b2, y)
    dw1, db1, dw2, db2 = two_layer_backward(x, w2, a1, z2, y)
    assert dw1.shape == w1.shape
    f = lambda w1_, b1_, w2_, b2_: two_layer_forward(x, w1_, b1_, w2_, b2_, y)[3]
    assert_gradient(lambda v: f(v, b1, w2, b2), dw1, w1)
    assert_gradient(lambda v: f(w1, v[0], w2, b2), np.array([db1]), np.array([b1]))
    assert_gradient(lambda v: f(w1, b1, v[0], b2), np.array([dw2]), np.array([w2]))
    assert_gradient(lambda v: f(w1, b1, w2, v[0]), np.array([db2]), np.array([b2]))


def test_two_layer_hand_computed():
    # w1 = 0, b1 = 0: z1 = 0, a1 = 1/2; w2 = 2, b2 = 0: z2 = 1; y = 0: loss 1, dl/dz2 = 2.
    # dw2 = 1/2 * 2 = 1; dl/da1 = 2 * 2 = 4; dl/dz1 = 4 * 1/4 = 1; dw1 = x.
    x = np.array([0.5, -3.0])
    z1, a1, z2, loss = two_layer_forward(x, np.zeros(2), 0.0, 2.0, 0.0, 0.0)
    assert (z1, a1, z2, loss) == (0.0, 0.5, 1.0, 1.0)
    dw1, db1, dw2, db2 = two_layer_backward(x, 2.0, a1, z2, 0.0)
    np.testing.assert_array_equal(dw1, x)
    assert (db1, dw2, db2) == (1.0, 1.0, 2.0)


def test_logistic_backward_for_a_tiny_but_valid_a():
    # a = 1e-300 (z about -690): the product (-1 / a) a (1 - a) is still -1 + a = a - y.
    dw, db = logistic_backward(np.array([2.0]), 1e-300, 1.0)
    assert db == pytest.approx(-1.0, rel=EXACT_RTOL)
    np.testing.assert_allclose(dw, [-2.0], rtol=EXACT_RTOL)


def test_two_layer_backward_accepts_a_saturated_sigmoid():
    # a1 = 0 or 1 (a sigmoid that rounded off) is a valid forward value: then da1/dz1 = 0.
    for a1 in (0.0, 1.0):
        dw1, db1, dw2, db2 = two_layer_backward(np.ones(2), 2.0, a1, 1.0, 0.0)
        np.testing.assert_array_equal(dw1, [0.0, 0.0])
        assert (db1, dw2, db2) == (0.0, 2.0 * a1, 2.0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: sin_of_square(np.inf), r"x must be finite"),
        (lambda: product_along_path(np.nan), r"t must be finite"),
        (lambda: neuron_forward(np.ones(2), np.ones(3), 0.0, 0.0), r"got \(2,\) and \(3,\)"),
        (lambda: neuron_forward(np.ones((2, 2)), np.ones((2, 2)), 0.0, 0.0), r"1-D arrays"),
        (lambda: neuron_forward(np.ones(2), np.ones(2), np.ones(2), 0.0), r"b must be a scalar"),
        (lambda: fan_out_forward(np.ones(2)), r"x must be a scalar"),
        (lambda: logistic_forward(np.ones(1), np.ones(1), 0.0, 0.5), r"label y must be 0 or 1"),
        (lambda: logistic_forward(np.ones(1), np.ones(1), 40.0, 1.0), r"saturated to a = 1.0"),
        (lambda: logistic_forward(np.ones(1), np.ones(1), -800.0, 0.0), r"saturated to a = 0.0"),
        (lambda: two_layer_forward(np.ones(1), np.ones(1), 0.0, np.inf, 0.0, 0.0), r"w2 must be finite"),
        (lambda: sin_of_square(np.array(["a"])), r"x must hold real numbers, got dtype <U1"),
        (lambda: sin_of_square(1e200), r"x\^2 must be finite, so \|x\| at most 1.34e\+154, got 1e\+200"),
        (lambda: product_along_path_derivative(np.array([0.0, -1e155])), r"t\^2 must be finite"),
        (lambda: neuron_forward(np.ones(0), np.ones(0), 0.0, 0.0), r"non-empty 1-D arrays"),
        (lambda: neuron_backward(np.ones(3), np.ones(3), np.ones((2, 3, 4)), 0.0),
         r"z must be a scalar, got shape \(2, 3, 4\)"),
        (lambda: neuron_backward(np.ones(3), np.ones(3), 0.0, np.nan), r"y must be finite"),
        (lambda: neuron_backward(np.ones((2, 3)), np.ones((2, 3)), 0.0, 0.0), r"1-D arrays"),
        (lambda: fan_out_backward(0.0, np.ones(2), 0.0), r"u must be a scalar, got shape \(2,\)"),
        (lambda: fan_out_backward(0.0, 0.0, np.inf), r"v must be finite"),
        (lambda: logistic_backward(np.ones(2), 1.0, 1.0), r"a must be a sigmoid output in the open interval"),
        (lambda: logistic_backward(np.ones(2), 0.0, 0.0), r"open interval \(0, 1\), got 0.0"),
        (lambda: logistic_backward(np.ones(2), np.ones(2), 0.0), r"a must be a scalar"),
        (lambda: logistic_backward(np.ones(2), 0.5, 2.0), r"label y must be 0 or 1, got 2.0"),
        (lambda: logistic_backward(np.ones((2, 3, 4)), 0.5, 1.0),
         r"x must be a non-empty 1-D .* got \(2, 3, 4\)"),
        (lambda: logistic_backward(np.zeros(0), 0.5, 1.0), r"x must be a non-empty 1-D .* got \(0,\)"),
        (lambda: two_layer_backward(np.ones(2), 1.0, 1.5, 0.0, 0.0),
         r"a1 must be a sigmoid output in \[0, 1\], got 1.5"),
        (lambda: two_layer_backward(np.ones((2, 3, 4)), 1.0, 0.5, 0.0, 0.0), r"x must be a non-empty 1-D"),
        (lambda: two_layer_backward(np.ones(2), np.ones(3), 0.5, 0.0, 0.0), r"w2 must be a scalar"),
        (lambda: two_layer_backward(np.ones(2), 1.0, 0.5, 0.0, np.nan), r"y must be finite"),
        # Finite inputs so large that an intermediate value would overflow float64.
        (lambda: neuron_forward(np.ones(1), np.full(1, 1e200), 0.0, 0.0),
         r"\|x\| \. \|w\| \+ \|b\| \+ \|y\| .* must be at most 1.34e\+154 .* got 1e\+200"),
        (lambda: neuron_backward(np.full(2, 1e200), np.ones(2), 1e200, 0.0), r"a bound on dz, dx and dw"),
        (lambda: fan_out_forward(1e200), r"\|x\| \(it is squared\) must be at most 1.34e\+154"),
        (lambda: fan_out_backward(1e200, 0.0, 1e200), r"a bound on dl/dx\) must be at most 1.8e\+308"),
        (lambda: logistic_forward(np.full(2, 1e200), np.full(2, 1e200), 0.0, 1.0), r"a bound on \|z\|"),
        (lambda: logistic_backward(np.ones(1), 4.2e-322, 1.0),
         r"a must be at least 5.56e-309 .* got 4.2e-322"),
        (lambda: two_layer_forward(np.full(1, 1e200), np.full(1, 1e200), 0.0, 1.0, 0.0, 0.0),
         r"a bound on \|z1\|"),
        (lambda: two_layer_forward(np.ones(1), np.ones(1), 0.0, 1e200, 0.0, 0.0), r"a bound on \|z2 - y\|"),
        (lambda: two_layer_forward(np.ones(2), np.ones(3), 0.0, 1.0, 0.0, 0.0), r"x and w1 must be"),
        (lambda: two_layer_backward(np.full(1, 1e200), 1.0, 0.5, 1e200, 0.0), r"a bound on every gradient"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "foundations/chain-rule.md"

POINTS = (-1.3, 0.4, 2.2)


def _single_envs(rng):
    for x in POINTS:
        yield {"x": x, "f": np.sin, "f'": np.cos, "g": np.square, "g'": lambda t: 2 * t,
               "u": x**2, "dh/dx": float(sin_of_square_derivative(np.array(x))),
               "dh/du": np.cos(x**2), "du/dx": 2 * x}


def _path_envs(rng):
    for t in POINTS:
        x, y = t**2, np.sin(t)
        yield {"t": t, "df/dt": float(product_along_path_derivative(np.array(t))),
               "df/dx": y, "df/dy": x, "dx/dt": 2 * t, "dy/dt": np.cos(t)}


def _neuron_envs(rng):
    for _ in range(3):
        x, w = rng.standard_normal(2), rng.standard_normal(2)
        b, y = float(rng.standard_normal()), float(rng.standard_normal())
        z, loss = neuron_forward(x, w, b, y)
        dx, dw, db = neuron_backward(x, w, z, y)
        yield {"x": x, "w": w, "b": b, "y": y, "z": z, "loss": loss, "n": 2,
               "dloss/dw": dw, "dloss/db": db, "dloss/dx": dx, "dz/dw": x, "dz/dx": w,
               "dloss/dz": 2 * (z - y)}


def _fan_out_envs(rng):
    for x in POINTS:
        u, v, _ = fan_out_forward(x)
        yield {"x": x, "K": 2, "dloss/dx": fan_out_backward(x, u, v),
               # v_1 = u = x^2 and v_2 = v = sin x; l = v_1 v_2
               "dv/dx": np.array([2 * x, np.cos(x)]), "dloss/dv": np.array([v, u])}


def _logistic_envs(rng):
    for y in (0.0, 1.0):
        x, w = rng.standard_normal(3), rng.standard_normal(3)
        b = float(rng.standard_normal())
        z, a, loss = logistic_forward(x, w, b, y)
        dw, db = logistic_backward(x, a, y)
        yield {"x": x, "w": w, "b": b, "y": y, "z": z, "a": a, "loss": loss, "n": 3,
               "sigma": logistic_regression.stable_sigmoid,
               "dloss/da": -y / a + (1 - y) / (1 - a), "dloss/dz": a - y,
               "dloss/dw": dw, "dloss/db": db}


def _two_layer_envs(rng):
    for _ in range(3):
        x, w1 = rng.standard_normal(3), rng.standard_normal(3)
        b1, w2, b2, y = (float(v) for v in rng.standard_normal(4))
        z1, a1, z2, loss = two_layer_forward(x, w1, b1, w2, b2, y)
        dw1, db1, dw2, db2 = two_layer_backward(x, w2, a1, z2, y)
        dz2 = 2 * (z2 - y)
        yield {"x": x, "w1": w1, "b1": b1, "w2": w2, "b2": b2, "y": y, "z1": z1,
               "a1": a1, "z2": z2, "loss": loss, "n": 3,
               "sigma": logistic_regression.stable_sigmoid,
               "dloss/dz2": dz2, "dloss/dw2": dw2, "dloss/da1": w2 * dz2, "dloss/dz1": db1,
               "dloss/dw1": dw1}


FORMULAS = {
    "single": Case(_single_envs),
    "multivariable": Case(_path_envs),
    "neuron-forward": Case(_neuron_envs),
    "neuron-backward": Case(_neuron_envs),
    "fan-out": Case(_fan_out_envs),
    "logistic": Case(_logistic_envs),
    "two-layer": Case(_two_layer_envs),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
