"""Layers as modules: a forward and a backward pass per layer, and the rules of a graph.

Code for the page docs/layers/modules.md; each function names the equation of that page
it computes. Every module follows one contract:

    forward(inputs, params) -> (output, cache)
    backward(d_output, cache) -> (d_inputs, d_params)

params is a dict of arrays ({} for a module without parameters), and d_params a dict
with the same keys, each gradient shaped like its parameter. Needs NumPy and the
standard library only.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

Array = np.ndarray
Params = dict[str, np.ndarray]
Cache = Any


# --8<-- [start:jacobian]
def backward_through_jacobian(dZ: Array, J: Array) -> Array:
    """Every backward pass written out: dA[i, j] = sum of G[p, q] J[p, q, i, j] over
    p and q, with J[p, q, i, j] = dz_pq / da_ij of shape Z.shape + A.shape, eq. (1)."""
    dZ, J = _check_jacobian(dZ, J)
    return np.tensordot(dZ, J, axes=dZ.ndim)     # sums over every entry (p, q) of Z
# --8<-- [end:jacobian]


# --8<-- [start:add]
def add_forward(inputs: tuple[Array, Array], params: Params) -> tuple[Array, Cache]:
    """Z = A + V for two inputs of one shape: eq. (2)."""
    A, V = _check_pair(inputs, params, "add")
    return A + V, A.shape


def add_backward(dZ: Array, cache: Cache) -> tuple[tuple[Array, Array], Params]:
    """Addition passes G unchanged to both inputs: eq. (2)."""
    dZ = _check_upstream(dZ, cache)
    return (dZ.copy(), dZ.copy()), {}   # two copies: a caller may change one in place
# --8<-- [end:add]


# --8<-- [start:multiply]
def multiply_forward(inputs: tuple[Array, Array],
                     params: Params) -> tuple[Array, Cache]:
    """Z = A ⊙ V, entry by entry: eq. (3)."""
    A, V = _check_pair(inputs, params, "multiply")
    return A * V, (A, V)             # backward needs both inputs


def multiply_backward(dZ: Array, cache: Cache) -> tuple[tuple[Array, Array], Params]:
    """Each input gets G times the other input (the inputs swap): eq. (3)."""
    A, V = cache
    dZ = _check_multiply_backward(dZ, A, V)
    return (dZ * V, dZ * A), {}
# --8<-- [end:multiply]


# --8<-- [start:maximum]
def maximum_forward(inputs: tuple[Array, Array], params: Params) -> tuple[Array, Cache]:
    """Z = max(A, V), entry by entry: eq. (4)."""
    A, V = _check_pair(inputs, params, "maximum")
    a_wins = A > V                   # on a tie, V is the winner
    return np.where(a_wins, A, V), a_wins


def maximum_backward(dZ: Array, cache: Cache) -> tuple[tuple[Array, Array], Params]:
    """The winner of each entry gets G, the other input 0: eq. (4)."""
    a_wins = cache
    dZ = _check_upstream(dZ, a_wins.shape)
    return (np.where(a_wins, dZ, 0.0), np.where(a_wins, 0.0, dZ)), {}
# --8<-- [end:maximum]


# --8<-- [start:fan-out]
def copy_forward(A: Array, params: Params) -> tuple[tuple[Array, Array], Cache]:
    """One value used twice: Z_first = Z_second = A, eq. (5)."""
    A = _check_input(A, params, "copy")
    return (A.copy(), A.copy()), A.shape


def copy_backward(d_outputs: tuple[Array, Array], cache: Cache) -> tuple[Array, Params]:
    """The gradients of the two uses add up: eq. (5)."""
    dZ_first, dZ_second = _check_copy_backward(d_outputs, cache)
    return dZ_first + dZ_second, {}
# --8<-- [end:fan-out]


# --8<-- [start:square]
def square_forward(A: Array, params: Params) -> tuple[Array, Cache]:
    """Z = A ⊙ A as a graph: copy A, then multiply the two copies: eq. (6)."""
    (A_first, A_second), copy_cache = copy_forward(A, params)
    Z, multiply_cache = multiply_forward((A_first, A_second), {})
    return Z, (copy_cache, multiply_cache)


def square_backward(dZ: Array, cache: Cache) -> tuple[Array, Params]:
    """Back through multiply, then through copy: 2 A ⊙ G, eq. (6)."""
    copy_cache, multiply_cache = cache
    d_copies, _ = multiply_backward(dZ, multiply_cache)   # (G ⊙ A, G ⊙ A)
    return copy_backward(d_copies, copy_cache)           # their sum
# --8<-- [end:square]


# --8<-- [start:broadcast]
def broadcast_add_forward(inputs: tuple[Array, Array],
                          params: Params) -> tuple[Array, Cache]:
    """Z = A + V with NumPy broadcasting, as in Z = A + 1 b^T: eq. (7)."""
    A, V = _check_broadcast_pair(inputs, params)
    return A + V, (A.shape, V.shape)


def sum_to_shape(dZ: Array, shape: tuple[int, ...]) -> Array:
    """Sum G over the axes a broadcast stretched, back to the input's shape: eq. (7)."""
    dZ = _check_sum_to_shape(dZ, shape)
    added = dZ.ndim - len(shape)                     # axes the broadcast put in front
    dZ = np.sum(dZ, axis=tuple(range(added)))
    stretched = tuple(k for k, n in enumerate(shape) if n == 1 and dZ.shape[k] != 1)
    return np.sum(dZ, axis=stretched, keepdims=True)   # axes of length 1, stretched


def broadcast_add_backward(dZ: Array,
                           cache: Cache) -> tuple[tuple[Array, Array], Params]:
    """Each input gets G summed over the axes it was stretched along: eq. (7)."""
    shape_A, shape_V = cache
    dZ = _check_upstream(dZ, np.broadcast_shapes(shape_A, shape_V))
    return (sum_to_shape(dZ, shape_A), sum_to_shape(dZ, shape_V)), {}
# --8<-- [end:broadcast]


# --8<-- [start:dense-forward]
def dense_forward(A: Array, params: Params) -> tuple[Array, Cache]:
    """Z = A W + 1 b^T for a batch, one example per row: eq. (8)."""
    A, W, b = _check_dense(A, params)
    Z = A @ W + b             # (m, n_in) @ (n_in, n_out), b added to each of the m rows
    return Z, (A, W)          # backward needs the input and the weights
# --8<-- [end:dense-forward]


# --8<-- [start:dense-backward]
def dense_backward(dZ: Array, cache: Cache) -> tuple[Array, Params]:
    """dA = G W^T, dW = A^T G and db = G^T 1: eq. (9)."""
    A, W = cache
    dZ = _check_dense_backward(dZ, A, W)
    dA = dZ @ W.T                      # (m, n_out) @ (n_out, n_in)
    dW = A.T @ dZ                      # (n_in, m) @ (m, n_out)
    db = dZ.T @ np.ones(A.shape[0])    # (n_out, m) @ (m,): the bias rule, eq. (7)
    return dA, {"W": dW, "b": db}
# --8<-- [end:dense-backward]


# --8<-- [start:activation]
def sigmoid(Z: Array) -> Array:
    """Stable sigmoid, one of the functions g of eq. (10)."""
    e = np.exp(-np.abs(Z))                      # never overflows
    return np.where(Z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


#: name -> (g, g'), each acting entry by entry; ReLU takes the slope 0 at exactly 0.
ACTIVATIONS: dict[str, tuple[Callable[[Array], Array], Callable[[Array], Array]]] = {
    "relu": (lambda Z: np.maximum(Z, 0.0), lambda Z: np.where(Z > 0, 1.0, 0.0)),
    "tanh": (np.tanh, lambda Z: 1.0 - np.tanh(Z) ** 2),
    "sigmoid": (sigmoid, lambda Z: sigmoid(Z) * (1.0 - sigmoid(Z))),
}


def activation_forward(Z: Array, params: Params,
                       name: str = "relu") -> tuple[Array, Cache]:
    """A = g(Z), entry by entry, no parameters: eq. (10)."""
    Z = _check_activation(Z, params, name)
    g, _ = ACTIVATIONS[name]
    return g(Z), (Z, name)


def activation_backward(dA: Array, cache: Cache) -> tuple[Array, Params]:
    """dZ = dA ⊙ g'(Z): eq. (10)."""
    Z, name = cache
    dA = _check_upstream(dA, Z.shape, "dA")
    _, g_prime = ACTIVATIONS[name]
    return dA * g_prime(Z), {}
# --8<-- [end:activation]


# --8<-- [start:losses]
def cross_entropy_forward(Z: Array, Y: Array) -> tuple[float, Cache]:
    """Mean softmax cross-entropy of the logits Z (m, C), from log-sum-exp: eq. (11)."""
    Z, Y = _check_cross_entropy(Z, Y)               # Y: one-hot rows (m, C)
    top = np.argmax(Z, axis=1)[:, np.newaxis]
    M = np.take_along_axis(Z, top, axis=1)          # one largest logit of each row
    others = np.arange(Z.shape[1]) != top
    rest = np.sum(np.exp(Z - M), axis=1, keepdims=True, where=others)
    log_P = (Z - M) - np.log1p(rest)                # log1p: a tiny loss keeps digits
    return float(-np.mean(np.sum(Y * log_P, axis=1))), (log_P, Y)


def cross_entropy_backward(d_loss: float, cache: Cache) -> tuple[Array, Params]:
    """dZ = d_loss (softmax(Z) - Y) / m: eq. (11)."""
    log_P, Y = cache
    d_loss = _check_d_loss(d_loss)
    return d_loss * (np.exp(log_P) - Y) / Y.shape[0], {}


def squared_error_forward(Z: Array, Y: Array) -> tuple[float, Cache]:
    """Squared error summed over the outputs, mean over the m examples: eq. (11)."""
    Z, Y = _check_squared_error(Z, Y)
    R = Z - Y                                       # (m, n_out)
    return float(np.mean(np.sum(R**2, axis=1))), R


def squared_error_backward(d_loss: float, cache: Cache) -> tuple[Array, Params]:
    """dZ = d_loss 2 (Z - Y) / m: eq. (11)."""
    R = cache
    d_loss = _check_d_loss(d_loss, R)
    return d_loss * 2.0 * R / R.shape[0], {}
# --8<-- [end:losses]


# --8<-- [start:network]
#: kind -> (forward, backward) of every module a network can be built from.
MODULES = {"dense": (dense_forward, dense_backward)} | {
    name: (partial(activation_forward, name=name), activation_backward)
    for name in ACTIVATIONS}

#: loss name -> (forward, backward).
LOSSES = {"cross_entropy": (cross_entropy_forward, cross_entropy_backward),
          "squared_error": (squared_error_forward, squared_error_backward)}


def network_forward(X: Array, layers: list[tuple[str, Params]]) -> tuple[Array, list]:
    """Run the modules in order, keeping every cache: the forward pass of eq. (12)."""
    _check_layers(layers)
    Z, caches = X, []
    for kind, params in layers:
        forward, _ = MODULES[kind]
        Z, cache = forward(Z, params)           # the output feeds the next module
        caches.append(cache)
    return Z, caches


def network_backward(dZ: Array, caches: list,
                     layers: list[tuple[str, Params]]) -> tuple[Array, list[Params]]:
    """Run the backward passes in reverse order: eq. (12)."""
    _check_layers(layers, len(caches))
    d_params = [{} for _ in layers]
    for k in reversed(range(len(layers))):          # the last module first
        _, backward = MODULES[layers[k][0]]
        dZ, d_params[k] = backward(dZ, caches[k])   # its d_inputs feed the one before
    return dZ, d_params


def network_gradients(X: Array, Y: Array, layers: list[tuple[str, Params]],
                      loss: str = "cross_entropy") -> tuple[float, list[Params]]:
    """The loss of eq. (11) and every module's parameter gradients, by eq. (12)."""
    _check_loss_name(loss)
    Z, caches = network_forward(X, layers)
    loss_forward, loss_backward = LOSSES[loss]
    value, loss_cache = loss_forward(Z, Y)
    dZ, _ = loss_backward(1.0, loss_cache)          # dL/dL = 1 starts the chain
    _, d_params = network_backward(dZ, caches, layers)
    return value, d_params
# --8<-- [end:network]


# --8<-- [start:check]
def central_difference(f: Callable[[Array], float], x: Array, h: float = 1e-5) -> Array:
    """Gradient of f at x by central differences, one coordinate at a time: eq. (13)."""
    x = _check_real(x, "x")
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = h
        grad[idx] = (float(f(x + step)) - float(f(x - step))) / (2 * h)
    return grad


def relative_error(a: Array, b: Array) -> float:
    """|a - b| / max(|a|, |b|) in the Euclidean norm, 0 if both are 0: for eq. (13)."""
    a, b = _check_same_shape(a, b)
    top = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0))
    if top == 0.0:
        return 0.0
    a, b = a / top, b / top                         # scaled first: no square overflows
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b)))


def check_module(forward: Callable, backward: Callable, A: Array, params: Params,
                 rng: np.random.Generator) -> dict[str, float]:
    """Relative error of each gradient of a module against eq. (13), by name."""
    A, params = _check_module_check(A, params, rng)
    Z, cache = forward(A, params)
    G = rng.standard_normal(np.shape(Z))            # a random upstream gradient
    dA, d_params = backward(G, cache)

    def s(A_: Array, params_: Params) -> float:     # eq. (13): one number
        return float(np.sum(G * forward(A_, params_)[0]))

    errors = {"A": relative_error(dA, central_difference(lambda V: s(V, params), A))}
    for key, P in params.items():
        numeric = central_difference(lambda V, key=key: s(A, {**params, key: V}), P)
        errors[key] = relative_error(d_params[key], numeric)
    return errors
# --8<-- [end:check]


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
    if v.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be an array of real numbers, got dtype {v.dtype}")
    v = v.astype(np.float64)
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} must be finite (no inf or nan)")
    return v


def _check_nonempty(v: Array, name: str) -> Array:
    v = _check_real(v, name)
    if v.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {v.shape}")
    return v


def _bound(value: Callable[[], Array]) -> float:
    """The largest entry of value(), computed with overflow allowed (inf if it overflows)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.max(value(), initial=0.0))


def _check_bound(size: float, what: str) -> None:
    if not size <= _FLOAT_MAX:
        raise ValueError(f"{what} must stay below {_FLOAT_MAX:.3g} so that float64 does "
                         f"not overflow, got a bound of {size:.3g}")


def _check_no_params(params: Params, module: str) -> None:
    if not isinstance(params, dict) or params:
        raise ValueError(f"{module} has no parameters: params must be {{}}, got {params!r:.60}")


def _check_params(params: Params, keys: tuple[str, ...], module: str) -> None:
    if not isinstance(params, dict) or set(params) != set(keys):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"{module} needs params with the keys {list(keys)}, got {got}")


def _check_jacobian(dZ: Array, J: Array) -> tuple[Array, Array]:
    dZ, J = _check_nonempty(dZ, "dZ"), _check_real(J, "J")
    if J.ndim <= dZ.ndim or J.shape[:dZ.ndim] != dZ.shape or 0 in J.shape:
        raise ValueError(f"J must have shape Z.shape + A.shape = {dZ.shape} + (...), "
                         f"got {J.shape}")
    return dZ, J


def _check_input(A: Array, params: Params, module: str) -> Array:
    _check_no_params(params, module)
    return _check_nonempty(A, "A")


def _check_upstream(dZ: Array, shape: tuple[int, ...], name: str = "dZ") -> Array:
    dZ = _check_real(dZ, name)
    if dZ.shape != tuple(shape):
        raise ValueError(f"{name} must have the shape of the output, {tuple(shape)}, "
                         f"got {dZ.shape}")
    return dZ


def _check_pair(inputs: tuple[Array, Array], params: Params,
                module: str) -> tuple[Array, Array]:
    _check_no_params(params, module)
    if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
        raise ValueError(f"{module} takes inputs = (A, V), got {inputs!r:.60}")
    A, V = _check_nonempty(inputs[0], "A"), _check_nonempty(inputs[1], "V")
    if A.shape != V.shape:
        raise ValueError(f"A and V must have one shape, got {A.shape} and {V.shape}")
    if module == "add":
        _check_bound(_bound(lambda: np.abs(A) + np.abs(V)), "|A| + |V|")
    if module == "multiply":
        _check_bound(_bound(lambda: np.abs(A) * np.abs(V)), "|A| |V|")
    return A, V


def _check_multiply_backward(dZ: Array, A: Array, V: Array) -> Array:
    dZ = _check_upstream(dZ, A.shape)
    _check_bound(_bound(lambda: np.abs(dZ) * np.maximum(np.abs(A), np.abs(V))),
                 "|G| max(|A|, |V|)")
    return dZ


def _check_copy_backward(d_outputs: tuple[Array, Array],
                         shape: tuple[int, ...]) -> tuple[Array, Array]:
    if not isinstance(d_outputs, (tuple, list)) or len(d_outputs) != 2:
        raise ValueError(f"copy_backward takes one gradient per use, (dZ_first, "
                         f"dZ_second), got {d_outputs!r:.60}")
    first = _check_upstream(d_outputs[0], shape, "dZ_first")
    second = _check_upstream(d_outputs[1], shape, "dZ_second")
    _check_bound(_bound(lambda: np.abs(first) + np.abs(second)), "|dZ_first| + |dZ_second|")
    return first, second


def _check_broadcast_pair(inputs: tuple[Array, Array], params: Params) -> tuple[Array, Array]:
    _check_no_params(params, "broadcast_add")
    if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
        raise ValueError(f"broadcast_add takes inputs = (A, V), got {inputs!r:.60}")
    A, V = _check_nonempty(inputs[0], "A"), _check_nonempty(inputs[1], "V")
    try:
        np.broadcast_shapes(A.shape, V.shape)
    except ValueError:
        raise ValueError(f"A and V must broadcast to one shape, got {A.shape} and "
                         f"{V.shape}") from None
    _check_bound(_bound(lambda: np.max(np.abs(A)) + np.max(np.abs(V))), "max |A| + max |V|")
    return A, V


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether an array of this shape broadcasts to exactly the target shape."""
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _check_sum_to_shape(dZ: Array, shape: tuple[int, ...]) -> Array:
    dZ = _check_real(dZ, "dZ")
    if (not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 1 for n in shape)
            or not _broadcasts_to(shape, dZ.shape)):
        raise ValueError(f"shape must be a tuple of sizes >= 1 that broadcasts to the "
                         f"shape of dZ, {dZ.shape}, got {shape!r}")
    _check_bound(_bound(lambda: np.sum(np.abs(dZ))), "the sum of |dZ|")
    return dZ


def _check_dense(A: Array, params: Params) -> tuple[Array, Array, Array]:
    _check_params(params, ("W", "b"), "dense")
    W, b = _check_real(params["W"], "W"), _check_real(params["b"], "b")
    if W.ndim != 2 or W.size == 0:
        raise ValueError(f"W must be a 2-D array (n_in, n_out) with n_in, n_out >= 1, "
                         f"got shape {W.shape}")
    if b.shape != (W.shape[1],):
        raise ValueError(f"b must have shape ({W.shape[1]},) = (n_out,), got {b.shape}")
    A = _check_real(A, "A")
    if A.ndim != 2 or A.shape[0] == 0 or A.shape[1] != W.shape[0]:
        raise ValueError(f"A must have shape (m, {W.shape[0]}) = (m, n_in) with m >= 1, "
                         f"got {A.shape}")
    _check_bound(_bound(lambda: np.abs(A) @ np.abs(W) + np.abs(b)), "|A| |W| + |b|")
    return A, W, b


def _check_dense_backward(dZ: Array, A: Array, W: Array) -> Array:
    dZ = _check_upstream(dZ, (A.shape[0], W.shape[1]))
    _check_bound(_bound(lambda: np.abs(dZ) @ np.abs(W.T)), "|G| |W|^T")
    _check_bound(_bound(lambda: np.abs(A.T) @ np.abs(dZ)), "|A|^T |G|")
    _check_bound(_bound(lambda: np.sum(np.abs(dZ), axis=0)), "the column sums of |G|")
    return dZ


def _check_activation(Z: Array, params: Params, name: str) -> Array:
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"name must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return _check_input(Z, params, name)


def _check_targets_matrix(Z: Array, Y: Array) -> tuple[Array, Array]:
    Z = _check_real(Z, "Z")
    if Z.ndim != 2 or 0 in Z.shape:
        raise ValueError(f"Z must have shape (m, C) with m, C >= 1, got {Z.shape}")
    return Z, _check_real(Y, "Y")


def _check_cross_entropy(Z: Array, Y: Array) -> tuple[Array, Array]:
    """Return Z (m, C) and the targets as one-hot rows (class indices are accepted)."""
    Z, Y = _check_targets_matrix(Z, Y)
    m, C = Z.shape
    if Y.ndim == 1:
        if Y.shape != (m,) or not np.all(np.isin(Y, np.arange(C))):
            raise ValueError(f"class indices must be {m} integers in 0..{C - 1}, "
                             f"got {Y[:5]}")
        Y = np.eye(C)[Y.astype(int)]
    if Y.shape != (m, C):
        raise ValueError(f"Y must have shape ({m}, {C}) or ({m},), got {Y.shape}")
    if not (np.all(np.isin(Y, (0.0, 1.0))) and np.all(np.sum(Y, axis=1) == 1.0)):
        raise ValueError("each row of Y must be one-hot")
    _check_bound(_bound(lambda: 2.0 * np.max(np.abs(Z))), "2 max |Z| (the spread of the logits)")
    return Z, Y


def _check_squared_error(Z: Array, Y: Array) -> tuple[Array, Array]:
    Z, Y = _check_targets_matrix(Z, Y)
    if Y.shape != Z.shape:
        raise ValueError(f"Y must have the shape of Z, {Z.shape}, got {Y.shape}")
    R = _bound(lambda: np.max(np.abs(Z - Y)))
    _check_bound(_bound(lambda: R * R * Z.shape[1]), "n_out max (Z - Y)^2")
    return Z, Y


def _check_d_loss(d_loss: float, R: Array | None = None) -> float:
    """Return d_loss as a float; with the residuals R, check that 2 d_loss R / m is finite."""
    if (isinstance(d_loss, (bool, np.bool_)) or np.ndim(d_loss) != 0
            or np.asarray(d_loss).dtype.kind not in "iuf" or not np.isfinite(d_loss)):
        raise ValueError(f"d_loss must be one finite number, got {d_loss!r:.60}")
    if R is not None:
        _check_bound(_bound(lambda: 2.0 * abs(float(d_loss)) * np.abs(R) / R.shape[0]),
                     "2 |d_loss| |Z - Y| / m")
    return float(d_loss)


def _check_loss_name(loss: str) -> None:
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")


def _check_layers(layers: list[tuple[str, Params]], n_caches: int | None = None) -> None:
    if not isinstance(layers, (list, tuple)) or len(layers) == 0:
        raise ValueError("layers must be a non-empty list of (kind, params) pairs")
    for l_, layer in enumerate(layers):
        if (not isinstance(layer, (list, tuple)) or len(layer) != 2
                or not isinstance(layer[0], str) or layer[0] not in MODULES):
            raise ValueError(f"layer {l_} must be a pair (kind, params) with kind one of "
                             f"{sorted(MODULES)}, got {layer!r:.60}")
    if n_caches is not None and n_caches != len(layers):
        raise ValueError(f"caches must hold one cache per layer ({len(layers)}), "
                         f"got {n_caches}")


def _check_same_shape(a: Array, b: Array) -> tuple[Array, Array]:
    a, b = _check_real(a, "a"), _check_real(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have one shape, got {a.shape} and {b.shape}")
    return a, b


def _check_module_check(A: Array, params: Params,
                        rng: np.random.Generator) -> tuple[Array, Params]:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict of arrays, got {type(params).__name__}")
    return (_check_nonempty(A, "A"),
            {key: _check_nonempty(P, key) for key, P in params.items()})
