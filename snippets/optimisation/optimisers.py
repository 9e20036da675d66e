"""The common optimisers: momentum, Nesterov, AdaGrad, RMSProp, Adam and AdamW.

Code for the page docs/optimisation/optimisers.md; each function names the equation of
that page it computes. Needs NumPy only. Every optimiser is one function that takes the
parameters theta, the gradient g (shape of theta) and the optimiser's state, and returns
the new parameters and the new state. All operations on vectors are elementwise.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


# --8<-- [start:sgd]
def sgd_step(theta: np.ndarray, g: np.ndarray, lr: float) -> np.ndarray:
    """Plain (stochastic) gradient descent: eq. (1)."""
    theta, g = _check_vectors(theta, g)
    _check_lr(lr)
    return theta - lr * g
# --8<-- [end:sgd]


# --8<-- [start:momentum]
def momentum_step(theta: np.ndarray, g: np.ndarray, v: np.ndarray, lr: float,
                  beta: float) -> tuple[np.ndarray, np.ndarray]:
    """Heavy-ball momentum; returns theta and the velocity v: eq. (2)."""
    theta, g, v = _check_vectors(theta, g, v)
    _check_lr(lr)
    _check_decay(beta, "beta")
    v = beta * v + g                 # velocity: a decaying sum of past gradients
    return theta - lr * v, v
# --8<-- [end:momentum]


# --8<-- [start:momentum-unrolled]
def unrolled_velocity(grads: np.ndarray, beta: float) -> np.ndarray:
    """Velocity after t steps from v_0 = 0, as one weighted sum: eq. (3).

    grads holds g_1, ..., g_t along axis 0.
    """
    grads = _check_grads(grads)
    _check_decay(beta, "beta")
    t = grads.shape[0]
    weights = beta ** np.arange(t - 1, -1, -1)       # beta^(t-k) for k = 1..t
    return np.tensordot(weights, grads, axes=1)
# --8<-- [end:momentum-unrolled]


# --8<-- [start:nesterov]
def nesterov_step(theta: np.ndarray, grad: Callable[[np.ndarray], np.ndarray],
                  v: np.ndarray, lr: float,
                  beta: float) -> tuple[np.ndarray, np.ndarray]:
    """Nesterov momentum: the gradient is taken at the look-ahead point: eq. (4)."""
    theta, v = _check_vectors(theta, v)
    _check_lr(lr)
    _check_decay(beta, "beta")
    g = _check_vectors(theta, grad(theta - lr * beta * v))[1]   # gradient ahead
    v = beta * v + g
    return theta - lr * v, v
# --8<-- [end:nesterov]


# --8<-- [start:adagrad]
def adagrad_step(theta: np.ndarray, g: np.ndarray, s: np.ndarray, lr: float,
                 eps: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """AdaGrad; s is the sum of all squared gradients so far: eq. (5)."""
    theta, g, s = _check_vectors(theta, g, s)
    _check_lr(lr)
    _check_eps(eps)
    _check_nonnegative(s)
    s = s + g * g
    return theta - lr * g / (np.sqrt(s) + eps), s
# --8<-- [end:adagrad]


# --8<-- [start:rmsprop]
def rmsprop_step(theta: np.ndarray, g: np.ndarray, s: np.ndarray, lr: float,
                 rho: float = 0.9, eps: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """RMSProp; s is a running average of squared gradients: eq. (6)."""
    theta, g, s = _check_vectors(theta, g, s)
    _check_lr(lr)
    _check_decay(rho, "rho")
    _check_eps(eps)
    _check_nonnegative(s)
    s = rho * s + (1.0 - rho) * g * g
    return theta - lr * g / (np.sqrt(s) + eps), s
# --8<-- [end:rmsprop]


# --8<-- [start:ema]
def ema_weights(beta: float, t: int) -> np.ndarray:
    """Weights (1 - beta) beta^(t-k), k = 1..t, of the running average v_t: eq. (7).

    They sum to 1 - beta^t, not to 1: that is the bias Adam corrects.
    """
    _check_decay(beta, "beta")
    _check_t(t)
    return (1.0 - beta) * beta ** np.arange(t - 1, -1, -1)
# --8<-- [end:ema]


# --8<-- [start:adam]
def adam_step(theta: np.ndarray, g: np.ndarray, v: np.ndarray, s: np.ndarray, t: int,
              lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
              eps: float = 1e-8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adam step number t (t = 1 for the first); returns theta, v and s: eq. (8)."""
    theta, g, v, s = _check_vectors(theta, g, v, s)
    _check_lr(lr)
    _check_decay(beta1, "beta1")
    _check_decay(beta2, "beta2")
    _check_eps(eps)
    _check_nonnegative(s)
    _check_t(t)
    v = beta1 * v + (1.0 - beta1) * g            # running mean of gradients
    s = beta2 * s + (1.0 - beta2) * g * g        # running mean of squared gradients
    v_hat = v / (1.0 - beta1**t)                 # bias corrections
    s_hat = s / (1.0 - beta2**t)
    return theta - lr * v_hat / (np.sqrt(s_hat) + eps), v, s
# --8<-- [end:adam]


# --8<-- [start:l2]
def l2_gradient(g: np.ndarray, theta: np.ndarray, weight_decay: float) -> np.ndarray:
    """Gradient of the loss plus the L2 penalty, from the loss gradient g: eq. (9)."""
    theta, g = _check_vectors(theta, g)
    _check_weight_decay(weight_decay)
    return g + weight_decay * theta
# --8<-- [end:l2]


# --8<-- [start:sgd-decay]
def sgd_weight_decay_step(theta: np.ndarray, g: np.ndarray, lr: float,
                          weight_decay: float) -> np.ndarray:
    """Gradient descent with decoupled weight decay: shrink, then step: eq. (10)."""
    theta, g = _check_vectors(theta, g)
    _check_lr(lr)
    _check_weight_decay(weight_decay)
    return (1.0 - lr * weight_decay) * theta - lr * g
# --8<-- [end:sgd-decay]


# --8<-- [start:adamw]
def adamw_step(theta: np.ndarray, g: np.ndarray, v: np.ndarray, s: np.ndarray, t: int,
               lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
               eps: float = 1e-8,
               weight_decay: float = 1e-2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AdamW: Adam's step of eq. (8) plus decoupled weight decay: eq. (11)."""
    theta, g, v, s = _check_vectors(theta, g, v, s)
    _check_weight_decay(weight_decay)
    adam_theta, v, s = adam_step(theta, g, v, s, t, lr, beta1, beta2, eps)
    return adam_theta - lr * weight_decay * theta, v, s
# --8<-- [end:adamw]


# Input checks, kept out of the sections the page shows.


def _check_vectors(theta: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Return theta and the others as finite float arrays of theta's shape, or raise."""
    arrays = [np.asarray(a, dtype=np.float64) for a in (theta, *others)]
    if arrays[0].size == 0:
        raise ValueError(f"theta must be non-empty, got shape {arrays[0].shape}")
    for a in arrays:
        if a.shape != arrays[0].shape:
            raise ValueError(f"gradient and state must have the shape of theta, "
                             f"{arrays[0].shape}, got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError("theta, the gradient and the state must be finite (no inf or nan)")
    return arrays


def _check_lr(lr: float) -> None:
    if not (np.ndim(lr) == 0 and np.isfinite(lr) and lr > 0):
        raise ValueError(f"the learning rate must be a positive finite number, got {lr!r}")


def _check_decay(beta: float, name: str) -> None:
    if not (np.ndim(beta) == 0 and 0.0 <= beta < 1.0):
        raise ValueError(f"{name} must be a number in [0, 1), got {beta!r}")


def _check_eps(eps: float) -> None:
    if not (np.ndim(eps) == 0 and np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a positive finite number, got {eps!r}")


def _check_nonnegative(s: np.ndarray) -> None:
    if np.any(s < 0):
        raise ValueError("the running sum of squared gradients s must be >= 0")


def _check_t(t: int) -> None:
    if not (isinstance(t, (int, np.integer)) and t >= 1):
        raise ValueError(f"the step counter t must be an integer >= 1, got {t!r}")


def _check_weight_decay(weight_decay: float) -> None:
    if not (np.ndim(weight_decay) == 0 and np.isfinite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")


def _check_grads(grads: np.ndarray) -> np.ndarray:
    grads = np.asarray(grads, dtype=np.float64)
    if grads.ndim < 1 or grads.shape[0] == 0:
        raise ValueError(f"grads must hold one gradient per step along axis 0, got {grads.shape}")
    if not np.all(np.isfinite(grads)):
        raise ValueError("grads must be finite (no inf or nan)")
    return grads
