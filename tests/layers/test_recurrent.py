"""Tests for snippets/layers/recurrent.py (page docs/layers/recurrent.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from snippets.layers.recurrent import (
    clip_by_global_norm,
    global_norm,
    jacobian_products,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
    state_jacobian,
    truncated_bptt,
)

from checks import EXACT_ATOL, EXACT_RTOL, assert_gradient
from formulas import Case, formula_test

#: (m, n, n_h) of one step: all ones, one example, a batch.
STEP_SHAPES = [(1, 1, 1), (1, 3, 2), (4, 2, 5)]

#: (m, n_seq, n, n_h) of a sequence: all ones, a sequence of one step, one example,
#: a batch, one hidden unit.
SEQUENCE_SHAPES = [(1, 1, 1, 1), (3, 1, 2, 2), (1, 4, 2, 3), (3, 5, 2, 2), (2, 3, 4, 1)]


def random_params(rng, n, n_h, scale=0.6):
    return {"Wx": rng.normal(0.0, scale, (n, n_h)), "Wh": rng.normal(0.0, scale, (n_h, n_h)),
            "b": rng.normal(0.0, 0.2, n_h)}


def orthogonal(rng, n):
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return q


# --- one step, eqs. (1) and (2) ---------------------------------------------------------

def test_step_forward_by_hand():
    # x = 0.5, h = 0.2, Wx = 2, Wh = -1, b = 0.1: z = 1 - 0.2 + 0.1 = 0.9.
    params = {"Wx": np.array([[2.0]]), "Wh": np.array([[-1.0]]), "b": np.array([0.1])}
    H_t, cache = rnn_step_forward((np.array([[0.5]]), np.array([[0.2]])), params)
    assert H_t[0, 0] == pytest.approx(math.tanh(0.9), rel=EXACT_RTOL)
    assert cache["H_t"] is H_t


@pytest.mark.parametrize("shape", STEP_SHAPES)
def test_step_forward_rows_are_the_examples(rng, shape):
    """Eq. (1): row i is tanh(W_x^T x_i + W_h^T h_i + b), one example at a time."""
    m, n, n_h = shape
    params = random_params(rng, n, n_h)
    X_t, H_prev = rng.standard_normal((m, n)), rng.uniform(-1, 1, (m, n_h))
    H_t, _ = rnn_step_forward((X_t, H_prev), params)
    assert H_t.shape == (m, n_h)
    for i in range(m):
        expected = np.tanh(params["Wx"].T @ X_t[i] + params["Wh"].T @ H_prev[i] + params["b"])
        np.testing.assert_allclose(H_t[i], expected, rtol=EXACT_RTOL, atol=EXACT_ATOL)


@pytest.mark.parametrize("shape", STEP_SHAPES)
def test_step_backward_matches_finite_differences(rng, shape):
    m, n, n_h = shape
    params = random_params(rng, n, n_h)
    inputs = (rng.standard_normal((m, n)), rng.uniform(-1, 1, (m, n_h)))
    H_t, cache = rnn_step_forward(inputs, params)
    G = rng.standard_normal(H_t.shape)
    (dX_t, dH_prev), grads = rnn_step_backward(G, cache)
    s = lambda inp, par: float(np.sum(G * rnn_step_forward(inp, par)[0]))
    assert_gradient(lambda V: s((V, inputs[1]), params), dX_t, inputs[0], rng)
    assert_gradient(lambda V: s((inputs[0], V), params), dH_prev, inputs[1], rng)
    assert set(grads) == set(params)
    for name, W in params.items():
        assert_gradient(lambda V, k=name: s(inputs, {**params, k: V}), grads[name], W, rng)


def test_step_backward_index_form(rng):
    """Eq. (2): dZ_t entries are G_ik (1 - H_ik^2); the weight gradients sum over examples."""
    params = random_params(rng, 2, 3)
    X_t, H_prev = rng.standard_normal((4, 2)), rng.uniform(-1, 1, (4, 3))
    H_t, cache = rnn_step_forward((X_t, H_prev), params)
    G = rng.standard_normal((4, 3))
    _, grads = rnn_step_backward(G, cache)
    dZ = G * (1 - np.tanh(X_t @ params["Wx"] + H_prev @ params["Wh"] + params["b"]) ** 2)
    for j in range(3):
        for k in range(3):
            expected = sum(H_prev[i, j] * dZ[i, k] for i in range(4))
            assert grads["Wh"][j, k] == pytest.approx(expected, rel=EXACT_RTOL, abs=EXACT_ATOL)
    np.testing.assert_allclose(grads["b"], dZ.sum(axis=0), rtol=EXACT_RTOL, atol=EXACT_ATOL)


# --- a sequence, eq. (3) ---------------------------------------------------------------

@pytest.mark.parametrize("shape", SEQUENCE_SHAPES)
def test_forward_applies_the_step_with_shared_weights(rng, shape):
    m, n_seq, n, n_h = shape
    params = random_params(rng, n, n_h)
    X, H0 = rng.standard_normal((m, n_seq, n)), rng.uniform(-1, 1, (m, n_h))
    H, cache = rnn_forward(X, params, H0)
    assert H.shape == (m, n_seq, n_h) and len(cache["steps"]) == n_seq
    h = H0
    for t in range(n_seq):
        h = np.tanh(X[:, t] @ params["Wx"] + h @ params["Wh"] + params["b"])
        np.testing.assert_allclose(H[:, t], h, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    H_zero, _ = rnn_forward(X, params)                      # H0 defaults to zeros
    H_ref, _ = rnn_forward(X, params, np.zeros((m, n_h)))
    np.testing.assert_array_equal(H_zero, H_ref)


@pytest.mark.parametrize("shape", SEQUENCE_SHAPES)
def test_bptt_matches_finite_differences(rng, shape):
    m, n_seq, n, n_h = shape
    params = random_params(rng, n, n_h)
    X, H0 = rng.standard_normal((m, n_seq, n)), rng.uniform(-1, 1, (m, n_h))
    H, cache = rnn_forward(X, params, H0)
    G = rng.standard_normal(H.shape)
    (dX, dH0), grads = rnn_backward(G, cache)
    assert dX.shape == X.shape and dH0.shape == H0.shape
    s = lambda X_, par, H0_: float(np.sum(G * rnn_forward(X_, par, H0_)[0]))
    assert_gradient(lambda V: s(V, params, H0), dX, X, rng)
    assert_gradient(lambda V: s(X, params, V), dH0, H0, rng)
    for name, W in params.items():
        assert grads[name].shape == W.shape
        assert_gradient(lambda V, k=name: s(X, {**params, k: V}, H0), grads[name], W, rng)


def test_bptt_of_one_step_is_the_step(rng):
    params = random_params(rng, 2, 3)
    X, H0 = rng.standard_normal((2, 1, 2)), rng.uniform(-1, 1, (2, 3))
    _, cache = rnn_forward(X, params, H0)
    _, step_cache = rnn_step_forward((X[:, 0], H0), params)
    G = rng.standard_normal((2, 1, 3))
    (dX, dH0), grads = rnn_backward(G, cache)
    (dX_t, dH_prev), step_grads = rnn_step_backward(G[:, 0], step_cache)
    np.testing.assert_array_equal(dX[:, 0], dX_t)
    np.testing.assert_array_equal(dH0, dH_prev)
    for name in grads:
        np.testing.assert_array_equal(grads[name], step_grads[name])


# --- the product of Jacobians, eq. (4) ----------------------------------------------------

def test_state_jacobian_matches_finite_differences(rng):
    params = random_params(rng, 2, 4)
    x, h_prev = rng.standard_normal((1, 2)), rng.uniform(-1, 1, (1, 4))
    H_t, _ = rnn_step_forward((x, h_prev), params)
    J = state_jacobian(H_t[0], params["Wh"])
    assert J.shape == (4, 4)
    for k in range(4):       # row k of the Jacobian is the gradient of output k
        f = lambda v, k=k: float(rnn_step_forward((x, v[np.newaxis]), params)[0][0, k])
        assert_gradient(f, J[k], h_prev[0])


@pytest.mark.parametrize("n_seq", [1, 6])
def test_jacobian_products_are_dh_T_dh_t(rng, n_seq):
    params = random_params(rng, 2, 3, scale=0.9)
    X, H0 = rng.standard_normal((1, n_seq, 2)), rng.uniform(-1, 1, (1, 3))
    H, _ = rnn_forward(X, params, H0)
    P = jacobian_products(H[0], params["Wh"])
    assert P.shape == (n_seq + 1, 3, 3)
    np.testing.assert_array_equal(P[n_seq], np.eye(3))
    states = np.concatenate([H0, H[0]])                     # h_0 .. h_T
    for t in range(n_seq):
        for k in range(3):   # h_T as a function of h_t, by running the rest of the sequence
            f = lambda v, t=t, k=k: float(rnn_forward(X[:, t:], params, v[np.newaxis])[0][0, -1, k])
            assert_gradient(f, P[t][k], states[t])


def test_jacobian_product_gives_the_bptt_gradient(rng):
    """With G at the last step only, dL/dh_0 = P[0]^T g: BPTT is the product of eq. (4)."""
    params = random_params(rng, 2, 3)
    X, H0 = rng.standard_normal((1, 5, 2)), rng.uniform(-1, 1, (1, 3))
    H, cache = rnn_forward(X, params, H0)
    G = np.zeros_like(H)
    G[0, -1] = rng.standard_normal(3)
    (_, dH0), _ = rnn_backward(G, cache)
    P = jacobian_products(H[0], params["Wh"])
    np.testing.assert_allclose(dH0[0], P[0].T @ G[0, -1], rtol=EXACT_RTOL, atol=EXACT_ATOL)


@pytest.mark.parametrize("rho", [0.5, 1.0, 1.5])
def test_product_norm_is_bounded_by_the_largest_singular_value(rng, rho):
    params = random_params(rng, 2, 4)
    params["Wh"] *= rho / np.linalg.norm(params["Wh"], 2)   # largest singular value rho
    X = rng.standard_normal((1, 12, 2))
    H, _ = rnn_forward(X, params)
    P = jacobian_products(H[0], params["Wh"])
    for t in range(13):
        assert np.linalg.norm(P[t], 2) <= rho ** (12 - t) * (1 + 1e-12)


@pytest.mark.parametrize("rho", [0.5, 1.0, 1.5])
def test_linear_regime_gives_exactly_rho_to_the_power(rng, rho):
    """At h = 0 (zero inputs, bias and start), tanh' = 1: P[t] = (W_h^T)^(T - t) exactly,
    and an orthogonal W_h scaled by rho has every singular value rho."""
    n_h, n_seq = 4, 20
    params = {"Wx": rng.standard_normal((2, n_h)), "Wh": rho * orthogonal(rng, n_h),
              "b": np.zeros(n_h)}
    H, _ = rnn_forward(np.zeros((1, n_seq, 2)), params)
    P = jacobian_products(H[0], params["Wh"])
    for t in range(n_seq + 1):
        assert np.linalg.norm(P[t], 2) == pytest.approx(rho ** (n_seq - t), rel=1e-12)


# --- clipping, eqs. (5) and (6) ----------------------------------------------------------

def test_global_norm_by_hand_and_at_extremes():
    assert global_norm({"Wx": np.array([[3.0, 0.0]]), "b": np.array([4.0])}) == 5.0
    assert global_norm({"Wx": np.zeros((2, 2)), "b": np.zeros(0)}) == 0.0
    # Squaring 3e-300 underflows to 0 and squaring 3e299 overflows: the scale avoids both.
    big = global_norm({"a": np.array([3e299]), "b": np.array([[4e299]])})
    tiny = global_norm({"a": np.array([3e-300]), "b": np.array([[4e-300]])})
    assert big == pytest.approx(5e299, rel=EXACT_RTOL)
    assert tiny == pytest.approx(5e-300, rel=EXACT_RTOL)


def test_global_norm_is_the_norm_of_the_concatenation(rng):
    grads = random_params(rng, 3, 4)
    flat = np.concatenate([g.ravel() for g in grads.values()])
    assert global_norm(grads) == pytest.approx(np.linalg.norm(flat), rel=EXACT_RTOL)


@pytest.mark.parametrize("factor", [1e-3, 0.5, 2.0, 1e3])
def test_clipping_caps_the_norm_and_keeps_the_direction(rng, factor):
    grads = random_params(rng, 3, 4)
    norm = global_norm(grads)
    max_norm = norm / factor                 # factor > 1: above the threshold
    clipped, returned = clip_by_global_norm(grads, max_norm)
    assert returned == norm
    assert set(clipped) == set(grads)
    if factor <= 1.0:                        # under the threshold: nothing changes
        for name in grads:
            np.testing.assert_array_equal(clipped[name], grads[name])
            assert clipped[name] is not grads[name]
    else:
        assert global_norm(clipped) == pytest.approx(max_norm, rel=EXACT_RTOL)
        ratios = np.concatenate([(clipped[k] / grads[k]).ravel() for k in grads])
        np.testing.assert_allclose(ratios, max_norm / norm, rtol=EXACT_RTOL)   # one factor


def test_clipping_at_the_threshold_and_of_zero_gradients():
    grads = {"w": np.array([3.0, 4.0])}
    clipped, norm = clip_by_global_norm(grads, 5.0)
    np.testing.assert_array_equal(clipped["w"], [3.0, 4.0])
    clipped, norm = clip_by_global_norm({"w": np.zeros(3)}, 1.0)
    assert norm == 0.0
    np.testing.assert_array_equal(clipped["w"], 0.0)
    clipped, _ = clip_by_global_norm(grads, 1)           # an integer threshold
    np.testing.assert_allclose(clipped["w"], [0.6, 0.8], rtol=EXACT_RTOL)


# --- truncated backpropagation through time, eq. (7) ---------------------------------------

def test_truncation_longer_than_the_sequence_is_full_bptt(rng):
    params = random_params(rng, 2, 3)
    X, H0 = rng.standard_normal((2, 5, 2)), rng.uniform(-1, 1, (2, 3))
    H, cache = rnn_forward(X, params, H0)
    G = rng.standard_normal(H.shape)
    _, full = rnn_backward(G, cache)
    for n_tr in (5, 8):
        truncated = truncated_bptt(X, params, G, n_tr, H0)
        for name in full:
            np.testing.assert_array_equal(truncated[name], full[name])


@pytest.mark.parametrize("n_tr", [1, 2, 3])
def test_shorter_truncation_differs_and_is_the_gradient_of_the_cut_graph(rng, n_tr):
    """Truncated BPTT is the exact gradient of the loss with each chunk's starting state
    held fixed at the value the forward pass gave it."""
    params = random_params(rng, 2, 3, scale=0.9)
    X, H0 = rng.standard_normal((2, 7, 2)), rng.uniform(-1, 1, (2, 3))
    H, cache = rnn_forward(X, params, H0)
    G = rng.standard_normal(H.shape)
    _, full = rnn_backward(G, cache)
    truncated = truncated_bptt(X, params, G, n_tr, H0)
    starts = range(0, 7, n_tr)
    H_starts = [H0 if s == 0 else H[:, s - 1] for s in starts]   # fixed: no gradient

    def cut_loss(par):
        return sum(float(np.sum(G[:, s:s + n_tr] * rnn_forward(X[:, s:s + n_tr], par, h)[0]))
                   for s, h in zip(starts, H_starts, strict=True))

    for name, W in params.items():
        assert_gradient(lambda V, k=name: cut_loss({**params, k: V}), truncated[name], W, rng)
        assert np.max(np.abs(truncated[name] - full[name])) > 1e-3 * np.max(np.abs(full[name]))


def test_truncation_of_one_step_keeps_only_the_direct_terms(rng):
    params = random_params(rng, 2, 3)
    X = rng.standard_normal((2, 4, 2))
    H, cache = rnn_forward(X, params)
    G = rng.standard_normal(H.shape)
    truncated = truncated_bptt(X, params, G, 1)
    expected = {name: 0.0 for name in params}
    for t in range(4):                         # no carry between steps at all
        _, step_grads = rnn_step_backward(G[:, t], cache["steps"][t])
        expected = {name: expected[name] + step_grads[name] for name in params}
    for name in params:
        np.testing.assert_allclose(truncated[name], expected[name], rtol=EXACT_RTOL, atol=EXACT_ATOL)


# --- bad input ------------------------------------------------------------------------

P = {"Wx": np.ones((2, 3)), "Wh": np.eye(3), "b": np.zeros(3)}


def _step_cache():
    return rnn_step_forward((np.ones((1, 2)), np.zeros((1, 3))), P)[1]


def _sequence_cache():
    return rnn_forward(np.ones((1, 4, 2)), P)[1]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: rnn_step_forward((np.ones((1, 2)), np.zeros((1, 3))), {"Wx": P["Wx"]}),
         r"exactly the keys Wx, Wh, b"),
        (lambda: rnn_step_forward((np.ones((1, 2)), np.zeros((1, 3))), [1, 2, 3]), r"params must be a dict"),
        (lambda: rnn_step_forward((np.ones((1, 2)), np.zeros((1, 3))), {**P, "Wx": np.ones(3)}),
         r"Wx must have shape \(n, n_h\) with n, n_h >= 1, got shape \(3,\)"),
        (lambda: rnn_step_forward((np.ones((1, 2)), np.zeros((1, 3))), {**P, "Wh": np.eye(2)}),
         r"Wh must have shape \(n_h, n_h\) = \(3, 3\), got shape \(2, 2\)"),
        (lambda: rnn_step_forward((np.ones((1, 2)), np.zeros((1, 3))), {**P, "b": np.zeros((1, 3))}),
         r"b must have shape \(n_h,\) = \(3,\), got shape \(1, 3\)"),
        (lambda: rnn_step_forward(np.ones((1, 2)), P), r"inputs must be the pair \(X_t, H_prev\)"),
        (lambda: rnn_step_forward((np.ones((1, 3)), np.zeros((1, 3))), P),
         r"X_t must have shape \(m, n\) = \(m, 2\) with m >= 1, got shape \(1, 3\)"),
        (lambda: rnn_step_forward((np.ones(2), np.zeros(3)), P), r"X_t must have shape \(m, n\)"),
        (lambda: rnn_step_forward((np.ones((2, 2)), np.zeros((1, 3))), P),
         r"H_prev must have shape \(m, n_h\) = \(2, 3\), got shape \(1, 3\)"),
        (lambda: rnn_step_forward((np.full((1, 2), 1e299), np.zeros((1, 3))),
                                  {**P, "Wx": np.full((2, 3), 10.0)}),
         r"pre-activation Z_t may overflow"),
        (lambda: rnn_step_forward((np.array([[np.nan, 0.0]]), np.zeros((1, 3))), P), r"X_t must be finite"),
        (lambda: rnn_step_forward((np.array([["a", "b"]]), np.zeros((1, 3))), P), r"real numbers"),
        (lambda: rnn_step_forward(([[1.0], [1.0, 2.0]], np.zeros((1, 3))), P), r"rectangular array"),
        (lambda: rnn_step_backward(np.ones((2, 3)), _step_cache()),
         r"dH_t must have the shape of H_t \(1, 3\), got shape \(2, 3\)"),
        (lambda: rnn_step_backward(np.full((1, 3), 5e299), _step_cache()),
         r"gradient of the step may overflow"),
        (lambda: rnn_forward(np.ones((1, 2)), P), r"X must have shape \(m, n_seq, n\) = \(m, n_seq, 2\)"),
        (lambda: rnn_forward(np.ones((1, 0, 2)), P), r"m, n_seq >= 1, got shape \(1, 0, 2\)"),
        (lambda: rnn_forward(np.ones((1, 4, 3)), P), r"X must have shape"),
        (lambda: rnn_forward(np.ones((2, 4, 2)), P, np.zeros((1, 3))),
         r"H0 must have shape \(m, n_h\) = \(2, 3\), got shape \(1, 3\)"),
        (lambda: rnn_backward(np.ones((1, 3, 3)), _sequence_cache()),
         r"dH must have the shape of H \(1, 4, 3\), got shape \(1, 3, 3\)"),
        (lambda: state_jacobian(np.zeros((1, 3)), np.eye(3)), r"h_t must be one state \(n_h,\)"),
        (lambda: state_jacobian(np.zeros(3), np.eye(2)), r"and Wh \(n_h, n_h\)"),
        (lambda: state_jacobian(np.array([0.0, 2.0]), np.eye(2)), r"entries in \[-1, 1\]"),
        (lambda: jacobian_products(np.zeros((1, 2, 3)), np.eye(3)), r"H must be one example's states"),
        (lambda: jacobian_products(np.zeros((2, 3)), np.eye(2)), r"H must be one example's states"),
        (lambda: global_norm({}), r"grads must be a non-empty dict"),
        (lambda: global_norm([np.ones(2)]), r"grads must be a non-empty dict"),
        (lambda: global_norm({"w": np.array([np.inf])}), r"the gradient 'w' must be finite"),
        (lambda: global_norm({"w": np.array([2e300])}), r"global norm may overflow"),
        (lambda: clip_by_global_norm({"w": np.ones(2)}, 0.0), r"max_norm must be a positive finite number"),
        (lambda: clip_by_global_norm({"w": np.ones(2)}, -1.0), r"max_norm must be a positive"),
        (lambda: clip_by_global_norm({"w": np.ones(2)}, np.nan), r"max_norm must be a positive"),
        (lambda: clip_by_global_norm({"w": np.ones(2)}, np.inf), r"max_norm must be a positive"),
        (lambda: clip_by_global_norm({"w": np.ones(2)}, "1"), r"max_norm must be a positive"),
        (lambda: clip_by_global_norm({"w": np.ones(2)}, True), r"max_norm must be a positive"),
        (lambda: clip_by_global_norm({"w": np.ones(2)}, np.array([1.0])), r"max_norm must be a positive"),
        (lambda: truncated_bptt(np.ones((1, 4, 2)), P, np.ones((1, 4, 3)), 0),
         r"n_tr must be a positive integer"),
        (lambda: truncated_bptt(np.ones((1, 4, 2)), P, np.ones((1, 4, 3)), 2.0),
         r"n_tr must be a positive integer"),
        (lambda: truncated_bptt(np.ones((1, 4, 2)), P, np.ones((1, 5, 3)), 2),
         r"dH must have the shape of H \(1, 4, 3\), got shape \(1, 5, 3\)"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_tiny_and_saturating_inputs_stay_finite(rng):
    """Inputs of 1e-300 and pre-activations of 1e4 (tanh saturated): finite, no warning."""
    params = random_params(rng, 2, 3)
    X = np.full((1, 3, 2), 1e-300)
    H, cache = rnn_forward(X, params)
    (dX, _), grads = rnn_backward(np.ones_like(H), cache)
    assert np.all(np.isfinite(dX)) and all(np.all(np.isfinite(g)) for g in grads.values())
    H, cache = rnn_forward(np.full((1, 3, 2), 1e4), params)
    assert np.all(np.abs(H) <= 1.0)
    (dX, _), grads = rnn_backward(np.ones_like(H), cache)
    assert all(np.all(np.isfinite(g)) for g in grads.values())


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "layers/recurrent.md"

#: (m, n_seq, n, n_h) for the formula checks: one example, and a batch.
FORMULA_SHAPES = [(1, 3, 2, 2), (3, 4, 2, 3)]


def named(prefix, values, first=1):
    """{prefix_first: values[0], ...}: time-indexed names, as the reader forms H_{t-1}.

    A derivative with respect to H_{t-1} is read from the array of dL/dH_t at index t - 2,
    so those arrays end with the value for step 0: index -1 at t = 1.
    """
    return {f"{prefix}_{t}": v for t, v in enumerate(values, start=first)}


def step_dZ(dH_t, step_cache):
    """The code's dL/dZ_t of one step, row by row: a step of one example has db = dZ_t."""
    rows = []
    for i in range(dH_t.shape[0]):
        inputs = (step_cache["X_t"][i:i + 1], step_cache["H_prev"][i:i + 1])
        _, one = rnn_step_forward(inputs, step_cache["params"])
        rows.append(rnn_step_backward(dH_t[i:i + 1], one)[1]["b"])
    return np.array(rows)


def _sequence_envs(rng, n_tr=None):
    """A sequence under the page's names, one environment per step t (1-based), with the
    code's gradients: the totals that reach each H_t and Z_t, carried back step by step by
    rnn_step_backward (the carry is dropped at the end of each chunk of n_tr steps)."""
    for m, n_seq, n, n_h in FORMULA_SHAPES:
        params = random_params(rng, n, n_h)
        X, H0 = rng.standard_normal((m, n_seq, n)), rng.uniform(-1, 1, (m, n_h))
        H, cache = rnn_forward(X, params, H0)
        G = rng.standard_normal(H.shape)
        (dX, dH0), grads = rnn_backward(G, cache)
        chunk = n_seq if n_tr is None else n_tr
        dH_total, dZ_total = [None] * n_seq, [None] * n_seq
        carry = np.zeros((m, n_h))
        for t in range(n_seq, 0, -1):                             # the page's t
            if t % chunk == 0:
                carry = np.zeros((m, n_h))                        # a chunk ends at step t
            dH_total[t - 1] = G[:, t - 1] + carry
            dZ_total[t - 1] = step_dZ(dH_total[t - 1], cache["steps"][t - 1])
            (_, carry), _ = rnn_step_backward(dH_total[t - 1], cache["steps"][t - 1])
        loss = "Loss" if n_tr is None else "Loss_tr"
        base = {**named("X", np.swapaxes(X, 0, 1)), **named("H", [H0, *np.swapaxes(H, 0, 1)], 0),
                **named("Z", [step["Z_t"] for step in cache["steps"]]),
                **named("G", np.swapaxes(G, 0, 1)),
                "W_x": params["Wx"], "W_h": params["Wh"], "b": params["b"], "m": m, "n": n,
                "n_h": n_h, "n_seq": n_seq, "n_tr": n_tr,
                f"d{loss}/dH": np.stack([*dH_total, dH0]), f"d{loss}/dZ": np.stack(dZ_total),
                "dLoss/dX": np.swapaxes(dX, 0, 1), "dLoss/dW_x": grads["Wx"],
                "dLoss/dW_h": grads["Wh"], "dLoss/db": grads["b"],
                "g": np.concatenate([grads[k].ravel() for k in ("Wx", "Wh", "b")])}
        for t in range(1, n_seq + 1):
            yield {**base, "t": t}


def _step_envs(rng):
    """One step on its own, t = 1: the loss uses the weights in this step only."""
    for m, _, n, n_h in FORMULA_SHAPES:
        params = random_params(rng, n, n_h)
        X_t, H_prev = rng.standard_normal((m, n)), rng.uniform(-1, 1, (m, n_h))
        H_t, cache = rnn_step_forward((X_t, H_prev), params)
        G = rng.standard_normal(H_t.shape)
        (dX_t, dH_prev), grads = rnn_step_backward(G, cache)
        yield {"t": 1, "X_1": X_t, "H_0": H_prev, "H_1": H_t, "Z_1": cache["Z_t"],
               "W_x": params["Wx"], "W_h": params["Wh"], "b": params["b"], "m": m, "n": n,
               "n_h": n_h, "dLoss/dH": np.stack([G, dH_prev]),
               "dLoss/dZ": step_dZ(G, cache)[np.newaxis], "dLoss/dX": dX_t[np.newaxis],
               "dLoss/dW_x": grads["Wx"], "dLoss/dW_h": grads["Wh"], "dLoss/db": grads["b"]}


def _jacobian_envs(rng):
    """One example: h_t is row i of H_t; the Jacobians from the code."""
    for n_seq, n_h in ((1, 2), (5, 3)):
        params = random_params(rng, 2, n_h, scale=0.9)
        X, H0 = rng.standard_normal((1, n_seq, 2)), rng.uniform(-1, 1, (1, n_h))
        H, _ = rnn_forward(X, params, H0)
        P = jacobian_products(H[0], params["Wh"])             # P[t] = dh_T / dh_t
        steps = np.full((n_seq + 1, n_seq + 1, n_h, n_h), np.nan)   # [t - 1, t - 2]
        for t in range(1, n_seq + 1):
            steps[t - 1, t - 2] = state_jacobian(H[0, t - 1], params["Wh"])
        for t in range(1, n_seq + 1):
            yield {"t": t, **named("h", [H0[0], *H[0]], 0), "W_h": params["Wh"],
                   "n_seq": n_seq, "dh/dh": steps, "dh_n_seq/dh": np.concatenate([P[1:], P[:1]])}


def _clip_envs(rng):
    for env in _sequence_envs(rng):
        if env["t"] > 1:
            continue
        grads = {"Wx": env["dLoss/dW_x"], "Wh": env["dLoss/dW_h"], "b": env["dLoss/db"]}
        norm = global_norm(grads)
        for g_max in (0.5 * norm, 2.0 * norm):                # clipped, and left alone
            clipped, _ = clip_by_global_norm(grads, g_max)
            yield {**env, "g_max": g_max,
                   "g_tilde": np.concatenate([clipped[k].ravel() for k in ("Wx", "Wh", "b")])}


FORMULAS = {
    "step-forward": Case(_step_envs),
    "step-backward": Case(_step_envs),
    "bptt": Case(_sequence_envs),
    "jacobians": Case(_jacobian_envs),
    "global-norm": Case(lambda rng: (env for env in _sequence_envs(rng) if env["t"] == 1)),
    "clip": Case(_clip_envs),
    "truncated": Case(lambda rng: _sequence_envs(rng, n_tr=2)),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
