"""Learning-rate schedules: step decay, exponential decay, cosine annealing, linear warm-up.

Code for the page docs/optimisation/schedules.md; each function names the equation of that
page it computes. Needs NumPy only. Every schedule takes the step counter t = 0, 1, 2, ...
(the number of updates already made; an int or an array of them) and returns the learning
rate of the next update, as an array of t's shape.
"""

from __future__ import annotations

import numpy as np


def _check_t(t: np.ndarray, last: int | None = None) -> np.ndarray:
    t = np.asarray(t)
    if not np.issubdtype(t.dtype, np.integer) or np.any(t < 0):
        raise ValueError(f"the step t must be an integer >= 0 (or an array of them), got {t!r}")
    if last is not None and np.any(t > last):
        raise ValueError(f"the step t must be <= the number of steps {last}, got max {t.max()}")
    return t


def _check_lr(lr: float, name: str = "lr_max") -> float:
    if not (np.ndim(lr) == 0 and np.isfinite(lr) and lr > 0):
        raise ValueError(f"{name} must be a positive finite number, got {lr!r}")
    return float(lr)


def _check_gamma(gamma: float) -> float:
    if not (np.ndim(gamma) == 0 and 0 < gamma <= 1):
        raise ValueError(f"gamma must be a number in (0, 1], got {gamma!r}")
    return float(gamma)


def _check_steps(n: int, name: str) -> int:
    if not (isinstance(n, (int, np.integer)) and n >= 1):
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return int(n)


def _check_floor(lr_min: float, lr_max: float) -> float:
    if not (np.ndim(lr_min) == 0 and 0 <= lr_min <= lr_max):
        raise ValueError(f"lr_min must be a number in [0, lr_max] = [0, {lr_max}], got {lr_min!r}")
    return float(lr_min)


# --8<-- [start:step-decay]
def step_decay(t: np.ndarray, lr_max: float, gamma: float,
               step_size: int) -> np.ndarray:
    """lr_max, multiplied by gamma once every step_size updates: eq. (1)."""
    t = _check_t(t)
    lr_max, gamma = _check_lr(lr_max), _check_gamma(gamma)
    step_size = _check_steps(step_size, "step_size")
    return lr_max * gamma ** (t // step_size)     # // is the floor of t / step_size
# --8<-- [end:step-decay]


# --8<-- [start:exponential]
def exponential_decay(t: np.ndarray, lr_max: float, gamma: float) -> np.ndarray:
    """lr_max, multiplied by gamma at every update: eq. (2)."""
    t = _check_t(t)
    lr_max, gamma = _check_lr(lr_max), _check_gamma(gamma)
    return lr_max * gamma ** t.astype(np.float64)
# --8<-- [end:exponential]


# --8<-- [start:cosine]
def cosine_annealing(t: np.ndarray, lr_max: float, lr_min: float,
                     n_steps: int) -> np.ndarray:
    """From lr_max at t = 0 down to lr_min at t = n_steps, half a cosine: eq. (3)."""
    n_steps = _check_steps(n_steps, "n_steps")
    t = _check_t(t, last=n_steps)
    lr_max = _check_lr(lr_max)
    lr_min = _check_floor(lr_min, lr_max)
    return lr_min + 0.5 * (lr_max - lr_min) * (1.0 + np.cos(np.pi * t / n_steps))
# --8<-- [end:cosine]


# --8<-- [start:warmup]
def linear_warmup(t: np.ndarray, lr_max: float, warmup_steps: int) -> np.ndarray:
    """Rise in equal steps to lr_max over the first warmup_steps updates, then stay:
    eq. (4)."""
    t = _check_t(t)
    lr_max = _check_lr(lr_max)
    warmup_steps = _check_steps(warmup_steps, "warmup_steps")
    return lr_max * np.minimum(1.0, (t + 1) / warmup_steps)
# --8<-- [end:warmup]


# --8<-- [start:warmup-cosine]
def warmup_cosine(t: np.ndarray, lr_max: float, lr_min: float, warmup_steps: int,
                  n_steps: int) -> np.ndarray:
    """Linear warm-up, then cosine annealing over the remaining updates: eq. (5)."""
    warmup_steps = _check_steps(warmup_steps, "warmup_steps")
    n_steps = _check_steps(n_steps, "n_steps")
    t = _check_t(t, last=n_steps)
    _check_steps(n_steps - warmup_steps, "n_steps - warmup_steps")
    rising = linear_warmup(t, lr_max, warmup_steps)
    after = np.maximum(t - warmup_steps, 0)          # steps since the warm-up ended
    falling = cosine_annealing(after, lr_max, lr_min, n_steps - warmup_steps)
    return np.where(t < warmup_steps, rising, falling)
# --8<-- [end:warmup-cosine]
