"""Batch normalisation: forward, backward (node by node, compact), running statistics.

Code for the page docs/layers/batch-norm.md; each function names the equation of that
page it computes. A batch A has one example per row, shape (m, n); the layer normalises
each of the n columns over the m examples, then scales and shifts it with
params = {"gamma": gamma, "beta": beta}, two vectors of shape (n,). Every layer follows
one contract: forward(A, params) -> (Z, cache) and backward(dZ, cache) -> (dA, grads),
where grads has the keys of params and every gradient has the shape of its variable.
NumPy only.
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray

#: The small constant added to the variance, PyTorch's default for BatchNorm1d.
EPS = 1e-5

#: Weight of the newest batch in the running averages, PyTorch's default `momentum`.
MOMENTUM = 0.1

#: Largest |a_ij| accepted: the squares of centred entries (up to (2e150)**2 = 4e300) and
#: their sums over a batch stay below the float64 limit 1.8e308.
MAX_ABS = 1e150


# --8<-- [start:statistics]
def batch_statistics(A: Array) -> tuple[Array, Array]:
    """Mean and biased variance of each column over the batch, shapes (n,): eq. (1)."""
    A = _check_batch(A)
    m = A.shape[0]
    mu = A.T @ np.ones(m) / m                  # (n, m) @ (m,): column means
    var = ((A - mu) ** 2).T @ np.ones(m) / m   # mean squared distance to the mean
    return mu, var
# --8<-- [end:statistics]


# --8<-- [start:normalise]
def normalise(A: Array, mu: Array, var: Array,
              eps: float = EPS) -> tuple[Array, Array]:
    """x_hat (m, n) and the spread std (n,): eq. (2)."""
    A, mu, var = _check_normalise(A, mu, var, eps)
    std = np.sqrt(var + eps)                   # sigma_tilde: never 0, since eps > 0
    x_hat = (A - mu) / std                     # A - 1 mu^T, then column j over std[j]
    return x_hat, std
# --8<-- [end:normalise]


# --8<-- [start:forward]
def forward(A: Array, params: dict[str, Array], eps: float = EPS) -> tuple[Array, dict]:
    """Batch normalisation in training mode, Z (m, n) and a cache: eqs. (1)-(3)."""
    A, gamma, beta = _check_forward(A, params, eps)
    mu, var = batch_statistics(A)                       # eq. (1)
    x_hat, std = normalise(A, mu, var, eps)             # eq. (2)
    Z = x_hat * gamma + beta                            # X_hat diag(gamma) + 1 beta^T
    cache = {"x_hat": x_hat, "std": std, "gamma": gamma, "mu": mu, "var": var}
    return Z, cache
# --8<-- [end:forward]


# --8<-- [start:grad-params]
def param_gradients(dZ: Array, x_hat: Array) -> tuple[Array, Array]:
    """dL/dgamma and dL/dbeta, shapes (n,), from G = dL/dZ (m, n): eq. (4)."""
    dZ, x_hat = _check_pair(dZ, x_hat, "dZ", "x_hat")
    m = dZ.shape[0]
    dgamma = (dZ * x_hat).T @ np.ones(m)       # sum over the examples of g_ij x_hat_ij
    dbeta = dZ.T @ np.ones(m)                  # sum over the examples of g_ij
    return dgamma, dbeta
# --8<-- [end:grad-params]


# --8<-- [start:grad-x-hat]
def grad_x_hat(dZ: Array, gamma: Array) -> Array:
    """G_hat = dL/dX_hat (m, n): eq. (5)."""
    dZ, gamma = _check_row_vector(dZ, gamma, "dZ", "gamma")
    return dZ * gamma                          # G diag(gamma): column j times gamma_j
# --8<-- [end:grad-x-hat]


# --8<-- [start:grad-std]
def grad_std(dX_hat: Array, x_hat: Array, std: Array) -> Array:
    """dL/dsigma_tilde, shape (n,): eq. (6)."""
    dX_hat, x_hat = _check_pair(dX_hat, x_hat, "dX_hat", "x_hat")
    _, std = _check_row_vector(x_hat, std, "x_hat", "std")
    m = dX_hat.shape[0]
    return -((dX_hat * x_hat).T @ np.ones(m)) / std   # (a - mu) / std^2 = x_hat / std
# --8<-- [end:grad-std]


# --8<-- [start:grad-mean]
def grad_mean(dX_hat: Array, x_hat: Array, std: Array, dstd: Array) -> Array:
    """dL/dmu, shape (n,), the direct path plus the path through std: eq. (7)."""
    dX_hat, x_hat = _check_pair(dX_hat, x_hat, "dX_hat", "x_hat")
    _, std = _check_row_vector(x_hat, std, "x_hat", "std")
    _, dstd = _check_row_vector(x_hat, dstd, "x_hat", "dstd")
    ones = np.ones(dX_hat.shape[0])
    direct = -(ones @ dX_hat) / std            # mu_j is subtracted in every x_hat_ij
    via_std = -(ones @ x_hat) / dX_hat.shape[0] * dstd   # 0: the x_hat_ij sum to 0
    return direct + via_std
# --8<-- [end:grad-mean]


# --8<-- [start:grad-input]
def grad_input(dX_hat: Array, x_hat: Array, std: Array, dstd: Array,
               dmu: Array) -> Array:
    """dL/dA (m, n), the three paths out of each a_ij: eq. (8)."""
    dX_hat, x_hat = _check_pair(dX_hat, x_hat, "dX_hat", "x_hat")
    _, std = _check_row_vector(x_hat, std, "x_hat", "std")
    _, dstd = _check_row_vector(x_hat, dstd, "x_hat", "dstd")
    _, dmu = _check_row_vector(x_hat, dmu, "x_hat", "dmu")
    m = dX_hat.shape[0]
    return dX_hat / std + x_hat / m * dstd + dmu / m   # via x_hat, std and mu


def backward_steps(dZ: Array, cache: dict) -> tuple[Array, dict[str, Array]]:
    """Backward pass node by node along the graph, eqs. (4)-(8)."""
    dZ, c = _check_backward(dZ, cache)
    x_hat, std = c["x_hat"], c["std"]
    dgamma, dbeta = param_gradients(dZ, x_hat)                    # eq. (4)
    dX_hat = grad_x_hat(dZ, c["gamma"])                           # eq. (5)
    dstd = grad_std(dX_hat, x_hat, std)                           # eq. (6)
    dmu = grad_mean(dX_hat, x_hat, std, dstd)                     # eq. (7)
    dA = grad_input(dX_hat, x_hat, std, dstd, dmu)                # eq. (8)
    return dA, {"gamma": dgamma, "beta": dbeta}
# --8<-- [end:grad-input]


# --8<-- [start:backward]
def backward(dZ: Array, cache: dict) -> tuple[Array, dict[str, Array]]:
    """Backward pass in the compact form, dA (m, n) and the parameters': eq. (9)."""
    dZ, c = _check_backward(dZ, cache)
    x_hat, std, m = c["x_hat"], c["std"], dZ.shape[0]
    dX_hat = dZ * c["gamma"]                                      # G_hat, eq. (5)
    ones = np.ones(m)
    col_sum = ones @ dX_hat                                       # 1^T G_hat, (n,)
    col_dot = ones @ (dX_hat * x_hat)                             # 1^T (G_hat o X_hat)
    dA = (m * dX_hat - col_sum - x_hat * col_dot) / (m * std)
    dgamma, dbeta = ones @ (dZ * x_hat), ones @ dZ                # eq. (4)
    return dA, {"gamma": dgamma, "beta": dbeta}
# --8<-- [end:backward]


# --8<-- [start:zero-sum]
def batch_sum(dA: Array) -> Array:
    """1^T dL/dA, the sum of the input gradient over the batch, shape (n,): eq. (10)."""
    dA = _check_matrix(dA, "dA")
    return np.ones(dA.shape[0]) @ dA           # zero up to rounding, for every column
# --8<-- [end:zero-sum]


# --8<-- [start:running]
def init_running(n: int) -> dict[str, Array]:
    """Running mean 0 and running variance 1 before any batch, as in eq. (11)."""
    _check_count(n)
    return {"mean": np.zeros(n), "var": np.ones(n)}


def update_running(running: dict[str, Array], cache: dict,
                   momentum: float = MOMENTUM) -> dict[str, Array]:
    """The running averages after one training batch: eq. (11)."""
    mean, var, c = _check_update(running, cache, momentum)
    m = c["x_hat"].shape[0]
    unbiased = c["var"] * m / (m - 1)          # m >= 2 in training mode
    return {"mean": (1.0 - momentum) * mean + momentum * c["mu"],
            "var": (1.0 - momentum) * var + momentum * unbiased}
# --8<-- [end:running]


# --8<-- [start:forward-eval]
def forward_eval(A: Array, params: dict[str, Array], running: dict[str, Array],
                 eps: float = EPS) -> tuple[Array, dict]:
    """Batch normalisation in evaluation mode, with the running statistics: eq. (12)."""
    A, gamma, beta, mean, var = _check_eval(A, params, running, eps)
    std = np.sqrt(var + eps)
    x_hat = (A - mean) / std                   # the same affine map for every example
    return x_hat * gamma + beta, {"x_hat": x_hat, "std": std, "gamma": gamma}
# --8<-- [end:forward-eval]


# --8<-- [start:backward-eval]
def backward_eval(dZ: Array, cache: dict) -> tuple[Array, dict[str, Array]]:
    """Backward pass in evaluation mode, the statistics held fixed: eq. (13)."""
    dZ, c = _check_backward(dZ, cache, ("x_hat", "std", "gamma"), min_rows=1)
    ones = np.ones(dZ.shape[0])
    dA = dZ * c["gamma"] / c["std"]            # one slope per column: no 1/m terms
    return dA, {"gamma": ones @ (dZ * c["x_hat"]), "beta": ones @ dZ}
# --8<-- [end:backward-eval]


# Input checks. They come after the code the page shows, so the file reads in the order of
# its page; Python looks the names up when a function runs.

def _as_real(v: object, name: str) -> Array:
    """Return v as a finite float array, or raise ValueError."""
    try:
        v = np.asarray(v)
    except ValueError:                         # a ragged nested list
        raise ValueError(f"{name} must be a rectangular array of numbers") from None
    if v.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be an array of real numbers, got dtype {v.dtype}")
    v = v.astype(np.float64)
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} must be finite (no inf or nan)")
    return v


def _check_matrix(M: object, name: str, min_rows: int = 1) -> Array:
    M = _as_real(M, name)
    if M.ndim != 2 or M.shape[0] < min_rows or M.shape[1] < 1:
        raise ValueError(f"{name} must be a 2-D array (m, n) with m >= {min_rows} and "
                         f"n >= 1, got shape {M.shape}")
    return M


def _check_vector(v: object, n: int, name: str) -> Array:
    v = _as_real(v, name)
    if v.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), one entry per column, "
                         f"got shape {v.shape}")
    return v


def _check_batch(A: object, min_rows: int = 2) -> Array:
    """A batch in training mode needs m >= 2: with one example every x_hat would be 0."""
    A = _as_real(A, "A")
    if A.ndim == 2 and A.shape[0] == 1 and min_rows == 2:
        raise ValueError("batch normalisation in training mode needs m >= 2 examples: "
                         "with m = 1 every column has variance 0 and x_hat = 0 "
                         f"(PyTorch raises too), got shape {A.shape}; use forward_eval")
    A = _check_matrix(A, "A", min_rows)
    if np.max(np.abs(A)) > MAX_ABS:
        raise ValueError(f"entries of A must be at most {MAX_ABS:.0e} in absolute value, "
                         f"so that their squares stay finite, got {np.max(np.abs(A)):.3e}")
    return A


def _check_eps(eps: object) -> None:
    ok = (not isinstance(eps, (bool, np.bool_, str, bytes, list, tuple))
          and np.ndim(eps) == 0 and np.asarray(eps).dtype.kind in "iuf"
          and bool(np.isfinite(eps)) and eps > 0)
    if not ok:
        raise ValueError(f"eps must be a positive finite number, got {eps!r}")


def _check_count(n: object) -> None:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")


def _check_params(params: object, n: int) -> tuple[Array, Array]:
    if not isinstance(params, dict) or set(params) != {"gamma", "beta"}:
        keys = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"params must be a dict with the keys 'gamma' and 'beta', got {keys}")
    return _check_vector(params["gamma"], n, "gamma"), _check_vector(params["beta"], n, "beta")


def _check_forward(A: object, params: object, eps: object) -> tuple[Array, Array, Array]:
    A = _check_batch(A)
    _check_eps(eps)
    return (A, *_check_params(params, A.shape[1]))


def _check_normalise(A: object, mu: object, var: object,
                     eps: object) -> tuple[Array, Array, Array]:
    A = _check_batch(A, min_rows=1)
    _check_eps(eps)
    mu, var = _check_vector(mu, A.shape[1], "mu"), _check_vector(var, A.shape[1], "var")
    if np.any(var < 0):
        raise ValueError(f"var must be >= 0 in every column, got {var}")
    return A, mu, var


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


CACHE_KEYS = ("x_hat", "std", "gamma", "mu", "var")


def _check_backward(dZ: object, cache: object, keys: tuple[str, ...] = CACHE_KEYS,
                    min_rows: int = 2) -> tuple[Array, dict]:
    if not isinstance(cache, dict) or not set(keys) <= set(cache):
        raise ValueError(f"cache must be the dict returned by the forward pass, with the "
                         f"keys {list(keys)}")
    dZ = _check_matrix(dZ, "dZ", min_rows)
    if dZ.shape != np.shape(cache["x_hat"]):
        raise ValueError(f"dZ must have the shape of the layer's output "
                         f"{np.shape(cache['x_hat'])}, got {dZ.shape}")
    return dZ, cache


def _check_running(running: object, n: int) -> tuple[Array, Array]:
    if not isinstance(running, dict) or set(running) != {"mean", "var"}:
        raise ValueError("running must be a dict with the keys 'mean' and 'var', "
                         "as init_running returns")
    mean = _check_vector(running["mean"], n, "the running mean")
    var = _check_vector(running["var"], n, "the running variance")
    if np.any(var < 0):
        raise ValueError(f"the running variance must be >= 0, got {var}")
    return mean, var


def _check_update(running: object, cache: object,
                  momentum: object) -> tuple[Array, Array, dict]:
    ok = (not isinstance(momentum, (bool, np.bool_, str, bytes, list, tuple))
          and np.ndim(momentum) == 0 and np.asarray(momentum).dtype.kind in "iuf"
          and 0 <= momentum <= 1)
    if not ok:
        raise ValueError(f"momentum must be a number in [0, 1], got {momentum!r}")
    if not isinstance(cache, dict) or not set(CACHE_KEYS) <= set(cache):
        raise ValueError("cache must be the dict returned by forward (training mode)")
    mean, var = _check_running(running, np.shape(cache["mu"])[0])
    return mean, var, cache


def _check_eval(A: object, params: object, running: object,
                eps: object) -> tuple[Array, Array, Array, Array, Array]:
    A = _check_batch(A, min_rows=1)
    _check_eps(eps)
    gamma, beta = _check_params(params, A.shape[1])
    return (A, gamma, beta, *_check_running(running, A.shape[1]))
