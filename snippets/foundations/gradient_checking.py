"""Gradient checking by finite differences and by the complex step.

Code for the page docs/foundations/gradient-checking.md. The project's own tests use
these functions to check every gradient on the site.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Step for central differences in float64: near the cube root of machine epsilon,
#: where truncation error (about h**2) and round-off error (about eps / h) balance.
H_CENTRAL = 1e-5

#: Step for forward differences in float64: near the square root of machine epsilon,
#: where truncation error (about h) and round-off error (about eps / h) balance.
H_FORWARD = 1e-8

#: Step for the complex-step method: it subtracts nothing, so h can be far below rounding.
H_COMPLEX = 1e-20

#: Above this many coordinates, check_gradient probes random directions instead.
MAX_COORDINATES = 64

#: Machine epsilon of float64: the gap between 1 and the next larger number.
EPS = float(np.finfo(np.float64).eps)


# --8<-- [start:forward]
def forward_difference(f: Callable[[np.ndarray], float], x: np.ndarray,
                       h: float = H_FORWARD) -> np.ndarray:
    """Numerical gradient by one-sided (forward) differences: eq. (1)."""
    _check_step(h)
    x = _as_float_array(x, "x").copy()
    f_x = float(f(x))                 # one evaluation at x, shared by every coordinate
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        x_j = x[idx]
        x[idx] = x_j + h
        grad[idx] = (float(f(x)) - f_x) / h
        x[idx] = x_j                  # restore before the next coordinate
    return grad
# --8<-- [end:forward]


# --8<-- [start:central]
def central_difference(f: Callable[[np.ndarray], float], x: np.ndarray,
                       h: float = H_CENTRAL) -> np.ndarray:
    """Numerical gradient of a scalar function, one coordinate at a time: eq. (2)."""
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


# --8<-- [start:best-step]
def best_steps(f_size: float, d2_size: float, d3_size: float,
               eps: float = EPS) -> tuple[float, float]:
    """Steps that minimise the error models of eq. (3): (forward h, central h).

    f_size, d2_size, d3_size are the sizes |f|, |f''| and |f'''| near the point.
    """
    f_size, d2_size, d3_size, eps = _check_sizes(f_size, d2_size, d3_size, eps)
    h_forward = 2.0 * np.sqrt(eps * f_size / d2_size)
    h_central = (3.0 * eps * f_size / d3_size) ** (1.0 / 3.0)
    return float(h_forward), float(h_central)
# --8<-- [end:best-step]


# --8<-- [start:sweep]
def step_size_errors(f: Callable[[np.ndarray], np.ndarray],
                     df: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                     hs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Measured relative errors of eqs. (1) and (2) for each step in hs.

    f and df work elementwise on the points x; each error is the worst over the points.
    Returns (forward errors, central errors), each of the shape of hs.
    """
    x, hs = _as_float_array(x, "x"), _check_steps(hs)
    exact = _check_nonzero(np.asarray(df(x), dtype=np.float64))
    forward, central = np.empty_like(hs), np.empty_like(hs)
    for k, h in enumerate(hs):
        fwd = (f(x + h) - f(x)) / h
        cen = (f(x + h) - f(x - h)) / (2 * h)
        forward[k] = np.max(np.abs(fwd - exact) / np.abs(exact))
        central[k] = np.max(np.abs(cen - exact) / np.abs(exact))
    return forward, central
# --8<-- [end:sweep]


# --8<-- [start:relative]
def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """Relative error between two gradients, in the Euclidean norm: eq. (4)."""
    a, b = _as_float_array(a, "a"), _as_float_array(b, "b")
    _check_same_shape(a, b, "a and b must have the same shape")
    _check_norms(a, b)
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    if scale == 0.0:
        return 0.0  # both gradients are exactly zero: they agree
    return float(np.linalg.norm(a - b) / scale)
# --8<-- [end:relative]


# --8<-- [start:directional]
def directional_difference(f: Callable[[np.ndarray], float], x: np.ndarray,
                           v: np.ndarray, h: float = H_CENTRAL) -> float:
    """Central difference along the direction v, estimating v . grad f(x): eq. (5)."""
    _check_step(h)
    x, v = _as_float_array(x, "x"), _as_float_array(v, "v")
    _check_same_shape(x, v, "the direction v must have the shape of x")
    return (float(f(x + h * v)) - float(f(x - h * v))) / (2 * h)
# --8<-- [end:directional]


# --8<-- [start:check]
def check_gradient(f: Callable[[np.ndarray], float], grad: np.ndarray, x: np.ndarray,
                   rng: np.random.Generator | None = None, n_directions: int = 16,
                   h: float = H_CENTRAL) -> float:
    """Relative error of grad against central differences: eqs. (2), (4) and (5).

    Small inputs are checked in every coordinate. Larger ones are checked along
    n_directions random unit directions v: the derivatives v . grad and the directional
    differences are compared as two vectors of n_directions entries, by eq. (4).
    """
    x, grad = _as_float_array(x, "x"), _as_float_array(grad, "grad")
    _check_same_shape(x, grad, "grad must have the shape of x")
    _check_probe(x, grad, n_directions)
    if x.size <= MAX_COORDINATES:
        return relative_error(grad, central_difference(f, x, h))
    rng = np.random.default_rng(0) if rng is None else rng
    analytic, numeric = np.empty(n_directions), np.empty(n_directions)
    for k in range(n_directions):
        v = rng.standard_normal(x.shape)
        v /= np.linalg.norm(v)
        analytic[k] = np.sum(v * grad)
        numeric[k] = directional_difference(f, x, v, h)
    return relative_error(analytic, numeric)
# --8<-- [end:check]


# --8<-- [start:layer]
def check_layer(forward: Callable[[np.ndarray], np.ndarray],
                backward: Callable[[np.ndarray, np.ndarray], np.ndarray],
                V: np.ndarray, rng: np.random.Generator | None = None) -> float:
    """Check a layer's backward pass with a random upstream gradient G: eq. (6).

    forward(V) is the layer's output; backward(V, G) must return the gradient of
    sum(G * forward(V)) with respect to V, which is J^T G.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    V = _as_float_array(V, "V")
    G = rng.standard_normal(np.shape(forward(V)))     # the upstream gradient
    s = lambda U: float(np.sum(G * forward(U)))       # one number: sum of G * F(U)
    return check_gradient(s, backward(V, G), V, rng=rng)
# --8<-- [end:layer]


# --8<-- [start:complex-step]
def complex_step(f: Callable[[np.ndarray], complex], x: np.ndarray,
                 h: float = H_COMPLEX) -> np.ndarray:
    """Numerical gradient by the complex step, for f analytic: eq. (7)."""
    _check_step(h)
    x = _as_float_array(x, "x")
    z = x.astype(np.complex128)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        z[idx] += 1j * h
        grad[idx] = np.imag(f(z)) / h   # no subtraction: no cancellation
        z[idx] = x[idx]
    return grad
# --8<-- [end:complex-step]


# Input checks, kept out of the sections the page shows.


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


def _is_positive_number(value: float) -> bool:
    """True for one real, finite, positive number (not an array, not a string)."""
    return (np.ndim(value) == 0 and np.asarray(value).dtype.kind in "iuf"
            and bool(np.isfinite(value) and value > 0))


def _check_step(h: float) -> None:
    if not _is_positive_number(h):
        raise ValueError(f"the step h must be a positive finite number, got {h!r}")


def _check_steps(hs: np.ndarray) -> np.ndarray:
    hs = _as_float_array(hs, "hs")
    if hs.ndim != 1 or hs.size == 0 or np.any(hs <= 0):
        raise ValueError(f"hs must be a non-empty 1-D array of positive steps, got {hs!r}")
    return hs


def _check_nonzero(exact: np.ndarray) -> np.ndarray:
    if exact.size == 0:
        raise ValueError(f"x must hold at least one point, got df(x) of shape {exact.shape}")
    if not np.all(np.isfinite(exact)):
        raise ValueError(f"df(x) must be finite at every point, got {exact!r}")
    if np.any(exact == 0):
        raise ValueError("df(x) must be non-zero at every point to measure a relative error, "
                         f"got {exact!r}")
    return exact


def _check_positive(value: float, name: str) -> float:
    if not _is_positive_number(value):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _check_sizes(f_size: float, d2_size: float, d3_size: float,
                 eps: float) -> tuple[float, float, float, float]:
    """Four positive numbers for which both steps of eq. (3) are positive floats."""
    sizes = (_check_positive(f_size, "f_size"), _check_positive(d2_size, "d2_size"),
             _check_positive(d3_size, "d3_size"), _check_positive(eps, "eps"))
    f_size, d2_size, d3_size, eps = sizes
    # Python floats: overflow gives inf and underflow 0, with no warning.
    ratios = (eps * f_size / d2_size, 3.0 * eps * f_size / d3_size)
    if not all(0.0 < r < np.inf for r in ratios):
        raise ValueError(f"eps f_size / d2_size and 3 eps f_size / d3_size must be positive "
                         f"finite float64 numbers, got {ratios[0]:.3g} and {ratios[1]:.3g}")
    return sizes


def _check_norms(a: np.ndarray, b: np.ndarray) -> None:
    with np.errstate(over="ignore"):
        norms = np.linalg.norm(a), np.linalg.norm(b)
    if not np.all(np.isfinite(norms)):
        raise ValueError("the lengths of a and b must be finite (entries below about 1e154), "
                         f"got {norms[0]} and {norms[1]}")


def _check_probe(x: np.ndarray, grad: np.ndarray, n_directions: int) -> None:
    if x.size == 0:
        raise ValueError(f"x must have at least one entry to check, got shape {x.shape}")
    with np.errstate(over="ignore"):
        length = np.linalg.norm(grad)                  # bounds v . grad for unit v
    if not np.isfinite(length):
        raise ValueError(f"the length of grad must be finite (entries below about 1e154), "
                         f"got {length}")
    if (isinstance(n_directions, bool) or not isinstance(n_directions, int | np.integer)
            or n_directions < 1):
        raise ValueError(f"n_directions must be a positive integer, got {n_directions!r}")
