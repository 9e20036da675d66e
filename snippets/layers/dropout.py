"""Inverted dropout: a random mask in training, the identity in evaluation.

Code for the page docs/layers/dropout.md; each function names the equation of that page
it computes. The layer follows the contract of docs/layers/modules.md:

    dropout_forward(A, {}, p_keep, rng, train) -> (Z, cache)
    dropout_backward(dZ, cache) -> (dA, {})

A may have any shape; p_keep in (0, 1] is the keep probability, and the mask is drawn
from the numpy.random.Generator rng that the caller passes in, so a run can be repeated.
Needs NumPy only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

Array = np.ndarray
Params = dict[str, np.ndarray]
Cache = Any


# --8<-- [start:forward]
def dropout_forward(A: Array, params: Params, p_keep: float = 0.5,
                    rng: np.random.Generator | None = None,
                    train: bool = True) -> tuple[Array, Cache]:
    """Z = A ⊙ U / p_keep in training, Z = A in evaluation: eq. (1)."""
    A = _check_forward(A, params, p_keep, rng, train)
    if not train:
        return A.copy(), (None, p_keep, A.shape)       # evaluation: no mask at all
    mask = (rng.random(A.shape) < p_keep).astype(np.float64)   # U: 1 w.p. p_keep
    Z = A * mask / p_keep             # a kept entry is divided by p_keep, others are 0
    return Z, (mask, p_keep, A.shape)   # backward reuses this very mask
# --8<-- [end:forward]


# --8<-- [start:expectation]
def expected_scale(p_keep: float) -> float:
    """E[U / p_keep] over the two values of U, eq. (2): 1 for every p_keep."""
    _check_p_keep(p_keep)
    return p_keep * (1.0 / p_keep) + (1.0 - p_keep) * (0.0 / p_keep)


def average_output(A: Array, p_keep: float, rng: np.random.Generator,
                   n_draws: int) -> Array:
    """Mean of n_draws dropout outputs of A, each with its own mask: eq. (2)."""
    n_draws = _check_draws(n_draws)
    stacked = np.broadcast_to(A, (n_draws,) + np.shape(A))   # n_draws copies of A
    Z, _ = dropout_forward(stacked, {}, p_keep, rng)         # one mask per copy
    return np.mean(Z, axis=0)
# --8<-- [end:expectation]


# --8<-- [start:variance]
def standard_error(p_keep: float, n_draws: int) -> float:
    """Standard deviation of the mean of n_draws values of U / p_keep: eq. (3)."""
    _check_p_keep(p_keep)
    n_draws = _check_draws(n_draws)
    return math.sqrt((1.0 - p_keep) / (p_keep * n_draws))
# --8<-- [end:variance]


# --8<-- [start:backward]
def dropout_backward(dZ: Array, cache: Cache) -> tuple[Array, Params]:
    """dA = G ⊙ U / p_keep in training, dA = G in evaluation: eq. (4)."""
    mask, p_keep, shape = cache
    dZ = _check_backward(dZ, shape, p_keep)
    if mask is None:
        return dZ.copy(), {}                # evaluation: the identity passes G on
    return dZ * mask / p_keep, {}           # the same mask as the forward pass
# --8<-- [end:backward]


# ---------------------------------------------------------------------------------------
# Input checks. They come after the code the page shows; Python looks the names up when
# a function runs, so the order in the file does not matter to it.

_FLOAT_MAX = float(np.finfo(np.float64).max)


def _check_real(v: Array, name: str) -> Array:
    """Return v as a non-empty finite float array, or raise ValueError."""
    try:
        v = np.asarray(v)
    except ValueError:            # a ragged nested list
        raise ValueError(f"{name} must be a rectangular array of numbers") from None
    if v.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be an array of real numbers, got dtype {v.dtype}")
    v = v.astype(np.float64)
    if v.size == 0 or not np.all(np.isfinite(v)):
        raise ValueError(f"{name} must be a non-empty finite array (no inf or nan), "
                         f"got shape {v.shape}")
    return v


def _check_p_keep(p_keep: float) -> None:
    """p_keep must be one real number in (0, 1]; p_keep = 1 keeps everything."""
    if (isinstance(p_keep, (bool, np.bool_)) or np.ndim(p_keep) != 0
            or np.asarray(p_keep).dtype.kind not in "iuf"
            or not 0.0 < p_keep <= 1.0):
        raise ValueError(f"p_keep must be a number in (0, 1], got {p_keep!r:.60}")


def _check_draws(n_draws: int) -> int:
    if not isinstance(n_draws, (int, np.integer)) or isinstance(n_draws, bool) \
            or n_draws < 1:
        raise ValueError(f"n_draws must be a positive integer, got {n_draws!r}")
    return int(n_draws)


def _check_scaled(V: Array, p_keep: float, name: str) -> None:
    """max |V| / p_keep must be a float64; Python floats give inf, not a warning."""
    bound = float(np.max(np.abs(V))) / float(p_keep)
    if not bound <= _FLOAT_MAX:
        raise ValueError(f"max |{name}| / p_keep must stay below {_FLOAT_MAX:.3g} so that "
                         f"float64 does not overflow, got {bound:.3g}")


def _check_forward(A: Array, params: Params, p_keep: float,
                   rng: np.random.Generator | None, train: bool) -> Array:
    if not isinstance(params, dict) or params:
        raise ValueError(f"dropout has no parameters: params must be {{}}, got {params!r:.60}")
    _check_p_keep(p_keep)
    if not isinstance(train, (bool, np.bool_)):
        raise ValueError(f"train must be True (training) or False (evaluation), "
                         f"got {train!r:.60}")
    if train and not isinstance(rng, np.random.Generator):
        raise ValueError(f"training mode needs rng, a numpy.random.Generator, got "
                         f"{type(rng).__name__}")
    A = _check_real(A, "A")
    _check_scaled(A, p_keep, "A")
    return A


def _check_backward(dZ: Array, shape: tuple[int, ...], p_keep: float) -> Array:
    dZ = _check_real(dZ, "dZ")
    if dZ.shape != shape:
        raise ValueError(f"dZ must have the shape of the output, {shape}, got {dZ.shape}")
    _check_scaled(dZ, p_keep, "dZ")
    return dZ
