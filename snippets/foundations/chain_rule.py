"""The chain rule, and forward and backward passes on small computation graphs.

Code for the page docs/foundations/chain-rule.md; each function names the equation of that
page it computes. Needs NumPy only.
"""

from __future__ import annotations

import numpy as np

#: Largest float64, and the largest number whose square is still a float64 (1.34e154).
_FLOAT_MAX = float(np.finfo(np.float64).max)
_SQUARE_MAX = float(np.sqrt(_FLOAT_MAX))


def _check_bound(size: float, what: str, limit: float) -> None:
    """Raise ValueError unless size, a bound on an intermediate value, is at most limit."""
    if not size <= limit:
        raise ValueError(f"{what} must be at most {limit:.3g} so that float64 does not "
                         f"overflow, got {size:.3g}")


def _dot_size(x: np.ndarray, w: np.ndarray) -> float:
    """|x| . |w|, a bound on |x . w| (inf if even that overflows)."""
    with np.errstate(over="ignore"):
        return float(np.abs(x) @ np.abs(w))


def _check_finite(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {a.dtype}")
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (no inf or nan), got {a!r}")
    return a


def _check_square(a: np.ndarray, name: str) -> np.ndarray:
    """Return a as floats whose squares are finite (|a| up to about 1.3e154)."""
    a = _check_finite(a, name)
    with np.errstate(over="ignore"):
        too_large = ~np.isfinite(a * a)
    if np.any(too_large):
        raise ValueError(f"{name}^2 must be finite, so |{name}| at most "
                         f"{_SQUARE_MAX:.3g}, got {float(a[too_large][0])}")
    return a


def _check_scalar(v: float, name: str) -> float:
    if np.ndim(v) != 0:
        raise ValueError(f"{name} must be a scalar, got shape {np.shape(v)}")
    return float(_check_finite(v, name))


def _check_scalars(**values: float) -> tuple[float, ...]:
    return tuple(_check_scalar(v, name) for name, v in values.items())


def _check_input(x: np.ndarray) -> np.ndarray:
    x = _check_finite(x, "x")
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"x must be a non-empty 1-D array of shape (n,), got {x.shape}")
    return x


def _check_neuron(x: np.ndarray, w: np.ndarray,
                  w_name: str = "w") -> tuple[np.ndarray, np.ndarray]:
    x, w = _check_finite(x, "x"), _check_finite(w, w_name)
    if x.ndim != 1 or x.size == 0 or w.shape != x.shape:
        raise ValueError(f"x and {w_name} must be non-empty 1-D arrays of the same shape "
                         f"(n,), got {x.shape} and {w.shape}")
    return x, w


def _check_neuron_forward(x: np.ndarray, w: np.ndarray, b: float,
                          y: float) -> tuple[np.ndarray, np.ndarray, float, float]:
    x, w = _check_neuron(x, w)
    b, y = _check_scalars(b=b, y=y)
    _check_bound(_dot_size(x, w) + abs(b) + abs(y), "|x| . |w| + |b| + |y| (a bound on "
                 "|z - y|, which is squared)", _SQUARE_MAX)
    return x, w, b, y


def _check_neuron_backward(x: np.ndarray, w: np.ndarray, z: float,
                           y: float) -> tuple[np.ndarray, np.ndarray, float, float]:
    x, w = _check_neuron(x, w)
    z, y = _check_scalars(z=z, y=y)
    # Python floats: a product too large is inf, with no warning (a ** 2 would raise).
    largest = float(max(np.max(np.abs(x)), np.max(np.abs(w)), 1.0))
    _check_bound(2.0 * (abs(z) + abs(y)) * largest, "2 (|z| + |y|) max(|x|, |w|, 1) "
                 "(a bound on dz, dx and dw)", _FLOAT_MAX)
    return x, w, z, y


def _check_label(y: float) -> float:
    y = _check_scalar(y, "y")
    if y not in (0.0, 1.0):
        raise ValueError(f"the label y must be 0 or 1, got {y}")
    return y


def _check_not_saturated(a: float) -> float:
    if not 0.0 < a < 1.0:
        raise ValueError(f"the sigmoid saturated to a = {a}, where log(a) or log(1 - a) is "
                         "infinite; use the loss from the logit of the logistic regression page")
    return a


def _check_activation(a: float, name: str, closed: bool) -> float:
    a = _check_scalar(a, name)
    inside = 0.0 <= a <= 1.0 if closed else 0.0 < a < 1.0
    if not inside:
        interval = "[0, 1]" if closed else "the open interval (0, 1)"
        raise ValueError(f"{name} must be a sigmoid output in {interval}, got {a}")
    return a


def _check_fan_out(x: float) -> float:
    x = _check_scalar(x, "x")
    _check_bound(abs(x), "|x| (it is squared)", _SQUARE_MAX)
    return x


def _check_fan_out_backward(x: float, u: float, v: float) -> tuple[float, float, float]:
    x, u, v = _check_scalars(x=x, u=u, v=v)
    _check_bound(2.0 * abs(x) * abs(v) + abs(u), "2 |x| |v| + |u| (a bound on dl/dx)",
                 _FLOAT_MAX)
    return x, u, v


def _check_logistic_forward(x: np.ndarray, w: np.ndarray, b: float,
                            y: float) -> tuple[np.ndarray, np.ndarray, float, float]:
    x, w = _check_neuron(x, w)
    b, y = _check_scalar(b, "b"), _check_label(y)
    _check_bound(_dot_size(x, w) + abs(b), "|x| . |w| + |b| (a bound on |z|)", _FLOAT_MAX)
    return x, w, b, y


def _check_logistic_backward(x: np.ndarray, a: float,
                             y: float) -> tuple[np.ndarray, float, float]:
    """x (n,), a in (0, 1) with 1 / a finite, and y in {0, 1}."""
    x, a, y = _check_input(x), _check_activation(a, "a", closed=False), _check_label(y)
    if a < 1.0 / _FLOAT_MAX:
        raise ValueError(f"a must be at least {1.0 / _FLOAT_MAX:.3g} so that 1 / a is finite, "
                         f"got {a}; use the gradient a - y of the logistic regression page")
    return x, a, y


def _check_two_layer_forward(x: np.ndarray, w1: np.ndarray, b1: float, w2: float,
                             b2: float, y: float) -> tuple[np.ndarray, ...]:
    x, w1 = _check_neuron(x, w1, "w1")
    b1, w2, b2, y = _check_scalars(b1=b1, w2=w2, b2=b2, y=y)
    _check_bound(_dot_size(x, w1) + abs(b1), "|x| . |w1| + |b1| (a bound on |z1|)",
                 _FLOAT_MAX)
    _check_bound(abs(w2) + abs(b2) + abs(y), "|w2| + |b2| + |y| (a bound on |z2 - y|, "
                 "which is squared)", _SQUARE_MAX)
    return x, w1, b1, w2, b2, y


def _check_two_layer_backward(x: np.ndarray, w2: float, a1: float, z2: float,
                              y: float) -> tuple[np.ndarray, float, float, float, float]:
    w2, z2, y = _check_scalars(w2=w2, z2=z2, y=y)
    x, a1 = _check_input(x), _check_activation(a1, "a1", closed=True)
    largest = float(max(np.max(np.abs(x)), abs(w2), 1.0))
    _check_bound(2.0 * (abs(z2) + abs(y)) * largest * largest,
                 "2 (|z2| + |y|) max(|x|, |w2|, 1)^2 (a bound on every gradient)", _FLOAT_MAX)
    return x, w2, a1, z2, y


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """Sigmoid without overflow: exp of -|z| only."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# --8<-- [start:single]
def sin_of_square(x: np.ndarray) -> np.ndarray:
    """The composition sin(x^2) of the example after eq. (1)."""
    x = _check_square(x, "x")
    return np.sin(x**2)


def sin_of_square_derivative(x: np.ndarray) -> np.ndarray:
    """Its derivative by the chain rule, outer derivative times inner: eq. (1)."""
    x = _check_square(x, "x")
    u = x**2                  # inner function g(x)
    return np.cos(u) * 2 * x  # f'(g(x)) * g'(x)
# --8<-- [end:single]


# --8<-- [start:multivariable]
def product_along_path(t: np.ndarray) -> np.ndarray:
    """f(x, y) = x y with x = t^2 and y = sin t, as in the example of eq. (2)."""
    t = _check_square(t, "t")
    return t**2 * np.sin(t)


def product_along_path_derivative(t: np.ndarray) -> np.ndarray:
    """df/dt as a sum over the two paths from t to f: eq. (2)."""
    t = _check_square(t, "t")
    x, y = t**2, np.sin(t)
    df_dx, df_dy = y, x                  # partial derivatives of f = x y
    dx_dt, dy_dt = 2 * t, np.cos(t)
    return df_dx * dx_dt + df_dy * dy_dt
# --8<-- [end:multivariable]


# --8<-- [start:neuron-forward]
def neuron_forward(x: np.ndarray, w: np.ndarray, b: float,
                   y: float) -> tuple[float, float]:
    """Forward pass of one linear neuron and its squared error: eq. (3).

    Returns (z, loss): the value of every node the backward pass needs, and the loss.
    """
    x, w, b, y = _check_neuron_forward(x, w, b, y)
    z = float(x @ w + b)       # x1 w1 + x2 w2 + ... + b
    loss = (z - y) ** 2
    return z, loss
# --8<-- [end:neuron-forward]


# --8<-- [start:neuron-backward]
def neuron_backward(x: np.ndarray, w: np.ndarray, z: float,
                    y: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Backward pass of the neuron: forward value times backward value, eq. (4).

    Returns (dx, dw, db), the gradients of the loss, shaped like x, w and b.
    """
    x, w, z, y = _check_neuron_backward(x, w, z, y)
    dz = 2.0 * (z - y)         # backward-pass value at z: dl/dz
    dw = x * dz                # dz/dw_j = x_j, a forward-pass value
    dx = w * dz                # dz/dx_j = w_j: the gradient passed down
    db = dz                    # dz/db = 1
    return dx, dw, db
# --8<-- [end:neuron-backward]


# --8<-- [start:fan-out]
def fan_out_forward(x: float) -> tuple[float, float, float]:
    """Forward pass of the graph where x feeds two nodes: eq. (5). Returns (u, v, l)."""
    x = _check_fan_out(x)
    u = x**2
    v = np.sin(x)
    out = u * v                # the output l = u v
    return u, float(v), float(out)


def fan_out_backward(x: float, u: float, v: float) -> float:
    """dl/dx as the sum of the contributions through u and v: eq. (5)."""
    x, u, v = _check_fan_out_backward(x, u, v)
    du, dv = v, u              # dl/du and dl/dv for l = u v
    through_u = 2 * x * du     # (du/dx) (dl/du)
    through_v = np.cos(x) * dv  # (dv/dx) (dl/dv)
    return float(through_u + through_v)
# --8<-- [end:fan-out]


# --8<-- [start:logistic]
def logistic_forward(x: np.ndarray, w: np.ndarray, b: float,
                     y: float) -> tuple[float, float, float]:
    """Forward pass of logistic regression on one example: eq. (6).

    Returns (z, a, loss).
    """
    x, w, b, y = _check_logistic_forward(x, w, b, y)
    z = float(x @ w + b)
    a = _check_not_saturated(float(_sigmoid(z)))
    loss = -(y * np.log(a) + (1 - y) * np.log(1 - a))
    return z, a, float(loss)


def logistic_backward(x: np.ndarray, a: float, y: float) -> tuple[np.ndarray, float]:
    """Backward pass, node by node from the loss to w and b: eq. (6).

    Returns (dw, db).
    """
    x, a, y = _check_logistic_backward(x, a, y)
    da = -y / a + (1 - y) / (1 - a)     # d loss / da
    dz = da * a * (1 - a)               # times da/dz = a (1 - a); simplifies to a - y
    dw = np.asarray(x, dtype=np.float64) * dz   # times dz/dw_j = x_j
    db = dz                             # times dz/db = 1
    return dw, float(db)
# --8<-- [end:logistic]


# --8<-- [start:two-layer]
def two_layer_forward(x: np.ndarray, w1: np.ndarray, b1: float, w2: float, b2: float,
                      y: float) -> tuple[float, float, float, float]:
    """Forward pass of two neurons in a row: eq. (7). Returns (z1, a1, z2, loss)."""
    x, w1, b1, w2, b2, y = _check_two_layer_forward(x, w1, b1, w2, b2, y)
    z1 = float(x @ w1 + b1)      # first neuron
    a1 = float(_sigmoid(z1))     # its activation
    z2 = w2 * a1 + b2            # second neuron, one input
    loss = (z2 - y) ** 2
    return z1, a1, z2, loss


def two_layer_backward(x: np.ndarray, w2: float, a1: float, z2: float,
                       y: float) -> tuple[np.ndarray, float, float, float]:
    """Backward pass through both neurons: eq. (7). Returns (dw1, db1, dw2, db2)."""
    x, w2, a1, z2, y = _check_two_layer_backward(x, w2, a1, z2, y)
    dz2 = 2.0 * (z2 - y)         # dl/dz2
    dw2 = a1 * dz2               # forward value a1 times backward value dz2
    db2 = dz2
    da1 = w2 * dz2               # back through the second neuron
    dz1 = da1 * a1 * (1 - a1)    # back through the sigmoid
    dw1 = np.asarray(x, dtype=np.float64) * dz1
    db1 = dz1
    return dw1, db1, dw2, db2
# --8<-- [end:two-layer]
