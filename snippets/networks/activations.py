"""Activation functions and their derivatives.

Code for the page docs/networks/activations.md; each function names the equation of that
page it computes. Every function works elementwise on an array of any shape. Needs NumPy
and the standard library only (math.erf for the exact GELU).
"""

from __future__ import annotations

import math

import numpy as np

#: Slope of the leaky ReLU for negative inputs, a common default.
LEAKY_SLOPE = 0.01

#: The constant of the tanh approximation of the GELU.
GELU_TANH_C = 0.044715


#: Largest |z| the GELU derivative and the tanh-approximated GELU accept: beyond about
#: 1e102, z**3 (and beyond 1e154, z**2) overflows. Far below it, GELU(z) = relu(z) anyway.
POLY_Z_LIMIT = 1e100

#: Largest |z| tanh_from_sigmoid accepts: 2 z overflows beyond it.
DOUBLE_Z_LIMIT = np.finfo(np.float64).max / 2.0


# --8<-- [start:sigmoid]
def sigmoid(z: np.ndarray) -> np.ndarray:
    """The sigmoid of eq. (1), in the stable form that only takes exp of -|z|."""
    z = _check_z(z)
    e = np.exp(-np.abs(z))                       # in (0, 1]: never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_derivative(z: np.ndarray) -> np.ndarray:
    """Derivative of the sigmoid, from its own value: eq. (1)."""
    s = sigmoid(z)
    return s * (1.0 - s)
# --8<-- [end:sigmoid]


# --8<-- [start:tanh]
def tanh(z: np.ndarray) -> np.ndarray:
    """The hyperbolic tangent of eq. (2) (NumPy's, which never overflows)."""
    return np.tanh(_check_z(z))


def tanh_derivative(z: np.ndarray) -> np.ndarray:
    """Derivative of tanh, from its own value: eq. (2)."""
    t = tanh(z)
    return 1.0 - t**2
# --8<-- [end:tanh]


# --8<-- [start:tanh-sigmoid]
def tanh_from_sigmoid(z: np.ndarray) -> np.ndarray:
    """tanh computed from the sigmoid, a stretched and shifted copy of it: eq. (3)."""
    z = _check_z(z, limit=DOUBLE_Z_LIMIT)
    return 2.0 * sigmoid(2.0 * z) - 1.0
# --8<-- [end:tanh-sigmoid]


# --8<-- [start:relu]
def relu(z: np.ndarray) -> np.ndarray:
    """The rectified linear unit of eq. (4)."""
    return np.maximum(_check_z(z), 0.0)


def relu_derivative(z: np.ndarray) -> np.ndarray:
    """Derivative of the ReLU, with the value 0 taken at z = 0: eq. (4)."""
    return np.where(_check_z(z) > 0, 1.0, 0.0)
# --8<-- [end:relu]


# --8<-- [start:leaky-relu]
def leaky_relu(z: np.ndarray, alpha: float = LEAKY_SLOPE) -> np.ndarray:
    """The leaky ReLU of eq. (5), slope alpha for negative inputs."""
    z, alpha = _check_z(z), _check_slope(alpha)
    return np.where(z > 0, z, alpha * z)


def leaky_relu_derivative(z: np.ndarray, alpha: float = LEAKY_SLOPE) -> np.ndarray:
    """Derivative of the leaky ReLU, with the value alpha taken at z = 0: eq. (5)."""
    alpha = _check_slope(alpha)
    return np.where(_check_z(z) > 0, 1.0, alpha)
# --8<-- [end:leaky-relu]


# --8<-- [start:elu]
def elu(z: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """The exponential linear unit of eq. (6)."""
    z, alpha = _check_z(z), _check_slope(alpha)
    # np.where evaluates both branches: clip at 0 so exp never sees a large z.
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))


def elu_derivative(z: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Derivative of the ELU: eq. (6)."""
    z, alpha = _check_z(z), _check_slope(alpha)
    return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0)))
# --8<-- [end:elu]


# --8<-- [start:softplus]
def naive_softplus(z: np.ndarray) -> np.ndarray:
    """Softplus as eq. (7) writes it: exp overflows, giving inf, for z > 709."""
    z = _check_z(z)
    return np.log(1.0 + np.exp(z))


def softplus(z: np.ndarray) -> np.ndarray:
    """Softplus of eq. (7), as log(e^0 + e^z) with np.logaddexp: finite for every z."""
    return np.logaddexp(0.0, _check_z(z))


def softplus_derivative(z: np.ndarray) -> np.ndarray:
    """Derivative of softplus, which is the sigmoid: eq. (7)."""
    return sigmoid(z)
# --8<-- [end:softplus]


# --8<-- [start:softplus-relu]
def scaled_softplus(z: np.ndarray, beta: float = 1.0) -> np.ndarray:
    """Softplus sharpened by beta, as ReLU plus a gap <= log(2)/beta: eq. (8)."""
    z, beta = _check_z(z), _check_positive(beta, "beta")
    return relu(z) + np.log1p(np.exp(-beta * np.abs(z))) / beta
# --8<-- [end:softplus-relu]


# --8<-- [start:gelu]
#: NumPy has no erf: apply the standard library's math.erf to each entry.
erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu(z: np.ndarray) -> np.ndarray:
    """The exact GELU, z times the normal distribution function Phi(z): eq. (9)."""
    z = _check_z(z)
    Phi = 0.5 * (1.0 + erf(z / math.sqrt(2.0)))
    return z * Phi


def gelu_derivative(z: np.ndarray) -> np.ndarray:
    """Derivative of the exact GELU, Phi(z) + z phi(z): eq. (9)."""
    z = _check_z(z, limit=POLY_Z_LIMIT)
    Phi = 0.5 * (1.0 + erf(z / math.sqrt(2.0)))
    phi = np.exp(-0.5 * z**2) / math.sqrt(2.0 * math.pi)   # the normal density
    return Phi + z * phi
# --8<-- [end:gelu]


# --8<-- [start:gelu-tanh]
def gelu_tanh(z: np.ndarray) -> np.ndarray:
    """The tanh approximation of the GELU: eq. (10)."""
    z = _check_z(z, limit=POLY_Z_LIMIT)
    u = math.sqrt(2.0 / math.pi) * (z + GELU_TANH_C * z**3)
    return 0.5 * z * (1.0 + np.tanh(u))


def gelu_tanh_derivative(z: np.ndarray) -> np.ndarray:
    """Derivative of the tanh approximation of the GELU (product rule): eq. (10)."""
    z = _check_z(z, limit=POLY_Z_LIMIT)
    u = math.sqrt(2.0 / math.pi) * (z + GELU_TANH_C * z**3)
    du = math.sqrt(2.0 / math.pi) * (1.0 + 3.0 * GELU_TANH_C * z**2)
    t = np.tanh(u)
    return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t**2) * du
# --8<-- [end:gelu-tanh]


# --8<-- [start:silu]
def silu(z: np.ndarray) -> np.ndarray:
    """SiLU (swish with beta = 1), z times sigmoid(z): eq. (11)."""
    z = _check_z(z)
    return z * sigmoid(z)


def silu_derivative(z: np.ndarray) -> np.ndarray:
    """Derivative of the SiLU (product rule): eq. (11)."""
    s = sigmoid(z)
    return s * (1.0 + _check_z(z) * (1.0 - s))
# --8<-- [end:silu]


# Input checks, kept out of the sections the page shows.


def _check_z(z: np.ndarray, limit: float = np.inf) -> np.ndarray:
    """Return z as a finite float array (|z| <= limit), or raise ValueError."""
    try:
        z = np.asarray(z)
    except ValueError:            # a ragged nested list
        raise ValueError("z must be a rectangular array of numbers") from None
    if z.dtype.kind not in "biuf":
        raise ValueError(f"z must be an array of real numbers, got dtype {z.dtype}")
    z = z.astype(np.float64)
    if not np.all(np.isfinite(z)):
        raise ValueError(f"z must be finite (no inf or nan), got {z[~np.isfinite(z)][:3]}")
    if np.any(np.abs(z) > limit):
        raise ValueError(f"z must have |z| <= {limit:.3g} here (powers of z overflow "
                         f"beyond), got {z[np.abs(z) > limit][:3]}")
    return z


def _is_real_number(value: object) -> bool:
    """Whether value is one real number (not an array, a bool or a string) and finite."""
    return (not isinstance(value, (list, tuple, bool, np.bool_, str, bytes))
            and np.ndim(value) == 0
            and np.asarray(value).dtype.kind in "iuf" and bool(np.isfinite(value)))


def _check_positive(value: float, name: str) -> float:
    if not (_is_real_number(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _check_slope(alpha: float) -> float:
    """Return the negative-side slope alpha, a finite number >= 0, or raise ValueError."""
    if not (_is_real_number(alpha) and alpha >= 0):
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
    return float(alpha)
