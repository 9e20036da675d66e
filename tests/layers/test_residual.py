"""Tests for snippets/layers/residual.py (page docs/layers/residual.md)."""

from __future__ import annotations

import numpy as np
import pytest

from snippets.foundations.gradient_checking import central_difference
from snippets.layers.residual import (
    ACTIVATIONS,
    MAX_ABS,
    backward,
    block_backward,
    block_forward,
    block_jacobian,
    forward,
    stack_backward,
    stack_forward,
    two_block_jacobian,
)

from checks import EXACT_ATOL, EXACT_RTOL, assert_gradient
from formulas import Case, formula_test

#: Batch shapes (m, n): a batch of one, one feature, and larger ones.
SHAPES = [(1, 1), (1, 4), (5, 1), (6, 3), (9, 5)]

#: The ReLU's pre-activations are kept this far from its kink at 0, so that a central
#: difference (step 1e-5, times entries of order 1) never straddles it.
KINK_MARGIN = 1e-3


def make_block(rng, shape, activation="tanh", scale=0.8):
    """A random batch and block; for the ReLU, redrawn until no pre-activation is within
    KINK_MARGIN of the kink."""
    m, n = shape
    for _ in range(100):
        A = rng.standard_normal((m, n))
        params = {"W": rng.normal(0.0, scale / np.sqrt(n), (n, n)), "b": rng.normal(0.0, 0.3, n)}
        if activation != "relu" or np.min(np.abs(A @ params["W"] + params["b"])) > KINK_MARGIN:
            return A, params
    raise AssertionError("no draw kept the pre-activations away from the kink")


def with_param(params, key, value):
    new = dict(params)
    new[key] = value
    return new


# --- the forward pass ------------------------------------------------------------------

def test_forward_hand_computed():
    # A = (1, -1), W = [[1, 2], [0, 1]], b = (0, 1): A W + b = (1, 2), relu keeps it,
    # Z = A + F = (2, 1).
    params = {"W": np.array([[1.0, 2.0], [0.0, 1.0]]), "b": np.array([0.0, 1.0])}
    F, _ = block_forward(np.array([[1.0, -1.0]]), params, "relu")
    np.testing.assert_array_equal(F, [[1.0, 2.0]])
    Z, _ = forward(np.array([[1.0, -1.0]]), params, "relu")
    np.testing.assert_array_equal(Z, [[2.0, 1.0]])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_forward_is_the_input_plus_the_block(rng, shape, activation):
    """Eqs. (1) and (2), row by row against one example at a time."""
    A, params = make_block(rng, shape, activation)
    g, _ = ACTIVATIONS[activation]
    F, _ = block_forward(A, params, activation)
    Z, _ = forward(A, params, activation)
    assert F.shape == Z.shape == shape
    for i in range(shape[0]):
        f_i = g(params["W"].T @ A[i] + params["b"])
        np.testing.assert_allclose(F[i], f_i, rtol=EXACT_RTOL, atol=EXACT_ATOL)
        np.testing.assert_allclose(Z[i], A[i] + f_i, rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_activation_derivatives_match_finite_differences(rng):
    z = rng.normal(0.0, 2.0, 40)
    z = np.where(np.abs(z) < KINK_MARGIN, 1.0, z)
    for name, (g, g_prime) in ACTIVATIONS.items():
        numeric = (g(z + 1e-6) - g(z - 1e-6)) / 2e-6
        np.testing.assert_allclose(g_prime(z), numeric, rtol=1e-8, atol=1e-8, err_msg=name)


# --- the backward pass ------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_block_backward_matches_finite_differences(rng, shape, activation):
    """Eq. (3): the gradients of sum(G * F(A)) with respect to A, W and b."""
    A, params = make_block(rng, shape, activation)
    G = rng.standard_normal(shape)
    F, cache = block_forward(A, params, activation)
    dA, grads = block_backward(G, cache)
    assert dA.shape == A.shape and set(grads) == {"W", "b"}
    assert_gradient(lambda X: float(np.sum(G * block_forward(X, params, activation)[0])), dA, A)
    for key in params:
        f = lambda v, k=key: float(np.sum(G * block_forward(A, with_param(params, k, v),
                                                             activation)[0]))
        assert_gradient(f, grads[key], params[key])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_residual_backward_matches_finite_differences(rng, shape, activation):
    """Eq. (4): dA = G + (dF)^T G, and dW, db, checked by central differences with a
    random upstream gradient, the block a dense layer and an activation."""
    A, params = make_block(rng, shape, activation)
    G = rng.standard_normal(shape)
    Z, cache = forward(A, params, activation)
    dA, grads = backward(G, cache)
    assert dA.shape == A.shape
    assert all(grads[k].shape == params[k].shape for k in params)
    assert_gradient(lambda X: float(np.sum(G * forward(X, params, activation)[0])), dA, A)
    for key in params:
        f = lambda v, k=key: float(np.sum(G * forward(A, with_param(params, k, v),
                                                      activation)[0]))
        assert_gradient(f, grads[key], params[key])


@pytest.mark.parametrize("shape", SHAPES)
def test_backward_is_g_plus_the_block_backward(rng, shape):
    """Eq. (4) against eq. (3), and eq. (3) with indices, by loops."""
    A, params = make_block(rng, shape)
    G = rng.standard_normal(shape)
    _, cache = forward(A, params)
    dA, grads = backward(G, cache)
    dA_block, grads_block = block_backward(G, cache)
    np.testing.assert_array_equal(dA, G + dA_block)
    for key in params:
        np.testing.assert_array_equal(grads[key], grads_block[key])
    m, n = shape
    Z_block = A @ params["W"] + params["b"]
    Delta = G * (1 - np.tanh(Z_block) ** 2)
    for i in range(m):
        for j in range(n):
            entry = G[i, j] + sum(Delta[i, k] * params["W"][j, k] for k in range(n))
            assert dA[i, j] == pytest.approx(entry, rel=EXACT_RTOL, abs=EXACT_ATOL)
    np.testing.assert_allclose(grads["W"], sum(np.outer(A[i], Delta[i]) for i in range(m)),
                               rtol=EXACT_RTOL, atol=EXACT_ATOL)
    np.testing.assert_allclose(grads["b"], Delta.sum(axis=0), rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_the_identity_path_passes_g_when_the_block_is_flat(rng):
    """With W = 0 and b = 0 the block is 0 and flat (tanh' = 1 but W = 0): the residual
    gradient is exactly G, while the block alone passes nothing."""
    A = rng.standard_normal((4, 3))
    G = rng.standard_normal((4, 3))
    params = {"W": np.zeros((3, 3)), "b": np.zeros(3)}
    np.testing.assert_array_equal(backward(G, forward(A, params)[1])[0], G)
    np.testing.assert_array_equal(block_backward(G, block_forward(A, params)[1])[0], 0 * G)


# --- stacks of blocks -------------------------------------------------------------------

def make_stack(rng, depth, n, scale=0.8):
    return [make_block(rng, (1, n), scale=scale)[1] for _ in range(depth)]


@pytest.mark.parametrize("skip", [True, False])
@pytest.mark.parametrize("depth", [1, 2, 4])
def test_stack_backward_matches_finite_differences(rng, skip, depth):
    """Eq. (5): the gradient with respect to the input and to every block's weights."""
    A = rng.standard_normal((5, 3))
    blocks = make_stack(rng, depth, 3)
    G = rng.standard_normal((5, 3))
    Z, caches = stack_forward(A, blocks, "tanh", skip)
    assert Z.shape == A.shape and len(caches) == depth
    dA, grads = stack_backward(G, caches, skip)
    assert_gradient(lambda X: float(np.sum(G * stack_forward(X, blocks, "tanh", skip)[0])),
                    dA, A)
    for layer in range(depth):
        def f(W, k=layer):
            changed = list(blocks)
            changed[k] = with_param(blocks[k], "W", W)
            return float(np.sum(G * stack_forward(A, changed, "tanh", skip)[0]))
        assert_gradient(f, grads[layer]["W"], blocks[layer]["W"])


def test_stack_recursion_is_one_block_at_a_time(rng):
    """Eq. (5) unrolled by hand for two blocks."""
    A = rng.standard_normal((4, 3))
    blocks = make_stack(rng, 2, 3)
    G = rng.standard_normal((4, 3))
    A1, c1 = forward(A, blocks[0])
    A2, c2 = forward(A1, blocks[1])
    Z, caches = stack_forward(A, blocks)
    np.testing.assert_array_equal(Z, A2)
    G1, _ = backward(G, c2)
    G0, _ = backward(G1, c1)
    np.testing.assert_array_equal(stack_backward(G, caches)[0], G0)


def test_a_flat_stack_passes_g_with_skips_and_nothing_without(rng):
    """Fifty blocks with W = 0: with skip connections the input gradient is exactly G,
    without them exactly 0."""
    A = rng.standard_normal((3, 4))
    G = rng.standard_normal((3, 4))
    blocks = [{"W": np.zeros((4, 4)), "b": np.zeros(4)} for _ in range(50)]
    with_skips, _ = stack_backward(G, stack_forward(A, blocks)[1])
    without, _ = stack_backward(G, stack_forward(A, blocks, skip=False)[1], skip=False)
    np.testing.assert_array_equal(with_skips, G)
    np.testing.assert_array_equal(without, 0 * G)


def test_with_small_blocks_the_gradient_survives_depth_only_with_skips(rng):
    """Thirty blocks with small weights: without skips the input gradient shrinks by many
    orders of magnitude; with them it stays of the size of G."""
    A = rng.standard_normal((8, 6))
    G = rng.standard_normal((8, 6))
    blocks = make_stack(rng, 30, 6, scale=0.3)
    with_skips, _ = stack_backward(G, stack_forward(A, blocks)[1])
    without, _ = stack_backward(G, stack_forward(A, blocks, skip=False)[1], skip=False)
    assert np.linalg.norm(without) < 1e-10 * np.linalg.norm(G)
    assert 0.1 < np.linalg.norm(with_skips) / np.linalg.norm(G) < 10


# --- Jacobians and the identity path ------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 5])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_block_jacobian_matches_finite_differences(rng, n, activation):
    """J_kj = dF_k/da_j = g'(z_k) W_jk, column by column by central differences."""
    A, params = make_block(rng, (1, n), activation)
    a = A[0]
    J = block_jacobian(a, params, activation)
    assert J.shape == (n, n)
    for k in range(n):                         # row k: the gradient of F_k in a
        f_k = lambda x, k=k: float(block_forward(x[None, :], params, activation)[0][0, k])
        assert_gradient(f_k, J[k], a)


def test_two_block_jacobian_is_the_product_and_four_paths(rng):
    """Eq. (6): (I + J2)(I + J1) = I + J1 + J2 + J2 J1, the Jacobian of two residual
    blocks by central differences, and its transpose times g is the stack's backward."""
    n = 4
    A, _ = make_block(rng, (1, n))
    blocks = make_stack(rng, 2, n)
    a0 = A[0]
    a1 = forward(A, blocks[0])[0][0]
    J1 = block_jacobian(a0, blocks[0])
    J2 = block_jacobian(a1, blocks[1])
    J = two_block_jacobian(J1, J2)
    eye = np.eye(n)
    np.testing.assert_allclose(J, (eye + J2) @ (eye + J1), rtol=EXACT_RTOL, atol=EXACT_ATOL)
    for k in range(n):
        row = central_difference(
            lambda x, k=k: float(stack_forward(x[None, :], blocks)[0][0, k]), a0)
        np.testing.assert_allclose(J[k], row, rtol=1e-7, atol=1e-9)
    g = rng.standard_normal(n)
    dA, _ = stack_backward(g[None, :], stack_forward(A, blocks)[1])
    np.testing.assert_allclose(dA[0], J.T @ g, rtol=1e-12, atol=EXACT_ATOL)


def test_two_block_jacobian_keeps_the_identity_when_the_blocks_vanish():
    np.testing.assert_array_equal(two_block_jacobian(np.zeros((3, 3)), np.zeros((3, 3))),
                                  np.eye(3))


# --- extreme inputs ---------------------------------------------------------------------

def test_huge_inputs_give_finite_results(rng):
    """At |a| ~ 1e290 the tanh block saturates: F = sign(A W + b), its slope is 0, and
    the gradient is exactly G, finite."""
    A, params = make_block(rng, (4, 3))
    A = A * 1e290
    G = rng.standard_normal((4, 3))
    Z, cache = forward(A, params)
    np.testing.assert_array_equal(Z, A + np.sign(A @ params["W"] + params["b"]))
    dA, grads = backward(G, cache)
    np.testing.assert_array_equal(dA, G)
    assert np.all(np.isfinite(grads["W"]))


def test_relu_residual_at_large_scale_is_exact(rng):
    """Positive homogeneity: with b = 0 a ReLU block scales with its input."""
    A, params = make_block(rng, (3, 4), "relu")
    params["b"] = np.zeros(4)
    Z, _ = forward(A, params, "relu")
    Z_big, _ = forward(A * 1e200, params, "relu")
    np.testing.assert_allclose(Z_big, Z * 1e200, rtol=1e-14)


# --- bad input ------------------------------------------------------------------------

P2 = {"W": np.eye(2), "b": np.zeros(2)}
A2 = np.ones((3, 2))
_, C2 = forward(A2, P2)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: forward(A2, P2, "sigmoid"), r"activation must be one of \['identity', 'relu', "
                                              r"'tanh'\], got 'sigmoid'"),
        (lambda: forward(A2, P2, None), r"activation must be one of"),
        (lambda: forward(np.ones(2), P2), r"A must be a 2-D array \(m, n\).*got shape \(2,\)"),
        (lambda: forward(np.ones((0, 2)), P2), r"A must be a 2-D array"),
        (lambda: forward([[1.0, np.nan]], P2), r"A must be finite"),
        (lambda: forward([[1.0], [1.0, 2.0]], P2), r"A must be a rectangular array"),
        (lambda: forward(np.array([["a", "b"]]), P2), r"A must be an array of real numbers"),
        (lambda: forward(A2, {"W": np.ones((2, 3)), "b": np.zeros(3)}),
         r"needs W of shape \(2, 2\) and b of shape \(2,\), got \(2, 3\) and \(3,\)"),
        (lambda: forward(A2, {"W": np.eye(2), "b": np.zeros(3)}), r"b of shape \(2,\)"),
        (lambda: forward(A2, {"W": np.eye(2)}), r"keys 'W' and 'b', got \['W'\]"),
        (lambda: forward(A2, [np.eye(2), np.zeros(2)]), r"keys 'W' and 'b', got list"),
        (lambda: forward(A2, {"W": np.eye(2), "b": [np.inf, 0.0]}), r"b must be finite"),
        (lambda: forward(np.full((1, 2), 2 * MAX_ABS), P2), r"A and its products with W must "
                                                            r"stay below 1e\+300"),
        (lambda: forward(np.full((1, 2), 1e200), {"W": np.full((2, 2), 1e150), "b": np.zeros(2)}),
         r"A and its products with W must stay below"),
        (lambda: forward(A2, {"W": np.eye(2), "b": np.full(2, 1e301)}), r"b must stay below"),
        (lambda: backward(np.ones((2, 2)), C2),
         r"dZ must have the shape of the block's output \(3, 2\), got \(2, 2\)"),
        (lambda: backward(np.ones((3, 2)), {"A": A2}), r"cache must be the dict returned"),
        (lambda: block_backward(np.ones((3, 2)), None), r"cache must be the dict"),
        (lambda: backward(np.full((3, 2), 1e301), C2), r"dZ and its products with W"),
        (lambda: stack_forward(A2, [], "tanh"), r"non-empty list, one entry per block"),
        (lambda: stack_forward(A2, [P2], "tanh", skip="yes"), r"skip must be True or False"),
        (lambda: stack_backward(np.ones((3, 2)), C2), r"non-empty list"),
        (lambda: two_block_jacobian(np.eye(2), np.eye(3)),
         r"J1 and J2 must be square matrices \(n, n\) of the same shape"),
        (lambda: two_block_jacobian(np.ones((2, 3)), np.ones((2, 3))), r"must be square"),
        (lambda: block_jacobian(np.ones(3), P2), r"needs W of shape \(3, 3\)"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()



# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "layers/residual.md"

#: Shapes and activations for the formula checks: a batch of one, and a larger batch.
FORMULA_CASES = [((1, 3), "tanh"), ((4, 2), "relu"), ((3, 3), "identity")]


def _block_envs(rng):
    """One residual block: its input, output, and the gradients, under the page's names."""
    for shape, activation in FORMULA_CASES:
        A, params = make_block(rng, shape, activation)
        g, g_prime = ACTIVATIONS[activation]
        G = rng.standard_normal(shape)
        F, cache = block_forward(A, params, activation)
        Z, _ = forward(A, params, activation)
        dA, grads = backward(G, cache)
        Delta = G * g_prime(cache["Z_block"])
        m, n = shape
        yield {"A": A, "m": m, "n": n, "W": params["W"], "b": params["b"], "g": g, "g'": g_prime,
               "f": F, "F": lambda X, p=params, a=activation: block_forward(X, p, a)[0],
               "Z": Z, "G": G, "dZ": G, "Delta": Delta, "dW": grads["W"], "db": grads["b"],
               "dA": dA, "__ranges__": {"k": "n"}}


def _stack_envs(rng):
    """Stacks of three blocks, with and without skips: every G^(l), Delta^(l) and A^(l)."""
    for skip, label in ((True, "with skip connections"), (False, "without")):
        A, _ = make_block(rng, (4, 3))
        blocks = make_stack(rng, 3, 3)
        G = rng.standard_normal((4, 3))
        _, g_prime = ACTIVATIONS["tanh"]
        env = {"g'": g_prime, "n": 3, "m": 4, "__case__": label,
               "__ranges__": {"l": (1, 3)}, "A0": A}
        A_l, caches = A, []
        for layer, params in enumerate(blocks, start=1):
            env[f"W{layer}"], env[f"b{layer}"] = params["W"], params["b"]
            A_l, cache = (forward if skip else block_forward)(A_l, params, "tanh")
            caches.append(cache)
            env[f"A{layer}"] = A_l
        env["G3"] = G
        for layer in range(3, 0, -1):
            dA_block, _ = block_backward(env[f"G{layer}"], caches[layer - 1])
            env[f"Delta{layer}"] = env[f"G{layer}"] * g_prime(caches[layer - 1]["Z_block"])
            env[f"G{layer - 1}"] = (env[f"G{layer}"] + dA_block) if skip else dA_block
        # The recursion of the code, for the gradient at the input: the same as G0.
        dA, _ = stack_backward(G, caches, skip)
        np.testing.assert_allclose(dA, env["G0"], rtol=EXACT_RTOL, atol=EXACT_ATOL)
        yield env


def _jacobian_envs(rng):
    """One example through two residual blocks: J_1, J_2 and the Jacobian of the pair."""
    for n, activation in ((3, "tanh"), (2, "identity")):
        A, _ = make_block(rng, (1, n), activation)
        blocks = [make_block(rng, (1, n), activation)[1] for _ in range(2)]
        a0 = A[0]
        a1 = forward(A, blocks[0], activation)[0][0]
        _, g_prime = ACTIVATIONS[activation]
        J1, J2 = block_jacobian(a0, blocks[0], activation), block_jacobian(a1, blocks[1], activation)
        yield {"n": n, "g'": g_prime, "I": np.eye(n), "a0": a0, "a1": a1,
               "W1": blocks[0]["W"], "b1": blocks[0]["b"], "W2": blocks[1]["W"],
               "b2": blocks[1]["b"], "J_1": J1, "J_2": J2,
               "da2/da0": two_block_jacobian(J1, J2), "__ranges__": {"l": (1, 2)}}


FORMULAS = {
    "block": Case(_block_envs),
    "forward": Case(_block_envs),
    "block-backward": Case(_block_envs),
    "backward": Case(_block_envs),
    "stack": Case(_stack_envs),
    "jacobian": Case(_jacobian_envs),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
