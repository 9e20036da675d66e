"""Regularisation terms: L2, L1 and elastic net penalties, and their gradients.

Code for the page docs/losses/regularisation.md; each function names the equation of that
page it computes. Needs NumPy only. A penalty is added to the mean data loss; it is not
divided by m. The weights w may have any shape; sums run over all their entries.
"""

from __future__ import annotations

import numpy as np


# --8<-- [start:l2]
def l2_penalty(w: np.ndarray, lam: float) -> float:
    """L2 penalty, lam times the sum of squared weights: eq. (1)."""
    w, lam = _check_w(w), _check_nonneg(lam, "lam")
    return float(lam * np.sum(w**2))


def l2_penalty_grad(w: np.ndarray, lam: float) -> np.ndarray:
    """Gradient of the L2 penalty with respect to w: eq. (1)."""
    w, lam = _check_w(w), _check_nonneg(lam, "lam")
    return 2.0 * lam * w
# --8<-- [end:l2]


# --8<-- [start:weight-decay]
def gd_step(w: np.ndarray, dw: np.ndarray, lr: float) -> np.ndarray:
    """One plain gradient-descent step, for a loss with gradient dw: eq. (2)."""
    w, dw, lr = _check_step(w, dw, lr)
    return w - lr * dw


def weight_decay_step(w: np.ndarray, dw: np.ndarray, lr: float,
                      weight_decay: float) -> np.ndarray:
    """Shrink w by the factor 1 - lr * weight_decay, then step: eq. (2)."""
    w, dw, lr = _check_step(w, dw, lr)
    weight_decay = _check_nonneg(weight_decay, "weight_decay")
    return (1.0 - lr * weight_decay) * w - lr * dw
# --8<-- [end:weight-decay]


# --8<-- [start:l1]
def l1_penalty(w: np.ndarray, lam: float) -> float:
    """L1 penalty, lam times the sum of absolute weights: eq. (3)."""
    w, lam = _check_w(w), _check_nonneg(lam, "lam")
    return float(lam * np.sum(np.abs(w)))
# --8<-- [end:l1]


# --8<-- [start:l1-grad]
def l1_penalty_grad(w: np.ndarray, lam: float) -> np.ndarray:
    """(Sub)gradient of the L1 penalty, 0 for a weight equal to 0: eq. (4)."""
    w, lam = _check_w(w), _check_nonneg(lam, "lam")
    return lam * np.sign(w)
# --8<-- [end:l1-grad]


# --8<-- [start:soft-threshold]
def soft_threshold(v: np.ndarray, t: float) -> np.ndarray:
    """Move each entry of v towards 0 by t, stopping at 0: eq. (5)."""
    v, t = _check_w(v, "v"), _check_nonneg(t, "t")
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)
# --8<-- [end:soft-threshold]


# --8<-- [start:elastic-net]
def elastic_net_penalty(w: np.ndarray, lam: float, l1_ratio: float = 0.5) -> float:
    """Elastic net, a mix of the L1 and L2 penalties: eq. (6)."""
    w, lam, r = _check_w(w), _check_nonneg(lam, "lam"), _check_ratio(l1_ratio)
    return float(lam * (r * np.sum(np.abs(w)) + (1.0 - r) * np.sum(w**2)))


def elastic_net_penalty_grad(w: np.ndarray, lam: float,
                             l1_ratio: float = 0.5) -> np.ndarray:
    """(Sub)gradient of the elastic net, 0 in the L1 part at w = 0: eq. (6)."""
    w, lam, r = _check_w(w), _check_nonneg(lam, "lam"), _check_ratio(l1_ratio)
    return lam * (r * np.sign(w) + 2.0 * (1.0 - r) * w)
# --8<-- [end:elastic-net]


# Input checks, kept out of the sections the page shows.


def _check_w(w: np.ndarray, name: str = "w") -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    if w.size == 0:
        raise ValueError(f"{name} must be non-empty, got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{name} must be finite (no inf or nan)")
    return w


def _check_nonneg(value: float, name: str) -> float:
    if not (np.ndim(value) == 0 and np.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _check_ratio(l1_ratio: float) -> float:
    if not (np.ndim(l1_ratio) == 0 and 0.0 <= l1_ratio <= 1.0):
        raise ValueError(f"l1_ratio must be a number in [0, 1], got {l1_ratio!r}")
    return float(l1_ratio)


def _check_step(w: np.ndarray, dw: np.ndarray, lr: float) -> tuple[np.ndarray, np.ndarray, float]:
    w, dw = _check_w(w), _check_w(dw, "dw")
    if dw.shape != w.shape:
        raise ValueError(f"dw must have the shape of w {w.shape}, got {dw.shape}")
    return w, dw, _check_nonneg(lr, "lr")
