"""Vectorisation: one gradient as a loop over examples and as one matrix expression.

Code for the page docs/foundations/vectorisation.md; each function names the equation of
that page it computes. Needs NumPy only.
"""

from __future__ import annotations

import numpy as np


# --8<-- [start:loss]
def mse_loss(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float) -> float:
    """Mean squared error of the linear model over m examples: eq. (1)."""
    X, y, w, b = _check_model(X, y, w, b)
    r = X @ w + b - y                    # residuals, (m,)
    return float(np.mean(r**2))
# --8<-- [end:loss]


# --8<-- [start:loop]
def gradient_loop(X: np.ndarray, y: np.ndarray, w: np.ndarray,
                  b: float) -> tuple[np.ndarray, float]:
    """Gradient of eq. (1) summed one example at a time: eq. (2). Returns (dw, db)."""
    X, y, w, b = _check_model(X, y, w, b)
    m, n = X.shape
    dw, db = np.zeros(n), 0.0
    for i in range(m):
        x_i = X[i]                       # example i, shape (n,)
        r_i = x_i @ w + b - y[i]         # its residual, a number
        dw += 2.0 * r_i * x_i
        db += 2.0 * r_i
    return dw / m, db / m
# --8<-- [end:loop]


# --8<-- [start:rows]
def weighted_row_sum_loop(X: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Sum of the rows of X, row i weighted by r_i, as a loop: left side of eq. (3)."""
    X, r = _check_rows(X, r)
    total = np.zeros(X.shape[1])
    for i in range(X.shape[0]):
        total += r[i] * X[i]
    return total


def weighted_row_sum_matrix(X: np.ndarray, r: np.ndarray) -> np.ndarray:
    """The same sum as one matrix-vector product X^T r: right side of eq. (3)."""
    X, r = _check_rows(X, r)
    return X.T @ r                       # (n, m) @ (m,) -> (n,)
# --8<-- [end:rows]


# --8<-- [start:vectorised]
def gradient_vectorised(X: np.ndarray, y: np.ndarray, w: np.ndarray,
                        b: float) -> tuple[np.ndarray, float]:
    """Gradient of eq. (1) as matrix expressions, no loop: eq. (4). Returns (dw, db)."""
    X, y, w, b = _check_model(X, y, w, b)
    m = X.shape[0]
    r = X @ w + b - y                    # (m,)
    dw = 2.0 / m * (X.T @ r)             # (n,)
    db = 2.0 / m * float(np.sum(r))      # 1^T r
    return dw, db
# --8<-- [end:vectorised]


# --8<-- [start:problem]
def make_problem(m: int, n: int, seed: int = 0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Repeatable random X (m, n), y (m,), w (n,) and b for timing eqs. (2) and (4)."""
    _check_size(m, n, seed)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n))
    y = rng.standard_normal(m)
    w = rng.standard_normal(n)
    return X, y, w, float(rng.standard_normal())
# --8<-- [end:problem]


# Input checks, kept out of the sections the page shows.


def _check_finite(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {a.dtype}")
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (no inf or nan), got "
                         f"{np.sum(~np.isfinite(a))} such entries in shape {a.shape}")
    return a


def _largest(a: np.ndarray) -> float:
    """max |a| as a Python float (0 for an empty array), whose products give inf on
    overflow, with no warning. Two passes over a and no temporary array."""
    return max(float(np.max(a, initial=0.0)), -float(np.min(a, initial=0.0)))


def _check_bound(bound: float, what: str) -> None:
    if not bound <= np.finfo(np.float64).max:
        raise ValueError(f"the entries are too large for float64: {what} must be at most "
                         f"{np.finfo(np.float64).max:.3g}, got {bound:.3g}")


def _check_rows(X: np.ndarray, r: np.ndarray,
                name: str = "r") -> tuple[np.ndarray, np.ndarray]:
    """Return X (m, n) and r (m,) as floats, or raise ValueError."""
    X, r = _check_finite(X, "X"), _check_finite(r, name)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a 2-D array of shape (m, n) with m >= 1, got {X.shape}")
    if r.shape != (X.shape[0],):
        raise ValueError(f"{name} must have shape ({X.shape[0]},), one entry per row of X, "
                         f"got {r.shape}")
    _check_bound(X.shape[0] * _largest(X) * _largest(r), f"m max|X| max|{name}|, a bound on "
                 f"X^T {name},")
    return X, r


def _check_model(X: np.ndarray, y: np.ndarray, w: np.ndarray,
                 b: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    X, y = _check_rows(X, y, "y")
    w = _check_finite(w, "w")
    if w.shape != (X.shape[1],):
        raise ValueError(f"w must have shape ({X.shape[1]},) to match X, got {w.shape}")
    if np.ndim(b) != 0:
        raise ValueError(f"b must be a scalar, got shape {np.shape(b)}")
    b = float(_check_finite(b, "b"))
    # S bounds every residual |x_i . w + b - y_i|; the sums of the loss and the gradient
    # add m terms of size at most 2 S^2 and 2 S max|X|.
    X_max = _largest(X)
    S = X_max * _largest(w) * w.size + abs(b) + _largest(y)
    _check_bound(2 * X.shape[0] * max(S * S, S * X_max, S),
                 "2 m max(S^2, S max|X|, S) with S = max|X| n max|w| + |b| + max|y|")
    return X, y, w, b


def _is_integer(v: int, smallest: int) -> bool:
    """True for an int or NumPy integer (not a bool, not an array) of at least smallest."""
    return (not isinstance(v, bool) and isinstance(v, int | np.integer)
            and v >= smallest)


def _check_size(m: int, n: int, seed: int) -> None:
    if not (_is_integer(m, 1) and _is_integer(n, 1)):
        raise ValueError(f"m and n must be positive integers, got m={m!r}, n={n!r}")
    if not _is_integer(seed, 0):
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
