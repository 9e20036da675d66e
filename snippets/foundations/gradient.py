"""The gradient: partial derivatives in one vector, steepest ascent and descent.

Code for the page docs/foundations/gradient.md; each function names the equation of that
page it computes. Needs NumPy only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Step of the central differences in numerical_gradient (float64, well-scaled f).
H = 1e-5


def _check_finite(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (no inf or nan), got {a!r}")
    return a


def _check_points(p: np.ndarray) -> np.ndarray:
    """Return p as floats with a last axis of length 2 (x, y), or raise ValueError."""
    p = _check_finite(p, "p")
    if p.ndim == 0 or p.shape[-1] != 2:
        raise ValueError(f"p must have shape (2,) or (..., 2) for points (x, y), got {p.shape}")
    return p


def _check_vector(v: np.ndarray, name: str) -> np.ndarray:
    v = _check_finite(v, name)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of shape (n,), got {v.shape}")
    return v


def _check_unit(u: np.ndarray, n: int) -> np.ndarray:
    u = _check_vector(u, "u")
    if u.shape != (n,):
        raise ValueError(f"u must have shape ({n},) like the gradient, got {u.shape}")
    if not np.isclose(np.linalg.norm(u), 1.0, rtol=1e-9, atol=0.0):
        raise ValueError(f"u must be a unit vector, got length {np.linalg.norm(u)}")
    return u


def _check_nonzero(g: np.ndarray) -> np.ndarray:
    g = _check_vector(g, "grad")
    if not np.any(g):
        raise ValueError("the gradient is zero: at a stationary point no direction is steepest")
    return g


def _check_descent(lr: float, n_steps: int) -> None:
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"the learning rate lr must be a positive number, got {lr!r}")
    if int(n_steps) != n_steps or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative integer, got {n_steps!r}")


# --8<-- [start:definition]
def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray,
                       h: float = H) -> np.ndarray:
    """Estimate of the gradient, one partial derivative per entry: eq. (1)."""
    x = _check_vector(x, "x").copy()
    grad = np.zeros_like(x)
    for j in range(x.size):
        x_j = x[j]
        x[j] = x_j + h
        f_plus = f(x)
        x[j] = x_j - h
        f_minus = f(x)
        x[j] = x_j                       # restore: every other variable stays fixed
        grad[j] = (f_plus - f_minus) / (2 * h)
    return grad
# --8<-- [end:definition]


# --8<-- [start:valley]
def valley(p: np.ndarray) -> np.ndarray:
    """The valley at points p = (x, y), shape (2,) or (..., 2): eq. (2)."""
    p = _check_points(p)
    x, y = p[..., 0], p[..., 1]
    return 4.0 + (x - 2.0) ** 2 + 2.0 * y**2
# --8<-- [end:valley]


# --8<-- [start:valley-gradient]
def valley_gradient(p: np.ndarray) -> np.ndarray:
    """Gradient of the valley, shaped like p (2,) or (..., 2): eq. (3)."""
    p = _check_points(p)
    x, y = p[..., 0], p[..., 1]
    return np.stack([2.0 * (x - 2.0), 4.0 * y], axis=-1)
# --8<-- [end:valley-gradient]


# --8<-- [start:directional]
def directional_derivative(grad: np.ndarray, u: np.ndarray) -> float:
    """Rate of change of f along the unit vector u, from the gradient: eq. (4)."""
    grad = _check_vector(grad, "grad")
    u = _check_unit(u, grad.size)
    return float(u @ grad)


def directional_derivatives_around(grad: np.ndarray, n_angles: int
                                   ) -> tuple[np.ndarray, np.ndarray]:
    """Eq. (4) along n_angles unit vectors around the circle, for a 2-D gradient.

    Returns the angles (n_angles,) and the directional derivatives (n_angles,).
    """
    grad = _check_vector(grad, "grad")
    angles = np.linspace(0.0, 2 * np.pi, n_angles, endpoint=False)
    U = np.stack([np.cos(angles), np.sin(angles)], axis=1)    # (n_angles, 2) unit rows
    return angles, U @ grad
# --8<-- [end:directional]


# --8<-- [start:steepest]
def steepest_directions(grad: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Unit directions of steepest ascent and descent, and the top rate: eq. (5)."""
    grad = _check_nonzero(grad)
    norm = float(np.linalg.norm(grad))
    ascent = grad / norm
    return ascent, -ascent, norm
# --8<-- [end:steepest]


# --8<-- [start:descent]
def descend_valley(p0: np.ndarray, lr: float, n_steps: int) -> np.ndarray:
    """Points visited by gradient descent on the valley: eq. (6).

    For one start p0 of shape (2,), the result has shape (n_steps + 1, 2).
    """
    _check_descent(lr, n_steps)
    path = [_check_points(p0)]
    for _ in range(n_steps):
        p = path[-1]
        path.append(p - lr * valley_gradient(p))     # a step against the gradient
    return np.array(path)
# --8<-- [end:descent]
