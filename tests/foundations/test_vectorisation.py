"""Tests for snippets/foundations/vectorisation.py (page docs/foundations/vectorisation.md).

No test asserts a time: timings depend on the machine. The tests assert that the loop and
the vectorised form compute the same gradient, and that it is the gradient of the loss.
"""

from __future__ import annotations

import numpy as np
import pytest

from snippets.foundations.vectorisation import (
    gradient_loop,
    gradient_vectorised,
    make_problem,
    mse_loss,
    weighted_row_sum_loop,
    weighted_row_sum_matrix,
)

from checks import EXACT_ATOL, EXACT_RTOL, assert_gradient
from formulas import Case, formula_test

SHAPES = [(1, 1), (1, 5), (7, 1), (40, 6), (300, 20)]


@pytest.mark.parametrize("m, n", SHAPES)
def test_loop_and_vectorised_agree(m, n):
    X, y, w, b = make_problem(m, n, seed=m + n)
    dw_loop, db_loop = gradient_loop(X, y, w, b)
    dw_vec, db_vec = gradient_vectorised(X, y, w, b)
    assert dw_loop.shape == dw_vec.shape == (n,)
    np.testing.assert_allclose(dw_loop, dw_vec, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    assert db_loop == pytest.approx(db_vec, rel=EXACT_RTOL, abs=EXACT_ATOL)


@pytest.mark.parametrize("m, n", SHAPES)
def test_gradient_matches_finite_differences(rng, m, n):
    X, y = rng.standard_normal((m, n)), rng.standard_normal(m)
    w, b = rng.standard_normal(n), float(rng.standard_normal())
    dw, db = gradient_vectorised(X, y, w, b)
    assert_gradient(lambda v: mse_loss(X, y, v, b), dw, w, rng)
    assert_gradient(lambda v: mse_loss(X, y, w, v[0]), np.array([db]), np.array([b]), rng)


@pytest.mark.parametrize("m, n", SHAPES)
def test_weighted_row_sum_identity(rng, m, n):
    """Eq. (3): the loop over rows equals X^T r, and entry j is sum_i r_i x_ij."""
    X, r = rng.standard_normal((m, n)), rng.standard_normal(m)
    loop, matrix = weighted_row_sum_loop(X, r), weighted_row_sum_matrix(X, r)
    np.testing.assert_allclose(loop, matrix, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    j = n - 1
    assert matrix[j] == pytest.approx(sum(r[i] * X[i, j] for i in range(m)), rel=EXACT_RTOL, abs=EXACT_ATOL)


def test_hand_computed_gradient():
    # X = [[1, 2], [3, 4]], y = (1, 0), w = (0, 1), b = 1: y_hat = (3, 5), r = (2, 5).
    # L = (4 + 25) / 2 = 14.5; dw = (2/2) (1*2 + 3*5, 2*2 + 4*5) = (17, 24); db = 7.
    X, y, w = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert mse_loss(X, y, w, 1.0) == 14.5
    for dw, db in (gradient_loop(X, y, w, 1.0), gradient_vectorised(X, y, w, 1.0)):
        np.testing.assert_array_equal(dw, [17.0, 24.0])
        assert db == 7.0


def test_make_problem_is_repeatable():
    first, second = make_problem(5, 3, seed=4), make_problem(5, 3, seed=4)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    X, y, w, b = first
    assert (X.shape, y.shape, w.shape, np.ndim(b)) == ((5, 3), (5,), (3,), 0)
    assert not np.array_equal(make_problem(5, 3, seed=5)[0], X)
    # Large but safe entries pass: S = 1e100 * 2 + 0 + 1 and 2 m S^2 = 2.4e201.
    assert np.isfinite(mse_loss(np.full((3, 2), 1e100), np.ones(3), np.ones(2), 0.0))
    # NumPy integers are integers too.
    assert make_problem(np.int64(2), np.int32(3), seed=np.uint8(4))[0].shape == (2, 3)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: weighted_row_sum_loop(np.ones(3), np.ones(3)), r"X must be a 2-D array .* got \(3,\)"),
        (lambda: weighted_row_sum_matrix(np.ones((0, 2)), np.ones(0)), r"m >= 1"),
        (lambda: weighted_row_sum_matrix(np.ones((3, 2)), np.ones(2)), r"r must have shape \(3,\)"),
        (lambda: gradient_loop(np.ones((3, 2)), np.ones(4), np.ones(2), 0.0), r"y must have shape \(3,\)"),
        (lambda: gradient_vectorised(np.ones((3, 2)), np.ones(3), np.ones(3), 0.0), r"w must have shape"),
        (lambda: mse_loss(np.ones((3, 2)), np.ones(3), np.ones(2), np.ones(2)), r"b must be a scalar"),
        (lambda: mse_loss(np.full((3, 2), np.nan), np.ones(3), np.ones(2), 0.0), r"X must be finite"),
        (lambda: make_problem(0, 3), r"positive integers, got m=0"),
        (lambda: make_problem(3, 2.5), r"positive integers"),
        (lambda: make_problem(3.0, 2), r"positive integers, got m=3.0"),
        (lambda: make_problem(np.ones(3), np.ones(3)), r"m and n must be positive integers, got m=array"),
        (lambda: make_problem(True, 2), r"positive integers, got m=True"),
        (lambda: make_problem(3, 2, seed=-1), r"seed must be a non-negative integer, got -1"),
        (lambda: make_problem(3, 2, seed=1.5), r"seed must be a non-negative integer, got 1.5"),
        (lambda: mse_loss(np.ones((3, 2)), np.ones(3), np.ones(2), "0"), r"b must hold real numbers"),
        (lambda: mse_loss(np.ones((3, 2)), np.ones(3), np.ones(2), np.inf), r"b must be finite"),
        (lambda: gradient_loop(np.ones((2, 3, 4)), np.ones(2), np.ones(3), 0.0), r"X must be a 2-D array"),
        (lambda: gradient_vectorised(np.ones((3, 2)), np.ones(3), np.ones((2, 1)), 0.0),
         r"w must have shape \(2,\)"),
        (lambda: gradient_vectorised(np.ones((3, 2)), np.array([0.0, np.nan, 1.0]), np.ones(2), 0.0),
         r"y must be finite \(no inf or nan\), got 1 such entries in shape \(3,\)"),
        (lambda: mse_loss(np.full((3, 2), 1e200), np.ones(3), np.ones(2), 0.0),
         r"too large for float64: 2 m max\(S\^2, .* got inf"),
        (lambda: gradient_loop(np.ones((3, 2)), np.full(3, 1e300), np.ones(2), 0.0),
         r"too large for float64"),
        (lambda: gradient_vectorised(np.ones((3, 2)), np.ones(3), np.ones(2), 1e160),
         r"too large for float64"),
        (lambda: weighted_row_sum_matrix(np.full((3, 2), 1e200), np.full(3, 1e200)),
         r"m max\|X\| max\|r\|, a bound on X\^T r, must be at most 1.8e\+308, got inf"),
        (lambda: weighted_row_sum_loop(np.ones((3, 2)), np.array(["a", "b", "c"])),
         r"r must hold real numbers"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "foundations/vectorisation.md"


def _envs(rng):
    for m, n in [(1, 1), (1, 3), (5, 1), (8, 4)]:
        X, y, w, b = make_problem(m, n, seed=int(rng.integers(1000)))
        r = X @ w + b - y
        code_dw, code_db = gradient_loop(X, y, w, b)
        yield {"X": X, "y": y, "w": w, "b": b, "m": m, "n": n, "r": r,
               "Loss": mse_loss(X, y, w, b), "dw": code_dw, "db": code_db}


def _vectorised_envs(rng):
    for env in _envs(rng):
        X, y, w, b = env["X"], env["y"], env["w"], env["b"]
        dw, db = gradient_vectorised(X, y, w, b)
        yield {**env, "dw": dw, "db": db}


FORMULAS = {
    "loss": Case(_envs),
    "loop": Case(_envs),
    "rows": Case(_envs),
    "vectorised": Case(_vectorised_envs),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
