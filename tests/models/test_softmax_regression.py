"""Tests for snippets/models/softmax_regression.py (page docs/models/softmax-regression.md)."""

from __future__ import annotations

import numpy as np
import pytest

from snippets.foundations.gradient_checking import central_difference
from snippets.models import logistic_regression, softmax_regression
from snippets.models.softmax_regression import (
    as_logistic,
    dloss_dp,
    dloss_dz,
    example_gradient,
    example_loss,
    forward,
    gradient,
    log_softmax,
    log_sum_exp,
    loss,
    naive_softmax,
    one_hot,
    softmax,
    softmax_jacobian,
    targets,
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
from formulas import Case, FnValue, formula_test

#: (m, n, C), with a single example, a single feature and a single... pair of classes.
SHAPES = [(1, 1, 2), (1, 3, 4), (5, 1, 3), (12, 4, 5), (30, 2, 2)]

#: Tolerance for a derivative computed by central_difference against its closed form,
#: when the two are compared entry by entry: the step h = 1e-5 leaves a truncation error
#: near h**2 = 1e-10 relative to third derivatives of order 1, and round-off near 1e-11.
FD_TOL = 1e-8


def make_problem(rng: np.random.Generator, m: int, n: int, C: int):
    X = rng.standard_normal((m, n))
    y = rng.integers(0, C, size=m)
    W = rng.standard_normal((n, C))
    b = rng.standard_normal(C)
    return X, y, W, b


def test_softmax_known_values():
    # softmax(0, ln 2, ln 3) = (1, 2, 3) / 6 by hand.
    z = np.log([1.0, 2.0, 3.0])
    np.testing.assert_allclose(softmax(z), [1 / 6, 2 / 6, 3 / 6], rtol=EXACT_RTOL)
    np.testing.assert_allclose(naive_softmax(z), [1 / 6, 2 / 6, 3 / 6], rtol=EXACT_RTOL)
    # Equal logits share the probability equally; adding a constant changes nothing.
    np.testing.assert_allclose(softmax([5.0, 5.0, 5.0, 5.0]), 0.25, rtol=EXACT_RTOL)
    np.testing.assert_allclose(softmax(z + 100.0), softmax(z), rtol=EXACT_RTOL)


def test_softmax_rows_are_probabilities(rng):
    Z = rng.normal(scale=5.0, size=(7, 4))
    S = softmax(Z)
    assert S.shape == (7, 4) and np.all(S > 0)
    np.testing.assert_allclose(S.sum(axis=1), 1.0, rtol=EXACT_RTOL)
    np.testing.assert_allclose(S, naive_softmax(Z), rtol=EXACT_RTOL)


@pytest.mark.parametrize("C", [1, 2, 3, 6])
def test_jacobian_matches_finite_differences_and_the_quotient_rule(rng, C):
    z = rng.normal(scale=2.0, size=C)
    J = softmax_jacobian(z)
    assert J.shape == (C, C)
    # Column c of the Jacobian is the derivative of the whole vector in z_c.
    numeric = np.column_stack([
        central_difference(lambda t, k=k: softmax(t)[k], z) for k in range(C)
    ]).T
    np.testing.assert_allclose(J, numeric, rtol=FD_TOL, atol=FD_TOL)
    # First line of eq. (2): the quotient rule before simplification.
    e, S = np.exp(z), np.sum(np.exp(z))
    quotient = (np.diag(e) * S - np.outer(e, e)) / S**2
    np.testing.assert_allclose(J, quotient, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    # Symmetric, and each column sums to 0 (the probabilities always sum to 1).
    np.testing.assert_allclose(J, J.T, atol=EXACT_ATOL)
    np.testing.assert_allclose(J.sum(axis=0), 0.0, atol=EXACT_ATOL)


def test_naive_softmax_overflows_where_the_stable_one_is_exact():
    z = np.array([1000.0, 0.0])
    with pytest.warns(RuntimeWarning):
        naive = naive_softmax(z)
    assert np.isnan(naive[0])      # inf / inf
    assert naive[1] == 0.0         # 1 / inf: log s_2 would be -inf, not nan
    # By hand: the second probability is e^-1000 / (1 + e^-1000), which underflows to 0.
    np.testing.assert_array_equal(softmax(z), [1.0, 0.0])


@pytest.mark.parametrize("big", [1000.0, -1000.0, 1e4, -1e300])
def test_stable_forms_are_finite_and_warning_free_at_extreme_logits(big):
    z = np.array([big, big - 1.0, 0.0])
    assert np.all(np.isfinite(softmax(z)))
    assert np.all(np.isfinite(log_softmax(z)[:2]))
    assert np.isfinite(log_sum_exp(z))


def test_log_sum_exp_known_values():
    # log(e^1000 + e^1000) = 1000 + log 2, and log(1 + 1 + 1) = log 3.
    assert log_sum_exp(np.array([1000.0, 1000.0])) == pytest.approx(1000.0 + np.log(2.0),
                                                                      rel=EXACT_RTOL)
    assert log_sum_exp(np.zeros(3)) == pytest.approx(np.log(3.0), rel=EXACT_RTOL)
    # -log softmax(1000, 0)_2 = 1000 + log(1 + e^-1000) = 1000 to float64 precision.
    assert log_softmax(np.array([1000.0, 0.0]))[1] == -1000.0


def test_log_softmax_equals_log_of_softmax(rng):
    Z = rng.normal(scale=3.0, size=(6, 5))
    np.testing.assert_allclose(log_softmax(Z), np.log(naive_softmax(Z)), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(log_sum_exp(Z), np.log(np.sum(np.exp(Z), axis=1)), rtol=EXACT_RTOL)


def test_example_loss_hand_computed():
    # p = (0.2, 0.5, 0.3) with label 1 costs -log 0.5 = log 2.
    assert example_loss([0.2, 0.5, 0.3], 1) == pytest.approx(np.log(2.0), rel=EXACT_RTOL)
    np.testing.assert_array_equal(one_hot(2, 4), [0.0, 0.0, 1.0, 0.0])


@pytest.mark.parametrize("C", [2, 3, 7])
def test_dloss_dp_matches_finite_differences(rng, C):
    p = softmax(rng.standard_normal(C))
    y = int(rng.integers(0, C))
    # Differentiate -log p_y as a function of the vector p (not renormalised).
    assert_gradient(lambda q: -np.log(q[y]), dloss_dp(p, y), p)
    assert example_loss(p, y) == pytest.approx(-np.log(p[y]), rel=EXACT_RTOL)


@pytest.mark.parametrize("C", [1, 2, 3, 7])
def test_jacobian_times_upstream_gradient_is_f_minus_e(rng, C):
    """Eq. (7): J^T (-e(y) / f_y) simplifies to f - e(y), and matches finite differences."""
    z = rng.normal(scale=2.0, size=C)
    y = int(rng.integers(0, C))
    chain = softmax_jacobian(z).T @ dloss_dp(softmax(z), y)
    np.testing.assert_allclose(dloss_dz(z, y), chain, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    np.testing.assert_allclose(dloss_dz(z, y), softmax(z) - one_hot(y, C), rtol=EXACT_RTOL)
    assert_gradient(lambda t: float(-log_softmax(t)[y]), dloss_dz(z, y), z)


def test_dloss_dz_sums_to_zero(rng):
    z = rng.standard_normal(5)
    assert abs(dloss_dz(z, 3).sum()) < EXACT_ATOL


def test_forward_shapes_and_values():
    X = np.array([[1.0, 0.0], [0.0, 0.0]])
    W = np.array([[np.log(3.0), 0.0], [5.0, -5.0]])
    Z, Y_hat = forward(X, W, np.zeros(2))
    # First row: softmax(ln 3, 0) = (3/4, 1/4); second row: softmax(0, 0) = (1/2, 1/2).
    np.testing.assert_allclose(Y_hat, [[0.75, 0.25], [0.5, 0.5]], rtol=EXACT_RTOL)
    assert Z.shape == (2, 2)


def test_targets_from_indices_and_from_one_hot_rows_agree():
    Y = targets(np.array([2, 0, 1]), 3)
    np.testing.assert_array_equal(Y, [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(targets(Y, 3), Y)


@pytest.mark.parametrize("m,n,C", SHAPES)
def test_loss_is_mean_of_example_losses(rng, m, n, C):
    X, y, W, b = make_problem(rng, m, n, C)
    _, Y_hat = forward(X, W, b)
    by_example = np.mean([example_loss(Y_hat[i], y[i]) for i in range(m)])
    assert loss(X, y, W, b) == pytest.approx(by_example, rel=EXACT_RTOL)
    assert loss(X, targets(y, C), W, b) == pytest.approx(by_example, rel=EXACT_RTOL)


def test_loss_hand_computed_and_finite_for_huge_logits():
    # Two examples, logits (0, 0) and (1000, 0) with labels 0 and 1:
    # losses log 2 and 1000 + log(1 + e^-1000) = 1000, mean (log 2 + 1000) / 2.
    X = np.array([[0.0], [1.0]])
    W = np.array([[1000.0, 0.0]])
    expected = (np.log(2.0) + 1000.0) / 2
    assert loss(X, [0, 1], W, np.zeros(2)) == pytest.approx(expected, rel=EXACT_RTOL)


@pytest.mark.parametrize("m,n,C", SHAPES)
def test_example_gradient_matches_finite_differences(rng, m, n, C):
    X, y, W, b = make_problem(rng, m, n, C)
    dW_i, db_i = example_gradient(X[0], y[0], W, b)
    assert dW_i.shape == (n, C) and db_i.shape == (C,)
    one = lambda V, c: loss(X[:1], y[:1], V, c)
    assert_gradient(lambda V: one(V, b), dW_i, W, rng)
    assert_gradient(lambda c: one(W, c), db_i, b, rng)


@pytest.mark.parametrize("m,n,C", SHAPES)
def test_batch_gradient_is_mean_of_example_gradients(rng, m, n, C):
    """Eq. (11) equals the mean of eq. (10) over the m examples."""
    X, y, W, b = make_problem(rng, m, n, C)
    per_example = [example_gradient(X[i], y[i], W, b) for i in range(m)]
    dW, db = gradient(X, y, W, b)
    assert dW.shape == W.shape and db.shape == b.shape
    np.testing.assert_allclose(dW, np.mean([g[0] for g in per_example], axis=0),
                               rtol=EXACT_RTOL, atol=EXACT_ATOL)
    np.testing.assert_allclose(db, np.mean([g[1] for g in per_example], axis=0),
                               rtol=EXACT_RTOL, atol=EXACT_ATOL)


@pytest.mark.parametrize("m,n,C", SHAPES)
def test_batch_gradient_matches_finite_differences(rng, m, n, C):
    X, y, W, b = make_problem(rng, m, n, C)
    for labels in (y, targets(y, C)):
        dW, db = gradient(X, labels, W, b)
        assert_gradient(lambda V, t=labels: loss(X, t, V, b), dW, W, rng)
        assert_gradient(lambda c, t=labels: loss(X, t, W, c), db, b, rng)


def test_gradient_in_random_directions_for_many_parameters(rng):
    X, y, W, b = make_problem(rng, 40, 30, 6)
    dW, _ = gradient(X, y, W, b)
    assert_gradient(lambda V: loss(X, y, V, b), dW, W, rng)


@pytest.mark.parametrize("m,n", [(1, 1), (8, 3), (25, 1)])
def test_two_classes_reduce_to_logistic_regression(rng, m, n):
    X, y, W, b = make_problem(rng, m, n, 2)
    w, b_log = as_logistic(W, b)
    # Probability of class 1: softmax against the sigmoid of the logit difference.
    _, Y_hat = forward(X, W, b)
    _, a = logistic_regression.forward(X, w, b_log)
    np.testing.assert_allclose(Y_hat[:, 1], a, rtol=EXACT_RTOL)
    # The losses agree, and the gradient's columns are -dw and +dw of logistic regression.
    z, _ = logistic_regression.forward(X, w, b_log)
    assert loss(X, y, W, b) == pytest.approx(
        logistic_regression.loss_from_logits(z, y), rel=EXACT_RTOL)
    dW, db = gradient(X, y, W, b)
    dw, db_log = logistic_regression.gradient(X, y, w, b_log)
    np.testing.assert_allclose(dW[:, 1], dw, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    np.testing.assert_allclose(dW[:, 0], -dw, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    np.testing.assert_allclose(db, [-db_log, db_log], rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_gradient_accepts_nested_lists():
    # By hand: zero weights give Y_hat = [1/2, 1/2]; with y = 0, Y_hat - Y = [-1/2, 1/2];
    # dW = x^T (Y_hat - Y) for x = [1, 2], db = Y_hat - Y (m = 1).
    dW, db = gradient([[1.0, 2.0]], [0], [[0.0, 0.0], [0.0, 0.0]], [0.0, 0.0])
    np.testing.assert_allclose(dW, [[-0.5, 0.5], [-1.0, 1.0]], rtol=EXACT_RTOL)
    np.testing.assert_allclose(db, [-0.5, 0.5], rtol=EXACT_RTOL)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: softmax([np.nan, 1.0]), r"z must be finite"),
        (lambda: softmax(np.zeros((2, 2, 2))), r"z must have shape \(C,\) or \(m, C\)"),
        (lambda: softmax(np.zeros((2, 0))), r"C >= 1"),
        (lambda: softmax_jacobian(np.zeros((2, 2))), r"z must be a non-empty 1-D array"),
        (lambda: one_hot(3, 3), r"class index in 0\.\.2, got 3"),
        (lambda: one_hot(1.5, 3), r"class index"),
        (lambda: dloss_dz([0.0, 1.0], -1), r"class index in 0\.\.1"),
        (lambda: example_loss([0.5, 0.6], 0), r"summing to 1"),
        (lambda: example_loss([1.5, -0.5], 0), r"probabilities"),
        (lambda: dloss_dp([1.0, 0.0], 1), r"p\[1\] is 0"),
        (lambda: example_loss([[0.5, 0.5]], 0), r"p must be a non-empty 1-D array"),
        (lambda: forward(np.ones(3), np.ones((3, 2)), np.zeros(2)), r"X must be a 2-D array"),
        (lambda: forward(np.ones((2, 3)), np.ones((2, 2)), np.zeros(2)), r"W must have shape \(3, C\)"),
        (lambda: forward(np.ones((2, 3)), np.ones((3, 2)), np.zeros(3)), r"b must have shape \(2,\)"),
        (lambda: loss(np.ones((2, 3)), [0, 1, 1], np.ones((3, 2)), np.zeros(2)),
         r"y has 3 labels but there are 2 examples"),
        (lambda: loss(np.ones((2, 3)), [0, 2], np.ones((3, 2)), np.zeros(2)), r"integers in 0\.\.1"),
        (lambda: loss(np.ones((2, 3)), [0.5, 1], np.ones((3, 2)), np.zeros(2)), r"integers in 0\.\.1"),
        (lambda: gradient(np.ones((2, 3)), np.eye(3)[:2], np.ones((3, 2)), np.zeros(2)),
         r"one-hot targets must have shape \(2, 2\)"),
        (lambda: targets(np.array([[1, 1], [0, 1]]), 2), r"a single 1"),
        (lambda: targets(np.array([[0.5, 0.5]]), 2), r"a single 1"),
        (lambda: example_gradient(np.ones((1, 3)), 0, np.ones((3, 2)), np.zeros(2)),
         r"x_i must be a non-empty 1-D"),
        (lambda: as_logistic(np.ones((3, 3)), np.zeros(3)), r"two classes are needed"),
        (lambda: as_logistic(np.ones(2), np.zeros(2)), r"two classes are needed.*got shapes \(2,\)"),
        (lambda: as_logistic(np.ones((3, 2)), np.float64(0.0)), r"two classes are needed"),
        (lambda: as_logistic(np.full((2, 2), np.nan), np.zeros(2)), r"W must be finite"),
        (lambda: one_hot(0, np.ones(3)), r"C must be a positive integer"),
        (lambda: one_hot(0, 2.0), r"C must be a positive integer"),
        (lambda: one_hot(0, 0), r"C must be a positive integer"),
        (lambda: one_hot(np.nan, 3), r"class index in 0\.\.2, got nan"),
        (lambda: one_hot(np.inf, 3), r"class index in 0\.\.2, got inf"),
        (lambda: one_hot("1", 3), r"class index in 0\.\.2"),
        (lambda: one_hot(True, 3), r"class index in 0\.\.2"),
        (lambda: one_hot(np.array([1]), 3), r"class index in 0\.\.2"),
        (lambda: targets(0, 3), r"y must be class indices \(m,\) or one-hot rows \(m, 3\)"),
        (lambda: targets([0, 1], np.ones(3)), r"C must be a positive integer"),
        (lambda: targets(np.array(["0", "1"]), 2), r"y must hold numbers"),
        (lambda: targets([[0], [0, 1]], 2), r"y must be a rectangular array of numbers"),
        (lambda: gradient(np.ones((2, 3)), [[0], [0, 1]], np.ones((3, 2)), np.zeros(2)),
         r"y must be a rectangular array of numbers"),
        (lambda: one_hot([1], 3), r"class index in 0\.\.2"),
        (lambda: softmax(np.array(["a"])), r"z must be an array of real numbers"),
        (lambda: softmax([[1.0], [1.0, 2.0]]), r"z must be a rectangular array"),
        (lambda: forward(np.ones((2, 3)), np.ones((3, 0)), np.zeros(0)),
         r"W must have shape \(3, C\) with C >= 1"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(("labels", "valid"), [
    ([0, 2, 1], True), ([0.0, 2.0], True), (np.array([2, 0], dtype=np.int8), True),
    (np.array([1, 0], dtype=np.uint64), True), ([True, False], True),
    ([0, 3], False), ([-1, 0], False), ([0.5, 1], False), ([-0.5, 1], False),
    ([np.nan, 0], False), ([np.inf, 0], False), ([2.0000001, 0], False),
])
def test_class_indices_are_exactly_the_integers_0_to_C_minus_1(labels, valid):
    if valid:
        expected = np.array([[1.0 if k == int(c) else 0.0 for k in range(3)] for c in labels])
        np.testing.assert_array_equal(targets(labels, 3), expected)
    else:
        with pytest.raises(ValueError, match=r"class indices must be integers in 0\.\.2"):
            targets(labels, 3)


def test_the_checks_do_not_copy_a_float64_input(rng):
    X = rng.normal(size=(5, 3))
    assert softmax_regression._check_finite(X, "X") is X
    assert softmax_regression._check_finite(X.astype(np.float32), "X").dtype == np.float64


def test_integer_and_float32_inputs_give_the_float64_gradient(rng):
    X, y = rng.integers(-3, 4, size=(6, 3)), rng.integers(0, 2, size=6)
    W, b = rng.normal(size=(3, 2)), rng.normal(size=2)
    expected = gradient(X.astype(np.float64), y, W, b)
    for X_other in (X, X.astype(np.float32)):
        for got, want in zip(gradient(X_other, y, W.astype(np.float32), b), expected, strict=True):
            assert got.dtype == np.float64
            np.testing.assert_allclose(got, want, rtol=1e-6)


# --- Inputs that are not finite, found from what is computed of them ----------------------

#: The functions that take the whole of X, called as f(X, y, W, b).
BATCH = {"forward": lambda X, y, W, b: forward(X, W, b), "loss": loss, "gradient": gradient}


@pytest.mark.filterwarnings("ignore:invalid value encountered in matmul:RuntimeWarning")
@pytest.mark.parametrize("name", BATCH)
@pytest.mark.parametrize("value", NON_FINITE)
@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("zero_W", [True, False], ids=["W=0", "random-W"])
def test_a_nan_or_inf_anywhere_in_X_is_named(rng, name, value, position, zero_W):
    # inf * 0 is nan: with W = 0 the bad entry still reaches Z = X @ W + b.
    X, y, W, b = make_problem(rng, 7, 5, 3)
    W = np.zeros_like(W) if zero_W else W
    with pytest.raises(ValueError, match=r"^X must be finite"):
        BATCH[name](with_value_at(X, position, value), y, W, b)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("W_scale", [1e-300, 1e-8, 1e10])
def test_huge_finite_X_gives_the_exact_gradient_or_a_clear_error(W_scale):
    # X = 1e300 everywhere, W = W_scale times [[1, 0], ...]: every row of Z is
    # (n * 1e300 * W_scale, 0), so Y_hat rows are (p, 1 - p) with p = sigmoid(z).
    m, n = 4, 3
    X, y = np.full((m, n), 1e300), np.zeros(m, dtype=int)
    W, b = np.column_stack([np.full(n, W_scale), np.zeros(n)]), np.zeros(2)
    z = n * (1e300 * W_scale)
    if np.isfinite(z):
        p = 1.0 / (1.0 + np.exp(-z))
        dW, db = gradient(X, y, W, b)
        np.testing.assert_allclose(dW, np.full((n, 2), 1e300) * [p - 1.0, 1.0 - p],
                                   rtol=1e-9)   # 1 - p loses digits when p is near 1
        np.testing.assert_allclose(db, [p - 1.0, 1.0 - p], rtol=1e-9)
    else:
        with pytest.raises(ValueError, match=r"X, W and b are finite.*overflowed float64"):
            gradient(X, y, W, b)


@pytest.mark.filterwarnings("ignore:overflow encountered in matmul:RuntimeWarning")
def test_a_gradient_that_overflows_although_Z_is_finite_is_an_error():
    # W = 0 and b = 0 give Y_hat = 1/3 in each of 3 classes; every label is class 0, so
    # column 0 of dW sums m = 4 terms of 1e308 * (1/3 - 1) before the division by m.
    X, y = np.full((4, 2), 1e308), np.zeros(4, dtype=int)
    with pytest.raises(ValueError,
                       match=r"X, W and b are finite, but X\^T \(Y_hat - Y\) overflowed"):
        gradient(X, y, np.zeros((2, 3)), np.zeros(3))
    # Two such examples sum to -1.33e308 in column 0: finite, and dW = 1e308 * (Y_hat - Y).
    dW, db = gradient(X[:2], y[:2], np.zeros((2, 3)), np.zeros(3))
    np.testing.assert_allclose(dW, np.full((2, 3), 1e308) * [-2 / 3, 1 / 3, 1 / 3],
                               rtol=EXACT_RTOL)
    np.testing.assert_allclose(db, [-2 / 3, 1 / 3, 1 / 3], rtol=EXACT_RTOL)


def test_finite_X_is_not_scanned_but_Z_is_checked(rng, monkeypatch):
    X, y, W, b = make_problem(rng, 50, 7, 3)
    scans = FiniteScans()
    monkeypatch.setattr(softmax_regression, "np", scans)
    dW, db = gradient(X, y, W, b)
    assert (50, 7) not in scans.shapes, "a pass over the whole of X"
    assert (50, 3) in scans.shapes, "the m x C logits are checked"
    E = np.exp(X @ W + b)
    R = E / E.sum(axis=1, keepdims=True) - np.eye(3)[y]     # Y_hat - Y
    np.testing.assert_allclose(dW, X.T @ R / 50, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    np.testing.assert_allclose(db, R.mean(axis=0), rtol=EXACT_RTOL, atol=EXACT_ATOL)


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "models/softmax-regression.md"


def _vector_envs(rng):
    """One example: logits z of C classes, its label y, and the model around it."""
    for m, n, C in SHAPES:
        X, y, W, b = make_problem(rng, m, n, C)
        x, label = X[0], int(y[0])
        z = x @ W + b
        p = softmax(z)
        model = lambda v, W=W, b=b: softmax(v @ W + b)
        dW_i, db_i = example_gradient(x, label, W, b)
        yield {
            "z": z, "C": C, "n": n, "y": label, "x": x, "M": float(np.max(z)),
            "S": float(np.sum(np.exp(z))), "s": p, "LSE": log_sum_exp,
            "ds/dz": softmax_jacobian(z), "J": softmax_jacobian(z),
            "e": lambda label, C=C: one_hot(int(label) - 1, C), "f": FnValue(model, p),
            "loss": example_loss(p, label), "dloss/df": dloss_dp(p, label),
            "df/dz": softmax_jacobian(z), "dloss/dz": dloss_dz(z, label),
            "dloss/dW": dW_i, "dloss/db": db_i, "__labels__": ("y",),
        }


def _function_envs(rng, s):
    for env in _vector_envs(rng):
        yield {**env, "s": s}


def _batch_envs(rng):
    for m, n, C in SHAPES:
        X, y, W, b = make_problem(rng, m, n, C)
        Z, Y_hat = forward(X, W, b)
        dW, db = gradient(X, y, W, b)
        losses = np.array([example_loss(Y_hat[i], int(y[i])) for i in range(m)])
        yield {"X": X, "y": y, "W": W, "b": b, "Z": Z, "Y_hat": Y_hat, "Y": targets(y, C),
               "m": m, "n": n, "C": C, "softmax_rows": softmax, "LSE": log_sum_exp,
               "loss": losses, "Loss": loss(X, y, W, b), "dW": dW, "db": db,
               "__labels__": ("y",)}


def _two_class_envs(rng):
    for m, n, _ in SHAPES:
        X, y, W, b = make_problem(rng, m, n, 2)
        x = X[0]
        z = x @ W + b
        yield {"x": x, "z": z, "f": softmax(z), "w_1": W[:, 0], "w_2": W[:, 1], "b": b, "n": n,
               "sigma": logistic_regression.stable_sigmoid}


FORMULAS = {
    "naive": Case(lambda rng: _function_envs(rng, naive_softmax)),
    "jacobian": Case(_vector_envs),
    "stable": Case(lambda rng: _function_envs(rng, softmax)),
    "log-softmax": Case(lambda rng: _function_envs(rng, softmax)),
    "loss-example": Case(_vector_envs),
    "dloss-dp": Case(_vector_envs),
    "dloss-dz": Case(_vector_envs),
    "forward": Case(_batch_envs),
    "loss": Case(_batch_envs),
    "example": Case(_vector_envs),
    "grad": Case(_batch_envs),
    "two-classes": Case(_two_class_envs),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)


def test_a_confident_right_answer_keeps_the_digits_of_its_tiny_loss():
    """At logits (40, 0) and class 0 the loss is log(1 + e^-40), about 4.25e-18.

    log of a sum rounds 1 + 4.25e-18 to 1 and returns 0; log1p of the rest keeps it.
    """
    import math

    expected = math.log1p(math.exp(-40.0))
    X, W, b = np.array([[1.0]]), np.array([[40.0, 0.0]]), np.zeros(2)
    assert loss(X, np.array([0]), W, b) == pytest.approx(expected, rel=1e-14, abs=0.0)
    assert log_softmax(np.array([40.0, 0.0]))[0] == pytest.approx(-expected, rel=1e-14, abs=0.0)
    assert log_sum_exp(np.array([40.0, 0.0])) == pytest.approx(40.0 + expected, rel=1e-15)
