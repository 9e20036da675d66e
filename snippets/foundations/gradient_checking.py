"""Gradient checking by central differences.

Code for the page docs/foundations/gradient-checking.md. The project's own tests use
these functions to check every gradient on the site.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Step for central differences in float64: near the cube root of machine epsilon,
#: where truncation error (about h**2) and round-off error (about eps / h) balance.
H_CENTRAL = 1e-5

#: Above this many coordinates, check_gradient probes random directions instead.
MAX_COORDINATES = 64


def _as_float_array(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise ValueError(f"{name} must hold real numbers, got dtype {x.dtype}")
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite, got {x!r}")
    return x


def _check_same_shape(a: np.ndarray, b: np.ndarray, what: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{what}, got shapes {a.shape} and {b.shape}")


def _check_step(h: float) -> None:
    if not (np.isfinite(h) and h > 0):
        raise ValueError(f"the step h must be a positive finite number, got {h!r}")


# --8<-- [start:central]
def central_difference(f: Callable[[np.ndarray], float], x: np.ndarray,
                       h: float = H_CENTRAL) -> np.ndarray:
    """Numerical gradient of a scalar function, one coordinate at a time: eq. (1)."""
    _check_step(h)
    x = _as_float_array(x, "x").copy()
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        x_j = x[idx]
        x[idx] = x_j + h
        f_plus = float(f(x))
        x[idx] = x_j - h
        f_minus = float(f(x))
        x[idx] = x_j  # restore before the next coordinate
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad
# --8<-- [end:central]


# --8<-- [start:relative]
def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """Relative error between two gradients, in the Euclidean norm: eq. (2)."""
    a, b = _as_float_array(a, "a"), _as_float_array(b, "b")
    _check_same_shape(a, b, "a and b must have the same shape")
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    if scale == 0.0:
        return 0.0  # both gradients are exactly zero: they agree
    return float(np.linalg.norm(a - b) / scale)
# --8<-- [end:relative]


# --8<-- [start:directional]
def directional_difference(f: Callable[[np.ndarray], float], x: np.ndarray,
                           v: np.ndarray, h: float = H_CENTRAL) -> float:
    """Central difference along the direction v, estimating v . grad f(x): eq. (3)."""
    _check_step(h)
    x, v = _as_float_array(x, "x"), _as_float_array(v, "v")
    _check_same_shape(x, v, "the direction v must have the shape of x")
    return (float(f(x + h * v)) - float(f(x - h * v))) / (2 * h)
# --8<-- [end:directional]


# --8<-- [start:check]
def check_gradient(f: Callable[[np.ndarray], float], grad: np.ndarray, x: np.ndarray,
                   rng: np.random.Generator | None = None, n_directions: int = 16,
                   h: float = H_CENTRAL) -> float:
    """Worst relative error of grad against central differences: eqs. (1)-(3).

    Small inputs are checked in every coordinate; larger ones along n_directions random
    unit directions, comparing v . grad with the directional difference.
    """
    x, grad = _as_float_array(x, "x"), _as_float_array(grad, "grad")
    _check_same_shape(x, grad, "grad must have the shape of x")
    if x.size <= MAX_COORDINATES:
        return relative_error(grad, central_difference(f, x, h))
    rng = np.random.default_rng(0) if rng is None else rng
    worst = 0.0
    for _ in range(n_directions):
        v = rng.standard_normal(x.shape)
        v /= np.linalg.norm(v)
        analytic = np.array([np.sum(v * grad)])
        numeric = np.array([directional_difference(f, x, v, h)])
        worst = max(worst, relative_error(analytic, numeric))
    return worst
# --8<-- [end:check]
