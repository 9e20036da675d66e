"""Tests for snippets/layers/layer_norm.py (page docs/layers/layer-norm.md)."""

from __future__ import annotations

import numpy as np
import pytest

from snippets.layers import batch_norm
from snippets.layers.layer_norm import (
    EPS,
    backward,
    backward_by_transpose,
    example_statistics,
    feature_sum,
    forward,
    grad_x_hat,
    normalise_columns,
    normalise_columns_backward,
    param_gradients,
    rms_backward,
    rms_forward,
)

from checks import EXACT_ATOL, EXACT_RTOL, assert_gradient
from formulas import Case, formula_test

#: Shapes (m, n) with the eps of the gradient checks: batches of one, one feature, wider
#: and taller batches. With n = 2 each row of x_hat is (-s, s) with s ~ 1 whatever the
#: input, and the input gradient is of the size of eps, too small for a relative check by
#: differences: those shapes use eps = 0.5, as does one larger shape, so that a mistake in
#: a term carrying eps cannot hide. With n = 1, x_hat = 0 and the gradient is exactly 0.
GRAD_CASES = [((1, 1), EPS), ((1, 5), EPS), ((3, 1), EPS), ((1, 2), 0.5), ((4, 2), 0.5),
              ((4, 6), EPS), ((7, 3), EPS), ((5, 4), 0.5)]
SHAPES = [shape for shape, _ in GRAD_CASES]


def make_layer(rng, shape):
    """A random batch whose rows have different means and spreads, and gamma, beta."""
    m, n = shape
    A = rng.normal(rng.normal(0.0, 2.0, (m, 1)), rng.uniform(0.5, 3.0, (m, 1)), size=(m, n))
    params = {"gamma": rng.normal(0.0, 1.5, n), "beta": rng.normal(0.0, 1.0, n)}
    return A, params


def with_param(params, key, value):
    new = dict(params)
    new[key] = value
    return new


# --- the forward pass ------------------------------------------------------------------

def test_forward_hand_computed():
    # eps = 3: row (1, 3) has mean 2, variance 1, std 2, x_hat (-1/2, 1/2); row (5, 5)
    # has variance 0 and x_hat (0, 0). Then z = gamma x_hat + beta.
    A = np.array([[1.0, 3.0], [5.0, 5.0]])
    params = {"gamma": np.array([2.0, -1.0]), "beta": np.array([1.0, 0.0])}
    Z, cache = forward(A, params, eps=3.0)
    np.testing.assert_array_equal(cache["std"], [2.0, np.sqrt(3.0)])
    np.testing.assert_array_equal(cache["x_hat"], [[-0.5, 0.5], [0.0, 0.0]])
    np.testing.assert_array_equal(Z, [[0.0, -0.5], [1.0, 0.0]])


@pytest.mark.parametrize("shape", SHAPES)
def test_statistics_are_the_row_mean_and_biased_variance(rng, shape):
    """Eq. (1) against NumPy, and by loops over the features."""
    A, _ = make_layer(rng, shape)
    mu, var = example_statistics(A)
    assert mu.shape == var.shape == (shape[0],)
    np.testing.assert_allclose(mu, A.mean(axis=1), rtol=EXACT_RTOL, atol=EXACT_ATOL)
    np.testing.assert_allclose(var, A.var(axis=1), rtol=EXACT_RTOL, atol=EXACT_ATOL)
    m, n = shape
    for i in range(m):
        mu_i = sum(A[i, j] for j in range(n)) / n
        assert mu[i] == pytest.approx(mu_i, rel=EXACT_RTOL, abs=EXACT_ATOL)
        assert var[i] == pytest.approx(sum((A[i, j] - mu_i) ** 2 for j in range(n)) / n,
                                       rel=EXACT_RTOL, abs=EXACT_ATOL)


@pytest.mark.parametrize("shape", SHAPES)
def test_forward_is_the_matrix_form(rng, shape):
    """Eq. (2): X_hat = diag(std)^-1 (A - mu 1^T), Z = X_hat diag(gamma) + 1 beta^T."""
    A, params = make_layer(rng, shape)
    Z, cache = forward(A, params)
    m, n = shape
    mu, var = example_statistics(A)
    x_hat = np.diag(1 / np.sqrt(var + EPS)) @ (A - np.outer(mu, np.ones(n)))
    np.testing.assert_allclose(cache["x_hat"], x_hat, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    expected = x_hat @ np.diag(params["gamma"]) + np.outer(np.ones(m), params["beta"])
    np.testing.assert_allclose(Z, expected, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    # Each row of x_hat has mean 0 and variance var / (var + eps).
    np.testing.assert_allclose(x_hat.mean(axis=1), 0.0, atol=EXACT_ATOL)
    np.testing.assert_allclose(x_hat.var(axis=1), var / (var + EPS), rtol=1e-10)


@pytest.mark.parametrize("shape", SHAPES)
def test_layer_norm_is_batch_norm_of_the_transpose(rng, shape):
    """Eq. (3): x_hat of layer norm = x_hat of batch norm on A^T, transposed, also with
    the batch normalisation page's own code."""
    A, params = make_layer(rng, shape)
    _, cache = forward(A, params)
    x_hat_T, std = normalise_columns(A.T)
    np.testing.assert_allclose(cache["x_hat"], x_hat_T.T, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    np.testing.assert_allclose(cache["std"], std, rtol=EXACT_RTOL)
    mu, var = batch_norm.batch_statistics(A.T) if shape[1] > 1 else (A[:, 0], np.zeros(shape[0]))
    x_hat_bn, _ = batch_norm.normalise(A.T, mu, var)
    np.testing.assert_allclose(cache["x_hat"], x_hat_bn.T, rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_each_example_is_normalised_on_its_own(rng):
    """Unlike batch normalisation, an example's output ignores the rest of the batch."""
    A, params = make_layer(rng, (5, 4))
    Z, _ = forward(A, params)
    for i in range(5):
        np.testing.assert_array_equal(forward(A[i:i + 1], params)[0], Z[i:i + 1])


def test_forward_and_rmsnorm_match_pytorch():
    """Numbers printed by torch.nn.LayerNorm(4) (default eps = 1e-5) and
    torch.nn.RMSNorm(4, eps=1e-5) in float64 (PyTorch 2.13.0 on CPU), with weight
    (2, -1, 0.5, 1) and, for LayerNorm, bias (0, 1, -3, 0.5). The last row is constant."""
    A = np.array([[1.0, -2.0, 0.5, 3.0], [0.0, 0.0, 4.0, 1.0], [2.0, 2.0, 2.0, 2.0]])
    gamma = np.array([2.0, -1.0, 0.5, 1.0])
    torch_ln = [[0.42111677997727415, 2.47390872992046, -3.0350930649981063, 1.833536469928035],
                [-1.5249828661512606, 1.7624914330756303, -2.161259423616807, 0.34750171338487396],
                [0.0, 1.0, -3.0, 0.5]]
    torch_rms = [[1.0596243984609406, 1.0596243984609406, 0.13245304980761757, 1.5894365976914109],
                 [0.0, -0.0, 0.9701413588032283, 0.48507067940161414],
                 [1.9999975000046875, -0.9999987500023437, 0.49999937500117186,
                  0.9999987500023437]]
    Z, _ = forward(A, {"gamma": gamma, "beta": np.array([0.0, 1.0, -3.0, 0.5])})
    np.testing.assert_allclose(Z, torch_ln, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    np.testing.assert_allclose(rms_forward(A, {"gamma": gamma})[0], torch_rms,
                               rtol=EXACT_RTOL, atol=EXACT_ATOL)


# --- the backward pass ------------------------------------------------------------------

@pytest.mark.parametrize("shape, eps", GRAD_CASES)
def test_backward_matches_finite_differences(rng, shape, eps):
    """dA, dgamma, dbeta of the scalar sum(G * Z), with a random upstream gradient G."""
    A, params = make_layer(rng, shape)
    G = rng.standard_normal(shape)
    _, cache = forward(A, params, eps)
    dA, grads = backward(G, cache)
    assert dA.shape == A.shape and set(grads) == set(params)
    assert_gradient(lambda X: float(np.sum(G * forward(X, params, eps)[0])), dA, A)
    for key in params:
        g = lambda v, k=key: float(np.sum(G * forward(A, with_param(params, k, v), eps)[0]))
        assert_gradient(g, grads[key], params[key])


def test_backward_in_random_directions_for_a_wide_batch(rng):
    A, params = make_layer(rng, (20, 64))
    G = rng.standard_normal((20, 64))
    dA, _ = backward(G, forward(A, params)[1])
    assert_gradient(lambda X: float(np.sum(G * forward(X, params)[0])), dA, A, rng)


@pytest.mark.parametrize("shape", SHAPES)
def test_parameter_gradients_and_g_hat(rng, shape):
    """Eq. (4): sums over the examples, as in batch normalisation, and G_hat = G diag(gamma)."""
    A, params = make_layer(rng, shape)
    G = rng.standard_normal(shape)
    _, cache = forward(A, params)
    dgamma, dbeta = param_gradients(G, cache["x_hat"])
    np.testing.assert_allclose(dgamma, (G * cache["x_hat"]).sum(axis=0), rtol=EXACT_RTOL,
                               atol=EXACT_ATOL)
    np.testing.assert_allclose(dbeta, G.T @ np.ones(shape[0]), rtol=EXACT_RTOL,
                               atol=EXACT_ATOL)
    np.testing.assert_allclose(grad_x_hat(G, params["gamma"]), G @ np.diag(params["gamma"]),
                               rtol=EXACT_RTOL, atol=EXACT_ATOL)


@pytest.mark.parametrize("shape, eps", GRAD_CASES)
def test_backward_by_transpose_equals_the_row_form(rng, shape, eps):
    """Eq. (5), batch norm's backward on the transposes, equals eq. (6); and the column
    backward is the batch normalisation page's own compact form (gamma = 1)."""
    A, params = make_layer(rng, shape)
    G = rng.standard_normal(shape)
    _, cache = forward(A, params, eps)
    dA, grads = backward(G, cache)
    dA_T, grads_T = backward_by_transpose(G, cache)
    np.testing.assert_allclose(dA, dA_T, rtol=1e-10, atol=EXACT_ATOL)
    for key in params:
        np.testing.assert_allclose(grads[key], grads_T[key], rtol=EXACT_RTOL, atol=EXACT_ATOL)
    if shape[1] >= 2:
        G_hat = G * params["gamma"]
        _, bn_cache = batch_norm.forward(A.T, {"gamma": np.ones(shape[0]),
                                               "beta": np.zeros(shape[0])}, eps)
        dB, _ = batch_norm.backward(G_hat.T, bn_cache)
        np.testing.assert_allclose(
            normalise_columns_backward(G_hat.T, cache["x_hat"].T, cache["std"]), dB,
            rtol=1e-10, atol=EXACT_ATOL)
        np.testing.assert_allclose(dA, dB.T, rtol=1e-10, atol=EXACT_ATOL)


@pytest.mark.parametrize("shape", SHAPES)
def test_row_form_with_indices(rng, shape):
    """Eq. (6) entry by entry, by loops, and its matrix form."""
    A, params = make_layer(rng, shape)
    G = rng.standard_normal(shape)
    _, cache = forward(A, params)
    dA, _ = backward(G, cache)
    m, n = shape
    x_hat, std = cache["x_hat"], cache["std"]
    g_hat = G * params["gamma"]
    for i in range(m):
        s1 = sum(g_hat[i, k] for k in range(n))
        s2 = sum(g_hat[i, k] * x_hat[i, k] for k in range(n))
        for j in range(n):
            entry = (n * g_hat[i, j] - s1 - x_hat[i, j] * s2) / (n * std[i])
            assert dA[i, j] == pytest.approx(entry, rel=1e-10, abs=EXACT_ATOL)
    J = np.ones((n, n))
    matrix = np.diag(1 / std) @ (n * g_hat - g_hat @ J - x_hat * ((g_hat * x_hat) @ J)) / n
    np.testing.assert_allclose(dA, matrix, rtol=1e-10, atol=EXACT_ATOL)


@pytest.mark.parametrize("shape", SHAPES)
def test_input_gradient_sums_to_zero_over_the_features(rng, shape):
    """Eq. (7): every row of dL/dA sums to 0, while its entries are of order 1."""
    A, params = make_layer(rng, shape)
    G = rng.standard_normal(shape)
    _, cache = forward(A, params)
    dA, _ = backward(G, cache)
    sums = feature_sum(dA)
    assert sums.shape == (shape[0],)
    np.testing.assert_allclose(sums, dA.sum(axis=1), rtol=EXACT_RTOL, atol=EXACT_ATOL)
    assert np.all(np.abs(sums) <= 1e-13 * np.maximum(np.abs(dA).sum(axis=1), 1.0))
    # Shifting every feature of one example by c changes nothing.
    np.testing.assert_allclose(forward(A + 2.5, params)[0], forward(A, params)[0],
                               rtol=1e-12, atol=1e-12)


# --- RMSNorm -------------------------------------------------------------------------

def test_rms_forward_hand_computed():
    # eps = 2: row (1, 1, 1, 1) has mean square 1, rms sqrt(3); row (0, 0, 3, 1) has
    # mean square 10 / 4 = 2.5, rms sqrt(4.5) = 1.5 sqrt(2).
    A = np.array([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 3.0, 1.0]])
    Z, cache = rms_forward(A, {"gamma": np.array([1.0, 2.0, 1.0, 1.0])}, eps=2.0)
    np.testing.assert_allclose(cache["rms"], [np.sqrt(3.0), np.sqrt(4.5)], rtol=EXACT_RTOL)
    np.testing.assert_allclose(Z[1], [0.0, 0.0, 3 / np.sqrt(4.5), 1 / np.sqrt(4.5)],
                               rtol=EXACT_RTOL)


@pytest.mark.parametrize("shape, eps", GRAD_CASES)
def test_rms_backward_matches_finite_differences(rng, shape, eps):
    """Eq. (9), dA and dgamma, with a random upstream gradient. With one feature,
    x_hat = a / sqrt(a^2 + eps) is almost flat: that case uses eps = 0.5, as above."""
    eps = 0.5 if shape[1] == 1 else eps
    A, params = make_layer(rng, shape)
    params = {"gamma": params["gamma"]}
    G = rng.standard_normal(shape)
    _, cache = rms_forward(A, params, eps)
    dA, grads = rms_backward(G, cache)
    assert dA.shape == A.shape and set(grads) == {"gamma"}
    assert_gradient(lambda X: float(np.sum(G * rms_forward(X, params, eps)[0])), dA, A)
    assert_gradient(lambda g: float(np.sum(G * rms_forward(A, {"gamma": g}, eps)[0])),
                    grads["gamma"], params["gamma"])


@pytest.mark.parametrize("shape", SHAPES)
def test_rms_backward_steps_with_indices(rng, shape):
    """Eq. (9), its lines by loops: dL/drms_i, then dL/da_ij by the two paths."""
    A, params = make_layer(rng, shape)
    G = rng.standard_normal(shape)
    _, cache = rms_forward(A, {"gamma": params["gamma"]})
    dA, _ = rms_backward(G, cache)
    m, n = shape
    rms, x_hat = cache["rms"], cache["x_hat"]
    g_hat = G * params["gamma"]
    for i in range(m):
        d_rms = -sum(g_hat[i, k] * A[i, k] for k in range(n)) / rms[i] ** 2
        for j in range(n):
            two_paths = g_hat[i, j] / rms[i] + A[i, j] / (n * rms[i]) * d_rms
            compact = (g_hat[i, j] - x_hat[i, j] / n
                       * sum(g_hat[i, k] * x_hat[i, k] for k in range(n))) / rms[i]
            assert two_paths == pytest.approx(compact, rel=1e-10, abs=EXACT_ATOL)
            assert dA[i, j] == pytest.approx(compact, rel=1e-10, abs=EXACT_ATOL)
    J = np.ones((n, n))
    matrix = np.diag(1 / rms) @ (g_hat - x_hat * ((g_hat * x_hat) @ J) / n)
    np.testing.assert_allclose(dA, matrix, rtol=1e-10, atol=EXACT_ATOL)


def rms_jacobian(A, eps=EPS):
    """d x_hat_ik / d a_ij of RMSNorm, laid out [i, k, j], by the complex step on the
    definition x_hat_ik = a_ik / sqrt(mean_k a_ik^2 + eps): exact to rounding."""
    m, n = A.shape
    J = np.empty((m, n, n))
    for j in range(n):
        Z = A.astype(complex)
        Z[:, j] += 1e-30j
        x_hat = Z / np.sqrt(np.mean(Z**2, axis=1, keepdims=True) + eps)
        J[:, :, j] = x_hat.imag / 1e-30
    return J


@pytest.mark.parametrize("shape", SHAPES)
def test_rms_jacobian_and_the_sum_over_the_row(rng, shape):
    """Eq. (9), first two lines: the Jacobian entries of a row, and dL/da_ij as the sum
    over k of g_hat_ik d x_hat_ik / d a_ij, against the code."""
    A, params = make_layer(rng, shape)
    G = rng.standard_normal(shape)
    _, cache = rms_forward(A, {"gamma": params["gamma"]})
    rms = cache["rms"]
    m, n = shape
    J = rms_jacobian(A)
    for i in range(m):
        for k in range(n):
            for j in range(n):
                entry = float(k == j) / rms[i] - A[i, k] * A[i, j] / (n * rms[i] ** 3)
                assert J[i, k, j] == pytest.approx(entry, rel=1e-12, abs=1e-15)
    g_hat = G * params["gamma"]
    np.testing.assert_allclose(rms_backward(G, cache)[0], np.einsum("ik,ikj->ij", g_hat, J),
                               rtol=1e-10, atol=1e-12)


def test_rmsnorm_is_layer_norm_without_centring(rng):
    """On rows with mean 0, RMSNorm (with beta = 0) and layer normalisation agree, and so
    do their input gradients; on other rows, RMSNorm's gradient rows do not sum to 0."""
    A, params = make_layer(rng, (4, 5))
    A0 = A - A.mean(axis=1, keepdims=True)
    G = rng.standard_normal((4, 5))
    zero_beta = {"gamma": params["gamma"], "beta": np.zeros(5)}
    Z_ln, c_ln = forward(A0, zero_beta)
    Z_rms, c_rms = rms_forward(A0, {"gamma": params["gamma"]})
    np.testing.assert_allclose(Z_rms, Z_ln, rtol=1e-12, atol=1e-12)
    dA_ln, _ = backward(G, c_ln)
    dA_rms, _ = rms_backward(G, c_rms)
    # The gradients differ by the row mean of G_hat over rms: that term is what centring
    # adds. Project both on rows with sum 0, where they must agree.
    P = np.eye(5) - np.ones((5, 5)) / 5
    np.testing.assert_allclose(dA_rms @ P, dA_ln, rtol=1e-10, atol=1e-12)
    dA, _ = rms_backward(G, rms_forward(A, {"gamma": params["gamma"]})[1])
    assert np.all(np.abs(feature_sum(dA)) > 1e-6)


def test_rms_batch_of_one_and_one_feature(rng):
    """With n = 1, x_hat = a / sqrt(a^2 + eps), nearly the sign of a."""
    Z, _ = rms_forward(np.array([[3.0]]), {"gamma": np.array([2.0])}, eps=16.0)
    np.testing.assert_allclose(Z, [[2 * 3 / 5]], rtol=EXACT_RTOL)


# --- extreme inputs ---------------------------------------------------------------------

def test_a_constant_example(rng):
    """A row with variance 0: x_hat = 0, z = beta, and finite gradients."""
    A, params = make_layer(rng, (3, 4))
    A[1] = -2.5
    G = rng.standard_normal((3, 4))
    Z, cache = forward(A, params)
    np.testing.assert_allclose(Z[1], params["beta"], rtol=EXACT_RTOL, atol=1e-14)
    dA, _ = backward(G, cache)
    g = G[1] * params["gamma"]
    np.testing.assert_allclose(dA[1], (g - g.mean()) / np.sqrt(EPS), rtol=1e-8)


def test_huge_inputs_scale_out(rng):
    """At |a| ~ 1e150 nothing overflows; the result is that of A / 1e150 with eps / 1e300."""
    A, params = make_layer(rng, (4, 5))
    A /= np.max(np.abs(A))
    G = rng.standard_normal((4, 5))
    Z_big, c_big = forward(A * 1e150, params)
    Z_small, c_small = forward(A, params, eps=EPS * 1e-300)
    np.testing.assert_allclose(Z_big, Z_small, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(backward(G, c_big)[0] * 1e150, backward(G, c_small)[0],
                               rtol=1e-12, atol=1e-12)
    gamma = {"gamma": params["gamma"]}
    R_big, r_big = rms_forward(A * 1e150, gamma)
    R_small, r_small = rms_forward(A, gamma, eps=EPS * 1e-300)
    np.testing.assert_allclose(R_big, R_small, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rms_backward(G, r_big)[0] * 1e150, rms_backward(G, r_small)[0],
                               rtol=1e-12, atol=1e-12)


def test_tiny_inputs_are_dominated_by_eps():
    A = np.array([[1e-300, -1e-300, 3e-300]])
    params = {"gamma": np.ones(3), "beta": np.zeros(3)}
    Z, _ = forward(A, params)
    np.testing.assert_allclose(Z, (A - A.mean()) / np.sqrt(EPS), rtol=1e-12)
    R, _ = rms_forward(A, {"gamma": np.ones(3)})
    np.testing.assert_allclose(R, A / np.sqrt(EPS), rtol=1e-12)


# --- bad input ------------------------------------------------------------------------

P2 = {"gamma": np.ones(2), "beta": np.zeros(2)}
A2 = np.array([[1.0, 2.0], [3.0, 5.0]])
_, C2 = forward(A2, P2)
_, R2 = rms_forward(A2, {"gamma": np.ones(2)})


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: forward(A2, P2, eps=0.0), r"eps must be a positive finite number, got 0\.0"),
        (lambda: forward(A2, P2, eps=-1.0), r"eps must be a positive finite number"),
        (lambda: forward(A2, P2, eps=np.nan), r"eps must be a positive finite number"),
        (lambda: forward(A2, P2, eps=False), r"eps must be a positive finite number"),
        (lambda: rms_forward(A2, {"gamma": np.ones(2)}, eps=0), r"eps must be a positive"),
        (lambda: normalise_columns(A2, eps="small"), r"eps must be a positive"),
        (lambda: forward(np.ones(3), P2), r"A must be a 2-D array \(m, n\).*got shape \(3,\)"),
        (lambda: forward(np.ones((0, 2)), P2), r"A must be a 2-D array .*m, n >= 1"),
        (lambda: forward([[1.0, np.inf]], P2), r"A must be finite"),
        (lambda: forward([[1.0], [1.0, 2.0]], P2), r"A must be a rectangular array"),
        (lambda: forward(np.array([["x", "y"]]), P2), r"A must be an array of real numbers"),
        (lambda: forward(np.array([[2e150, 0.0]]), P2),
         r"entries of A must be at most 1e\+150 in absolute value.*got 2\.000e\+150"),
        (lambda: example_statistics(np.ones((2, 2, 2))), r"A must be a 2-D array"),
        (lambda: normalise_columns(np.ones(4)), r"B must be a 2-D array"),
        (lambda: forward(A2, {"gamma": np.ones(3), "beta": np.zeros(2)}),
         r"gamma must have shape \(2,\), got shape \(3,\)"),
        (lambda: forward(A2, {"gamma": np.ones(2)}),
         r"keys \['gamma', 'beta'\], got \['gamma'\]"),
        (lambda: rms_forward(A2, P2), r"keys \['gamma'\], got \['beta', 'gamma'\]"),
        (lambda: rms_forward(A2, [np.ones(2)]), r"keys \['gamma'\], got list"),
        (lambda: backward(np.ones((3, 2)), C2),
         r"dZ must have the shape of the layer's output \(2, 2\), got \(3, 2\)"),
        (lambda: backward(np.ones((2, 2)), R2), r"cache must be the dict returned"),
        (lambda: rms_backward(np.ones((2, 2)), C2), r"keys \['x_hat', 'rms', 'gamma'\]"),
        (lambda: backward_by_transpose(np.ones((2, 2)), None), r"cache must be the dict"),
        (lambda: rms_backward([[np.nan, 0.0], [0.0, 0.0]], R2), r"dZ must be finite"),
        (lambda: param_gradients(np.ones((2, 2)), np.ones((2, 3))),
         r"dZ and x_hat must have the same shape"),
        (lambda: grad_x_hat(np.ones((2, 2)), np.ones(3)), r"gamma must have shape \(2,\)"),
        (lambda: normalise_columns_backward(np.ones((2, 2)), np.ones((2, 2)), np.ones(3)),
         r"std must have shape \(2,\)"),
        (lambda: normalise_columns_backward(np.ones((2, 2)), np.ones((2, 2)), np.zeros(2)),
         r"std must be > 0"),
        (lambda: feature_sum(np.ones(3)), r"dA must be a 2-D array"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "layers/layer-norm.md"

#: Batches for the formula checks, with their eps: a batch of one, two features, and a
#: larger batch with the default eps.
FORMULA_CASES = [((1, 4), EPS), ((3, 2), 0.5), ((5, 3), EPS)]


def _layer_norm_envs(rng):
    """Every quantity of layer normalisation and its gradients, under the page's names."""
    for (m, n), eps in FORMULA_CASES:
        A, params = make_layer(rng, (m, n))
        G = rng.standard_normal((m, n))
        Z, cache = forward(A, params, eps)
        mu, var = example_statistics(A)
        dA, grads = backward(G, cache)
        G_hat = grad_x_hat(G, params["gamma"])
        yield {"A": A, "m": m, "n": n, "mu": mu, "sigma": np.sqrt(var), "epsilon": eps,
               "sigma_tilde": cache["std"], "X_hat": cache["x_hat"], "gamma": params["gamma"],
               "beta": params["beta"], "Z": Z, "G": G, "G_hat": G_hat, "dx_hat": G_hat,
               "BN": lambda B, eps=eps: normalise_columns(B, eps)[0],
               "dbeta": grads["beta"], "dgamma": grads["gamma"], "dA": dA}


def _rms_envs(rng):
    for (m, n), eps in FORMULA_CASES:
        A, params = make_layer(rng, (m, n))
        gamma = params["gamma"]
        G = rng.standard_normal((m, n))
        Z, cache = rms_forward(A, {"gamma": gamma}, eps)
        dA, _ = rms_backward(G, cache)
        yield {"A": A, "m": m, "n": n, "epsilon": eps, "gamma": gamma, "Z": Z, "G": G,
               "X_hat": cache["x_hat"], "G_hat": grad_x_hat(G, gamma), "dA": dA,
               "rms": lambda a, eps=eps: np.sqrt(np.mean(np.square(a), axis=-1) + eps),
               "dx_hat/da": rms_jacobian(A, eps), "__ranges__": {"k": "n"}}


FORMULAS = {
    "statistics": Case(_layer_norm_envs),
    "forward": Case(_layer_norm_envs),
    "transpose": Case(_layer_norm_envs),
    "grad-params": Case(_layer_norm_envs),
    "backward-transpose": Case(_layer_norm_envs),
    "backward": Case(_layer_norm_envs),
    "zero-sum": Case(_layer_norm_envs),
    "rms-forward": Case(_rms_envs),
    "rms-backward": Case(_rms_envs),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
