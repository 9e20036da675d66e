"""Tests for snippets/layers/attention.py (page docs/layers/attention.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from snippets.layers.attention import (
    attention_backward,
    attention_forward,
    causal_mask,
    masked_softmax_forward,
    merge_heads,
    mha_backward,
    mha_forward,
    mha_forward_loop,
    output_backward,
    scores_backward,
    softmax_backward,
    softmax_backward_with_jacobians,
    softmax_forward,
    softmax_row_jacobian,
    split_heads,
)

from checks import EXACT_ATOL, EXACT_RTOL, assert_gradient
from formulas import Case, formula_test

#: Shapes of the scores Z: one row of one entry, one example, a batch, and a heads axis.
SCORE_SHAPES = [(1, 1, 1), (1, 1, 4), (1, 3, 4), (3, 4, 2), (2, 3, 4, 5)]

#: (m, n_q, n_k, d_k, d_v): everything 1; one example; more keys than queries; a batch
#: with fewer keys than queries.
ATTENTION_SHAPES = [(1, 1, 1, 1, 1), (1, 3, 4, 2, 5), (3, 4, 4, 3, 2), (2, 5, 3, 4, 1)]

#: (m, T, d_model, n_heads) for multi-head attention, including one head and d_k = 1.
MHA_SHAPES = [(1, 1, 2, 1), (1, 3, 4, 2), (2, 4, 6, 3), (2, 3, 4, 4)]


def random_params(rng, d_model, scale=0.5):
    return {name: rng.normal(0.0, scale, (d_model, d_model)) for name in ("Wq", "Wk", "Wv", "Wo")}


def random_qkv(rng, shape):
    m, n_q, n_k, d_k, d_v = shape
    return (rng.standard_normal((m, n_q, d_k)), rng.standard_normal((m, n_k, d_k)),
            rng.standard_normal((m, n_k, d_v)))


def replaced(inputs, index, value):
    new = list(inputs)
    new[index] = value
    return tuple(new)


# --- the softmax layer, eqs. (1)-(3) --------------------------------------------------

def test_softmax_forward_known_values_and_rows_sum_to_one(rng):
    S, cache = softmax_forward(np.log([[[1.0, 2.0, 3.0]]]))
    np.testing.assert_allclose(S, [[[1 / 6, 2 / 6, 3 / 6]]], rtol=EXACT_RTOL)
    assert cache["S"] is S
    Z = rng.normal(scale=3.0, size=(2, 4, 5))
    S, _ = softmax_forward(Z)
    np.testing.assert_allclose(S.sum(axis=-1), 1.0, rtol=EXACT_RTOL)
    # Eq. (1) with indices, entry by entry.
    for i, t, u in np.ndindex(*Z.shape):
        expected = math.exp(Z[i, t, u]) / sum(math.exp(Z[i, t, r]) for r in range(5))
        assert S[i, t, u] == pytest.approx(expected, rel=EXACT_RTOL)


def test_softmax_forward_is_finite_for_huge_scores():
    S, _ = softmax_forward(np.array([[1e4, 0.0, -1e4]]))
    np.testing.assert_array_equal(S, [[1.0, 0.0, 0.0]])
    dZ, _ = softmax_backward(np.array([[1.0, 2.0, 3.0]]), {"S": S})
    np.testing.assert_array_equal(dZ, [[0.0, 0.0, 0.0]])


def test_row_jacobian_entries_and_finite_differences(rng):
    """Eq. (2): entry [u, r] is s_u ([u = r] - s_r); each column is a central difference."""
    z = rng.standard_normal(5)
    s = softmax_forward(z[np.newaxis])[0][0]
    J = softmax_row_jacobian(s)
    assert J.shape == (5, 5)
    for u in range(5):
        for r in range(5):
            assert J[u, r] == pytest.approx(s[u] * ((u == r) - s[r]), rel=EXACT_RTOL, abs=EXACT_ATOL)
    for u in range(5):
        assert_gradient(lambda v, u=u: float(softmax_forward(v[np.newaxis])[0][0, u]), J[u], z)
    np.testing.assert_allclose(J, J.T, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    np.testing.assert_allclose(J.sum(axis=0), 0.0, atol=EXACT_ATOL)


@pytest.mark.parametrize("shape", SCORE_SHAPES)
def test_softmax_backward_matches_finite_differences(rng, shape):
    Z = rng.normal(scale=2.0, size=shape)
    S, cache = softmax_forward(Z)
    G = rng.standard_normal(shape)
    dZ, grads = softmax_backward(G, cache)
    assert dZ.shape == Z.shape and grads == {}
    assert_gradient(lambda V: float(np.sum(G * softmax_forward(V)[0])), dZ, Z, rng)


@pytest.mark.parametrize("shape", SCORE_SHAPES)
def test_softmax_backward_equals_the_jacobian_loop(rng, shape):
    """Eq. (3) without a Jacobian equals J^T g row by row with the Jacobian of eq. (2)."""
    S, cache = softmax_forward(rng.normal(scale=2.0, size=shape))
    G = rng.standard_normal(shape)
    fast, _ = softmax_backward(G, cache)
    slow, grads = softmax_backward_with_jacobians(G, cache)
    assert grads == {}
    np.testing.assert_allclose(fast, slow, rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_softmax_backward_index_form(rng):
    """Eq. (3), first line: S_tr (G_tr - sum_u G_tu S_tu), by explicit loops."""
    S, cache = softmax_forward(rng.standard_normal((1, 3, 4)))
    G = rng.standard_normal((1, 3, 4))
    dZ, _ = softmax_backward(G, cache)
    for t in range(3):
        for r in range(4):
            expected = S[0, t, r] * (G[0, t, r] - sum(G[0, t, u] * S[0, t, u] for u in range(4)))
            assert dZ[0, t, r] == pytest.approx(expected, rel=EXACT_RTOL, abs=EXACT_ATOL)


def test_softmax_backward_rows_sum_to_zero(rng):
    """Adding one number to a whole row of Z changes no S: the gradient has no such part."""
    S, cache = softmax_forward(rng.standard_normal((2, 3, 6)))
    dZ, _ = softmax_backward(rng.standard_normal((2, 3, 6)), cache)
    np.testing.assert_allclose(dZ.sum(axis=-1), 0.0, atol=EXACT_ATOL)


# --- scaled dot-product attention, eqs. (4)-(6) ---------------------------------------

@pytest.mark.parametrize("shape", ATTENTION_SHAPES)
def test_attention_forward_shapes_and_loop(rng, shape):
    """Eq. (4) entry by entry: O_tj = sum_u S_tu V_uj with S from the scaled scores."""
    m, n_q, n_k, d_k, d_v = shape
    Q, K, V = random_qkv(rng, shape)
    out, cache = attention_forward((Q, K, V))
    assert out.shape == (m, n_q, d_v) and cache["S"].shape == (m, n_q, n_k)
    for i in range(m):
        for t in range(n_q):
            z = [sum(Q[i, t, j] * K[i, u, j] for j in range(d_k)) / math.sqrt(d_k)
                 for u in range(n_k)]
            s = np.exp(z) / np.sum(np.exp(z))
            for j in range(d_v):
                expected = sum(s[u] * V[i, u, j] for u in range(n_k))
                assert out[i, t, j] == pytest.approx(expected, rel=1e-10, abs=EXACT_ATOL)


@pytest.mark.parametrize("shape", ATTENTION_SHAPES)
@pytest.mark.parametrize("masked", [False, True])
def test_attention_backward_matches_finite_differences(rng, shape, masked):
    m, n_q, n_k, d_k, d_v = shape
    inputs = random_qkv(rng, shape)
    mask = (np.arange(n_k)[np.newaxis, :] <= np.arange(n_q)[:, np.newaxis]) if masked else None
    out, cache = attention_forward(inputs, mask=mask)
    G = rng.standard_normal(out.shape)
    grads_in, grads = attention_backward(G, cache)
    assert grads == {} and len(grads_in) == 3
    for index, d_input in enumerate(grads_in):
        assert d_input.shape == inputs[index].shape
        f = lambda X, k=index: float(np.sum(G * attention_forward(replaced(inputs, k, X),
                                                                  mask=mask)[0]))
        assert_gradient(f, d_input, inputs[index], rng)


def test_output_and_scores_backward_index_forms(rng):
    """Eqs. (5) and (6), first lines, by explicit loops over the indices."""
    n_q, n_k, d_k, d_v = 3, 4, 2, 5
    G, S, V = rng.standard_normal((n_q, d_v)), rng.random((n_q, n_k)), rng.standard_normal((n_k, d_v))
    dS, dV = output_backward(G, S, V)
    assert dS.shape == (n_q, n_k) and dV.shape == (n_k, d_v)
    for u in range(n_k):
        for j in range(d_v):
            assert dV[u, j] == pytest.approx(sum(G[t, j] * S[t, u] for t in range(n_q)), rel=EXACT_RTOL)
    for t in range(n_q):
        for u in range(n_k):
            assert dS[t, u] == pytest.approx(sum(G[t, j] * V[u, j] for j in range(d_v)), rel=EXACT_RTOL)
    dZ, Q = rng.standard_normal((n_q, n_k)), rng.standard_normal((n_q, d_k))
    K = rng.standard_normal((n_k, d_k))
    dQ, dK = scores_backward(dZ, Q, K)
    assert dQ.shape == Q.shape and dK.shape == K.shape
    for t in range(n_q):
        for j in range(d_k):
            expected = sum(dZ[t, u] * K[u, j] for u in range(n_k)) / math.sqrt(d_k)
            assert dQ[t, j] == pytest.approx(expected, rel=EXACT_RTOL)
    for u in range(n_k):
        for j in range(d_k):
            expected = sum(dZ[t, u] * Q[t, j] for t in range(n_q)) / math.sqrt(d_k)
            assert dK[u, j] == pytest.approx(expected, rel=EXACT_RTOL)


def test_attention_of_one_key_copies_its_value(rng):
    """With n_k = 1 the only weight is 1: every query gets the value, whatever Q and K."""
    Q, K, V = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 1, 4)), rng.standard_normal((2, 1, 5))
    out, cache = attention_forward((Q, K, V))
    np.testing.assert_array_equal(cache["S"], 1.0)
    np.testing.assert_allclose(out, np.repeat(V, 3, axis=1), rtol=EXACT_RTOL)
    (dQ, dK, _), _ = attention_backward(rng.standard_normal(out.shape), cache)
    np.testing.assert_array_equal(dQ, 0.0)
    np.testing.assert_array_equal(dK, 0.0)


def test_scaling_keeps_scores_of_unit_variance(rng):
    """Why 1/sqrt(d_k): entries of Q K^T of random unit-variance rows have variance d_k."""
    d_k = 256
    Q, K = rng.standard_normal((1, 400, d_k)), rng.standard_normal((1, 400, d_k))
    raw = Q @ np.swapaxes(K, -1, -2)
    # 160 000 scores: the sample variance is within 2 % of the true one (std error 0.35 %).
    assert np.var(raw) == pytest.approx(d_k, rel=0.02)
    assert np.var(raw / math.sqrt(d_k)) == pytest.approx(1.0, rel=0.02)


# --- masks, eq. (7) -------------------------------------------------------------------

def test_causal_mask_by_hand():
    np.testing.assert_array_equal(causal_mask(3), [[True, False, False],
                                                   [True, True, False],
                                                   [True, True, True]])
    assert causal_mask(1).shape == (1, 1)


def test_masked_softmax_zero_weights_and_the_allowed_softmax(rng):
    Z = rng.standard_normal((2, 4, 4))
    S, cache = masked_softmax_forward(Z, causal_mask(4))
    assert cache["S"] is S
    np.testing.assert_array_equal(S[:, ~causal_mask(4)], 0.0)          # exactly zero
    np.testing.assert_allclose(S.sum(axis=-1), 1.0, rtol=EXACT_RTOL)
    for t in range(4):           # the allowed part is the plain softmax of the allowed scores
        expected, _ = softmax_forward(Z[:, t:t + 1, :t + 1])
        np.testing.assert_allclose(S[:, t:t + 1, :t + 1], expected, rtol=EXACT_RTOL)
    # Eq. (7) with the Iverson bracket, entry by entry.
    for i, t, u in np.ndindex(*Z.shape):
        num = (u <= t) * math.exp(Z[i, t, u])
        den = sum((r <= t) * math.exp(Z[i, t, r]) for r in range(4))
        assert S[i, t, u] == pytest.approx(num / den, rel=EXACT_RTOL, abs=0.0)


def test_masked_scores_may_be_huge_and_change_nothing(rng):
    Z = rng.standard_normal((1, 3, 3))
    S, _ = masked_softmax_forward(Z, causal_mask(3))
    Z_bad = Z.copy()
    Z_bad[:, ~causal_mask(3)] = 1e250          # would overflow exp if it were not masked
    S_bad, _ = masked_softmax_forward(Z_bad, causal_mask(3))
    np.testing.assert_array_equal(S, S_bad)
    assert np.all(np.isfinite(S_bad))


def test_masked_entries_get_exactly_zero_gradient(rng):
    Z = rng.standard_normal((2, 5, 5))
    S, cache = masked_softmax_forward(Z, causal_mask(5))
    dZ, _ = softmax_backward(rng.standard_normal(Z.shape) * 1e3, cache)
    np.testing.assert_array_equal(dZ[:, ~causal_mask(5)], 0.0)
    assert np.all(np.isfinite(dZ))
    G = rng.standard_normal(Z.shape)
    dZ, _ = softmax_backward(G, cache)
    assert_gradient(lambda V: float(np.sum(G * masked_softmax_forward(V, causal_mask(5))[0])),
                    dZ, Z, rng)


def test_causal_attention_never_looks_ahead(rng):
    """Output t depends on keys and values 1..t only: exactly, and so does the gradient."""
    Q, K, V = random_qkv(rng, (2, 5, 5, 3, 4))
    out, cache = attention_forward((Q, K, V), mask=causal_mask(5))
    K2, V2 = K.copy(), V.copy()
    K2[:, 3:], V2[:, 3:] = rng.standard_normal((2, 2, 3)), rng.standard_normal((2, 2, 4))
    O2, _ = attention_forward((Q, K2, V2), mask=causal_mask(5))
    np.testing.assert_array_equal(O2[:, :3], out[:, :3])
    # The first output uses the first key and value only: its gradient reaches nothing else.
    G = np.zeros_like(out)
    G[:, 0] = rng.standard_normal((2, 4))
    (dQ, dK, dV), _ = attention_backward(G, cache)
    np.testing.assert_array_equal(dK[:, 1:], 0.0)
    np.testing.assert_array_equal(dV[:, 1:], 0.0)
    np.testing.assert_array_equal(dQ, 0.0)   # one allowed key: its weight is always 1


@pytest.mark.parametrize("mask_shape", [(4, 4), (1, 4, 4), (2, 4, 4)])
def test_mask_broadcasts_over_examples(rng, mask_shape):
    Z = rng.standard_normal((2, 4, 4))
    mask = np.broadcast_to(causal_mask(4), mask_shape)
    S, _ = masked_softmax_forward(Z, mask)
    S_ref, _ = masked_softmax_forward(Z, causal_mask(4))
    np.testing.assert_array_equal(S, S_ref)


def test_a_padding_mask_per_example(rng):
    """Example 1 has 2 real keys out of 3: the padded key gets weight 0 for every query."""
    Q, K, V = random_qkv(rng, (2, 3, 3, 2, 2))
    allowed = np.ones((2, 1, 3), dtype=bool)
    allowed[1, 0, 2] = False
    mask = np.broadcast_to(allowed, (2, 3, 3))
    out, cache = attention_forward((Q, K, V), mask=mask)
    np.testing.assert_array_equal(cache["S"][1, :, 2], 0.0)
    O_short, _ = attention_forward((Q[1:], K[1:, :2], V[1:, :2]))
    np.testing.assert_allclose(out[1:], O_short, rtol=EXACT_RTOL, atol=EXACT_ATOL)


# --- multi-head attention, eqs. (8)-(10) ----------------------------------------------

def test_split_and_merge_heads_are_inverse_reindexings(rng):
    """Eq. (8): entry (t, j) of head p is entry (t, (p - 1) d_k + j) of the full matrix."""
    A = rng.standard_normal((2, 3, 6))
    heads = split_heads(A, 3)
    assert heads.shape == (2, 3, 3, 2)
    for i, p, t, j in np.ndindex(*heads.shape):
        assert heads[i, p, t, j] == A[i, t, p * 2 + j]
    np.testing.assert_array_equal(merge_heads(heads), A)
    H = rng.standard_normal((2, 3, 4, 2))
    np.testing.assert_array_equal(split_heads(merge_heads(H), 3), H)


@pytest.mark.parametrize("shape", MHA_SHAPES)
@pytest.mark.parametrize("masked", [False, True])
def test_mha_forward_equals_the_sum_over_heads(rng, shape, masked):
    m, T, d_model, n_heads = shape
    A, params = rng.standard_normal((m, T, d_model)), random_params(rng, d_model)
    mask = causal_mask(T) if masked else None
    Z, _ = mha_forward(A, params, n_heads, mask)
    assert Z.shape == (m, T, d_model)
    np.testing.assert_allclose(Z, mha_forward_loop(A, params, n_heads, mask),
                               rtol=1e-10, atol=EXACT_ATOL)


def test_one_head_is_attention_between_projections(rng):
    A, params = rng.standard_normal((2, 3, 4)), random_params(rng, 4)
    Z, _ = mha_forward(A, params, 1)
    out, _ = attention_forward((A @ params["Wq"], A @ params["Wk"], A @ params["Wv"]))
    np.testing.assert_allclose(Z, out @ params["Wo"], rtol=1e-10, atol=EXACT_ATOL)


@pytest.mark.parametrize("shape", MHA_SHAPES)
@pytest.mark.parametrize("masked", [False, True])
def test_mha_backward_matches_finite_differences(rng, shape, masked):
    m, T, d_model, n_heads = shape
    A, params = rng.standard_normal((m, T, d_model)), random_params(rng, d_model)
    mask = causal_mask(T) if masked else None
    Z, cache = mha_forward(A, params, n_heads, mask)
    G = rng.standard_normal(Z.shape)
    dA, grads = mha_backward(G, cache)
    assert dA.shape == A.shape and set(grads) == set(params)
    assert_gradient(lambda X: float(np.sum(G * mha_forward(X, params, n_heads, mask)[0])),
                    dA, A, rng)
    for name, W in params.items():
        assert grads[name].shape == W.shape
        f = lambda X, k=name: float(np.sum(G * mha_forward(A, {**params, k: X}, n_heads, mask)[0]))
        assert_gradient(f, grads[name], W, rng)


# --- bad input ------------------------------------------------------------------------

QKV = (np.ones((1, 2, 3)), np.ones((1, 4, 3)), np.ones((1, 4, 5)))
GOOD_W = {name: np.eye(4) for name in ("Wq", "Wk", "Wv", "Wo")}


def _cache_of_attention():
    return attention_forward(QKV)[1]


def _cache_of_mha():
    return mha_forward(np.ones((1, 2, 4)), GOOD_W, 2)[1]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: softmax_forward(np.ones(3)), r"Z must have shape \(m, \.\.\., n_k\).*got shape \(3,\)"),
        (lambda: softmax_forward(np.ones((2, 0))), r"no empty axis, got shape \(2, 0\)"),
        (lambda: softmax_forward([[1.0, np.nan]]), r"Z must be finite"),
        (lambda: softmax_forward([["a"]]), r"Z must be an array of real numbers"),
        (lambda: softmax_forward([[1.0], [1.0, 2.0]]), r"Z must be a rectangular array"),
        (lambda: softmax_forward([[1e301, 0.0]]), r"Z may overflow float64"),
        (lambda: softmax_row_jacobian(np.ones((2, 2))), r"s must be one non-empty row"),
        (lambda: softmax_backward(np.ones((1, 3)), {"S": np.ones((1, 2)) / 2}),
         r"dS must have the shape of the layer's output \(1, 2\), got shape \(1, 3\)"),
        (lambda: softmax_backward(np.full((1, 2), 1e300), {"S": np.ones((1, 2)) / 2}),
         r"may overflow"),
        (lambda: softmax_backward_with_jacobians(np.ones(2), {"S": np.ones((1, 2)) / 2}),
         r"dS must have the shape"),
        (lambda: attention_forward(QKV[:2]), r"inputs must be the tuple \(Q, K, V\)"),
        (lambda: attention_forward(np.ones((3, 1, 2, 2))), r"inputs must be the tuple"),
        (lambda: attention_forward((np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 3)))),
         r"all be 3-D \(m, positions, width\) or all 4-D"),
        (lambda: attention_forward((np.ones((1, 2, 3)), np.ones((1, 4, 3)), np.ones((4, 5)))),
         r"all be 3-D"),
        (lambda: attention_forward((np.ones((1, 0, 3)), np.ones((1, 4, 3)), np.ones((1, 4, 5)))),
         r"no empty axis"),
        (lambda: attention_forward((np.ones((2, 2, 3)), np.ones((1, 4, 3)), np.ones((1, 4, 5)))),
         r"same leading axes as Q"),
        (lambda: attention_forward((np.ones((1, 2, 3)), np.ones((1, 4, 3)), np.ones((1, 3, 5)))),
         r"one value per key"),
        (lambda: attention_forward((np.ones((1, 2, 3)), np.ones((1, 4, 2)), np.ones((1, 4, 5)))),
         r"queries and keys need the same width d_k"),
        (lambda: attention_forward((np.full((1, 2, 3), 1e200), np.full((1, 4, 3), 1e200),
                                    np.ones((1, 4, 5)))), r"scores .* may overflow float64"),
        (lambda: attention_forward((np.ones((1, 2, 3)), np.ones((1, 4, 3)),
                                    np.full((1, 4, 5), 1e300))), r"output S V may overflow"),
        (lambda: attention_backward(np.ones((1, 2, 4)), _cache_of_attention()),
         r"dO must have the shape of the output \(1, 2, 5\), got shape \(1, 2, 4\)"),
        (lambda: attention_backward(np.full((1, 2, 5), 1e299), _cache_of_attention()),
         r"may overflow"),
        (lambda: attention_forward(QKV, mask=np.ones((2, 3), dtype=bool)),
         r"mask must have shape \(n_q, n_k\) = \(2, 4\) .* got shape \(2, 3\)"),
        (lambda: attention_forward(QKV, mask=np.ones((2, 2, 4), dtype=bool)),
         r"broadcasts to the scores' shape \(1, 2, 4\), got shape \(2, 2, 4\)"),
        (lambda: attention_forward(QKV, mask=np.ones(4, dtype=bool)), r"mask must have shape"),
        (lambda: attention_forward(QKV, mask=np.ones((1, 1, 2, 4), dtype=bool)), r"mask must have shape"),
        (lambda: attention_forward(QKV, mask=np.ones((2, 4))), r"mask must be a boolean array"),
        (lambda: masked_softmax_forward(np.ones((1, 2, 2)), np.array([[True, False], [False, False]])),
         r"every query must be allowed at least one key"),
        (lambda: causal_mask(0), r"n_q must be a positive integer"),
        (lambda: causal_mask(2.0), r"n_q must be a positive integer"),
        (lambda: causal_mask(True), r"n_q must be a positive integer"),
        (lambda: split_heads(np.ones((1, 2, 6)), 4), r"d_model divisible by n_heads = 4"),
        (lambda: split_heads(np.ones((2, 6)), 2), r"expected shape \(m, n_q, d_model\)"),
        (lambda: split_heads(np.ones((1, 2, 6)), 0), r"n_heads must be a positive integer"),
        (lambda: merge_heads(np.ones((1, 2, 6))), r"expected shape \(m, n_heads, n_q, d_k\)"),
        (lambda: mha_forward(np.ones((2, 4)), GOOD_W, 2), r"A must have shape \(m, n_q, d_model\)"),
        (lambda: mha_forward(np.ones((1, 2, 4)), GOOD_W, 3), r"divisible by n_heads = 3"),
        (lambda: mha_forward(np.ones((1, 2, 4)), GOOD_W, True), r"n_heads must be a positive"),
        (lambda: mha_forward(np.ones((1, 2, 4)), {"Wq": np.eye(4)}, 2), r"exactly the keys Wq, Wk, Wv, Wo"),
        (lambda: mha_forward(np.ones((1, 2, 4)), [np.eye(4)] * 4, 2), r"params must be a dict"),
        (lambda: mha_forward(np.ones((1, 2, 4)), {**GOOD_W, "Wk": np.eye(3)}, 2),
         r"Wk must have shape \(d_model, d_model\) = \(4, 4\), got shape \(3, 3\)"),
        (lambda: mha_forward(np.full((1, 2, 4), 1e200), {**GOOD_W, "Wq": np.full((4, 4), 1e200)}, 2),
         r"projections A W may overflow"),
        (lambda: mha_forward(np.full((1, 2, 4), 1e100), {**GOOD_W, "Wo": np.full((4, 4), 1e100)}, 2),
         r"output O W_o may overflow"),
        (lambda: mha_forward(np.ones((1, 3, 4)), GOOD_W, 2, np.ones((2, 2), dtype=bool)),
         r"mask must have shape"),
        (lambda: mha_backward(np.ones((1, 3, 4)), _cache_of_mha()),
         r"d_out must have the shape of the output \(1, 2, 4\), got shape \(1, 3, 4\)"),
        (lambda: mha_backward(np.full((1, 2, 4), 1e297), _cache_of_mha()),
         r"a gradient of multi-head attention may overflow"),
        (lambda: mha_forward_loop(np.ones((1, 2, 4)), GOOD_W, 3), r"divisible by n_heads = 3"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_extreme_but_valid_inputs_stay_finite_and_right(rng):
    """Scores of 1e4 and tiny inputs of 1e-300: finite results, no warning (they are errors)."""
    Q = np.array([[[100.0, 0.0]]])
    K = np.array([[[100.0, 0.0], [-100.0, 0.0]]])   # scores 1e4 / sqrt(2) and its negative
    V = np.array([[[1.0], [2.0]]])
    out, cache = attention_forward((Q, K, V))
    np.testing.assert_array_equal(out, [[[1.0]]])
    (dQ, dK, dV), _ = attention_backward(np.ones((1, 1, 1)), cache)
    assert all(np.all(np.isfinite(d)) for d in (dQ, dK, dV))
    tiny = [np.full(a.shape, 1e-300) for a in QKV]
    out, cache = attention_forward(tuple(tiny))
    np.testing.assert_allclose(out, 1e-300, rtol=EXACT_RTOL)
    A = np.full((1, 2, 4), 1e-300)
    Z, cache = mha_forward(A, GOOD_W, 2)
    dA, _ = mha_backward(np.ones_like(Z), cache)
    assert np.all(np.isfinite(Z)) and np.all(np.isfinite(dA))


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "layers/attention.md"

#: (n_q, n_k, d_k, d_v) of one example: a single entry, more keys than queries, and fewer.
FORMULA_SHAPES = [(1, 1, 1, 1), (3, 4, 2, 5), (4, 2, 3, 2)]

#: (T, d_model, n_heads) of one example for multi-head attention.
FORMULA_MHA_SHAPES = [(1, 2, 1), (3, 4, 2), (4, 6, 3)]


def _rows_softmax(Z):
    return softmax_forward(np.asarray(Z)[np.newaxis])[0][0]


def _attention_envs(rng, masked=False):
    """One example's attention, forward and backward, under the page's names."""
    for n_q, n_k, d_k, d_v in FORMULA_SHAPES:
        if masked:
            n_k = n_q
        Q, K, V = (rng.standard_normal((1, T, d)) for T, d in ((n_q, d_k), (n_k, d_k), (n_k, d_v)))
        mask = causal_mask(n_q) if masked else None
        out, cache = attention_forward((Q, K, V), mask=mask)
        G = rng.standard_normal(out.shape)
        (dQ, dK, dV), _ = attention_backward(G, cache)
        S = cache["S"][0]
        dS, _ = output_backward(G[0], S, V[0])
        dZ, _ = softmax_backward(dS, {"S": S})
        J = np.array([softmax_row_jacobian(s) for s in S])        # J[t][u, r]
        yield {"Q": Q[0], "K": K[0], "V": V[0], "Z": Q[0] @ K[0].T / math.sqrt(d_k), "S": S,
               "O": out[0], "G": G[0], "n_q": n_q, "n_k": n_k, "d_k": d_k, "d_v": d_v,
               "softmax": _rows_softmax, "J": J, "dS/dZ": J,
               "dLoss/dV": dV[0], "dLoss/dS": dS, "dLoss/dZ": dZ, "dLoss/dQ": dQ[0],
               "dLoss/dK": dK[0], "__ranges__": {"t": "n_q", "u": "n_k", "r": "n_k", "j": "d_v"}}


def _softmax_envs(rng):
    """The softmax layer alone: G is the upstream gradient of S."""
    for env in _attention_envs(rng):
        G = rng.standard_normal(env["S"].shape)
        dZ, _ = softmax_backward(G, {"S": env["S"]})
        yield {**env, "G": G, "dLoss/dZ": dZ}


def _scores_envs(rng):
    for env in _attention_envs(rng):
        yield {**env, "__ranges__": {**env["__ranges__"], "j": "d_k"}}


def _mha_envs(rng, masked=False):
    for T, d_model, n_heads in FORMULA_MHA_SHAPES:
        A, params = rng.standard_normal((1, T, d_model)), random_params(rng, d_model)
        mask = causal_mask(T) if masked else None
        out, cache = mha_forward(A, params, n_heads, mask)
        G = rng.standard_normal(out.shape)
        dA, grads = mha_backward(G, cache)
        d_k = d_model // n_heads
        Q, K, V = (A[0] @ params[name] for name in ("Wq", "Wk", "Wv"))
        dO = G[0] @ params["Wo"].T
        (dQ, dK, dV), _ = attention_backward(split_heads(dO[np.newaxis], n_heads), cache["att"])
        env = {"A": A[0], "Q": Q, "K": K, "V": V, "O": cache["O"][0], "G": G[0],
               "n_q": T, "d_model": d_model, "n_heads": n_heads, "d_k": d_k,
               "W_q": params["Wq"], "W_k": params["Wk"], "W_v": params["Wv"], "W_o": params["Wo"],
               "attention": lambda Q_, K_, V_, mask=mask: attention_forward(
                   (Q_[np.newaxis], K_[np.newaxis], V_[np.newaxis]), mask=mask)[0][0],
               "MHA": lambda A_, params=params, n_heads=n_heads, mask=mask: mha_forward(
                   A_[np.newaxis], params, n_heads, mask)[0][0],
               "dLoss/dW_o": grads["Wo"], "dLoss/dW_q": grads["Wq"], "dLoss/dW_k": grads["Wk"],
               "dLoss/dW_v": grads["Wv"], "dLoss/dO": dO, "dLoss/dA": dA[0],
               "dLoss/dQ": merge_heads(dQ)[0], "dLoss/dK": merge_heads(dK)[0],
               "dLoss/dV": merge_heads(dV)[0],
               "__ranges__": {"p": "n_heads", "t": "n_q", "j": "d_k", "c": "d_model"}}
        for p in range(1, n_heads + 1):         # head p on the page: column block p
            cols = slice((p - 1) * d_k, p * d_k)
            env[f"Q_{p}"], env[f"K_{p}"], env[f"V_{p}"] = Q[:, cols], K[:, cols], V[:, cols]
            env[f"O_{p}"] = cache["O"][0][:, cols]
            env[f"W_o,{p}"] = params["Wo"][cols, :]
            env[f"I_{p}"] = np.eye(d_model)[:, cols]
        yield env


FORMULAS = {
    "softmax-forward": Case(_attention_envs),
    "jacobian": Case(_attention_envs),
    "softmax-backward": Case(_softmax_envs),
    "attention-forward": Case(_attention_envs),
    "values-backward": Case(_attention_envs),
    "scores-backward": Case(_scores_envs),
    "mask": Case(lambda rng: _attention_envs(rng, masked=True)),
    "heads": Case(_mha_envs),
    "mha-forward": Case(lambda rng: [*_mha_envs(rng), *_mha_envs(rng, masked=True)]),
    "mha-backward": Case(lambda rng: [*_mha_envs(rng), *_mha_envs(rng, masked=True)]),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
