"""Vectorisation: one gradient as a loop over examples and as one matrix expression.

Code for the page docs/foundations/vectorisation.md; each function names the equation of
that page it computes. Needs NumPy only.
"""

from __future__ import annotations

import numpy as np


def _check_finite(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (no inf or nan)")
    return a


def _check_rows(X: np.ndarray, r: np.ndarray,
                name: str = "r") -> tuple[np.ndarray, np.ndarray]:
    """Return X (m, n) and r (m,) as floats, or raise ValueError."""
    X, r = _check_finite(X, "X"), _check_finite(r, name)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a 2-D array of shape (m, n) with m >= 1, got {X.shape}")
    if r.shape != (X.shape[0],):
        raise ValueError(f"{name} must have shape ({X.shape[0]},), one entry per row of X, "
                         f"got {r.shape}")
    return X, r


def _check_model(X: np.ndarray, y: np.ndarray, w: np.ndarray,
                 b: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    X, y = _check_rows(X, y, "y")
    w = _check_finite(w, "w")
    if w.shape != (X.shape[1],):
        raise ValueError(f"w must have shape ({X.shape[1]},) to match X, got {w.shape}")
    if np.ndim(b) != 0:
        raise ValueError(f"b must be a scalar, got shape {np.shape(b)}")
    return X, y, w, float(_check_finite(b, "b"))


def _check_size(m: int, n: int) -> None:
    if int(m) != m or int(n) != n or m < 1 or n < 1:
        raise ValueError(f"m and n must be positive integers, got m={m!r}, n={n!r}")


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
    _check_size(m, n)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n))
    y = rng.standard_normal(m)
    w = rng.standard_normal(n)
    return X, y, w, float(rng.standard_normal())
# --8<-- [end:problem]
