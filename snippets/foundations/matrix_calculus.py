"""Matrix calculus: Jacobians, the identities the site uses, and gradient shapes.

Code for the page docs/foundations/matrix-calculus.md; each function names the equation
of that page it computes. Needs NumPy only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

#: Step of the central differences in numerical_jacobian (float64, well-scaled F).
H = 1e-5


def _check_finite(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {a.dtype}")
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (no inf or nan), got "
                         f"{np.sum(~np.isfinite(a))} such entries in shape {a.shape}")
    return a


def _check_sizes(what: str, *bounds: np.ndarray) -> None:
    """Raise ValueError unless every bound (computed from |entries|) is finite."""
    if not all(np.all(np.isfinite(bound)) for bound in bounds):
        raise ValueError(f"the entries are too large for float64: {what} must be finite, "
                         "got inf")


def _check_ndim(a: np.ndarray, ndim: int, name: str) -> np.ndarray:
    a = _check_finite(a, name)
    if a.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {a.shape}")
    return a


def _check_point(x: np.ndarray, h: float) -> np.ndarray:
    """Return x as a non-empty 1-D float array if h is a positive step, or raise."""
    x = _check_ndim(x, 1, "x")
    if x.size == 0:
        raise ValueError(f"x must have at least one entry, got shape {x.shape}")
    if (np.ndim(h) != 0 or np.asarray(h).dtype.kind not in "iuf"
            or not (np.isfinite(h) and h > 0)):
        raise ValueError(f"the step h must be a positive finite number, got {h!r}")
    return x


def _check_vectors(a: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, x = _check_ndim(a, 1, "a"), _check_ndim(x, 1, "x")
    if a.shape != x.shape:
        raise ValueError(f"a and x must have the same shape (n,), got {a.shape} and {x.shape}")
    with np.errstate(over="ignore"):
        _check_sizes("|a| . |x| (a bound on a^T x)", np.abs(a) @ np.abs(x))
    return a, x


def _check_matvec(A: np.ndarray, x: np.ndarray,
                  square: bool = False) -> tuple[np.ndarray, np.ndarray]:
    A, x = _check_ndim(A, 2, "A"), _check_ndim(x, 1, "x")
    if A.shape[1] != x.shape[0] or (square and A.shape[0] != A.shape[1]):
        kind = "(n, n)" if square else "(q, n)"
        raise ValueError(f"A must have shape {kind} for x of shape {x.shape}, got {A.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        Ax = np.abs(A) @ np.abs(x)                       # bounds |A x| entry by entry
        _check_sizes("|A| |x| (a bound on A x)", Ax)
        if square:                                       # and x^T A x, (A + A^T) x
            _check_sizes("|x|^T |A| |x| and (|A| + |A|^T) |x|", np.abs(x) @ Ax,
                         (np.abs(A) + np.abs(A).T) @ np.abs(x))
    return A, x


def _check_least_squares(X: np.ndarray, w: np.ndarray,
                         y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X, w, y = _check_ndim(X, 2, "X"), _check_ndim(w, 1, "w"), _check_ndim(y, 1, "y")
    if w.shape != (X.shape[1],) or y.shape != (X.shape[0],):
        raise ValueError(f"for X of shape {X.shape}, w must have shape ({X.shape[1]},) and y "
                         f"shape ({X.shape[0]},); got {w.shape} and {y.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        r = np.abs(X) @ np.abs(w) + np.abs(y)            # bounds |X w - y| entry by entry
        _check_sizes("the bound r = |X| |w| + |y| on the residual, r . r and 2 |X|^T r",
                     r @ r, 2.0 * np.abs(X).T @ r)
    return X, w, y


def _check_trace(A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    A, B = _check_ndim(A, 2, "A"), _check_ndim(B, 2, "B")
    if B.shape != A.shape[::-1]:
        raise ValueError(f"B must have shape {A.shape[::-1]} for A of shape {A.shape}, "
                         f"got {B.shape}")
    with np.errstate(over="ignore"):
        _check_sizes("the sum of |A_ij B_ji| (a bound on tr(A B))", np.sum(np.abs(A * B.T)))
    return A, B


def _check_matmul(X: np.ndarray, W: np.ndarray,
                  G: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X, W = _check_ndim(X, 2, "X"), _check_ndim(W, 2, "W")
    if X.shape[1] != W.shape[0]:
        raise ValueError(f"X (m, n_in) and W (n_in, n_out) must share n_in, "
                         f"got {X.shape} and {W.shape}")
    G = np.zeros((X.shape[0], W.shape[1])) if G is None else _check_ndim(G, 2, "G")
    if G.shape != (X.shape[0], W.shape[1]):
        raise ValueError(f"G must have the shape of Y = X W, {(X.shape[0], W.shape[1])}, "
                         f"got {G.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        _check_sizes("|X| |W|, |G| |W|^T and |X|^T |G| (bounds on X W, dX and dW)",
                     np.abs(X) @ np.abs(W), np.abs(G) @ np.abs(W).T, np.abs(X).T @ np.abs(G))
    return X, W, G


def _check_same_shape(a: np.ndarray, b: np.ndarray, what: str) -> None:
    if np.shape(a) != np.shape(b):
        raise ValueError(f"{what}, got shapes {np.shape(a)} and {np.shape(b)}")


def _check_named(grads: dict[str, np.ndarray], params: dict[str, np.ndarray]) -> None:
    if not (isinstance(grads, Mapping) and isinstance(params, Mapping)):
        raise ValueError("grads and params must be dicts from names to arrays, got "
                         f"{type(grads).__name__} and {type(params).__name__}")
    missing = [name for name in params if name not in grads]
    if missing:
        raise ValueError(f"grads must hold a gradient for every name in params "
                         f"{list(params)}, got none for {missing}")


# --8<-- [start:jacobian]
def numerical_jacobian(F: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                       h: float = H) -> np.ndarray:
    """Jacobian of F at x by central differences, shape (q, p): eq. (1)."""
    x = _check_point(x, h).copy()
    columns = []
    for j in range(x.size):             # column j: how every output moves with x_j
        x_j = x[j]
        x[j] = x_j + h
        y_plus = np.asarray(F(x), dtype=np.float64)
        x[j] = x_j - h
        y_minus = np.asarray(F(x), dtype=np.float64)
        x[j] = x_j
        columns.append((y_plus - y_minus) / (2 * h))
    return np.stack(columns, axis=1)    # (q, p): one row per output
# --8<-- [end:jacobian]


# --8<-- [start:linear-form]
def linear_form(a: np.ndarray, x: np.ndarray) -> float:
    """The number a^T x of eq. (2)."""
    a, x = _check_vectors(a, x)
    return float(a @ x)


def grad_linear_form(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Its gradient with respect to x, shaped like x: eq. (2)."""
    a, x = _check_vectors(a, x)
    return a.copy()
# --8<-- [end:linear-form]


# --8<-- [start:linear-map]
def linear_map(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The vector A x of eq. (3), shape (q,)."""
    A, x = _check_matvec(A, x)
    return A @ x


def jacobian_linear_map(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Its Jacobian with respect to x, shape (q, n): eq. (3)."""
    A, x = _check_matvec(A, x)
    return A.copy()
# --8<-- [end:linear-map]


# --8<-- [start:quadratic-form]
def quadratic_form(A: np.ndarray, x: np.ndarray) -> float:
    """The number x^T A x of eq. (4)."""
    A, x = _check_matvec(A, x, square=True)
    return float(x @ A @ x)


def grad_quadratic_form(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Its gradient with respect to x, shape (n,): eq. (4)."""
    A, x = _check_matvec(A, x, square=True)
    return (A + A.T) @ x
# --8<-- [end:quadratic-form]


# --8<-- [start:least-squares]
def squared_residual_norm(X: np.ndarray, w: np.ndarray, y: np.ndarray) -> float:
    """The squared length of the residual X w - y, as in eq. (5)."""
    X, w, y = _check_least_squares(X, w, y)
    r = X @ w - y                        # (m,)
    return float(r @ r)


def grad_squared_residual_norm(X: np.ndarray, w: np.ndarray,
                               y: np.ndarray) -> np.ndarray:
    """Its gradient with respect to w, shape (n,): eq. (5)."""
    X, w, y = _check_least_squares(X, w, y)
    r = X @ w - y                        # (m,)
    return 2.0 * X.T @ r                 # (n, m) @ (m,) -> (n,)
# --8<-- [end:least-squares]


# --8<-- [start:trace]
def trace_of_product(A: np.ndarray, B: np.ndarray) -> float:
    """The number tr(A B) of eq. (6), for A (p, q) and B (q, p)."""
    A, B = _check_trace(A, B)
    return float(np.sum(A * B.T))        # sum_ij A_ij B_ji, without forming A B


def grad_trace_of_product(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Its gradient with respect to A, shaped like A (p, q): eq. (6)."""
    A, B = _check_trace(A, B)
    return B.T.copy()
# --8<-- [end:trace]


# --8<-- [start:matmul]
def matmul_forward(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Y = X W, shape (m, n_out), the product of eq. (7)."""
    X, W, _ = _check_matmul(X, W)
    return X @ W


def matmul_backward(X: np.ndarray, W: np.ndarray,
                    G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of the loss for X and W, given G = dL/dY: eq. (7). Returns (dX, dW)."""
    X, W, G = _check_matmul(X, W, G)
    dX = G @ W.T                         # (m, n_out) @ (n_out, n_in) -> (m, n_in)
    dW = X.T @ G                         # (n_in, m) @ (m, n_out) -> (n_in, n_out)
    return dX, dW
# --8<-- [end:matmul]


# --8<-- [start:matmul-trace]
def directional_change(X: np.ndarray, G: np.ndarray,
                       U: np.ndarray) -> tuple[float, float, float]:
    """The three sides of eq. (8), first line, for a direction U shaped like W."""
    X, U, G = _check_matmul(X, U, G)
    by_entries = float(np.sum(G * (X @ U)))      # sum_ik G_ik (X U)_ik
    return by_entries, float(np.trace(G.T @ X @ U)), float(np.trace(U @ G.T @ X))


def matmul_dW_by_trace(X: np.ndarray, G: np.ndarray) -> np.ndarray:
    """dL/dW of Y = X W as the gradient of tr(U G^T X) in U, by eq. (6): eq. (8)."""
    X, G = _check_same_rows(X, G)
    B = G.T @ X                          # (n_out, m) @ (m, n_in): the B of tr(U B)
    U = np.zeros(B.shape[::-1])          # any U: tr(U B) is linear in U
    return grad_trace_of_product(U, B)   # B^T = X^T G, shape (n_in, n_out)
# --8<-- [end:matmul-trace]


# --8<-- [start:bias]
def add_bias(Y: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Z = Y + 1 b^T: b is broadcast, copied into every row, as in eq. (9)."""
    Y, b = _check_bias(Y, b)
    return Y + b                          # (m, n_out) + (n_out,): NumPy copies b down


def bias_backward(G: np.ndarray) -> np.ndarray:
    """dL/db = G^T 1, the column sums of G = dL/dZ, shaped like b: eq. (9)."""
    G = _check_ndim(G, 2, "G")
    return G.T @ np.ones(G.shape[0])      # (n_out, m) @ (m,) -> (n_out,)
# --8<-- [end:bias]


# --8<-- [start:elementwise]
def tanh_forward(Z: np.ndarray) -> np.ndarray:
    """A = tanh(Z), applied entry by entry, the g of eq. (10)."""
    return np.tanh(_check_finite(Z, "Z"))


def tanh_backward(Z: np.ndarray, dA: np.ndarray) -> np.ndarray:
    """dL/dZ from dL/dA as a Hadamard product, shaped like Z: eq. (10)."""
    Z, dA = _check_finite(Z, "Z"), _check_finite(dA, "dA")
    _check_same_shape(Z, dA, "dA must have the shape of Z")
    return dA * (1.0 - np.tanh(Z) ** 2)  # g'(Z) = 1 - tanh(Z)^2, entry by entry
# --8<-- [end:elementwise]


# --8<-- [start:wrong-transpose]
def matmul_backward_wrong(X: np.ndarray, W: np.ndarray,
                          G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A backward pass for eq. (7) with a transpose in the wrong place."""
    X, W, G = _check_matmul(X, W, G)
    dX = G @ W.T
    dW = G.T @ X                 # (n_out, m) @ (m, n_in): the transpose of X^T G
    return dX, dW


def shape_errors(grads: dict[str, np.ndarray],
                 params: dict[str, np.ndarray]) -> list[str]:
    """Every gradient whose shape differs from its variable's (rule of eq. (7))."""
    _check_named(grads, params)
    return [f"d{name} has shape {np.shape(grads[name])}, {name} has {np.shape(p)}"
            for name, p in params.items() if np.shape(grads[name]) != np.shape(p)]
# --8<-- [end:wrong-transpose]


def _check_bias(Y: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    Y, b = _check_ndim(Y, 2, "Y"), _check_ndim(b, 1, "b")
    if b.shape != (Y.shape[1],):
        raise ValueError(f"b must have shape ({Y.shape[1]},), one entry per column of Y, "
                         f"got {b.shape}")
    with np.errstate(over="ignore"):
        _check_sizes("|Y| + |b| (a bound on Y + b)", np.abs(Y) + np.abs(b))
    return Y, b


def _check_same_rows(X: np.ndarray, G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X, G = _check_ndim(X, 2, "X"), _check_ndim(G, 2, "G")
    if X.shape[0] != G.shape[0]:
        raise ValueError(f"X (m, n_in) and G (m, n_out) must have the same m rows, "
                         f"got {X.shape} and {G.shape}")
    with np.errstate(over="ignore"):
        _check_sizes("|X|^T |G| (a bound on X^T G)", np.abs(X).T @ np.abs(G))
    return X, G
