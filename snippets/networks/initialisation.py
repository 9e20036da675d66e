"""Initialisation: symmetry, the variance of a layer, Xavier and He, convex and non-convex.

Code for the page docs/networks/initialisation.md; each function names the equation of
that page it computes. It holds a compact network with one hidden layer and a softmax
output (the backpropagation page has the general one), repeated so that this file runs on
its own. Needs NumPy only.
"""

from __future__ import annotations

import math

import numpy as np

Array = np.ndarray
Params = list[tuple[np.ndarray, np.ndarray]]

#: Hidden activations of the compact network: name -> (g, g').
HIDDEN = {
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "sigmoid": (lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)),          # = 1 / (1 + e^-z)
                lambda z: 0.25 * (1.0 - np.tanh(0.5 * z) ** 2)),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: np.where(z > 0, 1.0, 0.0)),
    "identity": (lambda z: z, lambda z: np.ones_like(z)),
}


# --8<-- [start:network]
def forward(X: Array, params: Params, activation: str = "tanh") -> tuple[Array, ...]:
    """Z1, A1 (m, n_1), Z2 and Y_hat (m, C) of the two-layer network of eq. (1)."""
    X, params = _check_net(X, params, activation)
    (W1, b1), (W2, b2) = params
    g, _ = HIDDEN[activation]
    Z1 = X @ W1 + b1
    A1 = g(Z1)
    Z2 = A1 @ W2 + b2
    E = np.exp(Z2 - Z2.max(axis=1, keepdims=True))     # stable softmax
    return Z1, A1, Z2, E / E.sum(axis=1, keepdims=True)


def loss(X: Array, y: Array, params: Params, activation: str = "tanh") -> float:
    """Mean cross-entropy of the network of eq. (1), through log-sum-exp."""
    X, y, params = _check_data(X, y, params, activation)
    _, _, Z2, _ = forward(X, params, activation)
    top = np.argmax(Z2, axis=1)[:, None]
    M = np.take_along_axis(Z2, top, axis=1)[:, 0]       # one largest logit per row
    rest = np.sum(np.exp(Z2 - M[:, None]), axis=1, where=np.arange(Z2.shape[1]) != top)
    return float(np.mean((M - Z2[np.arange(len(y)), y]) + np.log1p(rest)))


def gradients(X: Array, y: Array, params: Params, activation: str = "tanh") -> Params:
    """[(dW1, db1), (dW2, db2)] by the backward pass of eq. (1)."""
    X, y, params = _check_data(X, y, params, activation)
    (W1, b1), (W2, b2) = params
    _, g_prime = HIDDEN[activation]
    Z1, A1, _, Y_hat = forward(X, params, activation)
    m, C = Y_hat.shape
    Delta2 = (Y_hat - np.eye(C)[y]) / m        # the 1/m of the mean is in Delta
    Delta1 = (Delta2 @ W2.T) * g_prime(Z1)
    return [(X.T @ Delta1, Delta1.sum(axis=0)), (A1.T @ Delta2, Delta2.sum(axis=0))]


def train(X: Array, y: Array, params: Params, activation: str = "tanh",
          lr: float = 0.5, n_iters: int = 500) -> tuple[Params, np.ndarray]:
    """Gradient descent with the gradients of eq. (1); returns params and the losses."""
    _check_training(lr, n_iters)
    losses = np.empty(n_iters)
    for t in range(n_iters):
        losses[t] = loss(X, y, params, activation)
        grads = gradients(X, y, params, activation)
        params = [(W - lr * dW, b - lr * db)
                  for (W, b), (dW, db) in zip(params, grads, strict=True)]
    return params, losses
# --8<-- [end:network]


# --8<-- [start:symmetry]
def constant_params(n: int, n_1: int, C: int, value: float = 0.0) -> Params:
    """Every weight and bias set to one value, the starting point of eq. (2)."""
    for size, name in ((n, "n"), (n_1, "n_1"), (C, "C")):
        _check_size(size, name)
    _check_number(value, "value")
    return [(np.full((n, n_1), value), np.full(n_1, value)),
            (np.full((n_1, C), value), np.full(C, value))]


def hidden_units_identical(params: Params, tol: float = 0.0) -> bool:
    """Whether all hidden units have the same weights, as eq. (2) says they keep."""
    (W1, b1), (W2, _) = _check_symmetry(params, tol)
    same_in = np.ptp(W1, axis=1).max(initial=0.0) <= tol    # columns of W1 equal
    same_bias = np.ptp(b1) <= tol
    same_out = np.ptp(W2, axis=0).max(initial=0.0) <= tol   # rows of W2 equal
    return bool(same_in and same_bias and same_out)
# --8<-- [end:symmetry]


# --8<-- [start:variance]
def preactivation_variance(n_in: int, var_W: float, mean_square_a: float) -> float:
    """Variance of one pre-activation z_k of a layer: eq. (3)."""
    _check_variance(n_in, var_W, mean_square_a)
    return n_in * var_W * mean_square_a


def layer_stds(X: Array, Ws: list[Array], activation: str = "tanh") -> np.ndarray:
    """Standard deviation of Z^(l) at each layer of a bias-free network: eq. (3)."""
    _check_stack(X, Ws, activation)
    g, _ = HIDDEN[activation]
    A, stds = np.asarray(X, dtype=np.float64), []
    for W in Ws:
        Z = A @ W
        stds.append(Z.std())
        A = g(Z)
    return np.array(stds)
# --8<-- [end:variance]


# --8<-- [start:xavier]
def xavier_init(n_in: int, n_out: int, rng: np.random.Generator,
                uniform: bool = False) -> Array:
    """Weights (n_in, n_out) of variance 2 / (n_in + n_out): eq. (4)."""
    _check_size(n_in, "n_in")
    _check_size(n_out, "n_out")
    _check_flag(uniform, "uniform")
    if uniform:
        r = math.sqrt(6.0 / (n_in + n_out))             # U(-r, r) has variance r^2 / 3
        return rng.uniform(-r, r, size=(n_in, n_out))
    return rng.normal(0.0, math.sqrt(2.0 / (n_in + n_out)), size=(n_in, n_out))
# --8<-- [end:xavier]


# --8<-- [start:he]
def he_init(n_in: int, n_out: int, rng: np.random.Generator) -> Array:
    """Weights (n_in, n_out) of variance 2 / n_in, for ReLU layers: eq. (5)."""
    _check_size(n_in, "n_in")
    _check_size(n_out, "n_out")
    return rng.normal(0.0, math.sqrt(2.0 / n_in), size=(n_in, n_out))
# --8<-- [end:he]


# --8<-- [start:hessian]
def logistic_hessian(X: Array, y: Array, w: Array, b: float) -> Array:
    """Hessian of logistic regression's loss in (w, b), shape (n+1, n+1): eq. (6)."""
    X, y, w, b = _check_logistic(X, y, w, b)
    X1 = np.column_stack([X, np.ones(len(X))])          # [X 1]: the bias as a weight
    a = 0.5 * (1.0 + np.tanh(0.5 * (X @ w + b)))        # sigmoid, without overflow
    return X1.T @ (X1 * (a * (1.0 - a))[:, None]) / len(X)


def train_logistic(X: Array, y: Array, w: Array, b: float, lr: float = 0.5,
                   n_iters: int = 500) -> tuple[Array, float]:
    """Gradient descent for logistic regression, whose loss is convex by eq. (6)."""
    X, y, w, b = _check_logistic(X, y, w, b)
    _check_training(lr, n_iters)
    for _ in range(n_iters):
        a = 0.5 * (1.0 + np.tanh(0.5 * (X @ w + b)))
        w, b = w - lr * X.T @ (a - y) / len(y), b - lr * float(np.mean(a - y))
    return w, b
# --8<-- [end:hessian]


# --8<-- [start:swap]
def swap_hidden_units(params: Params, j: int, k: int) -> Params:
    """The same network with hidden units j and k exchanged, as in eq. (7)."""
    params = _check_units(params, j, k)
    (W1, b1), (W2, b2) = params
    order = np.arange(W1.shape[1])
    order[[j, k]] = order[[k, j]]
    return [(W1[:, order], b1[order]), (W2[order, :], b2.copy())]


def midpoint(params: Params, other: Params) -> Params:
    """The parameters halfway between two networks, the left side of eq. (7)."""
    params, other = _check_same_networks(params, other)
    return [(0.5 * (W + V), 0.5 * (b + c))
            for (W, b), (V, c) in zip(params, other, strict=True)]
# --8<-- [end:swap]


# Input checks, kept out of the sections the page shows.


def _as_real(v: Array, name: str) -> Array:
    """Return v as a float array, or raise ValueError if it does not hold real numbers."""
    try:
        v = np.asarray(v)
    except ValueError:            # a ragged nested list
        raise ValueError(f"{name} must be a rectangular array of numbers") from None
    if v.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be an array of real numbers, got dtype {v.dtype}")
    return v.astype(np.float64)


def _is_real_number(value: object) -> bool:
    """Whether value is one finite real number (not an array, a bool or a string)."""
    return (not isinstance(value, (list, tuple, bool, np.bool_, str, bytes))
            and np.ndim(value) == 0
            and np.asarray(value).dtype.kind in "iuf" and bool(np.isfinite(value)))


def _check_number(value: float, name: str, minimum: float = -np.inf) -> float:
    if not (_is_real_number(value) and value >= minimum):
        at_least = "" if minimum == -np.inf else f" >= {minimum:g}"
        raise ValueError(f"{name} must be one finite number{at_least}, got {value!r:.60}")
    return float(value)


def _check_activation(name: str) -> None:
    if not isinstance(name, str) or name not in HIDDEN:
        raise ValueError(f"activation must be one of {sorted(HIDDEN)}, got {name!r}")


def _check_params(params: Params) -> Params:
    """Return [(W1, b1), (W2, b2)] as finite float arrays that fit together, or raise."""
    if not (isinstance(params, (list, tuple)) and len(params) == 2
            and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in params)):
        raise ValueError(f"params must be [(W1, b1), (W2, b2)], got {params!r:.60}")
    (W1, b1), (W2, b2) = ((_as_real(W, f"W{l_}"), _as_real(b, f"b{l_}"))
                          for l_, (W, b) in enumerate(params, start=1))
    if W1.ndim != 2 or W2.ndim != 2 or 0 in W1.shape + W2.shape \
            or W1.shape[1] != W2.shape[0] or b1.shape != (W1.shape[1],) \
            or b2.shape != (W2.shape[1],):
        raise ValueError(f"layer shapes do not fit: need W1 (n, n_1), b1 (n_1,), W2 (n_1, C) "
                         f"and b2 (C,) with n, n_1, C >= 1, got W1 {W1.shape}, b1 {b1.shape}, "
                         f"W2 {W2.shape}, b2 {b2.shape}")
    if not all(np.all(np.isfinite(v)) for v in (W1, b1, W2, b2)):
        raise ValueError("the weights and biases must be finite (no inf or nan)")
    return [(W1, b1), (W2, b2)]


def _check_net(X: Array, params: Params, activation: str) -> tuple[Array, Params]:
    """Return X (m, n) as floats and the two layers, after checking the activation."""
    _check_activation(activation)
    params = _check_params(params)
    n = params[0][0].shape[0]
    X = _as_real(X, "X")
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] != n:
        raise ValueError(f"X must have shape (m, {n}) with m >= 1, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X must be finite (no inf or nan)")
    return X, params


def _check_data(X: Array, y: Array, params: Params,
                activation: str) -> tuple[Array, Array, Params]:
    """Return X (m, n), y (m,) of class indices and the two layers, or raise."""
    X, params = _check_net(X, params, activation)
    y, C = _as_real(y, "y"), params[1][0].shape[1]
    if y.shape != (X.shape[0],) or not np.all(np.isin(y, np.arange(C))):
        raise ValueError(f"y must hold {X.shape[0]} class indices in 0..{C - 1}, got shape "
                         f"{y.shape}: {np.ravel(y)[:5]}")
    return X, y.astype(int), params


def _check_size(n: int, name: str) -> None:
    if not (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1):
        raise ValueError(f"{name} must be a positive integer, got {n!r}")


def _check_training(lr: float, n_iters: int) -> None:
    if not (_is_real_number(lr) and lr > 0):
        raise ValueError(f"the learning rate must be a positive finite number, got {lr!r}")
    _check_size(n_iters, "n_iters")


def _check_symmetry(params: Params, tol: float) -> Params:
    _check_number(tol, "tol", minimum=0.0)
    return _check_params(params)


def _check_variance(n_in: int, var_W: float, mean_square_a: float) -> None:
    _check_size(n_in, "n_in")
    _check_number(var_W, "var_W", minimum=0.0)
    _check_number(mean_square_a, "mean_square_a", minimum=0.0)


def _check_stack(X: Array, Ws: list[Array], activation: str) -> None:
    """Check X (m, n_0), m >= 1, and weights W1 (n_0, n_1), W2 (n_1, n_2), ..., or raise."""
    _check_activation(activation)
    X = _as_real(X, "X")
    if X.ndim != 2 or X.shape[0] == 0 or not np.all(np.isfinite(X)):
        raise ValueError(f"X must be a finite 2-D array (m, n_0) with m >= 1, got shape "
                         f"{X.shape}")
    if not isinstance(Ws, (list, tuple)) or len(Ws) == 0:
        raise ValueError(f"Ws must be a non-empty list of weight matrices, got {Ws!r:.60}")
    n_prev = X.shape[1]
    for l_, W in enumerate(Ws, start=1):
        W = _as_real(W, f"W{l_}")
        if W.ndim != 2 or W.shape[0] != n_prev or W.shape[1] == 0 \
                or not np.all(np.isfinite(W)):
            raise ValueError(f"W{l_} must be a finite 2-D array ({n_prev}, n_{l_}) with "
                             f"n_{l_} >= 1, got shape {W.shape}")
        n_prev = W.shape[1]


def _check_flag(value: bool, name: str) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r:.60}")


def _check_units(params: Params, j: int, k: int) -> Params:
    params = _check_params(params)
    n1 = params[0][0].shape[1]
    if not all(isinstance(u, (int, np.integer)) and not isinstance(u, bool) and 0 <= u < n1
               for u in (j, k)):
        raise ValueError(f"hidden units must be in 0..{n1 - 1} (integers), got {j!r} and {k!r}")
    return params


def _check_same_networks(params: Params, other: Params) -> tuple[Params, Params]:
    params, other = _check_params(params), _check_params(other)
    shapes = [[v.shape for v in layer] for layer in params]
    if shapes != [[v.shape for v in layer] for layer in other]:
        raise ValueError(f"params and other must have the same shapes, got {shapes} and "
                         f"{[[v.shape for v in layer] for layer in other]}")
    return params, other


def _check_logistic(X: Array, y: Array, w: Array,
                    b: float) -> tuple[Array, Array, Array, float]:
    X, y, w = _as_real(X, "X"), _as_real(y, "y"), _as_real(w, "w")
    if X.ndim != 2 or X.shape[0] == 0 or w.shape != (X.shape[1],) or y.shape != (X.shape[0],):
        raise ValueError(f"need X (m, n), y (m,) and w (n,), got shapes {X.shape}, "
                         f"{y.shape} and {w.shape}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(w))):
        raise ValueError("X and w must be finite (no inf or nan)")
    if not np.all(np.isin(y, (0.0, 1.0))):
        raise ValueError(f"labels must be 0 or 1, got {y[~np.isin(y, (0.0, 1.0))][:5]}")
    return X, y, w, _check_number(b, "b")
