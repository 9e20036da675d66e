"""Derivatives and partial derivatives, on a worked example.

Code for the page docs/foundations/derivatives.md; each function names the equation of
that page it computes. Needs NumPy only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Largest y for which e^(2y) fits in float64 (e^709.78 is the largest float64).
Y_MAX = 354.0


def _check_step(h: float) -> float:
    if not (np.isfinite(h) and h != 0):
        raise ValueError(f"the step h must be a non-zero finite number, got {h!r}")
    return float(h)


def _check_finite(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (no inf or nan), got {a!r}")
    return a


def _check_xy(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return x, y as float arrays of one shape, with e^(2y) finite, or raise ValueError."""
    x, y = _check_finite(x, "x"), _check_finite(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    if np.any(y > Y_MAX):
        raise ValueError(f"y must be at most {Y_MAX} so that e^(2y) is finite, got {y.max()}")
    return x, y


# --8<-- [start:quotient]
def difference_quotient(f: Callable[[float], float], x: float, h: float) -> float:
    """The slope of the chord from x to x + h, whose limit is f'(x): eq. (1)."""
    h = _check_step(h)
    return (f(x + h) - f(x)) / h
# --8<-- [end:quotient]


# --8<-- [start:tangent]
def linear_approximation(f_x: float, df_x: float, dx: np.ndarray) -> np.ndarray:
    """Value of f near x predicted from f(x) and f'(x) for a step dx: eq. (2)."""
    dx = _check_finite(dx, "dx")
    return f_x + df_x * dx
# --8<-- [end:tangent]


# --8<-- [start:partial-quotients]
def partial_quotients(f: Callable[[float, float], float], x: float, y: float,
                      h: float) -> tuple[float, float]:
    """Difference quotients in x (y held fixed) and in y (x held fixed): eq. (3)."""
    h = _check_step(h)
    q_x = (f(x + h, y) - f(x, y)) / h      # only x moves
    q_y = (f(x, y + h) - f(x, y)) / h      # only y moves
    return q_x, q_y
# --8<-- [end:partial-quotients]


# --8<-- [start:example]
def f_example(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The worked example, elementwise: eq. (4)."""
    x, y = _check_xy(x, y)
    return np.exp(2 * y) * np.sin(x)
# --8<-- [end:example]


# --8<-- [start:partials]
def partials_example(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both partial derivatives of the worked example, elementwise: eq. (5)."""
    x, y = _check_xy(x, y)
    df_dx = np.exp(2 * y) * np.cos(x)      # e^(2y) is a constant factor: y is fixed
    df_dy = 2 * np.exp(2 * y) * np.sin(x)  # sin x is a constant factor: x is fixed
    return df_dx, df_dy
# --8<-- [end:partials]


# --8<-- [start:change]
def predicted_change(x: np.ndarray, y: np.ndarray, dx: np.ndarray,
                     dy: np.ndarray) -> np.ndarray:
    """First-order change of the worked example for small steps dx and dy: eq. (6)."""
    df_dx, df_dy = partials_example(x, y)
    return df_dx * dx + df_dy * dy
# --8<-- [end:change]
