"""Classification losses: cross-entropy in its forms, focal, logistic, hinge, exponential.

Code for the page docs/losses/classification.md; each function names the equation of that
page it computes. Needs NumPy only.

Signature: ``<name>_loss(z, y)`` is the mean over all entries, ``<name>_grad(z, y)`` is the
gradient of that mean with respect to the first argument, with its shape.
"""

from __future__ import annotations

import numpy as np


def _check_finite(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (no inf or nan)")
    return a


def _check_pair(z: np.ndarray, y: np.ndarray, name: str, ndims: tuple[int, ...],
                labels: tuple[float, ...] | None) -> tuple[np.ndarray, np.ndarray]:
    """z and y as float arrays of one shape, with labels in the given set (or in [0, 1])."""
    z = _check_finite(z, name)
    if z.ndim not in ndims or z.size == 0:
        want = " or ".join(("(m,)", "(m, C)")[d - 1] for d in ndims)
        raise ValueError(f"{name} must be a non-empty array of shape {want}, got shape {z.shape}")
    y = _check_finite(y, "y")
    if y.shape != z.shape:
        raise ValueError(f"y must have the shape of {name}, {z.shape}, got shape {y.shape}")
    if labels is None:
        if np.any((y < 0.0) | (y > 1.0)):
            raise ValueError(f"targets y must lie in [0, 1], got min {y.min()}, max {y.max()}")
    else:
        bad = ~np.isin(y, labels)
        if np.any(bad):
            raise ValueError(f"labels must be in {set(labels)}, got {y[bad][:5]}")
    return z, y


def _check_probabilities(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, y = _check_pair(p, y, "p", (1,), None)
    if np.any((p <= 0.0) | (p >= 1.0)):
        raise ValueError("probabilities p must lie strictly between 0 and 1, where the log is "
                         f"finite; got min {p.min()}, max {p.max()}. Near 0 or 1, use the "
                         "logits and bce_with_logits_loss instead")
    return p, y


def _check_soft_binary(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _check_pair(z, y, "z", (1,), None)


def _check_multilabel(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _check_pair(z, y, "z", (2,), None)


def _check_focal(z: np.ndarray, y: np.ndarray, alpha: float | None,
                 gamma: float) -> tuple[np.ndarray, np.ndarray]:
    z, y = _check_pair(z, y, "z", (1, 2), (0.0, 1.0))
    if alpha is not None and not (np.ndim(alpha) == 0 and 0.0 <= alpha <= 1.0):
        raise ValueError(f"alpha must be None or a number in [0, 1], got {alpha!r}")
    _check_gamma(gamma)
    return z, y


def _check_gamma(gamma: float) -> None:
    if not (np.ndim(gamma) == 0 and np.isfinite(gamma) and gamma >= 0.0):
        raise ValueError(f"gamma must be a finite number >= 0, got {gamma!r}")


def _check_signed(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _check_pair(z, y, "z", (1,), (-1.0, 1.0))


def _check_exponent(t: np.ndarray) -> None:
    if np.any(t > _LOG_MAX):
        raise ValueError(f"the exponential loss overflows float64 where -y z > {_LOG_MAX:.2f}; "
                         f"got -y z up to {t.max()}: the loss itself is not representable")


#: log of the largest float64: e^t is finite for t up to here.
_LOG_MAX = float(np.log(np.finfo(np.float64).max))


def _check_classes(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logits (m, C) with C >= 2 and y as a one-hot (m, C) float matrix.

    y may be class indices of shape (m,) or one-hot rows of shape (m, C).
    """
    z = _check_finite(z, "z")
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] < 2:
        raise ValueError(f"z must have shape (m, C) with m >= 1 and C >= 2, got shape {z.shape}")
    m, C = z.shape
    y = np.asarray(y)
    if y.shape == (m,):
        whole = np.all(np.isfinite(y)) and np.all(np.mod(y, 1) == 0)   # no warning on inf
        if not (np.issubdtype(y.dtype, np.integer) or whole):
            raise ValueError(f"class indices must be whole numbers, got {y[:5]}")
        if np.any((y < 0) | (y >= C)):
            raise ValueError(f"class indices must lie in 0..{C - 1}, got {y[(y < 0) | (y >= C)][:5]}")
        return z, np.eye(C)[y.astype(int)]
    if y.shape != (m, C):
        raise ValueError(f"y must be class indices of shape ({m},) or one-hot rows of shape "
                         f"({m}, {C}), got shape {y.shape}")
    y = _check_finite(y, "y")
    if not (np.all(np.isin(y, (0.0, 1.0))) and np.all(y.sum(axis=1) == 1.0)):
        raise ValueError("one-hot rows of y must hold a single 1 and zeros elsewhere")
    return z, y


def _check_targets(y: np.ndarray, C: int) -> np.ndarray:
    """One-hot rows (m, C) from class indices (m,) or one-hot rows (m, C), C >= 2."""
    if not (isinstance(C, (int, np.integer)) and C >= 2):
        raise ValueError(f"the number of classes C must be an integer >= 2, got {C!r}")
    if np.ndim(y) not in (1, 2) or np.shape(y)[0] == 0:
        raise ValueError(f"y must be class indices of shape (m,) or one-hot rows of shape "
                         f"(m, {C}) with m >= 1, got shape {np.shape(y)}")
    return _check_classes(np.zeros((np.shape(y)[0], C)), y)[1]


def _check_epsilon(epsilon: float) -> None:
    if not (np.ndim(epsilon) == 0 and 0.0 <= epsilon <= 1.0):
        raise ValueError(f"epsilon must be a number in [0, 1], got {epsilon!r}")


def _check_margin(margin: float) -> None:
    if not (np.ndim(margin) == 0 and np.isfinite(margin) and margin > 0.0):
        raise ValueError(f"margin must be a finite number > 0, got {margin!r}")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))                   # in (0, 1]: never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _log_softmax(z: np.ndarray) -> np.ndarray:
    """log p of each row, by the last line of eq. (7): log1p keeps a tiny log p."""
    top = np.argmax(z, axis=1)[:, None]                 # one largest entry of each row
    shifted = z - np.take_along_axis(z, top, axis=1)    # z - M: 0 there, <= 0 elsewhere
    rest = np.arange(z.shape[1]) != top                 # every entry but that one
    terms = np.sum(np.exp(shifted), axis=1, keepdims=True, where=rest)
    return shifted - np.log1p(terms)


def _log_rest(log_p: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """log of the summed probability of the wrong classes, by log-sum-exp with log1p."""
    others = np.where(Y == 1.0, -np.inf, log_p)              # drop the true class
    top = np.argmax(others, axis=1)[:, None]                 # a wrong class: C >= 2
    M = np.take_along_axis(others, top, axis=1)
    rest = (np.arange(log_p.shape[1]) != top) & (Y != 1.0)
    terms = np.sum(np.exp(others - M), axis=1, keepdims=True, where=rest)
    return (M + np.log1p(terms))[:, 0]


# --8<-- [start:bce]
def bce_loss(p: np.ndarray, y: np.ndarray) -> float:
    """Binary cross-entropy of probabilities p (m,), targets y in [0, 1]: eq. (1)."""
    p, y = _check_probabilities(p, y)
    return float(np.mean(-(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))))

# --8<-- [end:bce]


# --8<-- [start:bce-grad]
def bce_grad(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of the mean of eq. (1) with respect to p, shape (m,): eq. (2)."""
    p, y = _check_probabilities(p, y)
    return (p - y) / (p * (1.0 - p)) / p.size
# --8<-- [end:bce-grad]


# --8<-- [start:bce-logits]
def bce_with_logits_loss(z: np.ndarray, y: np.ndarray) -> float:
    """Binary cross-entropy of logits z (m,), targets y in [0, 1]: eq. (3)."""
    z, y = _check_soft_binary(z, y)
    softplus_minus, softplus = np.logaddexp(0.0, -z), np.logaddexp(0.0, z)
    return float(np.mean(y * softplus_minus + (1.0 - y) * softplus))

# --8<-- [end:bce-logits]


# --8<-- [start:bce-logits-grad]
def bce_with_logits_grad(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of the mean of eq. (3) with respect to z, shape (m,): eq. (4)."""
    z, y = _check_soft_binary(z, y)
    return ((1.0 - y) * _sigmoid(z) - y * _sigmoid(-z)) / z.size   # sigma(z) - y
# --8<-- [end:bce-logits-grad]


# --8<-- [start:multilabel]
def multilabel_bce_loss(z: np.ndarray, y: np.ndarray) -> float:
    """Multi-label BCE of logits z (m, C), labels y (m, C) in [0, 1]: eq. (5)."""
    z, y = _check_multilabel(z, y)
    per_label = y * np.logaddexp(0.0, -z) + (1.0 - y) * np.logaddexp(0.0, z)  # (m, C)
    return float(np.mean(np.mean(per_label, axis=1)))  # mean over C, then over m

# --8<-- [end:multilabel]


# --8<-- [start:multilabel-grad]
def multilabel_bce_grad(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of eq. (5) with respect to z, shape (m, C): eq. (6)."""
    z, y = _check_multilabel(z, y)
    m, C = z.shape
    return ((1.0 - y) * _sigmoid(z) - y * _sigmoid(-z)) / (m * C)   # sigma(z) - y
# --8<-- [end:multilabel-grad]


# --8<-- [start:cross-entropy]
def cross_entropy_loss(z: np.ndarray, y: np.ndarray) -> float:
    """Categorical cross-entropy of logits z (m, C), y indices or one-hot: eq. (7)."""
    z, Y = _check_classes(z, y)                  # Y: one-hot rows, (m, C)
    log_p = _log_softmax(z)                      # stable log-softmax, (m, C)
    return float(np.mean(-np.sum(Y * log_p, axis=1)))

# --8<-- [end:cross-entropy]


# --8<-- [start:cross-entropy-grad]
def cross_entropy_grad(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of the mean of eq. (7) with respect to z, shape (m, C): eq. (8)."""
    z, Y = _check_classes(z, y)
    P = np.exp(_log_softmax(z))                  # softmax, (m, C)
    rest = np.sum(P * (1.0 - Y), axis=1, keepdims=True)   # 1 - p_y, as a sum
    return np.where(Y == 1.0, -rest, P) / z.shape[0]     # p_k - [k = y]
# --8<-- [end:cross-entropy-grad]


# --8<-- [start:naive-cross-entropy]
def naive_cross_entropy_loss(z: np.ndarray, y: np.ndarray) -> float:
    """Eq. (7) with the softmax typed in as written: nan once a logit passes 709."""
    z, Y = _check_classes(z, y)
    p = np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True)
    return float(np.mean(-np.sum(Y * np.log(p), axis=1)))
# --8<-- [end:naive-cross-entropy]


# --8<-- [start:label-smoothing]
def smoothed_targets(y: np.ndarray, C: int, epsilon: float = 0.0) -> np.ndarray:
    """The smoothed target rows q (m, C) of eq. (9)."""
    Y = _check_targets(y, C)                     # one-hot rows, (m, C)
    _check_epsilon(epsilon)
    return (1.0 - epsilon) * Y + epsilon / C


def label_smoothing_loss(z: np.ndarray, y: np.ndarray, epsilon: float = 0.0) -> float:
    """Cross-entropy of logits z (m, C) against the smoothed targets: eq. (9)."""
    z, _ = _check_classes(z, y)
    q = smoothed_targets(y, z.shape[1], epsilon)
    return float(np.mean(-np.sum(q * _log_softmax(z), axis=1)))

# --8<-- [end:label-smoothing]


# --8<-- [start:label-smoothing-grad]
def label_smoothing_grad(z: np.ndarray, y: np.ndarray,
                         epsilon: float = 0.0) -> np.ndarray:
    """Gradient of eq. (9) with respect to z, shape (m, C): eq. (10)."""
    z, Y = _check_classes(z, y)
    _check_epsilon(epsilon)
    y_minus_q = epsilon * (Y - 1.0 / z.shape[1])           # y - q, (m, C)
    return cross_entropy_grad(z, y) + y_minus_q / z.shape[0]   # (p - y) + (y - q)
# --8<-- [end:label-smoothing-grad]


# --8<-- [start:focal]
def focal_loss(z: np.ndarray, y: np.ndarray, alpha: float | None = 0.25,
               gamma: float = 2.0) -> float:
    """Binary focal loss of logits z, labels y of 0/1, in log-space: eq. (11)."""
    z, y = _check_focal(z, y, alpha, gamma)
    s = (2.0 * y - 1.0) * z                      # logit of the true class
    log_pt = -np.logaddexp(0.0, -s)              # log p_t = -softplus(-s)
    log_u = -np.logaddexp(0.0, s)                # log(1 - p_t) = -softplus(s)
    alpha_t = 1.0 if alpha is None else np.where(y == 1.0, alpha, 1.0 - alpha)
    return float(np.mean(-alpha_t * np.exp(gamma * log_u) * log_pt))
# --8<-- [end:focal]


# --8<-- [start:focal-grad]
def focal_grad(z: np.ndarray, y: np.ndarray, alpha: float | None = 0.25,
               gamma: float = 2.0) -> np.ndarray:
    """Gradient of the mean of eq. (11) with respect to z: eq. (12)."""
    z, y = _check_focal(z, y, alpha, gamma)
    sign = 2.0 * y - 1.0
    s = sign * z
    log_pt, log_u = -np.logaddexp(0.0, -s), -np.logaddexp(0.0, s)
    p_t, u = np.exp(log_pt), np.exp(log_u)       # p_t and 1 - p_t, each accurate
    alpha_t = 1.0 if alpha is None else np.where(y == 1.0, alpha, 1.0 - alpha)
    ds = alpha_t * np.exp(gamma * log_u) * (gamma * p_t * log_pt - u)
    return sign * ds / z.size                    # ds/dz = sign
# --8<-- [end:focal-grad]


# --8<-- [start:naive-focal]
def naive_focal_loss(z: np.ndarray, y: np.ndarray, alpha: float | None = 0.25,
                     gamma: float = 2.0) -> float:
    """Eq. (11) from p = sigmoid(z) as written: log 0 for y = 0 once z passes 37."""
    z, y = _check_focal(z, y, alpha, gamma)
    p = _sigmoid(z)
    p_t = np.where(y == 1.0, p, 1.0 - p)
    alpha_t = 1.0 if alpha is None else np.where(y == 1.0, alpha, 1.0 - alpha)
    return float(np.mean(-alpha_t * (1.0 - p_t) ** gamma * np.log(p_t)))
# --8<-- [end:naive-focal]


# --8<-- [start:multiclass-focal]
def multiclass_focal_loss(z: np.ndarray, y: np.ndarray, gamma: float = 2.0) -> float:
    """Multi-class focal loss of logits z (m, C), in log-space: eq. (13)."""
    z, Y = _check_classes(z, y)
    _check_gamma(gamma)
    log_p = _log_softmax(z)                                  # (m, C)
    log_py = np.sum(Y * log_p, axis=1)                       # log p_y, (m,)
    log_u = _log_rest(log_p, Y)                              # log(1 - p_y), (m,)
    return float(np.mean(-np.exp(gamma * log_u) * log_py))
# --8<-- [end:multiclass-focal]


# --8<-- [start:multiclass-focal-grad]
def multiclass_focal_grad(z: np.ndarray, y: np.ndarray,
                          gamma: float = 2.0) -> np.ndarray:
    """Gradient of the mean of eq. (13) with respect to z, (m, C): eq. (14)."""
    z, Y = _check_classes(z, y)
    _check_gamma(gamma)
    log_p = _log_softmax(z)
    log_py, log_u = np.sum(Y * log_p, axis=1), _log_rest(log_p, Y)
    p_y, u = np.exp(log_py), np.exp(log_u)
    # v_k = (1 - p_y)^(gamma - 1) (Y_k - p_k), with |Y_k - p_k| = 1 - p_y or p_k
    log_abs = np.where(Y == 1.0, log_u[:, None], log_p)
    v = np.where(Y == 1.0, 1.0, -1.0) * np.exp((gamma - 1.0) * log_u[:, None] + log_abs)
    return v * (gamma * p_y * log_py - u)[:, None] / z.shape[0]
# --8<-- [end:multiclass-focal-grad]


# --8<-- [start:logistic]
def logistic_loss(z: np.ndarray, y: np.ndarray) -> float:
    """Logistic loss of scores z (m,) and labels y in {-1, +1}: eq. (15)."""
    z, y = _check_signed(z, y)
    return float(np.mean(np.logaddexp(0.0, -y * z)))

# --8<-- [end:logistic]


# --8<-- [start:logistic-grad]
def logistic_grad(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of the mean of eq. (15) with respect to z, shape (m,): eq. (16)."""
    z, y = _check_signed(z, y)
    return -y * _sigmoid(-y * z) / z.size
# --8<-- [end:logistic-grad]


# --8<-- [start:hinge]
def hinge_loss(z: np.ndarray, y: np.ndarray) -> float:
    """Hinge loss of scores z (m,) and labels y in {-1, +1}: eq. (17)."""
    z, y = _check_signed(z, y)
    return float(np.mean(np.maximum(0.0, 1.0 - y * z)))

# --8<-- [end:hinge]


# --8<-- [start:hinge-grad]
def hinge_grad(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A subgradient of the mean of eq. (17), 0 at y z = 1: eq. (18)."""
    z, y = _check_signed(z, y)
    return np.where(y * z < 1.0, -y, 0.0) / z.size
# --8<-- [end:hinge-grad]


# --8<-- [start:squared-hinge]
def squared_hinge_loss(z: np.ndarray, y: np.ndarray) -> float:
    """Squared hinge loss of scores z (m,) and labels y in {-1, +1}: eq. (19)."""
    z, y = _check_signed(z, y)
    return float(np.mean(np.maximum(0.0, 1.0 - y * z) ** 2))

# --8<-- [end:squared-hinge]


# --8<-- [start:squared-hinge-grad]
def squared_hinge_grad(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of the mean of eq. (19) with respect to z, shape (m,): eq. (20)."""
    z, y = _check_signed(z, y)
    return -2.0 * y * np.maximum(0.0, 1.0 - y * z) / z.size
# --8<-- [end:squared-hinge-grad]


# --8<-- [start:weston-watkins]
def weston_watkins_loss(z: np.ndarray, y: np.ndarray, margin: float = 1.0) -> float:
    """Multi-class hinge, Weston-Watkins: sum over the wrong classes, eq. (21)."""
    z, Y = _check_classes(z, y)
    _check_margin(margin)
    z_y = np.sum(Y * z, axis=1, keepdims=True)                # (m, 1)
    terms = np.where(Y == 1.0, 0.0, np.maximum(0.0, margin + z - z_y))
    return float(np.mean(np.sum(terms, axis=1)))

# --8<-- [end:weston-watkins]


# --8<-- [start:weston-watkins-grad]
def weston_watkins_grad(z: np.ndarray, y: np.ndarray,
                        margin: float = 1.0) -> np.ndarray:
    """A subgradient of the mean of eq. (21), (m, C): eq. (22)."""
    z, Y = _check_classes(z, y)
    _check_margin(margin)
    z_y = np.sum(Y * z, axis=1, keepdims=True)
    active = np.where(Y == 1.0, 0.0, (margin + z - z_y > 0.0).astype(float))
    dz = active - Y * np.sum(active, axis=1, keepdims=True)  # -count at the true class
    return dz / z.shape[0]
# --8<-- [end:weston-watkins-grad]


# --8<-- [start:crammer-singer]
def crammer_singer_loss(z: np.ndarray, y: np.ndarray, margin: float = 1.0) -> float:
    """Multi-class hinge, Crammer-Singer: only the best wrong class, eq. (23)."""
    z, Y = _check_classes(z, y)
    _check_margin(margin)
    z_y = np.sum(Y * z, axis=1)
    z_other = np.where(Y == 1.0, -np.inf, z).max(axis=1)      # best wrong class
    return float(np.mean(np.maximum(0.0, margin + z_other - z_y)))

# --8<-- [end:crammer-singer]


# --8<-- [start:crammer-singer-grad]
def crammer_singer_grad(z: np.ndarray, y: np.ndarray,
                        margin: float = 1.0) -> np.ndarray:
    """A subgradient of the mean of eq. (23), (m, C): eq. (24)."""
    z, Y = _check_classes(z, y)
    _check_margin(margin)
    m, C = z.shape
    z_y = np.sum(Y * z, axis=1)
    others = np.where(Y == 1.0, -np.inf, z)
    k_star = np.argmax(others, axis=1)           # first index among ties
    active = (margin + others[np.arange(m), k_star] - z_y > 0.0).astype(float)
    dz = (np.eye(C)[k_star] - Y) * active[:, None]
    return dz / m
# --8<-- [end:crammer-singer-grad]


# --8<-- [start:exponential]
def exponential_loss(z: np.ndarray, y: np.ndarray) -> float:
    """Exponential loss of scores z (m,) and labels y in {-1, +1}: eq. (25)."""
    z, y = _check_signed(z, y)
    _check_exponent(-y * z)
    return float(np.mean(np.exp(-y * z)))

# --8<-- [end:exponential]


# --8<-- [start:exponential-grad]
def exponential_grad(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of the mean of eq. (25) with respect to z, shape (m,): eq. (26)."""
    z, y = _check_signed(z, y)
    _check_exponent(-y * z)
    return -y * np.exp(-y * z) / z.size
# --8<-- [end:exponential-grad]
