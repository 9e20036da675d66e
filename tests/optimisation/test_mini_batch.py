"""Tests for snippets/optimisation/mini_batch.py (page docs/optimisation/mini-batch.md)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from snippets.models import linear_regression as linreg
from snippets.models import logistic_regression as logreg
from snippets.optimisation.mini_batch import (
    batch_gradient,
    batch_variance,
    batch_variance_with_replacement,
    epoch_batches,
    mean_batch_gradient,
    mean_over_all_batches,
    per_example_gradients,
    run_epoch,
    train,
)

from checks import EXACT_ATOL, EXACT_RTOL, assert_gradient
from formulas import Case, formula_test

SHAPES = [(1, 1), (1, 3), (6, 1), (12, 4)]


def linear_loss(X, y, w, b):
    return linreg.mse_loss(linreg.predict(X, w, b), y)


def logistic_loss(X, y, w, b):
    return logreg.loss_from_logits(logreg.forward(X, w, b)[0], y)


MODELS = {
    "linear": (linreg.gradient, linear_loss, lambda rng, m: rng.normal(size=m)),
    "logistic": (logreg.gradient, logistic_loss,
                 lambda rng, m: rng.integers(0, 2, size=m).astype(float)),
}


def make_problem(rng, model, m, n):
    grad, loss, labels = MODELS[model]
    X = rng.standard_normal((m, n))
    return grad, loss, X, labels(rng, m), rng.standard_normal(n), float(rng.standard_normal())


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("m,n", SHAPES)
def test_batch_gradient_is_the_mean_of_its_examples(rng, model, m, n):
    """Eq. (1): the batch gradient is the mean of the per-example gradients of its rows."""
    grad, loss, X, y, w, b = make_problem(rng, model, m, n)
    batch = rng.choice(m, size=max(1, m // 2), replace=False)
    dw, db = batch_gradient(grad, X, y, w, b, batch)
    G = per_example_gradients(grad, X, y, w, b)
    assert G.shape == (m, n + 1)
    np.testing.assert_allclose(np.append(dw, db), G[batch].mean(axis=0), rtol=EXACT_RTOL,
                               atol=EXACT_ATOL)
    # and it is the gradient of the loss of those rows alone, by finite differences
    assert_gradient(lambda v: loss(X[batch], y[batch], v, b), dw, w, rng)


def test_full_batch_is_the_data_set_gradient(rng):
    grad, _, X, y, w, b = make_problem(rng, "linear", 9, 3)
    dw, db = batch_gradient(grad, X, y, w, b, np.arange(9))
    dw_full, db_full = grad(X, y, w, b)
    np.testing.assert_array_equal(dw, dw_full)
    assert db == db_full


def test_per_example_gradient_hand_computed():
    # Linear regression, x = (1, 2), y = 1, w = (1, 1), b = 0: y_hat = 3, residual 2,
    # so dw = 2 * 2 * (1, 2) = (4, 8) and db = 2 * 2 = 4.
    G = per_example_gradients(linreg.gradient, [[1.0, 2.0]], [1.0], np.ones(2), 0.0)
    np.testing.assert_array_equal(G, [[4.0, 8.0, 4.0]])


@pytest.mark.parametrize("m,batch_size,sizes", [(10, 3, [3, 3, 3, 1]), (10, 5, [5, 5]),
                                                (10, 10, [10]), (10, 1, [1] * 10), (1, 1, [1])])
def test_an_epoch_uses_every_row_once(rng, m, batch_size, sizes):
    batches = epoch_batches(m, batch_size, rng)
    assert [len(batch) for batch in batches] == sizes
    assert len(batches) == math.ceil(m / batch_size)
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(m))


def test_each_epoch_is_a_new_shuffle(rng):
    first, second = epoch_batches(50, 50, rng)[0], epoch_batches(50, 50, rng)[0]
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("model", MODELS)
def test_epoch_is_a_sequence_of_updates(model):
    """Eq. (3): run_epoch equals the updates written out, batch by batch, same shuffle."""
    grad, _, X, y, w, b = make_problem(np.random.default_rng(1), model, 10, 3)
    w_epoch, b_epoch, n_updates = run_epoch(grad, X, y, w, b, 0.1, 4, np.random.default_rng(5))
    assert n_updates == 3
    w_loop, b_loop = w.copy(), b
    for batch in epoch_batches(10, 4, np.random.default_rng(5)):
        dw, db = grad(X[batch], y[batch], w_loop, b_loop)
        w_loop, b_loop = w_loop - 0.1 * dw, b_loop - 0.1 * db
    np.testing.assert_allclose(w_epoch, w_loop, rtol=EXACT_RTOL)
    assert b_epoch == pytest.approx(b_loop, rel=EXACT_RTOL)


def test_sgd_two_hand_computed_updates():
    # Linear regression with one feature, no shuffle needed: batch size 1, m = 2 rows
    # x = 1, y = 2 and x = 2, y = 0; start w = 0, b = 0, lr = 0.1.
    # Whichever row comes first, check both orders by hand:
    #   row (1, 2) first: residual -2 -> dw = -4, db = -4 -> w = 0.4, b = 0.4;
    #     then row (2, 0): y_hat = 1.2, residual 1.2 -> dw = 4.8, db = 2.4
    #     -> w = 0.4 - 0.48 = -0.08, b = 0.4 - 0.24 = 0.16.
    #   row (2, 0) first: residual 0 -> no change; then row (1, 2): as the first update above
    #     -> w = 0.4, b = 0.4.
    X, y = np.array([[1.0], [2.0]]), np.array([2.0, 0.0])
    rng = np.random.default_rng(0)
    order = epoch_batches(2, 1, np.random.default_rng(0))
    w, b, n = run_epoch(linreg.gradient, X, y, np.zeros(1), 0.0, 0.1, 1, rng)
    assert n == 2
    expected = (-0.08, 0.16) if order[0][0] == 0 else (0.4, 0.4)
    assert w[0] == pytest.approx(expected[0], rel=EXACT_RTOL)
    assert b == pytest.approx(expected[1], rel=EXACT_RTOL)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("batch_size", [1, 4, 20])
def test_train_counts_updates_and_epochs(rng, model, batch_size):
    grad, loss, X, y, w, b = make_problem(rng, model, 20, 2)
    w1, b1, per_update, per_epoch = train(grad, loss, X, y, w, b, 0.05, batch_size, 3, rng)
    updates_per_epoch = math.ceil(20 / batch_size)
    assert per_update.shape == (3 * updates_per_epoch + 1,)
    assert per_epoch.shape == (4,)
    # the loss after epoch e is the loss after update e * (updates per epoch)
    np.testing.assert_array_equal(per_epoch, per_update[::updates_per_epoch])
    assert per_update[-1] == pytest.approx(loss(X, y, w1, b1), rel=EXACT_RTOL)
    assert per_epoch[-1] < per_epoch[0]


def test_full_batch_training_is_gradient_descent(rng):
    """batch_size = m: every update uses the data-set gradient (eq. (7) of linear regression)."""
    grad, loss, X, y, _, _ = make_problem(rng, "linear", 15, 3)
    w, b, per_update, _ = train(grad, loss, X, y, np.zeros(3), 0.0, 0.05, 15, 40, rng)
    w_gd, b_gd, losses = linreg.fit(X, y, 0.05, 40)
    np.testing.assert_allclose(w, w_gd, rtol=1e-10)
    assert b == pytest.approx(b_gd, rel=1e-10)
    np.testing.assert_allclose(per_update[:-1], losses, rtol=1e-10)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("m,batch_size", [(12, 1), (12, 3), (12, 4), (12, 12), (1, 1)])
def test_mean_over_a_shuffled_epoch_is_the_full_gradient(rng, model, m, batch_size):
    """Eq. (4): with equal batches covering every row once, the mean batch gradient is exact."""
    grad, _, X, y, w, b = make_problem(rng, model, m, 3)
    batches = epoch_batches(m, batch_size, rng)
    dw, db = mean_batch_gradient(grad, X, y, w, b, batches)
    dw_full, db_full = grad(X, y, w, b)
    np.testing.assert_allclose(dw, dw_full, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    assert db == pytest.approx(db_full, rel=EXACT_RTOL, abs=EXACT_ATOL)


@pytest.mark.parametrize("batch_size", [1, 3, 4])
def test_with_sums_the_epoch_mean_is_b_over_m_of_the_full_gradient(rng, batch_size):
    """Why eq. (4) needs means: with sum losses the mean batch gradient is B/m times the full."""
    grad, _, X, y, w, b = make_problem(rng, "linear", 12, 3)

    def sum_grad(X_, y_, w_, b_):      # gradient of the sum of the losses of the rows given
        dw, db = grad(X_, y_, w_, b_)
        return dw * X_.shape[0], db * X_.shape[0]

    dw, db = mean_batch_gradient(sum_grad, X, y, w, b, epoch_batches(12, batch_size, rng))
    dw_full, db_full = sum_grad(X, y, w, b)
    np.testing.assert_allclose(dw, batch_size / 12 * dw_full, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    assert db == pytest.approx(batch_size / 12 * db_full, rel=EXACT_RTOL, abs=EXACT_ATOL)


def test_unequal_batches_are_not_an_unbiased_epoch_mean(rng):
    """Why eq. (4) needs equal sizes: with sizes 3 and 1 the one-row batch counts 3 times too much."""
    grad, _, X, y, w, b = make_problem(rng, "linear", 4, 2)
    batches = [np.array([0, 1, 2]), np.array([3])]
    dw_mean = np.mean([grad(X[bt], y[bt], w, b)[0] for bt in batches], axis=0)
    assert not np.allclose(dw_mean, grad(X, y, w, b)[0])
    with pytest.raises(ValueError, match="one size"):
        mean_batch_gradient(grad, X, y, w, b, batches)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("batch_size", [1, 2, 3, 4, 5, 6, 7])
def test_a_random_batch_is_unbiased(rng, model, batch_size):
    """Eq. (5): averaged over all C(7, B) batches, the batch gradient is the full gradient."""
    grad, _, X, y, w, b = make_problem(rng, model, 7, 2)
    G = per_example_gradients(grad, X, y, w, b)
    dw_full, db_full = grad(X, y, w, b)
    np.testing.assert_allclose(mean_over_all_batches(G, batch_size), np.append(dw_full, db_full),
                               rtol=EXACT_RTOL, atol=EXACT_ATOL)


@pytest.mark.parametrize("m,batch_size", [(5, 1), (5, 2), (6, 3), (6, 6)])
def test_inclusion_probabilities(m, batch_size):
    """Eq. (5) and (6): P(i in batch) = B/m, P(i and j in batch) = B(B-1)/(m(m-1)), by counting."""
    subsets = list(itertools.combinations(range(m), batch_size))
    p_one = sum(0 in s for s in subsets) / len(subsets)
    p_two = sum(0 in s and 1 in s for s in subsets) / len(subsets)
    assert p_one == pytest.approx(batch_size / m, rel=EXACT_RTOL)
    assert p_two == pytest.approx(batch_size * (batch_size - 1) / (m * (m - 1)), abs=EXACT_ATOL)


def test_cross_terms_of_centred_gradients(rng):
    """Eq. (6), the step sum_{i != j} d_i . d_j = -sum_i |d_i|^2, because sum_i d_i = 0."""
    G = rng.normal(size=(6, 3))
    D = G - G.mean(axis=0)
    cross = sum(D[i] @ D[j] for i in range(6) for j in range(6) if i != j)
    assert cross == pytest.approx(-np.sum(D**2), rel=EXACT_RTOL)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("batch_size", [1, 2, 3, 4, 5, 6])
def test_variance_without_replacement_by_exhaustive_enumeration(rng, model, batch_size):
    """Eq. (6), last line, against the exact average over all C(6, B) equally likely batches."""
    grad, _, X, y, w, b = make_problem(rng, model, 6, 2)
    G = per_example_gradients(grad, X, y, w, b)
    g_full = G.mean(axis=0)
    subsets = itertools.combinations(range(6), batch_size)
    exact = np.mean([np.sum((G[list(s)].mean(axis=0) - g_full) ** 2) for s in subsets])
    assert batch_variance(G, batch_size) == pytest.approx(exact, rel=1e-10, abs=EXACT_ATOL)


@pytest.mark.parametrize("batch_size", [1, 2, 3, 4])
def test_variance_with_replacement_by_exhaustive_enumeration(rng, batch_size):
    """Eq. (6), first line, against the average over all 5^B equally likely ordered draws."""
    G = rng.normal(size=(5, 3))
    g_full = G.mean(axis=0)
    draws = itertools.product(range(5), repeat=batch_size)
    exact = np.mean([np.sum((G[list(d)].mean(axis=0) - g_full) ** 2) for d in draws])
    assert batch_variance_with_replacement(G, batch_size) == pytest.approx(exact, rel=1e-10)


def test_variance_shrinks_like_one_over_the_batch_size(rng):
    G = rng.normal(size=(64, 4))
    sizes = np.array([1, 2, 4, 8, 16, 32, 64])
    with_repl = np.array([batch_variance_with_replacement(G, B) for B in sizes])
    without = np.array([batch_variance(G, B) for B in sizes])
    # With replacement: exactly sigma^2 / B, so B * variance is one constant.
    np.testing.assert_allclose(with_repl * sizes, with_repl[0], rtol=EXACT_RTOL)
    # Without: smaller by the factor (m - B)/(m - 1), and zero for the full batch.
    np.testing.assert_allclose(without, with_repl * (64 - sizes) / 63, rtol=EXACT_RTOL)
    assert without[-1] == 0.0
    assert without[0] == pytest.approx(with_repl[0], rel=EXACT_RTOL)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: batch_gradient(linreg.gradient, np.ones(3), np.ones(3), np.ones(1), 0.0,
                                np.array([0])), r"X must be a 2-D array"),
        (lambda: batch_gradient(linreg.gradient, np.ones((3, 1)), np.ones(2), np.ones(1), 0.0,
                                np.array([0])), r"y must have shape \(3,\)"),
        (lambda: batch_gradient(linreg.gradient, np.ones((3, 1)), np.ones(3), np.ones(1), 0.0,
                                np.array([0.5])), r"row indices"),
        (lambda: batch_gradient(linreg.gradient, np.ones((3, 1)), np.ones(3), np.ones(1), 0.0,
                                np.array([], dtype=int)), r"row indices"),
        (lambda: batch_gradient(linreg.gradient, np.ones((3, 1)), np.ones(3), np.ones(1), 0.0,
                                np.array([0, 3])), r"indices must lie in 0..2"),
        (lambda: epoch_batches(0, 1, np.random.default_rng(0)), r"m must be a positive integer"),
        (lambda: epoch_batches(5, 6, np.random.default_rng(0)), r"batch_size must be an integer in 1..m"),
        (lambda: epoch_batches(5, 2.0, np.random.default_rng(0)), r"batch_size must be an integer"),
        (lambda: run_epoch(linreg.gradient, np.ones((3, 1)), np.ones(3), np.ones(1), 0.0, -1.0,
                           1, np.random.default_rng(0)), r"learning rate must be a positive"),
        (lambda: train(linreg.gradient, linear_loss, np.ones((3, 1)), np.ones(3), np.ones(1), 0.0,
                       0.1, 1, 0, np.random.default_rng(0)), r"n_epochs must be a positive integer"),
        (lambda: mean_batch_gradient(linreg.gradient, np.ones((4, 1)), np.ones(4), np.ones(1), 0.0,
                                     [np.array([0, 1]), np.array([1, 2])]), r"each of the m = 4 rows"),
        (lambda: batch_variance(np.ones((1, 2)), 1), r"shape \(m, p\) with m >= 2"),
        (lambda: batch_variance(np.ones(4), 1), r"shape \(m, p\) with m >= 2"),
        (lambda: batch_variance(np.ones((4, 2)), 5), r"batch_size must be an integer in 1..m"),
        (lambda: batch_variance_with_replacement(np.ones((4, 2)), 0), r"batch_size must be a positive"),
        (lambda: mean_over_all_batches(np.ones((4, 2)), 0), r"batch_size must be an integer in 1..m"),
        # Data, weights and bias: finite, w one weight per column of X, b one number.
        (lambda: batch_gradient(linreg.gradient, [[1.0], [np.nan]], np.ones(2), np.ones(1), 0.0,
                                np.array([0])), r"X and y must be finite"),
        (lambda: per_example_gradients(linreg.gradient, np.ones((2, 1)), [0.0, np.inf],
                                       np.ones(1), 0.0), r"X and y must be finite"),
        (lambda: per_example_gradients(linreg.gradient, np.ones((2, 3)), np.ones(2), np.ones(2),
                                       0.0), r"w must have shape \(3,\), one weight per column"),
        (lambda: batch_gradient(linreg.gradient, np.ones((2, 1)), np.ones(2), 1.0, 0.0,
                                np.array([0])), r"w must have shape \(1,\).*got shape \(\)"),
        (lambda: run_epoch(linreg.gradient, np.ones((3, 1)), np.ones(3), np.ones(1), np.ones(2),
                           0.1, 1, np.random.default_rng(0)), r"b must be a single number, got shape \(2,\)"),
        (lambda: train(linreg.gradient, linear_loss, np.ones((3, 1)), np.ones(3), [np.nan], 0.0,
                       0.1, 1, 1, np.random.default_rng(0)), r"w and b must be finite"),
        (lambda: mean_batch_gradient(linreg.gradient, np.ones((2, 1)), np.ones(2), np.ones(1),
                                     np.inf, [np.array([0, 1])]), r"w and b must be finite"),
        (lambda: mean_batch_gradient(linreg.gradient, np.ones((2, 1)), np.ones(2), np.ones(1),
                                     0.0, []), r"batches must be a non-empty list"),
        (lambda: mean_batch_gradient(linreg.gradient, np.ones((2, 1)), np.ones(2), np.ones(1),
                                     0.0, [0, 1]), r"1-D array of row indices, got shapes \[\(\), \(\)\]"),
        (lambda: mean_batch_gradient(linreg.gradient, np.ones((2, 1)), np.ones(2), np.ones(1),
                                     0.0, [np.array([[0, 1]])]), r"got shapes \[\(1, 2\)\]"),
        # Per-example gradients: finite, at least one column.
        (lambda: batch_variance(np.array([[1.0], [np.nan]]), 1), r"G must be finite"),
        (lambda: batch_variance_with_replacement(np.array([[1.0], [np.inf]]), 1), r"G must be finite"),
        (lambda: mean_over_all_batches(np.ones((3, 0)), 1), r"p >= 1, got \(3, 0\)"),
        # C(64, 32) ~ 1.8e18 batches: an error at once instead of a run that never ends.
        (lambda: mean_over_all_batches(np.ones((64, 1)), 32), r"C\(64, 32\) = \d+ batches, more than"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "optimisation/mini-batch.md"

from formulas import Dyn, LazyFn  # noqa: E402


def _grad_vector(grad, X, y, w, b, rows):
    dw, db = batch_gradient(grad, X, y, w, b, np.asarray(rows))
    return np.append(dw, db)


def _batch_envs(rng):
    for model in MODELS:
        grad, loss, X, y, w, b = make_problem(rng, model, 6, 2)
        batch = np.array([4, 0, 2])                 # rows 5, 1 and 3 on the page
        G = per_example_gradients(grad, X, y, w, b)
        losses = np.array([loss(X[i:i + 1], y[i:i + 1], w, b) for i in range(6)])
        yield {"B": 3, "cal_B": batch + 1, "G": G, "loss": losses, "n": 2,
               "grad_Loss_cal_B": _grad_vector(grad, X, y, w, b, batch),
               "Loss_cal_B": loss(X[batch], y[batch], w, b)}


def _shuffle_envs(rng):
    for m, B in [(7, 3), (6, 2), (5, 5), (4, 1)]:
        seed = int(rng.integers(1000))
        batches = epoch_batches(m, B, np.random.default_rng(seed))
        order = np.random.default_rng(seed).permutation(m)     # the same shuffle
        env = {"m": m, "B": B, "K": len(batches), "pi": lambda j, o=order: int(o[int(j) - 1]) + 1}
        for k, batch in enumerate(batches, start=1):
            env[f"cal_B_{k}"] = batch + 1          # the page numbers rows from 1
        yield env


def _epoch_envs(rng):
    for model in MODELS:
        grad, _, X, y, w, b = make_problem(rng, model, 7, 2)
        lr, batch_size = 0.1, 3
        batches = epoch_batches(7, batch_size, np.random.default_rng(5))
        path = [(w, b)]
        for batch in batches:
            dw, db = batch_gradient(grad, X, y, *path[-1], batch)
            path.append((path[-1][0] - lr * dw, path[-1][1] - lr * db))
        w_end, b_end, n_updates = run_epoch(grad, X, y, w, b, lr, batch_size,
                                            np.random.default_rng(5))
        assert n_updates == len(batches)
        np.testing.assert_allclose(w_end, path[-1][0], rtol=EXACT_RTOL, atol=EXACT_ATOL)
        env = {"lr": lr, "K": len(batches), "n": 2,
               "w": Dyn(lambda e, p=path: p[e["k"] - 1][0]),
               "b": Dyn(lambda e, p=path: p[e["k"] - 1][1]),
               "__after__": {"w": Dyn(lambda e, p=path: p[e["k"]][0]),
                             "b": Dyn(lambda e, p=path: p[e["k"]][1])}}
        for k, batch in enumerate(batches, start=1):
            dw, db = batch_gradient(grad, X, y, *path[k - 1], batch)
            env[f"dLoss_cal_B_{k}/dw"], env[f"dLoss_cal_B_{k}/db"] = dw, db
        yield env


def _mean_envs(rng):
    for model in MODELS:
        grad, _, X, y, w, b = make_problem(rng, model, 6, 2)
        batches = epoch_batches(6, 2, rng)
        G = per_example_gradients(grad, X, y, w, b)
        env = {"K": 3, "B": 2, "m": 6, "n": 2, "G": G,
               "grad_Loss": np.append(*grad(X, y, w, b)),
               "__ranges__": {"k": "K"}}
        mean = np.append(*mean_batch_gradient(grad, X, y, w, b, batches))
        np.testing.assert_allclose(mean, env["grad_Loss"], rtol=EXACT_RTOL, atol=EXACT_ATOL)
        for k, batch in enumerate(batches, start=1):
            env[f"cal_B_{k}"] = batch + 1
            env[f"grad_Loss_cal_B_{k}"] = _grad_vector(grad, X, y, w, b, batch)
        yield env


def _over_batches(G, batches):
    """E[...] and P(...) over equally likely batches (tuples of 1-based row numbers)."""

    def expectation(ev, node):
        values = []
        for batch in batches:
            ev.env["cal_B"] = np.asarray(batch)
            values.append(np.asarray(_dense_value(ev.value(node)), dtype=float))
        ev.env.pop("cal_B", None)
        return np.mean(values, axis=0)

    def probability(ev, event):
        hits = 0
        for batch in batches:
            ev.env["cal_B"] = np.asarray(batch)
            hits += all(ev.relation_holds(event))
        ev.env.pop("cal_B", None)
        return hits / len(batches)

    grad_of_batch = Dyn(lambda e: G[np.asarray(e["cal_B"]) - 1].mean(axis=0))
    return LazyFn(expectation), LazyFn(probability), grad_of_batch


def _dense_value(v):
    return v.v if hasattr(v, "v") else v


def _expectation_envs(rng):
    import itertools

    for model in MODELS:
        grad, _, X, y, w, b = make_problem(rng, model, 5, 2)
        G = per_example_gradients(grad, X, y, w, b)
        B = 2
        subsets = list(itertools.combinations(range(1, 6), B))
        E, P, grad_B = _over_batches(G, subsets)
        mean = mean_over_all_batches(G, B)
        full = G.mean(axis=0)
        np.testing.assert_allclose(mean, full, rtol=EXACT_RTOL, atol=EXACT_ATOL)
        yield {"E": E, "P": P, "grad_Loss_cal_B": grad_B, "grad_Loss": full,
               "B": B, "m": 5, "n": 2, "G": G}


def _variance_envs(rng):
    import itertools

    for model in MODELS:
        grad, _, X, y, w, b = make_problem(rng, model, 5, 2)
        G = per_example_gradients(grad, X, y, w, b)
        B, m = 2, 5
        full = G.mean(axis=0)
        D = G - full
        sigma2 = float(np.mean(np.sum(D**2, axis=1)))
        common = {"grad_Loss": full, "B": B, "m": m, "n": 2, "D": D, "sigma": np.sqrt(sigma2),
                  "__ranges__": {"j": "m"}}
        drawn = list(itertools.product(range(1, m + 1), repeat=B))   # with replacement
        E, P, grad_B = _over_batches(G, drawn)
        yield {**common, "E": E, "grad_Loss_cal_B": grad_B, "__case__": "with replacement"}
        subsets = list(itertools.combinations(range(1, m + 1), B))
        E, P, grad_B = _over_batches(G, subsets)
        yield {**common, "E": E, "grad_Loss_cal_B": grad_B, "__case__": "without"}


FORMULAS = {
    "batch-gradient": Case(_batch_envs),
    "batches": Case(_shuffle_envs),
    "epoch": Case(_epoch_envs),
    "epoch-mean": Case(_mean_envs),
    "expectation": Case(_expectation_envs),
    "variance": Case(_variance_envs),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
