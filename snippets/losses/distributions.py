"""Losses between probability distributions: KL divergence and negative log-likelihood.

Code for the page docs/losses/distributions.md; each function names the equation of that
page it computes. Needs NumPy only. Predictions are log-probabilities log_q (or logits z)
of shape (m, C); targets are distributions p of shape (m, C), or class indices y of shape
(m,) (one-hot rows of shape (m, C) are accepted in their place). Every loss is the mean over the m examples.
"""

from __future__ import annotations

import numpy as np

#: How far a row of p may sum from 1, and the log-sum-exp of a row of log_q lie from 0
#: (rounding in the caller's normalisation).
ROW_SUM_ATOL = 1e-6


def _check_matrix(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array of shape (m, C), "
                         f"got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (no inf or nan)")
    return a


def _check_log_q(log_q: np.ndarray) -> np.ndarray:
    log_q = _check_matrix(log_q, "log_q")
    if np.any(log_q > 0):
        raise ValueError("log_q must hold log-probabilities, which are <= 0; got max "
                         f"{log_q.max()}. For raw scores, use the logits functions")
    top = np.max(log_q, axis=1, keepdims=True)
    lse = (top + np.log(np.sum(np.exp(log_q - top), axis=1, keepdims=True)))[:, 0]
    if np.any(np.abs(lse) > ROW_SUM_ATOL):
        raise ValueError("each row of log_q must be normalised, exp(log_q) summing to 1"
                         f" (log-sum-exp 0); got log-sum-exp between {lse.min()} and "
                         f"{lse.max()}. Apply log_softmax to raw scores first")
    return log_q


def _check_p(p: np.ndarray, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Rows of probabilities >= 0 that sum to 1, of the given shape (if any), or raise."""
    p = _check_matrix(p, "p")
    if shape is not None and p.shape != shape:
        raise ValueError(f"p must have shape {shape}, got {p.shape}")
    if np.any(p < 0):
        raise ValueError(f"p must hold probabilities >= 0, got min {p.min()}")
    sums = p.sum(axis=1)
    if np.any(np.abs(sums - 1.0) > ROW_SUM_ATOL):
        raise ValueError(f"each row of p must sum to 1, got sums between {sums.min()} "
                         f"and {sums.max()}")
    return p


def _check_pair(log_q: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    log_q = _check_log_q(log_q)
    return log_q, _check_p(p, log_q.shape)


def _check_logits(z: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = _check_matrix(z, "z")
    return z, _check_p(p, z.shape)


def _check_indices(y: np.ndarray, m: int, C: int) -> np.ndarray:
    """Return class indices (m,) from indices (m,) or one-hot rows (m, C), or raise."""
    y = np.asarray(y)
    if y.shape == (m, C) and C > 1:
        if not (np.all(np.isin(y, (0, 1))) and np.all(y.sum(axis=1) == 1)):
            raise ValueError("one-hot rows of y must hold a single 1 and zeros elsewhere")
        return np.argmax(y, axis=1)
    if y.shape != (m,):
        raise ValueError(f"y must be class indices of shape ({m},) or one-hot rows of shape "
                         f"({m}, {C}), got shape {y.shape}")
    whole = np.all(np.isfinite(y)) and np.all(np.mod(y, 1) == 0)   # no warning on inf
    if not (np.issubdtype(y.dtype, np.integer) or whole):
        raise ValueError(f"class indices must be whole numbers, got {y[:5]}")
    if np.any((y < 0) | (y >= C)):
        raise ValueError(f"class indices must lie in 0..{C - 1}, got {y.min()}..{y.max()}")
    return y.astype(np.intp)


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x * log(y), with 0 where x == 0 (even if y == 0), and no warning."""
    return np.where(x > 0, x * np.log(np.where(x > 0, y, 1.0)), 0.0)


# --8<-- [start:kl]
def kl_div_loss(log_q: np.ndarray, p: np.ndarray) -> float:
    """KL divergence of q from p, mean over the m rows: eq. (1)."""
    log_q, p = _check_pair(log_q, p)
    per_row = np.sum(_xlogy(p, p) - p * log_q, axis=1)     # (m,)
    return float(np.mean(per_row))
# --8<-- [end:kl]


# --8<-- [start:kl-grad]
def kl_div_grad(log_q: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Gradient of the mean KL divergence with respect to log_q: eq. (2)."""
    log_q, p = _check_pair(log_q, p)
    return -p / log_q.shape[0]
# --8<-- [end:kl-grad]


# --8<-- [start:link]
def entropy(p: np.ndarray) -> float:
    """Entropy of the rows of p, mean over the m rows: eq. (3)."""
    p = _check_p(p)
    return float(np.mean(-np.sum(_xlogy(p, p), axis=1)))


def soft_cross_entropy_loss(log_q: np.ndarray, p: np.ndarray) -> float:
    """Cross-entropy of log_q against target rows p, mean over m: eq. (3)."""
    log_q, p = _check_pair(log_q, p)
    return float(np.mean(-np.sum(p * log_q, axis=1)))
# --8<-- [end:link]


# --8<-- [start:log-softmax]
def naive_log_softmax(z: np.ndarray) -> np.ndarray:
    """Eq. (4) as written: exp overflows once a logit exceeds 709."""
    z = _check_matrix(z, "z")
    return np.log(np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True))


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Log-softmax of each row, shifted by the row maximum: eq. (4)."""
    z = _check_matrix(z, "z")
    top = np.argmax(z, axis=1)[:, None]           # one largest entry per row
    s = z - np.take_along_axis(z, top, axis=1)    # 0 there, <= 0 elsewhere: exp <= 1
    rest = np.arange(z.shape[1]) != top           # every other entry
    return s - np.log1p(np.sum(np.exp(s), axis=1, keepdims=True, where=rest))
# --8<-- [end:log-softmax]


# --8<-- [start:kl-logits]
def kl_div_logits_grad(z: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Gradient of the mean KL divergence in the logits z: eq. (5)."""
    z, p = _check_logits(z, p)
    q = np.exp(log_softmax(z))                            # softmax, (m, C)
    dz = q - p
    top = np.argmax(z, axis=1)[:, None]                   # where q may be close to 1
    rest = np.sum(dz, axis=1, keepdims=True, where=np.arange(z.shape[1]) != top)
    np.put_along_axis(dz, top, -rest, axis=1)             # each row of q - p sums to 0
    return dz / z.shape[0]
# --8<-- [end:kl-logits]


# --8<-- [start:nll]
def nll_loss(log_q: np.ndarray, y: np.ndarray) -> float:
    """Negative log-likelihood of class indices y, mean over m: eq. (6)."""
    log_q = _check_log_q(log_q)
    m, C = log_q.shape
    y = _check_indices(y, m, C)
    return float(-np.mean(log_q[np.arange(m), y]))   # log q_{i, y_i} of each row


def nll_grad(log_q: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of the mean NLL with respect to log_q: eq. (6)."""
    log_q = _check_log_q(log_q)
    m, C = log_q.shape
    y = _check_indices(y, m, C)
    dlog_q = np.zeros((m, C))
    dlog_q[np.arange(m), y] = -1.0 / m
    return dlog_q
# --8<-- [end:nll]


# --8<-- [start:nll-logits]
def nll_logits_grad(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of the NLL of log_softmax(z) with respect to z: eq. (7)."""
    z = _check_matrix(z, "z")
    m, C = z.shape
    y = _check_indices(y, m, C)
    dz = np.exp(log_softmax(z))                           # softmax, (m, C)
    wrong = np.arange(C) != y[:, None]                    # (m, C), False at y_i
    dz[np.arange(m), y] = -np.sum(dz, axis=1, where=wrong)   # q_y - 1 = -(1 - q_y)
    return dz / m
# --8<-- [end:nll-logits]
