"""Softmax regression with cross-entropy, for C classes.

Code for the page docs/models/softmax-regression.md; each function names the equation of
that page it computes. Needs NumPy only.
"""

from __future__ import annotations

import numpy as np


# --8<-- [start:naive]
def naive_softmax(z: np.ndarray) -> np.ndarray:
    """Softmax exactly as eq. (1) writes it; exp overflows once some z_k > 709."""
    z = _check_logits(z)
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)
# --8<-- [end:naive]


# --8<-- [start:jacobian]
def softmax_jacobian(z: np.ndarray) -> np.ndarray:
    """Jacobian of the softmax at z, shape (C, C), entry [k, c] as in eq. (2)."""
    s = softmax(_check_vector(z, "z"))
    return np.diag(s) - np.outer(s, s)      # s_k delta_kc - s_k s_c
# --8<-- [end:jacobian]


# --8<-- [start:stable]
def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax along the last axis, computed as in eq. (3): never overflows."""
    z = _check_logits(z)
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))   # every exponent <= 0
    return e / np.sum(e, axis=-1, keepdims=True)
# --8<-- [end:stable]


# --8<-- [start:log-softmax]
def log_sum_exp(z: np.ndarray) -> np.ndarray:
    """log(sum_c exp(z_c)) along the last axis, shifted by the maximum: eq. (4)."""
    z = _check_logits(z)
    M, rest = _top_and_rest(z)
    return M[..., 0] + np.log1p(rest[..., 0])


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Log of the softmax along the last axis, z_k minus log-sum-exp: eq. (4)."""
    z = _check_logits(z)
    M, rest = _top_and_rest(z)
    return (z - M) - np.log1p(rest)       # z_k - M first: 0 exactly for the top entry
# --8<-- [end:log-softmax]


# --8<-- [start:loss-example]
def one_hot(y: int, C: int) -> np.ndarray:
    """The one-hot vector e(y) of eq. (5): a 1 at position y, zeros elsewhere."""
    C = _check_classes(C)
    e = np.zeros(C)
    e[_check_label(y, C)] = 1.0
    return e


def example_loss(p: np.ndarray, y: int) -> float:
    """Cross-entropy of one example from its probabilities p (C,): eq. (5)."""
    p, y = _check_probabilities(p, y)
    return float(-np.log(p[y]))   # of the sum over k, only the term k = y is left
# --8<-- [end:loss-example]


# --8<-- [start:dloss-dp]
def dloss_dp(p: np.ndarray, y: int) -> np.ndarray:
    """Gradient of one example's loss with respect to its probabilities p: eq. (6)."""
    p, y = _check_probabilities(p, y)
    return -one_hot(y, p.size) / p[y]
# --8<-- [end:dloss-dp]


# --8<-- [start:dloss-dz]
def dloss_dz(z: np.ndarray, y: int) -> np.ndarray:
    """Gradient of one example's loss with respect to its logits z: eq. (7)."""
    z = _check_vector(z, "z")
    return softmax(z) - one_hot(y, z.size)
# --8<-- [end:dloss-dz]


# --8<-- [start:forward]
def forward(X: np.ndarray, W: np.ndarray,
            b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logits Z (m, C) and probabilities Y_hat (m, C), one example per row: eq. (8)."""
    X, W, b = _check_model(X, W, b)
    Z = X @ W + b                # (m, n) @ (n, C) + (C,) broadcast over the m rows
    _check_product(Z, X)         # a nan or inf anywhere in X would be in Z
    return Z, softmax(Z)
# --8<-- [end:forward]


# --8<-- [start:loss]
def targets(y: np.ndarray, C: int) -> np.ndarray:
    """The one-hot targets Y (m, C) of eq. (9), from indices (m,) or one-hot rows."""
    y = _check_target_array(y, C)
    return _check_targets(y, y.shape[0], C)


def loss(X: np.ndarray, y: np.ndarray, W: np.ndarray, b: np.ndarray) -> float:
    """Mean cross-entropy over the m examples, from the logits: eq. (9)."""
    Z, _ = forward(X, W, b)
    Y = _check_targets(y, Z.shape[0], Z.shape[1])      # (m, C), one-hot rows
    return float(-np.mean(np.sum(Y * log_softmax(Z), axis=1)))
# --8<-- [end:loss]


# --8<-- [start:example]
def example_gradient(x_i: np.ndarray, y_i: int, W: np.ndarray,
                     b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient of one example's loss with respect to W (n, C) and b (C,): eq. (10)."""
    x_i = _check_vector(x_i, "x_i")
    Z, _ = forward(x_i[np.newaxis, :], W, b)   # one example as a batch of m = 1
    dz = dloss_dz(Z[0], y_i)                   # f(x) - e(y), eq. (7)
    return np.outer(x_i, dz), dz               # dW[j, k] = x_j dz_k; db = dz
# --8<-- [end:example]


# --8<-- [start:grad]
def gradient(X: np.ndarray, y: np.ndarray, W: np.ndarray,
             b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Data-set gradient with respect to W and b in matrix form: eq. (11)."""
    X, W, b = _check_model(X, W, b)
    Z = X @ W + b                    # the forward pass of eq. (8), inputs checked once
    _check_product(Z, X)             # a nan or inf anywhere in X would be in Z
    Y_hat = softmax(Z)
    m, C = Z.shape
    Y = _check_targets(y, m, C)
    dW = X.T @ (Y_hat - Y) / m       # (n, m) @ (m, C) -> (n, C), the shape of W
    db = (Y_hat - Y).T @ np.ones(m) / m   # (C, m) @ (m,) -> (C,), the shape of b
    return _check_gradient(dW), db
# --8<-- [end:grad]


# --8<-- [start:two-classes]
def as_logistic(W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    """Logistic regression weights equal to a two-class softmax model: eq. (12)."""
    _check_two_classes(W, b)
    W, b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return W[:, 1] - W[:, 0], float(b[1] - b[0])
# --8<-- [end:two-classes]


# Input checks, kept out of the sections the page shows.


def _as_array(a: np.ndarray, name: str) -> np.ndarray:
    try:
        return np.asarray(a)
    except ValueError:            # a ragged nested list
        raise ValueError(f"{name} must be a rectangular array of numbers") from None


def _as_real(a: np.ndarray, name: str) -> np.ndarray:
    """Return a as a float array, or raise ValueError if it does not hold real numbers."""
    a = _as_array(a, name)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be an array of real numbers, got dtype {a.dtype}")
    return np.asarray(a, dtype=np.float64)   # no copy of a float64 array


def _is_real_number(value: object) -> bool:
    """Whether value is one finite real number (not an array, a bool or a string)."""
    return (not isinstance(value, (list, tuple, bool, np.bool_, str, bytes))
            and np.ndim(value) == 0
            and np.asarray(value).dtype.kind in "iuf" and bool(np.isfinite(value)))


def _check_finite(a: np.ndarray, name: str) -> np.ndarray:
    a = _as_real(a, name)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite (no inf or nan)")
    return a


def _check_logits(z: np.ndarray) -> np.ndarray:
    """Return z as a finite float array of shape (C,) or (m, C) with C >= 1."""
    z = _check_finite(z, "z")
    if z.ndim not in (1, 2) or z.shape[-1] == 0:
        raise ValueError(f"z must have shape (C,) or (m, C) with C >= 1, got shape {z.shape}")
    return z


def _check_vector(z: np.ndarray, name: str) -> np.ndarray:
    z = _check_finite(z, name)
    if z.ndim != 1 or z.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of shape (C,), got shape {z.shape}")
    return z


def _check_label(y: int, C: int) -> int:
    """Return one class index y in 0..C-1, or raise ValueError."""
    if not (_is_real_number(y) and float(y).is_integer() and 0 <= y < C):
        raise ValueError(f"the label must be one class index in 0..{C - 1}, got {y!r:.60}")
    return int(y)


def _check_classes(C: int) -> int:
    """Return the number of classes C, a positive integer, or raise ValueError."""
    if not (isinstance(C, (int, np.integer)) and not isinstance(C, bool) and C >= 1):
        raise ValueError(f"C must be a positive integer (the number of classes), got {C!r:.60}")
    return int(C)


def _check_target_array(y: np.ndarray, C: int) -> np.ndarray:
    """Return y as an array of shape (m,) or (m, C), after checking C; or raise."""
    _check_classes(C)
    y = _as_array(y, "y")
    if y.ndim not in (1, 2):
        raise ValueError(f"y must be class indices (m,) or one-hot rows (m, {C}), "
                         f"got shape {y.shape}")
    return y


def _check_probabilities(p: np.ndarray, y: int) -> tuple[np.ndarray, int]:
    """Return a probability vector p (C,) with p_y > 0 and its label y, or raise ValueError."""
    p = _check_vector(p, "p")
    if np.any(p < 0.0) or abs(p.sum() - 1.0) > 1e-9:
        raise ValueError(f"p must hold probabilities (>= 0, summing to 1), got sum {p.sum()}")
    y = _check_label(y, p.size)
    if p[y] == 0.0:
        raise ValueError(f"p[{y}] is 0, where -log p[y] is infinite; use the logits instead")
    return p, y


def _are_class_indices(y: np.ndarray, C: int) -> bool:
    """Whether every entry of y is one of the integers 0..C-1, in one pass of comparisons."""
    inside = (y >= 0) & (y < C)
    return bool((inside if y.dtype.kind in "biu" else inside & (y == np.floor(y))).all())


def _check_targets(y: np.ndarray, m: int, C: int) -> np.ndarray:
    """Return the targets as one-hot rows Y (m, C), from class indices (m,) or one-hot rows."""
    y = _as_array(y, "y")
    if y.dtype.kind not in "biuf":
        raise ValueError(f"y must hold numbers (class indices or one-hot rows), got dtype "
                         f"{y.dtype}")
    if y.ndim == 1:
        if y.shape[0] != m:
            raise ValueError(f"y has {y.shape[0]} labels but there are {m} examples")
        if not _are_class_indices(y, C):
            raise ValueError(f"class indices must be integers in 0..{C - 1}, got {y[:5]}")
        return np.eye(C)[y.astype(np.intp, copy=False)]
    if y.shape != (m, C):
        raise ValueError(f"one-hot targets must have shape ({m}, {C}), got shape {y.shape}")
    y = np.asarray(y, dtype=np.float64)
    if not (((y == 0.0) | (y == 1.0)).all() and (y.sum(axis=1) == 1.0).all()):
        raise ValueError("each one-hot row must hold a single 1 and zeros elsewhere")
    return y


def _check_model(X: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
    """Return X (m, n), W (n, C) and b (C,) as float arrays, W and b finite, or raise.

    X is not scanned here: _check_product checks Z = X @ W + b instead.
    """
    X, W, b = _as_real(X, "X"), _check_finite(W, "W"), _check_finite(b, "b")
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a 2-D array of shape (m, n) with m >= 1, got shape {X.shape}")
    if W.ndim != 2 or W.shape[0] != X.shape[1] or W.shape[1] == 0:
        raise ValueError(f"W must have shape ({X.shape[1]}, C) with C >= 1 to match X, "
                         f"got shape {W.shape}")
    if b.shape != (W.shape[1],):
        raise ValueError(f"b must have shape ({W.shape[1]},) = (C,), got shape {b.shape}")
    return X, W, b


# A nan or inf anywhere in X makes its row of Z = X @ W + b non-finite (nan * 0 is nan,
# inf * 0 is nan, inf * x is inf), so checking the m * C logits proves X finite with no
# extra pass over X. Only when they are not is X scanned, to say which input is at fault.


def _check_product(Z: np.ndarray, X: np.ndarray) -> None:
    """Return if the logits Z, computed from X and the finite W and b, are finite; else raise."""
    if not np.isfinite(Z).all():
        _check_finite(X, "X")
        raise ValueError(f"X, W and b are finite, but Z = X @ W + b overflowed float64 "
                         f"(beyond {np.finfo(np.float64).max:.3g}); scale X down")


def _check_gradient(dW: np.ndarray) -> np.ndarray:
    """Return dW if finite. Each entry of Y_hat - Y is in [-1, 1], but X^T adds m terms."""
    if not np.isfinite(dW).all():
        raise ValueError(f"X, W and b are finite, but X^T (Y_hat - Y) overflowed float64 "
                         f"(beyond {np.finfo(np.float64).max:.3g}); scale X down")
    return dW


def _check_two_classes(W: np.ndarray, b: np.ndarray) -> None:
    W, b = _check_finite(W, "W"), _check_finite(b, "b")
    if W.ndim != 2 or W.shape[1] != 2 or b.shape != (2,):
        raise ValueError(f"two classes are needed: W (n, 2) and b (2,), got shapes "
                         f"{W.shape} and {b.shape}")


def _top_and_rest(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """M, one largest entry of each row, and the sum of e^(z_c - M) over the other entries.

    log(1 + rest) by log1p keeps the digits of a tiny rest, where log(sum) rounds to 0.
    """
    top = np.argmax(z, axis=-1)[..., np.newaxis]
    M = np.take_along_axis(z, top, axis=-1)
    others = np.arange(z.shape[-1]) != top
    rest = np.sum(np.exp(z - M), axis=-1, keepdims=True, where=others)
    return M, rest
