"""Tests for snippets/networks/initialisation.py (page docs/networks/initialisation.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from snippets.models import logistic_regression
from snippets.networks import backpropagation
from snippets.networks.initialisation import (
    HIDDEN,
    constant_params,
    forward,
    gradients,
    he_init,
    hidden_units_identical,
    layer_stds,
    logistic_hessian,
    loss,
    midpoint,
    preactivation_variance,
    swap_hidden_units,
    train,
    train_logistic,
    xavier_init,
)

from checks import EXACT_ATOL, EXACT_RTOL, assert_gradient
from formulas import Case, RandomVar, formula_test

#: Relative tolerance for a sample variance against its expected value: with N independent
#: draws the relative standard error of a variance is about sqrt(2 / N); the tests use
#: N >= 200 000 (standard error 0.3 %), and 2 % is over six standard errors.
SAMPLE_RTOL = 0.02


def xor_data(rng: np.random.Generator, m: int = 60):
    """Four noisy clusters, opposite corners in the same class: no line separates them."""
    centres = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    k = rng.integers(0, 4, size=m)
    return centres[k] + rng.normal(0.0, 0.6, size=(m, 2)), (k >= 2).astype(int)


def random_params(rng, n, n_1, C, scale=1.0):
    return [(rng.normal(0, scale, (n, n_1)), rng.normal(0, 0.3, n_1)),
            (rng.normal(0, scale, (n_1, C)), rng.normal(0, 0.3, C))]


# --- the compact network ------------------------------------------------------------

@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "identity"])
@pytest.mark.parametrize("m,n,n_1,C", [(1, 1, 1, 2), (1, 3, 4, 2), (9, 2, 5, 3)])
def test_gradients_match_finite_differences(rng, activation, m, n, n_1, C):
    X = rng.standard_normal((m, n))
    y = rng.integers(0, C, size=m)
    params = random_params(rng, n, n_1, C)
    grads = gradients(X, y, params, activation)
    for layer in range(2):
        W, b = params[layer]
        dW, db = grads[layer]

        def with_layer(V, c, layer=layer):
            new = list(params)
            new[layer] = (V, c)
            return loss(X, y, new, activation)

        assert_gradient(lambda V, b=b: with_layer(V, b), dW, W, rng)
        assert_gradient(lambda c, W=W: with_layer(W, c), db, b, rng)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_network_agrees_with_the_backpropagation_chapter(rng, activation):
    X, y = xor_data(rng, 12)
    params = random_params(rng, 2, 5, 2)
    assert loss(X, y, params, activation) == pytest.approx(
        backpropagation.loss(X, y, params, activation), rel=EXACT_RTOL)
    for (dW, db), (dW_ref, db_ref) in zip(gradients(X, y, params, activation),
                                         backpropagation.backward(X, y, params, activation),
                                         strict=True):
        np.testing.assert_allclose(dW, dW_ref, rtol=EXACT_RTOL, atol=EXACT_ATOL)
        np.testing.assert_allclose(db, db_ref, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    Z1, A1, Z2, Y_hat = forward(X, params, activation)
    assert Y_hat.shape == (12, 2)
    np.testing.assert_allclose(Y_hat.sum(axis=1), 1.0, rtol=EXACT_RTOL)


def test_sigmoid_written_with_tanh_is_the_sigmoid():
    z = np.array([-800.0, -3.0, 0.0, 2.0, 800.0])
    g, g_prime = HIDDEN["sigmoid"]
    with np.errstate(over="ignore"):           # the reference form overflows at -800
        reference = 1.0 / (1.0 + np.exp(-z))
    np.testing.assert_allclose(g(z), reference, rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(g_prime(z), reference * (1 - reference), rtol=1e-13, atol=1e-300)


# --- symmetry --------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_zero_weights_give_zero_first_layer_gradient_and_equal_rows(rng, activation):
    """Eq. (2) with every weight 0: dW1 = 0, and every row of dW2 is g(0) 1^T Delta2."""
    X, y = xor_data(rng, 30)
    y[:5] = 0                                      # unbalanced, so that 1^T Delta2 != 0
    params = constant_params(2, 4, 2, 0.0)
    (dW1, db1), (dW2, db2) = gradients(X, y, params, activation)
    np.testing.assert_array_equal(dW1, 0.0)
    np.testing.assert_array_equal(db1, 0.0)
    g0 = HIDDEN[activation][0](np.array(0.0))
    Delta2 = (np.full((30, 2), 0.5) - np.eye(2)[y]) / 30   # softmax of zeros is 1/2 each
    np.testing.assert_allclose(dW2, g0 * np.ones((4, 1)) * Delta2.sum(axis=0),
                               rtol=EXACT_RTOL, atol=EXACT_ATOL)


@pytest.mark.parametrize("value", [0.0, 0.3])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_constant_start_keeps_the_hidden_units_identical(rng, value, activation):
    X, y = xor_data(rng)
    start = constant_params(2, 5, 2, value)
    trained, losses = train(X, y, start, activation, lr=0.5, n_iters=300)
    assert hidden_units_identical(start) and hidden_units_identical(trained, tol=1e-12)
    # A random start breaks the symmetry, and reaches a lower loss than the stuck network.
    broken, broken_losses = train(X, y, random_params(rng, 2, 5, 2, 0.5), activation, 0.5, 300)
    assert not hidden_units_identical(broken, tol=1e-3)
    assert broken_losses[-1] < losses[-1]


def test_hidden_units_identical_detects_one_differing_weight():
    params = constant_params(3, 4, 2, 0.1)
    assert hidden_units_identical(params)
    params[1][0][2, 1] += 1e-6
    assert not hidden_units_identical(params)


# --- variance -----------------------------------------------------------------------------

@pytest.mark.parametrize("n_in", [1, 4, 20])
def test_preactivation_variance_matches_a_sample(rng, n_in):
    """Eq. (3): Var(z) = n_in Var(W) E[a^2], for independent zero-mean W and any a."""
    N = 200_000                                        # samples of (a, W), each fresh
    var_W = 0.7 / n_in
    A = rng.uniform(0.0, 2.0, size=(N, n_in))          # not zero-mean: E[a^2] = 4/3
    W = rng.normal(0.0, math.sqrt(var_W), size=(N, n_in))
    z = np.sum(A * W, axis=1)                          # one z_k per sample
    expected = preactivation_variance(n_in, var_W, 4.0 / 3.0)
    assert expected == pytest.approx(0.7 * 4 / 3, rel=EXACT_RTOL)
    assert np.var(z) == pytest.approx(expected, rel=SAMPLE_RTOL)


def test_relu_keeps_half_the_second_moment(rng):
    """The step of eq. (5): E[ReLU(z)^2] = Var(z) / 2 for z symmetric around 0."""
    z = rng.normal(0.0, 1.7, size=400_000)
    assert np.mean(np.maximum(z, 0.0) ** 2) == pytest.approx(1.7**2 / 2, rel=SAMPLE_RTOL)


@pytest.mark.parametrize("uniform", [False, True])
@pytest.mark.parametrize("n_in,n_out", [(1, 500), (300, 700), (1000, 200)])
def test_xavier_variance(rng, uniform, n_in, n_out):
    W = np.concatenate([xavier_init(n_in, n_out, rng, uniform).ravel()
                        for _ in range(max(1, 200_000 // (n_in * n_out)))])
    assert np.var(W) == pytest.approx(2.0 / (n_in + n_out), rel=SAMPLE_RTOL)
    if uniform:
        assert np.max(np.abs(W)) <= math.sqrt(6.0 / (n_in + n_out))


@pytest.mark.parametrize("n_in,n_out", [(1, 500), (400, 500)])
def test_he_variance(rng, n_in, n_out):
    W = np.concatenate([he_init(n_in, n_out, rng).ravel()
                        for _ in range(max(1, 200_000 // (n_in * n_out)))])
    assert np.var(W) == pytest.approx(2.0 / n_in, rel=SAMPLE_RTOL)


def test_scale_through_ten_layers(rng):
    """Too small shrinks to 0, too large saturates tanh; He keeps ReLU layers at one scale."""
    X = rng.standard_normal((400, 256))
    layers = lambda init: [init(256, 256) for _ in range(10)]
    tiny = layer_stds(X, layers(lambda a, b: rng.normal(0, 0.01, (a, b))), "tanh")
    large = layer_stds(X, layers(lambda a, b: rng.normal(0, 1.0, (a, b))), "tanh")
    xavier_relu = layer_stds(X, layers(lambda a, b: xavier_init(a, b, rng)), "relu")
    he_relu = layer_stds(X, layers(lambda a, b: he_init(a, b, rng)), "relu")
    # std 0.01: each layer multiplies the std by about 0.01 * sqrt(256) = 0.16.
    assert tiny[-1] < 1e-6
    # std 1: Var(z) = 256 E[tanh(z)^2], with |tanh| close to 1: std near 16 at every layer.
    assert np.all((large > 10) & (large < 17))
    # Xavier with ReLU: Var(W) = 1/256 and E[a^2] = Var(z)/2, so the std shrinks by
    # sqrt(1/2) per layer; He: Var(z) = 256 * (2/256) * Var(z)/2 keeps it at sqrt(2).
    assert xavier_relu[-1] / xavier_relu[0] < 0.1
    assert np.all(np.abs(he_relu / math.sqrt(2.0) - 1.0) < 0.15)


# --- convex and non-convex ------------------------------------------------------------

@pytest.mark.parametrize("m,n", [(1, 1), (20, 3)])
def test_logistic_hessian_matches_finite_differences_and_is_psd(rng, m, n):
    """Eq. (6): the Hessian is the Jacobian of the gradient, and has no negative eigenvalue."""
    X = rng.standard_normal((m, n))
    y = rng.integers(0, 2, size=m)
    w, b = rng.standard_normal(n), float(rng.standard_normal())
    H = logistic_hessian(X, y, w, b)
    assert H.shape == (n + 1, n + 1)
    for r in range(n + 1):
        def grad_r(theta, r=r):
            dw, db = logistic_regression.gradient(X, y, theta[:n], theta[n])
            return np.append(dw, db)[r]
        assert_gradient(grad_r, H[r], np.append(w, b))
    assert np.min(np.linalg.eigvalsh(H)) >= -EXACT_ATOL
    # The quadratic form is a weighted sum of squares: (1/m) sum a(1-a) (x1^T v)^2.
    v = rng.standard_normal(n + 1)
    X1 = np.column_stack([X, np.ones(m)])
    a = logistic_regression.stable_sigmoid(X @ w + b)
    assert v @ H @ v == pytest.approx(np.mean(a * (1 - a) * (X1 @ v) ** 2), rel=EXACT_RTOL)


def test_logistic_regression_reaches_one_minimum_from_any_start(rng):
    X, y = xor_data(rng, 80)
    X[:, 1] += 0.8 * y                             # a weak linear signal, not separable
    w_a, b_a = train_logistic(X, y, np.zeros(2), 0.0, lr=1.0, n_iters=3000)
    w_b, b_b = train_logistic(X, y, np.array([4.0, -5.0]), 3.0, lr=1.0, n_iters=3000)
    np.testing.assert_allclose(w_a, w_b, rtol=1e-8, atol=1e-8)
    assert b_a == pytest.approx(b_b, rel=1e-8, abs=1e-8)
    dw, db = logistic_regression.gradient(X, y, w_a, b_a)
    assert np.linalg.norm(np.append(dw, db)) < 1e-9


def test_swapping_hidden_units_changes_parameters_not_the_function(rng):
    X, y = xor_data(rng, 20)
    params = random_params(rng, 2, 4, 3)
    swapped = swap_hidden_units(params, 0, 2)
    assert not np.array_equal(swapped[0][0], params[0][0])
    np.testing.assert_allclose(forward(X, swapped)[3], forward(X, params)[3], rtol=EXACT_RTOL)
    np.testing.assert_array_equal(swap_hidden_units(swapped, 0, 2)[0][0], params[0][0])


def test_two_starts_reach_two_minima_and_the_midpoint_is_worse(rng):
    """Eq. (7) fails for a network: the loss at the midpoint is above both ends."""
    X, y = xor_data(rng, 60)
    start = random_params(rng, 2, 2, 2, scale=1.0)
    trained_a, losses_a = train(X, y, start, "tanh", lr=0.5, n_iters=1500)
    trained_b, losses_b = train(X, y, swap_hidden_units(start, 0, 1), "tanh", 0.5, 1500)
    # Gradient descent from the swapped start runs the swapped path, step for step.
    np.testing.assert_allclose(losses_a, losses_b, rtol=EXACT_RTOL)
    np.testing.assert_allclose(trained_b[0][0], swap_hidden_units(trained_a, 0, 1)[0][0],
                               rtol=1e-9, atol=1e-12)
    assert np.linalg.norm(trained_a[0][0] - trained_b[0][0]) > 0.5
    middle = loss(X, y, midpoint(trained_a, trained_b))
    assert middle > losses_a[-1] + 0.05            # a convex loss would have middle <= ends


# --- bad input ------------------------------------------------------------------------

GOOD = constant_params(2, 3, 2, 0.1)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: loss(np.ones((2, 2)), [0, 1], GOOD, "swish"), r"activation must be one of"),
        (lambda: loss(np.ones((2, 2)), [0, 1], GOOD[:1]), r"params must be \[\(W1, b1\)"),
        (lambda: loss(np.ones((2, 3)), [0, 1], GOOD), r"X must have shape \(m, 2\)"),
        (lambda: forward(np.ones((2, 2)), [GOOD[0], (np.ones((2, 2)), np.ones(2))]),
         r"layer shapes do not fit"),
        (lambda: gradients(np.ones((2, 2)), [0, 2], GOOD), r"y must hold 2 class indices in 0\.\.1"),
        (lambda: train(np.ones((2, 2)), [0, 1], GOOD, lr=-1.0), r"learning rate must be a positive"),
        (lambda: train(np.ones((2, 2)), [0, 1], GOOD, n_iters=0), r"n_iters must be a positive"),
        (lambda: constant_params(2, 0, 2), r"n_1 must be a positive integer"),
        (lambda: preactivation_variance(0, 1.0, 1.0), r"n_in must be a positive integer"),
        (lambda: layer_stds(np.ones((2, 2)), [np.ones((2, 2))], "step"), r"activation must be"),
        (lambda: xavier_init(3, 0, np.random.default_rng(0)), r"n_out must be a positive"),
        (lambda: he_init(2.5, 3, np.random.default_rng(0)), r"n_in must be a positive"),
        (lambda: logistic_hessian(np.ones((2, 2)), [0, 1], np.ones(3), 0.0), r"need X \(m, n\)"),
        (lambda: train_logistic(np.ones((2, 2)), [0, 2], np.ones(2), 0.0), r"labels must be 0 or 1"),
        (lambda: swap_hidden_units(GOOD, 0, 3), r"hidden units must be in 0\.\.2"),
        (lambda: forward(np.ones((2, 2)), GOOD, ["tanh"]), r"activation must be one of"),
        (lambda: forward(np.ones((2, 2)), np.ones(3)), r"params must be \[\(W1, b1\), \(W2, b2\)\]"),
        (lambda: forward(np.ones((2, 2)), [GOOD[0], np.ones(2)]), r"params must be \[\(W1, b1\)"),
        (lambda: forward(np.ones((2, 2)), [(np.ones(2), np.ones(3)), GOOD[1]]),
         r"layer shapes do not fit.*got W1 \(2,\)"),
        (lambda: forward(np.ones((2, 2)), [(np.full((2, 3), np.nan), np.zeros(3)), GOOD[1]]),
         r"weights and biases must be finite"),
        (lambda: forward(np.array([[np.nan, 1.0]]), GOOD), r"X must be finite"),
        (lambda: forward([[1.0, [2.0]]], GOOD), r"X must be a rectangular array of numbers"),
        (lambda: forward(np.array([["a", "b"]]), GOOD), r"X must be an array of real numbers"),
        (lambda: gradients(np.ones((0, 2)), [], GOOD), r"X must have shape \(m, 2\) with m >= 1"),
        (lambda: loss(np.ones((2, 2)), np.array(["0", "1"]), GOOD), r"y must be an array of real"),
        (lambda: loss(np.ones((2, 2)), np.float64(1.0), GOOD), r"y must hold 2 class indices.*\(\)"),
        (lambda: train(np.ones((2, 2)), [[0], [1, 0]], GOOD), r"y must be a rectangular array"),
        (lambda: train(np.ones((2, 2)), [0, 1], GOOD, lr="0.5"), r"learning rate must be a positive"),
        (lambda: train(np.ones((2, 2)), [0, 1], GOOD, n_iters=True), r"n_iters must be a positive"),
        (lambda: constant_params(2, 3, 2, np.nan), r"value must be one finite number, got nan"),
        (lambda: constant_params(2, 3, 2, np.ones(2)), r"value must be one finite number"),
        (lambda: hidden_units_identical(GOOD, tol=-1.0), r"tol must be one finite number >= 0"),
        (lambda: hidden_units_identical(GOOD, np.array([0.1, 0.2])), r"tol must be one finite"),
        (lambda: hidden_units_identical(GOOD, [0.1]), r"tol must be one finite number"),
        (lambda: hidden_units_identical(np.ones(3)), r"params must be \[\(W1, b1\)"),
        (lambda: preactivation_variance(3, -1.0, 1.0), r"var_W must be one finite number >= 0"),
        (lambda: preactivation_variance(3, 1.0, np.ones(2)), r"mean_square_a must be one finite"),
        (lambda: layer_stds(np.ones(3), [np.ones((3, 2))]), r"X must be a finite 2-D array"),
        (lambda: layer_stds(np.ones((2, 3)), []), r"Ws must be a non-empty list"),
        (lambda: layer_stds(np.ones((2, 3)), [np.ones((3, 2)), np.ones((3, 2))]),
         r"W2 must be a finite 2-D array \(2, n_2\)"),
        (lambda: xavier_init(2, 3, np.random.default_rng(0), uniform="yes"),
         r"uniform must be True or False"),
        (lambda: he_init(True, 3, np.random.default_rng(0)), r"n_in must be a positive integer"),
        (lambda: logistic_hessian(np.ones((2, 2)), [0, 1], np.ones(2), np.array([0.0, 1.0])),
         r"b must be one finite number"),
        (lambda: train_logistic(np.array([[np.nan, 0.0]]), [0], np.ones(2), 0.0),
         r"X and w must be finite"),
        (lambda: swap_hidden_units(GOOD, 0.5, 1), r"hidden units must be in 0\.\.2 \(integers\)"),
        (lambda: swap_hidden_units(np.ones(3), 0, 1), r"params must be \[\(W1, b1\)"),
        (lambda: midpoint(GOOD, constant_params(2, 4, 2)),
         r"params and other must have the same shapes"),
        (lambda: midpoint(GOOD, np.ones(2)), r"params must be \[\(W1, b1\)"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "networks/initialisation.md"


def _small_net(rng, n=3, n_1=4, C=3, m=5):
    X = rng.standard_normal((m, n))
    y = rng.integers(0, C, size=m)
    params = [(rng.normal(0, 0.7, (n, n_1)), rng.normal(0, 0.2, n_1)),
              (rng.normal(0, 0.7, (n_1, C)), rng.normal(0, 0.2, C))]
    return X, y, params


def _net_env(X, y, params, activation):
    """Forward values from the page's code; the Deltas from the backpropagation chapter's."""
    (W1, b1), (W2, b2) = params
    Z1, A1, Z2, Y_hat = forward(X, params, activation)
    (dW1, db1), (dW2, db2) = gradients(X, y, params, activation)
    C = W2.shape[1]
    Y = np.eye(C)[y]
    Delta2 = backpropagation.output_error(Z2, Y)
    Delta1 = backpropagation.previous_error(Delta2, W2, Z1, activation)
    g, g_prime = HIDDEN[activation]
    return {"X": X, "Y": Y, "m": X.shape[0], "n": X.shape[1], "n_1": W1.shape[1], "C": C,
            "W1": W1, "b1": b1, "W2": W2, "b2": b2,
            "Z1": Z1, "A1": A1, "Z2": Z2, "Y_hat": Y_hat, "Delta1": Delta1, "Delta2": Delta2,
            "dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2, "g": g, "g'": g_prime,
            "softmax_rows": backpropagation.softmax}


def _network_envs(rng):
    for activation in ("tanh", "sigmoid"):
        yield _net_env(*_small_net(rng), activation)


def _symmetry_envs(rng):
    X, y, _ = _small_net(rng)
    n, n_1, C = 3, 4, 3
    w, v, beta = rng.standard_normal(n), rng.standard_normal(C), 0.3
    symmetric = [(np.outer(w, np.ones(n_1)), np.full(n_1, beta)),
                 (np.outer(np.ones(n_1), v), rng.standard_normal(C))]
    env = _net_env(X, y, symmetric, "sigmoid")
    env.update({"w": w, "v": v, "beta": beta, "p": env["dW1"][:, 0], "q": env["db1"][0],
                "r": env["dW2"][0]})
    yield env
    zero = constant_params(n, n_1, C, 0.0)
    env = _net_env(X, y, zero, "sigmoid")
    env.update({"w": np.zeros(n), "v": np.zeros(C), "beta": 0.0, "p": env["dW1"][:, 0],
                "q": env["db1"][0], "r": env["dW2"][0], "__case__": "every weight 0"})
    yield env


def _variance_envs(rng):
    """Weights and inputs as random variables on a small sample space, enumerated exactly.

    Each weight is +s or -s and each input a or a', all independent and equally likely:
    16 outcomes for two inputs and one output. The weights have mean 0, and the inputs
    share one distribution, so the second moments are equal, as eq. (3) assumes.
    """
    import itertools

    s, levels = 0.7, (0.5, 2.0)
    n_in, n_out = 2, 1
    outcomes = list(itertools.product((-s, s), (-s, s), levels, levels))
    W = np.array([[[o[0] for o in outcomes]], [[o[1] for o in outcomes]]])  # (2, 1, 16)
    a = np.array([[o[2] for o in outcomes], [o[3] for o in outcomes]])      # (2, 16)
    z = np.einsum("jko,jo->ko", W, a)                                      # (1, 16)
    var_W, mean_square = float(np.var(W)), float(np.mean(a**2))
    yield {"W": RandomVar(W), "a": RandomVar(a), "z": RandomVar(z), "n_in": n_in,
           "Var": lambda X: float(np.var(X.v)), "E": lambda X: float(np.mean(X.v)),
           "__ranges__": {"k": n_out}}
    # the code computes the last part of eq. (3) from the same two moments
    assert preactivation_variance(n_in, var_W, mean_square) == n_in * var_W * mean_square


def _hessian_envs(rng):
    for m, n in [(1, 1), (6, 2), (20, 3)]:
        X = rng.standard_normal((m, n))
        y = rng.integers(0, 2, size=m).astype(float)
        w, b = rng.standard_normal(n), float(rng.standard_normal())
        a = logistic_regression.stable_sigmoid(X @ w + b)
        yield {"H": logistic_hessian(X, y, w, b), "X_tilde": np.column_stack([X, np.ones(m)]),
               "a": a, "m": m, "n": n, "v": rng.standard_normal(n + 1)}


def _flat(params):
    return np.concatenate([np.ravel(t) for pair in params for t in pair])


def _swap_envs(rng):
    """A trained network and the same network with its two hidden units swapped.

    The swapped start trains into exactly the swapped network (tested above), so the
    swap of the trained network stands for the second run. 200 steps separate the units
    enough for the midpoint to be worse on every seed tried (20 of 20).
    """
    X, y = xor_data(rng, 60)
    start = random_params(rng, 2, 2, 2, scale=1.0)
    theta, _ = train(X, y, start, "tanh", lr=0.5, n_iters=200)
    theta_swapped = swap_hidden_units(theta, 0, 1)
    shapes = [t.shape for pair in theta for t in pair]

    def unflat(vector):
        out, k = [], 0
        for shape in shapes:
            size = int(np.prod(shape))
            out.append(vector[k:k + size].reshape(shape))
            k += size
        return [(out[0], out[1]), (out[2], out[3])]

    middle = _flat(midpoint(theta, theta_swapped))
    yield {"theta": _flat(theta), "theta'": _flat(theta_swapped),
           "Loss": lambda v: loss(X, y, midpoint(theta, theta_swapped))
           if np.array_equal(v, middle) else loss(X, y, unflat(v))}


FORMULAS = {
    "network": Case(_network_envs),
    "symmetry": Case(_symmetry_envs),
    "variance": Case(_variance_envs),
    "hessian": Case(_hessian_envs),
    "swap": Case(_swap_envs, refuted=("<=",),
                 why_refuted="a convex loss would satisfy it; a network's loss does not"),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)


def test_a_confident_right_answer_keeps_the_digits_of_its_tiny_loss():
    """The mean cross-entropy at logits (40, 0), class 0: log(1 + e^-40), not 0."""
    params = [(np.zeros((1, 1)), np.zeros(1)), (np.zeros((1, 2)), np.array([40.0, 0.0]))]
    got = loss(np.array([[1.0]]), np.array([0]), params, "tanh")
    assert got == pytest.approx(math.log1p(math.exp(-40.0)), rel=1e-14, abs=0.0)
