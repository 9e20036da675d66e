"""Tests for snippets/layers/gated_recurrent.py (page docs/layers/gated-recurrent.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from snippets.foundations.gradient_checking import complex_step
from snippets.layers.gated_recurrent import (
    gru_backward,
    gru_forward,
    gru_gates,
    gru_gates_backward,
    gru_step_backward,
    gru_step_forward,
    gru_update_backward,
    lstm_backward,
    lstm_cell_backward,
    lstm_forward,
    lstm_gates,
    lstm_gates_backward,
    lstm_output_backward,
    lstm_step_backward,
    lstm_step_forward,
    sigmoid,
)

from checks import EXACT_ATOL, EXACT_RTOL, assert_gradient
from formulas import Case, formula_test

#: (m, n, n_h) of one step: all ones, one example, a batch.
STEP_SHAPES = [(1, 1, 1), (1, 3, 2), (4, 2, 3)]

#: (m, n_seq, n, n_h): all ones, a sequence of one step, one example, a batch.
SEQUENCE_SHAPES = [(1, 1, 1, 1), (3, 1, 2, 2), (1, 4, 2, 3), (3, 5, 2, 2)]


def lstm_params(rng, n, n_h, scale=0.5):
    return {"Wx": rng.normal(0.0, scale, (n, 4 * n_h)), "Wh": rng.normal(0.0, scale, (n_h, 4 * n_h)),
            "b": rng.normal(0.0, 0.3, 4 * n_h)}


def gru_params(rng, n, n_h, scale=0.5):
    return {"Wx": rng.normal(0.0, scale, (n, 3 * n_h)), "Wh": rng.normal(0.0, scale, (n_h, 3 * n_h)),
            "bx": rng.normal(0.0, 0.3, 3 * n_h), "bh": rng.normal(0.0, 0.3, 3 * n_h)}


def block(W, k, n_h):
    """Columns of gate block k (0-based) of a stacked weight matrix or bias."""
    return W[..., k * n_h:(k + 1) * n_h]


# --- the sigmoid ----------------------------------------------------------------------------

def test_sigmoid_values_and_extremes():
    assert sigmoid(np.array([0.0]))[0] == 0.5
    z = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(sigmoid(z), 1 / (1 + np.exp(-z)), rtol=EXACT_RTOL)
    s = sigmoid(np.array([-1000.0, 1000.0]))
    assert s[0] == 0.0 or s[0] > 0.0
    assert s[1] == 1.0 and np.all(np.isfinite(s))


# --- the LSTM step, eqs. (1)-(6) --------------------------------------------------------------

def test_lstm_step_by_hand():
    # n = n_h = 1, all weights 0 and biases (0, ln 3, 0, 0): i = o = 1/2, f = 3/4, g = 0.
    params = {"Wx": np.zeros((1, 4)), "Wh": np.zeros((1, 4)), "b": np.array([0.0, math.log(3), 0.0, 0.0])}
    (H_t, M_t), cache = lstm_step_forward((np.ones((1, 1)), np.zeros((1, 1)), np.full((1, 1), 2.0)), params)
    assert M_t[0, 0] == pytest.approx(0.75 * 2.0, rel=EXACT_RTOL)        # f M_prev + i * 0
    assert H_t[0, 0] == pytest.approx(0.5 * math.tanh(1.5), rel=EXACT_RTOL)
    assert len(cache["gates"]) == 4


@pytest.mark.parametrize("shape", STEP_SHAPES)
def test_lstm_gates_per_gate_matrices(rng, shape):
    """Eq. (1) gate by gate with separate matrices: the stacked product equals four."""
    m, n, n_h = shape
    params = lstm_params(rng, n, n_h)
    X_t, H_prev = rng.standard_normal((m, n)), rng.uniform(-1, 1, (m, n_h))
    gates = lstm_gates(X_t, H_prev, params)
    for k, (gate, f) in enumerate(zip(gates, (sigmoid, sigmoid, np.tanh, sigmoid), strict=True)):
        Z_k = (X_t @ block(params["Wx"], k, n_h) + H_prev @ block(params["Wh"], k, n_h)
               + block(params["b"], k, n_h))
        assert gate.shape == (m, n_h)
        np.testing.assert_allclose(gate, f(Z_k), rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_lstm_output_backward_matches_finite_differences(rng):
    """Eq. (3) with the gates held fixed: H_t = Go * tanh(M_t), plus M_t's own path."""
    (H_t, M_t), cache = lstm_step_forward((rng.standard_normal((2, 3)), rng.uniform(-1, 1, (2, 4)),
                                           rng.standard_normal((2, 4))), lstm_params(rng, 3, 4))
    G_h, G_m = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    dGo, dM = lstm_output_backward(G_h, G_m, cache)
    Go = cache["gates"][3]
    s = lambda go, mt: float(np.sum(G_h * go * np.tanh(mt)) + np.sum(G_m * mt))
    assert_gradient(lambda V: s(V, M_t), dGo, Go)
    assert_gradient(lambda V: s(Go, V), dM, M_t)


def test_lstm_cell_backward_matches_finite_differences(rng):
    """Eq. (4): M_t = Gf * M_prev + Gi * M_cand, in each of its four inputs."""
    _, cache = lstm_step_forward((rng.standard_normal((2, 3)), rng.uniform(-1, 1, (2, 4)),
                                  rng.standard_normal((2, 4))), lstm_params(rng, 3, 4))
    dM = rng.standard_normal((2, 4))
    Gi, Gf, M_cand, _ = cache["gates"]
    M_prev = cache["M_prev"]
    dGi, dGf, dM_cand, dM_prev = lstm_cell_backward(dM, cache)
    s = lambda gi, gf, mc, mp: float(np.sum(dM * (gf * mp + gi * mc)))
    assert_gradient(lambda V: s(V, Gf, M_cand, M_prev), dGi, Gi)
    assert_gradient(lambda V: s(Gi, V, M_cand, M_prev), dGf, Gf)
    assert_gradient(lambda V: s(Gi, Gf, V, M_prev), dM_cand, M_cand)
    assert_gradient(lambda V: s(Gi, Gf, M_cand, V), dM_prev, M_prev)
    np.testing.assert_array_equal(dM_prev, dM * Gf)          # no weight matrix on this path


def test_lstm_gates_backward_matches_finite_differences(rng):
    """Eq. (5): from the gates' gradients to the pre-activations Z, block by block."""
    params = lstm_params(rng, 3, 2)
    X_t, H_prev = rng.standard_normal((2, 3)), rng.uniform(-1, 1, (2, 2))
    _, cache = lstm_step_forward((X_t, H_prev, rng.standard_normal((2, 2))), params)
    upstream = [rng.standard_normal((2, 2)) for _ in range(4)]
    dZ = lstm_gates_backward(*upstream, cache)
    assert dZ.shape == (2, 8)
    Z = X_t @ params["Wx"] + H_prev @ params["Wh"] + params["b"]
    fs = (sigmoid, sigmoid, np.tanh, sigmoid)
    s = lambda V: float(sum(np.sum(u * f(b)) for u, f, b in
                            zip(upstream, fs, np.split(V, 4, axis=1), strict=True)))
    assert_gradient(s, dZ, Z)


@pytest.mark.parametrize("shape", STEP_SHAPES)
def test_lstm_step_backward_matches_finite_differences(rng, shape):
    m, n, n_h = shape
    params = lstm_params(rng, n, n_h)
    inputs = (rng.standard_normal((m, n)), rng.uniform(-1, 1, (m, n_h)), rng.standard_normal((m, n_h)))
    (H_t, M_t), cache = lstm_step_forward(inputs, params)
    G_h, G_m = rng.standard_normal(H_t.shape), rng.standard_normal(M_t.shape)
    d_inputs, grads = lstm_step_backward((G_h, G_m), cache)

    def s(inp, par):
        (H, M), _ = lstm_step_forward(inp, par)
        return float(np.sum(G_h * H) + np.sum(G_m * M))

    for k in range(3):
        assert d_inputs[k].shape == inputs[k].shape
        assert_gradient(lambda V, k=k: s(inputs[:k] + (V,) + inputs[k + 1:], params),
                        d_inputs[k], inputs[k], rng)
    for name, W in params.items():
        assert grads[name].shape == W.shape
        assert_gradient(lambda V, k=name: s(inputs, {**params, k: V}), grads[name], W, rng)


# --- the LSTM over a sequence, eq. (7) -------------------------------------------------------

@pytest.mark.parametrize("shape", SEQUENCE_SHAPES)
def test_lstm_sequence_backward_matches_finite_differences(rng, shape):
    m, n_seq, n, n_h = shape
    params = lstm_params(rng, n, n_h)
    X, H0 = rng.standard_normal((m, n_seq, n)), rng.uniform(-1, 1, (m, n_h))
    M0 = rng.standard_normal((m, n_h))
    H, cache = lstm_forward(X, params, H0, M0)
    assert H.shape == (m, n_seq, n_h)
    G = rng.standard_normal(H.shape)
    (dX, dH0, dM0), grads = lstm_backward(G, cache)
    s = lambda X_, par, h0, m0: float(np.sum(G * lstm_forward(X_, par, h0, m0)[0]))
    assert_gradient(lambda V: s(V, params, H0, M0), dX, X, rng)
    assert_gradient(lambda V: s(X, params, V, M0), dH0, H0, rng)
    assert_gradient(lambda V: s(X, params, H0, V), dM0, M0, rng)
    for name, W in params.items():
        assert_gradient(lambda V, k=name: s(X, {**params, k: V}, H0, M0), grads[name], W, rng)


def test_lstm_sequence_is_the_step_applied_in_turn(rng):
    params = lstm_params(rng, 2, 3)
    X = rng.standard_normal((2, 4, 2))
    H, _ = lstm_forward(X, params)                       # H0 = M0 = 0 by default
    h, c = np.zeros((2, 3)), np.zeros((2, 3))
    for t in range(4):
        (h, c), _ = lstm_step_forward((X[:, t], h, c), params)
        np.testing.assert_array_equal(H[:, t], h)


def test_the_cell_path_is_a_product_of_forget_gates(rng):
    """With W_h = 0 the gates ignore the state, and a gradient at the last step reaches M_0
    through the cell alone: dL/dM_0 = G Go tanh'(M_T) times the product of the forget gates,
    exactly, with no weight matrix. A forget bias of 5 keeps 0.993 of it per step."""
    n_h, n_seq = 3, 50
    params = lstm_params(rng, 2, n_h)
    params["Wh"] = np.zeros_like(params["Wh"])
    params["b"][n_h:2 * n_h] = 5.0                       # the forget gate's bias
    X = rng.standard_normal((1, n_seq, 2))
    H, cache = lstm_forward(X, params, M0=rng.standard_normal((1, n_h)))
    G = np.zeros_like(H)
    G[0, -1] = rng.standard_normal(n_h)
    (_, _, dM0), _ = lstm_backward(G, cache)
    last = cache["steps"][-1]
    Go, M_T = last["gates"][3], last["M_t"]
    forget = np.prod([step["gates"][1] for step in cache["steps"]], axis=0)
    expected = G[0, -1] * Go * (1 - np.tanh(M_T) ** 2) * forget
    np.testing.assert_allclose(dM0, expected, rtol=1e-12, atol=EXACT_ATOL)
    assert np.all(forget > 0.5)                         # 50 steps back, more than half is left


# --- the GRU step, eqs. (8)-(12) ---------------------------------------------------------------

def test_gru_step_by_hand():
    # All weights 0, biases: r block 0, update block ln 3 (u = 3/4), candidate 0.
    params = {"Wx": np.zeros((1, 3)), "Wh": np.zeros((1, 3)), "bx": np.array([0.0, math.log(3), 0.0]),
              "bh": np.zeros(3)}
    H_t, _ = gru_step_forward((np.ones((1, 1)), np.full((1, 1), 0.8)), params)
    assert H_t[0, 0] == pytest.approx(0.25 * 0.0 + 0.75 * 0.8, rel=EXACT_RTOL)


@pytest.mark.parametrize("shape", STEP_SHAPES)
def test_gru_gates_per_gate_matrices(rng, shape):
    """Eq. (8) with separate matrices per gate; the reset gate scales the hidden part only."""
    m, n, n_h = shape
    params = gru_params(rng, n, n_h)
    X_t, H_prev = rng.standard_normal((m, n)), rng.uniform(-1, 1, (m, n_h))
    Gr, Gu, H_cand, Z_hc = gru_gates(X_t, H_prev, params)
    x = lambda k: X_t @ block(params["Wx"], k, n_h) + block(params["bx"], k, n_h)
    h = lambda k: H_prev @ block(params["Wh"], k, n_h) + block(params["bh"], k, n_h)
    np.testing.assert_allclose(Gr, sigmoid(x(0) + h(0)), rtol=EXACT_RTOL, atol=EXACT_ATOL)
    np.testing.assert_allclose(Gu, sigmoid(x(1) + h(1)), rtol=EXACT_RTOL, atol=EXACT_ATOL)
    np.testing.assert_allclose(H_cand, np.tanh(x(2) + Gr * h(2)), rtol=EXACT_RTOL, atol=EXACT_ATOL)
    np.testing.assert_allclose(Z_hc, h(2), rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_gru_update_backward_matches_finite_differences(rng):
    """Eq. (10): H_t = (1 - Gu) * H_cand + Gu * H_prev, in each of its three inputs."""
    _, cache = gru_step_forward((rng.standard_normal((2, 3)), rng.uniform(-1, 1, (2, 4))),
                                gru_params(rng, 3, 4))
    G = rng.standard_normal((2, 4))
    _, Gu, H_cand, _ = cache["gates"]
    H_prev = cache["H_prev"]
    dH_cand, dGu, dH_prev_direct = gru_update_backward(G, cache)
    s = lambda gu, hc, hp: float(np.sum(G * ((1 - gu) * hc + gu * hp)))
    assert_gradient(lambda V: s(Gu, V, H_prev), dH_cand, H_cand)
    assert_gradient(lambda V: s(V, H_cand, H_prev), dGu, Gu)
    assert_gradient(lambda V: s(Gu, H_cand, V), dH_prev_direct, H_prev)


def test_gru_gates_backward_matches_finite_differences(rng):
    """Eq. (11): from dL/dH_cand and dL/dGu to the two pre-activations Z_x and Z_h."""
    params = gru_params(rng, 3, 2)
    X_t, H_prev = rng.standard_normal((2, 3)), rng.uniform(-1, 1, (2, 2))
    _, cache = gru_step_forward((X_t, H_prev), params)
    dH_cand, dGu = rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    dZ_x, dZ_h = gru_gates_backward(dH_cand, dGu, cache)
    Z_x = X_t @ params["Wx"] + params["bx"]
    Z_h = H_prev @ params["Wh"] + params["bh"]

    def s(zx, zh):
        xr, xu, xc = np.split(zx, 3, axis=1)
        hr, hu, hc = np.split(zh, 3, axis=1)
        cand = np.tanh(xc + sigmoid(xr + hr) * hc)
        return float(np.sum(dH_cand * cand) + np.sum(dGu * sigmoid(xu + hu)))

    assert_gradient(lambda V: s(V, Z_h), dZ_x, Z_x)
    assert_gradient(lambda V: s(Z_x, V), dZ_h, Z_h)


@pytest.mark.parametrize("shape", STEP_SHAPES)
def test_gru_step_backward_matches_finite_differences(rng, shape):
    m, n, n_h = shape
    params = gru_params(rng, n, n_h)
    inputs = (rng.standard_normal((m, n)), rng.uniform(-1, 1, (m, n_h)))
    H_t, cache = gru_step_forward(inputs, params)
    G = rng.standard_normal(H_t.shape)
    (dX_t, dH_prev), grads = gru_step_backward(G, cache)
    s = lambda inp, par: float(np.sum(G * gru_step_forward(inp, par)[0]))
    assert_gradient(lambda V: s((V, inputs[1]), params), dX_t, inputs[0], rng)
    assert_gradient(lambda V: s((inputs[0], V), params), dH_prev, inputs[1], rng)
    for name, W in params.items():
        assert grads[name].shape == W.shape
        assert_gradient(lambda V, k=name: s(inputs, {**params, k: V}), grads[name], W, rng)


@pytest.mark.parametrize("shape", SEQUENCE_SHAPES)
def test_gru_sequence_backward_matches_finite_differences(rng, shape):
    m, n_seq, n, n_h = shape
    params = gru_params(rng, n, n_h)
    X, H0 = rng.standard_normal((m, n_seq, n)), rng.uniform(-1, 1, (m, n_h))
    H, cache = gru_forward(X, params, H0)
    assert H.shape == (m, n_seq, n_h)
    G = rng.standard_normal(H.shape)
    (dX, dH0), grads = gru_backward(G, cache)
    s = lambda X_, par, h0: float(np.sum(G * gru_forward(X_, par, h0)[0]))
    assert_gradient(lambda V: s(V, params, H0), dX, X, rng)
    assert_gradient(lambda V: s(X, params, V), dH0, H0, rng)
    for name, W in params.items():
        assert_gradient(lambda V, k=name: s(X, {**params, k: V}, H0), grads[name], W, rng)


def test_gru_sequence_is_the_step_applied_in_turn(rng):
    params = gru_params(rng, 2, 3)
    X = rng.standard_normal((2, 4, 2))
    H, _ = gru_forward(X, params)
    h = np.zeros((2, 3))
    for t in range(4):
        h, _ = gru_step_forward((X[:, t], h), params)
        np.testing.assert_array_equal(H[:, t], h)


# --- bad input ------------------------------------------------------------------------

PL = {"Wx": np.ones((2, 12)), "Wh": np.ones((3, 12)), "b": np.zeros(12)}
PG = {"Wx": np.ones((2, 9)), "Wh": np.ones((3, 9)), "bx": np.zeros(9), "bh": np.zeros(9)}
X1, H1 = np.ones((1, 2)), np.zeros((1, 3))


def _lstm_cache():
    return lstm_step_forward((X1, H1, H1), PL)[1]


def _gru_cache():
    return gru_step_forward((X1, H1), PG)[1]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: lstm_gates(X1, H1, PG), r"exactly the keys Wx, Wh, b"),
        (lambda: gru_gates(X1, H1, PL), r"exactly the keys Wx, Wh, bx, bh"),
        (lambda: lstm_gates(X1, H1, [1]), r"params must be a dict"),
        (lambda: lstm_gates(X1, H1, {**PL, "Wx": np.ones((2, 10))}), r"Wx must have shape \(n, 4 n_h\)"),
        (lambda: lstm_gates(X1, H1, {**PL, "Wx": np.ones(12)}), r"Wx must have shape \(n, 4 n_h\)"),
        (lambda: gru_gates(X1, H1, {**PG, "Wx": np.ones((2, 0))}), r"Wx must have shape \(n, 3 n_h\)"),
        (lambda: lstm_gates(X1, H1, {**PL, "Wh": np.ones((3, 3))}),
         r"Wh must have shape \(n_h, 4 n_h\) = \(3, 12\), got shape \(3, 3\)"),
        (lambda: gru_gates(X1, H1, {**PG, "bh": np.zeros(3)}),
         r"bh must have shape \(3 n_h,\) = \(9,\), got shape \(3,\)"),
        (lambda: lstm_gates(np.ones((1, 3)), H1, PL), r"X_t must have shape \(m, n\) = \(m, 2\)"),
        (lambda: lstm_gates(X1, np.zeros((2, 3)), PL), r"H_prev must have shape \(m, n_h\) = \(1, 3\)"),
        (lambda: lstm_gates(np.full((1, 2), 6e299), H1, PL), r"pre-activation may overflow"),
        (lambda: lstm_gates(np.array([[np.nan, 1.0]]), H1, PL), r"X_t must be finite"),
        (lambda: lstm_gates(np.array([["a", "b"]]), H1, PL), r"real numbers"),
        (lambda: lstm_gates([[1.0], [1.0, 2.0]], H1, PL), r"rectangular array"),
        (lambda: lstm_step_forward((X1, H1), PL), r"inputs must be the triple \(X_t, H_prev, M_prev\)"),
        (lambda: lstm_step_forward((X1, H1, np.zeros((1, 2))), PL),
         r"M_prev must have the shape of H_prev \(1, 3\), got shape \(1, 2\)"),
        (lambda: lstm_step_forward((X1, H1, np.full((1, 3), 1e301)), PL), r"cell state M_t may overflow"),
        (lambda: gru_step_forward((X1, H1, H1), PG), r"inputs must be the pair \(X_t, H_prev\)"),
        (lambda: lstm_step_backward(np.ones((1, 3)), _lstm_cache()), r"d_outputs must be the pair"),
        (lambda: lstm_step_backward((np.ones((1, 3)), np.ones((2, 3))), _lstm_cache()),
         r"dM_t must have the shape of the state \(1, 3\), got shape \(2, 3\)"),
        (lambda: lstm_step_backward((np.full((1, 3), 1e299), np.ones((1, 3))), _lstm_cache()),
         r"gradient of the step from dH_t may overflow"),
        (lambda: gru_step_backward(np.ones((1, 4)), _gru_cache()),
         r"dH_t must have the shape of the state \(1, 3\), got shape \(1, 4\)"),
        (lambda: lstm_forward(np.ones((1, 2)), PL), r"X must have shape \(m, n_seq, n\) = \(m, n_seq, 2\)"),
        (lambda: gru_forward(np.ones((1, 0, 2)), PG), r"m, n_seq >= 1, got shape \(1, 0, 2\)"),
        (lambda: lstm_forward(np.ones((1, 2, 2)), PL, np.zeros((1, 2))),
         r"H0 must have shape \(m, n_h\) = \(1, 3\), got shape \(1, 2\)"),
        (lambda: lstm_forward(np.ones((1, 2, 2)), PL, None, np.zeros(3)),
         r"M0 must have shape \(m, n_h\) = \(1, 3\), got shape \(3,\)"),
        (lambda: lstm_backward(np.ones((1, 3, 3)), lstm_forward(np.ones((1, 2, 2)), PL)[1]),
         r"dH must have the shape of H \(1, 2, 3\), got shape \(1, 3, 3\)"),
        (lambda: gru_backward(np.ones((1, 2)), gru_forward(np.ones((1, 2, 2)), PG)[1]),
         r"dH must have the shape of H \(1, 2, 3\), got shape \(1, 2\)"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_tiny_and_saturating_inputs_stay_finite(rng):
    """Inputs of 1e-300 and of 1e4 (every gate saturated): finite results, no warning."""
    for scale in (1e-300, 1e4):
        X = np.full((1, 3, 2), scale)
        H, cache = lstm_forward(X, lstm_params(rng, 2, 3))
        (dX, dH0, dM0), grads = lstm_backward(np.ones_like(H), cache)
        assert all(np.all(np.isfinite(a)) for a in (H, dX, dH0, dM0, *grads.values()))
        H, cache = gru_forward(X, gru_params(rng, 2, 3))
        (dX, dH0), grads = gru_backward(np.ones_like(H), cache)
        assert all(np.all(np.isfinite(a)) for a in (H, dX, dH0, *grads.values()))


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "layers/gated-recurrent.md"

#: (m, n, n_h) of one step for the formula checks: one example with one unit, a batch.
FORMULA_SHAPES = [(1, 1, 1), (3, 2, 4)]


def _lstm_step_envs(rng):
    """One LSTM step, t = 1, with the code's intermediate gradients under the page's names."""
    for m, n, n_h in FORMULA_SHAPES:
        params = lstm_params(rng, n, n_h)
        X_t, H_prev, M_prev = (rng.standard_normal((m, n)), rng.uniform(-1, 1, (m, n_h)),
                               rng.standard_normal((m, n_h)))
        (H_t, M_t), cache = lstm_step_forward((X_t, H_prev, M_prev), params)
        G_h, G_m = rng.standard_normal((m, n_h)), rng.standard_normal((m, n_h))
        dGo, dM = lstm_output_backward(G_h, G_m, cache)
        dGi, dGf, dM_cand, dM_prev = lstm_cell_backward(dM, cache)
        dZ = lstm_gates_backward(dGi, dGf, dM_cand, dGo, cache)
        (dX_t, dH_prev, _), grads = lstm_step_backward((G_h, G_m), cache)
        Gi, Gf, M_cand, Go = cache["gates"]
        Z = X_t @ params["Wx"] + H_prev @ params["Wh"] + params["b"]
        env = {"t": 1, "m": m, "n": n, "n_h": n_h, "X_1": X_t, "H_0": H_prev, "M_0": M_prev,
               "H_1": H_t, "M_1": M_t, "Z_1": Z, "M_1_tilde": M_cand, "W_x": params["Wx"],
               "W_h": params["Wh"], "b": params["b"], "sigma": sigmoid,
               "Gamma_i": Gi, "Gamma_f": Gf, "Gamma_o": Go, "G_h": G_h, "G_m": G_m,
               "dLoss/dGamma_o": dGo, "dLoss/dM": np.stack([dM, dM_prev]), "dLoss/dGamma_i": dGi,
               "dLoss/dGamma_f": dGf, "dLoss/dM_tilde": dM_cand[np.newaxis],
               "dLoss/dZ": dZ[np.newaxis], "dLoss/dX": dX_t[np.newaxis],
               "dLoss/dH": np.stack([G_h, dH_prev]), "dLoss/dW_x": grads["Wx"],
               "dLoss/dW_h": grads["Wh"],
               "dLoss/db": grads["b"]}
        for k, name in enumerate("ifgo"):
            env[f"Z_{name}"], env[f"dLoss/dZ_{name}"] = block(Z, k, n_h), block(dZ, k, n_h)
        yield env


def _lstm_sequence_envs(rng):
    """A sequence, one environment per step t: the two gradients each step receives, as
    lstm_backward passes them, and the code's dL/dZ and total dL/dM of the step after."""
    for m, n_seq, n, n_h in [(1, 3, 2, 2), (2, 4, 2, 3)]:
        params = lstm_params(rng, n, n_h)
        X = rng.standard_normal((m, n_seq, n))
        H, cache = lstm_forward(X, params)
        G = rng.standard_normal(H.shape)
        steps = cache["steps"]
        G_h, G_m, dZ, dM = [None] * n_seq, [None] * n_seq, [None] * n_seq, [None] * n_seq
        carry_H = carry_M = np.zeros((m, n_h))
        for t in range(n_seq, 0, -1):
            G_h[t - 1], G_m[t - 1] = G[:, t - 1] + carry_H, carry_M
            dGo, dM[t - 1] = lstm_output_backward(G_h[t - 1], G_m[t - 1], steps[t - 1])
            dGi, dGf, dM_cand, _ = lstm_cell_backward(dM[t - 1], steps[t - 1])
            dZ[t - 1] = lstm_gates_backward(dGi, dGf, dM_cand, dGo, steps[t - 1])
            (_, carry_H, carry_M), _ = lstm_step_backward((G_h[t - 1], G_m[t - 1]), steps[t - 1])
        base = {"n_seq": n_seq, "W_h": params["Wh"], "G_h": lambda t, G_h=G_h: G_h[int(t) - 1],
                "G_m": lambda t, G_m=G_m: G_m[int(t) - 1],
                "Gamma_f": lambda t, steps=steps: steps[int(t) - 1]["gates"][1],
                **{f"G_{t}": G[:, t - 1] for t in range(1, n_seq + 1)}}
        for t in range(1, n_seq + 1):
            yield {**base, "t": t, "dLoss/dZ": np.stack(dZ), "dLoss/dM": np.stack(dM)}


def _gru_step_envs(rng):
    for m, n, n_h in FORMULA_SHAPES:
        params = gru_params(rng, n, n_h)
        X_t, H_prev = rng.standard_normal((m, n)), rng.uniform(-1, 1, (m, n_h))
        H_t, cache = gru_step_forward((X_t, H_prev), params)
        G = rng.standard_normal((m, n_h))
        dH_cand, dGu, _ = gru_update_backward(G, cache)
        dZ_x, dZ_h = gru_gates_backward(dH_cand, dGu, cache)
        (dX_t, dH_prev), grads = gru_step_backward(G, cache)
        Gr, Gu, H_cand, Z_hc = cache["gates"]
        Z_x = X_t @ params["Wx"] + params["bx"]
        Z_h = H_prev @ params["Wh"] + params["bh"]
        # dL/dGamma_r, which the code keeps inside gru_gates_backward: by the complex step
        # (exact to rounding) of the candidate as a function of the reset gate
        Z_xc = block(Z_x, 2, n_h)
        dGr = complex_step(lambda R, d=dH_cand, a=Z_xc, c=Z_hc: np.sum(d * np.tanh(a + R * c)), Gr)
        env = {"t": 1, "m": m, "n": n, "n_h": n_h, "X_1": X_t, "H_0": H_prev, "H_1": H_t,
               "H_1_tilde": H_cand, "W_x": params["Wx"], "W_h": params["Wh"],
               "b_x": params["bx"], "b_h": params["bh"], "Z_x": Z_x, "Z_h": Z_h,
               "sigma": sigmoid, "Gamma_r": Gr, "Gamma_u": Gu, "G": G,
               "dLoss/dH_tilde": dH_cand[np.newaxis], "dLoss/dGamma_u": dGu,
               "dLoss/dGamma_r": dGr,
               "dLoss/dZ_x": dZ_x, "dLoss/dZ_h": dZ_h, "dLoss/dX": dX_t[np.newaxis],
               "dLoss/dH": np.stack([G, dH_prev]), "dLoss/dW_x": grads["Wx"],
               "dLoss/dW_h": grads["Wh"],
               "dLoss/db_x": grads["bx"], "dLoss/db_h": grads["bh"]}
        for k, name in enumerate("ruc"):
            env[f"Z_x{name}"], env[f"Z_h{name}"] = block(Z_x, k, n_h), block(Z_h, k, n_h)
            env[f"dLoss/dZ_x{name}"] = block(dZ_x, k, n_h)
            env[f"dLoss/dZ_h{name}"] = block(dZ_h, k, n_h)
        yield env


FORMULAS = {
    "lstm-gates": Case(_lstm_step_envs),
    "lstm-forward": Case(_lstm_step_envs),
    "lstm-output-backward": Case(_lstm_step_envs),
    "lstm-cell-backward": Case(_lstm_step_envs),
    "lstm-gates-backward": Case(_lstm_step_envs),
    "lstm-step-backward": Case(_lstm_step_envs),
    "lstm-sequence": Case(_lstm_sequence_envs),
    "gru-gates": Case(_gru_step_envs),
    "gru-forward": Case(_gru_step_envs),
    "gru-update-backward": Case(_gru_step_envs),
    "gru-gates-backward": Case(_gru_step_envs),
    "gru-step-backward": Case(_gru_step_envs),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
