"""Tests for snippets/layers/pooling.py (page docs/layers/pooling.md)."""

from __future__ import annotations

import numpy as np
import pytest

from snippets.layers import convolution_2d
from snippets.layers.pooling import (
    avg_pool_backward,
    avg_pool_backward_loop,
    avg_pool_forward,
    avg_pool_forward_loop,
    global_avg_pool_backward,
    global_avg_pool_forward,
    max_pool_backward,
    max_pool_backward_loop,
    max_pool_forward,
    max_pool_forward_loop,
    max_routes,
    pool_output_shape,
    windows,
)

from checks import EXACT_ATOL, EXACT_RTOL, assert_gradient
from formulas import Case, formula_test

#: (m, c, h_in, w_in, window, stride): the usual 2 x 2 at stride 2, a batch of one, an odd
#: size that leaves a row and a column out, overlapping windows (stride < window), oblong
#: windows, a stride larger than the window, and a window as large as the input.
SHAPES = [
    (2, 3, 4, 4, 2, 2),
    (1, 1, 5, 5, 2, 2),
    (2, 2, 5, 4, 3, 1),
    (1, 2, 6, 5, (2, 3), 2),
    (3, 1, 7, 7, 2, 3),
    (1, 3, 3, 4, (3, 4), 1),
]

LAYERS = {
    "max": (max_pool_forward, max_pool_backward),
    "max-loop": (max_pool_forward_loop, max_pool_backward_loop),
    "avg": (avg_pool_forward, avg_pool_backward),
    "avg-loop": (avg_pool_forward_loop, avg_pool_backward_loop),
}


def distinct(rng, shape):
    """Entries 0.1 apart in random order: no two in a window are within a difference step
    (1e-5) of each other, so the maximum of every window stays the same entry when the
    checker moves any input by the step."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1 - 1.0


def as_pair(window):
    return (window, window) if isinstance(window, int) else window


# --- output size and windows ---------------------------------------------------------------

@pytest.mark.parametrize(
    "sizes, expected",
    [((4, 4, 2, 2, 2), (2, 2)), ((5, 5, 2, 2, 2), (2, 2)), ((5, 4, 3, 3, 1), (3, 2)),
     ((6, 5, 2, 3, 2), (3, 2)), ((7, 7, 2, 2, 3), (2, 2)), ((32, 32, 2, 2, 2), (16, 16))],
)
def test_output_shape_hand_computed(sizes, expected):
    assert pool_output_shape(*sizes) == expected


@pytest.mark.parametrize("shape", SHAPES)
def test_windows_are_the_slices_of_eq_2(rng, shape):
    m, c, h_in, w_in, window, s = shape
    h_win, w_win = as_pair(window)
    A = rng.standard_normal((m, c, h_in, w_in))
    P = windows(A, h_win, w_win, s)
    h_out, w_out = pool_output_shape(h_in, w_in, h_win, w_win, s)
    assert P.shape == (m, c, h_out, w_out, h_win, w_win)
    for p, q in np.ndindex(h_out, w_out):
        np.testing.assert_array_equal(P[:, :, p, q], A[:, :, s * p : s * p + h_win,
                                                         s * q : s * q + w_win])


# --- max pooling ---------------------------------------------------------------------------

def test_max_pool_hand_computed():
    A = np.array([[[[1.0, 3.0, 0.0, 2.0],
                    [4.0, 2.0, 1.0, 1.0],
                    [0.0, 0.0, 5.0, 6.0],
                    [7.0, 0.0, 8.0, 0.0]]]])
    Z, cache = max_pool_forward(A, {})
    np.testing.assert_array_equal(Z, [[[[4.0, 2.0], [7.0, 8.0]]]])
    dA, grads = max_pool_backward(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]), cache)
    assert grads == {}
    expected = np.zeros((4, 4))
    expected[1, 0], expected[0, 3], expected[3, 0], expected[3, 2] = 10.0, 20.0, 30.0, 40.0
    np.testing.assert_array_equal(dA[0, 0], expected)


@pytest.mark.parametrize("shape", SHAPES)
def test_max_pool_is_the_max_of_eq_2(rng, shape):
    m, c, h_in, w_in, window, s = shape
    h_win, w_win = as_pair(window)
    A = rng.standard_normal((m, c, h_in, w_in))
    Z, _ = max_pool_forward(A, {}, window, s)
    for i, ch, p, q in np.ndindex(Z.shape):      # 1-based in the comment: s(p-1) + u
        expected = max(A[i, ch, s * p + u, s * q + v] for u in range(h_win) for v in range(w_win))
        assert Z[i, ch, p, q] == expected


@pytest.mark.parametrize("shape", SHAPES)
def test_routes_mark_one_maximum_per_window(rng, shape):
    """Eq. (3): R is one-hot in each window, at an entry equal to the window's maximum."""
    m, c, h_in, w_in, window, s = shape
    h_win, w_win = as_pair(window)
    A = rng.standard_normal((m, c, h_in, w_in))
    P = windows(A, h_win, w_win, s)
    R = max_routes(P)
    assert R.shape == P.shape
    np.testing.assert_array_equal(R.sum(axis=(4, 5)), 1.0)
    np.testing.assert_array_equal(np.sum(R * P, axis=(4, 5)), P.max(axis=(4, 5)))


def test_ties_go_to_the_first_maximum_in_row_major_order():
    # Windows with ties: four equal entries; two tied maxima on the anti-diagonal; a tie
    # between the second entry of the first row and the first of the second row.
    A = np.array([[[[1.0, 1.0, 0.0, 2.0, 3.0, 0.0],
                    [1.0, 1.0, 2.0, 1.0, 3.0, 1.0]]]])
    Z, cache = max_pool_forward(A, {})
    np.testing.assert_array_equal(Z, [[[[1.0, 2.0, 3.0]]]])
    dA, _ = max_pool_backward(np.array([[[[5.0, 6.0, 7.0]]]]), cache)
    np.testing.assert_array_equal(dA[0, 0], [[5.0, 0.0, 0.0, 6.0, 7.0, 0.0],
                                             [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    dA_loop, _ = max_pool_backward_loop(np.array([[[[5.0, 6.0, 7.0]]]]),
                                        max_pool_forward_loop(A, {})[1])
    np.testing.assert_array_equal(dA_loop, dA)


def test_a_tie_is_a_kink_where_central_differences_split_the_gradient():
    """At a tie the slope is 1 to the right and 0 to the left: central differences see 1/2
    for each tied entry, and the code's convention (all to the first) sums to the same."""
    A = np.array([[[[2.0, 2.0], [0.0, 1.0]]]])
    f = lambda V: float(max_pool_forward(V, {})[0].sum())
    h = 1e-5
    slopes = [(f(A + h * e) - f(A - h * e)) / (2 * h)
              for e in np.eye(4).reshape(4, 1, 1, 2, 2)]
    np.testing.assert_allclose(slopes, [0.5, 0.5, 0.0, 0.0], rtol=1e-9)
    dA, _ = max_pool_backward(np.ones((1, 1, 1, 1)), max_pool_forward(A, {})[1])
    np.testing.assert_array_equal(dA[0, 0], [[1.0, 0.0], [0.0, 0.0]])
    assert dA.sum() == pytest.approx(sum(slopes), rel=1e-9)


def test_overlapping_windows_add_their_gradients():
    # 1 x 3 input, 1 x 2 windows at stride 1: the middle entry is the maximum of both.
    A = np.array([[[[0.0, 5.0, 1.0]]]])
    Z, cache = max_pool_forward(A, {}, (1, 2), 1)
    np.testing.assert_array_equal(Z, [[[[5.0, 5.0]]]])
    dA, _ = max_pool_backward(np.array([[[[2.0, 3.0]]]]), cache)
    np.testing.assert_array_equal(dA, [[[[0.0, 5.0, 0.0]]]])


# --- average pooling -----------------------------------------------------------------------

def test_avg_pool_hand_computed():
    A = np.arange(16.0).reshape(1, 1, 4, 4)
    Z, cache = avg_pool_forward(A, {})
    np.testing.assert_array_equal(Z, [[[[2.5, 4.5], [10.5, 12.5]]]])
    dA, grads = avg_pool_backward(np.array([[[[4.0, 8.0], [12.0, 16.0]]]]), cache)
    assert grads == {}
    np.testing.assert_array_equal(dA[0, 0], [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])


@pytest.mark.parametrize("shape", SHAPES)
def test_avg_pool_is_the_mean_of_eq_5(rng, shape):
    m, c, h_in, w_in, window, s = shape
    h_win, w_win = as_pair(window)
    A = rng.standard_normal((m, c, h_in, w_in))
    Z, _ = avg_pool_forward(A, {}, window, s)
    for i, ch, p, q in np.ndindex(Z.shape):
        expected = np.mean(A[i, ch, s * p : s * p + h_win, s * q : s * q + w_win])
        assert Z[i, ch, p, q] == pytest.approx(expected, rel=EXACT_RTOL, abs=EXACT_ATOL)


@pytest.mark.parametrize("shape", SHAPES)
def test_avg_backward_is_the_bracket_sum_of_eq_6(rng, shape):
    m, c, h_in, w_in, window, s = shape
    h_win, w_win = as_pair(window)
    A = rng.standard_normal((m, c, h_in, w_in))
    Z, cache = avg_pool_forward(A, {}, window, s)
    G = rng.standard_normal(Z.shape)
    dA, _ = avg_pool_backward(G, cache)
    h_out, w_out = Z.shape[2:]
    for i, ch, r, t in np.ndindex(dA.shape):
        expected = sum(G[i, ch, p, q] / (h_win * w_win) * (s * p + u == r) * (s * q + v == t)
                       for p, q, u, v in np.ndindex(h_out, w_out, h_win, w_win))
        assert dA[i, ch, r, t] == pytest.approx(expected, rel=EXACT_RTOL, abs=EXACT_ATOL)


@pytest.mark.parametrize("shape", SHAPES)
def test_avg_pool_is_a_convolution_with_equal_weights_per_channel(rng, shape):
    """Each channel on its own, convolved with one h_win x w_win kernel of equal weights."""
    m, c, h_in, w_in, window, s = shape
    h_win, w_win = as_pair(window)
    A = rng.standard_normal((m, c, h_in, w_in))
    Z, cache = avg_pool_forward(A, {}, window, s)
    G = rng.standard_normal(Z.shape)
    dA, _ = avg_pool_backward(G, cache)
    params = {"K": np.full((1, 1, h_win, w_win), 1.0 / (h_win * w_win)), "b": np.zeros(1)}
    for ch in range(c):
        Z_conv, conv_cache = convolution_2d.forward(A[:, ch : ch + 1], params, s)
        np.testing.assert_allclose(Z[:, ch : ch + 1], Z_conv, rtol=EXACT_RTOL, atol=EXACT_ATOL)
        dA_conv, _ = convolution_2d.backward(G[:, ch : ch + 1], conv_cache)
        np.testing.assert_allclose(dA[:, ch : ch + 1], dA_conv, rtol=EXACT_RTOL, atol=EXACT_ATOL)


# --- every pooling layer: gradients and loops ----------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_input_gradient_matches_central_differences(rng, shape, name):
    fwd, bwd = LAYERS[name]
    m, c, h_in, w_in, window, s = shape
    A = distinct(rng, (m, c, h_in, w_in))
    Z, cache = fwd(A, {}, window, s)
    G = rng.standard_normal(Z.shape)
    dA, grads = bwd(G, cache)
    assert dA.shape == A.shape and grads == {}
    assert_gradient(lambda V: float(np.sum(G * fwd(V, {}, window, s)[0])), dA, A, rng)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_vectorised_equals_the_loop(rng, shape, kind):
    m, c, h_in, w_in, window, s = shape
    A = rng.standard_normal((m, c, h_in, w_in))
    A[..., 0, :2] = 0.5                        # a tie in the first window of every channel
    (fwd, bwd), (fwd_loop, bwd_loop) = LAYERS[kind], LAYERS[kind + "-loop"]
    Z, cache = fwd(A, {}, window, s)
    Z_loop, cache_loop = fwd_loop(A, {}, window, s)
    np.testing.assert_allclose(Z, Z_loop, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    G = rng.standard_normal(Z.shape)
    np.testing.assert_allclose(bwd(G, cache)[0], bwd_loop(G, cache_loop)[0], rtol=EXACT_RTOL,
                               atol=EXACT_ATOL)


# --- global average pooling ----------------------------------------------------------------

def test_global_avg_pool_hand_computed():
    A = np.stack([np.arange(6.0).reshape(2, 3), np.full((2, 3), 7.0)])[None]   # (1, 2, 2, 3)
    Z, cache = global_avg_pool_forward(A, {})
    np.testing.assert_allclose(Z, [[2.5, 7.0]], rtol=EXACT_RTOL)   # 7/6, six times: rounded
    dA, grads = global_avg_pool_backward(np.array([[6.0, 12.0]]), cache)
    assert grads == {}
    np.testing.assert_allclose(dA[0, 0], np.ones((2, 3)), rtol=EXACT_RTOL)
    np.testing.assert_allclose(dA[0, 1], np.full((2, 3), 2.0), rtol=EXACT_RTOL)


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 4, 5), (1, 4, 3, 3)])
def test_global_avg_pool_gradient_matches_central_differences(rng, shape):
    A = rng.standard_normal(shape)
    Z, cache = global_avg_pool_forward(A, {})
    assert Z.shape == shape[:2]
    np.testing.assert_allclose(Z, A.mean(axis=(2, 3)), rtol=EXACT_RTOL, atol=EXACT_ATOL)
    G = rng.standard_normal(Z.shape)
    dA, _ = global_avg_pool_backward(G, cache)
    dA[0, 0, 0, 0] += 0.0                      # the result is writable
    assert_gradient(lambda V: float(np.sum(G * global_avg_pool_forward(V, {})[0])), dA, A, rng)


def test_global_is_average_pooling_with_the_whole_image_as_window(rng):
    A = rng.standard_normal((2, 3, 4, 5))
    Z, _ = global_avg_pool_forward(A, {})
    Z_avg, _ = avg_pool_forward(A, {}, (4, 5), 1)
    np.testing.assert_allclose(Z, Z_avg[:, :, 0, 0], rtol=EXACT_RTOL, atol=EXACT_ATOL)


# --- extreme values ------------------------------------------------------------------------

def test_averages_of_huge_entries_do_not_overflow():
    A = np.full((1, 1, 2, 2), 1.5e308)
    np.testing.assert_array_equal(avg_pool_forward(A, {})[0], [[[[1.5e308]]]])
    np.testing.assert_array_equal(global_avg_pool_forward(A, {})[0], [[1.5e308]])
    np.testing.assert_array_equal(max_pool_forward(A, {})[0], [[[[1.5e308]]]])
    np.testing.assert_array_equal(avg_pool_forward(np.full((1, 1, 2, 2), 1e-300), {})[0],
                                  [[[[1e-300]]]])


def test_max_backward_refuses_upstream_gradients_that_would_overflow():
    Z, cache = max_pool_forward(np.zeros((1, 1, 1, 3)), {}, (1, 2), 1)
    with pytest.raises(ValueError, match=r"up to 2 entries of dZ .* add up at one input"):
        max_pool_backward(np.full(Z.shape, 1e306), cache)


# --- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: max_pool_forward(np.ones((3, 4, 4)), {}), r"A must be a non-empty 4-D array "
                                                          r"\(m, c_in, h_in, w_in\), got shape \(3, 4, 4\)"),
        (lambda: max_pool_forward(np.ones((1, 1, 4, 4)), {"K": 1}), r"pooling has no parameters"),
        (lambda: avg_pool_forward(np.ones((1, 1, 4, 4)), None), r"params must be the empty dict"),
        (lambda: max_pool_forward(np.ones((1, 1, 4, 4)), {}, 5), r"the window \(5 x 5\) does not fit "
                                                              r"in the input \(4 x 4\)"),
        (lambda: avg_pool_forward(np.ones((1, 1, 4, 4)), {}, (2, 6)), r"the window \(2 x 6\) does not fit"),
        (lambda: max_pool_forward(np.ones((1, 1, 4, 4)), {}, 0), r"the window must be a positive integer"),
        (lambda: max_pool_forward(np.ones((1, 1, 4, 4)), {}, (2, 2, 2)), r"or a pair \(h_win, w_win\)"),
        (lambda: max_pool_forward(np.ones((1, 1, 4, 4)), {}, [2, 2]), r"the window must be"),
        (lambda: max_pool_forward(np.ones((1, 1, 4, 4)), {}, 2.0), r"the window must be"),
        (lambda: max_pool_forward(np.ones((1, 1, 4, 4)), {}, 2, 0), r"the stride must be a positive "
                                                                 r"integer, got 0"),
        (lambda: avg_pool_forward_loop(np.ones((1, 1, 4, 4)), {}, 2, True), r"the stride must be"),
        (lambda: max_pool_forward_loop(np.full((1, 1, 4, 4), np.nan), {}), r"A must be finite"),
        (lambda: max_pool_backward(np.ones((1, 1, 2, 3)), max_pool_forward(np.ones((1, 1, 4, 4)), {})[1]),
         r"dZ must have the shape of the output Z, \(1, 1, 2, 2\), got \(1, 1, 2, 3\)"),
        (lambda: avg_pool_backward(np.ones((1, 1, 2)), avg_pool_forward(np.ones((1, 1, 4, 4)), {})[1]),
         r"dZ must have the shape of the output Z"),
        (lambda: max_pool_backward_loop(np.ones((2, 1, 2, 2)),
                                        max_pool_forward_loop(np.ones((1, 1, 4, 4)), {})[1]),
         r"dZ must have the shape of the output Z"),
        (lambda: avg_pool_backward_loop(np.ones(3), avg_pool_forward_loop(np.ones((1, 1, 4, 4)), {})[1]),
         r"dZ must have the shape of the output Z"),
        (lambda: global_avg_pool_forward(np.ones((2, 3)), {}), r"A must be a non-empty 4-D array"),
        (lambda: global_avg_pool_forward(np.ones((1, 1, 2, 2)), {"b": 0}), r"pooling has no parameters"),
        (lambda: global_avg_pool_backward(np.ones((1, 2)),
                                          global_avg_pool_forward(np.ones((1, 1, 2, 2)), {})[1]),
         r"dZ must have the shape of the output Z, \(1, 1\), got \(1, 2\)"),
        (lambda: pool_output_shape(0, 4, 2, 2, 2), r"h_in and w_in must be positive integers"),
        (lambda: pool_output_shape(4, 4, 2, 2, -1), r"the stride must be a positive integer"),
        (lambda: windows(np.ones((1, 1, 4, 4)), 2, 0, 1), r"the window must be"),
        (lambda: max_routes(np.ones((1, 1, 2, 2))), r"P must be a non-empty 6-D array"),
        (lambda: max_pool_forward(np.array([[[["x"]]]]), {}), r"A must be an array of real numbers"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- every display formula, read from the page as displayed (tests/formulas.py) ------------

PAGE = "layers/pooling.md"

#: Small inputs for the formula reader: non-overlapping 2 x 2 windows with a row and a column
#: left out, overlapping oblong windows, and a batch of two.
FORMULA_SHAPES = [(1, 2, 5, 5, (2, 2), 2), (2, 1, 4, 5, (2, 3), 1)]


def _pool_envs(rng, kind):
    """Values, gradients and, for max pooling, the routes and the slopes dZ/dA measured on
    the code by central differences (inputs 0.1 apart: every slope is 0 or 1)."""
    for m, c, h_in, w_in, window, s in FORMULA_SHAPES:
        h_win, w_win = window
        A = distinct(rng, (m, c, h_in, w_in))
        fwd, bwd = LAYERS[kind]
        Z, cache = fwd(A, {}, window, s)
        G = rng.standard_normal(Z.shape)
        dA, _ = bwd(G, cache)
        h_out, w_out = Z.shape[2:]
        env = {"A": A, "Z": Z, "G": G, "dA": dA, "s": s, "m": m, "c_in": c, "h_in": h_in, "w_in": w_in,
               "h_win": h_win, "w_win": w_win, "h_out": h_out, "w_out": w_out,
               "__ranges__": {"c": c, "p": h_out, "q": w_out, "u": h_win, "v": w_win,
                              "r": h_in, "t": w_in}}
        if kind == "max":
            env["R"] = cache[0]
            h = 1e-3
            slopes = []
            for idx in np.ndindex(A.shape):
                e = np.zeros_like(A)
                e[idx] = h
                slopes.append((fwd(A + e, {}, window, s)[0] - fwd(A - e, {}, window, s)[0]) / (2 * h))
            J = np.stack(slopes, axis=-1).reshape(*Z.shape, *A.shape)
            env["dZ/dA"] = np.einsum("icpqicrt->icpqrt", J)   # same example and channel
        yield env


def _size_envs(rng):
    for sizes in [(4, 4, 2, 2, 2), (5, 5, 2, 2, 2), (5, 4, 3, 3, 1), (6, 5, 2, 3, 2), (7, 7, 2, 2, 3)]:
        h_in, w_in, h_win, w_win, s = sizes
        h_out, w_out = pool_output_shape(*sizes)
        yield {"h_in": h_in, "w_in": w_in, "h_win": h_win, "w_win": w_win, "s": s,
               "h_out": h_out, "w_out": w_out}


def _global_envs(rng):
    for shape in [(1, 1, 1, 1), (2, 3, 4, 5)]:
        A = rng.standard_normal(shape)
        Z, cache = global_avg_pool_forward(A, {})
        G = rng.standard_normal(Z.shape)
        dA, _ = global_avg_pool_backward(G, cache)
        yield {"A": A, "Z": Z, "G": G, "dA": dA, "m": shape[0], "c_in": shape[1], "h_in": shape[2],
               "w_in": shape[3], "__ranges__": {"c": shape[1], "r": shape[2], "t": shape[3]}}


FORMULAS = {
    "output-shape": Case(_size_envs),
    "max-forward": Case(lambda rng: _pool_envs(rng, "max")),
    "routes": Case(lambda rng: _pool_envs(rng, "max")),
    "max-backward": Case(lambda rng: _pool_envs(rng, "max")),
    "avg-forward": Case(lambda rng: _pool_envs(rng, "avg")),
    "avg-backward": Case(lambda rng: _pool_envs(rng, "avg")),
    "global-forward": Case(_global_envs),
    "global-backward": Case(_global_envs),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
