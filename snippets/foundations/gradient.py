"""The gradient: partial derivatives in one vector, steepest ascent and descent.

Code for the page docs/foundations/gradient.md; each function names the equation of that
page it computes. Needs NumPy only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Step of the central differences in numerical_gradient (float64, well-scaled f).
H = 1e-5


#: Largest size a coordinate of a descent path may reach: twice it is still a float64.
PATH_LIMIT = 1e300


# --8<-- [start:definition]
def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray,
                       h: float = H) -> np.ndarray:
    """Estimate of the gradient, one partial derivative per entry: eq. (1)."""
    x, h = _check_vector(x, "x").copy(), _check_step(h)
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
    p = _check_points(p, squared=True)
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
    grad = _check_grad(grad)
    u = _check_unit(u, grad.size)
    return float(u @ grad)


def directional_derivatives_around(grad: np.ndarray, n_angles: int
                                   ) -> tuple[np.ndarray, np.ndarray]:
    """Eq. (4) along n_angles unit vectors around the circle, for a 2-D gradient.

    Returns the angles (n_angles,) and the directional derivatives (n_angles,).
    """
    grad, n_angles = _check_around(grad, n_angles)
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
    _check_descent(p0, lr, n_steps)
    path = [_check_points(p0)]
    for _ in range(n_steps):
        p = path[-1]
        path.append(p - lr * valley_gradient(p))     # a step against the gradient
    return np.array(path)
# --8<-- [end:descent]


# Input checks, kept out of the sections the page shows.


def _check_finite(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {a.dtype}")
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (no inf or nan), got {a!r}")
    return a


def _check_points(p: np.ndarray, squared: bool = False) -> np.ndarray:
    """Return p as floats with a last axis of length 2 (x, y), or raise ValueError.

    The coordinates must be small enough that the gradient (2 (x - 2), 4 y) is finite,
    and, if squared, that the valley 4 + (x - 2)^2 + 2 y^2 is finite too.
    """
    p = _check_finite(p, "p")
    if p.ndim == 0 or p.shape[-1] != 2:
        raise ValueError(f"p must have shape (2,) or (..., 2) for points (x, y), got {p.shape}")
    size = np.abs(p) + 2.0                      # bounds |x - 2| and |y| entry by entry
    with np.errstate(over="ignore"):
        if squared:
            bound = 4.0 + size[..., 0] ** 2 + 2.0 * size[..., 1] ** 2
        else:
            bound = 4.0 * size
        bound = np.max(bound, initial=0.0)
    if not np.isfinite(bound):
        what = "the valley f(p)" if squared else "the gradient at p"
        raise ValueError(f"p is too large: {what} overflows float64, got max |p| = "
                         f"{np.max(np.abs(p)):.3g}")
    return p


def _check_vector(v: np.ndarray, name: str) -> np.ndarray:
    v = _check_finite(v, name)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of shape (n,), got {v.shape}")
    return v


def _length(v: np.ndarray) -> float:
    """Euclidean length of v; inf, with no warning, if it overflows."""
    with np.errstate(over="ignore"):
        return float(np.linalg.norm(v))


def _check_grad(g: np.ndarray) -> np.ndarray:
    g = _check_vector(g, "grad")
    if not np.isfinite(_length(g)):
        raise ValueError(f"the length of grad must be a finite number, got inf for {g!r}")
    return g


def _check_unit(u: np.ndarray, n: int) -> np.ndarray:
    u = _check_vector(u, "u")
    if u.shape != (n,):
        raise ValueError(f"u must have shape ({n},) like the gradient, got {u.shape}")
    if not np.isclose(_length(u), 1.0, rtol=1e-9, atol=0.0):
        raise ValueError(f"u must be a unit vector, got length {_length(u)}")
    return u


def _check_nonzero(g: np.ndarray) -> np.ndarray:
    g = _check_grad(g)
    if not np.any(g):
        raise ValueError("the gradient is zero: at a stationary point no direction is steepest")
    return g


def _check_count(n: int, name: str, smallest: int) -> int:
    """Return n if it is an integer (not a bool) of at least smallest, or raise ValueError."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < smallest:
        kind = "non-negative" if smallest == 0 else "positive"
        raise ValueError(f"{name} must be a {kind} integer, got {n!r}")
    return int(n)


def _check_around(grad: np.ndarray, n_angles: int) -> tuple[np.ndarray, int]:
    grad = _check_grad(grad)
    if grad.shape != (2,):
        raise ValueError(f"grad must have shape (2,), a gradient in the plane, got {grad.shape}")
    return grad, _check_count(n_angles, "n_angles", 1)


def _check_step(h: float) -> float:
    if np.ndim(h) != 0 or np.asarray(h).dtype.kind not in "biuf" or not (np.isfinite(h) and h > 0):
        raise ValueError(f"the step h must be a positive finite number, got {h!r}")
    return float(h)


def _check_descent(p0: np.ndarray, lr: float, n_steps: int) -> None:
    """Check lr and n_steps, and that no coordinate of the path overflows float64.

    Each step of eq. (6) multiplies x - 2 by 1 - 2 lr and y by 1 - 4 lr, so the size of
    the path is known in advance.
    """
    if (np.ndim(lr) != 0 or np.asarray(lr).dtype.kind not in "biuf"
            or not (np.isfinite(lr) and lr > 0)):
        raise ValueError(f"the learning rate lr must be a positive number, got {lr!r}")
    n_steps = _check_count(n_steps, "n_steps", 0)
    offsets = np.abs(_check_points(p0) - np.array([2.0, 0.0])).reshape(-1, 2)
    lr = float(lr)
    for factor, offset in zip((abs(1 - 2 * lr), abs(1 - 4 * lr)),
                              np.max(offsets, axis=0, initial=0.0), strict=True):
        if offset > 0 and factor > 1 and n_steps > 0:
            size = np.log10(offset) + n_steps * np.log10(factor)
            if size > np.log10(PATH_LIMIT):
                raise ValueError(f"gradient descent with lr={lr} diverges: within n_steps="
                                 f"{n_steps} the path reaches about 1e{size:.0f}, beyond "
                                 "float64; take fewer steps or a learning rate below 0.5")
