"""Logistic regression with binary cross-entropy.

Code for the page docs/models/logistic-regression.md; each function names the equation of
that page it computes. Needs NumPy only.
"""

from __future__ import annotations

import numpy as np


# --8<-- [start:sigmoid]
def sigmoid(z: np.ndarray) -> np.ndarray:
    """The sigmoid exactly as eq. (1) writes it; exp overflows for z < -709."""
    z = np.asarray(z, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-z))
# --8<-- [end:sigmoid]


# --8<-- [start:sigmoid-derivative]
def sigmoid_derivative(z: np.ndarray) -> np.ndarray:
    """Derivative of the sigmoid, from its own value: eq. (2)."""
    a = stable_sigmoid(z)
    return a * (1.0 - a)
# --8<-- [end:sigmoid-derivative]


# --8<-- [start:forward]
def forward(X: np.ndarray, w: np.ndarray, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Logits z (m,) and probabilities a (m,) of the model: eq. (3)."""
    X, w, b = _check_model(X, w, b)
    z = X @ w + b                # (m, n) @ (n,) -> (m,)
    _check_product(z, X=X, w=w, b=b)   # any nan or inf in them would be in z
    a = stable_sigmoid(z)        # elementwise, (m,)
    return z, a
# --8<-- [end:forward]


# --8<-- [start:loss]
def bce_loss(a: np.ndarray, y: np.ndarray) -> float:
    """Binary cross-entropy of probabilities a and labels y, mean over m: eq. (4)."""
    a, y = _check_probabilities(a, y)
    losses = -(y * np.log(a) + (1.0 - y) * np.log(1.0 - a))   # one per example, (m,)
    return float(np.mean(losses))
# --8<-- [end:loss]


# --8<-- [start:likelihood]
def likelihood(a: np.ndarray, y: np.ndarray) -> float:
    """Product over the m examples of a_i^y_i (1 - a_i)^(1 - y_i): before eq. (5)."""
    a, y = _check_probabilities(a, y)
    return _check_likelihood(float(np.prod(a**y * (1.0 - a) ** (1.0 - y))))


def negative_mean_log_likelihood(a: np.ndarray, y: np.ndarray) -> float:
    """Minus the mean log of each example's a_i^y_i (1 - a_i)^(1 - y_i): eq. (5)."""
    a, y = _check_probabilities(a, y)
    log_p = np.log(a**y * (1.0 - a) ** (1.0 - y))   # one log-probability per example
    return float(-np.mean(log_p))                   # no product: nothing underflows
# --8<-- [end:likelihood]


# --8<-- [start:dloss-da]
def dloss_da(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Derivative of each example's loss with respect to its a_i: eq. (6)."""
    a, y = _check_probabilities(a, y)
    return -y / a + (1.0 - y) / (1.0 - a)
# --8<-- [end:dloss-da]


# --8<-- [start:dloss-dz]
def dloss_dz(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Derivative of each example's loss with respect to its logit z_i: eq. (7)."""
    a, y = _check_activations(a, y)   # a in [0, 1]: a - y is finite even when saturated
    return a - y
# --8<-- [end:dloss-dz]


# --8<-- [start:squared-error]
def squared_error_dz(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Derivative in z of the squared error (a - y)^2 after a sigmoid: eq. (8)."""
    z, y = _check_logits(z, y)
    a = stable_sigmoid(z)
    return 2.0 * (a - y) * a * (1.0 - a)   # the sigmoid's slope a (1 - a) stays
# --8<-- [end:squared-error]


# --8<-- [start:example]
def example_gradient(x_i: np.ndarray, y_i: float, w: np.ndarray,
                     b: float) -> tuple[np.ndarray, float]:
    """Gradient of one example's loss with respect to w and b: eq. (9)."""
    x_i, y_i = _check_example(x_i, y_i)
    z, a = forward(x_i[np.newaxis, :], w, b)   # one example as a batch of m = 1
    dz = a[0] - y_i                            # eq. (7)
    return dz * x_i, float(dz)                 # times dz/dw_j = x_j and dz/db = 1
# --8<-- [end:example]


# --8<-- [start:grad]
def gradient(X: np.ndarray, y: np.ndarray, w: np.ndarray,
             b: float) -> tuple[np.ndarray, float]:
    """Data-set gradient in matrix form: eq. (10)."""
    X, w, b = _check_model(X, w, b)
    z = X @ w + b                # the forward pass of eq. (3), inputs checked once
    _check_product(z, X=X, w=w, b=b)
    a = stable_sigmoid(z)
    y = _check_labels(y, z.size)
    m = z.size
    dw = (X.T @ (a - y)) / m     # (n, m) @ (m,) -> (n,), the shape of w
    db = np.sum(a - y) / m       # 1^T (a - y) / m, a scalar like b
    return _check_gradient(dw), float(db)
# --8<-- [end:grad]


# --8<-- [start:naive]
def naive_loss_from_logits(z: np.ndarray, y: np.ndarray) -> float:
    """Eq. (4) applied to a = sigmoid(z) as written: inf or nan once |z| is large."""
    z, y = _check_logits(z, y)
    a = sigmoid(z)
    return float(np.mean(-(y * np.log(a) + (1.0 - y) * np.log(1.0 - a))))
# --8<-- [end:naive]


# --8<-- [start:stable-loss]
def loss_from_logits(z: np.ndarray, y: np.ndarray) -> float:
    """Binary cross-entropy from the logits, finite for every finite z: eq. (11)."""
    z, y = _check_logits(z, y)
    losses = y * np.logaddexp(0.0, -z) + (1.0 - y) * np.logaddexp(0.0, z)   # (m,)
    return float(np.mean(losses))
# --8<-- [end:stable-loss]


# --8<-- [start:stable-sigmoid]
def stable_sigmoid(z: np.ndarray) -> np.ndarray:
    """The sigmoid of eq. (1) in the form of eq. (12): exp is only taken of z <= 0."""
    z = _check_finite(z, "z")
    e = np.exp(-np.abs(z))                   # in (0, 1]: never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
# --8<-- [end:stable-sigmoid]


def _check_activations(a: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return a (m,) in the closed interval [0, 1] and y (m,) of 0s and 1s, or raise."""
    a = _check_finite(a, "a")
    if a.ndim != 1:
        raise ValueError(f"a must be a 1-D array of shape (m,), got shape {a.shape}")
    y = _check_labels(y, a.size)
    if np.any((a < 0.0) | (a > 1.0)):
        raise ValueError(f"sigmoid outputs a must lie in [0, 1], got min {a.min()}, "
                         f"max {a.max()}")
    return a, y


def _check_likelihood(value: float) -> float:
    """Return a product of probabilities, or raise if it fell below the normal floats."""
    if value < np.finfo(np.float64).tiny:
        raise ValueError(f"the likelihood {value:.3g} is below {np.finfo(np.float64).tiny:.3g}, "
                         "the smallest normal float64, and has lost its digits; use the mean "
                         "log-likelihood, negative_mean_log_likelihood, instead")
    return value


# Input checks, kept out of the sections the page shows.


def _check_finite(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)     # no copy of a float64 array
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite (no inf or nan)")
    return a


# X is not scanned for inf and nan: a nan or inf anywhere in X, w or b makes z = X @ w + b
# non-finite (nan * 0 is nan, inf * 0 is nan, inf * x is inf), so checking those m numbers
# costs no extra pass over X. Only when z is not finite are the inputs scanned, to name the
# one at fault.


def _check_product(z: np.ndarray, **inputs: np.ndarray | float) -> None:
    """Return if z, computed from the inputs, is finite; otherwise raise ValueError."""
    if not np.isfinite(z).all():
        for name, value in inputs.items():
            _check_finite(value, name)
        raise ValueError(f"{', '.join(inputs)} are finite, but z = X @ w + b overflowed "
                         f"float64 (beyond {np.finfo(np.float64).max:.3g}); scale X down")


def _check_gradient(dw: np.ndarray) -> np.ndarray:
    """Return dw if finite. Each |a_i - y_i| <= 1, but X^T (a - y) adds m terms of X."""
    if not np.isfinite(dw).all():
        raise ValueError(f"X, w and b are finite, but X^T (a - y) overflowed float64 "
                         f"(beyond {np.finfo(np.float64).max:.3g}); scale X down")
    return dw


def _check_labels(y: np.ndarray, m: int | None = None) -> np.ndarray:
    """Return y as a float vector of 0s and 1s (of length m if given), or raise ValueError."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"y must be a non-empty 1-D array of shape (m,), got shape {y.shape}")
    if m is not None and y.size != m:
        raise ValueError(f"y has {y.size} entries but there are {m} examples")
    # Every entry is 0 or 1 exactly when the non-zero entries are the ones (nan is non-zero).
    if np.count_nonzero(y) != np.count_nonzero(y == 1.0):
        bad = (y != 0.0) & (y != 1.0)
        raise ValueError(f"labels must be 0 or 1, got {y[bad][:5]}")
    return y


def _check_probabilities(a: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return a (m,) strictly inside (0, 1) and y (m,) of 0s and 1s, or raise ValueError."""
    a = _check_finite(a, "a")
    if a.ndim != 1:
        raise ValueError(f"a must be a 1-D array of shape (m,), got shape {a.shape}")
    y = _check_labels(y, a.size)
    if np.any((a <= 0.0) | (a >= 1.0)):
        raise ValueError("probabilities a must lie strictly between 0 and 1, where the log is "
                         f"finite; got min {a.min()}, max {a.max()}. Near 0 or 1, compute the "
                         "loss from the logit z with loss_from_logits instead")
    return a, y


def _check_logits(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = _check_finite(z, "z")
    if z.ndim != 1:
        raise ValueError(f"z must be a 1-D array of shape (m,), got shape {z.shape}")
    return z, _check_labels(y, z.size)


def _check_model(X: np.ndarray, w: np.ndarray, b: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Return X (m, n), w (n,) and b as float arrays and a float, or raise ValueError.

    Their finiteness is left to _check_product, after the model has used them.
    """
    X, w = np.asarray(X, dtype=np.float64), np.asarray(w, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a 2-D array of shape (m, n) with m >= 1, got shape {X.shape}")
    if w.shape != (X.shape[1],):
        raise ValueError(f"w must have shape ({X.shape[1]},) to match X, got shape {w.shape}")
    if not (isinstance(b, (float, int, np.floating, np.integer)) or np.ndim(b) == 0):
        raise ValueError(f"b must be a scalar, got shape {np.shape(b)}")
    return X, w, float(b)


def _check_example(x_i: np.ndarray, y_i: float) -> tuple[np.ndarray, float]:
    if np.ndim(x_i) != 1:
        raise ValueError(f"x_i must be a 1-D array of shape (n,), got shape {np.shape(x_i)}")
    if np.ndim(y_i) != 0:
        raise ValueError(f"y_i must be a scalar label, got shape {np.shape(y_i)}")
    return _check_finite(x_i, "x_i"), float(_check_labels(np.reshape(y_i, (1,)))[0])
