"""Softmax losses of one row of logits in 420-digit decimal arithmetic.

The reference for the large-margin tests of the loss catalog: it computes each loss as first
written (the softmax, then its log), with no stable form, no log1p and no float64 anywhere,
and its gradient by central differences. At a margin of 800, 1 - p_y is about 1e-348: the
numbers need more than 348 digits to hold it beside 1, and 420 leave over 70 to spare.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal, localcontext

import numpy as np

#: Significant digits of every decimal operation here.
DIGITS = 420

#: Step of the central differences: the truncation error, about STEP**2 times a modest
#: factor, is near 1e-40 relative; the rounding error, about 10**-70 / STEP, near 1e-50.
STEP = Decimal("1e-20")

Loss = Callable[[list[Decimal]], Decimal]


def log_softmax(z: Sequence[Decimal]) -> list[Decimal]:
    """log p_k = z_k - log(sum_j e^{z_j}), as first written."""
    total = sum(v.exp() for v in z)
    return [v - total.ln() for v in z]


def binary_cross_entropy(y: float) -> Loss:
    """-[y log p + (1 - y) log(1 - p)] with p = 1 / (1 + e^-z), of a row of one logit."""
    def loss(z: list[Decimal]) -> Decimal:
        p = 1 / (1 + (-z[0]).exp())
        target = Decimal(float(y))
        return -(target * p.ln() + (1 - target) * (1 - p).ln())
    return loss


def log_cosh(y: float) -> Loss:
    """log((e^r + e^-r) / 2) with r = y_hat - y, of a row of one prediction y_hat."""
    def loss(y_hat: list[Decimal]) -> Decimal:
        r = y_hat[0] - Decimal(float(y))
        return ((r.exp() + (-r).exp()) / 2).ln()
    return loss


def cross_entropy(y: int) -> Loss:
    return lambda z: -log_softmax(z)[y]


def kl_divergence(p: Sequence[float]) -> Loss:
    """KL(p || softmax(z)), with 0 log 0 = 0."""
    def loss(z: list[Decimal]) -> Decimal:
        target = [Decimal(float(pk)) for pk in p]
        return sum(pk * (pk.ln() - lk) for pk, lk in zip(target, log_softmax(z), strict=True)
                   if pk > 0)
    return loss


def label_smoothing(y: int, epsilon: float) -> Loss:
    def loss(z: list[Decimal]) -> Decimal:
        C, eps = len(z), Decimal(epsilon)
        q = [(1 - eps) * (k == y) + eps / C for k in range(C)]
        return -sum(qk * lk for qk, lk in zip(q, log_softmax(z), strict=True))
    return loss


def multiclass_focal(y: int, gamma: float) -> Loss:
    def loss(z: list[Decimal]) -> Decimal:
        log_py = log_softmax(z)[y]
        return -((1 - log_py.exp()) ** Decimal(gamma)) * log_py
    return loss


def log_softmax_floats(z_row: Sequence[float]) -> np.ndarray:
    """log_softmax of one row of floats, rounded to float64."""
    with localcontext() as ctx:
        ctx.prec = DIGITS
        return np.array([float(v) for v in log_softmax([Decimal(float(v)) for v in z_row])])


def value_and_gradient(loss: Loss, z_row: Sequence[float]) -> tuple[float, np.ndarray]:
    """The loss at z_row and its gradient by central differences, rounded to float64."""
    with localcontext() as ctx:
        ctx.prec = DIGITS
        z = [Decimal(float(v)) for v in z_row]       # exact: a float is a finite decimal
        grad = []
        for k in range(len(z)):
            up = [v + STEP * (j == k) for j, v in enumerate(z)]
            down = [v - STEP * (j == k) for j, v in enumerate(z)]
            grad.append((loss(up) - loss(down)) / (2 * STEP))
        return float(loss(z)), np.array([float(g) for g in grad])
