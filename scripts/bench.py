"""What the input checks of the snippets cost in a training loop: `make bench`.

For each model chapter's gradient and the MLP's backward pass, at three sizes m x n, prints
the time of one call of the snippet (checked), of the same arithmetic written here without
any check (bare), and their ratio. Each time is the best of several rounds, the two
interleaved, so that a busy machine slows both alike. Not a test: timings vary by machine.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from snippets.models import linear_regression as linreg
from snippets.models import logistic_regression as logreg
from snippets.models import softmax_regression as softreg
from snippets.networks import backpropagation as backprop

SIZES = [(64, 10), (1_000, 100), (10_000, 1_000)]
C = 10          # classes of the softmax models
HIDDEN = 32     # units of the MLP's hidden layer: sizes (n, HIDDEN, C)


# --- the same arithmetic as each snippet, without checks ---------------------------------


def bare_linear(X, y, w, b):
    m = X.shape[0]
    r = X @ w + b - y
    return (2.0 / m) * (X.T @ r), float((2.0 / m) * np.sum(r))


def bare_logistic(X, y, w, b):
    m = X.shape[0]
    z = X @ w + b
    e = np.exp(-np.abs(z))
    a = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return (X.T @ (a - y)) / m, float(np.sum(a - y) / m)


def _softmax(Z):
    E = np.exp(Z - np.max(Z, axis=-1, keepdims=True))
    return E / np.sum(E, axis=-1, keepdims=True)


def bare_softmax(X, y, W, b):
    m = X.shape[0]
    Y_hat = _softmax(X @ W + b)
    Y = np.eye(W.shape[1])[y]
    return X.T @ (Y_hat - Y) / m, (Y_hat - Y).T @ np.ones(m) / m


def bare_backward(X, y, params, activation="relu", output="softmax"):
    g, g_prime = lambda z: np.maximum(z, 0.0), lambda z: np.where(z > 0, 1.0, 0.0)
    Z, A = [None], [X]
    for layer, (W, b) in enumerate(params, start=1):
        Z.append(A[-1] @ W + b)
        A.append(g(Z[-1]) if layer < len(params) else _softmax(Z[-1]))
    m = X.shape[0]
    Delta = (_softmax(Z[-1]) - np.eye(params[-1][0].shape[1])[y]) / m   # as output_error
    grads = [None] * len(params)
    for layer in range(len(params), 0, -1):
        grads[layer - 1] = (A[layer - 1].T @ Delta, Delta.T @ np.ones(m))
        if layer > 1:
            Delta = (Delta @ params[layer - 1][0].T) * g_prime(Z[layer - 1])
    return grads


# --- problems and timing -----------------------------------------------------------------


def problems(m: int, n: int, rng: np.random.Generator) -> list[tuple[str, Callable, Callable, tuple]]:
    X = rng.normal(size=(m, n))
    labels = rng.integers(0, C, size=m)
    w, b = rng.normal(size=n) / np.sqrt(n), 0.1
    W, bC = rng.normal(size=(n, C)) / np.sqrt(n), np.zeros(C)
    params = backprop.init_params([n, HIDDEN, C], rng)
    return [
        ("linear regression gradient", linreg.gradient, bare_linear,
         (X, rng.normal(size=m), w, b)),
        ("logistic regression gradient", logreg.gradient, bare_logistic,
         (X, (labels % 2).astype(np.float64), w, b)),
        ("softmax regression gradient", softreg.gradient, bare_softmax, (X, labels, W, bC)),
        ("MLP backward pass", backprop.backward, bare_backward, (X, labels, params)),
    ]


def flat(result) -> list:
    """The arrays and numbers of a result, nested tuples and lists unpacked."""
    if isinstance(result, (tuple, list)):
        return [x for item in result for x in flat(item)]
    return [result]


def per_call(f: Callable, args: tuple, seconds: float) -> float:
    """Seconds per call, timing enough calls to fill about `seconds`."""
    calls, start = 0, time.perf_counter()
    while True:
        f(*args)
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds per timing (best kept)")
    parser.add_argument("--seconds", type=float, default=0.2, help="seconds per round")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'':30} {'m x n':>13} {'checked':>11} {'bare':>11} {'ratio':>6}")
    for m, n in SIZES:
        for name, checked, bare, inputs in problems(m, n, rng):
            for a, b_ in zip(flat(checked(*inputs)), flat(bare(*inputs)), strict=True):
                np.testing.assert_allclose(a, b_, rtol=1e-10, err_msg=name)
            t_checked, t_bare = np.inf, np.inf
            for _ in range(args.rounds):
                t_checked = min(t_checked, per_call(checked, inputs, args.seconds))
                t_bare = min(t_bare, per_call(bare, inputs, args.seconds))
            print(f"{name:30} {f'{m} x {n}':>13} {t_checked * 1e6:9.0f} us "
                  f"{t_bare * 1e6:8.0f} us {t_checked / t_bare:6.2f}")


if __name__ == "__main__":
    main()
