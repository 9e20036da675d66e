"""Linear regression with the mean squared error.

Code for the page docs/models/linear-regression.md; each function names the equation of
that page it computes. Needs NumPy only.
"""

from __future__ import annotations

import math

import numpy as np


# --8<-- [start:predict]
def predict(X: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """Predictions of the linear model for the m rows of X, shape (m,): eq. (1)."""
    X = _check_X(X)
    w, b = _check_params(X, w, b)
    y_hat = X @ w + b                  # (m, n) @ (n,) -> (m,); b is added to every row
    return _check_product(y_hat, X=X, w=w, b=b)
# --8<-- [end:predict]


# --8<-- [start:loss]
def mse_loss(y_hat: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error over the m examples: eq. (2)."""
    y_hat, y = _check_pair(y_hat, y)
    return float(np.mean((y_hat - y) ** 2))
# --8<-- [end:loss]


# --8<-- [start:example]
def example_gradient(x_i: np.ndarray, y_i: float, w: np.ndarray,
                     b: float) -> tuple[np.ndarray, float]:
    """Gradient of one example's loss in w and b, by the chain rule: eq. (3)."""
    x_i, y_i = _check_example(x_i, y_i)
    w, b = _check_params(x_i[np.newaxis, :], w, b)
    y_hat_i = x_i @ w + b
    dl_dyhat = 2.0 * (y_hat_i - y_i)   # outer derivative
    dw_i = dl_dyhat * x_i              # times d y_hat_i / d w_j = x_ij, for every j
    db_i = dl_dyhat * 1.0              # times d y_hat_i / d b = 1
    return dw_i, float(db_i)
# --8<-- [end:example]


# --8<-- [start:sum]
def gradient_by_sum(X: np.ndarray, y: np.ndarray, w: np.ndarray,
                    b: float) -> tuple[np.ndarray, float]:
    """Data-set gradient as the mean of per-example gradients, a loop: eq. (4)."""
    X, y = _check_finite_data(X, y)
    w, b = _check_params(X, w, b)
    m = X.shape[0]
    dw, db = np.zeros_like(w), 0.0
    for i in range(m):
        dw_i, db_i = example_gradient(X[i], y[i], w, b)
        dw += dw_i
        db += db_i
    return dw / m, db / m
# --8<-- [end:sum]


# --8<-- [start:grad]
def gradient(X: np.ndarray, y: np.ndarray, w: np.ndarray,
             b: float) -> tuple[np.ndarray, float]:
    """Data-set gradient in matrix form, no loop: eq. (5)."""
    X, y = _check_data(X, y)
    w, b = _check_params(X, w, b)
    m = X.shape[0]
    r = X @ w + b - y                  # residuals y_hat - y, shape (m,)
    _check_product(r, X=X, y=y, w=w, b=b)   # a nan or inf in them would be in r
    dw = (2.0 / m) * (X.T @ r)         # (n, m) @ (m,) -> (n,), the shape of w
    db = (2.0 / m) * np.sum(r)         # 1^T r, a scalar like b
    return _check_overflow(dw, db)
# --8<-- [end:grad]


# --8<-- [start:half]
def half_mse_loss(y_hat: np.ndarray, y: np.ndarray) -> float:
    """The loss under the one-half convention: eq. (6), first line."""
    y_hat, y = _check_pair(y_hat, y)
    return float(0.5 * np.mean((y_hat - y) ** 2))


def half_mse_gradient(X: np.ndarray, y: np.ndarray, w: np.ndarray,
                      b: float) -> tuple[np.ndarray, float]:
    """The gradient under the one-half convention: eq. (6), last line."""
    X, y = _check_data(X, y)
    w, b = _check_params(X, w, b)
    r = _check_product(X @ w + b - y, X=X, y=y, w=w, b=b)
    return _check_overflow((X.T @ r) / X.shape[0], np.mean(r))
# --8<-- [end:half]


# --8<-- [start:step]
def gradient_descent_step(w: np.ndarray, b: float, dw: np.ndarray, db: float,
                          lr: float) -> tuple[np.ndarray, float]:
    """One gradient-descent update of w and b with learning rate lr: eq. (7)."""
    w, dw = _check_step(w, dw, lr, b, db)
    return w - lr * dw, float(b - lr * db)
# --8<-- [end:step]


# --8<-- [start:fit]
def fit(X: np.ndarray, y: np.ndarray, lr: float,
        n_iters: int) -> tuple[np.ndarray, float, np.ndarray]:
    """Gradient descent from w = 0, b = 0, repeating eq. (7) n_iters times.

    Returns w, b and the loss before each update, shape (n_iters,).
    """
    X, y = _check_finite_data(X, y)       # once: each step then checks its products
    _check_iterations(n_iters)
    w, b = np.zeros(X.shape[1]), 0.0
    losses = np.empty(n_iters)
    for t in range(n_iters):
        losses[t] = mse_loss(predict(X, w, b), y)
        dw, db = gradient(X, y, w, b)
        w, b = gradient_descent_step(w, b, dw, db, lr)
    return w, b, losses
# --8<-- [end:fit]


# --8<-- [start:normal]
def normal_equation(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Exact minimiser of eq. (2), from the normal equations with A = [X 1]: eq. (8)."""
    X, y = _check_finite_data(X, y)
    A = np.column_stack([X, np.ones(X.shape[0])])   # (m, n + 1)
    _check_full_rank(A)
    theta = np.linalg.solve(A.T @ A, A.T @ y)       # solve, never invert explicitly
    return theta[:-1], float(theta[-1])
# --8<-- [end:normal]


# Input checks, kept out of the sections the page shows.


# Finiteness is checked on what is computed from the inputs rather than on X itself: a nan
# or inf anywhere in X, y, w or b makes X @ w + b - y non-finite (nan * 0 is nan, inf * 0
# is nan, inf * x is inf). Checking those m numbers costs no extra pass over X. Only when
# they are not finite are the inputs scanned, to name the one at fault; if none is, the
# product overflowed.


def _check_product(p: np.ndarray, **inputs: np.ndarray | float) -> np.ndarray:
    """Return p, computed from the inputs, if it is finite; otherwise raise ValueError."""
    if not np.isfinite(p).all():
        _raise_for(inputs)
    return p


def _check_overflow(dw: np.ndarray, db: float) -> tuple[np.ndarray, float]:
    """Return dw and db, computed from finite residuals, if they are finite; else raise."""
    if not (np.isfinite(dw).all() and math.isfinite(db)):
        raise ValueError(_OVERFLOW.format("the residuals r", "X^T r or 1^T r"))
    return dw, float(db)


def _raise_for(inputs: dict[str, np.ndarray | float]) -> None:
    """Raise ValueError naming the first input that is not finite, or else the overflow."""
    _check_finite(**inputs)
    raise ValueError(_OVERFLOW.format(", ".join(inputs), "X @ w + b"))


_OVERFLOW = ("{} are finite, but {} overflowed float64 (beyond "
             f"{np.finfo(np.float64).max:.3g}); scale the inputs down")


def _check_finite(**arrays: np.ndarray | float) -> None:
    """Raise ValueError naming the first of the arrays that holds an inf or a nan."""
    for name, a in arrays.items():
        if not np.isfinite(a).all():
            raise ValueError(f"{name} must be finite (no inf or nan)")


def _check_X(X: np.ndarray) -> np.ndarray:
    """Return X as a float array of shape (m, n), m >= 1, or raise ValueError."""
    X = np.asarray(X, dtype=np.float64)     # no copy of a float64 array
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array of shape (m, n), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError("at least one example is needed, got m = 0")
    return X


def _check_data(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return X (m, n) and y (m,) as float arrays, or raise ValueError naming the problem.

    Their finiteness is left to _check_product, or to _check_finite_data.
    """
    X, y = _check_X(X), np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D array of shape (m,), got shape {y.shape}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows (examples) but y has {y.shape[0]} entries")
    return X, y


def _check_finite_data(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """_check_data, and a scan of X and y for inf and nan."""
    X, y = _check_data(X, y)
    _check_finite(X=X, y=y)
    return X, y


def _check_example(x_i: np.ndarray, y_i: float) -> tuple[np.ndarray, float]:
    """Return one example as a float vector x_i (n,) and a float y_i, or raise ValueError."""
    if np.ndim(x_i) != 1:
        raise ValueError(f"x_i must be a 1-D array of shape (n,), got shape {np.shape(x_i)}")
    if np.ndim(y_i) != 0:
        raise ValueError(f"y_i must be a scalar, got shape {np.shape(y_i)}")
    X, y = _check_finite_data(np.reshape(x_i, (1, -1)), np.reshape(y_i, (1,)))
    return X[0], float(y[0])


def _check_params(X: np.ndarray, w: np.ndarray, b: float) -> tuple[np.ndarray, float]:
    """Return w (n,) and b as floats matching X, or raise ValueError naming the problem."""
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (X.shape[1],):
        raise ValueError(f"w must have shape ({X.shape[1]},) to match X, got shape {w.shape}")
    if not _is_scalar(b):
        raise ValueError(f"b must be a scalar, got shape {np.shape(b)}")
    return w, float(b)


def _is_scalar(b: object) -> bool:
    """np.ndim(b) == 0, answered without making an array for a plain number."""
    return isinstance(b, (float, int, np.floating, np.integer)) or np.ndim(b) == 0


def _check_step(w: np.ndarray, dw: np.ndarray, lr: float, b: float,
                db: float) -> tuple[np.ndarray, np.ndarray]:
    """Return w and dw as float arrays of one shape, or raise ValueError; lr must be > 0."""
    if np.ndim(b) != 0 or np.ndim(db) != 0:
        raise ValueError(f"b and db must be scalars, got shapes {np.shape(b)} and {np.shape(db)}")
    if np.ndim(lr) != 0 or not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"the learning rate must be a positive finite number, got {lr!r}")
    w, dw = np.asarray(w, dtype=np.float64), np.asarray(dw, dtype=np.float64)
    if w.shape != dw.shape:
        raise ValueError(f"dw must have the shape of w, {w.shape}, got {dw.shape}")
    return w, dw


def _check_iterations(n_iters: int) -> None:
    if not (isinstance(n_iters, (int, np.integer)) and n_iters >= 1):
        raise ValueError(f"n_iters must be a positive integer, got {n_iters!r}")


def _check_full_rank(A: np.ndarray) -> None:
    rank = np.linalg.matrix_rank(A)
    if rank < A.shape[1]:
        raise ValueError(f"[X 1] has rank {rank} < n + 1 = {A.shape[1]}: "
                         "the minimiser is not unique")


def _check_pair(y_hat: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return y_hat and y as float vectors of one length, or raise ValueError."""
    y_hat, y = np.asarray(y_hat, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if y_hat.ndim != 1 or y.ndim != 1:
        raise ValueError(f"y_hat and y must be 1-D, got shapes {y_hat.shape} and {y.shape}")
    if y_hat.shape != y.shape:
        raise ValueError(f"y_hat has {y_hat.size} entries but y has {y.size}")
    if y.size == 0:
        raise ValueError("at least one example is needed, got m = 0")
    if not (np.isfinite(y_hat).all() and np.isfinite(y).all()):
        raise ValueError("y_hat and y must be finite (no inf or nan)")
    return y_hat, y
