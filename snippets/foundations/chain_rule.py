"""The chain rule, and forward and backward passes on small computation graphs.

Code for the page docs/foundations/chain-rule.md; each function names the equation of that
page it computes. Needs NumPy only.
"""

from __future__ import annotations

import numpy as np


def _check_finite(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (no inf or nan), got {a!r}")
    return a


def _check_scalar(v: float, name: str) -> float:
    if np.ndim(v) != 0:
        raise ValueError(f"{name} must be a scalar, got shape {np.shape(v)}")
    return float(_check_finite(v, name))


def _check_scalars(**values: float) -> tuple[float, ...]:
    return tuple(_check_scalar(v, name) for name, v in values.items())


def _check_neuron(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, w = _check_finite(x, "x"), _check_finite(w, "w")
    if x.ndim != 1 or w.shape != x.shape:
        raise ValueError(f"x and w must be 1-D arrays of the same shape (n,), "
                         f"got {x.shape} and {w.shape}")
    return x, w


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


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """Sigmoid without overflow: exp of -|z| only."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# --8<-- [start:single]
def sin_of_square(x: np.ndarray) -> np.ndarray:
    """The composition sin(x^2) of the example after eq. (1)."""
    x = _check_finite(x, "x")
    return np.sin(x**2)


def sin_of_square_derivative(x: np.ndarray) -> np.ndarray:
    """Its derivative by the chain rule, outer derivative times inner: eq. (1)."""
    x = _check_finite(x, "x")
    u = x**2                  # inner function g(x)
    return np.cos(u) * 2 * x  # f'(g(x)) * g'(x)
# --8<-- [end:single]


# --8<-- [start:multivariable]
def product_along_path(t: np.ndarray) -> np.ndarray:
    """f(x, y) = x y with x = t^2 and y = sin t, as in the example of eq. (2)."""
    t = _check_finite(t, "t")
    return t**2 * np.sin(t)


def product_along_path_derivative(t: np.ndarray) -> np.ndarray:
    """df/dt as a sum over the two paths from t to f: eq. (2)."""
    t = _check_finite(t, "t")
    x, y = t**2, np.sin(t)
    df_dx, df_dy = y, x                  # partial derivatives of f = x y
    dx_dt, dy_dt = 2 * t, np.cos(t)
    return df_dx * dx_dt + df_dy * dy_dt
# --8<-- [end:multivariable]


# --8<-- [start:neuron-forward]
def neuron_forward(x: np.ndarray, w: np.ndarray, b: float,
                   y: float) -> tuple[float, float]:
    """Forward pass of one linear neuron and its squared error: eq. (3).

    Returns (z, C): the value of every node the backward pass needs, and the cost.
    """
    x, w = _check_neuron(x, w)
    b, y = _check_scalars(b=b, y=y)
    z = float(x @ w + b)       # x1 w1 + x2 w2 + ... + b
    C = (z - y) ** 2
    return z, C
# --8<-- [end:neuron-forward]


# --8<-- [start:neuron-backward]
def neuron_backward(x: np.ndarray, w: np.ndarray, z: float,
                    y: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Backward pass of the neuron: forward value times backward value, eq. (4).

    Returns (dx, dw, db), the gradients of C, shaped like x, w and b.
    """
    x, w = _check_neuron(x, w)
    dz = 2.0 * (z - y)         # backward-pass value at z: dC/dz
    dw = x * dz                # dz/dw_j = x_j, a forward-pass value
    dx = w * dz                # dz/dx_j = w_j
    db = dz                    # dz/db = 1
    return dx, dw, db
# --8<-- [end:neuron-backward]


# --8<-- [start:fan-out]
def fan_out_forward(x: float) -> tuple[float, float, float]:
    """Forward pass of the graph where x feeds two nodes: eq. (5). Returns (u, v, C)."""
    x = _check_scalar(x, "x")
    u = x**2
    v = np.sin(x)
    C = u * v
    return u, float(v), float(C)


def fan_out_backward(x: float, u: float, v: float) -> float:
    """dC/dx as the sum of the contributions through u and v: eq. (5)."""
    x = _check_scalar(x, "x")
    du, dv = v, u              # dC/du and dC/dv for C = u v
    through_u = 2 * x * du     # (du/dx) (dC/du)
    through_v = np.cos(x) * dv  # (dv/dx) (dC/dv)
    return float(through_u + through_v)
# --8<-- [end:fan-out]


# --8<-- [start:logistic]
def logistic_forward(x: np.ndarray, w: np.ndarray, b: float,
                     y: float) -> tuple[float, float, float]:
    """Forward pass of logistic regression on one example: eq. (6).

    Returns (z, a, loss).
    """
    x, w = _check_neuron(x, w)
    b, y = _check_scalar(b, "b"), _check_label(y)
    z = float(x @ w + b)
    a = _check_not_saturated(float(_sigmoid(z)))
    loss = -(y * np.log(a) + (1 - y) * np.log(1 - a))
    return z, a, float(loss)


def logistic_backward(x: np.ndarray, a: float, y: float) -> tuple[np.ndarray, float]:
    """Backward pass, node by node from the loss to w and b: eq. (6).

    Returns (dw, db).
    """
    da = -y / a + (1 - y) / (1 - a)     # d loss / da
    dz = da * a * (1 - a)               # times da/dz = a (1 - a); simplifies to a - y
    dw = np.asarray(x, dtype=np.float64) * dz   # times dz/dw_j = x_j
    db = dz                             # times dz/db = 1
    return dw, float(db)
# --8<-- [end:logistic]


# --8<-- [start:two-layer]
def two_layer_forward(x: np.ndarray, w1: np.ndarray, b1: float, w2: float, b2: float,
                      y: float) -> tuple[float, float, float, float]:
    """Forward pass of two neurons in a row: eq. (7). Returns (z1, a1, z2, C)."""
    x, w1 = _check_neuron(x, w1)
    b1, w2, b2, y = _check_scalars(b1=b1, w2=w2, b2=b2, y=y)
    z1 = float(x @ w1 + b1)      # first neuron
    a1 = float(_sigmoid(z1))     # its activation
    z2 = w2 * a1 + b2            # second neuron, one input
    C = (z2 - y) ** 2
    return z1, a1, z2, C


def two_layer_backward(x: np.ndarray, w2: float, a1: float, z2: float,
                       y: float) -> tuple[np.ndarray, float, float, float]:
    """Backward pass through both neurons: eq. (7). Returns (dw1, db1, dw2, db2)."""
    dz2 = 2.0 * (z2 - y)         # dC/dz2
    dw2 = a1 * dz2               # forward value a1 times backward value dz2
    db2 = dz2
    da1 = w2 * dz2               # back through the second neuron
    dz1 = da1 * a1 * (1 - a1)    # back through the sigmoid
    dw1 = np.asarray(x, dtype=np.float64) * dz1
    db1 = dz1
    return dw1, db1, dw2, db2
# --8<-- [end:two-layer]
