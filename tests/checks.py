"""Tolerances and the gradient assertion shared by the snippet tests.

The finite-difference checker itself is the one the site shows, in
snippets/foundations/gradient_checking.py: the tests use what readers read.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from snippets.foundations.gradient_checking import check_gradient

#: Relative error allowed between an analytic gradient and central differences (h = 1e-5,
#: float64). On the well-scaled problems of the tests the measured error is 1e-11 to 1e-9;
#: 1e-7 leaves room for round-off in sums over many examples and still flags a gradient
#: that is wrong by a factor, a sign, or even by 0.001 %.
GRAD_RTOL = 1e-7

#: Relative tolerance between two exact formulas for the same quantity (a loop against its
#: vectorised form, one derivation step against the next): they differ only by the rounding
#: of a different order of float64 operations, a few units of 2.2e-16 per operation.
EXACT_RTOL = 1e-12

#: Absolute floor for the same comparisons when a true value is 0 and rounding leaves ~1e-16.
EXACT_ATOL = 1e-12


def assert_gradient(f: Callable[[np.ndarray], float], grad: np.ndarray, x: np.ndarray,
                    rng: np.random.Generator | None = None) -> None:
    """Assert that grad is the gradient of the scalar function f at x."""
    assert np.shape(grad) == np.shape(x), f"gradient shape {np.shape(grad)} != {np.shape(x)}"
    err = check_gradient(f, grad, x, rng=rng)
    assert err < GRAD_RTOL, f"relative error {err:.3e} >= {GRAD_RTOL:.0e}"


#: Where a bad value is put in an input: its first, a middle and its last entry.
POSITIONS = ("first", "middle", "last")

#: The values that are not finite.
NON_FINITE = (np.nan, np.inf, -np.inf)


def with_value_at(a: np.ndarray, position: str, value: float) -> np.ndarray:
    """A copy of a with value at its first, middle or last entry (in row-major order)."""
    a = np.array(a, dtype=np.float64)
    a.flat[{"first": 0, "middle": a.size // 2, "last": a.size - 1}[position]] = value
    return a


class FiniteScans:
    """Records the shape of every array a snippet module passes to np.isfinite.

    Installed as the module's `np` (monkeypatch.setattr(module, "np", FiniteScans())), it
    forwards every other name to NumPy, so the module computes exactly as before.
    """

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def __getattr__(self, name: str):
        return getattr(np, name)

    def isfinite(self, a, *args, **kwargs):
        self.shapes.append(np.shape(a))
        return np.isfinite(a, *args, **kwargs)
