"""Full-batch, stochastic and mini-batch gradient descent; updates and epochs.

Code for the page docs/optimisation/mini-batch.md; each function names the equation of
that page it computes. Needs NumPy only. The model is passed in as a function
grad(X, y, w, b) -> (dw, db) that returns the mean gradient over the rows it is given, and
loss(X, y, w, b) -> float, such as those of the linear and logistic regression pages.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np

Gradient = Callable[[np.ndarray, np.ndarray, np.ndarray, float], tuple[np.ndarray, float]]
Loss = Callable[[np.ndarray, np.ndarray, np.ndarray, float], float]

#: Most batches mean_over_all_batches will list one by one (a few seconds of work).
MAX_SUBSETS = 10**6


# --8<-- [start:batch-gradient]
def batch_gradient(grad: Gradient, X: np.ndarray, y: np.ndarray, w: np.ndarray,
                   b: float, batch: np.ndarray) -> tuple[np.ndarray, float]:
    """Mean gradient over the examples whose row indices are in batch: eq. (1)."""
    X, y, w, b = _check_model(X, y, w, b)
    batch = _check_batch(batch, X.shape[0])
    return grad(X[batch], y[batch], w, b)     # the rows of the batch, shape (B, n)


def per_example_gradients(grad: Gradient, X: np.ndarray, y: np.ndarray,
                          w: np.ndarray, b: float) -> np.ndarray:
    """The m gradients of eq. (1) with B = 1, as rows (dw_i, db_i), shape (m, n + 1)."""
    X, y, w, b = _check_model(X, y, w, b)
    rows = [np.append(*batch_gradient(grad, X, y, w, b, np.array([i])))
            for i in range(X.shape[0])]
    return np.array(rows)
# --8<-- [end:batch-gradient]


# --8<-- [start:batches]
def epoch_batches(m: int, batch_size: int,
                  rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffle the row indices 0..m-1 and cut them into batches: eq. (2).

    All batches have batch_size rows except perhaps the last, which keeps the rest.
    """
    m = _check_positive_int(m, "m")
    batch_size = _check_batch_size(batch_size, m)
    order = rng.permutation(m)
    return [order[k:k + batch_size] for k in range(0, m, batch_size)]
# --8<-- [end:batches]


# --8<-- [start:epoch]
def run_epoch(grad: Gradient, X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float,
              lr: float, batch_size: int,
              rng: np.random.Generator) -> tuple[np.ndarray, float, int]:
    """One epoch: one update of eq. (3) per batch of a fresh shuffle.

    Returns w, b and the number of updates made, ceil(m / batch_size).
    """
    X, y, w, b = _check_model(X, y, w, b)
    lr = _check_lr(lr)
    batches = epoch_batches(X.shape[0], batch_size, rng)
    for batch in batches:
        dw, db = batch_gradient(grad, X, y, w, b, batch)
        w, b = w - lr * dw, b - lr * db        # one update
    return w, float(b), len(batches)
# --8<-- [end:epoch]


# --8<-- [start:train]
def train(grad: Gradient, loss: Loss, X: np.ndarray, y: np.ndarray, w: np.ndarray,
          b: float, lr: float, batch_size: int, n_epochs: int,
          rng: np.random.Generator) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """Mini-batch gradient descent, eq. (3), for n_epochs epochs.

    batch_size = m is full-batch gradient descent, batch_size = 1 is stochastic gradient
    descent. Returns w, b, the data-set loss after every update (the first entry is the
    loss before training) and the loss after every epoch (also from before training).
    """
    X, y, w, b = _check_model(X, y, w, b)
    n_epochs, lr = _check_positive_int(n_epochs, "n_epochs"), _check_lr(lr)
    per_update, per_epoch = [loss(X, y, w, b)], [loss(X, y, w, b)]
    for _ in range(n_epochs):
        for batch in epoch_batches(X.shape[0], batch_size, rng):
            dw, db = batch_gradient(grad, X, y, w, b, batch)
            w, b = w - lr * dw, b - lr * db
            per_update.append(loss(X, y, w, b))
        per_epoch.append(per_update[-1])
    return w, float(b), np.array(per_update), np.array(per_epoch)
# --8<-- [end:train]


# --8<-- [start:epoch-mean]
def mean_batch_gradient(grad: Gradient, X: np.ndarray, y: np.ndarray, w: np.ndarray,
                        b: float,
                        batches: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """Mean gradient of equal-size batches that use each row once: eq. (4)."""
    X, y, w, b = _check_model(X, y, w, b)
    _check_partition(batches, X.shape[0])
    grads = [batch_gradient(grad, X, y, w, b, batch) for batch in batches]
    dw = np.mean([g[0] for g in grads], axis=0)
    db = np.mean([g[1] for g in grads])
    return dw, float(db)
# --8<-- [end:epoch-mean]


# --8<-- [start:expectation]
def mean_over_all_batches(G: np.ndarray, batch_size: int) -> np.ndarray:
    """Average of the batch gradient over every set of batch_size distinct examples,
    each equally likely: the expectation of eq. (5). G has shape (m, p)."""
    G = _check_per_example(G)
    batch_size = _check_subset_size(batch_size, G.shape[0])
    subsets = itertools.combinations(range(G.shape[0]), batch_size)
    return np.mean([G[list(s)].mean(axis=0) for s in subsets], axis=0)
# --8<-- [end:expectation]


# --8<-- [start:variance]
def batch_variance_with_replacement(G: np.ndarray, batch_size: int) -> float:
    """Expected squared distance of the batch gradient from the full gradient when the B
    examples are drawn with replacement: eq. (6), first line. G has shape (m, p)."""
    G = _check_per_example(G)
    batch_size = _check_positive_int(batch_size, "batch_size")
    sigma2 = np.mean(np.sum((G - G.mean(axis=0)) ** 2, axis=1))   # spread of the g_i
    return float(sigma2 / batch_size)


def batch_variance(G: np.ndarray, batch_size: int) -> float:
    """The same for B distinct examples (without replacement): eq. (6), last line."""
    G = _check_per_example(G)
    m = G.shape[0]
    batch_size = _check_batch_size(batch_size, m)
    sigma2 = np.mean(np.sum((G - G.mean(axis=0)) ** 2, axis=1))
    return float(sigma2 / batch_size * (m - batch_size) / (m - 1))
# --8<-- [end:variance]


# Input checks, kept out of the sections the page shows.


def _check_data(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a 2-D array of shape (m, n) with m >= 1, got shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},) to match X, got shape {y.shape}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise ValueError("X and y must be finite (no inf or nan)")
    return X, y


def _check_model(X: np.ndarray, y: np.ndarray, w: np.ndarray,
                 b: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The data, w of shape (n,) and b one number, all finite; or ValueError."""
    X, y = _check_data(X, y)
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (X.shape[1],):
        raise ValueError(f"w must have shape ({X.shape[1]},), one weight per column of X, "
                         f"got shape {w.shape}")
    if np.ndim(b) != 0:
        raise ValueError(f"b must be a single number, got shape {np.shape(b)}")
    if not (np.all(np.isfinite(w)) and np.isfinite(b)):
        raise ValueError(f"w and b must be finite (no inf or nan), got w = {w}, b = {b}")
    return X, y, w, float(b)


def _check_batch(batch: np.ndarray, m: int) -> np.ndarray:
    batch = np.asarray(batch)
    if batch.ndim != 1 or batch.size == 0 or not np.issubdtype(batch.dtype, np.integer):
        raise ValueError(f"a batch must be a non-empty 1-D array of row indices, got {batch!r}")
    if batch.min() < 0 or batch.max() >= m:
        raise ValueError(f"batch indices must lie in 0..{m - 1}, got {batch.min()}..{batch.max()}")
    return batch


def _check_batch_size(batch_size: int, m: int) -> int:
    if not (isinstance(batch_size, (int, np.integer)) and 1 <= batch_size <= m):
        raise ValueError(f"batch_size must be an integer in 1..m = 1..{m}, got {batch_size!r}")
    return int(batch_size)


def _check_subset_size(batch_size: int, m: int) -> int:
    """batch_size in 1..m, with C(m, batch_size) small enough to list every batch."""
    batch_size = _check_batch_size(batch_size, m)
    if math.comb(m, batch_size) > MAX_SUBSETS:
        raise ValueError(f"there are C({m}, {batch_size}) = {math.comb(m, batch_size)} batches, "
                         f"more than the {MAX_SUBSETS} this exact average lists; use fewer rows")
    return batch_size


def _check_positive_int(value: int, name: str) -> int:
    if not (isinstance(value, (int, np.integer)) and value >= 1):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_lr(lr: float) -> float:
    if not (np.ndim(lr) == 0 and np.isfinite(lr) and lr > 0):
        raise ValueError(f"the learning rate must be a positive finite number, got {lr!r}")
    return float(lr)


def _check_partition(batches: list[np.ndarray], m: int) -> None:
    if len(batches) == 0:
        raise ValueError("batches must be a non-empty list of arrays of row indices, got none")
    shapes = [np.shape(batch) for batch in batches]
    if any(len(shape) != 1 for shape in shapes):
        raise ValueError(f"each batch must be a 1-D array of row indices, got shapes {shapes}")
    sizes = {len(batch) for batch in batches}
    if len(sizes) != 1:
        raise ValueError(f"the batches must all have one size, got sizes {sorted(sizes)}")
    rows = np.sort(np.concatenate(batches))
    if not np.array_equal(rows, np.arange(m)):
        raise ValueError(f"the batches must use each of the m = {m} rows exactly once")


def _check_per_example(G: np.ndarray) -> np.ndarray:
    G = np.asarray(G, dtype=np.float64)
    if G.ndim != 2 or G.shape[0] < 2 or G.shape[1] == 0:
        raise ValueError("per-example gradients must have shape (m, p) with m >= 2 and "
                         f"p >= 1, got {G.shape}")
    if not np.all(np.isfinite(G)):
        raise ValueError("per-example gradients G must be finite (no inf or nan)")
    return G
