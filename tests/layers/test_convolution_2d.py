"""Tests for snippets/layers/convolution_2d.py (page docs/layers/convolution-2d.md)."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from snippets.layers import convolution_1d
from snippets.layers.convolution_2d import (
    backward,
    backward_loop,
    bias_gradient,
    dilate_and_pad,
    forward,
    forward_loop,
    input_gradient,
    kernel_gradient,
    output_shape,
    pad,
    padded_input_gradient,
    patches,
)

from checks import EXACT_ATOL, EXACT_RTOL, assert_gradient
from formulas import Case, formula_test

#: (m, c_in, c_out, h_in, w_in, h_ker, w_ker, stride, padding): a batch of one, one and
#: several channels, square and oblong inputs and kernels, stride 1 to 3, padding 0 to 2, a
#: kernel as large as the input, and strides that leave rows and columns unused.
SHAPES = [
    (1, 1, 1, 4, 4, 2, 2, 1, 0),
    (2, 3, 2, 5, 6, 3, 3, 2, 1),
    (1, 2, 3, 7, 5, 3, 2, 3, 2),
    (3, 1, 2, 3, 3, 3, 3, 1, 0),
    (2, 2, 2, 6, 4, 1, 3, 2, 1),
    (1, 3, 1, 3, 4, 4, 5, 1, 1),
]


def make_layer(rng, m, c_in, c_out, h_in, w_in, h_ker, w_ker):
    A = rng.standard_normal((m, c_in, h_in, w_in))
    params = {"K": rng.standard_normal((c_out, c_in, h_ker, w_ker)),
              "b": rng.standard_normal(c_out)}
    return A, params


# --- padding and output size ---------------------------------------------------------------

def test_pad_surrounds_the_image_with_zeros(rng):
    A = rng.standard_normal((2, 3, 4, 5))
    A_pad = pad(A, 2)
    assert A_pad.shape == (2, 3, 8, 9)
    np.testing.assert_array_equal(A_pad[:, :, 2:6, 2:7], A)     # A~_(zeta+r, zeta+t) = A_(r, t)
    A_pad[:, :, 2:6, 2:7] = 0.0
    assert np.count_nonzero(A_pad) == 0


@pytest.mark.parametrize(
    "sizes, expected",
    [((4, 4, 2, 2, 1, 0), (3, 3)), ((5, 6, 3, 3, 2, 1), (3, 3)), ((7, 5, 3, 2, 3, 2), (3, 3)),
     ((32, 32, 3, 3, 1, 1), (32, 32)), ((8, 8, 3, 3, 1, 1), (8, 8)), ((28, 28, 5, 5, 2, 0), (12, 12))],
)
def test_output_shape_hand_computed(sizes, expected):
    assert output_shape(*sizes) == expected


@pytest.mark.parametrize("shape", SHAPES)
def test_output_shape_is_the_1d_size_on_each_axis(shape):
    _, _, _, h_in, w_in, h_ker, w_ker, stride, padding = shape
    assert output_shape(h_in, w_in, h_ker, w_ker, stride, padding) == (
        convolution_1d.output_size(h_in, h_ker, stride, padding),
        convolution_1d.output_size(w_in, w_ker, stride, padding))


# --- forward ---------------------------------------------------------------------------------

def test_forward_hand_computed():
    # A 3 x 3 image with a vertical edge; the filter [[-1, 1]] answers 1 on the edge.
    A = np.array([[[[0.0, 1.0, 1.0], [0.0, 1.0, 1.0], [0.0, 1.0, 1.0]]]])
    params = {"K": np.array([[[[-1.0, 1.0]]]]), "b": np.zeros(1)}
    for layer in (forward, forward_loop):
        Z, _ = layer(A, params)
        np.testing.assert_array_equal(Z, [[[[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]]])


def test_forward_hand_computed_with_channels_stride_and_padding():
    # One 2 x 2 image of two channels, padding 1, a 2 x 2 kernel of ones on channel 0 and
    # zeros on channel 1, stride 2, bias 1: the padded channel 0 is
    # [[0 0 0 0], [0 1 2 0], [0 3 4 0], [0 0 0 0]], and its four 2 x 2 windows at stride 2
    # each hold one entry.
    A = np.stack([np.array([[1.0, 2.0], [3.0, 4.0]]), np.full((2, 2), 9.0)])[None]
    K = np.stack([np.ones((2, 2)), np.zeros((2, 2))])[None]
    Z, _ = forward(A, {"K": K, "b": np.array([1.0])}, stride=2, padding=1)
    np.testing.assert_array_equal(Z, [[[[2.0, 3.0], [4.0, 5.0]]]])


@pytest.mark.parametrize("shape", SHAPES)
def test_forward_loop_is_the_sum_of_eq_2(rng, shape):
    m, c_in, c_out, h_in, w_in, h_ker, w_ker, s, padding = shape
    A, params = make_layer(rng, m, c_in, c_out, h_in, w_in, h_ker, w_ker)
    K, b = params["K"], params["b"]
    Z, _ = forward_loop(A, params, s, padding)
    A_pad = pad(A, padding)
    for i, o, p, q in np.ndindex(Z.shape):    # 1-based indices, as on the page
        p1, q1 = p + 1, q + 1
        expected = b[o] + sum(K[o, c, u - 1, v - 1]
                              * A_pad[i, c, s * (p1 - 1) + u - 1, s * (q1 - 1) + v - 1]
                              for c in range(c_in) for u in range(1, h_ker + 1)
                              for v in range(1, w_ker + 1))
        assert Z[i, o, p, q] == pytest.approx(expected, rel=EXACT_RTOL, abs=EXACT_ATOL)


@pytest.mark.parametrize("shape", SHAPES)
def test_patches_are_the_windows_of_eq_3(rng, shape):
    m, c_in, _, h_in, w_in, h_ker, w_ker, s, padding = shape
    A_pad = pad(rng.standard_normal((m, c_in, h_in, w_in)), padding)
    P = patches(A_pad, h_ker, w_ker, s)
    h_out, w_out = output_shape(h_in, w_in, h_ker, w_ker, s, padding)
    assert P.shape == (m, c_in, h_out, w_out, h_ker, w_ker)
    for p, q in np.ndindex(h_out, w_out):
        np.testing.assert_array_equal(P[:, :, p, q], A_pad[:, :, s * p : s * p + h_ker,
                                                              s * q : s * q + w_ker])
    assert np.shares_memory(P, A_pad)          # a view: nothing was copied


@pytest.mark.parametrize("shape", SHAPES)
def test_vectorised_forward_equals_the_loop(rng, shape):
    m, c_in, c_out, h_in, w_in, h_ker, w_ker, s, padding = shape
    A, params = make_layer(rng, m, c_in, c_out, h_in, w_in, h_ker, w_ker)
    Z, _ = forward(A, params, s, padding)
    Z_loop, _ = forward_loop(A, params, s, padding)
    assert Z.shape == (m, c_out, *output_shape(h_in, w_in, h_ker, w_ker, s, padding))
    np.testing.assert_allclose(Z, Z_loop, rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_one_row_images_are_the_1d_layer(rng):
    A, params = make_layer(rng, 2, 3, 2, 1, 9, 1, 3)
    Z, _ = forward(A, params, stride=2)
    Z1, _ = convolution_1d.forward(A[:, :, 0, :], {"K": params["K"][:, :, 0, :], "b": params["b"]},
                                   stride=2)
    np.testing.assert_allclose(Z[:, :, 0, :], Z1, rtol=EXACT_RTOL, atol=EXACT_ATOL)


# --- backward --------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layer", [(forward, backward), (forward_loop, backward_loop)],
                         ids=["vectorised", "loop"])
def test_every_gradient_matches_central_differences(rng, shape, layer):
    """Input, kernel and bias, with a random upstream gradient G: sum(G * Z) differentiated."""
    fwd, bwd = layer
    m, c_in, c_out, h_in, w_in, h_ker, w_ker, s, padding = shape
    A, params = make_layer(rng, m, c_in, c_out, h_in, w_in, h_ker, w_ker)
    Z, cache = fwd(A, params, s, padding)
    G = rng.standard_normal(Z.shape)
    dA, grads = bwd(G, cache)
    assert dA.shape == A.shape and set(grads) == {"K", "b"}
    for key in grads:
        assert grads[key].shape == params[key].shape
    f = lambda A_, p_: float(np.sum(G * forward(A_, p_, s, padding)[0]))
    assert_gradient(lambda V: f(V, params), dA, A, rng)
    assert_gradient(lambda V: f(A, {**params, "K": V}), grads["K"], params["K"], rng)
    assert_gradient(lambda V: f(A, {**params, "b": V}), grads["b"], params["b"], rng)


@pytest.mark.parametrize("shape", SHAPES)
def test_vectorised_backward_equals_the_loop(rng, shape):
    m, c_in, c_out, h_in, w_in, h_ker, w_ker, s, padding = shape
    A, params = make_layer(rng, m, c_in, c_out, h_in, w_in, h_ker, w_ker)
    Z, cache = forward(A, params, s, padding)
    _, cache_loop = forward_loop(A, params, s, padding)
    G = rng.standard_normal(Z.shape)
    dA, grads = backward(G, cache)
    dA_loop, grads_loop = backward_loop(G, cache_loop)
    np.testing.assert_allclose(dA, dA_loop, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    for key in ("K", "b"):
        np.testing.assert_allclose(grads[key], grads_loop[key], rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_bias_gradient_sums_over_examples_and_positions(rng):
    """Eq. (5) with explicit loops."""
    G = rng.standard_normal((2, 3, 4, 5))
    db = bias_gradient(G)
    for o in range(3):
        expected = sum(G[i, o, p, q] for i in range(2) for p in range(4) for q in range(5))
        assert db[o] == pytest.approx(expected, rel=EXACT_RTOL)


@pytest.mark.parametrize("shape", SHAPES[:3])
def test_kernel_gradient_is_the_sum_of_eq_6(rng, shape):
    m, c_in, c_out, h_in, w_in, h_ker, w_ker, s, padding = shape
    A, params = make_layer(rng, m, c_in, c_out, h_in, w_in, h_ker, w_ker)
    Z, (P, *_) = forward(A, params, s, padding)
    G = rng.standard_normal(Z.shape)
    dK = kernel_gradient(P, G)
    A_pad = pad(A, padding)
    for o, c, u, v in np.ndindex(dK.shape):
        expected = sum(G[i, o, p, q] * A_pad[i, c, s * p + u, s * q + v]
                       for i, p, q in np.ndindex(m, *Z.shape[2:]))
        assert dK[o, c, u, v] == pytest.approx(expected, rel=EXACT_RTOL, abs=EXACT_ATOL)


@pytest.mark.parametrize("shape", SHAPES[:3])
def test_input_gradient_is_the_bracket_sum_of_eq_7(rng, shape):
    m, c_in, c_out, h_in, w_in, h_ker, w_ker, s, padding = shape
    A, params = make_layer(rng, m, c_in, c_out, h_in, w_in, h_ker, w_ker)
    K = params["K"]
    Z, cache = forward(A, params, s, padding)
    G = rng.standard_normal(Z.shape)
    dA, _ = backward(G, cache)
    h_out, w_out = Z.shape[2:]
    for i, c, r, t in np.ndindex(dA.shape):    # 0-based, in the padded input: r + padding
        rp, tp = r + padding, t + padding
        expected = sum(G[i, o, p, q] * K[o, c, u, v]
                       * (s * p + u == rp) * (s * q + v == tp)
                       for o, p, q, u, v in np.ndindex(c_out, h_out, w_out, h_ker, w_ker))
        assert dA[i, c, r, t] == pytest.approx(expected, rel=EXACT_RTOL, abs=EXACT_ATOL)


@pytest.mark.parametrize("shape", SHAPES)
def test_full_convolution_equals_the_loop_on_the_padded_input(rng, shape):
    """Eq. (9) on every padded position against the scatter of the backward loop."""
    m, c_in, c_out, h_in, w_in, h_ker, w_ker, s, padding = shape
    A, params = make_layer(rng, m, c_in, c_out, h_in, w_in, h_ker, w_ker)
    Z, (A_pad, *_) = forward_loop(A, params, s, padding)
    G = rng.standard_normal(Z.shape)
    full = padded_input_gradient(G, params["K"], s, *A_pad.shape[2:])
    expected = np.zeros_like(A_pad)
    for i, o, p, q in np.ndindex(G.shape):
        expected[i, :, s * p : s * p + h_ker, s * q : s * q + w_ker] += G[i, o, p, q] * params["K"][o]
    np.testing.assert_allclose(full, expected, rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_dilate_and_pad_hand_computed():
    # G = [[1, 2], [3, 4]], stride 2, a 2 x 2 kernel, padded input 4 x 4: one zero row and
    # column in front, one zero between the entries, zeros up to 5 x 5.
    G_tilde = dilate_and_pad(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), 2, 2, 2, 4, 4)
    expected = np.zeros((5, 5))
    expected[1, 1], expected[1, 3], expected[3, 1], expected[3, 3] = 1.0, 2.0, 3.0, 4.0
    np.testing.assert_array_equal(G_tilde[0, 0], expected)


@pytest.mark.parametrize("shape", SHAPES)
def test_dilated_entries_sit_at_the_places_of_eq_8(rng, shape):
    m, _, c_out, h_in, w_in, h_ker, w_ker, s, padding = shape
    h_out, w_out = output_shape(h_in, w_in, h_ker, w_ker, s, padding)
    G = rng.standard_normal((m, c_out, h_out, w_out))
    h_pad, w_pad = h_in + 2 * padding, w_in + 2 * padding
    G_tilde = dilate_and_pad(G, s, h_ker, w_ker, h_pad, w_pad)
    assert G_tilde.shape == (m, c_out, h_pad + h_ker - 1, w_pad + w_ker - 1)
    rows = [h_ker + s * p - 1 for p in range(h_out)]   # 1-based h_ker + s(p - 1), minus 1
    cols = [w_ker + s * q - 1 for q in range(w_out)]
    np.testing.assert_array_equal(G_tilde[:, :, rows][:, :, :, cols], G)
    assert np.count_nonzero(G_tilde) == np.count_nonzero(G)


@pytest.mark.parametrize("shape", SHAPES)
def test_input_gradient_equals_the_1d_route_on_one_row(rng, shape):
    """With one row, eqs. (9) and (10) are the 1-D route of eqs. (10) and (11) there."""
    m, c_in, c_out, _, w_in, _, w_ker, s, padding = shape
    K = rng.standard_normal((c_out, c_in, 1, w_ker))
    w_out = convolution_1d.output_size(w_in, w_ker, s, padding)
    G = rng.standard_normal((m, c_out, 1, w_out))
    dA = input_gradient(G, K, s, 0, 1, w_in + 2 * padding)[:, :, 0, padding : padding + w_in]
    dA1 = convolution_1d.input_gradient(G[:, :, 0], K[:, :, 0], s, padding, w_in)
    np.testing.assert_allclose(dA, dA1, rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_unused_rows_and_columns_get_zero_gradient(rng):
    # 5 x 5 input, 2 x 2 kernel, stride 3: windows cover rows and columns 1-2 and 4-5, never 3.
    A, params = make_layer(rng, 1, 2, 2, 5, 5, 2, 2)
    Z, cache = forward(A, params, stride=3)
    dA, _ = backward(rng.standard_normal(Z.shape), cache)
    np.testing.assert_array_equal(dA[:, :, 2, :], 0.0)
    np.testing.assert_array_equal(dA[:, :, :, 2], 0.0)


# --- extreme values ------------------------------------------------------------------------

def test_huge_inputs_give_correct_finite_results():
    A = np.full((1, 1, 2, 2), 1e300)
    Z, cache = forward(A, {"K": np.full((1, 1, 2, 2), 0.25), "b": np.zeros(1)})
    np.testing.assert_array_equal(Z, [[[[1e300]]]])
    dA, grads = backward(np.ones_like(Z), cache)
    np.testing.assert_array_equal(dA, np.full((1, 1, 2, 2), 0.25))
    np.testing.assert_array_equal(grads["K"], np.full((1, 1, 2, 2), 1e300))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: forward(np.full((1, 1, 2, 2), 1e300), {"K": np.full((1, 1, 2, 2), 1e10),
                                                          "b": np.zeros(1)}),
         r"the output Z could overflow float64"),
        (lambda: bias_gradient(np.full((4, 1, 1, 1), 1e306)), r"the bias gradient could overflow"),
        (lambda: kernel_gradient(np.full((1, 1, 1, 1, 1, 1), 1e300), np.full((1, 1, 1, 1), 1e10)),
         r"the kernel gradient could overflow"),
        (lambda: input_gradient(np.full((1, 1, 1, 1), 1e300), np.full((1, 1, 2, 2), 1e10), 1, 0, 2, 2),
         r"the input gradient could overflow"),
    ],
)
def test_sums_that_would_overflow_raise_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- bad input -----------------------------------------------------------------------------

GOOD_A = np.ones((2, 3, 5, 5))
GOOD = {"K": np.ones((4, 3, 3, 3)), "b": np.zeros(4)}


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: forward(np.ones((3, 5, 5)), GOOD),
         r"A must be a non-empty 4-D array \(m, c_in, h_in, w_in\), got shape \(3, 5, 5\)"),
        (lambda: forward(GOOD_A, {"K": np.ones((4, 3, 3)), "b": np.zeros(4)}),
         r"K must be a non-empty 4-D array \(c_out, c_in, h_ker, w_ker\)"),
        (lambda: forward_loop(GOOD_A, {"K": np.ones((4, 1, 3, 3)), "b": np.zeros(4)}),
         r"the kernel expects c_in = 1 input channels, but A has 3"),
        (lambda: forward(GOOD_A, {"K": np.ones((4, 3, 3, 3)), "b": np.zeros((4, 1))}),
         r"b must have shape \(c_out,\) = \(4,\), got \(4, 1\)"),
        (lambda: forward(GOOD_A, {"K": np.ones((4, 3, 3, 3)), "b": np.zeros(4), "c": 1}),
         r'params must be a dict with keys "K" and "b", got \[\'K\', \'b\', \'c\'\]'),
        (lambda: forward(GOOD_A, (np.ones((4, 3, 3, 3)), np.zeros(4))), r"params must be a dict.*tuple"),
        (lambda: forward(GOOD_A, {"K": np.ones((4, 3, 8, 3)), "b": np.zeros(4)}, padding=1),
         r"the kernel \(8 x 3\) is larger than the padded input \(7 x 7, padding 1\)"),
        (lambda: forward(GOOD_A, {"K": np.ones((4, 3, 3, 6)), "b": np.zeros(4)}),
         r"the kernel \(3 x 6\) is larger than the padded input \(5 x 5, padding 0\)"),
        (lambda: forward(GOOD_A, GOOD, stride=0), r"the stride must be a positive integer, got 0"),
        (lambda: forward(GOOD_A, GOOD, stride=np.float64(2.0)), r"the stride must be a positive"),
        (lambda: forward(GOOD_A, GOOD, padding=-2), r"the padding must be a non-negative integer, got -2"),
        (lambda: forward(GOOD_A, GOOD, padding=False), r"the padding must be a non-negative integer"),
        (lambda: forward(np.full((1, 3, 5, 5), np.inf), GOOD), r"A must be finite"),
        (lambda: forward(GOOD_A, {"K": np.ones((4, 3, 3, 3)), "b": ["x"] * 4}),
         r"b must be an array of real numbers"),
        (lambda: backward(np.ones((2, 4, 3, 2)), forward(GOOD_A, GOOD)[1]),
         r"dZ must have the shape of the output Z, \(2, 4, 3, 3\), got \(2, 4, 3, 2\)"),
        (lambda: backward_loop(np.ones((2, 4, 3)), forward_loop(GOOD_A, GOOD)[1]),
         r"dZ must have the shape of the output Z"),
        (lambda: output_shape(5, 5, 0, 3), r"must be positive integers, got \(5, 5, 0, 3\)"),
        (lambda: output_shape(5, 5, 3, 3, stride=-1), r"the stride must be a positive integer"),
        (lambda: pad(GOOD_A, 1.0), r"the padding must be a non-negative integer"),
        (lambda: patches(np.ones((2, 5, 5)), 3, 3, 1), r"A_pad must be a non-empty 4-D array"),
        (lambda: patches(GOOD_A, 6, 3, 1), r"the kernel \(6 x 3\) is larger than the padded input"),
        (lambda: bias_gradient(np.ones((2, 3, 4))), r"dZ must be a non-empty 4-D array"),
        (lambda: kernel_gradient(np.ones((2, 3, 4, 4, 2)), np.ones((2, 1, 4, 4))),
         r"P must be a non-empty 6-D array"),
        (lambda: kernel_gradient(np.ones((2, 3, 4, 4, 2, 2)), np.ones((2, 1, 4, 3))),
         r"must agree in m, h_out and w_out"),
        (lambda: input_gradient(np.ones((1, 2, 3, 3)), np.ones((3, 1, 2, 2)), 1, 0, 4, 4),
         r"dZ has 2 channels but K has c_out = 3"),
        (lambda: input_gradient(np.ones((1, 2, 3, 3)), np.ones((2, 1, 2, 2)), 2, 0, 4, 4),
         r"3 x 3 positions of a 2 x 2 kernel with stride 2 do not fit in a padded input of 4 x 4"),
        (lambda: input_gradient(np.ones((1, 2, 3, 3)), np.ones((2, 1, 2)), 1, 0, 4, 4),
         r"K must be a non-empty 4-D array"),
        (lambda: input_gradient(np.ones((1, 2, 3, 3)), np.ones((2, 1, 2, 2)), 1, -1, 4, 4),
         r"the padding must be a non-negative integer"),
        (lambda: dilate_and_pad(np.ones((1, 1, 3, 3)), 1, 2, 2, 4, 3),
         r"3 x 3 positions of a 2 x 2 kernel with stride 1 do not fit in a padded input of 4 x 3"),
        (lambda: dilate_and_pad(np.ones((1, 1, 3, 3)), 1, 5, 2, 4, 4), r"is larger than the padded"),
        (lambda: padded_input_gradient(np.ones((1, 2, 3, 3)), np.ones((2, 1, 2, 2)), 1, 4, 3),
         r"3 x 3 positions of a 2 x 2 kernel with stride 1 do not fit in a padded input of 4 x 3"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- every display formula, read from the page as displayed (tests/formulas.py) ------------

PAGE = "layers/convolution-2d.md"

#: Small layers for the formula reader, which evaluates every sum entry by entry (the
#: five-fold sum of eq. (7) at every input entry): one image with stride 1 and padding 1,
#: and two images of two channels, oblong, with an oblong kernel, stride 2 and padding 1.
FORMULA_SHAPES = [(1, 1, 2, 3, 3, 2, 2, 1, 1), (2, 2, 2, 4, 3, 3, 2, 2, 1)]


def _slopes(f, x):
    """Jacobian of a linear f by differences with step 1 (exact for a linear function up to
    rounding): entry [out..., in...] is d f[out] / d x[in]."""
    cols = []
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = 1.0
        cols.append((f(x + e) - f(x - e)) / 2.0)
    return np.stack(cols, axis=-1).reshape(*cols[0].shape, *x.shape)


def _z_of_A_pad(params, s, A_pad):
    """Z as a function of the padded input: the layer without padding, applied to A~."""
    return forward(A_pad, params, s, 0)[0]


def _size_envs(rng):
    for m, c_in, _, h_in, w_in, h_ker, w_ker, s, zeta in SHAPES:
        A = rng.standard_normal((m, c_in, h_in, w_in))
        h_out, w_out = output_shape(h_in, w_in, h_ker, w_ker, s, zeta)
        yield {"A": A, "A_tilde": pad(A, zeta), "zeta": zeta, "s": s, "m": m, "h_in": h_in,
               "w_in": w_in, "h_ker": h_ker, "w_ker": w_ker, "h_out": h_out, "w_out": w_out,
               "__ranges__": {"c": c_in, "r": h_in, "t": w_in}}


def _layer_envs(rng, crop=False):
    """The layer's values and gradients, with the local slopes dZ/dA~ measured on the code
    by differences; r and t run over the input itself when crop is true, else over A~."""
    for m, c_in, c_out, h_in, w_in, h_ker, w_ker, s, zeta in FORMULA_SHAPES:
        A, params = make_layer(rng, m, c_in, c_out, h_in, w_in, h_ker, w_ker)
        K, b = params["K"], params["b"]
        Z, cache = forward(A, params, s, zeta)
        Z_loop, _ = forward_loop(A, params, s, zeta)
        G = rng.standard_normal(Z.shape)
        dA, grads = backward(G, cache)
        A_pad = pad(A, zeta)
        h_pad, w_pad = A_pad.shape[2:]
        h_out, w_out = Z.shape[2:]
        # the loop backward on the padded input with no padding returns dL/dA~ itself
        dA_pad_loop, _ = backward_loop(G, forward_loop(A_pad, params, s, 0)[1])
        yield {
            "A": A, "A_tilde": A_pad, "P": cache[0], "K": K, "b": b, "G": G, "s": s,
            "zeta": zeta, "m": m, "c_in": c_in, "c_out": c_out, "h_in": h_in, "w_in": w_in,
            "h_ker": h_ker, "w_ker": w_ker, "h_out": h_out, "w_out": w_out,
            "Z": Z, "Z_loop": Z_loop, "db": grads["b"], "dK": grads["K"], "dA": dA,
            "dA_tilde_loop": dA_pad_loop,
            "dA_tilde": padded_input_gradient(G, K, s, h_pad, w_pad),
            "G_tilde": dilate_and_pad(G, s, h_ker, w_ker, h_pad, w_pad),
            "dZ/dA_tilde": np.einsum("iopqicrt->iopqcrt",
                                     _slopes(partial(_z_of_A_pad, params, s), A_pad)),
            "__ranges__": {"c": c_in, "o": c_out, "p": h_out, "q": w_out, "u": h_ker,
                           "v": w_ker, "r": h_in if crop else h_pad,
                           "t": w_in if crop else w_pad},
        }


def _loop_envs(rng):
    """The loop versions' results under the names the page uses."""
    for env in _layer_envs(rng):
        yield {**env, "Z": env["Z_loop"], "dA_tilde": env["dA_tilde_loop"]}


FORMULAS = {
    "pad-and-size": Case(_size_envs),
    "forward-loop": Case(_loop_envs),
    "patches": Case(_layer_envs),
    "forward": Case(_layer_envs),
    "bias-gradient": Case(_layer_envs),
    "kernel-gradient": Case(_layer_envs),
    "backward-loop": Case(_loop_envs),
    "dilate": Case(_layer_envs),
    "full-convolution": Case(_layer_envs),
    "input-gradient": Case(lambda rng: _layer_envs(rng, crop=True)),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
