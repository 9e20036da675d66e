"""Layer normalisation and RMSNorm: forward and backward passes.

Code for the page docs/layers/layer-norm.md; each function names the equation of that
page it computes. A batch A has one example per row, shape (m, n); layer normalisation
normalises each row over its n features, then scales and shifts each feature with
params = {"gamma": gamma, "beta": beta}, two vectors of shape (n,). RMSNorm divides each
row by its root mean square and only scales, params = {"gamma": gamma}. Every layer
follows one contract: forward(A, params) -> (Z, cache) and backward(dZ, cache) ->
(dA, grads), where grads has the keys of params and every gradient has the shape of its
variable. NumPy only.
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray

#: The small constant added to the variance (and to the mean square), PyTorch's default
#: for LayerNorm.
EPS = 1e-5

#: Largest |a_ij| accepted: the squares of (centred) entries, up to (2e150)**2 = 4e300,
#: and their sums over a row stay below the float64 limit 1.8e308.
MAX_ABS = 1e150


# --8<-- [start:statistics]
def example_statistics(A: Array) -> tuple[Array, Array]:
    """Mean and biased variance of each row over its features, shapes (m,): eq. (1)."""
    A = _check_batch(A)
    n = A.shape[1]
    mu = A @ np.ones(n) / n                            # (m, n) @ (n,): row means
    var = (A - mu[:, None]) ** 2 @ np.ones(n) / n      # mean squared distance, per row
    return mu, var
# --8<-- [end:statistics]


# --8<-- [start:forward]
def forward(A: Array, params: dict[str, Array], eps: float = EPS) -> tuple[Array, dict]:
    """Layer normalisation, Z (m, n) and a cache: eqs. (1) and (2)."""
    A, gamma, beta = _check_forward(A, params, eps, ("gamma", "beta"))
    mu, var = example_statistics(A)                    # eq. (1), one pair per example
    std = np.sqrt(var + eps)                           # (m,)
    x_hat = (A - mu[:, None]) / std[:, None]           # row i divided by std[i]
    Z = x_hat * gamma + beta                           # X_hat diag(gamma) + 1 beta^T
    return Z, {"x_hat": x_hat, "std": std, "gamma": gamma}
# --8<-- [end:forward]


# --8<-- [start:transpose]
def normalise_columns(B: Array, eps: float = EPS) -> tuple[Array, Array]:
    """Batch normalisation's x_hat of the columns of B, and their std (n,): eq. (3)."""
    B = _check_batch(B, "B")
    _check_eps(eps)
    mu = B.mean(axis=0)
    std = np.sqrt(((B - mu) ** 2).mean(axis=0) + eps)
    return (B - mu) / std, std                         # column j divided by std[j]
# --8<-- [end:transpose]


# --8<-- [start:grad-params]
def param_gradients(dZ: Array, x_hat: Array) -> tuple[Array, Array]:
    """dL/dgamma and dL/dbeta, shapes (n,): sums over the examples, eq. (4)."""
    dZ, x_hat = _check_pair(dZ, x_hat, "dZ", "x_hat")
    ones = np.ones(dZ.shape[0])
    return ones @ (dZ * x_hat), ones @ dZ


def grad_x_hat(dZ: Array, gamma: Array) -> Array:
    """G_hat = dL/dX_hat = G diag(gamma), shape (m, n): eq. (4)."""
    dZ, gamma = _check_row_vector(dZ, gamma, "dZ", "gamma")
    return dZ * gamma
# --8<-- [end:grad-params]


# --8<-- [start:backward-transpose]
def normalise_columns_backward(dX_hat: Array, x_hat: Array, std: Array) -> Array:
    """Batch normalisation's compact backward pass along the columns: eq. (5)."""
    dX_hat, x_hat = _check_pair(dX_hat, x_hat, "dX_hat", "x_hat")
    _, std = _check_row_vector(x_hat, std, "x_hat", "std")
    m = dX_hat.shape[0]                                # the length of a column
    col_sum = dX_hat.sum(axis=0)
    col_dot = (dX_hat * x_hat).sum(axis=0)
    return (m * dX_hat - col_sum - x_hat * col_dot) / (m * std)


def backward_by_transpose(dZ: Array, cache: dict) -> tuple[Array, dict[str, Array]]:
    """Layer normalisation's backward pass as batch norm's on A^T: eqs. (4) and (5)."""
    dZ, c = _check_backward(dZ, cache, ("x_hat", "std", "gamma"))
    dX_hat = grad_x_hat(dZ, c["gamma"])                            # eq. (4)
    dA_T = normalise_columns_backward(dX_hat.T, c["x_hat"].T, c["std"])
    dgamma, dbeta = param_gradients(dZ, c["x_hat"])               # eq. (4)
    return dA_T.T, {"gamma": dgamma, "beta": dbeta}
# --8<-- [end:backward-transpose]


# --8<-- [start:backward]
def backward(dZ: Array, cache: dict) -> tuple[Array, dict[str, Array]]:
    """Layer normalisation's backward pass along the rows, dA (m, n): eq. (6)."""
    dZ, c = _check_backward(dZ, cache, ("x_hat", "std", "gamma"))
    x_hat, std, n = c["x_hat"], c["std"], dZ.shape[1]
    dX_hat = dZ * c["gamma"]                                       # G_hat, eq. (4)
    ones = np.ones(n)
    row_sum = (dX_hat @ ones)[:, None]                             # G_hat 1, (m, 1)
    row_dot = ((dX_hat * x_hat) @ ones)[:, None]                   # (G_hat o X_hat) 1
    dA = (n * dX_hat - row_sum - x_hat * row_dot) / (n * std[:, None])
    dgamma, dbeta = param_gradients(dZ, x_hat)                     # eq. (4)
    return dA, {"gamma": dgamma, "beta": dbeta}
# --8<-- [end:backward]


# --8<-- [start:zero-sum]
def feature_sum(dA: Array) -> Array:
    """dL/dA 1, the input gradient summed over each example's features (m,): eq. (7)."""
    dA = _check_matrix(dA, "dA")
    return dA @ np.ones(dA.shape[1])                   # zero up to rounding, every row
# --8<-- [end:zero-sum]


# --8<-- [start:rms-forward]
def rms_forward(A: Array, params: dict[str, Array],
                eps: float = EPS) -> tuple[Array, dict]:
    """RMSNorm, Z (m, n) and a cache: eq. (8)."""
    A, gamma = _check_forward(A, params, eps, ("gamma",))
    n = A.shape[1]
    rms = np.sqrt(A**2 @ np.ones(n) / n + eps)         # (m,): no mean subtracted
    x_hat = A / rms[:, None]
    return x_hat * gamma, {"x_hat": x_hat, "rms": rms, "gamma": gamma}
# --8<-- [end:rms-forward]


# --8<-- [start:rms-backward]
def rms_backward(dZ: Array, cache: dict) -> tuple[Array, dict[str, Array]]:
    """RMSNorm's backward pass, dA (m, n) and dL/dgamma (n,): eq. (9)."""
    dZ, c = _check_backward(dZ, cache, ("x_hat", "rms", "gamma"))
    x_hat, rms, n = c["x_hat"], c["rms"], dZ.shape[1]
    dX_hat = dZ * c["gamma"]                                       # G_hat
    row_dot = ((dX_hat * x_hat) @ np.ones(n))[:, None]            # (G_hat o X_hat) 1
    dA = (dX_hat - x_hat * row_dot / n) / rms[:, None]             # no row-sum term
    return dA, {"gamma": np.ones(dZ.shape[0]) @ (dZ * x_hat)}
# --8<-- [end:rms-backward]


# Input checks. They come after the code the page shows, so the file reads in the order of
# its page; Python looks the names up when a function runs.

def _as_real(v: object, name: str) -> Array:
    """Return v as a finite float array, or raise ValueError."""
    try:
        v = np.asarray(v)
    except ValueError:                                 # a ragged nested list
        raise ValueError(f"{name} must be a rectangular array of numbers") from None
    if v.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be an array of real numbers, got dtype {v.dtype}")
    v = v.astype(np.float64)
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} must be finite (no inf or nan)")
    return v


def _check_matrix(M: object, name: str) -> Array:
    M = _as_real(M, name)
    if M.ndim != 2 or 0 in M.shape:
        raise ValueError(f"{name} must be a 2-D array (m, n) with m, n >= 1, "
                         f"got shape {M.shape}")
    return M


def _check_vector(v: object, n: int, name: str) -> Array:
    v = _as_real(v, name)
    if v.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got shape {v.shape}")
    return v


def _check_batch(A: object, name: str = "A") -> Array:
    A = _check_matrix(A, name)
    if np.max(np.abs(A)) > MAX_ABS:
        raise ValueError(f"entries of {name} must be at most {MAX_ABS:.0e} in absolute "
                         f"value, so that their squares stay finite, "
                         f"got {np.max(np.abs(A)):.3e}")
    return A


def _check_eps(eps: object) -> None:
    ok = (not isinstance(eps, (bool, np.bool_, str, bytes, list, tuple))
          and np.ndim(eps) == 0 and np.asarray(eps).dtype.kind in "iuf"
          and bool(np.isfinite(eps)) and eps > 0)
    if not ok:
        raise ValueError(f"eps must be a positive finite number, got {eps!r}")


def _check_forward(A: object, params: object, eps: object,
                   keys: tuple[str, ...]) -> tuple[Array, ...]:
    A = _check_batch(A)
    _check_eps(eps)
    if not isinstance(params, dict) or set(params) != set(keys):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"params must be a dict with the keys {list(keys)}, got {got}")
    return (A, *(_check_vector(params[k], A.shape[1], k) for k in keys))


def _check_pair(P: object, Q: object, p: str, q: str) -> tuple[Array, Array]:
    P, Q = _check_matrix(P, p), _check_matrix(Q, q)
    if P.shape != Q.shape:
        raise ValueError(f"{p} and {q} must have the same shape (m, n), "
                         f"got {P.shape} and {Q.shape}")
    return P, Q


def _check_row_vector(M: object, v: object, p: str, q: str) -> tuple[Array, Array]:
    M = _check_matrix(M, p)
    v = _check_vector(v, M.shape[1], q)
    if q == "std" and np.any(v <= 0):
        raise ValueError(f"std must be > 0 in every column, got {v}")
    return M, v


def _check_backward(dZ: object, cache: object, keys: tuple[str, ...]) -> tuple[Array, dict]:
    if not isinstance(cache, dict) or not set(keys) <= set(cache):
        raise ValueError(f"cache must be the dict returned by the matching forward pass, "
                         f"with the keys {list(keys)}")
    dZ = _check_matrix(dZ, "dZ")
    if dZ.shape != np.shape(cache["x_hat"]):
        raise ValueError(f"dZ must have the shape of the layer's output "
                         f"{np.shape(cache['x_hat'])}, got {dZ.shape}")
    return dZ, cache
