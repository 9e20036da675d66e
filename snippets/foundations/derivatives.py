"""Derivatives and partial derivatives, on a worked example.

Code for the page docs/foundations/derivatives.md; each function names the equation of
that page it computes. Needs NumPy only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Largest y for which e^(2y) fits in float64 (e^709.78 is the largest float64).
Y_MAX = 354.0


# --8<-- [start:quotient]
def difference_quotient(f: Callable[[float], float], x: float, h: float) -> float:
    """The slope of the chord from x to x + h, whose limit is f'(x): eq. (1)."""
    x, h = _check_number(x, "x"), _check_step(h)
    return (f(x + h) - f(x)) / h
# --8<-- [end:quotient]


# --8<-- [start:tangent]
def linear_approximation(f_x: float, df_x: float, dx: np.ndarray) -> np.ndarray:
    """Value of f near x predicted from f(x) and f'(x) for a step dx: eq. (2)."""
    f_x, df_x, dx = _check_tangent(f_x, df_x, dx)
    return f_x + df_x * dx
# --8<-- [end:tangent]


# --8<-- [start:partial-quotients]
def partial_quotients(f: Callable[[float, float], float], x: float, y: float,
                      h: float) -> tuple[float, float]:
    """Difference quotients in x (y held fixed) and in y (x held fixed): eq. (3)."""
    x, y, h = _check_number(x, "x"), _check_number(y, "y"), _check_step(h)
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
    dx, dy = _check_changes(x, y, dx, dy)
    df_dx, df_dy = partials_example(x, y)
    return df_dx * dx + df_dy * dy
# --8<-- [end:change]


# Input checks, kept out of the sections the page shows.


def _check_step(h: float) -> float:
    if (np.ndim(h) != 0 or np.asarray(h).dtype.kind not in "biuf"
            or not (np.isfinite(h) and h != 0)):
        raise ValueError(f"the step h must be a non-zero finite number, got {h!r}")
    return float(h)


def _check_finite(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {a.dtype}")
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (no inf or nan), got {a!r}")
    return a


def _check_number(v: float, name: str) -> float:
    if np.ndim(v) != 0:
        raise ValueError(f"{name} must be a single number, got shape {np.shape(v)}")
    return float(_check_finite(v, name))


def _check_tangent(f_x: float, df_x: float,
                   dx: np.ndarray) -> tuple[float, float, np.ndarray]:
    f_x, df_x = _check_number(f_x, "f_x"), _check_number(df_x, "df_x")
    dx = _check_finite(dx, "dx")
    # Python floats: a product too large is inf, with no warning.
    size = abs(f_x) + abs(df_x) * float(np.max(np.abs(dx), initial=0.0))
    if not size <= np.finfo(np.float64).max:
        raise ValueError(f"|f_x| + |df_x| |dx| must be a finite float64, got {size}")
    return f_x, df_x, dx


def _check_changes(x: np.ndarray, y: np.ndarray, dx: np.ndarray,
                   dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the steps dx, dy as floats of the shape of the points x, or raise ValueError."""
    x, y = _check_xy(x, y)
    dx, dy = _check_finite(dx, "dx"), _check_finite(dy, "dy")
    if not dx.shape == dy.shape == x.shape:
        raise ValueError(f"dx and dy must have the shape of x, {x.shape}, "
                         f"got {dx.shape} and {dy.shape}")
    with np.errstate(over="ignore"):
        size = np.exp(2 * y) * (np.abs(dx) + 2 * np.abs(dy))   # bounds the change
    if not np.all(np.isfinite(size)):
        raise ValueError("e^(2y) (|dx| + 2 |dy|), a bound on the change, must be a finite "
                         f"float64, got {np.max(size)}")
    return dx, dy


def _check_xy(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return x, y as float arrays of one shape, with e^(2y) finite, or raise ValueError."""
    x, y = _check_finite(x, "x"), _check_finite(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    if np.any(y > Y_MAX):
        raise ValueError(f"y must be at most {Y_MAX} so that e^(2y) is finite, got {y.max()}")
    return x, y
