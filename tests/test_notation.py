"""Tests for snippets/notation.py (page docs/notation.md)."""

from __future__ import annotations

import numpy as np
import pytest

from snippets.notation import backward_through_jacobian, dataset_loss, layer

from checks import EXACT_ATOL, EXACT_RTOL, assert_gradient
from formulas import Case, formula_test


def test_dataset_loss_is_the_mean_hand_computed():
    assert dataset_loss([1.0, 2.0, 6.0]) == pytest.approx(3.0, rel=EXACT_RTOL)


@pytest.mark.parametrize("m", [1, 5])
def test_dataset_loss_does_not_grow_with_m(m):
    # Repeating the same examples leaves a mean unchanged (a sum would grow with m).
    assert dataset_loss(np.full(m, 0.25)) == pytest.approx(0.25, rel=EXACT_RTOL)


def test_layer_hand_computed():
    A = np.array([[1.0, 2.0]])                 # one example, two inputs
    W = np.array([[1.0, 0.0, -1.0],            # two inputs, three outputs
                  [0.5, 1.0, 2.0]])
    b = np.array([0.0, 1.0, 10.0])
    np.testing.assert_array_equal(layer(A, W, b), [[2.0, 3.0, 13.0]])


@pytest.mark.parametrize("m,n_in,n_out", [(1, 1, 1), (4, 3, 2), (7, 1, 5)])
def test_layer_rows_are_the_column_convention_transposed(rng, m, n_in, n_out):
    """Row i of A W + 1 b^T is (W^T a_i + b)^T: the transposed layout of W a + b."""
    A = rng.standard_normal((m, n_in))
    W = rng.standard_normal((n_in, n_out))
    b = rng.standard_normal(n_out)
    Z = layer(A, W, b)
    assert Z.shape == (m, n_out)
    for i in range(m):
        np.testing.assert_allclose(Z[i], W.T @ A[i] + b, rtol=EXACT_RTOL, atol=EXACT_ATOL)


@pytest.mark.parametrize("n_x,n_y", [(1, 1), (3, 2), (2, 5)])
def test_backward_through_jacobian_is_the_gradient(rng, n_x, n_y):
    """For L(x) = g . f(x) with f(x) = tanh(B x), grad_x L = J^T g with J of shape (n_y, n_x)."""
    B = rng.standard_normal((n_y, n_x))
    g = rng.standard_normal(n_y)                        # gradient of L with respect to y
    x = rng.standard_normal(n_x)
    J = (1 - np.tanh(B @ x) ** 2)[:, None] * B          # dy_k / dx_j, shape (n_y, n_x)
    grad_x = backward_through_jacobian(J, g)
    assert grad_x.shape == x.shape
    assert_gradient(lambda v: float(g @ np.tanh(B @ v)), grad_x, x)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: dataset_loss([]), r"non-empty 1-D array"),
        (lambda: dataset_loss([[1.0]]), r"non-empty 1-D array.*\(1, 1\)"),
        (lambda: layer(np.ones(3), np.ones((3, 2)), np.ones(2)), r"A must be a 2-D array"),
        (lambda: layer(np.ones((1, 3)), np.ones((2, 3)), np.ones(3)), r"3 columns but W has 2 rows"),
        (lambda: layer(np.ones((1, 3)), np.ones((3, 2)), np.ones(3)), r"b must have shape \(2,\)"),
        (lambda: backward_through_jacobian(np.ones((2, 3)), np.ones(3)), r"grad_y must have shape \(2,\)"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "notation.md"


def _envs(rng):
    for m, n_in, n_out in [(1, 1, 1), (4, 3, 2)]:
        losses = rng.uniform(0.0, 3.0, size=m)
        A, W, b = rng.standard_normal((m, n_in)), rng.standard_normal((n_in, n_out)), \
            rng.standard_normal(n_out)
        p, q = n_in + 1, n_out + 2
        J, grad_y = rng.standard_normal((q, p)), rng.standard_normal(q)
        yield {"loss": losses, "Loss": dataset_loss(losses), "m": m, "A": A, "W": W, "b": b,
               "Z": layer(A, W, b), "n_in": n_in, "n_out": n_out, "J": J, "p": p, "q": q,
               "dy": grad_y, "dx": backward_through_jacobian(J, grad_y)}


FORMULAS = {"mean": Case(_envs), "layer": Case(_envs), "backward": Case(_envs)}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
