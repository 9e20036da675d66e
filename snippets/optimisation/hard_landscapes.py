"""Where gradient descent struggles: a narrow valley, the Rosenbrock function, and a loss
with two minima.

Code for the page docs/optimisation/hard-landscapes.md; each function names the equation of
that page it computes. Needs NumPy only.
"""

from __future__ import annotations

import numpy as np


# --8<-- [start:narrow]
def narrow_valley(theta: np.ndarray, kappa: float) -> float:
    """The valley with curvature 1 along x and kappa across it: eq. (1)."""
    x, y = _check_point(theta)
    kappa = _check_kappa(kappa)
    return 0.5 * (x**2 + kappa * y**2)


def narrow_valley_gradient(theta: np.ndarray, kappa: float) -> np.ndarray:
    """Its gradient, shape (2,): eq. (1)."""
    x, y = _check_point(theta)
    kappa = _check_kappa(kappa)
    return np.array([x, kappa * y])
# --8<-- [end:narrow]


# --8<-- [start:rate]
def convergence_factor(lr: float, curvatures: np.ndarray) -> float:
    """Worst factor by which one gradient-descent update shrinks the error: eq. (2)."""
    lr = _check_lr(lr)
    curvatures = _check_curvatures(curvatures)
    return float(np.max(np.abs(1.0 - lr * curvatures)))


def best_factor(kappa: float) -> float:
    """Smallest worst factor of gradient descent, at lr = 2 / (1 + kappa): eq. (2)."""
    kappa = _check_kappa(kappa)
    return (kappa - 1.0) / (kappa + 1.0)
# --8<-- [end:rate]


# --8<-- [start:heavy-ball]
def heavy_ball_tuning(kappa: float) -> tuple[float, float, float]:
    """Learning rate, beta, and factor per step of the best-tuned momentum: eq. (3)."""
    kappa = _check_kappa(kappa)
    root = np.sqrt(kappa)
    lr = 4.0 / (1.0 + root) ** 2       # 4 / (sqrt(lambda_min) + sqrt(lambda_max))^2
    factor = (root - 1.0) / (root + 1.0)
    return float(lr), float(factor**2), float(factor)
# --8<-- [end:heavy-ball]


# --8<-- [start:rosenbrock]
def rosenbrock(theta: np.ndarray, a: float = 1.0, b: float = 100.0) -> float:
    """The Rosenbrock function, minimum 0 at (a, a^2): eq. (4)."""
    x, y = _check_rosenbrock(theta, a, b)
    return (a - x) ** 2 + b * (y - x**2) ** 2


def rosenbrock_gradient(theta: np.ndarray, a: float = 1.0,
                        b: float = 100.0) -> np.ndarray:
    """Gradient of the Rosenbrock function, shape (2,): eq. (4)."""
    x, y = _check_rosenbrock(theta, a, b)
    return np.array([-2.0 * (a - x) - 4.0 * b * x * (y - x**2),
                     2.0 * b * (y - x**2)])
# --8<-- [end:rosenbrock]


# --8<-- [start:rosenbrock-hessian]
def rosenbrock_hessian(theta: np.ndarray, a: float = 1.0,
                       b: float = 100.0) -> np.ndarray:
    """Second derivatives of the Rosenbrock function, shape (2, 2): eq. (5)."""
    x, y = _check_rosenbrock(theta, a, b)
    dxx = 2.0 - 4.0 * b * (y - x**2) + 8.0 * b * x**2
    dxy = -4.0 * b * x
    return np.array([[dxx, dxy], [dxy, 2.0 * b]])
# --8<-- [end:rosenbrock-hessian]


# --8<-- [start:double-well]
def double_well(w: np.ndarray) -> np.ndarray:
    """A loss of one weight with two minima of different depth: eq. (6)."""
    w = _check_w(w)
    return w**4 / 4.0 + w**3 / 3.0 - w**2


def double_well_derivative(w: np.ndarray) -> np.ndarray:
    """Its derivative w^3 + w^2 - 2w = w (w - 1)(w + 2): eq. (6)."""
    w = _check_w(w)
    return w**3 + w**2 - 2.0 * w
# --8<-- [end:double-well]


# Input checks, kept out of the sections the page shows.


def _check_point(theta: np.ndarray) -> tuple[float, float]:
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape != (2,):
        raise ValueError(f"theta must be a finite array of shape (2,), got shape {theta.shape}")
    if not np.all(np.isfinite(theta)):
        raise ValueError(f"theta must be a finite array of shape (2,), got {theta}")
    return float(theta[0]), float(theta[1])


def _check_rosenbrock(theta: np.ndarray, a: float, b: float) -> tuple[float, float]:
    """The point (x, y), with a a finite number and b a finite number > 0, or raise."""
    if not (np.ndim(a) == 0 and np.isfinite(a)):
        raise ValueError(f"a must be a single finite number, got {a!r}")
    if not (np.ndim(b) == 0 and np.isfinite(b) and b > 0):
        raise ValueError(f"b must be a finite number > 0 (the minimum is then unique), "
                         f"got {b!r}")
    return _check_point(theta)


def _check_kappa(kappa: float) -> float:
    if not (np.ndim(kappa) == 0 and np.isfinite(kappa) and kappa >= 1):
        raise ValueError(f"the condition number kappa must be a finite number >= 1, got {kappa!r}")
    return float(kappa)


def _check_curvatures(curvatures: np.ndarray) -> np.ndarray:
    curvatures = np.asarray(curvatures, dtype=np.float64)
    if curvatures.ndim != 1 or curvatures.size == 0:
        raise ValueError("curvatures must be a non-empty 1-D array, got shape "
                         f"{curvatures.shape}")
    if not np.all(np.isfinite(curvatures) & (curvatures > 0)):
        raise ValueError(f"curvatures must be finite numbers > 0, got {curvatures}")
    return curvatures


def _check_lr(lr: float) -> float:
    if not (np.ndim(lr) == 0 and np.isfinite(lr) and lr > 0):
        raise ValueError(f"the learning rate must be a positive finite number, got {lr!r}")
    return float(lr)


def _check_w(w: np.ndarray) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        raise ValueError(f"w must be finite (no inf or nan), got {w!r}")
    return w
