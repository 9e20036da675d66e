"""Regression losses: each loss of the data set and its gradient with respect to y_hat.

Code for the page docs/losses/regression.md; each function names the equation of that page
it computes. Needs NumPy only. Every loss is the mean over all entries; every gradient is
the gradient of that mean, with the shape of y_hat (so it carries the 1/m).
"""

from __future__ import annotations

import numpy as np

#: Largest z whose exp(z) is a finite float64 (about 709.78).
Z_MAX = float(np.log(np.finfo(np.float64).max))


def _check_finite(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (no inf or nan)")
    return a


def _check_pair(y_hat: np.ndarray, y: np.ndarray,
                name: str = "y_hat") -> tuple[np.ndarray, np.ndarray]:
    """Return prediction and target as float arrays of one non-empty shape, or raise."""
    y_hat, y = _check_finite(y_hat, name), _check_finite(y, "y")
    if y_hat.size == 0:
        raise ValueError(f"{name} must be non-empty, got shape {y_hat.shape}")
    if y_hat.shape != y.shape:
        raise ValueError(f"{name} and y must have the same shape, got {y_hat.shape} "
                         f"and {y.shape}")
    return y_hat, y


def _check_positive(value: float, name: str) -> float:
    if not (np.ndim(value) == 0 and np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _check_tau(tau: float) -> float:
    if not (np.ndim(tau) == 0 and 0.0 < tau < 1.0):
        raise ValueError(f"tau must be a number strictly between 0 and 1, got {tau!r}")
    return float(tau)


def _check_poisson(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z, y = _check_pair(z, y, "z")
    if np.any(y < 0):
        raise ValueError(f"Poisson targets y must be >= 0, got min {y.min()}")
    if np.any(z > Z_MAX):
        raise ValueError(f"log-rates z must be <= {Z_MAX:.2f}, where exp(z) is finite in "
                         f"float64; got max {z.max()}")
    return z, y


def _check_gaussian(y_hat: np.ndarray, y: np.ndarray, var: np.ndarray, eps: float,
                    full: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    if not isinstance(full, (bool, np.bool_)):
        raise ValueError(f"full must be True or False, got {full!r}")
    y_hat, y = _check_pair(y_hat, y)
    var = _check_finite(var, "var")
    if var.shape != y_hat.shape:
        raise ValueError(f"var must have the shape of y_hat {y_hat.shape}, got {var.shape}")
    if np.any(var < 0):
        raise ValueError("variances var must be >= 0 (below eps they are clamped to "
                         f"eps), got min {var.min()}")
    return y_hat, y, var, _check_positive(eps, "eps")


# --8<-- [start:mse]
def mse_loss(y_hat: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error: eq. (1)."""
    y_hat, y = _check_pair(y_hat, y)
    return float(np.mean((y_hat - y) ** 2))


def mse_grad(y_hat: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of the mean squared error with respect to y_hat: eq. (1)."""
    y_hat, y = _check_pair(y_hat, y)
    return 2.0 * (y_hat - y) / y_hat.size
# --8<-- [end:mse]


# --8<-- [start:mae]
def mae_loss(y_hat: np.ndarray, y: np.ndarray) -> float:
    """Mean absolute error: eq. (2)."""
    y_hat, y = _check_pair(y_hat, y)
    return float(np.mean(np.abs(y_hat - y)))
# --8<-- [end:mae]


# --8<-- [start:mae-grad]
def mae_grad(y_hat: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(Sub)gradient of the mean absolute error, 0 where y_hat = y: eq. (3)."""
    y_hat, y = _check_pair(y_hat, y)
    return np.sign(y_hat - y) / y_hat.size     # np.sign(0.0) is 0.0
# --8<-- [end:mae-grad]


# --8<-- [start:rmse]
def rmse_loss(y_hat: np.ndarray, y: np.ndarray) -> float:
    """Root mean squared error, scaled so that no square overflows: eq. (4)."""
    y_hat, y = _check_pair(y_hat, y)
    r = y_hat - y
    s = np.max(np.abs(r))          # sqrt(mean(r^2)) = s * sqrt(mean((r / s)^2))
    if s == 0.0:
        return 0.0
    return float(s * np.sqrt(np.mean((r / s) ** 2)))
# --8<-- [end:rmse]


# --8<-- [start:rmse-grad]
def rmse_grad(y_hat: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of the RMSE; the subgradient 0 if every residual is 0: eq. (5)."""
    y_hat, y = _check_pair(y_hat, y)
    rmse = rmse_loss(y_hat, y)
    if rmse == 0.0:
        return np.zeros_like(y_hat)
    return (y_hat - y) / (y_hat.size * rmse)
# --8<-- [end:rmse-grad]


# --8<-- [start:huber]
def huber_loss(y_hat: np.ndarray, y: np.ndarray, delta: float = 1.0) -> float:
    """Huber loss with threshold delta: eq. (6)."""
    y_hat, y = _check_pair(y_hat, y)
    delta = _check_positive(delta, "delta")
    a = np.abs(y_hat - y)
    c = np.minimum(a, delta)       # a if a <= delta, else delta: no a**2 overflow
    return float(np.mean(c * (a - 0.5 * c)))
# --8<-- [end:huber]


# --8<-- [start:huber-grad]
def huber_grad(y_hat: np.ndarray, y: np.ndarray, delta: float = 1.0) -> np.ndarray:
    """Gradient of the Huber loss, the clipped residual over m: eq. (7)."""
    y_hat, y = _check_pair(y_hat, y)
    delta = _check_positive(delta, "delta")
    return np.clip(y_hat - y, -delta, delta) / y_hat.size
# --8<-- [end:huber-grad]


# --8<-- [start:smooth-l1]
def smooth_l1_loss(y_hat: np.ndarray, y: np.ndarray, beta: float = 1.0) -> float:
    """Smooth L1 loss with threshold beta: eq. (8)."""
    y_hat, y = _check_pair(y_hat, y)
    beta = _check_positive(beta, "beta")
    a = np.abs(y_hat - y)
    c = np.minimum(a, beta)
    return float(np.mean(c * (a - 0.5 * c)) / beta)


def smooth_l1_grad(y_hat: np.ndarray, y: np.ndarray,
                   beta: float = 1.0) -> np.ndarray:
    """Gradient of the smooth L1 loss with respect to y_hat: eq. (8)."""
    y_hat, y = _check_pair(y_hat, y)
    beta = _check_positive(beta, "beta")
    return np.clip(y_hat - y, -beta, beta) / (beta * y_hat.size)
# --8<-- [end:smooth-l1]


# --8<-- [start:log-cosh-naive]
def naive_log_cosh_loss(y_hat: np.ndarray, y: np.ndarray) -> float:
    """Eq. (9) as written: cosh overflows once |y_hat - y| > 710."""
    y_hat, y = _check_pair(y_hat, y)
    return float(np.mean(np.log(np.cosh(y_hat - y))))
# --8<-- [end:log-cosh-naive]


# --8<-- [start:log-cosh]
def log_cosh_loss(y_hat: np.ndarray, y: np.ndarray) -> float:
    """Log-cosh loss by the two forms of eq. (10), accurate for every residual."""
    y_hat, y = _check_pair(y_hat, y)
    a = np.abs(y_hat - y)
    near = np.log1p(2.0 * np.sinh(np.minimum(a, 1.0) / 2.0) ** 2)   # for a <= 1
    far = a + np.log1p(np.exp(-2.0 * a)) - np.log(2.0)               # for a > 1
    return float(np.mean(np.where(a <= 1.0, near, far)))
# --8<-- [end:log-cosh]


# --8<-- [start:log-cosh-grad]
def log_cosh_grad(y_hat: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of the log-cosh loss, tanh of the residual over m: eq. (11)."""
    y_hat, y = _check_pair(y_hat, y)
    return np.tanh(y_hat - y) / y_hat.size
# --8<-- [end:log-cosh-grad]


# --8<-- [start:quantile]
def quantile_loss(y_hat: np.ndarray, y: np.ndarray, tau: float = 0.5) -> float:
    """Quantile (pinball) loss for the quantile level tau: eq. (12)."""
    y_hat, y = _check_pair(y_hat, y)
    tau = _check_tau(tau)
    r = y - y_hat                    # positive when the prediction is too low
    return float(np.mean(np.maximum(tau * r, (tau - 1.0) * r)))
# --8<-- [end:quantile]


# --8<-- [start:quantile-grad]
def quantile_grad(y_hat: np.ndarray, y: np.ndarray, tau: float = 0.5) -> np.ndarray:
    """(Sub)gradient of the quantile loss, 0 where y_hat = y: eq. (13)."""
    y_hat, y = _check_pair(y_hat, y)
    tau = _check_tau(tau)
    slope = np.where(y_hat < y, -tau, np.where(y_hat > y, 1.0 - tau, 0.0))
    return slope / y_hat.size
# --8<-- [end:quantile-grad]


# --8<-- [start:poisson]
def poisson_nll_loss(z: np.ndarray, y: np.ndarray) -> float:
    """Poisson negative log-likelihood of log-rates z, without log(y!): eq. (14)."""
    z, y = _check_poisson(z, y)
    return float(np.mean(np.exp(z) - y * z))
# --8<-- [end:poisson]


# --8<-- [start:poisson-grad]
def poisson_nll_grad(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of the Poisson NLL with respect to the log-rates z: eq. (15)."""
    z, y = _check_poisson(z, y)
    return (np.exp(z) - y) / z.size
# --8<-- [end:poisson-grad]


# --8<-- [start:gaussian]
def gaussian_nll_loss(y_hat: np.ndarray, y: np.ndarray, var: np.ndarray,
                      full: bool = False, eps: float = 1e-6) -> float:
    """Gaussian NLL with predicted variances var, clamped below at eps: eq. (16)."""
    y_hat, y, var, eps = _check_gaussian(y_hat, y, var, eps, full)
    v = np.maximum(var, eps)
    losses = 0.5 * (np.log(v) + (y_hat - y) ** 2 / v)
    if full:
        losses = losses + 0.5 * np.log(2.0 * np.pi)
    return float(np.mean(losses))
# --8<-- [end:gaussian]


# --8<-- [start:gaussian-grad]
def gaussian_nll_grad(y_hat: np.ndarray, y: np.ndarray, var: np.ndarray,
                      eps: float = 1e-6) -> np.ndarray:
    """Gradient of the Gaussian NLL with respect to y_hat: eq. (17)."""
    y_hat, y, var, eps = _check_gaussian(y_hat, y, var, eps)
    v = np.maximum(var, eps)
    return (y_hat - y) / v / y_hat.size


def gaussian_nll_var_grad(y_hat: np.ndarray, y: np.ndarray, var: np.ndarray,
                          eps: float = 1e-6) -> np.ndarray:
    """Gradient of the Gaussian NLL in var, 0 where clamped: eq. (17)."""
    y_hat, y, var, eps = _check_gaussian(y_hat, y, var, eps)
    v = np.maximum(var, eps)
    dvar = (v - (y_hat - y) ** 2) / (2.0 * v**2) / y_hat.size
    return np.where(var > eps, dvar, 0.0)
# --8<-- [end:gaussian-grad]
