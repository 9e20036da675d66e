"""Tests for snippets/layers/modules.py (page docs/layers/modules.md)."""

from __future__ import annotations

import numpy as np
import pytest

from snippets.foundations import gradient_checking as gc
from snippets.layers.modules import (
    ACTIVATIONS,
    LOSSES,
    MODULES,
    activation_backward,
    activation_forward,
    add_backward,
    add_forward,
    backward_through_jacobian,
    broadcast_add_backward,
    broadcast_add_forward,
    central_difference,
    check_module,
    copy_backward,
    copy_forward,
    cross_entropy_backward,
    cross_entropy_forward,
    dense_backward,
    dense_forward,
    maximum_backward,
    maximum_forward,
    multiply_backward,
    multiply_forward,
    network_backward,
    network_forward,
    network_gradients,
    relative_error,
    sigmoid,
    square_backward,
    square_forward,
    squared_error_backward,
    squared_error_forward,
    sum_to_shape,
)
from snippets.networks import backpropagation as bp
from snippets.notation import layer as notation_layer

from checks import EXACT_ATOL, EXACT_RTOL, GRAD_RTOL, assert_gradient
from formulas import Case, formula_test

#: Shapes for the entry-by-entry modules: a batch of one with one feature, a batch of one,
#: a matrix, a vector and a 3-D array (the modules do not care about the layout).
SHAPES = [(1, 1), (1, 4), (5, 3), (6,), (2, 3, 4)]

#: Dense layers (m, n_in, n_out), with a batch of one, one input and one output.
DENSE = [(1, 1, 1), (1, 3, 2), (4, 3, 2), (7, 1, 5), (3, 6, 1)]

#: Entries of max(A, V) closer than this to a tie are moved apart before a finite-difference
#: check: the central step 1e-5 must not cross from one winner to the other.
TIE_MARGIN = 1e-3


def random_G(rng, shape):
    """A random upstream gradient: any fixed G turns a module into the number sum(G * Z)."""
    return rng.standard_normal(shape)


def assert_close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=EXACT_RTOL, atol=EXACT_ATOL)


def assert_two_input_gradients(rng, forward, backward, A, V):
    """Central differences of sum(G * forward((A, V))) in A and in V match backward."""
    Z, cache = forward((A, V), {})
    G = random_G(rng, Z.shape)
    (dA, dV), d_params = backward(G, cache)
    assert d_params == {}
    assert dA.shape == A.shape and dV.shape == V.shape
    assert_gradient(lambda x: float(np.sum(G * forward((x, V), {})[0])), dA, A, rng)
    assert_gradient(lambda x: float(np.sum(G * forward((A, x), {})[0])), dV, V, rng)
    return G, dA, dV


# --- eq. (1): every backward pass is a Jacobian product ---------------------------------

@pytest.mark.parametrize("m, n_in, n_out", DENSE)
def test_jacobian_product_is_the_dense_backward(rng, m, n_in, n_out):
    """J[p, q, i, j] = dz_pq / da_ij = [p = i] W_jq for a dense layer."""
    A, W, b = rng.standard_normal((m, n_in)), rng.standard_normal((n_in, n_out)), rng.standard_normal(n_out)
    J = np.einsum("pi,jq->pqij", np.eye(m), W)
    Z, cache = dense_forward(A, {"W": W, "b": b})
    G = random_G(rng, Z.shape)
    dA = backward_through_jacobian(G, J)
    assert dA.shape == A.shape
    assert_close(dA, dense_backward(G, cache)[0])


def test_jacobian_product_with_indices(rng):
    """Eq. (1) by an explicit loop over every (p, q) and (i, j)."""
    G, J = rng.standard_normal((2, 3)), rng.standard_normal((2, 3, 4, 2))
    got = backward_through_jacobian(G, J)
    for i in range(4):
        for j in range(2):
            expected = sum(G[p, q] * J[p, q, i, j] for p in range(2) for q in range(3))
            assert got[i, j] == pytest.approx(expected, rel=EXACT_RTOL, abs=EXACT_ATOL)


# --- eq. (2): addition ------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
def test_add_passes_G_to_both_inputs(rng, shape):
    A, V = rng.standard_normal(shape), rng.standard_normal(shape)
    Z, _ = add_forward((A, V), {})
    np.testing.assert_array_equal(Z, A + V)
    G, dA, dV = assert_two_input_gradients(rng, add_forward, add_backward, A, V)
    np.testing.assert_array_equal(dA, G)
    np.testing.assert_array_equal(dV, G)
    assert dA is not G and dV is not dA          # copies: changing one leaves the other


# --- eq. (3): multiplication ------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
def test_multiply_swaps_its_inputs(rng, shape):
    A, V = rng.standard_normal(shape), rng.standard_normal(shape)
    G, dA, dV = assert_two_input_gradients(rng, multiply_forward, multiply_backward, A, V)
    np.testing.assert_array_equal(dA, G * V)
    np.testing.assert_array_equal(dV, G * A)


def test_multiply_hand_computed():
    # z = 3 * 5 = 15; with G = 2: dz/da = b = 5, so dA = 10; dV = 2 * 3 = 6.
    Z, cache = multiply_forward((np.array([3.0]), np.array([5.0])), {})
    assert Z[0] == 15.0
    (dA, dV), _ = multiply_backward(np.array([2.0]), cache)
    assert (dA[0], dV[0]) == (10.0, 6.0)


# --- eq. (4): maximum -------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
def test_maximum_routes_G_to_the_winner(rng, shape):
    A, V = rng.standard_normal(shape), rng.standard_normal(shape)
    V = np.where(np.abs(A - V) < TIE_MARGIN, V + 0.5, V)
    Z, _ = maximum_forward((A, V), {})
    np.testing.assert_array_equal(Z, np.maximum(A, V))
    G, dA, dV = assert_two_input_gradients(rng, maximum_forward, maximum_backward, A, V)
    np.testing.assert_array_equal(dA, np.where(A > V, G, 0.0))
    np.testing.assert_array_equal(dV, np.where(A > V, 0.0, G))


def test_maximum_on_a_tie_gives_everything_to_V():
    """At a tie max is not differentiable: the code sends G to V; central differences
    measure the average of the two one-sided slopes, G / 2 for each input."""
    A, V, G = np.array([1.0, 2.0]), np.array([1.0, -3.0]), np.array([4.0, 4.0])
    Z, cache = maximum_forward((A, V), {})
    (dA, dV), _ = maximum_backward(G, cache)
    np.testing.assert_array_equal(Z, [1.0, 2.0])
    np.testing.assert_array_equal(dA, [0.0, 4.0])
    np.testing.assert_array_equal(dV, [4.0, 0.0])
    numeric_A = central_difference(lambda x: float(np.sum(G * maximum_forward((x, V), {})[0])), A)
    assert numeric_A[0] == pytest.approx(2.0, rel=1e-9)    # G / 2, not the 0 of the code


@pytest.mark.parametrize("shape", SHAPES)
def test_maximum_gradients_add_up_to_G_even_with_ties(rng, shape):
    A = rng.integers(-2, 3, shape).astype(float)           # many ties
    V = rng.integers(-2, 3, shape).astype(float)
    _, cache = maximum_forward((A, V), {})
    G = random_G(rng, A.shape)
    (dA, dV), _ = maximum_backward(G, cache)
    np.testing.assert_array_equal(dA + dV, G)
    assert np.all((dA == 0.0) | (dV == 0.0))               # never split


def test_maximum_with_zero_is_the_relu_module(rng):
    """max(A, 0) gives the ReLU's slope, 0 at exactly 0, as the activations chapter does."""
    Z = np.array([[-1.0, 0.0, 2.0]])
    G = rng.standard_normal(Z.shape)
    _, cache = maximum_forward((Z, np.zeros_like(Z)), {})
    (dZ_max, _), _ = maximum_backward(G, cache)
    _, cache = activation_forward(Z, {}, "relu")
    dZ_relu, _ = activation_backward(G, cache)
    np.testing.assert_array_equal(dZ_max, dZ_relu)
    np.testing.assert_array_equal(dZ_relu, [[0.0, 0.0, G[0, 2]]])


# --- eqs. (5) and (6): fan-out -------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
def test_copy_sums_the_gradients_of_its_uses(rng, shape):
    A = rng.standard_normal(shape)
    (Z_first, Z_second), cache = copy_forward(A, {})
    np.testing.assert_array_equal(Z_first, A)
    np.testing.assert_array_equal(Z_second, A)
    G_first, G_second = random_G(rng, shape), random_G(rng, shape)
    dA, d_params = copy_backward((G_first, G_second), cache)
    assert d_params == {}
    np.testing.assert_array_equal(dA, G_first + G_second)
    s = lambda x: float(np.sum(G_first * x) + np.sum(G_second * x))
    assert_gradient(s, dA, A, rng)


@pytest.mark.parametrize("shape", SHAPES)
def test_square_through_copy_and_multiply_is_2_A_G(rng, shape):
    A = rng.standard_normal(shape)
    Z, cache = square_forward(A, {})
    np.testing.assert_array_equal(Z, A * A)
    G = random_G(rng, shape)
    dA, _ = square_backward(G, cache)
    assert_close(dA, 2.0 * A * G)
    assert_gradient(lambda x: float(np.sum(G * square_forward(x, {})[0])), dA, A, rng)
    # Keeping one path only (an overwrite instead of a sum) would give half of it.
    (half, _), _ = multiply_backward(G, cache[1])
    assert relative_error(half, dA) == pytest.approx(0.5, rel=EXACT_RTOL)


# --- eq. (7): broadcasting forward is a sum backward ---------------------------------

@pytest.mark.parametrize("m, n", [(1, 1), (1, 4), (6, 3)])
def test_bias_rule_is_G_transposed_times_ones(rng, m, n):
    """Z = A + 1 b^T: the gradient of b is G^T 1, the column sums of G."""
    A, b = rng.standard_normal((m, n)), rng.standard_normal(n)
    Z, cache = broadcast_add_forward((A, b), {})
    np.testing.assert_array_equal(Z, A + np.ones((m, 1)) @ b[None, :])
    G = random_G(rng, (m, n))
    (dA, db), _ = broadcast_add_backward(G, cache)
    assert db.shape == (n,)
    np.testing.assert_array_equal(dA, G)
    assert_close(db, G.T @ np.ones(m))
    for k in range(n):
        assert db[k] == pytest.approx(sum(G[i, k] for i in range(m)), rel=EXACT_RTOL)


@pytest.mark.parametrize("shape_A, shape_V", [((4, 3), ()), ((4, 3), (4, 1)), ((4, 3), (1, 3)),
                                              ((2, 3, 4), (3, 1)), ((3, 1), (1, 5)), ((1,), (1,))])
def test_broadcast_add_gradients_match_finite_differences(rng, shape_A, shape_V):
    A, V = rng.standard_normal(shape_A), rng.standard_normal(shape_V)
    _, dA, dV = assert_two_input_gradients(rng, broadcast_add_forward, broadcast_add_backward, A, V)
    assert dA.shape == shape_A and dV.shape == shape_V


def test_a_scalar_bias_gets_the_sum_of_all_of_G(rng):
    G = rng.standard_normal((3, 4))
    assert sum_to_shape(G, ()) == pytest.approx(np.sum(G), rel=EXACT_RTOL)
    np.testing.assert_array_equal(sum_to_shape(G, (3, 4)), G)


# --- eqs. (8) and (9): the dense layer ------------------------------------------------

@pytest.mark.parametrize("m, n_in, n_out", DENSE)
def test_dense_forward_is_the_layer_of_the_notation_page(rng, m, n_in, n_out):
    A, W, b = rng.standard_normal((m, n_in)), rng.standard_normal((n_in, n_out)), rng.standard_normal(n_out)
    Z, _ = dense_forward(A, {"W": W, "b": b})
    assert Z.shape == (m, n_out)
    assert_close(Z, notation_layer(A, W, b))
    for i in range(m):
        for k in range(n_out):
            expected = sum(A[i, j] * W[j, k] for j in range(n_in)) + b[k]
            assert Z[i, k] == pytest.approx(expected, rel=EXACT_RTOL, abs=EXACT_ATOL)


@pytest.mark.parametrize("m, n_in, n_out", DENSE)
def test_dense_gradients_match_finite_differences(rng, m, n_in, n_out):
    A, W, b = rng.standard_normal((m, n_in)), rng.standard_normal((n_in, n_out)), rng.standard_normal(n_out)
    params = {"W": W, "b": b}
    Z, cache = dense_forward(A, params)
    G = random_G(rng, Z.shape)
    dA, d_params = dense_backward(G, cache)
    assert set(d_params) == {"W", "b"}
    assert dA.shape == A.shape and d_params["W"].shape == W.shape and d_params["b"].shape == b.shape
    s = lambda A_, W_, b_: float(np.sum(G * dense_forward(A_, {"W": W_, "b": b_})[0]))
    assert_gradient(lambda x: s(x, W, b), dA, A, rng)
    assert_gradient(lambda x: s(A, x, b), d_params["W"], W, rng)
    assert_gradient(lambda x: s(A, W, x), d_params["b"], b, rng)


@pytest.mark.parametrize("m, n_in, n_out", DENSE)
def test_dense_backward_with_indices(rng, m, n_in, n_out):
    """The index forms of eq. (9), by explicit loops."""
    A, W = rng.standard_normal((m, n_in)), rng.standard_normal((n_in, n_out))
    G = rng.standard_normal((m, n_out))
    _, cache = dense_forward(A, {"W": W, "b": np.zeros(n_out)})
    dA, d_params = dense_backward(G, cache)
    for j in range(n_in):
        for k in range(n_out):
            assert d_params["W"][j, k] == pytest.approx(sum(G[i, k] * A[i, j] for i in range(m)),
                                                        rel=EXACT_RTOL, abs=EXACT_ATOL)
    for i in range(m):
        for j in range(n_in):
            assert dA[i, j] == pytest.approx(sum(G[i, k] * W[j, k] for k in range(n_out)),
                                             rel=EXACT_RTOL, abs=EXACT_ATOL)
    for k in range(n_out):
        assert d_params["b"][k] == pytest.approx(sum(G[i, k] for i in range(m)), rel=EXACT_RTOL)


@pytest.mark.parametrize("m, n_in, n_out", DENSE)
def test_dense_module_is_the_layer_of_the_backpropagation_chapter(rng, m, n_in, n_out):
    """dW, db are eq. (8) of that chapter, dA is its eq. (9) before the activation."""
    A, W = rng.standard_normal((m, n_in)), rng.standard_normal((n_in, n_out))
    G = rng.standard_normal((m, n_out))
    _, cache = dense_forward(A, {"W": W, "b": np.zeros(n_out)})
    dA, d_params = dense_backward(G, cache)
    dW_ref, db_ref = bp.layer_gradient(A, G)
    assert_close(d_params["W"], dW_ref)
    assert_close(d_params["b"], db_ref)
    assert_close(dA, bp.previous_error(G, W, A, "identity"))


def test_dense_hand_computed():
    # A = [[1, 2]], W = [[1], [3]], b = [1]: z = 1 + 6 + 1 = 8. G = [[2]]:
    # dA = G W^T = [[2, 6]], dW = A^T G = [[2], [4]], db = [2].
    Z, cache = dense_forward(np.array([[1.0, 2.0]]), {"W": np.array([[1.0], [3.0]]), "b": np.array([1.0])})
    assert Z[0, 0] == 8.0
    dA, d = dense_backward(np.array([[2.0]]), cache)
    np.testing.assert_array_equal(dA, [[2.0, 6.0]])
    np.testing.assert_array_equal(d["W"], [[2.0], [4.0]])
    np.testing.assert_array_equal(d["b"], [2.0])


def test_dense_extreme_but_finite_inputs():
    A = np.array([[1e300, -1e300]])
    Z, cache = dense_forward(A, {"W": np.array([[1.0], [0.5]]), "b": np.array([0.0])})
    assert Z[0, 0] == pytest.approx(5e299, rel=EXACT_RTOL)
    dA, d = dense_backward(np.array([[1e-300]]), cache)
    np.testing.assert_allclose(dA, [[1e-300, 5e-301]], rtol=EXACT_RTOL)
    np.testing.assert_allclose(d["W"], [[1.0], [-1.0]], rtol=EXACT_RTOL)


# --- eq. (10): the activation module ------------------------------------------------------

@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("shape", SHAPES)
def test_activation_gradient_matches_finite_differences(rng, name, shape):
    Z = rng.normal(scale=2.0, size=shape)
    Z = np.where(np.abs(Z) < TIE_MARGIN, 0.5, Z)           # keep off ReLU's kink
    A, cache = activation_forward(Z, {}, name)
    G = random_G(rng, shape)
    dZ, d_params = activation_backward(G, cache)
    assert d_params == {} and dZ.shape == Z.shape
    assert_gradient(lambda x: float(np.sum(G * activation_forward(x, {}, name)[0])), dZ, Z, rng)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_table_agrees_with_the_backpropagation_chapter(rng, name):
    Z = rng.normal(scale=3.0, size=(4, 5))
    g, g_prime = ACTIVATIONS[name]
    g_ref, g_prime_ref = bp.ACTIVATIONS[name]
    assert_close(g(Z), g_ref(Z))
    assert_close(g_prime(Z), g_prime_ref(Z))


def test_sigmoid_is_stable():
    np.testing.assert_array_equal(sigmoid(np.array([-1000.0, 0.0, 1000.0])), [0.0, 0.5, 1.0])


# --- eq. (11): the losses ------------------------------------------------------------------

@pytest.mark.parametrize("m, C", [(1, 1), (1, 3), (6, 4)])
def test_cross_entropy_gradient_matches_finite_differences(rng, m, C):
    Z, y = rng.normal(scale=2.0, size=(m, C)), rng.integers(0, C, m)
    value, cache = cross_entropy_forward(Z, y)
    d_loss = float(rng.standard_normal())                 # a random upstream number
    dZ, d_params = cross_entropy_backward(d_loss, cache)
    assert d_params == {} and dZ.shape == Z.shape
    assert_gradient(lambda x: d_loss * cross_entropy_forward(x, y)[0], dZ, Z, rng)
    P = np.exp(Z) / np.sum(np.exp(Z), axis=1, keepdims=True)
    assert value == pytest.approx(-np.mean(np.log(P[np.arange(m), y])), rel=EXACT_RTOL)
    assert_close(dZ, d_loss * (P - np.eye(C)[y]) / m)


def test_cross_entropy_one_hot_and_indices_agree_and_huge_logits_stay_finite(rng):
    Z, y = rng.standard_normal((5, 3)), rng.integers(0, 3, 5)
    assert cross_entropy_forward(Z, y)[0] == cross_entropy_forward(Z, np.eye(3)[y])[0]
    # Logits (1e4, 0), label 1: the loss is 1e4 + log(1 + e^-1e4) = 1e4; gradient (1, -1).
    value, cache = cross_entropy_forward(np.array([[1e4, 0.0]]), np.array([1]))
    assert value == 1e4
    np.testing.assert_array_equal(cross_entropy_backward(1.0, cache)[0], [[1.0, -1.0]])


@pytest.mark.parametrize("m, n_out", [(1, 1), (1, 3), (5, 2)])
def test_squared_error_gradient_matches_finite_differences(rng, m, n_out):
    Z, Y = rng.standard_normal((m, n_out)), rng.standard_normal((m, n_out))
    value, cache = squared_error_forward(Z, Y)
    assert value == pytest.approx(np.sum((Z - Y) ** 2) / m, rel=EXACT_RTOL)
    d_loss = float(rng.standard_normal())
    dZ, _ = squared_error_backward(d_loss, cache)
    assert_gradient(lambda x: d_loss * squared_error_forward(x, Y)[0], dZ, Z, rng)


def test_squared_error_hand_computed():
    # Z = [[3, 0]], Y = [[1, 0]]: loss (3 - 1)^2 = 4, gradient 2 (Z - Y) / 1 = [[4, 0]].
    value, cache = squared_error_forward(np.array([[3.0, 0.0]]), np.array([[1.0, 0.0]]))
    assert value == 4.0
    np.testing.assert_array_equal(squared_error_backward(1.0, cache)[0], [[4.0, 0.0]])


# --- eq. (12): a network of modules -----------------------------------------------------

def make_network(rng, sizes, activation):
    """Random layers as (kind, params) pairs, and the same layers for the backpropagation
    chapter as [(W1, b1), ...]."""
    pairs = [(rng.normal(0.0, 0.8, (n_in, n_out)), rng.normal(0.0, 0.3, n_out))
             for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)]
    layers = []
    for W, b in pairs:
        layers += [("dense", {"W": W, "b": b}), (activation, {})]
    return layers[:-1], pairs                     # no activation after the last dense layer


NETWORKS = [(3, 2), (4, 5, 3), (2, 3, 4, 2), (1, 1, 1)]


@pytest.mark.parametrize("sizes", NETWORKS)
@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("m", [1, 6])
def test_network_of_modules_equals_the_backpropagation_chapter(rng, sizes, loss, activation, m):
    layers, pairs = make_network(rng, sizes, activation)
    X = rng.standard_normal((m, sizes[0]))
    output = "softmax" if loss == "cross_entropy" else "identity"
    Y = rng.integers(0, sizes[-1], m) if output == "softmax" else rng.standard_normal((m, sizes[-1]))
    value, d_params = network_gradients(X, Y, layers, loss)
    assert value == pytest.approx(bp.loss(X, Y, pairs, activation, output), rel=EXACT_RTOL)
    reference = bp.backward(X, Y, pairs, activation, output)
    dense = [d for (kind, _), d in zip(layers, d_params, strict=True) if kind == "dense"]
    assert [d for (kind, _), d in zip(layers, d_params, strict=True) if kind != "dense"] == \
        [{}] * (len(layers) - len(dense))
    for d, (dW, db) in zip(dense, reference, strict=True):
        assert_close(d["W"], dW)
        assert_close(d["b"], db)


@pytest.mark.parametrize("sizes", NETWORKS)
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_network_gradients_match_finite_differences(rng, sizes, loss):
    layers, _ = make_network(rng, sizes, "tanh")
    X = rng.standard_normal((4, sizes[0]))
    Y = rng.integers(0, sizes[-1], 4) if loss == "cross_entropy" else rng.standard_normal((4, sizes[-1]))
    _, d_params = network_gradients(X, Y, layers, loss)
    for k, (_, params) in enumerate(layers):
        for key, P in params.items():
            def f(x, k=k, key=key):
                changed = [(kd, dict(p)) for kd, p in layers]
                changed[k][1][key] = x
                return network_gradients(X, Y, changed, loss)[0]
            assert_gradient(f, d_params[k][key], P, rng)


def test_network_backward_returns_the_input_gradient_in_reverse_order(rng):
    layers, _ = make_network(rng, (3, 4, 2), "sigmoid")
    X = rng.standard_normal((5, 3))
    Z, caches = network_forward(X, layers)
    assert Z.shape == (5, 2) and len(caches) == len(layers)
    G = random_G(rng, Z.shape)
    dX, d_params = network_backward(G, caches, layers)
    assert dX.shape == X.shape and len(d_params) == 3
    assert_gradient(lambda x: float(np.sum(G * network_forward(x, layers)[0])), dX, X, rng)
    # Done by hand, module by module from the last: the same numbers.
    dA1, d2 = dense_backward(G, caches[2])
    dZ1, _ = activation_backward(dA1, caches[1])
    dX_hand, d0 = dense_backward(dZ1, caches[0])
    assert_close(dX, dX_hand)
    assert_close(d_params[0]["W"], d0["W"])
    assert_close(d_params[2]["b"], d2["b"])


def test_modules_table_holds_dense_and_every_activation():
    assert set(MODULES) == {"dense", *ACTIVATIONS}


# --- eq. (13): checking any module ------------------------------------------------------

@pytest.mark.parametrize("forward, backward, params", [
    (dense_forward, dense_backward, {"W": np.arange(6.0).reshape(3, 2) / 7, "b": np.array([0.5, -1.0])}),
    (MODULES["tanh"][0], activation_backward, {}),
    (square_forward, square_backward, {}),
])
def test_check_module_accepts_correct_modules(rng, forward, backward, params):
    A = rng.standard_normal((4, 3))
    errors = check_module(forward, backward, A, params, rng)
    assert set(errors) == {"A", *params}
    assert max(errors.values()) < GRAD_RTOL


def test_check_module_flags_a_wrong_backward(rng):
    def scaled_bias(dZ, cache):          # db off by 0.1 %
        dA, d = dense_backward(dZ, cache)
        return dA, {"W": d["W"], "b": d["b"] * 0.999}

    def sign_flipped(dZ, cache):
        dA, d = dense_backward(dZ, cache)
        return -dA, d

    A, params = rng.standard_normal((4, 3)), {"W": rng.standard_normal((3, 2)), "b": np.ones(2)}
    assert check_module(dense_forward, scaled_bias, A, params, rng)["b"] > 1e-4
    assert check_module(dense_forward, sign_flipped, A, params, rng)["A"] == pytest.approx(2.0)


def test_central_difference_and_relative_error_are_the_site_checker(rng):
    x = rng.standard_normal((3, 2))
    f = lambda v: float(np.sum(np.sin(v) * v))
    assert_close(central_difference(f, x), gc.central_difference(f, x))
    a, b = rng.standard_normal(5), rng.standard_normal(5)
    assert relative_error(a, b) == pytest.approx(gc.relative_error(a, b), rel=EXACT_RTOL)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    # Scaled first, so no square overflows.
    assert relative_error(np.array([1e300, 1e300]), np.array([1e300, 0.0])) == \
        pytest.approx(gc.relative_error(np.array([1.0, 1.0]), np.array([1.0, 0.0])), rel=EXACT_RTOL)


# --- bad input ---------------------------------------------------------------------------

GOOD = {"W": np.ones((2, 3)), "b": np.zeros(3)}
_, DENSE_CACHE = dense_forward(np.ones((1, 2)), GOOD)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: backward_through_jacobian(np.ones((2, 3)), np.ones((3, 2, 4))), r"J must have shape"),
        (lambda: backward_through_jacobian(np.ones((2, 3)), np.ones((2, 3))), r"J must have shape"),
        (lambda: add_forward((np.ones(2), np.ones(3)), {}), r"A and V must have one shape"),
        (lambda: add_forward(np.ones(2), {}), r"add takes inputs = \(A, V\)"),
        (lambda: add_forward((np.ones(2), np.ones(2)), {"W": 1}), r"add has no parameters"),
        (lambda: add_forward((np.ones(2), np.ones(2)), None), r"add has no parameters"),
        (lambda: add_forward((np.full(2, 1e308), np.full(2, 1e308)), {}), r"\|A\| \+ \|V\| must stay"),
        (lambda: add_forward((np.ones(0), np.ones(0)), {}), r"A must not be empty"),
        (lambda: add_forward(([np.nan], [1.0]), {}), r"A must be finite"),
        (lambda: add_forward((["a"], [1.0]), {}), r"A must be an array of real numbers"),
        (lambda: add_forward(([[1.0], [1.0, 2.0]], [1.0]), {}), r"A must be a rectangular array"),
        (lambda: add_backward(np.ones(3), (2,)), r"dZ must have the shape of the output, \(2,\)"),
        (lambda: multiply_forward((np.full(2, 1e200), np.full(2, 1e200)), {}), r"\|A\| \|V\| must stay"),
        (lambda: multiply_backward(np.full(1, 1e200), (np.full(1, 1e200), np.ones(1))),
         r"\|G\| max\(\|A\|, \|V\|\) must stay"),
        (lambda: maximum_forward((np.ones(2), np.ones((2, 1))), {}), r"A and V must have one shape"),
        (lambda: maximum_backward(np.ones(2), np.array([True])), r"dZ must have the shape"),
        (lambda: copy_forward(np.ones(2), {"b": 1}), r"copy has no parameters"),
        (lambda: copy_backward(np.ones(2), (2,)), r"one gradient per use"),
        (lambda: copy_backward((np.ones(2), np.ones(3)), (2,)), r"dZ_second must have the shape"),
        (lambda: copy_backward((np.full(1, 1e308), np.full(1, 1e308)), (1,)),
         r"\|dZ_first\| \+ \|dZ_second\|"),
        (lambda: broadcast_add_forward((np.ones((2, 3)), np.ones(2)), {}), r"must broadcast to one shape"),
        (lambda: broadcast_add_forward(np.ones(2), {}), r"broadcast_add takes inputs"),
        (lambda: broadcast_add_forward((np.ones(2), np.ones(2)), {"b": 0}),
         r"broadcast_add has no parameters"),
        (lambda: broadcast_add_forward((np.full(2, 1e308), np.full(1, 1e308)), {}),
         r"max \|A\| \+ max \|V\|"),
        (lambda: sum_to_shape(np.ones((2, 3)), (2,)), r"shape must be a tuple .* broadcasts"),
        (lambda: sum_to_shape(np.ones((2, 3)), [3]), r"shape must be a tuple"),
        (lambda: sum_to_shape(np.ones((2, 3)), (0, 3)), r"shape must be a tuple of sizes >= 1"),
        (lambda: sum_to_shape(np.ones((2, 3)), (4, 2, 3)), r"shape must be a tuple"),
        (lambda: sum_to_shape(np.full((2, 1), 1e308), (1,)), r"the sum of \|dZ\|"),
        (lambda: dense_forward(np.ones((1, 2)), {"W": np.ones((2, 3))}),
         r"dense needs params with the keys \['W', 'b'\]"),
        (lambda: dense_forward(np.ones((1, 2)), [np.ones((2, 3))]), r"dense needs params .* got list"),
        (lambda: dense_forward(np.ones((1, 2)), {"W": np.ones(2), "b": np.ones(2)}),
         r"W must be a 2-D array"),
        (lambda: dense_forward(np.ones((1, 2)), {"W": np.ones((2, 3)), "b": np.ones(2)}),
         r"b must have shape \(3,\)"),
        (lambda: dense_forward(np.ones((1, 3)), GOOD), r"A must have shape \(m, 2\)"),
        (lambda: dense_forward(np.ones(2), GOOD), r"A must have shape \(m, 2\)"),
        (lambda: dense_forward(np.ones((0, 2)), GOOD), r"A must have shape \(m, 2\) .* m >= 1"),
        (lambda: dense_forward(np.full((1, 2), 1e308), GOOD), r"\|A\| \|W\| \+ \|b\| must stay"),
        (lambda: dense_backward(np.ones((1, 2)), DENSE_CACHE),
         r"dZ must have the shape of the output, \(1, 3\)"),
        (lambda: dense_backward(np.full((1, 3), 1e308), DENSE_CACHE), r"\|G\| \|W\|\^T must stay"),
        (lambda: dense_backward(np.full((1, 3), 1e308), (np.full((1, 2), 10.0), np.zeros((2, 3)))),
         r"\|A\|\^T \|G\| must stay"),
        (lambda: dense_backward(np.full((2, 1), 1e308), (np.zeros((2, 1)), np.zeros((1, 1)))),
         r"the column sums of \|G\|"),
        (lambda: activation_forward(np.ones(2), {}, "swish"), r"name must be one of"),
        (lambda: activation_forward(np.ones(2), {"W": 1}, "tanh"), r"tanh has no parameters"),
        (lambda: activation_backward(np.ones(3), (np.ones(2), "tanh")), r"dA must have the shape"),
        (lambda: cross_entropy_forward(np.ones(3), [0]), r"Z must have shape \(m, C\)"),
        (lambda: cross_entropy_forward(np.ones((2, 3)), [0, 3]),
         r"class indices must be 2 integers in 0\.\.2"),
        (lambda: cross_entropy_forward(np.ones((2, 3)), [0.5, 1]), r"class indices must be"),
        (lambda: cross_entropy_forward(np.ones((2, 3)), np.ones((2, 2))),
         r"Y must have shape \(2, 3\) or \(2,\)"),
        (lambda: cross_entropy_forward(np.ones((1, 2)), [[0.5, 0.5]]), r"each row of Y must be one-hot"),
        (lambda: cross_entropy_forward(np.array([[1e308, -1e308]]), [0]), r"2 max \|Z\|"),
        (lambda: cross_entropy_backward(np.nan, (np.zeros((1, 2)), np.eye(2)[:1])),
         r"d_loss must be one finite number"),
        (lambda: cross_entropy_backward(True, (np.zeros((1, 2)), np.eye(2)[:1])),
         r"d_loss must be one finite number"),
        (lambda: cross_entropy_backward(np.ones(2), (np.zeros((1, 2)), np.eye(2)[:1])),
         r"d_loss must be one finite"),
        (lambda: squared_error_forward(np.ones((2, 2)), np.ones((2, 1))),
         r"Y must have the shape of Z, \(2, 2\)"),
        (lambda: squared_error_forward(np.full((1, 1), 2e154), np.zeros((1, 1))), r"n_out max \(Z - Y\)\^2"),
        (lambda: squared_error_backward(1e308, np.full((1, 1), 1e10)), r"2 \|d_loss\| \|Z - Y\| / m"),
        (lambda: network_forward(np.ones((1, 2)), []), r"layers must be a non-empty list"),
        (lambda: network_forward(np.ones((1, 2)), [("conv", {})]),
         r"layer 0 must be a pair \(kind, params\)"),
        (lambda: network_forward(np.ones((1, 2)), [("dense",)]), r"layer 0 must be a pair"),
        (lambda: network_backward(np.ones((1, 3)), [], [("dense", GOOD)]),
         r"one cache per layer \(1\), got 0"),
        (lambda: network_gradients(np.ones((1, 2)), [0], [("dense", GOOD)], "hinge"), r"loss must be one of"),
        (lambda: check_module(dense_forward, dense_backward, np.ones((1, 2)), GOOD, 0),
         r"rng must be a numpy"),
        (lambda: check_module(dense_forward, dense_backward, np.ones((1, 2)), [GOOD],
                              np.random.default_rng(0)),
         r"params must be a dict"),
        (lambda: relative_error(np.ones(2), np.ones(3)), r"a and b must have one shape"),
        (lambda: central_difference(lambda v: 0.0, [np.inf]), r"x must be finite"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "layers/modules.md"

#: (m, n_in, n_out) of the dense layers the formula checks bind: a batch of one and more.
FORMULA_DENSE = [(1, 2, 3), (4, 3, 2)]


def _dense_envs(rng):
    """A dense layer, its upstream gradient G and the code's results, under the page's names."""
    for m, n_in, n_out in FORMULA_DENSE:
        A, W = rng.standard_normal((m, n_in)), rng.standard_normal((n_in, n_out))
        b = rng.standard_normal(n_out)
        Z, cache = dense_forward(A, {"W": W, "b": b})
        G = rng.standard_normal(Z.shape)
        dA, d = dense_backward(G, cache)
        J = np.einsum("pi,jq->pqij", np.eye(m), W)      # dz_pq / da_ij = [p = i] W_jq
        yield {"A": A, "W": W, "b": b, "Z": Z, "G": G, "m": m, "n_in": n_in, "n_out": n_out,
               "dLoss/dZ": G, "dz/dA": J, "J": J, "dA": dA, "dW": d["W"], "db": d["b"],
               "__ranges__": {"j": "n_in", "k": "n_out"}}


def _jacobian_envs(rng):
    for env in _dense_envs(rng):
        env["dA"] = backward_through_jacobian(env["G"], env["J"])   # eq. (1) as coded
        yield env


def _pair_envs(forward, backward, ties=False):
    def envs(rng):
        for m, n in [(1, 1), (3, 4)]:
            if ties:      # small integers: many entries of A and V are equal
                A, V = rng.integers(-2, 3, (m, n)).astype(float), rng.integers(-2, 3, (m, n)).astype(float)
            else:
                A, V = rng.standard_normal((m, n)), rng.standard_normal((m, n))
            Z, cache = forward((A, V), {})
            G = rng.standard_normal(Z.shape)
            (dA, dV), _ = backward(G, cache)
            yield {"A": A, "V": V, "Z": Z, "G": G, "m": m, "n": n, "dA": dA, "dV": dV}
    return envs


def _fan_out_envs(rng):
    for shape in [(1, 1), (3, 4)]:
        A = rng.standard_normal(shape)
        _, cache = copy_forward(A, {})
        G_first, G_second = rng.standard_normal(shape), rng.standard_normal(shape)
        dA, _ = copy_backward((G_first, G_second), cache)
        yield {"A": A, "G_first": G_first, "G_second": G_second, "dA": dA}


def _square_envs(rng):
    for shape in [(1, 1), (3, 4)]:
        A = rng.standard_normal(shape)
        _, cache = square_forward(A, {})
        G = rng.standard_normal(shape)
        yield {"A": A, "G": G, "dA": square_backward(G, cache)[0]}


def _bias_envs(rng):
    for m, n in [(1, 3), (5, 2)]:
        A, b = rng.standard_normal((m, n)), rng.standard_normal(n)
        Z, cache = broadcast_add_forward((A, b), {})
        G = rng.standard_normal(Z.shape)
        (_, db), _ = broadcast_add_backward(G, cache)
        yield {"A": A, "b": b, "Z": Z, "G": G, "m": m, "n": n, "db": db,
               "__ranges__": {"k": "n"}}


def _activation_envs(rng):
    for name in sorted(ACTIVATIONS):
        Z = rng.normal(scale=2.0, size=(3, 4))
        A, cache = activation_forward(Z, {}, name)
        dA = rng.standard_normal(A.shape)                # the upstream gradient here
        dZ, _ = activation_backward(dA, cache)
        g, g_prime = ACTIVATIONS[name]
        yield {"Z": Z, "A": A, "g": g, "g'": g_prime, "m": 3, "n": 4, "dA": dA, "dZ": dZ}


def _loss_envs(rng):
    for m, n_out in [(1, 3), (5, 2)]:
        Z = rng.standard_normal((m, n_out))
        y = rng.integers(0, n_out, m)
        _, cache = cross_entropy_forward(Z, y)
        Y = np.eye(n_out)[y]
        P = np.exp(Z) / np.sum(np.exp(Z), axis=1, keepdims=True)
        yield {"Z": Z, "Y": Y, "Y_hat": P, "m": m, "n_out": n_out,
               "dZ": cross_entropy_backward(1.0, cache)[0], "__case__": "softmax cross-entropy"}
        Y = rng.standard_normal((m, n_out))
        _, cache = squared_error_forward(Z, Y)
        yield {"Z": Z, "Y": Y, "m": m, "n_out": n_out,
               "dZ": squared_error_backward(1.0, cache)[0], "__case__": "squared error"}


def _network_envs(rng):
    for sizes, m, activation in [((3, 4, 2), 5, "tanh"), ((2, 3, 3), 1, "sigmoid")]:
        layers, _ = make_network(rng, sizes, activation)
        X = rng.standard_normal((m, sizes[0]))
        y = rng.integers(0, sizes[-1], m)
        Z2, caches = network_forward(X, layers)
        _, loss_cache = cross_entropy_forward(Z2, y)
        dZ2, _ = cross_entropy_backward(1.0, loss_cache)
        dA1, _ = dense_backward(dZ2, caches[2])              # the module steps, one by one
        dZ1, _ = activation_backward(dA1, caches[1])
        _, d_params = network_gradients(X, y, layers)
        _, g_prime = ACTIVATIONS[activation]
        yield {"X": X, "W2": layers[2][1]["W"], "Z1": caches[1][0], "g'": g_prime,
               "dZ2": dZ2, "Delta2": dZ2, "dA1": dA1, "dZ1": dZ1, "dW1": d_params[0]["W"]}


def _check_envs(rng):
    """s is linear in A for a dense layer, so its central difference is exact for any step;
    a step of 1 leaves only rounding (1e-15), far inside the reader's tolerance."""
    for env in _dense_envs(rng):
        A, W, b, G = env["A"], env["W"], env["b"], env["G"]
        s = lambda x, W=W, b=b, G=G: float(np.sum(G * dense_forward(x, {"W": W, "b": b})[0]))
        env["s"] = s(A)
        env["ds/dA"] = central_difference(s, A, h=1.0)
        yield env


def _named(envs):
    """Also bind each code gradient dX as dLoss/dX: the reader's name for a derivative of
    the loss with respect to an entry, \\partial L / \\partial x_ij."""
    def named(rng):
        for env in envs(rng):
            grads = {k: v for k, v in env.items() if k.startswith("d") and "/" not in k}
            yield {**env, **{"dLoss/" + k: v for k, v in grads.items()}}
    return named


FORMULAS = {
    "jacobian": Case(_named(_jacobian_envs)),
    "add": Case(_named(_pair_envs(add_forward, add_backward))),
    "multiply": Case(_named(_pair_envs(multiply_forward, multiply_backward))),
    "maximum": Case(_named(_pair_envs(maximum_forward, maximum_backward, ties=True))),
    "fan-out": Case(_named(_fan_out_envs)),
    "square": Case(_named(_square_envs)),
    "broadcast": Case(_named(_bias_envs)),
    "dense-forward": Case(_named(_dense_envs)),
    "dense-backward": Case(_named(_dense_envs)),
    "activation": Case(_named(_activation_envs)),
    "losses": Case(_named(_loss_envs)),
    "network": Case(_named(_network_envs)),
    "check": Case(_named(_check_envs)),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)


def test_cross_entropy_keeps_the_digits_of_a_tiny_loss():
    """At logits (40, 0), class 0, the loss is log(1 + e^-40), about 4.25e-18, not 0."""
    import math

    got, _ = cross_entropy_forward(np.array([[40.0, 0.0]]), np.array([[1.0, 0.0]]))
    assert got == pytest.approx(math.log1p(math.exp(-40.0)), rel=1e-14, abs=0.0)
