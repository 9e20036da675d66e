"""Residual connections: Z = A + F(A), its backward pass, and stacks of residual blocks.

Code for the page docs/layers/residual.md; each function names the equation of that page
it computes. A batch A has one example per row, shape (m, n). The block F is a dense
layer followed by an activation, F(A) = g(A W + 1 b^T), with params = {"W": W, "b": b},
W of shape (n, n) (the output must have the shape of the input to be added to it) and
b of shape (n,). Every layer follows one contract: forward(A, params) -> (Z, cache) and
backward(dZ, cache) -> (dA, grads), where grads has the keys of params and every
gradient has the shape of its variable. NumPy only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Array = np.ndarray

#: name -> (g, g'), elementwise; the ReLU's slope at exactly 0 is taken as 0.
ACTIVATIONS: dict[str, tuple[Callable[[Array], Array], Callable[[Array], Array]]] = {
    "identity": (lambda z: z, lambda z: np.ones_like(z)),
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: np.where(z > 0, 1.0, 0.0)),
}

#: Largest size accepted for inputs, upstream gradients and the bound on their products
#: with W: sums of a few such numbers stay below the float64 limit 1.8e308.
MAX_ABS = 1e300


# --8<-- [start:block]
def block_forward(A: Array, params: dict[str, Array],
                  activation: str = "tanh") -> tuple[Array, dict]:
    """The block F(A) = g(A W + 1 b^T), shape (m, n), and a cache: eq. (1)."""
    A, W, b = _check_block(A, params, activation)
    g, _ = ACTIVATIONS[activation]
    Z_block = A @ W + b                        # (m, n) @ (n, n) + 1 b^T
    F = g(Z_block)
    return F, {"A": A, "W": W, "Z_block": Z_block, "activation": activation}
# --8<-- [end:block]


# --8<-- [start:forward]
def forward(A: Array, params: dict[str, Array],
            activation: str = "tanh") -> tuple[Array, dict]:
    """A residual block, Z = A + F(A), shape (m, n): eq. (2)."""
    F, cache = block_forward(A, params, activation)
    return A + F, cache                        # the skip connection adds the input
# --8<-- [end:forward]


# --8<-- [start:block-backward]
def block_backward(dF: Array, cache: dict) -> tuple[Array, dict[str, Array]]:
    """The block's backward pass: (dF)^T G (m, n), dW (n, n) and db (n,), eq. (3)."""
    dF, c = _check_backward(dF, cache)
    _, g_prime = ACTIVATIONS[c["activation"]]
    Delta = dF * g_prime(c["Z_block"])         # gradient at the pre-activation
    dW = c["A"].T @ Delta                      # (n, m) @ (m, n)
    db = Delta.T @ np.ones(Delta.shape[0])     # (n, m) @ (m,)
    return Delta @ c["W"].T, {"W": dW, "b": db}
# --8<-- [end:block-backward]


# --8<-- [start:backward]
def backward(dZ: Array, cache: dict) -> tuple[Array, dict[str, Array]]:
    """The residual block's backward pass, dA = G + (dF)^T G: eq. (4)."""
    dA_block, grads = block_backward(dZ, cache)
    return dZ + dA_block, grads                # the identity path passes G unchanged
# --8<-- [end:backward]


# --8<-- [start:stack]
def stack_forward(A: Array, blocks: list[dict[str, Array]], activation: str = "tanh",
                  skip: bool = True) -> tuple[Array, list[dict]]:
    """L blocks in a row, A^(l) = A^(l-1) + F_l(A^(l-1)) (or F_l alone): eq. (5)."""
    _check_stack(blocks, skip)
    caches = []
    for params in blocks:                      # one block after the other
        step = forward if skip else block_forward
        A, cache = step(A, params, activation)
        caches.append(cache)
    return A, caches


def stack_backward(dZ: Array, caches: list[dict],
                   skip: bool = True) -> tuple[Array, list[dict[str, Array]]]:
    """The backward pass of the stack, from the last block to the first: eq. (5)."""
    _check_stack(caches, skip)
    grads = [None] * len(caches)
    for layer in range(len(caches), 0, -1):    # blocks l = L, ..., 1
        step = backward if skip else block_backward
        dZ, grads[layer - 1] = step(dZ, caches[layer - 1])
    return dZ, grads
# --8<-- [end:stack]


# --8<-- [start:jacobian]
def block_jacobian(a: Array, params: dict[str, Array],
                   activation: str = "tanh") -> Array:
    """J = dF/da (n, n) of one example: J_kj = g'(z_k) W_jk, as in eq. (6)."""
    _, cache = block_forward(np.reshape(a, (1, -1)), params, activation)
    _, g_prime = ACTIVATIONS[activation]
    return g_prime(cache["Z_block"][0])[:, None] * cache["W"].T   # diag(g'(z)) W^T


def two_block_jacobian(J1: Array, J2: Array) -> Array:
    """da^(2)/da^(0) = (I + J2)(I + J1) = I + J1 + J2 + J2 J1 (n, n): eq. (6)."""
    J1, J2 = _check_jacobians(J1, J2)
    eye = np.eye(J1.shape[0])                  # the identity matrix I
    return eye + J1 + J2 + J2 @ J1             # four paths; the first is I
# --8<-- [end:jacobian]


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


def _check_size(M: Array, W: Array, name: str) -> None:
    """Refuse inputs for which M, or a product M W, could overflow float64."""
    with np.errstate(over="ignore"):           # an inf bound is refused just below
        bound = np.max(np.abs(M)) * np.max(np.abs(W).sum(axis=0), initial=0.0)
    if np.max(np.abs(M)) > MAX_ABS or not bound <= MAX_ABS:
        raise ValueError(f"{name} and its products with W must stay below {MAX_ABS:.0e} "
                         f"in absolute value, got max |{name}| = {np.max(np.abs(M)):.3e}")


def _check_activation(activation: object) -> None:
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, "
                         f"got {activation!r}")


def _check_block(A: object, params: object,
                 activation: object) -> tuple[Array, Array, Array]:
    _check_activation(activation)
    A = _as_real(A, "A")
    if A.ndim != 2 or 0 in A.shape:
        raise ValueError(f"A must be a 2-D array (m, n) with m, n >= 1, got shape {A.shape}")
    if not isinstance(params, dict) or set(params) != {"W", "b"}:
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"params must be a dict with the keys 'W' and 'b', got {got}")
    n = A.shape[1]
    W, b = _as_real(params["W"], "W"), _as_real(params["b"], "b")
    if W.shape != (n, n) or b.shape != (n,):
        raise ValueError(f"a residual block on {n} features needs W of shape ({n}, {n}) "
                         f"and b of shape ({n},), got {W.shape} and {b.shape}")
    _check_size(A, W, "A")
    if np.max(np.abs(b)) > MAX_ABS:
        raise ValueError(f"b must stay below {MAX_ABS:.0e} in absolute value")
    return A, W, b


def _check_backward(dF: object, cache: object) -> tuple[Array, dict]:
    keys = {"A", "W", "Z_block", "activation"}
    if not isinstance(cache, dict) or not keys <= set(cache):
        raise ValueError(f"cache must be the dict returned by the forward pass, with the "
                         f"keys {sorted(keys)}")
    dF = _as_real(dF, "dZ")
    if dF.shape != np.shape(cache["A"]):
        raise ValueError(f"dZ must have the shape of the block's output "
                         f"{np.shape(cache['A'])}, got {dF.shape}")
    _check_size(dF, np.asarray(cache["W"]).T, "dZ")
    return dF, cache


def _check_stack(items: object, skip: object) -> None:
    if not isinstance(items, (list, tuple)) or len(items) == 0:
        raise ValueError("the stack needs a non-empty list, one entry per block")
    if not isinstance(skip, (bool, np.bool_)):
        raise ValueError(f"skip must be True or False, got {skip!r}")


def _check_jacobians(J1: object, J2: object) -> tuple[Array, Array]:
    J1, J2 = _as_real(J1, "J1"), _as_real(J2, "J2")
    if J1.ndim != 2 or J1.shape[0] != J1.shape[1] or J1.shape != J2.shape or J1.size == 0:
        raise ValueError(f"J1 and J2 must be square matrices (n, n) of the same shape, "
                         f"got {J1.shape} and {J2.shape}")
    return J1, J2
