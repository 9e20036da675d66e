"""Backpropagation through a multilayer perceptron of any depth.

Code for the page docs/networks/backpropagation.md; each function names the equation of
that page it computes. A network is a list of layers [(W1, b1), (W2, b2), ...], with W of
shape (n_{l-1}, n_l) and b of shape (n_l,). The hidden layers share one activation, chosen
by name; the output layer is a softmax (with cross-entropy), the identity (with squared
error) or a sigmoid on each output (with binary cross-entropy). Needs NumPy and the
standard library only (math.erf for the exact GELU).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

Array = np.ndarray
Params = list[tuple[np.ndarray, np.ndarray]]

#: Output layers and the loss that goes with each.
OUTPUTS = {"softmax": "cross-entropy", "identity": "squared error",
           "sigmoid": "binary cross-entropy"}

#: Activations that have a kink (a jump in the slope, or in its slope for ELU) at z = 0.
KINKED = ("relu", "leaky_relu", "elu")


# --8<-- [start:activations]
def sigmoid(z: Array) -> Array:
    """Stable sigmoid, one of the activations g of eqs. (1) and (2)."""
    z = _check_finite(z, "z")
    e = np.exp(-np.abs(z))                      # never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


_erf = np.vectorize(math.erf, otypes=[np.float64])    # NumPy has no erf
_Phi = lambda z: 0.5 * (1.0 + _erf(z / math.sqrt(2.0)))   # normal distribution
_phi = lambda z: np.exp(-0.5 * z**2) / math.sqrt(2.0 * math.pi)   # its density
_u = lambda z: math.sqrt(2.0 / math.pi) * (z + 0.044715 * z**3)
_du = lambda z: math.sqrt(2.0 / math.pi) * (1.0 + 3 * 0.044715 * z**2)

#: name -> (g, g'), each acting elementwise on an array of any shape.
ACTIVATIONS: dict[str, tuple[Callable[[Array], Array], Callable[[Array], Array]]] = {
    "identity": (lambda z: z, lambda z: np.ones_like(z)),
    "sigmoid": (sigmoid, lambda z: sigmoid(z) * (1.0 - sigmoid(z))),
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: np.where(z > 0, 1.0, 0.0)),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z),
                   lambda z: np.where(z > 0, 1.0, 0.01)),
    "elu": (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
            lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0)))),
    "softplus": (lambda z: np.logaddexp(0.0, z), sigmoid),
    "gelu": (lambda z: z * _Phi(z), lambda z: _Phi(z) + z * _phi(z)),
    "gelu_tanh": (lambda z: 0.5 * z * (1.0 + np.tanh(_u(z))),
                  lambda z: 0.5 * (1.0 + np.tanh(_u(z)))
                  + 0.5 * z * (1.0 - np.tanh(_u(z)) ** 2) * _du(z)),
    "silu": (lambda z: z * sigmoid(z),
             lambda z: sigmoid(z) * (1.0 + z * (1.0 - sigmoid(z)))),
}


def softmax(Z: Array) -> Array:
    """Softmax along the last axis, the output activation of eqs. (1) and (2)."""
    Z = _check_logits(Z)
    E = np.exp(Z - np.max(Z, axis=-1, keepdims=True))   # max-subtraction: no overflow
    return E / np.sum(E, axis=-1, keepdims=True)


def output_activation(Z: Array, output: str) -> Array:
    """The last layer's activation (softmax, identity or sigmoid) of eqs. (1), (2)."""
    Z = _check_output_activation(Z, output)
    if output == "sigmoid":
        return sigmoid(Z)                       # each output on its own, in (0, 1)
    return softmax(Z) if output == "softmax" else Z
# --8<-- [end:activations]


# --8<-- [start:forward-example]
def forward_example(x: Array, params: Params, activation: str = "relu",
                    output: str = "softmax") -> tuple[list, list]:
    """One example through the network: eq. (1).

    Returns z and a with z[l] = z^(l) for l = 1..L (z[0] is None) and a[l] = a^(l)
    for l = 0..L.
    """
    X, params = _check_one_example(x, params, activation, output)
    g, _ = ACTIVATIONS[activation]
    L = len(params)
    z, a = [None], [X[0]]                  # a^(0) = x, shape (n_0,)
    for layer in range(1, L + 1):          # layer is the l of eq. (1)
        W, b = params[layer - 1]
        z.append(W.T @ a[layer - 1] + b)   # (n_l, n_{l-1}) @ (n_{l-1},) + (n_l,)
        a.append(g(z[layer]) if layer < L else output_activation(z[layer], output))
    return z, a
# --8<-- [end:forward-example]


# --8<-- [start:forward]
def forward(X: Array, params: Params, activation: str = "relu",
            output: str = "softmax") -> tuple[list, list]:
    """A batch through the network, one example per row: eq. (2).

    Returns Z and A with Z[l] = Z^(l), shape (m, n_l), for l = 1..L (Z[0] is None)
    and A[l] = A^(l) for l = 0..L; A[L] is Y_hat.
    """
    X, params = _check_network(X, params, activation, output)
    g, _ = ACTIVATIONS[activation]
    L = len(params)
    Z, A = [None], [X]                     # A^(0) = X, shape (m, n_0)
    for layer in range(1, L + 1):          # layer is the l of eq. (2)
        W, b = params[layer - 1]
        Z.append(A[layer - 1] @ W + b)     # (m, n_{l-1}) @ (n_{l-1}, n_l) + 1 b^T
        _check_product(Z[layer], layer, X)  # a nan or inf in X would be in Z^(1)
        A.append(g(Z[layer]) if layer < L else output_activation(Z[layer], output))
    return Z, A
# --8<-- [end:forward]


# --8<-- [start:loss]
def loss(X: Array, Y: Array, params: Params, activation: str = "relu",
         output: str = "softmax") -> float:
    """Mean loss over the m examples: eq. (3).

    Cross-entropy from the logits (log-sum-exp) for the softmax output, squared error
    summed over the outputs for the identity output, binary cross-entropy from the
    logits summed over the outputs for the sigmoid output. For the softmax output, Y may
    be class indices (m,) or one-hot rows (m, C).
    """
    Z, A = forward(X, params, activation, output)
    Z_L, m, C = Z[-1], *Z[-1].shape
    Y = _check_targets(Y, m, C, output)
    if output == "softmax":
        top = np.argmax(Z_L, axis=1)[:, np.newaxis]
        M = np.take_along_axis(Z_L, top, axis=1)             # one largest logit per row
        others = np.arange(C) != top
        rest = np.sum(np.exp(Z_L - M), axis=1, where=others)  # every other e^(z - M)
        # LSE(z_i) - z_{i,y_i} = (M_i - z_{i,y_i}) + log(1 + rest): log1p keeps digits
        return float(np.mean((M[:, 0] - np.sum(Y * Z_L, axis=1)) + np.log1p(rest)))
    if output == "sigmoid":       # -log a = log(1 + e^-z), -log(1 - a) = log(1 + e^z)
        bce = Y * np.logaddexp(0.0, -Z_L) + (1.0 - Y) * np.logaddexp(0.0, Z_L)
        return float(np.mean(np.sum(bce, axis=1)))
    return float(np.mean(np.sum((A[-1] - Y) ** 2, axis=1)))
# --8<-- [end:loss]


# --8<-- [start:output-error-example]
def output_error_example(z_L: Array, y: Array, output: str = "softmax") -> Array:
    """delta^(L) = dl/dz^(L) of one example (n_L,), y one-hot or a target: eq. (4)."""
    z_L = _check_example_logits(z_L)
    y = _check_example_target(y, z_L.size, output)
    y_hat = output_activation(z_L, output)
    return 2.0 * (y_hat - y) if output == "identity" else y_hat - y
# --8<-- [end:output-error-example]


# --8<-- [start:layer-example]
def layer_gradient_example(a_prev: Array, delta: Array) -> tuple[Array, Array]:
    """dl/dW^(l) (n_{l-1}, n_l) and dl/db^(l) (n_l,) of one example: eq. (5)."""
    a_prev, delta = _check_example_layer(a_prev, delta)
    return np.outer(a_prev, delta), delta   # entry [j, k] is a_j^(l-1) delta_k^(l)
# --8<-- [end:layer-example]


# --8<-- [start:recursion-example]
def previous_error_example(delta: Array, W: Array, z_prev: Array,
                           activation: str = "relu") -> Array:
    """delta^(l-1) (n_{l-1},) from delta^(l) (n_l,) of one example: eq. (6)."""
    delta, W, z_prev = _check_layer_backward(delta, W, z_prev, activation, ndim=1)
    _, g_prime = ACTIVATIONS[activation]
    return (W @ delta) * g_prime(z_prev)    # (n_{l-1}, n_l) @ (n_l,), then elementwise


def backward_example(x: Array, y: Array, params: Params, activation: str = "relu",
                     output: str = "softmax") -> list[tuple[Array, Array]]:
    """Gradients of one example's loss for every layer, by eqs. (4)-(6)."""
    x, y, params = _check_example(x, y, params, activation, output)
    z, a = forward_example(x, params, activation, output)
    L = len(params)
    delta = output_error_example(z[L], y, output)                   # eq. (4)
    grads = [None] * L
    for layer in range(L, 0, -1):                                   # l = L, ..., 1
        grads[layer - 1] = layer_gradient_example(a[layer - 1], delta)  # eq. (5)
        if layer > 1:
            W = params[layer - 1][0]
            delta = previous_error_example(delta, W, z[layer - 1], activation)  # (6)
    return grads
# --8<-- [end:recursion-example]


# --8<-- [start:worked-example]
def worked_example() -> dict[str, Array]:
    """The 2-2-1 ReLU network of eq. (7), one example through eqs. (1) and (4)-(6)."""
    x, y = np.array([1.0, 2.0]), np.array([1.0])
    params = [(np.array([[0.5, -1.0], [0.25, 1.0]]), np.array([0.0, -0.5])),  # W1, b1
              (np.array([[2.0], [-1.0]]), np.array([0.5]))]                    # W2, b2
    z, a = forward_example(x, params, "relu", "identity")                    # eq. (1)
    delta2 = output_error_example(z[2], y, "identity")                       # eq. (4)
    dW2, db2 = layer_gradient_example(a[1], delta2)                          # eq. (5)
    delta1 = previous_error_example(delta2, params[1][0], z[1], "relu")      # eq. (6)
    dW1, db1 = layer_gradient_example(a[0], delta1)                          # eq. (5)
    return {"z1": z[1], "a1": a[1], "y_hat": a[2], "delta2": delta2, "dW2": dW2,
            "db2": db2, "delta1": delta1, "dW1": dW1, "db1": db1}
# --8<-- [end:worked-example]


# --8<-- [start:output-error]
def output_error(Z_L: Array, Y: Array, output: str = "softmax") -> Array:
    """Delta^(L) = dL/dZ^(L) (m, n_L) of the mean loss, the 1/m included: eq. (8)."""
    Z_L = _check_output_logits(Z_L)
    m, C = Z_L.shape
    Y = _check_targets(Y, m, C, output)     # one-hot rows for the softmax output
    Y_hat = output_activation(Z_L, output)
    return 2.0 * (Y_hat - Y) / m if output == "identity" else (Y_hat - Y) / m
# --8<-- [end:output-error]


# --8<-- [start:layer]
def layer_gradient(A_prev: Array, Delta: Array) -> tuple[Array, Array]:
    """dL/dW^(l) (n_{l-1}, n_l) and dL/db^(l) (n_l,) for the batch: eq. (9)."""
    A_prev, Delta = _check_layer_gradient(A_prev, Delta)
    dW = A_prev.T @ Delta                   # (n_{l-1}, m) @ (m, n_l); no 1/m here:
    db = Delta.T @ np.ones(Delta.shape[0])  # (n_l, m) @ (m,)      Delta carries it
    _check_layer_products(dW, db, A_prev, Delta)   # nan or inf in them would be here
    return dW, db
# --8<-- [end:layer]


# --8<-- [start:recursion]
def previous_error(Delta: Array, W: Array, Z_prev: Array,
                   activation: str = "relu") -> Array:
    """Delta^(l-1) (m, n_{l-1}) from Delta^(l) (m, n_l): eq. (10)."""
    Delta, W, Z_prev = _check_layer_backward(Delta, W, Z_prev, activation)
    _, g_prime = ACTIVATIONS[activation]
    return (Delta @ W.T) * g_prime(Z_prev)   # (m, n_l) @ (n_l, n_{l-1}), elementwise
# --8<-- [end:recursion]


# --8<-- [start:backward]
def backward(X: Array, Y: Array, params: Params, activation: str = "relu",
             output: str = "softmax") -> list[tuple[Array, Array]]:
    """Gradients [(dW1, db1), ..., (dWL, dbL)] of eq. (3), by eqs. (8)-(10)."""
    Z, A = forward(X, params, activation, output)
    L = len(params)
    Delta = output_error(Z[L], Y, output)                           # eq. (8)
    grads = [None] * L
    for layer in range(L, 0, -1):                                   # l = L, ..., 1
        grads[layer - 1] = layer_gradient(A[layer - 1], Delta)      # eq. (9)
        if layer > 1:
            W = params[layer - 1][0]
            Delta = previous_error(Delta, W, Z[layer - 1], activation)   # eq. (10)
    return grads
# --8<-- [end:backward]


# --8<-- [start:train]
def init_params(sizes: list[int], rng: np.random.Generator,
                activation: str = "relu") -> Params:
    """Random layers for the network of eq. (2), sizes = [n_0, n_1, ..., n_L].

    He scaling (variance 2 / n_{l-1}) for the ReLU family, Xavier (variance
    2 / (n_{l-1} + n_l)) otherwise; biases start at 0. See the initialisation page.
    """
    _check_sizes(sizes)
    _check_activation(activation)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        var = 2.0 / n_in if activation in KINKED else 2.0 / (n_in + n_out)
        params.append((rng.normal(0.0, math.sqrt(var), (n_in, n_out)), np.zeros(n_out)))
    return params


def fit(X: Array, Y: Array, params: Params, activation: str = "relu",
        output: str = "softmax", lr: float = 0.1,
        n_iters: int = 100) -> tuple[Params, np.ndarray]:
    """Gradient descent on the loss of eq. (3) with the gradients of eqs. (8)-(10).

    Returns the trained layers and the loss before each update, shape (n_iters,).
    """
    _check_training(lr, n_iters)
    params = _check_params(params)
    losses = np.empty(n_iters)
    for t in range(n_iters):
        losses[t] = loss(X, Y, params, activation, output)
        grads = backward(X, Y, params, activation, output)
        params = [(W - lr * dW, b - lr * db)
                  for (W, b), (dW, db) in zip(params, grads, strict=True)]
    return params, losses
# --8<-- [end:train]


# Input checks, kept out of the sections the page shows.


def _as_real(v: Array, name: str) -> Array:
    """Return v as a float array, or raise ValueError if it does not hold real numbers."""
    try:
        v = np.asarray(v)
    except ValueError:            # a ragged nested list
        raise ValueError(f"{name} must be a rectangular array of numbers") from None
    if v.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be an array of real numbers, got dtype {v.dtype}")
    return np.asarray(v, dtype=np.float64)   # no copy of a float64 array


def _check_finite(v: Array, name: str) -> Array:
    v = _as_real(v, name)
    if not np.isfinite(v).all():
        raise ValueError(f"{name} must be finite (no inf or nan)")
    return v


def _is_positive_number(value: object) -> bool:
    """Whether value is one finite number > 0 (not an array, a bool or a string)."""
    return (not isinstance(value, (list, tuple, bool, np.bool_, str, bytes))
            and np.ndim(value) == 0
            and np.asarray(value).dtype.kind in "iuf" and bool(np.isfinite(value))
            and value > 0)


def _is_count(n: object) -> bool:
    """Whether n is a positive integer (not a bool)."""
    return isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1


def _check_activation(name: str) -> None:
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")


def _check_output(output: str) -> None:
    if not isinstance(output, str) or output not in OUTPUTS:
        raise ValueError(f"output must be one of {sorted(OUTPUTS)}, got {output!r}")


def _check_params(params: Params) -> Params:
    """Return the layers as float arrays, or raise ValueError naming the bad layer."""
    if not isinstance(params, (list, tuple)) or len(params) == 0:
        raise ValueError("params must be a non-empty list of (W, b) pairs, one per layer")
    checked = []
    for l_, pair in enumerate(params, start=1):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"layer {l_} must be a pair (W, b), got {pair!r:.60}")
        W, b = _as_real(pair[0], f"W{l_}"), _as_real(pair[1], f"b{l_}")
        if W.ndim != 2 or W.size == 0 or not np.isfinite(W).all():
            raise ValueError(f"W{l_} must be a finite 2-D array (n_{l_ - 1}, n_{l_}) with "
                             f"n_{l_ - 1}, n_{l_} >= 1, got shape {W.shape}")
        if b.shape != (W.shape[1],) or not np.isfinite(b).all():
            raise ValueError(f"b{l_} must be finite with shape ({W.shape[1]},), got {b.shape}")
        if checked and checked[-1][0].shape[1] != W.shape[0]:
            raise ValueError(f"W{l_} has {W.shape[0]} rows but layer {l_ - 1} has "
                             f"{checked[-1][0].shape[1]} units")
        checked.append((W, b))
    return checked


def _check_network(X: Array, params: Params, activation: str,
                   output: str) -> tuple[Array, Params]:
    """Return X (m, n_0) and the layers, or raise ValueError."""
    _check_activation(activation)
    _check_output(output)
    params = _check_params(params)
    X = _as_real(X, "X")
    n0 = params[0][0].shape[0]
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] != n0:
        raise ValueError(f"X must have shape (m, {n0}) with m >= 1, got shape {X.shape}")
    return X, params             # X is not scanned: _check_product checks Z^(1) instead


def _check_one_example(x: Array, params: Params, activation: str,
                       output: str) -> tuple[Array, Params]:
    """Return one example x as a batch X (1, n_0) and the layers, or raise ValueError."""
    x = _as_real(x, "x")
    if x.ndim != 1:
        raise ValueError(f"x must be a 1-D array of shape (n_0,), got shape {x.shape}")
    X, params = _check_network(x[np.newaxis, :], params, activation, output)
    if not np.isfinite(x).all():             # n_0 numbers: scanned directly
        raise ValueError("X must be finite (no inf or nan)")
    return X, params


def _check_example(x: Array, y: Array, params: Params, activation: str,
                   output: str) -> tuple[Array, Array, Params]:
    """Return one example x (n_0,), its target y (n_L,) and the layers, or raise."""
    X, params = _check_one_example(x, params, activation, output)
    return X[0], _check_example_target(y, params[-1][0].shape[1], output), params


def _check_example_target(y: Array, C: int, output: str) -> Array:
    """Return one example's target as a float vector (C,): one-hot for the softmax output."""
    return _check_targets(np.reshape(_as_real(y, "targets"), (1, -1)), 1, C, output)[0]


def _are_class_indices(Y: Array, C: int) -> bool:
    """Whether every entry of the float array Y is one of 0..C-1, in one pass of comparisons."""
    return bool(((Y >= 0) & (Y < C) & (Y == np.floor(Y))).all())


def _check_targets(Y: Array, m: int, C: int, output: str) -> Array:
    """Return the targets as a float matrix (m, C): one-hot rows for the softmax output.

    For the softmax output, class indices (m,) are accepted and turned into one-hot rows.
    """
    _check_output(output)
    Y = _as_real(Y, "targets")
    if output == "softmax" and Y.ndim == 1:
        if Y.shape != (m,) or not _are_class_indices(Y, C):
            raise ValueError(f"class indices must be {m} integers in 0..{C - 1}, got {Y[:5]}")
        return np.eye(C)[Y.astype(int)]
    if Y.shape != (m, C):
        raise ValueError(f"targets must have shape ({m}, {C}), got shape {Y.shape}")
    if not np.isfinite(Y).all():
        raise ValueError("targets must be finite (no inf or nan)")
    if output == "softmax" and not (((Y == 0.0) | (Y == 1.0)).all()
                                    and (Y.sum(axis=1) == 1.0).all()):
        raise ValueError("for the softmax output each target row must be one-hot")
    if output == "sigmoid" and not ((Y == 0.0) | (Y == 1.0)).all():
        raise ValueError(f"for the sigmoid output every target must be 0 or 1, got "
                         f"{Y[(Y != 0.0) & (Y != 1.0)][:5]}")
    return Y


def _check_logits(Z: Array, name: str = "Z", finite: bool = True) -> Array:
    """Return Z as a float array with at least one axis, the last of length >= 1.

    Z must be finite, unless finite is False: then its finiteness is left to the caller.
    """
    Z = _check_finite(Z, name) if finite else _as_real(Z, name)
    if Z.ndim == 0 or Z.shape[-1] == 0:
        raise ValueError(f"{name} must have shape (..., n_L) with n_L >= 1, got shape {Z.shape}")
    return Z


def _check_output_activation(Z: Array, output: str) -> Array:
    """Check the output and the shape of Z; finiteness too for the identity output only,
    as softmax and sigmoid check their own input."""
    _check_output(output)
    return _check_logits(Z, finite=output == "identity")


def _check_output_logits(Z_L: Array) -> Array:
    Z_L = _as_real(Z_L, "Z_L")
    if Z_L.ndim != 2 or Z_L.shape[0] == 0 or Z_L.shape[1] == 0:
        raise ValueError(f"Z_L must be a 2-D array of shape (m, n_L) with m >= 1 and "
                         f"n_L >= 1, got shape {Z_L.shape}")
    if not np.isfinite(Z_L).all():
        raise ValueError("Z_L must be finite (no inf or nan)")
    return Z_L


def _check_example_logits(z_L: Array) -> Array:
    z_L = _check_finite(z_L, "z_L")
    if z_L.ndim != 1 or z_L.size == 0:
        raise ValueError(f"z_L must be a non-empty 1-D array (n_L,) of one example, "
                         f"got shape {z_L.shape}")
    return z_L


def _check_example_layer(a_prev: Array, delta: Array) -> tuple[Array, Array]:
    a_prev, delta = _check_finite(a_prev, "a_prev"), _check_finite(delta, "delta")
    if a_prev.ndim != 1 or delta.ndim != 1 or a_prev.size == 0 or delta.size == 0:
        raise ValueError(f"a_prev (n_{{l-1}},) and delta (n_l,) must be non-empty 1-D "
                         f"arrays of one example, got shapes {a_prev.shape} and {delta.shape}")
    return a_prev, delta


# A nan or inf anywhere in X makes its row of Z^(1) = X W^(1) + 1 b^T non-finite (nan * 0 is
# nan, inf * 0 is nan, inf * x is inf), and one in A_prev or Delta makes a row or a column
# of dW = A_prev^T Delta, or db, non-finite. So the products are checked, m * n_1 and
# n_{l-1} * n_l numbers, rather than X, A_prev and Delta: no extra pass over X. Only when a
# product is not finite are its inputs scanned, to name the one at fault.


def _overflow(what: str, inputs: str) -> ValueError:
    return ValueError(f"{inputs} are finite, but {what} overflowed float64 (beyond "
                      f"{np.finfo(np.float64).max:.3g}); scale the inputs down")


def _check_product(Z_l: Array, layer: int, X: Array) -> None:
    """Return if the pre-activations Z^(l) are finite; otherwise raise ValueError.

    The layers were checked finite by _check_params, so if Z^(1) is not, X is at fault.
    """
    if not np.isfinite(Z_l).all():
        if layer == 1:
            _check_finite(X, "X")
        raise _overflow(f"Z^({layer})", "X and the layers")


def _check_layer_products(dW: Array, db: Array, A_prev: Array, Delta: Array) -> None:
    """Return if dW and db are finite; otherwise raise ValueError naming the input at fault.

    With n_{l-1} >= 1, any nan or inf in Delta reaches a column of dW as well as db: dW
    is enough to look at.
    """
    if not np.isfinite(dW).all():
        _check_finite(A_prev, "A_prev")
        _check_finite(Delta, "Delta")
        raise _overflow("dW = A_prev^T Delta", "A_prev and Delta")


def _check_layer_gradient(A_prev: Array, Delta: Array) -> tuple[Array, Array]:
    """Return A_prev and Delta as float arrays with the same m rows, or raise ValueError.

    Their finiteness is left to _check_layer_products.
    """
    A_prev, Delta = _as_real(A_prev, "A_prev"), _as_real(Delta, "Delta")
    if (A_prev.ndim != 2 or Delta.ndim != 2 or A_prev.shape[0] != Delta.shape[0]
            or A_prev.shape[0] == 0 or 0 in A_prev.shape + Delta.shape):
        raise ValueError(f"A_prev and Delta need the same m rows: shapes (m, n_{{l-1}}) and "
                         f"(m, n_l), m, n >= 1, got {A_prev.shape} and {Delta.shape}")
    return A_prev, Delta


def _check_layer_backward(Delta: Array, W: Array, Z_prev: Array, activation: str,
                          ndim: int = 2) -> tuple[Array, Array, Array]:
    """Return Delta, W and Z_prev as float arrays, or raise ValueError.

    ndim = 2 for a batch, Delta (m, n_l) and Z_prev (m, n_{l-1}); 1 for one example.
    """
    _check_activation(activation)
    W = _check_finite(W, "W")
    Delta, Z_prev = _check_finite(Delta, "the error"), _check_finite(Z_prev, "Z_prev")
    if W.ndim != 2:
        raise ValueError(f"W must be a 2-D array (n_{{l-1}}, n_l), got shape {W.shape}")
    if Delta.ndim != ndim or Z_prev.ndim != ndim:
        raise ValueError(f"the error and Z_prev must hold the same examples, as {ndim}-D "
                         f"arrays, got shapes {Delta.shape} and {Z_prev.shape}")
    if Delta.shape[-1] != W.shape[1] or Z_prev.shape[-1] != W.shape[0]:
        raise ValueError(f"W of shape {W.shape} needs an error with {W.shape[1]} "
                         f"columns and Z_prev with {W.shape[0]}, got shapes "
                         f"{Delta.shape} and {Z_prev.shape}")
    if Delta.shape[:-1] != Z_prev.shape[:-1] or Delta.size == 0:
        raise ValueError(f"the error and Z_prev must hold the same examples (m >= 1), "
                         f"got shapes {Delta.shape} and {Z_prev.shape}")
    return Delta, W, Z_prev


def _check_training(lr: float, n_iters: int) -> None:
    if not _is_positive_number(lr):
        raise ValueError(f"the learning rate must be a positive finite number, got {lr!r}")
    if not _is_count(n_iters):
        raise ValueError(f"n_iters must be a positive integer, got {n_iters!r}")


def _check_sizes(sizes: list[int]) -> None:
    if not (isinstance(sizes, (list, tuple)) or np.ndim(sizes) == 1) or len(sizes) < 2 \
            or not all(_is_count(n) for n in sizes):
        raise ValueError(f"sizes must list at least two positive integers "
                         f"(n_0, ..., n_L), got {sizes!r}")
