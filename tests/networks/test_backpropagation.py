"""Tests for snippets/networks/backpropagation.py (page docs/networks/backpropagation.md)."""

from __future__ import annotations

import numpy as np
import pytest

from snippets.models import linear_regression, logistic_regression, softmax_regression
from snippets.networks import activations as act
from snippets.networks.backpropagation import (
    ACTIVATIONS,
    KINKED,
    backward,
    backward_example,
    fit,
    forward,
    forward_example,
    init_params,
    layer_gradient,
    layer_gradient_example,
    loss,
    output_activation,
    output_error,
    output_error_example,
    previous_error,
    previous_error_example,
    sigmoid,
    softmax,
    worked_example,
)

from checks import (
    EXACT_ATOL,
    EXACT_RTOL,
    NON_FINITE,
    POSITIONS,
    FiniteScans,
    assert_gradient,
    with_value_at,
)
from formulas import Case, formula_test

#: Layer sizes (n_0, n_1, ..., n_L): no hidden layer, then 1, 2 and 3 hidden layers of
#: different widths, including width 1 and a single input.
SIZES = [(3, 4), (1, 5, 2), (4, 1, 3), (3, 6, 5, 2), (2, 3, 7, 4, 3)]
MS = [1, 7]
OUTPUT_NAMES = ["softmax", "identity", "sigmoid"]

#: Hidden pre-activations must stay this far from the kink at 0 for the ReLU family, so
#: that a central difference (step 1e-5, times inputs of order 1) never straddles it; on
#: the other side of the kink the slope differs, and the difference quotient mixes both.
KINK_MARGIN = 1e-3

#: Tolerance for the derivatives g' of the table against central differences, point by
#: point (truncation about h**2 = 1e-10, round-off about 1e-11).
FD_TOL = 1e-8


def make_problem(rng, sizes, m, activation, output):
    """Random layers, inputs and targets; for the ReLU family, redrawn until every hidden
    pre-activation is at least KINK_MARGIN away from the kink."""
    for _ in range(50):
        X, Y, params = draw_problem(rng, sizes, m, output)
        Z, _ = forward(X, params, activation, output)
        hidden = [np.min(np.abs(Zl)) for Zl in Z[1:-1]]
        if activation not in KINKED or min(hidden, default=np.inf) > KINK_MARGIN:
            return X, Y, params
    raise AssertionError("no draw kept the hidden pre-activations away from the kink")


def draw_problem(rng, sizes, m, output):
    params = [(rng.normal(0.0, 0.8, (n_in, n_out)), rng.normal(0.0, 0.3, n_out))
              for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)]
    X = rng.standard_normal((m, sizes[0]))
    if output == "softmax":
        Y = rng.integers(0, sizes[-1], size=m)
    elif output == "sigmoid":
        Y = rng.integers(0, 2, size=(m, sizes[-1])).astype(float)
    else:
        Y = rng.standard_normal((m, sizes[-1]))
    return X, Y, params


def replace(params, layer, W=None, b=None):
    """A copy of params with W^(l) or b^(l) replaced (l counts from 1)."""
    new = list(params)
    W_old, b_old = new[layer - 1]
    new[layer - 1] = (W_old if W is None else W, b_old if b is None else b)
    return new


def one_hot(y, C):
    return np.eye(C)[y]


# --- the activation table ------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_each_table_derivative_matches_finite_differences(rng, name):
    g, g_prime = ACTIVATIONS[name]
    z = rng.normal(scale=3.0, size=30)
    z = np.where(np.abs(z) < KINK_MARGIN, 1.0, z)
    numeric = np.array([(g(np.array([t + 1e-5])) - g(np.array([t - 1e-5])))[0] / 2e-5 for t in z])
    np.testing.assert_allclose(g_prime(z), numeric, rtol=FD_TOL, atol=FD_TOL)


@pytest.mark.parametrize("name", sorted(set(ACTIVATIONS) - {"identity"}))
def test_table_agrees_with_the_activations_chapter(rng, name):
    g, g_prime = ACTIVATIONS[name]
    z = rng.normal(scale=3.0, size=(4, 5))
    np.testing.assert_allclose(g(z), getattr(act, name)(z), rtol=EXACT_RTOL, atol=1e-15)
    np.testing.assert_allclose(g_prime(z), getattr(act, name + "_derivative")(z),
                               rtol=EXACT_RTOL, atol=1e-15)


def test_sigmoid_and_softmax_known_values_and_extremes():
    assert sigmoid(np.array([0.0]))[0] == 0.5
    np.testing.assert_allclose(softmax(np.log([[1.0, 3.0]])), [[0.25, 0.75]], rtol=EXACT_RTOL)
    np.testing.assert_array_equal(softmax(np.array([[1000.0, 0.0]])), [[1.0, 0.0]])
    assert np.all(np.isfinite(sigmoid(np.array([-1000.0, 1000.0]))))
    Z = np.array([[1.0, -2.0]])
    np.testing.assert_array_equal(output_activation(Z, "identity"), Z)


# --- forward ---------------------------------------------------------------------------

@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("output", ["softmax", "identity"])
def test_batch_forward_rows_are_the_examples(rng, sizes, output):
    """Eq. (2), row i, equals eq. (1) for example i."""
    X, _, params = make_problem(rng, sizes, 5, "tanh", output)
    Z, A = forward(X, params, "tanh", output)
    L = len(params)
    assert len(Z) == len(A) == L + 1 and Z[0] is None
    np.testing.assert_array_equal(A[0], X)
    for layer in range(1, L + 1):
        assert Z[layer].shape == A[layer].shape == (5, sizes[layer])
    for i in range(5):
        z, a = forward_example(X[i], params, "tanh", output)
        for layer in range(1, L + 1):
            np.testing.assert_allclose(Z[layer][i], z[layer], rtol=EXACT_RTOL, atol=EXACT_ATOL)
            np.testing.assert_allclose(A[layer][i], a[layer], rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_forward_hand_computed():
    # x = (1, 2); W1 = [[1, -1], [0, 1]], b1 = (0, -3): z1 = (1, -2), relu -> (1, 0);
    # W2 = [[2], [5]], b2 = (1): y_hat = 2 * 1 + 5 * 0 + 1 = 3.
    params = [(np.array([[1.0, -1.0], [0.0, 1.0]]), np.array([0.0, -3.0])),
              (np.array([[2.0], [5.0]]), np.array([1.0]))]
    z, a = forward_example(np.array([1.0, 2.0]), params, "relu", "identity")
    np.testing.assert_array_equal(z[1], [1.0, -2.0])
    np.testing.assert_array_equal(a[1], [1.0, 0.0])
    np.testing.assert_array_equal(a[2], [3.0])
    # Its squared error against y = 1 is (3 - 1)^2 = 4.
    assert loss(np.array([[1.0, 2.0]]), np.array([[1.0]]), params, "relu", "identity") == 4.0


# --- the loss ---------------------------------------------------------------------------

@pytest.mark.parametrize("output", ["softmax", "identity"])
def test_loss_is_the_mean_of_example_losses(rng, output):
    sizes = (3, 4, 3)
    X, Y, params = make_problem(rng, sizes, 6, "sigmoid", output)
    per_example = []
    for i in range(6):
        _, a = forward_example(X[i], params, "sigmoid", output)
        if output == "softmax":
            per_example.append(-np.log(a[-1][Y[i]]))
        else:
            per_example.append(np.sum((a[-1] - Y[i]) ** 2))
    assert loss(X, Y, params, "sigmoid", output) == pytest.approx(np.mean(per_example),
                                                                   rel=EXACT_RTOL)


def test_loss_is_finite_for_huge_logits():
    # One layer, logits (1000, 0) with label 1: loss = 1000 + log(1 + e^-1000) = 1000.
    params = [(np.array([[1000.0, 0.0]]), np.zeros(2))]
    assert loss(np.array([[1.0]]), np.array([1]), params, "relu", "softmax") == 1000.0


def test_without_hidden_layers_the_network_is_softmax_regression(rng):
    X, y, params = make_problem(rng, (4, 3), 9, "relu", "softmax")
    (W, b), = params
    assert loss(X, y, params) == pytest.approx(softmax_regression.loss(X, y, W, b), rel=EXACT_RTOL)
    (dW, db), = backward(X, y, params)
    dW_ref, db_ref = softmax_regression.gradient(X, y, W, b)
    np.testing.assert_allclose(dW, dW_ref, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    np.testing.assert_allclose(db, db_ref, rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_without_hidden_layers_and_one_output_the_network_is_linear_regression(rng):
    X = rng.standard_normal((8, 3))
    y = rng.standard_normal(8)
    w, b = rng.standard_normal(3), float(rng.standard_normal())
    params = [(w[:, None], np.array([b]))]
    (dW, db), = backward(X, y[:, None], params, "relu", "identity")
    dw_ref, db_ref = linear_regression.gradient(X, y, w, b)
    np.testing.assert_allclose(dW[:, 0], dw_ref, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    assert db[0] == pytest.approx(db_ref, rel=EXACT_RTOL)


# --- one example ----------------------------------------------------------------------

def test_output_error_with_one_class_is_zero():
    # One class always gets probability 1: the loss is 0 whatever z, and so is its slope.
    np.testing.assert_array_equal(output_error_example(np.array([3.0]), [1.0]), [0.0])


@pytest.mark.parametrize("C", [2, 5])
def test_output_error_softmax_is_jacobian_times_upstream(rng, C):
    """Eq. (4): J^T (-e(y) / f_y) = f - e(y), and it matches finite differences in z."""
    z = rng.normal(scale=2.0, size=C)
    y = int(rng.integers(0, C))
    f = softmax(z)
    J = np.diag(f) - np.outer(f, f)
    upstream = -one_hot(y, C) / f[y]
    delta = output_error_example(z, one_hot(y, C), "softmax")
    np.testing.assert_allclose(delta, J.T @ upstream, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    ce = lambda t: float(np.log(np.sum(np.exp(t))) - t[y])
    assert_gradient(ce, delta, z)


@pytest.mark.parametrize("C", [1, 3])
def test_output_error_mse_matches_finite_differences(rng, C):
    z = rng.standard_normal(C)
    y = rng.standard_normal(C)
    delta = output_error_example(z, y, "identity")
    assert_gradient(lambda t: float(np.sum((t - y) ** 2)), delta, z)
    np.testing.assert_allclose(delta, 2 * (z - y), rtol=EXACT_RTOL)


@pytest.mark.parametrize("C", [1, 3])
def test_output_error_sigmoid_is_a_minus_y_and_matches_finite_differences(rng, C):
    """Eq. (4), sigmoid output: each output is a logistic unit, so delta = a - y."""
    z = rng.normal(scale=2.0, size=C)
    y = rng.integers(0, 2, size=C).astype(float)
    delta = output_error_example(z, y, "sigmoid")
    np.testing.assert_allclose(delta, sigmoid(z) - y, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    bce = lambda t: float(np.sum(y * np.logaddexp(0, -t) + (1 - y) * np.logaddexp(0, t)))  # noqa: E731
    assert_gradient(bce, delta, z)


def test_sigmoid_output_without_hidden_layer_is_logistic_regression(rng):
    """One sigmoid output and L = 1: the loss and gradients of the logistic regression page."""
    X, w, b = rng.standard_normal((9, 3)), rng.standard_normal(3), float(rng.standard_normal())
    y = rng.integers(0, 2, size=9).astype(float)
    params = [(w[:, None], np.array([b]))]
    expected = logistic_regression.loss_from_logits(X @ w + b, y)
    assert loss(X, y[:, None], params, "relu", "sigmoid") == pytest.approx(expected, rel=EXACT_RTOL)
    (dW, db), = backward(X, y[:, None], params, "relu", "sigmoid")
    dw_lr, db_lr = logistic_regression.gradient(X, y, w, b)
    np.testing.assert_allclose(dW[:, 0], dw_lr, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    assert db[0] == pytest.approx(db_lr, rel=EXACT_RTOL, abs=EXACT_ATOL)


def test_sigmoid_output_loss_is_finite_at_extreme_logits():
    # Logits of +-1e4: one right (loss ~ 0) and one wrong (loss 1e4), no overflow warning.
    params = [(np.array([[1.0]]), np.array([0.0]))]
    X, Y = np.array([[1e4], [-1e4]]), np.array([[1.0], [1.0]])
    assert loss(X, Y, params, "relu", "sigmoid") == pytest.approx(5e3, rel=EXACT_RTOL)
    np.testing.assert_allclose(output_error(X, Y, "sigmoid"), [[0.0], [-0.5]], atol=1e-300)


def test_worked_example_hand_computed():
    """Every number of eq. (7), the 2-2-1 ReLU network on x = (1, 2), y = 1."""
    got = worked_example()
    np.testing.assert_array_equal(got["z1"], [1.0, 0.5])
    np.testing.assert_array_equal(got["a1"], [1.0, 0.5])
    np.testing.assert_array_equal(got["y_hat"], [2.0])
    np.testing.assert_array_equal(got["delta2"], [2.0])
    np.testing.assert_array_equal(got["dW2"], [[2.0], [1.0]])
    np.testing.assert_array_equal(got["db2"], [2.0])
    np.testing.assert_array_equal(got["delta1"], [4.0, -2.0])
    np.testing.assert_array_equal(got["dW1"], [[4.0, -2.0], [8.0, -4.0]])
    np.testing.assert_array_equal(got["db1"], [4.0, -2.0])


def test_worked_example_agrees_with_backward_and_finite_differences(rng):
    x, y = np.array([1.0, 2.0]), np.array([1.0])
    params = [(np.array([[0.5, -1.0], [0.25, 1.0]]), np.array([0.0, -0.5])),
              (np.array([[2.0], [-1.0]]), np.array([0.5]))]
    got = worked_example()
    (dW1, db1), (dW2, db2) = backward_example(x, y, params, "relu", "identity")
    for name, value in [("dW1", dW1), ("db1", db1), ("dW2", dW2), ("db2", db2)]:
        np.testing.assert_array_equal(got[name], value)
    X, Y = x[None, :], y[None, :]
    assert loss(X, Y, params, "relu", "identity") == 1.0
    assert_gradient(lambda V: loss(X, Y, replace(params, 1, W=V), "relu", "identity"),
                    got["dW1"], params[0][0])
    # the page's check: W1[1, 0] from 0.25 to 0.26 gives loss 1.04^2 = 1.0816, near 1.08
    nudged = replace(params, 1, W=params[0][0] + np.array([[0.0, 0.0], [0.01, 0.0]]))
    assert loss(X, Y, nudged, "relu", "identity") == pytest.approx(1.0816, rel=EXACT_RTOL)


def test_layer_gradient_example_entries_are_a_times_delta(rng):
    """Eq. (5) with indices: entry (j, k) is a_j^(l-1) delta_k^(l)."""
    a_prev, delta = rng.standard_normal(4), rng.standard_normal(3)
    dW, db = layer_gradient_example(a_prev, delta)
    assert dW.shape == (4, 3)
    for j in range(4):
        for k in range(3):
            assert dW[j, k] == a_prev[j] * delta[k]
    np.testing.assert_array_equal(db, delta)


def test_previous_error_example_with_indices(rng):
    """Eq. (6): delta_j^(l-1) = g'(z_j^(l-1)) sum_k W_jk delta_k^(l), by an explicit loop."""
    delta, W, z_prev = rng.standard_normal(3), rng.standard_normal((4, 3)), rng.standard_normal(4)
    got = previous_error_example(delta, W, z_prev, "tanh")
    for j in range(4):
        expected = (1 - np.tanh(z_prev[j]) ** 2) * sum(W[j, k] * delta[k] for k in range(3))
        assert got[j] == pytest.approx(expected, rel=EXACT_RTOL, abs=EXACT_ATOL)


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("output", OUTPUT_NAMES)
def test_example_gradients_match_finite_differences(rng, sizes, output):
    X, Y, params = make_problem(rng, sizes, 1, "tanh", output)
    y = one_hot(Y, sizes[-1])[0] if output == "softmax" else Y[0]
    grads = backward_example(X[0], y, params, "tanh", output)
    for layer, (dW, db) in enumerate(grads, start=1):
        W, b = params[layer - 1]
        assert dW.shape == W.shape and db.shape == b.shape
        assert_gradient(lambda V, k=layer: loss(X, Y, replace(params, k, W=V), "tanh", output),
                        dW, W, rng)
        assert_gradient(lambda c, k=layer: loss(X, Y, replace(params, k, b=c), "tanh", output),
                        db, b, rng)


# --- the batch --------------------------------------------------------------------------

@pytest.mark.parametrize("output", OUTPUT_NAMES)
@pytest.mark.parametrize("m", [1, 6])
def test_batch_errors_are_example_errors_over_m(rng, output, m):
    """Eq. (8) stacks the deltas of eq. (4) divided by m; eq. (10) keeps that, layer by layer."""
    sizes = (3, 5, 4, 3)
    X, Y, params = make_problem(rng, sizes, m, "silu", output)
    Yv = one_hot(Y, 3) if output == "softmax" else Y
    Z, _ = forward(X, params, "silu", output)
    Delta = output_error(Z[3], Y, output)
    assert Delta.shape == (m, 3)
    deltas = [output_error_example(Z[3][i], Yv[i], output) for i in range(m)]
    np.testing.assert_allclose(Delta, np.array(deltas) / m, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    for layer in (3, 2):
        W = params[layer - 1][0]
        Delta = previous_error(Delta, W, Z[layer - 1], "silu")
        deltas = [previous_error_example(d, W, Z[layer - 1][i], "silu") for i, d in enumerate(deltas)]
        assert Delta.shape == (m, sizes[layer - 1])
        np.testing.assert_allclose(Delta, np.array(deltas) / m, rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_layer_gradient_is_sum_of_outer_products(rng):
    """Eq. (9): A^T Delta = sum_i a_i delta_i^T, and Delta^T 1 sums the rows."""
    A_prev, Delta = rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    dW, db = layer_gradient(A_prev, Delta)
    assert dW.shape == (4, 3) and db.shape == (3,)
    np.testing.assert_allclose(dW, sum(np.outer(A_prev[i], Delta[i]) for i in range(6)),
                               rtol=EXACT_RTOL, atol=EXACT_ATOL)
    np.testing.assert_allclose(db, Delta.sum(axis=0), rtol=EXACT_RTOL, atol=EXACT_ATOL)


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("output", OUTPUT_NAMES)
@pytest.mark.parametrize("m", MS)
def test_batch_gradient_is_mean_of_example_gradients(rng, sizes, output, m):
    X, Y, params = make_problem(rng, sizes, m, "elu", output)
    Yv = one_hot(Y, sizes[-1]) if output == "softmax" else Y
    grads = backward(X, Y, params, "elu", output)
    per_example = [backward_example(X[i], Yv[i], params, "elu", output) for i in range(m)]
    for layer, (dW, db) in enumerate(grads):
        np.testing.assert_allclose(dW, np.mean([g[layer][0] for g in per_example], axis=0),
                                   rtol=EXACT_RTOL, atol=EXACT_ATOL)
        np.testing.assert_allclose(db, np.mean([g[layer][1] for g in per_example], axis=0),
                                   rtol=EXACT_RTOL, atol=EXACT_ATOL)


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("output", OUTPUT_NAMES)
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_gradient_check_every_layer(rng, sizes, output, activation):
    """Every W^(l) and b^(l), at depths 0 to 3 hidden layers, with all three outputs."""
    X, Y, params = make_problem(rng, sizes, 7, activation, output)
    grads = backward(X, Y, params, activation, output)
    assert len(grads) == len(params)
    for layer, (dW, db) in enumerate(grads, start=1):
        W, b = params[layer - 1]
        assert dW.shape == W.shape and db.shape == b.shape
        f_W = lambda V, k=layer: loss(X, Y, replace(params, k, W=V), activation, output)
        f_b = lambda c, k=layer: loss(X, Y, replace(params, k, b=c), activation, output)
        assert_gradient(f_W, dW, W, rng)
        assert_gradient(f_b, db, b, rng)


def test_one_hot_targets_and_indices_give_the_same_gradient(rng):
    X, y, params = make_problem(rng, (3, 4, 3), 5, "gelu", "softmax")
    by_index = backward(X, y, params, "gelu")
    by_one_hot = backward(X, one_hot(y, 3), params, "gelu")
    for (dW1, db1), (dW2, db2) in zip(by_index, by_one_hot, strict=True):
        np.testing.assert_array_equal(dW1, dW2)
        np.testing.assert_array_equal(db1, db2)


def test_gradient_check_wide_network_in_random_directions(rng):
    X, Y, params = make_problem(rng, (20, 30, 25, 4), 12, "gelu_tanh", "softmax")
    grads = backward(X, Y, params, "gelu_tanh")
    for layer, (dW, _) in enumerate(grads, start=1):
        W = params[layer - 1][0]
        assert_gradient(lambda V, k=layer: loss(X, Y, replace(params, k, W=V), "gelu_tanh"),
                        dW, W, rng)


# --- training ---------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_init_params_shapes_and_scale(rng, activation):
    params = init_params([400, 300, 2], rng, activation)
    assert [p[0].shape for p in params] == [(400, 300), (300, 2)]
    assert all(np.all(b == 0.0) for _, b in params)
    # He: variance 2 / 400; Xavier: 2 / (400 + 300). With 120 000 draws, the sample
    # variance is within 1 % of the true one (its relative standard error is 0.4 %).
    expected = 2 / 400 if activation == "relu" else 2 / 700
    assert np.var(params[0][0]) == pytest.approx(expected, rel=0.01)


def test_fit_lowers_the_loss_and_records_it(rng):
    X = rng.standard_normal((40, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)          # XOR-like: not linearly separable
    params = init_params([2, 8, 2], rng, "tanh")
    trained, losses = fit(X, y, params, "tanh", "softmax", lr=0.5, n_iters=200)
    assert losses.shape == (200,)
    assert losses[0] == pytest.approx(loss(X, y, params, "tanh"), rel=EXACT_RTOL)
    assert loss(X, y, trained, "tanh") < 0.5 * losses[0]


# --- bad input ------------------------------------------------------------------------

GOOD = [(np.ones((2, 3)), np.zeros(3)), (np.ones((3, 2)), np.zeros(2))]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: forward(np.ones((1, 2)), GOOD, "swish"), r"activation must be one of"),
        (lambda: forward(np.ones((1, 2)), GOOD, "relu", "tanh"), r"output must be one of"),
        (lambda: loss(np.ones((2, 2)), [[1.0, 0.5], [0.0, 1.0]], GOOD, "relu", "sigmoid"),
         r"sigmoid output every target must be 0 or 1, got \[0\.5\]"),
        (lambda: forward(np.ones((1, 2)), [], "relu"), r"non-empty list of \(W, b\)"),
        (lambda: forward(np.ones((1, 2)), [(np.ones((2, 3)),)], "relu"), r"layer 1 must be a pair"),
        (lambda: forward(np.ones((1, 2)), [(np.ones(2), np.zeros(2))]), r"W1 must be a finite 2-D"),
        (lambda: forward(np.ones((1, 2)), [(np.ones((2, 3)), np.zeros(2))]), r"b1 must be finite"),
        (lambda: forward(np.ones((1, 2)), [GOOD[0], (np.ones((2, 2)), np.zeros(2))]),
         r"W2 has 2 rows but layer 1 has 3 units"),
        (lambda: forward(np.ones((1, 3)), GOOD), r"X must have shape \(m, 2\)"),
        (lambda: forward(np.array([[np.nan, 1.0]]), GOOD), r"X must be finite"),
        (lambda: loss(np.ones((2, 2)), [0, 2], GOOD), r"class indices must be 2 integers in 0\.\.1"),
        (lambda: loss(np.ones((2, 2)), [0], GOOD), r"class indices must be 2 integers"),
        (lambda: loss(np.ones((2, 2)), np.ones((2, 3)), GOOD, "relu", "identity"),
         r"targets must have shape \(2, 2\)"),
        (lambda: loss(np.ones((1, 2)), [[np.inf, 0.0]], GOOD, "relu", "identity"),
         r"targets must be finite"),
        (lambda: loss(np.ones((1, 2)), [[1.0, 1.0]], GOOD), r"each target row must be one-hot"),
        (lambda: output_error(np.zeros((1, 2)), [[0.5, 0.5]]), r"must be one-hot"),
        (lambda: output_error(np.zeros(3), [0, 1, 2]), r"Z_L must be a 2-D array.*got shape \(3,\)"),
        (lambda: output_error(np.zeros((0, 2)), []), r"Z_L must be a 2-D array.*m >= 1"),
        (lambda: output_error([[np.nan, 0.0]], [0]), r"Z_L must be finite"),
        (lambda: output_error_example(np.zeros(2), [0.0, 1.0], "mse"), r"output must be one of"),
        (lambda: layer_gradient(np.ones((3, 2)), np.ones((2, 2))), r"A_prev and Delta need the same m rows"),
        (lambda: previous_error(np.ones((2, 3)), np.ones((3, 3)), np.ones((2, 4))),
         r"W of shape \(3, 3\) needs an error with 3 columns and Z_prev with 3"),
        (lambda: previous_error(np.ones((2, 3)), np.ones((4, 3)), np.ones((5, 4))),
         r"the error and Z_prev must hold the same examples"),
        (lambda: previous_error_example(np.ones(3), np.ones((4, 3)), np.ones((1, 4))),
         r"the error and Z_prev must hold the same examples"),
        (lambda: previous_error_example(np.ones(3), np.ones((4, 3)), np.ones(4), "step"),
         r"activation must be one of"),
        (lambda: backward_example(np.ones((1, 2)), [0.0, 1.0], GOOD), r"x must be a 1-D array"),
        (lambda: backward_example(np.ones(2), [0.0, 1.0, 0.0], GOOD), r"targets must have shape \(1, 2\)"),
        (lambda: init_params([3], np.random.default_rng(0)), r"at least two positive integers"),
        (lambda: init_params([3, 0], np.random.default_rng(0)), r"at least two positive integers"),
        (lambda: init_params([3, 2], np.random.default_rng(0), "step"), r"activation must be one of"),
        (lambda: fit(np.ones((1, 2)), [0], GOOD, lr=0.0), r"learning rate must be a positive"),
        (lambda: fit(np.ones((1, 2)), [0], GOOD, n_iters=0), r"n_iters must be a positive integer"),
        (lambda: forward(np.ones((1, 2)), GOOD, ["relu"]), r"activation must be one of"),
        (lambda: output_activation(np.zeros(2), np.array([1])), r"output must be one of"),
        (lambda: output_activation(np.zeros((2, 0)), "softmax"), r"Z must have shape .*n_L >= 1"),
        (lambda: output_activation(np.array([np.nan]), "identity"), r"Z must be finite"),
        (lambda: softmax(np.float64(1.0)), r"Z must have shape \(\.\.\., n_L\)"),
        (lambda: softmax(np.array(["a"])), r"Z must be an array of real numbers"),
        (lambda: sigmoid(np.array([0.0, np.inf])), r"z must be finite"),
        (lambda: forward_example(np.ones((1, 2)), GOOD), r"x must be a 1-D array"),
        (lambda: forward(np.ones((1, 2)), [(np.ones((2, 0)), np.zeros(0))]),
         r"W1 must be a finite 2-D array .* >= 1, got shape \(2, 0\)"),
        (lambda: forward(np.ones((1, 2)), [np.ones(3)]), r"layer 1 must be a pair \(W, b\)"),
        (lambda: forward([[1.0, [2.0]]], GOOD), r"X must be a rectangular array of numbers"),
        (lambda: forward(np.ones((1, 2)), [(np.array([["a", "b"]]), np.zeros(2))]),
         r"W1 must be an array of real numbers"),
        (lambda: loss(np.ones((1, 2)), np.array(["0"]), GOOD), r"targets must be an array of real"),
        (lambda: output_error(np.zeros((1, 0)), []), r"Z_L must be a 2-D array.*n_L >= 1"),
        (lambda: output_error_example(np.zeros((1, 2)), [0.0, 1.0]), r"z_L must be a non-empty 1-D"),
        (lambda: output_error_example(np.array([np.nan, 0.0]), [0.0, 1.0]), r"z_L must be finite"),
        (lambda: layer_gradient_example(np.ones((2, 2)), np.ones(2)),
         r"a_prev .* and delta .* must be non-empty 1-D arrays"),
        (lambda: layer_gradient_example(np.ones(2), np.array([np.nan])), r"delta must be finite"),
        (lambda: layer_gradient(np.ones(3), np.ones(4)), r"A_prev and Delta need the same m rows"),
        (lambda: layer_gradient(np.ones((0, 2)), np.ones((0, 2))), r"need the same m rows.*m, n >= 1"),
        (lambda: layer_gradient(np.ones((1, 2)), [[np.inf, 0.0]]), r"Delta must be finite"),
        (lambda: previous_error(np.ones(3), np.ones(3), np.ones(3)), r"W must be a 2-D array"),
        (lambda: previous_error(np.ones(3), np.ones((4, 3)), np.ones(4)),
         r"the error and Z_prev must hold the same examples, as 2-D arrays"),
        (lambda: previous_error_example(np.ones((2, 3)), np.ones((4, 3)), np.ones((2, 4))),
         r"the error and Z_prev must hold the same examples, as 1-D arrays"),
        (lambda: previous_error(np.ones((0, 3)), np.ones((4, 3)), np.ones((0, 4))), r"\(m >= 1\)"),
        (lambda: previous_error(np.ones((1, 3)), np.ones((4, 3)), [[np.nan] * 4]),
         r"Z_prev must be finite"),
        (lambda: init_params(3, np.random.default_rng(0)), r"at least two positive integers"),
        (lambda: init_params([2, True], np.random.default_rng(0)), r"at least two positive integers"),
        (lambda: init_params(np.ones((2, 2), dtype=int), np.random.default_rng(0)),
         r"at least two positive integers"),
        (lambda: output_error_example(np.zeros(2), [[0.0], [1.0, 0.0]]),
         r"targets must be a rectangular array"),
        (lambda: backward_example([[1.0], [1.0, 2.0]], [0.0, 1.0], GOOD), r"x must be a rectangular"),
        (lambda: fit(np.ones((1, 2)), [0], GOOD, lr=np.array([0.1, 0.2])), r"learning rate must be"),
        (lambda: fit(np.ones((1, 2)), [0], GOOD, lr="0.1"), r"learning rate must be a positive"),
        (lambda: fit(np.ones((1, 2)), [0], GOOD, n_iters=True), r"n_iters must be a positive integer"),
        (lambda: fit(np.ones((1, 2)), [0], np.ones(3)), r"non-empty list of \(W, b\) pairs"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(("labels", "valid"), [
    ([0, 1], True), ([1.0, 0.0], True), (np.array([1, 1], dtype=np.int16), True),
    ([0, 2], False), ([-1, 0], False), ([0.5, 1], False), ([np.nan, 0], False),
    ([np.inf, 0], False),
])
def test_class_indices_of_the_softmax_output_are_the_integers_0_to_C_minus_1(labels, valid):
    if valid:
        Y = np.eye(2)[np.asarray(labels).astype(int)]
        assert loss(np.ones((2, 2)), labels, GOOD) == loss(np.ones((2, 2)), Y, GOOD)
    else:
        with pytest.raises(ValueError, match=r"class indices must be 2 integers in 0\.\.1"):
            loss(np.ones((2, 2)), labels, GOOD)


def test_the_checks_do_not_copy_a_float64_input(rng):
    from snippets.networks import backpropagation

    X = rng.normal(size=(4, 3))
    assert backpropagation._check_finite(X, "X") is X
    assert backpropagation._check_finite([[1, 2]], "X").dtype == np.float64


# --- Inputs that are not finite, found from what is computed of them ----------------------

#: Called as f(X, Y, params).
BATCH = {"forward": lambda X, Y, params: forward(X, params), "loss": loss, "backward": backward}


@pytest.mark.filterwarnings("ignore:invalid value encountered in matmul:RuntimeWarning")
@pytest.mark.parametrize("name", BATCH)
@pytest.mark.parametrize("value", NON_FINITE)
@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("zero_W1", [True, False], ids=["W1=0", "random-W1"])
def test_a_nan_or_inf_anywhere_in_X_is_named(rng, name, value, position, zero_W1):
    # inf * 0 is nan: with W1 = 0 the bad entry still reaches Z1 = X @ W1 + b1.
    X, Y, params = draw_problem(rng, (5, 4, 3), 7, "softmax")
    if zero_W1:
        params[0] = (np.zeros_like(params[0][0]), params[0][1])
    with pytest.raises(ValueError, match=r"^X must be finite"):
        BATCH[name](with_value_at(X, position, value), Y, params)


@pytest.mark.parametrize("value", NON_FINITE)
def test_a_nan_or_inf_in_one_example_is_named(value):
    with pytest.raises(ValueError, match=r"^X must be finite"):
        forward_example(np.array([1.0, value]), GOOD)


@pytest.mark.filterwarnings("ignore:invalid value encountered in matmul:RuntimeWarning")
@pytest.mark.parametrize("value", NON_FINITE)
@pytest.mark.parametrize("position", POSITIONS)
def test_a_nan_or_inf_in_A_prev_is_named(rng, value, position):
    A_prev, Delta = rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    Delta[:, 0] = 0.0           # inf * 0 is nan: the bad entry still reaches dW
    with pytest.raises(ValueError, match=r"^A_prev must be finite"):
        layer_gradient(with_value_at(A_prev, position, value), Delta)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_products_that_overflow_float64_raise_a_clear_error(rng):
    X, Y, params = draw_problem(rng, (3, 4, 2), 5, "softmax")
    W1, b1 = params[0]
    with pytest.raises(ValueError, match=r"X and the layers are finite, but Z\^\(1\) overflowed"):
        backward(np.full_like(X, 1e300), Y, [(np.full_like(W1, 1e10), b1), params[1]])
    W2, b2 = params[1]
    with pytest.raises(ValueError, match=r"but Z\^\(2\) overflowed float64"):
        backward(X, Y, [(np.full_like(W1, 1e200), b1), (np.full_like(W2, 1e200), b2)])
    with pytest.raises(ValueError, match=r"A_prev and Delta are finite, but dW.*overflowed"):
        layer_gradient(np.full((3, 2), 1e300), np.full((3, 2), 1e10))


def test_huge_finite_X_gives_the_same_gradients_as_the_scaled_problem(rng):
    # X * 1e300 with W1 * 1e-300 gives the same Z1 up to rounding: every gradient but dW1
    # is unchanged, and dW1 = X^T Delta1 is 1e300 times larger.
    X, Y, params = draw_problem(rng, (3, 4, 2), 5, "softmax")
    (W1, b1), second = params
    huge = backward(X * 1e300, Y, [(W1 * 1e-300, b1), second], "tanh")
    plain = backward(X, Y, params, "tanh")
    np.testing.assert_allclose(huge[0][0], plain[0][0] * 1e300, rtol=1e-9)
    for got, want in zip([huge[0][1], *huge[1]], [plain[0][1], *plain[1]], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_finite_X_is_not_scanned_but_Z1_is_checked(rng, monkeypatch):
    from snippets.networks import backpropagation

    X, Y, params = draw_problem(rng, (7, 4, 3), 50, "softmax")
    expected = backward(X, Y, params)
    scans = FiniteScans()
    monkeypatch.setattr(backpropagation, "np", scans)
    grads = backward(X, Y, params)
    assert (50, 7) not in scans.shapes, "a pass over the whole of X"
    assert (50, 4) in scans.shapes, "Z1, m x n_1 numbers, is checked"
    for (dW, db), (dW_e, db_e) in zip(grads, expected, strict=True):
        np.testing.assert_array_equal(dW, dW_e)
        np.testing.assert_array_equal(db, db_e)


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "networks/backpropagation.md"

#: Networks for the formula checks: one and two hidden layers, all outputs, a smooth g.
FORMULA_NETS = [((3, 4, 2), 3), ((2, 5, 3, 4), 1)]
FORMULA_ACTIVATION = "tanh"


def _network_bindings(params, sizes, output):
    g, g_prime = ACTIVATIONS[FORMULA_ACTIVATION]
    L = len(params)
    env = {"L": L, "g": g, "g'": g_prime, "g_out": lambda Z: output_activation(Z, output),
           "__case__": output}
    for layer, (W, b) in enumerate(params, start=1):
        env[f"W{layer}"], env[f"b{layer}"] = W, b
    for layer, size in enumerate(sizes):
        env[f"n_{layer}"] = size
    return env


def _layer_ranges(env):
    """j runs over the units of layer l - 1 and k over those of layer l."""
    return {"j": lambda e: e[f"n_{e['l'] - 1}"], "k": lambda e: e[f"n_{e['l']}"]}


def _example_envs(rng, first_layer=1):
    for sizes, m in FORMULA_NETS:
        for output in OUTPUT_NAMES:
            X, Y, params = make_problem(rng, list(sizes), m, FORMULA_ACTIVATION, output)
            x = X[0]
            y = int(Y[0]) if output == "softmax" else Y[0]   # a vector for the other two
            z, a = forward_example(x, params, FORMULA_ACTIVATION, output)
            L = len(params)
            env = _network_bindings(params, sizes, output)
            env.update({"x": x, "y": y, "y_hat": a[L], "a0": x})
            target = softmax_regression.one_hot(y, sizes[-1]) if output == "softmax" else y
            grads = backward_example(x, target, params, FORMULA_ACTIVATION, output)
            delta = {L: output_error_example(z[L], target, output)}
            for layer in range(L, 1, -1):
                delta[layer - 1] = previous_error_example(delta[layer], params[layer - 1][0],
                                                          z[layer - 1], FORMULA_ACTIVATION)
            _, g_prime = ACTIVATIONS[FORMULA_ACTIVATION]
            for layer in range(1, L + 1):
                env[f"z{layer}"], env[f"a{layer}"] = z[layer], a[layer]
                env[f"delta{layer}"] = env[f"dloss/dz{layer}"] = delta[layer]
                env[f"dloss/dW{layer}"], env[f"dloss/db{layer}"] = grads[layer - 1]
                # dz_k / dW_jk = a_j^(l-1), laid out like W [j, k]; dz_k / da_j = W_jk, a
                # Jacobian laid out [k, j]
                env[f"dz{layer}/dW{layer}"] = np.tile(a[layer - 1][:, None], (1, sizes[layer]))
                env[f"dz{layer}/da{layer - 1}"] = params[layer - 1][0].T
                if layer < L:
                    env[f"da{layer}/dz{layer}"] = g_prime(z[layer])
            if output == "softmax":
                env.update({"J_softmax": softmax_regression.softmax_jacobian(z[L]), "f": a[L],
                            "e": lambda label, C=sizes[-1]: softmax_regression.one_hot(
                                int(label) - 1, C), "__labels__": ("y",)})
            env["__ranges__"] = {"l": (first_layer, L), **_layer_ranges(env)}
            yield env


def _batch_envs(rng, first_layer=1):
    for sizes, m in FORMULA_NETS:
        for output in OUTPUT_NAMES:
            X, Y, params = make_problem(rng, list(sizes), m, FORMULA_ACTIVATION, output)
            Z, A = forward(X, params, FORMULA_ACTIVATION, output)
            L = len(params)
            env = _network_bindings(params, sizes, output)
            Y_rows = softmax_regression.targets(Y, sizes[-1]) if output == "softmax" else Y
            grads = backward(X, Y_rows, params, FORMULA_ACTIVATION, output)
            Delta = {L: output_error(Z[L], Y_rows, output)}
            for layer in range(L, 1, -1):
                Delta[layer - 1] = previous_error(Delta[layer], params[layer - 1][0],
                                                  Z[layer - 1], FORMULA_ACTIVATION)
            env.update({"X": X, "Y": Y_rows, "y": Y, "m": m, "A0": X, "Y_hat": A[L],
                        "Loss": loss(X, Y_rows, params, FORMULA_ACTIVATION, output)})
            if output == "softmax":
                env["__labels__"] = ("y",)
                env["LSE"] = softmax_regression.log_sum_exp
                Z_L = Z[L]
                env["loss"] = (softmax_regression.log_sum_exp(Z_L)
                               - Z_L[np.arange(m), Y])
            elif output == "sigmoid":
                Z_L = Z[L]
                env["loss"] = np.sum(Y * np.logaddexp(0, -Z_L) + (1 - Y) * np.logaddexp(0, Z_L),
                                     axis=1)
            else:
                env["loss"] = np.sum((A[L] - Y) ** 2, axis=1)
            for layer in range(1, L + 1):
                env[f"Z{layer}"], env[f"A{layer}"] = Z[layer], A[layer]
                env[f"Delta{layer}"] = env[f"dZ{layer}"] = Delta[layer]
                env[f"dW{layer}"], env[f"db{layer}"] = grads[layer - 1]
            env["__ranges__"] = {"l": (first_layer, L), "k": f"n_{L}"}
            yield env


def _worked_envs(rng):
    got = worked_example()
    yield {"x": np.array([1.0, 2.0]), "y": np.array([1.0]), "W2": np.array([[2.0], [-1.0]]),
           "z1": got["z1"], "a1": got["a1"], "z2": got["y_hat"], "y_hat": got["y_hat"],
           "loss": 1.0, "delta2": got["delta2"], "delta1": got["delta1"],
           "dloss/dW2": got["dW2"], "dloss/dW1": got["dW1"]}


FORMULAS = {
    "forward-example": Case(_example_envs),
    "forward": Case(_batch_envs),
    "loss": Case(_batch_envs),
    "output-error-example": Case(_example_envs),
    "layer-example": Case(_example_envs),
    "recursion-example": Case(lambda rng: _example_envs(rng, first_layer=2)),
    "worked-example": Case(_worked_envs),
    "output-error": Case(_batch_envs),
    "layer": Case(_batch_envs),
    "recursion": Case(lambda rng: _batch_envs(rng, first_layer=2)),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)


def test_a_confident_right_answer_keeps_the_digits_of_its_tiny_loss():
    """Eq. (3) at logits (40, 0), class 0: log(1 + e^-40), about 4.25e-18, not 0."""
    import math

    params = [(np.array([[40.0, 0.0]]), np.zeros(2))]
    got = loss(np.array([[1.0]]), np.array([0]), params, "relu", "softmax")
    assert got == pytest.approx(math.log1p(math.exp(-40.0)), rel=1e-14, abs=0.0)
