"""Gradient descent, and when it converges on a quadratic.

Code for the page docs/optimisation/gradient-descent.md; each function names the equation of
that page it computes. Needs NumPy only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


# --8<-- [start:step]
def gradient_descent_step(theta: np.ndarray, dtheta: np.ndarray,
                          lr: float) -> np.ndarray:
    """One update: move theta against its gradient dtheta by lr times it: eq. (1)."""
    theta, dtheta, lr = _check_step(theta, dtheta, lr)
    return theta - lr * dtheta
# --8<-- [end:step]


# --8<-- [start:run]
def gradient_descent(grad: Callable[[np.ndarray], np.ndarray], theta0: np.ndarray,
                     lr: float, n_steps: int) -> np.ndarray:
    """Repeat the update of eq. (1) n_steps times from theta0.

    Returns the trajectory, shape (n_steps + 1, p): row t is theta after t updates.
    """
    theta = _check_vector(theta0, "theta0")
    n_steps, lr = _check_n_steps(n_steps), _check_lr(lr)
    path = np.empty((n_steps + 1, theta.size))
    path[0] = theta
    for t in range(n_steps):
        theta = gradient_descent_step(theta, grad(theta), lr)
        path[t + 1] = theta
    return path
# --8<-- [end:run]


# --8<-- [start:valley]
def valley(theta: np.ndarray) -> float:
    """The valley f(x, y) with its minimum 4 at (2, 0): eq. (2)."""
    x, y = _check_vector(theta, "theta", 2)
    return float(4.0 + (x - 2.0) ** 2 + 2.0 * y**2)


def valley_gradient(theta: np.ndarray) -> np.ndarray:
    """Gradient of the valley, shape (2,) like theta: eq. (2)."""
    x, y = _check_vector(theta, "theta", 2)
    return np.array([2.0 * (x - 2.0), 4.0 * y])
# --8<-- [end:valley]


# --8<-- [start:contraction]
def valley_contraction(lr: float) -> np.ndarray:
    """Factors by which one update multiplies x - 2 and y: eq. (3)."""
    lr = _check_lr(lr)
    return np.array([1.0 - 2.0 * lr, 1.0 - 4.0 * lr])


def valley_iterate(theta0: np.ndarray, lr: float, t: int) -> np.ndarray:
    """theta after t updates, in closed form, without iterating: eq. (3)."""
    x0, y0 = _check_vector(theta0, "theta0", 2)
    t = _check_n_steps(t, "t")
    cx, cy = valley_contraction(lr)
    return np.array([2.0 + cx**t * (x0 - 2.0), cy**t * y0])
# --8<-- [end:contraction]


# --8<-- [start:bound]
def max_stable_learning_rate(H: np.ndarray) -> float:
    """Rates below 2 / (largest curvature) converge on a quadratic: eq. (4)."""
    H = _check_hessian(H)
    curvatures = np.linalg.eigvalsh(H)   # ascending, all > 0
    return float(2.0 / curvatures[-1])
# --8<-- [end:bound]


# --8<-- [start:best]
def best_learning_rate(H: np.ndarray) -> tuple[float, float]:
    """The fixed rate with the smallest worst factor, and that factor: eq. (5)."""
    H = _check_hessian(H)
    curvatures = np.linalg.eigvalsh(H)
    low, high = curvatures[0], curvatures[-1]
    return float(2.0 / (low + high)), float((high - low) / (high + low))
# --8<-- [end:best]


# Input checks, kept out of the sections the page shows.


def _check_lr(lr: float) -> float:
    if not (np.ndim(lr) == 0 and np.isfinite(lr) and lr > 0):
        raise ValueError(f"the learning rate must be a positive finite number, got {lr!r}")
    return float(lr)


def _check_vector(theta: np.ndarray, name: str, size: int | None = None) -> np.ndarray:
    theta = np.asarray(theta, dtype=np.float64)
    if theta.ndim != 1 or theta.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {theta.shape}")
    if size is not None and theta.size != size:
        raise ValueError(f"{name} must have shape ({size},), got shape {theta.shape}")
    if not np.all(np.isfinite(theta)):
        raise ValueError(f"{name} must be finite (no inf or nan), got {theta}")
    return theta


def _check_step(theta: np.ndarray, dtheta: np.ndarray, lr: float) -> tuple[np.ndarray, ...]:
    theta = _check_vector(theta, "theta")
    dtheta = _check_vector(dtheta, "dtheta", theta.size)
    return theta, dtheta, _check_lr(lr)


def _check_n_steps(n_steps: int, name: str = "n_steps") -> int:
    if not (isinstance(n_steps, (int, np.integer)) and n_steps >= 0):
        raise ValueError(f"{name} must be an integer >= 0, got {n_steps!r}")
    return int(n_steps)


def _check_hessian(H: np.ndarray) -> np.ndarray:
    H = np.asarray(H, dtype=np.float64)
    if H.ndim != 2 or H.shape[0] != H.shape[1] or H.size == 0:
        raise ValueError(f"H must be a square matrix of shape (p, p), got shape {H.shape}")
    if not np.all(np.isfinite(H)):
        raise ValueError("H must be finite (no inf or nan)")
    if not np.allclose(H, H.T, rtol=1e-12, atol=1e-12):
        raise ValueError("H must be symmetric: a matrix of second derivatives is")
    if np.linalg.eigvalsh(H)[0] <= 0:
        raise ValueError("H must be positive definite (all curvatures > 0), "
                         f"got smallest eigenvalue {np.linalg.eigvalsh(H)[0]}")
    return H
