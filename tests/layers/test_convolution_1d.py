"""Tests for snippets/layers/convolution_1d.py (page docs/layers/convolution-1d.md)."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from snippets.layers.convolution_1d import (
    backward,
    bias_gradient,
    convolve1d,
    correlate1d,
    correlate1d_strided,
    dilate_and_pad,
    forward,
    input_gradient,
    kernel_gradient,
    output_size,
    pad,
    padded_input_gradient,
    padded_input_gradient_scatter,
    windows,
)

from checks import EXACT_ATOL, EXACT_RTOL, assert_gradient
from formulas import Case, formula_test

#: (m, c_in, c_out, w_in, w_ker, stride, padding): one channel and several, stride 1 to 3,
#: padding 0 to 2, a batch of one, a kernel as wide as the input, a kernel wider than the
#: input that fits only thanks to the padding, and strides that leave inputs unused.
SHAPES = [
    (1, 1, 1, 5, 3, 1, 0),
    (2, 3, 2, 9, 3, 2, 1),
    (3, 2, 4, 10, 4, 3, 2),
    (1, 2, 3, 7, 7, 1, 0),
    (2, 1, 2, 4, 5, 1, 1),
    (2, 2, 2, 8, 2, 3, 0),
    (1, 3, 1, 6, 1, 2, 0),
]


def make_layer(rng, m, c_in, c_out, w_in, w_ker):
    A = rng.standard_normal((m, c_in, w_in))
    params = {"K": rng.standard_normal((c_out, c_in, w_ker)), "b": rng.standard_normal(c_out)}
    return A, params


def forward_by_the_sum(A, K, b, stride, padding):
    """Eq. (5) entry by entry, 0-based: Z[i, o, p] = b[o] + sum_c sum_u K[o, c, u] A~[i, c, s p + u]."""
    m, c_in, w_in = A.shape
    c_out, _, w_ker = K.shape
    A_pad = np.zeros((m, c_in, w_in + 2 * padding))
    A_pad[:, :, padding : padding + w_in] = A
    w_out = (w_in + 2 * padding - w_ker) // stride + 1
    Z = np.zeros((m, c_out, w_out))
    for i in range(m):
        for o in range(c_out):
            for p in range(w_out):
                Z[i, o, p] = b[o] + sum(K[o, c, u] * A_pad[i, c, stride * p + u]
                                        for c in range(c_in) for u in range(w_ker))
    return Z


# --- one channel ------------------------------------------------------------------------

def test_a_filter_detects_a_rising_edge():
    """The example of the page: K = (-1, 1) answers 1 where the signal steps up, 0 elsewhere."""
    a = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(correlate1d(a, np.array([-1.0, 1.0])), [0, 0, 1, 0, 0])


def test_correlate_hand_computed():
    # a = (1, 2, 3, 4), K = (1, 0, -1): z_1 = 1 - 3, z_2 = 2 - 4.
    np.testing.assert_array_equal(correlate1d(np.array([1.0, 2, 3, 4]), np.array([1.0, 0, -1])),
                                  [-2.0, -2.0])


@pytest.mark.parametrize("w_in, w_ker", [(1, 1), (5, 3), (8, 8), (9, 2)])
def test_correlate_is_numpys_correlate_and_the_sum(rng, w_in, w_ker):
    """Eq. (1) against NumPy's np.correlate (mode "valid") and against the sum with 1-based indices."""
    a, K = rng.standard_normal(w_in), rng.standard_normal(w_ker)
    z = correlate1d(a, K)
    assert z.shape == (w_in - w_ker + 1,)
    np.testing.assert_allclose(z, np.correlate(a, K, mode="valid"), rtol=EXACT_RTOL, atol=EXACT_ATOL)
    for p in range(1, z.size + 1):
        expected = sum(K[u - 1] * a[p + u - 1 - 1] for u in range(1, w_ker + 1))
        assert z[p - 1] == pytest.approx(expected, rel=EXACT_RTOL, abs=EXACT_ATOL)


@pytest.mark.parametrize("w_in, w_ker", [(1, 1), (6, 3), (7, 4)])
def test_convolve_is_numpys_convolve_and_both_sides_of_the_equation(rng, w_in, w_ker):
    """Eq. (2): the textbook convolution (np.convolve) is the correlation with K reversed."""
    a, K = rng.standard_normal(w_in), rng.standard_normal(w_ker)
    y = convolve1d(a, K)
    np.testing.assert_allclose(y, np.convolve(a, K, mode="valid"), rtol=EXACT_RTOL, atol=EXACT_ATOL)
    for p in range(1, y.size + 1):
        left = sum(K[u - 1] * a[p + w_ker - u - 1] for u in range(1, w_ker + 1))
        right = sum(K[w_ker + 1 - u - 1] * a[p + u - 1 - 1] for u in range(1, w_ker + 1))
        assert left == pytest.approx(right, rel=EXACT_RTOL, abs=EXACT_ATOL)
        assert y[p - 1] == pytest.approx(left, rel=EXACT_RTOL, abs=EXACT_ATOL)


def test_convolution_and_correlation_differ_for_an_asymmetric_kernel():
    a, K = np.array([0.0, 0.0, 1.0, 1.0]), np.array([-1.0, 1.0])
    np.testing.assert_array_equal(correlate1d(a, K), [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(convolve1d(a, K), [0.0, -1.0, 0.0])


def test_pad_adds_zeros_at_both_ends_of_the_last_axis():
    np.testing.assert_array_equal(pad(np.array([1.0, 2.0]), 2), [0, 0, 1, 2, 0, 0])
    padded = pad(np.ones((2, 3, 4)), 1)
    assert padded.shape == (2, 3, 6)
    np.testing.assert_array_equal(padded[..., 1:5], 1.0)
    np.testing.assert_array_equal(padded[..., [0, 5]], 0.0)
    np.testing.assert_array_equal(pad(np.array([3.0]), 0), [3.0])


def test_strided_hand_computed():
    # a = (1, 2, 3, 4, 5), padding 1: a~ = (0, 1, 2, 3, 4, 5, 0); K = (1, 1, 1), stride 2:
    # windows start at 1, 3, 5 (1-based): 0+1+2, 2+3+4, 4+5+0.
    z = correlate1d_strided(np.array([1.0, 2, 3, 4, 5]), np.ones(3), stride=2, padding=1)
    np.testing.assert_array_equal(z, [3.0, 9.0, 9.0])


@pytest.mark.parametrize("w_in, w_ker, stride, padding", [(5, 3, 1, 0), (9, 3, 2, 1), (4, 5, 3, 2)])
def test_strided_is_the_sum_over_the_padded_signal(rng, w_in, w_ker, stride, padding):
    """Eq. (3): z_p = sum_u K_u a~_(s(p-1)+u) with a~ the padded signal, 1-based indices."""
    a, K = rng.standard_normal(w_in), rng.standard_normal(w_ker)
    z = correlate1d_strided(a, K, stride, padding)
    a_pad = pad(a, padding)
    np.testing.assert_array_equal(a_pad[padding : padding + w_in], a)   # a~_(zeta + r) = a_r
    assert z.size == output_size(w_in, w_ker, stride, padding)
    for p in range(1, z.size + 1):
        expected = sum(K[u - 1] * a_pad[stride * (p - 1) + u - 1] for u in range(1, w_ker + 1))
        assert z[p - 1] == pytest.approx(expected, rel=EXACT_RTOL, abs=EXACT_ATOL)
    if stride == 1 and padding == 0:
        np.testing.assert_allclose(z, correlate1d(a, K), rtol=EXACT_RTOL, atol=EXACT_ATOL)


# --- the output size --------------------------------------------------------------------

@pytest.mark.parametrize(
    "w_in, w_ker, stride, padding, expected",
    [(5, 3, 1, 0, 3), (5, 3, 2, 0, 2), (5, 3, 2, 1, 3), (10, 4, 3, 2, 4), (7, 7, 1, 0, 1),
     (4, 5, 1, 1, 2), (6, 2, 3, 0, 2), (32, 3, 1, 1, 32), (32, 3, 2, 1, 16)],
)
def test_output_size_hand_computed(w_in, w_ker, stride, padding, expected):
    assert output_size(w_in, w_ker, stride, padding) == expected


@pytest.mark.parametrize("w_in", range(1, 9))
@pytest.mark.parametrize("w_ker", range(1, 5))
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("padding", [0, 1, 2])
def test_output_size_counts_the_positions_that_fit(w_in, w_ker, stride, padding):
    """Eq. (4): the floor counts the starts s(p-1) + 1 whose window ends inside the padded input."""
    if w_ker > w_in + 2 * padding:
        return
    fits = [p for p in range(1, 100) if stride * (p - 1) + w_ker <= w_in + 2 * padding]
    assert output_size(w_in, w_ker, stride, padding) == len(fits)


# --- the layer: forward ---------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
def test_forward_is_the_sum_of_eq_5(rng, shape):
    m, c_in, c_out, w_in, w_ker, stride, padding = shape
    A, params = make_layer(rng, m, c_in, c_out, w_in, w_ker)
    Z, _ = forward(A, params, stride, padding)
    assert Z.shape == (m, c_out, output_size(w_in, w_ker, stride, padding))
    np.testing.assert_allclose(Z, forward_by_the_sum(A, params["K"], params["b"], stride, padding),
                               rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_windows_are_the_slices_under_the_kernel(rng):
    A_pad = rng.standard_normal((2, 3, 9))
    P = windows(A_pad, 3, 2)
    assert P.shape == (2, 3, 4, 3)
    for p in range(4):
        np.testing.assert_array_equal(P[:, :, p, :], A_pad[:, :, 2 * p : 2 * p + 3])


def test_one_channel_layer_is_the_one_channel_correlation(rng):
    a, K = rng.standard_normal(9), rng.standard_normal(3)
    Z, _ = forward(a[None, None, :], {"K": K[None, None, :], "b": np.zeros(1)}, 2, 1)
    np.testing.assert_allclose(Z[0, 0], correlate1d_strided(a, K, 2, 1), rtol=EXACT_RTOL,
                               atol=EXACT_ATOL)


def test_forward_hand_computed_two_channels():
    # Two input channels, one filter: the first channel's difference plus the second's sum.
    A = np.array([[[1.0, 2.0, 4.0], [1.0, 1.0, 1.0]]])            # (1, 2, 3)
    K = np.array([[[-1.0, 1.0], [1.0, 1.0]]])                      # (1, 2, 2)
    Z, _ = forward(A, {"K": K, "b": np.array([0.5])})
    np.testing.assert_array_equal(Z, [[[(2 - 1) + 2 + 0.5, (4 - 2) + 2 + 0.5]]])


# --- the layer: backward ----------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
def test_every_gradient_matches_central_differences(rng, shape):
    """Input, kernel and bias, with a random upstream gradient G: sum(G * Z) differentiated."""
    m, c_in, c_out, w_in, w_ker, stride, padding = shape
    A, params = make_layer(rng, m, c_in, c_out, w_in, w_ker)
    Z, cache = forward(A, params, stride, padding)
    G = rng.standard_normal(Z.shape)
    dA, grads = backward(G, cache)
    assert dA.shape == A.shape and set(grads) == {"K", "b"}
    for key in grads:
        assert grads[key].shape == params[key].shape
    s = lambda A_, p_: float(np.sum(G * forward(A_, p_, stride, padding)[0]))
    assert_gradient(lambda V: s(V, params), dA, A, rng)
    assert_gradient(lambda V: s(A, {**params, "K": V}), grads["K"], params["K"], rng)
    assert_gradient(lambda V: s(A, {**params, "b": V}), grads["b"], params["b"], rng)


def test_bias_gradient_sums_over_examples_and_positions(rng):
    """Eq. (6) with explicit loops."""
    G = rng.standard_normal((3, 2, 5))
    db = bias_gradient(G)
    for o in range(2):
        assert db[o] == pytest.approx(sum(G[i, o, p] for i in range(3) for p in range(5)),
                                      rel=EXACT_RTOL)


@pytest.mark.parametrize("shape", SHAPES)
def test_kernel_gradient_is_the_sum_of_eq_7(rng, shape):
    m, c_in, c_out, w_in, w_ker, stride, padding = shape
    A, params = make_layer(rng, m, c_in, c_out, w_in, w_ker)
    Z, (P, *_) = forward(A, params, stride, padding)
    G = rng.standard_normal(Z.shape)
    dK = kernel_gradient(P, G)
    A_pad = pad(A, padding)
    for o, c, u in np.ndindex(dK.shape):
        expected = sum(G[i, o, p] * A_pad[i, c, stride * p + u]
                       for i in range(m) for p in range(Z.shape[2]))
        assert dK[o, c, u] == pytest.approx(expected, rel=EXACT_RTOL, abs=EXACT_ATOL)


@pytest.mark.parametrize("w_in, w_ker, padding", [(6, 3, 0), (5, 2, 1)])
def test_kernel_gradient_is_the_input_correlated_with_g(rng, w_in, w_ker, padding):
    """With stride 1, one example and one channel, eq. (7) slides G over A~ as eq. (1) slides K."""
    A, params = make_layer(rng, 1, 1, 1, w_in, w_ker)
    Z, cache = forward(A, params, 1, padding)
    G = rng.standard_normal(Z.shape)
    _, grads = backward(G, cache)
    np.testing.assert_allclose(grads["K"][0, 0], correlate1d(pad(A[0, 0], padding), G[0, 0]),
                               rtol=EXACT_RTOL, atol=EXACT_ATOL)


@pytest.mark.parametrize("shape", SHAPES)
def test_scatter_is_the_sum_with_the_bracket_of_eq_8(rng, shape):
    m, c_in, c_out, w_in, w_ker, stride, padding = shape
    _, params = make_layer(rng, m, c_in, c_out, w_in, w_ker)
    K = params["K"]
    w_pad, w_out = w_in + 2 * padding, output_size(w_in, w_ker, stride, padding)
    G = rng.standard_normal((m, c_out, w_out))
    got = padded_input_gradient_scatter(G, K, stride, w_pad)
    assert got.shape == (m, c_in, w_pad)
    for i, c, r in np.ndindex(got.shape):      # 0-based: the bracket is [s p + u = r]
        expected = sum(G[i, o, p] * K[o, c, u] * (stride * p + u == r)
                       for o in range(c_out) for p in range(w_out) for u in range(w_ker))
        assert got[i, c, r] == pytest.approx(expected, rel=EXACT_RTOL, abs=EXACT_ATOL)


@pytest.mark.parametrize("shape", SHAPES)
def test_full_convolution_with_the_flipped_kernel_equals_the_scatter(rng, shape):
    """Eq. (10) against eq. (8), then the crop of eq. (11): the operation and the
    index-by-index sum agree on every padded position."""
    m, c_in, c_out, w_in, w_ker, stride, padding = shape
    _, params = make_layer(rng, m, c_in, c_out, w_in, w_ker)
    w_out = output_size(w_in, w_ker, stride, padding)
    G = rng.standard_normal((m, c_out, w_out))
    scatter = padded_input_gradient_scatter(G, params["K"], stride, w_in + 2 * padding)
    full = padded_input_gradient(G, params["K"], stride, w_in + 2 * padding)
    np.testing.assert_allclose(full, scatter, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    dA = input_gradient(G, params["K"], stride, padding, w_in)
    assert dA.shape == (m, c_in, w_in)
    np.testing.assert_allclose(dA, scatter[:, :, padding : padding + w_in], rtol=EXACT_RTOL,
                               atol=EXACT_ATOL)


def test_full_convolution_one_channel_is_numpys_full_convolve(rng):
    """Stride 1, no padding, one channel: dL/da is np.convolve(g, K, "full")."""
    a, K = rng.standard_normal(7), rng.standard_normal(3)
    Z, cache = forward(a[None, None, :], {"K": K[None, None, :], "b": np.zeros(1)})
    g = rng.standard_normal(Z.shape[2])
    dA, _ = backward(g[None, None, :], cache)
    np.testing.assert_allclose(dA[0, 0], np.convolve(g, K, mode="full"), rtol=EXACT_RTOL,
                               atol=EXACT_ATOL)


def test_dilate_and_pad_hand_computed():
    # G = (1, 2, 3), stride 2, w_ker = 3, w_pad = 7: w_ker - 1 = 2 zeros, then 1 0 2 0 3,
    # then zeros up to w_pad + w_ker - 1 = 9 entries.
    G_tilde = dilate_and_pad(np.array([[[1.0, 2.0, 3.0]]]), 2, 3, 7)
    np.testing.assert_array_equal(G_tilde, [[[0, 0, 1, 0, 2, 0, 3, 0, 0]]])


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_dilated_entries_sit_at_w_ker_plus_s_times_p_minus_1(rng, stride):
    """Eq. (9), 1-based: G~_(w_ker + s(p-1)) = G_p, and every other entry is zero."""
    G = rng.standard_normal((2, 3, 4))
    w_ker, w_pad = 3, 3 + stride * 3 + 2
    G_tilde = dilate_and_pad(G, stride, w_ker, w_pad)
    assert G_tilde.shape == (2, 3, w_pad + w_ker - 1)
    hit = [w_ker + stride * (p - 1) - 1 for p in range(1, 5)]
    np.testing.assert_array_equal(G_tilde[:, :, hit], G)
    assert np.count_nonzero(np.delete(G_tilde, hit, axis=2)) == 0


def test_inputs_no_window_reaches_get_zero_gradient(rng):
    # w_in = 6, w_ker = 2, stride 3: the windows cover positions 1-2 and 4-5 (1-based), so
    # positions 3 and 6 never reach the output.
    A, params = make_layer(rng, 2, 2, 3, 6, 2)
    Z, cache = forward(A, params, stride=3)
    dA, _ = backward(rng.standard_normal(Z.shape), cache)
    np.testing.assert_array_equal(dA[:, :, [2, 5]], 0.0)
    assert np.all(dA[:, :, [0, 1, 3, 4]] != 0.0)


# --- extreme values ---------------------------------------------------------------------

def test_huge_and_tiny_inputs_give_correct_finite_results():
    A = np.full((1, 1, 4), 1e300)
    Z, cache = forward(A, {"K": np.array([[[0.5, 0.25]]]), "b": np.zeros(1)})
    np.testing.assert_array_equal(Z, 0.75e300)
    dA, grads = backward(np.ones_like(Z), cache)
    np.testing.assert_array_equal(dA, [[[0.5, 0.75, 0.75, 0.25]]])
    np.testing.assert_array_equal(grads["K"], [[[3e300, 3e300]]])
    tiny = correlate1d(np.full(3, 1e-300), np.ones(2))
    np.testing.assert_array_equal(tiny, [2e-300, 2e-300])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: forward(np.full((1, 1, 3), 1e300), {"K": np.full((1, 1, 2), 1e10), "b": np.zeros(1)}),
         r"the output Z could overflow float64"),
        (lambda: correlate1d(np.full(3, 1e200), np.full(2, 1e200)), r"the correlation could overflow"),
        (lambda: bias_gradient(np.full((4, 1, 3), 1e306)), r"the bias gradient could overflow"),
        (lambda: kernel_gradient(np.full((2, 1, 2, 2), 1e300), np.full((2, 1, 2), 1e10)),
         r"the kernel gradient could overflow"),
        (lambda: input_gradient(np.full((1, 1, 2), 1e300), np.full((1, 1, 2), 1e10), 1, 0, 3),
         r"the input gradient could overflow"),
    ],
)
def test_sums_that_would_overflow_raise_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- bad input --------------------------------------------------------------------------

GOOD_A = np.ones((2, 3, 5))
GOOD = {"K": np.ones((4, 3, 2)), "b": np.zeros(4)}


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: forward(np.ones((3, 5)), GOOD), r"A must be a non-empty 3-D array \(m, c_in, w_in\), "
                                                 r"got shape \(3, 5\)"),
        (lambda: forward(np.ones((0, 3, 5)), GOOD), r"A must be a non-empty 3-D array"),
        (lambda: forward(GOOD_A, {"K": np.ones((4, 3)), "b": np.zeros(4)}),
         r"K must be a non-empty 3-D array \(c_out, c_in, w_ker\)"),
        (lambda: forward(GOOD_A, {"K": np.ones((4, 2, 2)), "b": np.zeros(4)}),
         r"the kernel expects c_in = 2 input channels, but A has 3"),
        (lambda: forward(GOOD_A, {"K": np.ones((4, 3, 2)), "b": np.zeros(3)}),
         r"b must have shape \(c_out,\) = \(4,\), got \(3,\)"),
        (lambda: forward(GOOD_A, {"K": np.ones((4, 3, 2))}), r'params must be a dict with keys "K" and "b"'),
        (lambda: forward(GOOD_A, [np.ones((4, 3, 2)), np.zeros(4)]), r"params must be a dict.*got list"),
        (lambda: forward(GOOD_A, {"K": np.ones((4, 3, 8)), "b": np.zeros(4)}, padding=1),
         r"the kernel \(width 8\) is larger than the padded input \(width 5 \+ 2 \* 1 = 7\)"),
        (lambda: forward(GOOD_A, GOOD, stride=0), r"the stride must be a positive integer, got 0"),
        (lambda: forward(GOOD_A, GOOD, stride=1.5), r"the stride must be a positive integer"),
        (lambda: forward(GOOD_A, GOOD, stride=True), r"the stride must be a positive integer"),
        (lambda: forward(GOOD_A, GOOD, padding=-1), r"the padding must be a non-negative integer, got -1"),
        (lambda: forward(np.full((2, 3, 5), np.nan), GOOD), r"A must be finite"),
        (lambda: forward(np.array([[["a"]]]), GOOD), r"A must be an array of real numbers"),
        (lambda: forward(GOOD_A, {"K": np.ones((4, 3, 2)), "b": np.array([np.inf, 0, 0, 0])}),
         r"b must be finite"),
        (lambda: backward(np.ones((2, 4, 3)), forward(GOOD_A, GOOD)[1]),
         r"dZ must have the shape of the output Z, \(2, 4, 4\), got \(2, 4, 3\)"),
        (lambda: correlate1d(np.ones(3), np.ones(4)), r"the kernel \(width 4\) is larger than the padded"),
        (lambda: correlate1d(np.ones((1, 3)), np.ones(2)), r"a must be a non-empty 1-D array \(w_in,\)"),
        (lambda: convolve1d(np.ones(3), np.ones((1, 2))), r"K must be a non-empty 1-D array \(w_ker,\)"),
        (lambda: correlate1d_strided(np.ones(3), np.ones(2), stride=-2), r"the stride must be a positive"),
        (lambda: pad(np.ones(3), 0.5), r"the padding must be a non-negative integer"),
        (lambda: output_size(5, 0), r"w_in and w_ker must be positive integers, got 5 and 0"),
        (lambda: output_size(5.0, 2), r"w_in and w_ker must be positive integers"),
        (lambda: output_size(3, 4), r"is larger than the padded input"),
        (lambda: bias_gradient(np.ones((2, 3))), r"dZ must be a non-empty 3-D array \(m, c_out, w_out\)"),
        (lambda: kernel_gradient(np.ones((2, 3, 4)), np.ones((2, 1, 4))),
         r"P must be a non-empty 4-D array \(m, c_in, w_out, w_ker\)"),
        (lambda: kernel_gradient(np.ones((2, 3, 4, 2)), np.ones((2, 1, 3))),
         r"must agree in m and w_out, got shapes \(2, 3, 4, 2\) and \(2, 1, 3\)"),
        (lambda: padded_input_gradient_scatter(np.ones((1, 2, 3)), np.ones((3, 1, 2)), 1, 5),
         r"dZ has 2 channels but K has c_out = 3"),
        (lambda: padded_input_gradient_scatter(np.ones((1, 2, 3)), np.ones((2, 1, 2)), 2, 5),
         r"w_out = 3 positions of a kernel of width 2 with stride 2 do not fit .* width 5"),
        (lambda: padded_input_gradient_scatter(np.ones((1, 2, 3)), np.ones((2, 1, 2)), 0, 5),
         r"the stride must be a positive integer"),
        (lambda: input_gradient(np.ones((1, 2, 3)), np.ones((2, 1, 2)), 1, -1, 4),
         r"the padding must be a non-negative integer"),
        (lambda: input_gradient(np.ones((1, 2, 3)), np.ones((2, 1, 2)), 1, 0, 3.0),
         r"do not fit in a padded input of width 3\.0"),
        (lambda: dilate_and_pad(np.ones((1, 1, 3)), 2, 3, 6), r"do not fit in a padded input of width 6"),
        (lambda: padded_input_gradient(np.ones((1, 2, 3)), np.ones((2, 1, 2)), 1, 3),
         r"do not fit in a padded input of width 3"),
        (lambda: dilate_and_pad(np.ones((1, 1, 3)), 2, 7, 6), r"is larger than the padded input"),
        (lambda: dilate_and_pad(np.ones((1, 3)), 2, 2, 6), r"dZ must be a non-empty 3-D array"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- every display formula, read from the page as displayed (tests/formulas.py) ------------

PAGE = "layers/convolution-1d.md"

#: Small layers for the formula reader, which evaluates every sum entry by entry: a batch of
#: one with one channel, several channels with stride 2 and padding 1, and stride 3 with a
#: kernel wider than the input.
FORMULA_SHAPES = [(1, 1, 1, 5, 3, 1, 0), (2, 3, 2, 7, 3, 2, 1), (1, 2, 2, 4, 5, 3, 1)]


def _signal_envs(rng):
    for w_in, w_ker in [(6, 3), (5, 1), (4, 4)]:
        a, K = rng.standard_normal(w_in), rng.standard_normal(w_ker)
        yield {"a": a, "K": K, "z": correlate1d(a, K), "w_in": w_in, "w_ker": w_ker,
               "__ranges__": {"p": w_in - w_ker + 1}}


def _strided_envs(rng):
    for w_in, w_ker, s, zeta in [(5, 3, 1, 0), (9, 3, 2, 1), (4, 5, 3, 2)]:
        a, K = rng.standard_normal(w_in), rng.standard_normal(w_ker)
        yield {"a": a, "K": K, "a_tilde": pad(a, zeta), "s": s, "zeta": zeta, "w_ker": w_ker,
               "z": correlate1d_strided(a, K, s, zeta),
               "__ranges__": {"r": w_in, "p": output_size(w_in, w_ker, s, zeta)}}


def _size_envs(rng):
    for w_in, w_ker, s, zeta in [(5, 3, 1, 0), (5, 3, 2, 0), (5, 3, 2, 1), (10, 4, 3, 2),
                                 (7, 7, 1, 0), (4, 5, 1, 1), (6, 2, 3, 0), (32, 3, 2, 1)]:
        yield {"w_out": output_size(w_in, w_ker, s, zeta), "w_in": w_in, "w_ker": w_ker,
               "s": s, "zeta": zeta}


def _slopes(f, x):
    """Jacobian of a linear f by differences with step 1 (exact for a linear function up to
    rounding): entry [out..., in...] is d f[out] / d x[in]."""
    cols = []
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = 1.0
        cols.append((f(x + e) - f(x - e)) / 2.0)
    return np.stack(cols, axis=-1).reshape(*cols[0].shape, *x.shape)


def _z_of_K(A, b, s, zeta, K):
    return forward(A, {"K": K, "b": b}, s, zeta)[0]


def _z_of_b(A, K, s, zeta, b):
    return forward(A, {"K": K, "b": b}, s, zeta)[0]


def _z_of_A_pad(K, b, s, A_pad):
    """Z as a function of the padded input: the layer without padding, applied to A~."""
    return forward(A_pad, {"K": K, "b": b}, s, 0)[0]


def _layer_envs(rng, full=False):
    """The layer's values and gradients, with the local slopes dZ/db, dZ/dK and dZ/dA~
    measured on the code by differences; dL/dA~ from the scatter of eq. (8), or from the
    full convolution of eq. (10) when full is true."""
    for m, c_in, c_out, w_in, w_ker, s, zeta in FORMULA_SHAPES:
        A, params = make_layer(rng, m, c_in, c_out, w_in, w_ker)
        K, b = params["K"], params["b"]
        Z, cache = forward(A, params, s, zeta)
        G = rng.standard_normal(Z.shape)
        dA, grads = backward(G, cache)
        A_pad, w_pad, w_out = pad(A, zeta), w_in + 2 * zeta, Z.shape[2]
        route = padded_input_gradient if full else padded_input_gradient_scatter
        # dZ[i, o, p] / dK[o', c, u] is zero unless o' = o: the reader takes the o' = o part
        dZ_dK = np.einsum("iopocu->iopcu", _slopes(partial(_z_of_K, A, b, s, zeta), K))
        yield {
            "A": A, "A_tilde": A_pad, "K": K, "b": b, "Z": Z, "G": G, "s": s, "zeta": zeta,
            "m": m, "c_in": c_in, "c_out": c_out, "w_in": w_in, "w_ker": w_ker, "w_out": w_out,
            "db": grads["b"], "dK": grads["K"], "dA": dA,
            "dA_tilde": route(G, K, s, w_pad),
            "G_tilde": dilate_and_pad(G, s, w_ker, w_pad),
            "dZ/db": np.einsum("iopo->iop", _slopes(partial(_z_of_b, A, K, s, zeta), b)),
            "dZ/dK": dZ_dK,
            "dZ/dA_tilde": np.einsum("iopicr->iopcr",
                                     _slopes(partial(_z_of_A_pad, K, b, s), A_pad)),
            "__ranges__": {"c": c_in, "o": c_out, "p": w_out, "u": w_ker,
                           "r": w_in if full == "crop" else w_pad},
        }


FORMULAS = {
    "correlate": Case(_signal_envs),
    "convolve": Case(_signal_envs),
    "stride-padding": Case(_strided_envs),
    "output-size": Case(_size_envs),
    "forward": Case(_layer_envs),
    "bias-gradient": Case(_layer_envs),
    "kernel-gradient": Case(_layer_envs),
    "input-gradient-scatter": Case(_layer_envs),
    "dilate": Case(_layer_envs),
    "full-convolution": Case(lambda rng: _layer_envs(rng, full=True)),
    "input-gradient": Case(lambda rng: _layer_envs(rng, full="crop")),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
