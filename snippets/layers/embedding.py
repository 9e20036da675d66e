"""An embedding layer: rows of a table looked up by integer ids, and its backward pass.

Code for the page docs/layers/embedding.md; each function names the equation of that
page it computes. The layer follows the contract of docs/layers/modules.md:

    embedding_forward(ids, {"E": E}) -> (Z, cache)
    embedding_backward(dZ, cache) -> (None, {"E": dE})

ids is an integer array of any shape, such as (m,) or (m, n_seq), with entries in
0..n_vocab - 1; E has shape (n_vocab, n_emb), and Z has shape ids.shape + (n_emb,). The
ids are not numbers that can move a little, so they get no gradient (None). Needs NumPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = np.ndarray
Params = dict[str, np.ndarray]
Cache = Any


# --8<-- [start:forward]
def embedding_forward(ids: Array, params: Params) -> tuple[Array, Cache]:
    """Z[i] = E[ids[i]], one row of the table per id: eq. (1)."""
    ids, E = _check_forward(ids, params)
    Z = E[ids]                      # shape ids.shape + (n_emb,): a copy of the rows
    return Z, (ids, E.shape)        # backward needs the ids and the table's shape
# --8<-- [end:forward]


# --8<-- [start:one-hot]
def one_hot(ids: Array, n_vocab: int) -> Array:
    """The one-hot row e(id) of each id, shape ids.shape + (n_vocab,): eq. (2)."""
    ids = _check_ids(ids, n_vocab)
    return (ids[..., np.newaxis] == np.arange(n_vocab)).astype(np.float64)


def embedding_forward_one_hot(ids: Array, params: Params) -> Array:
    """The same lookup as a product with one-hot rows, as eq. (2) writes it."""
    ids, E = _check_forward(ids, params)
    return one_hot(ids, E.shape[0]) @ E   # (..., n_vocab) @ (n_vocab, n_emb)
# --8<-- [end:one-hot]


# --8<-- [start:backward]
def embedding_backward_loop(dZ: Array, cache: Cache) -> tuple[None, Params]:
    """Eq. (3) one position at a time: add each row of G into the row of its id."""
    ids, shape_E = cache
    dZ = _check_backward(dZ, ids, shape_E)
    dE = np.zeros(shape_E)
    for position in np.ndindex(ids.shape):     # every example (and time step)
        dE[ids[position]] += dZ[position]      # a repeated id adds up
    return None, {"E": dE}


def embedding_backward(dZ: Array, cache: Cache) -> tuple[None, Params]:
    """Eq. (3) for all positions at once, by a scatter-add (np.add.at)."""
    ids, shape_E = cache
    dZ = _check_backward(dZ, ids, shape_E)
    dE = np.zeros(shape_E)
    np.add.at(dE, ids, dZ)          # dE[ids[p]] += dZ[p] for every p, repeats included
    return None, {"E": dE}          # the ids get no gradient
# --8<-- [end:backward]


# --8<-- [start:overwrite]
def embedding_backward_overwrite(dZ: Array, cache: Cache) -> tuple[None, Params]:
    """WRONG on purpose: with a repeated id, keeps one term of the sum of eq. (3)."""
    ids, shape_E = cache
    dZ = _check_backward(dZ, ids, shape_E)
    dE = np.zeros(shape_E)
    dE[ids] += dZ       # reads dE[ids], adds dZ, writes back: repeats overwrite
    return None, {"E": dE}
# --8<-- [end:overwrite]


# ---------------------------------------------------------------------------------------
# Input checks. They come after the code the page shows; Python looks the names up when a
# function runs, so the order in the file does not matter to it.

_FLOAT_MAX = float(np.finfo(np.float64).max)


def _check_real(v: Array, name: str) -> Array:
    """Return v as a finite float array, or raise ValueError."""
    try:
        v = np.asarray(v)
    except ValueError:            # a ragged nested list
        raise ValueError(f"{name} must be a rectangular array of numbers") from None
    if v.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be an array of real numbers, got dtype {v.dtype}")
    v = v.astype(np.float64)
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} must be finite (no inf or nan)")
    return v


def _check_table(params: Params) -> Array:
    if not isinstance(params, dict) or set(params) != {"E"}:
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"the embedding needs params = {{'E': E}}, got {got}")
    E = _check_real(params["E"], "E")
    if E.ndim != 2 or 0 in E.shape:
        raise ValueError(f"E must be a 2-D table (n_vocab, n_emb) with n_vocab, n_emb >= 1, "
                         f"got shape {E.shape}")
    return E


def _check_ids(ids: Array, n_vocab: int) -> Array:
    """Return the ids as an int64 array with at least one axis and entries in 0..n_vocab-1."""
    if not isinstance(n_vocab, (int, np.integer)) or isinstance(n_vocab, bool) or n_vocab < 1:
        raise ValueError(f"n_vocab must be a positive integer, got {n_vocab!r}")
    try:
        ids = np.asarray(ids)
    except ValueError:            # a ragged nested list
        raise ValueError("ids must be a rectangular array of integers") from None
    if ids.dtype.kind not in "iu":   # floats, and booleans (NumPy would read them as a mask)
        raise ValueError(f"ids must be an array of integers, got dtype {ids.dtype}")
    if ids.ndim == 0 or ids.size == 0:
        raise ValueError(f"ids must have shape (m,) or (m, n_seq), ..., with no axis of "
                         f"length 0, got shape {ids.shape}")
    if np.any(ids < 0) or np.any(ids >= n_vocab):   # NumPy would wrap negative ids around
        bad = ids[(ids < 0) | (ids >= n_vocab)]
        raise ValueError(f"ids must lie in 0..{n_vocab - 1} (the rows of E), got {bad[:5]}")
    return ids.astype(np.int64)


def _check_forward(ids: Array, params: Params) -> tuple[Array, Array]:
    E = _check_table(params)
    return _check_ids(ids, E.shape[0]), E


def _check_backward(dZ: Array, ids: Array, shape_E: tuple[int, int]) -> Array:
    dZ = _check_real(dZ, "dZ")
    expected = ids.shape + (shape_E[1],)
    if dZ.shape != expected:
        raise ValueError(f"dZ must have the shape of the output, ids.shape + (n_emb,) = "
                         f"{expected}, got {dZ.shape}")
    # A bound on every entry of dE (Python floats give inf, not a warning, on overflow).
    bound = float(np.max(np.bincount(ids.ravel()))) * float(np.max(np.abs(dZ)))
    if not bound <= _FLOAT_MAX:
        raise ValueError(f"(largest count of one id) x max |dZ| must stay below "
                         f"{_FLOAT_MAX:.3g} so that float64 does not overflow, got {bound:.3g}")
    return dZ
