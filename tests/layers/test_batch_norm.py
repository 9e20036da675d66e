"""Tests for snippets/layers/batch_norm.py (page docs/layers/batch-norm.md)."""

from __future__ import annotations

import numpy as np
import pytest

from snippets.foundations.gradient_checking import central_difference
from snippets.layers.batch_norm import (
    EPS,
    MAX_ABS,
    MOMENTUM,
    backward,
    backward_eval,
    backward_steps,
    batch_statistics,
    batch_sum,
    forward,
    forward_eval,
    grad_input,
    grad_mean,
    grad_std,
    grad_x_hat,
    init_running,
    normalise,
    param_gradients,
    update_running,
)

from checks import EXACT_ATOL, EXACT_RTOL, assert_gradient
from formulas import Case, formula_test

#: Batch shapes (m, n): the smallest batch training mode allows (m = 2), one feature, and
#: wider and taller batches. A batch of one is refused in training mode (tested below).
SHAPES = [(2, 1), (2, 3), (5, 1), (7, 4), (16, 3)]

#: Shapes with the eps of the gradient checks. With m = 2 each column of x_hat is
#: (-s, s) with s = d / sqrt(d^2 + eps) ~ 1 whatever the input, so the input gradient is
#: of the size of eps (see test_a_batch_of_two_has_a_gradient_of_the_size_of_eps); a
#: relative check of such a small number by differences measures round-off. These checks
#: use eps = 0.5 for m = 2, where every term of the gradient is of order 1, and for one
#: larger batch too, so that a mistake in a term carrying eps cannot hide.
GRAD_CASES = [((2, 1), 0.5), ((2, 3), 0.5), ((5, 1), EPS), ((7, 4), EPS), ((16, 3), EPS),
              ((6, 2), 0.5)]

#: Shapes for evaluation mode, where a batch of one is fine.
EVAL_SHAPES = [(1, 1), (1, 4), (6, 3)]


def make_layer(rng, shape, scale=1.0):
    """A random batch, with columns of different means and spreads, and random gamma, beta."""
    m, n = shape
    A = rng.normal(rng.normal(0.0, 2.0, n), rng.uniform(0.5, 3.0, n), size=(m, n)) * scale
    params = {"gamma": rng.normal(0.0, 1.5, n), "beta": rng.normal(0.0, 1.0, n)}
    return A, params


def with_param(params, key, value):
    new = dict(params)
    new[key] = value
    return new


# --- the forward pass ------------------------------------------------------------------

def test_forward_hand_computed():
    # eps = 3 keeps the numbers exact. Column 1 is (1, 3): mean 2, variance 1, std 2,
    # x_hat = (-1/2, 1/2). Column 2 is (0, 2): the same. Then z = gamma x_hat + beta.
    A = np.array([[1.0, 0.0], [3.0, 2.0]])
    params = {"gamma": np.array([2.0, -1.0]), "beta": np.array([1.0, 0.0])}
    Z, cache = forward(A, params, eps=3.0)
    np.testing.assert_array_equal(cache["mu"], [2.0, 1.0])
    np.testing.assert_array_equal(cache["var"], [1.0, 1.0])
    np.testing.assert_array_equal(cache["std"], [2.0, 2.0])
    np.testing.assert_array_equal(cache["x_hat"], [[-0.5, -0.5], [0.5, 0.5]])
    np.testing.assert_array_equal(Z, [[0.0, 0.5], [2.0, -0.5]])


@pytest.mark.parametrize("shape", SHAPES)
def test_statistics_are_the_column_mean_and_biased_variance(rng, shape):
    """Eq. (1) against NumPy's mean and var (ddof=0, the biased variance)."""
    A, _ = make_layer(rng, shape)
    mu, var = batch_statistics(A)
    assert mu.shape == var.shape == (shape[1],)
    np.testing.assert_allclose(mu, A.mean(axis=0), rtol=EXACT_RTOL, atol=EXACT_ATOL)
    np.testing.assert_allclose(var, A.var(axis=0), rtol=EXACT_RTOL, atol=EXACT_ATOL)
    # Index form, by loops: mu_j = sum_i a_ij / m, sigma_j^2 = sum_i (a_ij - mu_j)^2 / m.
    m, n = shape
    for j in range(n):
        mu_j = sum(A[i, j] for i in range(m)) / m
        assert mu[j] == pytest.approx(mu_j, rel=EXACT_RTOL, abs=EXACT_ATOL)
        assert var[j] == pytest.approx(sum((A[i, j] - mu_j) ** 2 for i in range(m)) / m,
                                       rel=EXACT_RTOL, abs=EXACT_ATOL)


@pytest.mark.parametrize("shape", SHAPES)
def test_normalised_columns_have_mean_zero_and_the_predicted_variance(rng, shape):
    """Eq. (2): each column of x_hat has mean 0 and variance sigma^2 / (sigma^2 + eps)."""
    A, _ = make_layer(rng, shape)
    mu, var = batch_statistics(A)
    x_hat, std = normalise(A, mu, var)
    assert x_hat.shape == A.shape and std.shape == (shape[1],)
    np.testing.assert_allclose(std, np.sqrt(var + EPS), rtol=EXACT_RTOL)
    # Matrix form: X_hat = (A - 1 mu^T) diag(sigma_tilde^-1).
    centred = A - np.ones((shape[0], 1)) @ mu[None, :]
    np.testing.assert_allclose(x_hat, centred @ np.diag(1.0 / std), rtol=EXACT_RTOL,
                               atol=EXACT_ATOL)
    np.testing.assert_allclose(x_hat.mean(axis=0), 0.0, atol=EXACT_ATOL)
    np.testing.assert_allclose(x_hat.var(axis=0), var / (var + EPS), rtol=EXACT_RTOL)


@pytest.mark.parametrize("shape", SHAPES)
def test_forward_is_the_matrix_form(rng, shape):
    """Eq. (3): Z = X_hat diag(gamma) + 1 beta^T."""
    A, params = make_layer(rng, shape)
    Z, cache = forward(A, params)
    assert Z.shape == shape
    expected = cache["x_hat"] @ np.diag(params["gamma"]) + np.outer(np.ones(shape[0]),
                                                                    params["beta"])
    np.testing.assert_allclose(Z, expected, rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_gamma_and_beta_can_undo_the_normalisation(rng):
    """With gamma = sigma_tilde and beta = mu the layer returns its input."""
    A, _ = make_layer(rng, (6, 3))
    mu, var = batch_statistics(A)
    Z, _ = forward(A, {"gamma": np.sqrt(var + EPS), "beta": mu})
    np.testing.assert_allclose(Z, A, rtol=EXACT_RTOL, atol=1e-14)


def test_forward_and_running_statistics_match_pytorch():
    """Numbers printed by torch.nn.BatchNorm1d(3) in float64 (PyTorch 2.13.0 on CPU),
    weight (2, -1, 0.5), bias (0, 1, -3), default eps = 1e-5 and momentum = 0.1: two
    training batches, then evaluation mode. The third column of the first batch is
    constant (variance 0)."""
    A = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, 0.5], [4.0, 5.0, 0.5], [0.0, 1.0, 0.5]])
    B = np.array([[2.0, 1.0, -1.0], [-1.0, 3.0, 2.0]])
    params = {"gamma": np.array([2.0, -1.0, 0.5]), "beta": np.array([0.0, 1.0, -3.0])}
    torch_Z1 = [[-1.264908534252813, 2.1766959056787556, -3.0],
                [1.264908534252813, 1.3922319685595852, -3.0],
                [2.529817068505626, -0.568927874238341, -3.0],
                [-2.529817068505626, 1.0, -3.0]]
    torch_Z2 = [[1.9999955555703703, 1.9999950000374997, -3.4999988888925926],
                [-1.9999955555703703, 4.999962500251698e-06, -2.5000011111074074]]
    torch_mean, torch_var = [0.23, 0.29, 0.095], [1.56, 1.79, 1.26]
    torch_eval = [[0.4323446295559894, 0.8430390689598359, -2.8195993775831787]]
    running = init_running(3)
    Z1, cache = forward(A, params)
    running = update_running(running, cache)
    Z2, cache = forward(B, params)
    running = update_running(running, cache)
    Z3, _ = forward_eval(np.full((1, 3), 0.5), params, running)
    np.testing.assert_allclose(Z1, torch_Z1, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    np.testing.assert_allclose(Z2, torch_Z2, rtol=1e-10, atol=EXACT_ATOL)
    np.testing.assert_allclose(running["mean"], torch_mean, rtol=EXACT_RTOL)
    np.testing.assert_allclose(running["var"], torch_var, rtol=EXACT_RTOL)
    np.testing.assert_allclose(Z3, torch_eval, rtol=EXACT_RTOL)


# --- the backward pass, node by node ------------------------------------------------------

def graph(A, params, eps=EPS):
    """The nodes of the computation graph, computed afresh (not with the snippet)."""
    mu = A.mean(axis=0)
    var = ((A - mu) ** 2).mean(axis=0)
    std = np.sqrt(var + eps)
    x_hat = (A - mu) / std
    return mu, var, std, x_hat


@pytest.mark.parametrize("shape, eps", GRAD_CASES)
def test_each_backward_step_matches_finite_differences(rng, shape, eps):
    """Eqs. (4)-(8): each node's gradient is the derivative of sum(G * Z) with respect to
    that node, the nodes it is computed from held fixed."""
    A, params = make_layer(rng, shape)
    gamma, beta = params["gamma"], params["beta"]
    G = rng.standard_normal(shape)
    mu, var, std, x_hat = graph(A, params, eps)
    m = shape[0]
    loss_of = lambda X_hat: float(np.sum(G * (X_hat * gamma + beta)))
    spread = lambda X, u: np.sqrt(((X - u) ** 2).mean(axis=0) + eps)

    dgamma, dbeta = param_gradients(G, x_hat)                                   # eq. (4)
    assert_gradient(lambda g: float(np.sum(G * (x_hat * g + beta))), dgamma, gamma)
    assert_gradient(lambda b: float(np.sum(G * (x_hat * gamma + b))), dbeta, beta)
    dX_hat = grad_x_hat(G, gamma)                                               # eq. (5)
    assert_gradient(loss_of, dX_hat, x_hat)
    dstd = grad_std(dX_hat, x_hat, std)                                         # eq. (6)
    assert_gradient(lambda s: loss_of((A - mu) / s), dstd, std)
    dmu = grad_mean(dX_hat, x_hat, std, dstd)                                   # eq. (7)
    assert_gradient(lambda u: loss_of((A - u) / spread(A, u)), dmu, mu)
    # Its second path is 0: the spread does not change with mu at the batch mean (the
    # differences are at the level of their round-off, eps_machine / h = 2e-11).
    slope = central_difference(lambda u: float(np.sum(spread(A, u))), mu)
    assert np.all(np.abs(slope) < 1e-9)
    dA = grad_input(dX_hat, x_hat, std, dstd, dmu)                              # eq. (8)
    assert_gradient(lambda X: loss_of((X - X.mean(axis=0)) / spread(X, X.mean(axis=0))), dA, A)
    # The slope of the spread in a_ij, mu held fixed, used by eq. (8): x_hat_ij / m.
    assert_gradient(lambda X: float(np.sum(spread(X, mu))), x_hat / m, A)
    assert dgamma.shape == dbeta.shape == dstd.shape == dmu.shape == (shape[1],)
    assert dX_hat.shape == dA.shape == shape


def test_backward_steps_with_indices(rng):
    """Eqs. (4)-(8) entry by entry, by explicit loops over i and j."""
    m, n = 5, 3
    A, params = make_layer(rng, (m, n))
    gamma = params["gamma"]
    G = rng.standard_normal((m, n))
    mu, var, std, x_hat = graph(A, params)
    dX_hat = grad_x_hat(G, gamma)
    dstd = grad_std(dX_hat, x_hat, std)
    dmu = grad_mean(dX_hat, x_hat, std, dstd)
    dA = grad_input(dX_hat, x_hat, std, dstd, dmu)
    close = lambda a, b: a == pytest.approx(b, rel=EXACT_RTOL, abs=EXACT_ATOL)
    for j in range(n):
        g_hat = [G[i, j] * gamma[j] for i in range(m)]
        assert all(close(dX_hat[i, j], g_hat[i]) for i in range(m))
        assert close(dstd[j], -sum(g_hat[i] * (A[i, j] - mu[j]) for i in range(m)) / std[j] ** 2)
        two_paths = (-sum(g_hat) / std[j]
                     - sum(A[i, j] - mu[j] for i in range(m)) / (m * std[j]) * dstd[j])
        assert close(dmu[j], two_paths)
        assert close(dmu[j], -sum(g_hat) / std[j])
        for i in range(m):
            three_paths = (g_hat[i] / std[j] + (A[i, j] - mu[j]) / (m * std[j]) * dstd[j]
                           + dmu[j] / m)
            assert close(dA[i, j], three_paths)


# --- the whole backward pass -----------------------------------------------------------

@pytest.mark.parametrize("shape, eps", GRAD_CASES)
def test_backward_matches_finite_differences(rng, shape, eps):
    """dA, dgamma, dbeta of the scalar sum(G * Z), with a random upstream gradient G."""
    A, params = make_layer(rng, shape)
    G = rng.standard_normal(shape)
    Z, cache = forward(A, params, eps)
    dA, grads = backward(G, cache)
    assert set(grads) == set(params)
    assert dA.shape == A.shape and all(grads[k].shape == params[k].shape for k in params)
    f = lambda X: float(np.sum(G * forward(X, params, eps)[0]))
    assert_gradient(f, dA, A)
    for key in params:
        g = lambda v, k=key: float(np.sum(G * forward(A, with_param(params, k, v), eps)[0]))
        assert_gradient(g, grads[key], params[key])


def test_a_batch_of_two_has_a_gradient_of_the_size_of_eps(rng):
    """With m = 2, x_hat = (-s, s) with s = d / sqrt(d^2 + eps), d = (a_1j - a_2j) / 2:
    by hand, dL/da_1j = gamma_j (g_1j - g_2j) eps / (2 (d^2 + eps)^(3/2)) = -dL/da_2j."""
    A, params = make_layer(rng, (2, 3))
    G = rng.standard_normal((2, 3))
    dA, _ = backward(G, forward(A, params)[1])
    d = (A[0] - A[1]) / 2
    by_hand = params["gamma"] * (G[0] - G[1]) * EPS / (2 * (d**2 + EPS) ** 1.5)
    np.testing.assert_allclose(dA, [by_hand, -by_hand], rtol=1e-9)


def test_backward_in_random_directions_for_a_wide_batch(rng):
    A, params = make_layer(rng, (40, 30))
    G = rng.standard_normal((40, 30))
    dA, grads = backward(G, forward(A, params)[1])
    assert_gradient(lambda X: float(np.sum(G * forward(X, params)[0])), dA, A, rng)


@pytest.mark.parametrize("shape, eps", GRAD_CASES)
def test_compact_form_equals_the_step_by_step_form(rng, shape, eps):
    """Eq. (9) against eqs. (4)-(8), and against its index form by loops."""
    A, params = make_layer(rng, shape)
    G = rng.standard_normal(shape)
    _, cache = forward(A, params, eps)
    dA, grads = backward(G, cache)
    dA_steps, grads_steps = backward_steps(G, cache)
    np.testing.assert_allclose(dA, dA_steps, rtol=1e-10, atol=EXACT_ATOL)
    for key in ("gamma", "beta"):
        np.testing.assert_allclose(grads[key], grads_steps[key], rtol=EXACT_RTOL,
                                   atol=EXACT_ATOL)
    m, n = shape
    x_hat, std = cache["x_hat"], cache["std"]
    g_hat = G * params["gamma"]
    for i in range(m):
        for j in range(n):
            s1 = sum(g_hat[k, j] for k in range(m))
            s2 = sum(g_hat[k, j] * x_hat[k, j] for k in range(m))
            entry = (m * g_hat[i, j] - s1 - x_hat[i, j] * s2) / (m * std[j])
            assert dA[i, j] == pytest.approx(entry, rel=1e-10, abs=EXACT_ATOL)
    # Matrix form: (1/m)(m G_hat - 1 1^T G_hat - X_hat o 1 1^T (G_hat o X_hat)) diag(1/std).
    J = np.ones((m, m))
    matrix = (m * g_hat - J @ g_hat - x_hat * (J @ (g_hat * x_hat))) @ np.diag(1 / std) / m
    np.testing.assert_allclose(dA, matrix, rtol=1e-10, atol=EXACT_ATOL)


@pytest.mark.parametrize("shape, eps", GRAD_CASES)
def test_every_side_of_every_line_of_the_compact_derivation(rng, shape, eps):
    """Eq. (9) as displayed: each side of its first two lines, entry by entry, against the
    node-by-node gradient of eqs. (6)-(8); and eq. (10), each side."""
    A, params = make_layer(rng, shape)
    G = rng.standard_normal(shape)
    _, cache = forward(A, params, eps)
    x_hat, std = cache["x_hat"], cache["std"]
    g_hat = grad_x_hat(G, params["gamma"])
    dstd = grad_std(g_hat, x_hat, std)
    dA = grad_input(g_hat, x_hat, std, dstd, grad_mean(g_hat, x_hat, std, dstd))
    m, n = shape
    close = lambda a, b: a == pytest.approx(b, rel=1e-10, abs=1e-12)
    for j in range(n):
        s_gx = sum(g_hat[k, j] * x_hat[k, j] for k in range(m))
        s_g = sum(g_hat[k, j] for k in range(m))
        s_x = sum(x_hat[i, j] for i in range(m))
        for i in range(m):
            sides = [dA[i, j],
                     g_hat[i, j] / std[j] - x_hat[i, j] / (m * std[j]) * s_gx - s_g / (m * std[j]),
                     (m * g_hat[i, j] - s_g - x_hat[i, j] * s_gx) / (m * std[j])]
            assert all(close(side, sides[0]) for side in sides[1:])
        eq10 = [sum(dA[i, j] for i in range(m)),
                (m * s_g - m * s_g - s_x * s_gx) / (m * std[j])]
        scale = sum(abs(dA[i, j]) for i in range(m))
        assert all(abs(side) <= 1e-13 * max(scale, 1.0) for side in eq10)


def test_the_steps_agree_with_the_compact_form_when_the_mean_terms_matter(rng):
    """A batch of two with one huge upstream entry: every term of eq. (9) is large."""
    A, params = make_layer(rng, (2, 2))
    G = np.array([[1e3, -1.0], [2.0, 1e-3]])
    _, cache = forward(A, params)
    np.testing.assert_allclose(backward(G, cache)[0], backward_steps(G, cache)[0],
                               rtol=1e-10, atol=1e-12)


# --- the input gradient sums to zero over the batch -----------------------------------

@pytest.mark.parametrize("shape", SHAPES)
def test_input_gradient_sums_to_zero_over_the_batch(rng, shape):
    """Eq. (10): every column of dL/dA sums to 0, while its entries are of order 1."""
    A, params = make_layer(rng, shape)
    G = rng.standard_normal(shape)
    dA, _ = backward(G, forward(A, params)[1])
    sums = batch_sum(dA)
    assert sums.shape == (shape[1],)
    np.testing.assert_allclose(sums, dA.sum(axis=0), rtol=EXACT_RTOL, atol=EXACT_ATOL)
    scale = np.abs(dA).sum(axis=0)
    assert np.all(np.abs(sums) <= 1e-13 * np.maximum(scale, 1.0))
    # The reason: the columns of x_hat sum to 0 (the term in eq. (10) that survives).
    np.testing.assert_allclose(forward(A, params)[1]["x_hat"].sum(axis=0), 0.0,
                               atol=EXACT_ATOL)


def test_shifting_a_column_leaves_the_output_unchanged(rng):
    """Adding c_j to every entry of column j changes nothing: why the sums are 0."""
    A, params = make_layer(rng, (6, 3))
    c = np.array([3.0, -7.0, 0.25])
    np.testing.assert_allclose(forward(A + c, params)[0], forward(A, params)[0],
                               rtol=1e-12, atol=1e-12)


def test_a_wrong_gradient_does_not_sum_to_zero(rng):
    """The invariant can fail: the direct path alone (eq. (8) without the others) does not
    sum to zero, so the test above checks something."""
    A, params = make_layer(rng, (6, 3))
    G = rng.standard_normal((6, 3))
    _, cache = forward(A, params)
    direct = G * params["gamma"] / cache["std"]
    assert np.all(np.abs(batch_sum(direct)) > 1e-3)


# --- running statistics and evaluation mode ------------------------------------------

def test_init_running_is_mean_zero_variance_one():
    running = init_running(4)
    np.testing.assert_array_equal(running["mean"], np.zeros(4))
    np.testing.assert_array_equal(running["var"], np.ones(4))


def test_update_running_by_hand():
    # Batch (1, 3): mean 2, biased variance 1, unbiased 2. From mean 0, var 1 with
    # momentum 0.5: mean 0.5 * 0 + 0.5 * 2 = 1; var 0.5 * 1 + 0.5 * 2 = 1.5.
    _, cache = forward(np.array([[1.0], [3.0]]), {"gamma": np.ones(1), "beta": np.zeros(1)})
    running = update_running(init_running(1), cache, momentum=0.5)
    np.testing.assert_array_equal(running["mean"], [1.0])
    np.testing.assert_array_equal(running["var"], [1.5])


@pytest.mark.parametrize("shape", SHAPES)
def test_update_running_weights_the_new_batch_by_the_momentum(rng, shape):
    """Eq. (11): momentum 1 keeps only the batch (unbiased variance), 0 keeps the old."""
    A, params = make_layer(rng, shape)
    _, cache = forward(A, params)
    old = {"mean": rng.standard_normal(shape[1]), "var": rng.uniform(0.5, 2.0, shape[1])}
    newest = update_running(old, cache, momentum=1.0)
    np.testing.assert_allclose(newest["mean"], A.mean(axis=0), rtol=EXACT_RTOL,
                               atol=EXACT_ATOL)
    np.testing.assert_allclose(newest["var"], A.var(axis=0, ddof=1), rtol=EXACT_RTOL)
    unchanged = update_running(old, cache, momentum=0.0)
    np.testing.assert_array_equal(unchanged["mean"], old["mean"])
    np.testing.assert_array_equal(unchanged["var"], old["var"])
    default = update_running(old, cache)
    np.testing.assert_allclose(default["mean"],
                               (1 - MOMENTUM) * old["mean"] + MOMENTUM * A.mean(axis=0),
                               rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_running_averages_converge_to_the_population_statistics(rng):
    """Many batches from one distribution: the running mean and variance approach its
    mean 3 and variance 4 (the unbiased batch variance has the right expectation)."""
    params = {"gamma": np.ones(1), "beta": np.zeros(1)}
    running = init_running(1)
    for _ in range(400):
        _, cache = forward(rng.normal(3.0, 2.0, size=(4, 1)), params)
        running = update_running(running, cache, momentum=0.01)
    # The averages weigh about 200 batches of 4: standard errors 0.07 (mean), 0.2 (var).
    assert running["mean"][0] == pytest.approx(3.0, abs=0.3)
    assert running["var"][0] == pytest.approx(4.0, abs=0.8)


@pytest.mark.parametrize("shape", EVAL_SHAPES)
def test_evaluation_mode_uses_the_running_statistics(rng, shape):
    """Eq. (12): every example gets the same affine map, a batch of one included."""
    A, params = make_layer(rng, shape)
    running = {"mean": rng.standard_normal(shape[1]), "var": rng.uniform(0.1, 3.0, shape[1])}
    Z, cache = forward_eval(A, params, running)
    expected = (params["gamma"] * (A - running["mean"]) / np.sqrt(running["var"] + EPS)
                + params["beta"])
    np.testing.assert_allclose(Z, expected, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    ones = np.ones((shape[0], 1))
    matrix = ((A - ones @ running["mean"][None, :])
              @ np.diag(1 / np.sqrt(running["var"] + EPS)) @ np.diag(params["gamma"])
              + ones @ params["beta"][None, :])
    np.testing.assert_allclose(Z, matrix, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    # Row by row: the output of an example does not depend on the rest of the batch.
    for i in range(shape[0]):
        np.testing.assert_array_equal(forward_eval(A[i:i + 1], params, running)[0], Z[i:i + 1])


@pytest.mark.parametrize("shape", EVAL_SHAPES)
def test_backward_eval_matches_finite_differences(rng, shape):
    """Eq. (13), with a random upstream gradient."""
    A, params = make_layer(rng, shape)
    running = {"mean": rng.standard_normal(shape[1]), "var": rng.uniform(0.1, 3.0, shape[1])}
    G = rng.standard_normal(shape)
    dA, grads = backward_eval(G, forward_eval(A, params, running)[1])
    matrix = G @ np.diag(params["gamma"]) @ np.diag(1 / np.sqrt(running["var"] + EPS))
    np.testing.assert_allclose(dA, matrix, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    assert_gradient(lambda X: float(np.sum(G * forward_eval(X, params, running)[0])), dA, A)
    for key in params:
        g = lambda v, k=key: float(np.sum(G * forward_eval(A, with_param(params, k, v),
                                                           running)[0]))
        assert_gradient(g, grads[key], params[key])


# --- extreme inputs ---------------------------------------------------------------------

def test_a_column_with_zero_variance(rng):
    """A constant column: variance 0, x_hat 0, the output is beta, gradients finite."""
    A, params = make_layer(rng, (5, 3))
    A[:, 1] = 0.7
    G = rng.standard_normal((5, 3))
    Z, cache = forward(A, params)
    assert cache["var"][1] == pytest.approx(0.0, abs=1e-30)
    np.testing.assert_allclose(Z[:, 1], params["beta"][1], rtol=EXACT_RTOL, atol=1e-14)
    dA, grads = backward(G, cache)
    assert np.all(np.isfinite(dA))
    # With x_hat = 0 the column's gradient is gamma (g - mean of g) / sqrt(eps).
    g = G[:, 1] * params["gamma"][1]
    np.testing.assert_allclose(dA[:, 1], (g - g.mean()) / np.sqrt(EPS), rtol=1e-8)
    # Differences with h = 1e-5 resolve the output only on scales well above sqrt(eps),
    # over which x_hat of the constant column changes: check them with eps = 0.01.
    dA, _ = backward(G, forward(A, params, eps=0.01)[1])
    assert_gradient(lambda X: float(np.sum(G * forward(X, params, eps=0.01)[0])), dA, A)


def test_huge_inputs_scale_out(rng):
    """At |a| ~ 1e150 nothing overflows: x_hat is the one of A / 1e150 with eps / 1e300,
    and dA is 1e-150 times the gradient of that smaller problem."""
    A, params = make_layer(rng, (6, 3))
    A /= np.max(np.abs(A))                     # entries up to 1, so A * 1e150 <= MAX_ABS
    G = rng.standard_normal((6, 3))
    Z_big, cache_big = forward(A * 1e150, params)
    Z_small, cache_small = forward(A, params, eps=EPS * 1e-300)
    np.testing.assert_allclose(Z_big, Z_small, rtol=1e-12, atol=1e-12)
    dA_big, grads_big = backward(G, cache_big)
    dA_small, grads_small = backward(G, cache_small)
    np.testing.assert_allclose(dA_big * 1e150, dA_small, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grads_big["gamma"], grads_small["gamma"], rtol=1e-12,
                               atol=1e-12)
    Z, _ = forward(np.array([[MAX_ABS], [-MAX_ABS]]), {"gamma": np.ones(1), "beta": np.zeros(1)})
    np.testing.assert_allclose(Z, [[1.0], [-1.0]], rtol=EXACT_RTOL)


def test_tiny_inputs_are_dominated_by_eps():
    """At |a| ~ 1e-300 the variance underflows to 0, which is right next to eps."""
    A = np.array([[1e-300, 0.0], [-1e-300, 2e-300], [3e-300, 1e-300]])
    params = {"gamma": np.array([1.0, 2.0]), "beta": np.array([0.0, 1.0])}
    Z, _ = forward(A, params)
    expected = params["gamma"] * (A - A.mean(axis=0)) / np.sqrt(EPS) + params["beta"]
    np.testing.assert_allclose(Z, expected, rtol=1e-12)


# --- bad input ------------------------------------------------------------------------

P2 = {"gamma": np.ones(2), "beta": np.zeros(2)}
A2 = np.array([[1.0, 2.0], [3.0, 5.0]])
_, C2 = forward(A2, P2)
_, E2 = forward_eval(A2, P2, init_running(2))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: forward(np.ones((1, 2)), P2), r"needs m >= 2 examples.*got shape \(1, 2\)"),
        (lambda: forward(A2, P2, eps=0.0), r"eps must be a positive finite number, got 0\.0"),
        (lambda: forward(A2, P2, eps=-1e-5), r"eps must be a positive finite number"),
        (lambda: forward(A2, P2, eps=np.inf), r"eps must be a positive finite number"),
        (lambda: forward(A2, P2, eps="1e-5"), r"eps must be a positive finite number"),
        (lambda: forward(A2, P2, eps=True), r"eps must be a positive finite number"),
        (lambda: forward(A2, P2, eps=[1e-5]), r"eps must be a positive finite number"),
        (lambda: forward(np.ones(4), P2), r"A must be a 2-D array \(m, n\).*got shape \(4,\)"),
        (lambda: forward(np.ones((3, 0)), P2), r"A must be a 2-D array .*n >= 1"),
        (lambda: forward(np.ones((0, 2)), P2), r"A must be a 2-D array .*m >= 2"),
        (lambda: forward([[1.0, np.nan], [0.0, 1.0]], P2), r"A must be finite"),
        (lambda: forward([[1.0], [1.0, 2.0]], P2), r"A must be a rectangular array"),
        (lambda: forward(np.array([["a"], ["b"]]), P2), r"A must be an array of real numbers"),
        (lambda: forward(np.array([[1e151, 0.0], [0.0, 1.0]]), P2),
         r"at most 1e\+150 in absolute value.*got 1\.000e\+151"),
        (lambda: forward(A2, {"gamma": np.ones(3), "beta": np.zeros(2)}),
         r"gamma must have shape \(2,\).*got shape \(3,\)"),
        (lambda: forward(A2, {"gamma": np.ones(2), "beta": np.zeros((2, 1))}),
         r"beta must have shape \(2,\)"),
        (lambda: forward(A2, {"gamma": np.ones(2)}), r"keys 'gamma' and 'beta', got \['gamma'\]"),
        (lambda: forward(A2, (np.ones(2), np.zeros(2))), r"keys 'gamma' and 'beta', got tuple"),
        (lambda: batch_statistics(np.ones((1, 3))), r"needs m >= 2 examples"),
        (lambda: normalise(A2, np.zeros(2), np.array([1.0, -1.0])), r"var must be >= 0"),
        (lambda: normalise(A2, np.zeros(3), np.ones(2)), r"mu must have shape \(2,\)"),
        (lambda: normalise(A2, np.zeros(2), np.ones(2), eps=0), r"eps must be a positive"),
        (lambda: backward(np.ones((3, 2)), C2), r"dZ must have the shape of the layer's output "
                                                r"\(2, 2\), got \(3, 2\)"),
        (lambda: backward(np.ones((2, 2)), {"x_hat": np.ones((2, 2))}),
         r"cache must be the dict returned by the forward pass"),
        (lambda: backward(np.ones((2, 2)), E2), r"cache must be the dict returned"),
        (lambda: backward(np.ones((1, 2)), E2 | C2), r"dZ must be a 2-D array .*m >= 2"),
        (lambda: backward_steps([[np.inf, 0.0], [0.0, 0.0]], C2), r"dZ must be finite"),
        (lambda: backward_eval(np.ones((2, 3)), E2), r"dZ must have the shape"),
        (lambda: backward_eval(np.ones((2, 2)), []), r"cache must be the dict"),
        (lambda: param_gradients(np.ones((2, 2)), np.ones((3, 2))),
         r"dZ and x_hat must have the same shape \(m, n\), got \(2, 2\) and \(3, 2\)"),
        (lambda: grad_x_hat(np.ones((2, 2)), np.ones(3)), r"gamma must have shape \(2,\)"),
        (lambda: grad_std(np.ones((2, 2)), np.ones((2, 2)), np.ones(1)),
         r"std must have shape \(2,\)"),
        (lambda: grad_std(np.ones((2, 2)), np.ones((2, 2)), np.array([1.0, 0.0])),
         r"std must be > 0"),
        (lambda: grad_mean(np.ones((2, 2)), np.ones((2, 2)), np.ones(2), np.ones(3)),
         r"dstd must have shape \(2,\)"),
        (lambda: grad_mean(np.ones(3), np.ones(3), np.ones(3), np.ones(3)),
         r"dX_hat must be a 2-D array"),
        (lambda: grad_input(np.ones((2, 2)), np.ones((2, 2)), np.ones(2), np.ones(2),
                            np.ones(1)), r"dmu must have shape \(2,\)"),
        (lambda: batch_sum(np.ones((2, 2, 2))), r"dA must be a 2-D array"),
        (lambda: init_running(0), r"n must be a positive integer, got 0"),
        (lambda: init_running(2.0), r"n must be a positive integer"),
        (lambda: init_running(True), r"n must be a positive integer"),
        (lambda: update_running(init_running(2), C2, momentum=1.5),
         r"momentum must be a number in \[0, 1\], got 1\.5"),
        (lambda: update_running(init_running(2), C2, momentum="0.1"), r"momentum must be"),
        (lambda: update_running(init_running(2), C2, momentum=np.nan), r"momentum must be"),
        (lambda: update_running(init_running(2), E2), r"cache must be the dict returned by forward"),
        (lambda: update_running(init_running(3), C2), r"the running mean must have shape \(2,\)"),
        (lambda: update_running({"mean": np.zeros(2)}, C2), r"keys 'mean' and 'var'"),
        (lambda: update_running({"mean": np.zeros(2), "var": -np.ones(2)}, C2),
         r"the running variance must be >= 0"),
        (lambda: forward_eval(np.ones((0, 2)), P2, init_running(2)), r"m >= 1"),
        (lambda: forward_eval(A2, P2, init_running(2), eps=0.0), r"eps must be a positive"),
        (lambda: forward_eval(A2, P2, init_running(3)), r"the running mean must have shape \(2,\)"),
        (lambda: forward_eval(A2, {"beta": np.zeros(2)}, init_running(2)), r"keys 'gamma'"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "layers/batch-norm.md"

#: Batches for the formula checks, with their eps: the smallest batch, one feature, and a
#: larger batch with the default eps.
FORMULA_CASES = [((5, 3), EPS), ((2, 2), 0.5), ((6, 1), 0.1)]


def _training_envs(rng):
    """Every node of the training-mode graph and its gradient, under the page's names."""
    for (m, n), eps in FORMULA_CASES:
        A, params = make_layer(rng, (m, n))
        gamma, beta = params["gamma"], params["beta"]
        G = rng.standard_normal((m, n))
        Z, cache = forward(A, params, eps)
        mu, var, std = cache["mu"], cache["var"], cache["std"]
        x_hat = cache["x_hat"]
        dgamma, dbeta = param_gradients(G, x_hat)
        G_hat = grad_x_hat(G, gamma)
        dstd = grad_std(G_hat, x_hat, std)
        dmu = grad_mean(G_hat, x_hat, std, dstd)
        dA, _ = backward(G, cache)
        yield {"A": A, "m": m, "n": n, "mu": mu, "sigma": np.sqrt(var), "epsilon": eps,
               "sigma_tilde": std, "X_hat": x_hat, "gamma": gamma,
               "beta": beta, "Z": Z, "G": G, "G_hat": G_hat,
               "dbeta": dbeta, "dgamma": dgamma, "dx_hat": G_hat, "dX_hat": G_hat,
               "dsigma_tilde": dstd,
               "dmu": dmu, "dA": dA}


def _running_envs(rng):
    for (m, n), _ in FORMULA_CASES:
        A, params = make_layer(rng, (m, n))
        _, cache = forward(A, params)
        old = {"mean": rng.standard_normal(n), "var": rng.uniform(0.5, 2.0, n)}
        for nu in (MOMENTUM, 0.5):
            new = update_running(old, cache, momentum=nu)
            yield {"m": m, "n": n, "nu": nu, "mu": cache["mu"], "sigma": np.sqrt(cache["var"]),
                   "mu_new_bar": new["mean"], "mu_old_bar": old["mean"],
                   "sigma_new_bar": np.sqrt(new["var"]), "sigma_old_bar": np.sqrt(old["var"])}


def _eval_envs(rng):
    for shape in EVAL_SHAPES:
        m, n = shape
        A, params = make_layer(rng, shape)
        running = {"mean": rng.standard_normal(n), "var": rng.uniform(0.1, 3.0, n)}
        G = rng.standard_normal(shape)
        Z, cache = forward_eval(A, params, running)
        dA, _ = backward_eval(G, cache)
        yield {"A": A, "m": m, "n": n, "gamma": params["gamma"], "beta": params["beta"],
               "epsilon": EPS, "mu_bar": running["mean"], "sigma_bar": np.sqrt(running["var"]),
               "Z": Z, "G": G, "dA": dA}


FORMULAS = {
    "statistics": Case(_training_envs),
    "normalise": Case(_training_envs),
    "forward": Case(_training_envs),
    "grad-params": Case(_training_envs),
    "grad-x-hat": Case(_training_envs),
    "grad-std": Case(_training_envs),
    "grad-mean": Case(_training_envs),
    "grad-input": Case(_training_envs),
    "backward": Case(_training_envs),
    "zero-sum": Case(_training_envs),
    "running": Case(_running_envs),
    "forward-eval": Case(_eval_envs),
    "backward-eval": Case(_eval_envs),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
