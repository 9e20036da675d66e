"""The conventions of the notation page, as code.

Code for the page docs/notation.md: the data-set loss as a mean, a layer in the row
convention, and how a gradient travels back through a Jacobian. Needs NumPy only.
"""

from __future__ import annotations

import numpy as np


# --8<-- [start:mean]
def dataset_loss(losses: np.ndarray) -> float:
    """The data-set loss as the mean of the m per-example losses: eq. (1)."""
    losses = _check_losses(losses)
    return float(np.mean(losses))
# --8<-- [end:mean]


# --8<-- [start:layer]
def layer(A: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pre-activations of one layer for a batch, examples as rows: eq. (2)."""
    A, W, b = _check_layer(A, W, b)
    return A @ W + b  # (m, n_in) @ (n_in, n_out) -> (m, n_out); b is added to every row
# --8<-- [end:layer]


# --8<-- [start:backward]
def backward_through_jacobian(J: np.ndarray, grad_y: np.ndarray) -> np.ndarray:
    """Gradient in x from the gradient in y = f(x) and the Jacobian J: eq. (3)."""
    J, grad_y = _check_backward(J, grad_y)
    return J.T @ grad_y  # (dim x, dim y) @ (dim y,) -> (dim x,), the shape of x
# --8<-- [end:backward]


# Input checks, kept out of the sections the page shows.


def _check_matrix(A: np.ndarray, name: str) -> np.ndarray:
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {A.shape}")
    return A


def _check_losses(losses: np.ndarray) -> np.ndarray:
    losses = np.asarray(losses, dtype=np.float64)
    if losses.ndim != 1 or losses.size == 0:
        raise ValueError(f"losses must be a non-empty 1-D array of shape (m,), got {losses.shape}")
    return losses


def _check_layer(A: np.ndarray, W: np.ndarray, b: np.ndarray):
    A, W = _check_matrix(A, "A"), _check_matrix(W, "W")
    b = np.asarray(b, dtype=np.float64)
    if A.shape[1] != W.shape[0]:
        raise ValueError(f"A has {A.shape[1]} columns but W has {W.shape[0]} rows; "
                         "W must have shape (n_in, n_out)")
    if b.shape != (W.shape[1],):
        raise ValueError(f"b must have shape ({W.shape[1]},), got {b.shape}")
    return A, W, b


def _check_backward(J: np.ndarray, grad_y: np.ndarray):
    J, grad_y = _check_matrix(J, "J"), np.asarray(grad_y, dtype=np.float64)
    if grad_y.shape != (J.shape[0],):
        raise ValueError(f"grad_y must have shape ({J.shape[0]},) = (dim y,), got {grad_y.shape}")
    return J, grad_y
