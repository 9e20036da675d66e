"""Tests for snippets/foundations/matrix_calculus.py (page docs/foundations/matrix-calculus.md)."""

from __future__ import annotations

import numpy as np
import pytest

from snippets.foundations.gradient_checking import check_layer
from snippets.foundations.matrix_calculus import (
    add_bias,
    bias_backward,
    directional_change,
    grad_linear_form,
    grad_quadratic_form,
    grad_squared_residual_norm,
    grad_trace_of_product,
    jacobian_linear_map,
    linear_form,
    linear_map,
    matmul_backward,
    matmul_backward_wrong,
    matmul_dW_by_trace,
    matmul_forward,
    numerical_jacobian,
    quadratic_form,
    shape_errors,
    squared_residual_norm,
    tanh_backward,
    tanh_forward,
    trace_of_product,
)

from checks import EXACT_ATOL, EXACT_RTOL, GRAD_RTOL, assert_gradient
from formulas import Case, formula_test

#: Entrywise tolerance of a Jacobian by central differences against an exact one: the
#: relative error of eq. (2) of the gradient checking page is about 1e-10 at h = 1e-5.
JACOBIAN_RTOL = 1e-8

SIZES = [1, 2, 7]
MATMUL_SHAPES = [(1, 1, 1), (1, 3, 2), (4, 1, 3), (5, 3, 1), (6, 4, 5)]


def test_numerical_jacobian_of_a_known_map():
    # F(x) = (x0 x1, sin x0, x1^2): J = [[x1, x0], [cos x0, 0], [0, 2 x1]].
    x = np.array([0.4, -1.3])
    F = lambda v: np.array([v[0] * v[1], np.sin(v[0]), v[1] ** 2])
    J = numerical_jacobian(F, x)
    expected = np.array([[-1.3, 0.4], [np.cos(0.4), 0.0], [0.0, -2.6]])
    assert J.shape == (3, 2)                      # dim y x dim x: numerator layout
    np.testing.assert_allclose(J, expected, rtol=JACOBIAN_RTOL, atol=EXACT_ATOL)


@pytest.mark.parametrize("n", SIZES)
def test_linear_form(rng, n):
    a, x = rng.standard_normal(n), rng.standard_normal(n)
    assert linear_form(a, x) == pytest.approx(sum(a[k] * x[k] for k in range(n)), rel=EXACT_RTOL)
    assert_gradient(lambda v: linear_form(a, v), grad_linear_form(a, x), x)
    np.testing.assert_array_equal(grad_linear_form(a, x), a)


@pytest.mark.parametrize("q, n", [(1, 1), (3, 1), (1, 4), (3, 5)])
def test_linear_map_jacobian(rng, q, n):
    A, x = rng.standard_normal((q, n)), rng.standard_normal(n)
    J = jacobian_linear_map(A, x)
    assert J.shape == (q, n)
    np.testing.assert_allclose(numerical_jacobian(lambda v: linear_map(A, v), x), J,
                               rtol=JACOBIAN_RTOL, atol=1e-9)
    # Backward rule: the gradient of g . (A x) is A^T g = J^T g.
    g = rng.standard_normal(q)
    assert_gradient(lambda v: float(g @ linear_map(A, v)), J.T @ g, x)


@pytest.mark.parametrize("n", SIZES)
def test_quadratic_form(rng, n):
    A, x = rng.standard_normal((n, n)), rng.standard_normal(n)
    assert quadratic_form(A, x) == pytest.approx(
        sum(x[k] * A[k, c] * x[c] for k in range(n) for c in range(n)), rel=EXACT_RTOL, abs=EXACT_ATOL)
    grad = grad_quadratic_form(A, x)
    assert_gradient(lambda v: quadratic_form(A, v), grad, x)
    # First line of eq. (4): (A x)_j + (A^T x)_j, entry by entry.
    by_entry = np.array([sum(A[j, c] * x[c] for c in range(n)) + sum(x[k] * A[k, j] for k in range(n))
                         for j in range(n)])
    np.testing.assert_allclose(grad, by_entry, rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_quadratic_form_symmetric_case_and_the_wrong_2Ax(rng):
    A = rng.standard_normal((5, 5))
    x = rng.standard_normal(5)
    S = A + A.T
    np.testing.assert_allclose(grad_quadratic_form(S, x), 2 * S @ x, rtol=EXACT_RTOL)
    with pytest.raises(AssertionError):
        assert_gradient(lambda v: quadratic_form(A, v), 2 * A @ x, x)


@pytest.mark.parametrize("m, n", [(1, 1), (1, 3), (6, 1), (8, 4)])
def test_least_squares_gradient(rng, m, n):
    X, w, y = rng.standard_normal((m, n)), rng.standard_normal(n), rng.standard_normal(m)
    grad = grad_squared_residual_norm(X, w, y)
    assert grad.shape == (n,)
    assert_gradient(lambda v: squared_residual_norm(X, v, y), grad, w)
    # Eq. (5), first line: the transposed Jacobian of r (by differences) times 2 r.
    J = numerical_jacobian(lambda v: X @ v - y, w)
    np.testing.assert_allclose(J.T @ (2 * (X @ w - y)), grad, rtol=1e-8, atol=1e-9)
    # The mean squared error of linear regression is this divided by m.
    assert squared_residual_norm(X, w, y) / m == pytest.approx(np.mean((X @ w - y) ** 2), rel=EXACT_RTOL)


def test_least_squares_hand_computed():
    # X = [[1, 2], [3, 4]], w = (1, 0), y = (0, 1): r = (1, 2), |r|^2 = 5,
    # 2 X^T r = 2 (1 + 6, 2 + 8) = (14, 20).
    X, w, y = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert squared_residual_norm(X, w, y) == 5.0
    np.testing.assert_array_equal(grad_squared_residual_norm(X, w, y), [14.0, 20.0])


@pytest.mark.parametrize("p, q", [(1, 1), (2, 3), (4, 1), (3, 3)])
def test_trace_of_product(rng, p, q):
    A, B = rng.standard_normal((p, q)), rng.standard_normal((q, p))
    assert trace_of_product(A, B) == pytest.approx(np.trace(A @ B), rel=EXACT_RTOL, abs=EXACT_ATOL)
    grad = grad_trace_of_product(A, B)
    assert grad.shape == A.shape
    assert_gradient(lambda V: trace_of_product(V, B), grad, A)


@pytest.mark.parametrize("m, n_in, n_out", MATMUL_SHAPES)
def test_matmul_backward_with_a_random_upstream_gradient(rng, m, n_in, n_out):
    X, W = rng.standard_normal((m, n_in)), rng.standard_normal((n_in, n_out))
    G = rng.standard_normal((m, n_out))
    dX, dW = matmul_backward(X, W, G)
    assert dX.shape == X.shape and dW.shape == W.shape
    assert_gradient(lambda V: float(np.sum(G * matmul_forward(X, V))), dW, W, rng)
    assert_gradient(lambda V: float(np.sum(G * matmul_forward(V, W))), dX, X, rng)
    # The same with the layer checker of the gradient checking page.
    assert check_layer(lambda V: matmul_forward(X, V), lambda V, G_: matmul_backward(X, V, G_)[1],
                       W, rng) < GRAD_RTOL


def test_matmul_backward_entry_by_entry(rng):
    """Eq. (7), first line (sums over paths) against the second line (matrix products)."""
    X, W, G = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal((3, 2))
    dX, dW = matmul_backward(X, W, G)
    for j, k in np.ndindex(W.shape):
        assert dW[j, k] == pytest.approx(sum(X[i, j] * G[i, k] for i in range(3)), rel=EXACT_RTOL)
    for i, j in np.ndindex(X.shape):
        assert dX[i, j] == pytest.approx(sum(G[i, k] * W[j, k] for k in range(2)), rel=EXACT_RTOL)


@pytest.mark.parametrize("m,n_in,n_out", MATMUL_SHAPES)
def test_trace_route_to_the_matmul_gradient(rng, m, n_in, n_out):
    """Eq. (8): the sum of entrywise products, tr(G^T X U) and tr(U G^T X) agree, they are
    the rate of change of sum(G * X W) along U, and the gradient read off is eq. (7)'s."""
    X, W = rng.standard_normal((m, n_in)), rng.standard_normal((n_in, n_out))
    G, U = rng.standard_normal((m, n_out)), rng.standard_normal((n_in, n_out))
    by_entries, trace_gxu, trace_ugx = directional_change(X, G, U)
    assert trace_gxu == pytest.approx(by_entries, rel=EXACT_RTOL, abs=EXACT_ATOL)
    assert trace_ugx == pytest.approx(by_entries, rel=EXACT_RTOL, abs=EXACT_ATOL)
    s = lambda t: float(np.sum(G * matmul_forward(X, W + t * U)))   # noqa: E731
    assert (s(1e-3) - s(-1e-3)) / 2e-3 == pytest.approx(by_entries, rel=1e-9, abs=1e-12)
    dW = matmul_dW_by_trace(X, G)
    assert dW.shape == W.shape
    np.testing.assert_allclose(dW, matmul_backward(X, W, G)[1], rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_bias_hand_computed():
    Y = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    np.testing.assert_array_equal(add_bias(Y, [10.0, 20.0]), [[11, 22], [13, 24], [15, 26]])
    # the column sums of G: (1 + 3 + 5, 2 + 4 + 6)
    np.testing.assert_array_equal(bias_backward(Y), [9.0, 12.0])
    # Forgetting the sum leaves G itself, shape (3, 2) for b of shape (2,): the check says so.
    assert shape_errors({"b": Y}, {"b": np.zeros(2)}) == ["db has shape (3, 2), b has (2,)"]


@pytest.mark.parametrize("m,n_out", [(1, 1), (1, 3), (5, 1), (6, 4)])
def test_bias_is_broadcast_forward_and_summed_backward(rng, m, n_out):
    """Eq. (9): every row of Z is its row of Y plus b, and dL/db = G^T 1 by differences."""
    Y, b, G = rng.standard_normal((m, n_out)), rng.standard_normal(n_out), rng.standard_normal((m, n_out))
    Z = add_bias(Y, b)
    for i in range(m):
        np.testing.assert_array_equal(Z[i], Y[i] + b)
    db = bias_backward(G)
    assert db.shape == b.shape
    np.testing.assert_allclose(db, G.sum(axis=0), rtol=EXACT_RTOL, atol=EXACT_ATOL)
    assert_gradient(lambda v: float(np.sum(G * add_bias(Y, v))), db, b)


@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (3, 1), (3, 5)])
def test_elementwise_backward_is_a_hadamard_product(rng, shape):
    Z, dA = rng.standard_normal(shape), rng.standard_normal(shape)
    dZ = tanh_backward(Z, dA)
    assert dZ.shape == Z.shape
    assert_gradient(lambda V: float(np.sum(dA * tanh_forward(V))), dZ, Z)
    # The Jacobian of the flattened map is diagonal, and J^T dA equals the Hadamard product.
    J = numerical_jacobian(lambda v: tanh_forward(v.reshape(shape)).ravel(), Z.ravel())
    np.testing.assert_allclose(J, np.diag(np.diag(J)), atol=1e-10)
    np.testing.assert_allclose((J.T @ dA.ravel()).reshape(shape), dZ, rtol=1e-8, atol=1e-10)


def test_large_entries_below_the_overflow_bounds_pass():
    # 1e100 squared is 1e200, far from the float64 limit 1.8e308.
    big = np.full((2, 2), 1e100)
    assert quadratic_form(big, np.ones(2)) == pytest.approx(4e100, rel=EXACT_RTOL)
    assert squared_residual_norm(big, np.ones(2), np.zeros(2)) == pytest.approx(8e200, rel=EXACT_RTOL)
    np.testing.assert_allclose(matmul_forward(big, big), np.full((2, 2), 2e200), rtol=EXACT_RTOL)


def test_tanh_extreme_inputs_are_finite():
    Z = np.array([-1e4, -40.0, 0.0, 40.0, 1e4])
    assert np.all(np.isfinite(tanh_backward(Z, np.ones(5))))
    np.testing.assert_array_equal(tanh_forward(Z)[[0, 2, 4]], [-1.0, 0.0, 1.0])


def test_shapes_catch_the_wrong_transpose(rng):
    """The page's example: m = 4, n_in = 3, n_out = 2, and dW = G^T X is (2, 3)."""
    X, W, G = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal((4, 2))
    dX, dW = matmul_backward_wrong(X, W, G)
    errors = shape_errors({"X": dX, "W": dW}, {"X": X, "W": W})
    assert errors == ["dW has shape (2, 3), W has (3, 2)"]
    right = dict(zip(("X", "W"), matmul_backward(X, W, G), strict=True))
    assert shape_errors(right, {"X": X, "W": W}) == []


def test_square_shapes_hide_the_wrong_transpose_from_the_shape_check(rng):
    X, W, G = rng.standard_normal((3, 3)), rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    dX, dW = matmul_backward_wrong(X, W, G)
    assert shape_errors({"X": dX, "W": dW}, {"X": X, "W": W}) == []
    with pytest.raises(AssertionError):
        assert_gradient(lambda V: float(np.sum(G * matmul_forward(X, V))), dW, W)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: numerical_jacobian(np.sin, np.ones((2, 2))), r"x must be a 1-D array, got shape \(2, 2\)"),
        (lambda: linear_form(np.ones(2), np.ones(3)), r"same shape \(n,\), got \(2,\) and \(3,\)"),
        (lambda: linear_form(np.array([np.nan]), np.ones(1)), r"a must be finite"),
        (lambda: linear_map(np.ones((2, 3)), np.ones(2)), r"A must have shape \(q, n\)"),
        (lambda: quadratic_form(np.ones((2, 3)), np.ones(3)), r"A must have shape \(n, n\)"),
        (lambda: squared_residual_norm(np.ones((3, 2)), np.ones(2), np.ones(2)), r"y shape \(3,\)"),
        (lambda: trace_of_product(np.ones((2, 3)), np.ones((2, 3))), r"B must have shape \(3, 2\)"),
        (lambda: matmul_forward(np.ones((2, 3)), np.ones((2, 3))), r"must share n_in"),
        (lambda: matmul_backward(np.ones((2, 3)), np.ones((3, 4)), np.ones((2, 3))), r"G must have the"),
        (lambda: tanh_backward(np.ones(3), np.ones(2)), r"dA must have the shape of Z"),
        (lambda: numerical_jacobian(np.sin, np.zeros(0)),
         r"x must have at least one entry, got shape \(0,\)"),
        (lambda: numerical_jacobian(np.sin, np.ones(2), h=0.0),
         r"step h must be a positive finite number, got 0.0"),
        (lambda: numerical_jacobian(np.sin, np.ones(2), h=np.ones(2)), r"step h must be a positive"),
        (lambda: numerical_jacobian(np.sin, np.ones(2), h="1e-5"), r"step h must be a positive"),
        (lambda: linear_map(np.array([["a"]]), np.ones(1)), r"A must hold real numbers, got dtype <U1"),
        (lambda: quadratic_form(np.ones((2, 2)), np.array([1j, 1.0])), r"x must hold real numbers"),
        (lambda: tanh_forward(np.array([0.0, np.inf])),
         r"Z must be finite .* got 1 such entries in shape \(2,\)"),
        (lambda: matmul_backward(np.ones((2, 3)), np.ones((3, 4)), np.ones((2, 3, 4))),
         r"G must be a 2-D array"),
        (lambda: linear_form(np.full(2, 1e200), np.full(2, 1e200)),
         r"\|a\| \. \|x\| .* must be finite, got inf"),
        (lambda: grad_linear_form(np.full(2, 1e200), np.full(2, 1e200)), r"too large for float64"),
        (lambda: linear_map(np.full((2, 3), 1e200), np.full(3, 1e200)), r"\|A\| \|x\| \(a bound on A x\)"),
        (lambda: quadratic_form(np.full((2, 2), 1e120), np.full(2, 1e100)), r"\|x\|\^T \|A\| \|x\|"),
        (lambda: grad_quadratic_form(np.full((2, 2), 1e308), np.zeros(2)), r"\(\|A\| \+ \|A\|\^T\) \|x\|"),
        (lambda: squared_residual_norm(np.ones((2, 2)), np.ones(2), np.full(2, 1e200)), r"r \. r and 2"),
        (lambda: trace_of_product(np.full((2, 3), 1e200), np.full((3, 2), 1e200)), r"a bound on tr\(A B\)"),
        (lambda: matmul_forward(np.full((2, 3), 1e200), np.full((3, 2), 1e200)), r"bounds on X W, dX and dW"),
        (lambda: matmul_backward(np.ones((2, 3)), np.ones((3, 2)), np.full((2, 2), 1e308)), r"bounds on X W"),
        (lambda: matmul_backward_wrong(np.ones((2, 3)), np.ones((3, 4)), np.ones((4, 2))),
         r"G must have the shape of Y = X W, \(2, 4\), got \(4, 2\)"),
        (lambda: add_bias(np.ones((2, 3)), np.ones(2)), r"b must have shape \(3,\), one entry"),
        (lambda: add_bias(np.ones(3), np.ones(3)), r"Y must be a 2-D array"),
        (lambda: add_bias(np.full((1, 1), 1e308), np.full(1, 1e308)), r"a bound on Y \+ b"),
        (lambda: bias_backward(np.ones(3)), r"G must be a 2-D array"),
        (lambda: matmul_dW_by_trace(np.ones((2, 3)), np.ones((3, 2))), r"the same m rows"),
        (lambda: matmul_dW_by_trace(np.full((1, 1), 1e200), np.full((1, 1), 1e200)),
         r"a bound on X\^T G"),
        (lambda: directional_change(np.ones((2, 3)), np.ones((2, 2)), np.ones((2, 2))),
         r"must share n_in"),
        (lambda: shape_errors(np.ones(3), np.ones(3)),
         r"dicts from names to arrays, got ndarray and ndarray"),
        (lambda: shape_errors({"W": np.ones(2)}, {"W": np.ones(2), "b": np.ones(1)}),
         r"got none for \['b'\]"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "foundations/matrix-calculus.md"

#: Eqs. (2)-(6) differentiate their left side by central differences: see formulas.FD_RTOL.
SIZES = [(1, 1), (3, 2), (4, 5)]


def _envs(rng):
    for q, n in SIZES:
        a, x = rng.standard_normal(n), rng.standard_normal(n)
        A = rng.standard_normal((q, n))
        yield {"a": a, "x": x, "n": n, "q": q, "A": A,
               "J": jacobian_linear_map(A, x)}


def _linear_form_envs(rng):
    for env in _envs(rng):
        yield {**env, "a": grad_linear_form(env["a"], env["x"])}


def _quadratic_envs(rng):
    for n in (1, 3, 4):
        A, x = rng.standard_normal((n, n)), rng.standard_normal(n)
        yield {"A": A, "x": x, "n": n, "__ranges__": {"k": "n", "l": "n"}}


def _least_squares_envs(rng):
    for m, n in SIZES:
        X, w, y = rng.standard_normal((m, n)), rng.standard_normal(n), rng.standard_normal(m)
        r = X @ w - y
        # the code's gradient of s = r^T r with respect to r, through w: X^T (2 r)
        yield {"X": X, "w": w, "y": y, "m": m, "n": n, "r": r, "dr/dw": X, "ds/dr": 2 * r,
               "ds/dw": grad_squared_residual_norm(X, w, y)}


def _trace_envs(rng):
    for p, q in SIZES:
        A, B = rng.standard_normal((p, q)), rng.standard_normal((q, p))
        yield {"A": A, "B": B, "p": p, "q": q, "__ranges__": {"i": "p", "j": "q"},
               "B_code": grad_trace_of_product(A, B).T}


def _matmul_envs(rng):
    for m, (n_in, n_out) in zip([1, 3, 5], SIZES, strict=True):
        X, W = rng.standard_normal((m, n_in)), rng.standard_normal((n_in, n_out))
        G = rng.standard_normal((m, n_out))
        dX, dW = matmul_backward(X, W, G)
        yield {"X": X, "W": W, "G": G, "m": m, "n_in": n_in, "n_out": n_out, "dX": dX,
               "dW": dW, "__ranges__": {"j": "n_in", "k": "n_out"}}


def _matmul_trace_envs(rng):
    for m, (n_in, n_out) in zip([1, 3, 5], SIZES, strict=True):
        X, G = rng.standard_normal((m, n_in)), rng.standard_normal((m, n_out))
        U = rng.standard_normal((n_in, n_out))
        dW = matmul_dW_by_trace(X, G)
        sides = directional_change(X, G, U)
        # the code's three sides agree, and its gradient is the X^T G the page ends on
        np.testing.assert_allclose(sides, sides[0], rtol=EXACT_RTOL, atol=EXACT_ATOL)
        np.testing.assert_allclose(dW, X.T @ G, rtol=EXACT_RTOL, atol=EXACT_ATOL)
        yield {"X": X, "G": G, "U": U, "m": m, "n_in": n_in, "n_out": n_out,
               "tr": lambda M: trace_of_product(M, np.eye(M.shape[0])),
               "__ranges__": {"i": "m", "k": "n_out"}}


def _bias_envs(rng):
    for m, n_out in [(1, 1), (3, 2), (5, 4)]:
        G = rng.standard_normal((m, n_out))
        yield {"G": G, "m": m, "n_out": n_out, "dLoss/db": bias_backward(G),
               "__ranges__": {"k": "n_out"}}


def _elementwise_envs(rng):
    for m, n in SIZES:
        Z, dA = rng.standard_normal((m, n)), rng.standard_normal((m, n))
        yield {"Z": Z, "dA": dA, "dZ": tanh_backward(Z, dA), "m": m, "n": n, "n_out": n,
               "g": tanh_forward, "g'": lambda V: 1.0 - tanh_forward(V) ** 2}


FORMULAS = {
    "linear-form": Case(_linear_form_envs),
    "linear-map": Case(lambda rng: ({**e, "A": e["J"]} for e in _envs(rng))),
    "quadratic-form": Case(_quadratic_envs),
    "least-squares": Case(_least_squares_envs),
    "trace": Case(lambda rng: ({**e, "B": e["B_code"]} for e in _trace_envs(rng))),
    "matmul": Case(_matmul_envs),
    "matmul-trace": Case(_matmul_trace_envs),
    "bias": Case(_bias_envs),
    "elementwise": Case(_elementwise_envs),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
