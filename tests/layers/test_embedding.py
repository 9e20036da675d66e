"""Tests for snippets/layers/embedding.py (page docs/layers/embedding.md)."""

from __future__ import annotations

import numpy as np
import pytest

from snippets.layers.embedding import (
    embedding_backward,
    embedding_backward_loop,
    embedding_backward_overwrite,
    embedding_forward,
    embedding_forward_one_hot,
    one_hot,
)
from snippets.layers.modules import dense_backward, dense_forward

from checks import EXACT_ATOL, EXACT_RTOL, assert_gradient
from formulas import Case, formula_test

#: (shape of ids, n_vocab, n_emb): a batch of one id, a table of one row, a batch with
#: repeated ids, sequences (m, n_seq) and a single sequence, and a table of one column.
CASES = [((1,), 4, 3), ((3,), 1, 2), ((6,), 3, 4), ((4, 5), 6, 3), ((1, 7), 3, 2),
         ((5,), 8, 1), ((2, 3, 2), 4, 2)]


def draw(rng, ids_shape, n_vocab, n_emb):
    ids = rng.integers(0, n_vocab, ids_shape)
    E = rng.standard_normal((n_vocab, n_emb))
    return ids, E


def assert_close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=EXACT_RTOL, atol=EXACT_ATOL)


# --- eq. (1): the lookup ---------------------------------------------------------------

@pytest.mark.parametrize("ids_shape, n_vocab, n_emb", CASES)
def test_forward_looks_up_one_row_per_id(rng, ids_shape, n_vocab, n_emb):
    ids, E = draw(rng, ids_shape, n_vocab, n_emb)
    Z, _ = embedding_forward(ids, {"E": E})
    assert Z.shape == ids_shape + (n_emb,)
    for position in np.ndindex(ids_shape):
        np.testing.assert_array_equal(Z[position], E[ids[position]])


def test_forward_hand_computed_and_a_copy():
    E = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    Z, _ = embedding_forward([2, 0, 2], {"E": E})
    np.testing.assert_array_equal(Z, [[5.0, 6.0], [1.0, 2.0], [5.0, 6.0]])
    Z[0, 0] = 99.0                      # changing the output leaves the table alone
    assert E[2, 0] == 5.0


def test_forward_extreme_values_are_copied_exactly():
    E = np.array([[1e300, -1e-300], [np.finfo(float).max, 0.0]])
    Z, _ = embedding_forward(np.array([1, 0]), {"E": E})
    np.testing.assert_array_equal(Z, E[::-1])


# --- eq. (2): the same lookup with one-hot rows -----------------------------------------

@pytest.mark.parametrize("ids_shape, n_vocab, n_emb", CASES)
def test_one_hot_product_is_the_lookup(rng, ids_shape, n_vocab, n_emb):
    ids, E = draw(rng, ids_shape, n_vocab, n_emb)
    H = one_hot(ids, n_vocab)
    assert H.shape == ids_shape + (n_vocab,)
    np.testing.assert_array_equal(np.sum(H, axis=-1), 1.0)
    np.testing.assert_array_equal(np.argmax(H, axis=-1), ids)
    # A sum with one term 1 * E[id] and the others 0 * E[j]: exact.
    np.testing.assert_array_equal(embedding_forward_one_hot(ids, {"E": E}),
                                  embedding_forward(ids, {"E": E})[0])


def test_the_lookup_is_a_dense_layer_on_one_hot_rows_with_no_bias(rng):
    """So its backward pass is the dense rule dW = A^T G with A the one-hot rows."""
    ids, E = draw(rng, (7,), 4, 3)
    H = one_hot(ids, 4)
    Z, cache = dense_forward(H, {"W": E, "b": np.zeros(3)})
    assert_close(Z, embedding_forward(ids, {"E": E})[0])
    G = rng.standard_normal(Z.shape)
    _, d = dense_backward(G, cache)
    _, cache = embedding_forward(ids, {"E": E})
    assert_close(embedding_backward(G, cache)[1]["E"], d["W"])


# --- eq. (3): the scatter-add -----------------------------------------------------------

@pytest.mark.parametrize("ids_shape, n_vocab, n_emb", CASES)
def test_backward_matches_finite_differences(rng, ids_shape, n_vocab, n_emb):
    ids, E = draw(rng, ids_shape, n_vocab, n_emb)
    Z, cache = embedding_forward(ids, {"E": E})
    G = rng.standard_normal(Z.shape)                   # a random upstream gradient
    d_ids, d_params = embedding_backward(G, cache)
    assert d_ids is None and set(d_params) == {"E"}
    assert d_params["E"].shape == E.shape
    s = lambda T: float(np.sum(G * embedding_forward(ids, {"E": T})[0]))
    assert_gradient(s, d_params["E"], E, rng)


@pytest.mark.parametrize("ids_shape, n_vocab, n_emb", CASES)
def test_scatter_add_equals_the_loop_and_the_index_form(rng, ids_shape, n_vocab, n_emb):
    ids, E = draw(rng, ids_shape, n_vocab, n_emb)
    _, cache = embedding_forward(ids, {"E": E})
    G = rng.standard_normal(ids_shape + (n_emb,))
    dE = embedding_backward(G, cache)[1]["E"]
    assert_close(dE, embedding_backward_loop(G, cache)[1]["E"])
    flat_ids, flat_G = ids.ravel(), G.reshape(-1, n_emb)
    for j in range(n_vocab):          # eq. (3): sum over positions of [id = j] G
        expected = sum((float(flat_ids[p] == j) * flat_G[p] for p in range(flat_ids.size)),
                       np.zeros(n_emb))
        assert_close(dE[j], expected)


@pytest.mark.parametrize("ids_shape, n_vocab, n_emb", CASES)
def test_invariants_unused_rows_are_zero_and_the_total_is_kept(rng, ids_shape, n_vocab, n_emb):
    ids, E = draw(rng, ids_shape, n_vocab, n_emb)
    _, cache = embedding_forward(ids, {"E": E})
    G = rng.standard_normal(ids_shape + (n_emb,))
    dE = embedding_backward(G, cache)[1]["E"]
    unused = np.setdiff1d(np.arange(n_vocab), ids)
    np.testing.assert_array_equal(dE[unused], 0.0)
    # Every row of G lands in exactly one row of dE: the column sums agree.
    assert_close(np.sum(dE, axis=0), np.sum(G.reshape(-1, n_emb), axis=0))


def test_repeated_ids_add_up_hand_computed():
    # ids (2, 0, 2), upstream rows 1, 10, 100: row 2 of dE gets 1 + 100 = 101.
    _, cache = embedding_forward(np.array([2, 0, 2]), {"E": np.zeros((3, 1))})
    G = np.array([[1.0], [10.0], [100.0]])
    np.testing.assert_array_equal(embedding_backward(G, cache)[1]["E"], [[10.0], [0.0], [101.0]])


def test_a_plain_fancy_index_update_loses_repeated_ids():
    """dE[ids] += G reads dE[ids], adds G and writes the rows back, one after the other:
    the second write to row 2 replaces the first instead of adding to it."""
    ids, G = np.array([2, 0, 2]), np.array([[1.0], [10.0], [100.0]])
    _, cache = embedding_forward(ids, {"E": np.zeros((3, 1))})
    wrong = embedding_backward_overwrite(G, cache)[1]["E"]
    right = embedding_backward(G, cache)[1]["E"]
    assert wrong[2, 0] in (1.0, 100.0)           # one of the two terms, never their sum
    assert right[2, 0] == 101.0
    np.testing.assert_array_equal(wrong[:2], right[:2])   # rows hit once are fine
    # With no repeated id the two agree: the bug hides until a batch repeats an id.
    _, cache = embedding_forward(np.array([2, 0, 1]), {"E": np.zeros((3, 1))})
    np.testing.assert_array_equal(embedding_backward_overwrite(G, cache)[1]["E"],
                                  embedding_backward(G, cache)[1]["E"])


def test_the_overwrite_fails_the_gradient_check(rng):
    ids = np.array([0, 1, 1, 3, 1])
    E = rng.standard_normal((4, 2))
    Z, cache = embedding_forward(ids, {"E": E})
    G = rng.standard_normal(Z.shape)
    s = lambda T: float(np.sum(G * embedding_forward(ids, {"E": T})[0]))
    with pytest.raises(AssertionError, match="relative error"):
        assert_gradient(s, embedding_backward_overwrite(G, cache)[1]["E"], E, rng)


def test_backward_with_many_repeats_of_a_huge_gradient_stays_exact():
    _, cache = embedding_forward(np.zeros(4, dtype=int), {"E": np.zeros((2, 1))})
    dE = embedding_backward(np.full((4, 1), 1e307), cache)[1]["E"]
    np.testing.assert_array_equal(dE, [[4e307], [0.0]])


# --- bad input ---------------------------------------------------------------------------

E3 = {"E": np.ones((3, 2))}
_, CACHE = embedding_forward(np.array([0, 2]), E3)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: embedding_forward([0, 3], E3), r"ids must lie in 0\.\.2 .* got \[3\]"),
        (lambda: embedding_forward([-1, 0], E3), r"ids must lie in 0\.\.2 .* got \[-1\]"),
        (lambda: embedding_forward([0.0, 1.0], E3), r"ids must be an array of integers, got dtype float64"),
        (lambda: embedding_forward([True, False], E3), r"ids must be an array of integers, got dtype bool"),
        (lambda: embedding_forward(["a"], E3), r"ids must be an array of integers"),
        (lambda: embedding_forward([[0], [1, 2]], E3), r"ids must be a rectangular array of integers"),
        (lambda: embedding_forward(np.int64(1), E3), r"ids must have shape \(m,\) .* got shape \(\)"),
        (lambda: embedding_forward(np.zeros((0,), dtype=int), E3), r"no axis of length 0"),
        (lambda: embedding_forward([0], {"W": np.ones((3, 2))}), r"needs params = \{'E': E\}, got \['W'\]"),
        (lambda: embedding_forward([0], np.ones((3, 2))), r"needs params = \{'E': E\}, got ndarray"),
        (lambda: embedding_forward([0], {"E": np.ones(3)}), r"E must be a 2-D table .* got shape \(3,\)"),
        (lambda: embedding_forward([0], {"E": np.ones((3, 0))}), r"E must be a 2-D table"),
        (lambda: embedding_forward([0], {"E": [[np.nan]]}), r"E must be finite"),
        (lambda: embedding_forward([0], {"E": [["a"]]}), r"E must be an array of real numbers"),
        (lambda: embedding_forward([0], {"E": [[1.0], [1.0, 2.0]]}), r"E must be a rectangular array"),
        (lambda: embedding_backward(np.ones((2, 3)), CACHE),
         r"dZ must have the shape .* \(2, 2\), got \(2, 3\)"),
        (lambda: embedding_backward(np.ones(2), CACHE), r"dZ must have the shape"),
        (lambda: embedding_backward([[np.inf, 0.0], [0.0, 0.0]], CACHE), r"dZ must be finite"),
        (lambda: embedding_backward_loop(np.ones((1, 2)), CACHE), r"dZ must have the shape"),
        (lambda: embedding_backward_overwrite(np.ones((3, 2)), CACHE), r"dZ must have the shape"),
        (lambda: embedding_backward(np.full((2, 1), 1e308),
                                    embedding_forward([1, 1], {"E": np.ones((2, 1))})[1]),
         r"\(largest count of one id\) x max \|dZ\| must stay below"),
        (lambda: one_hot([0, 1], 0), r"n_vocab must be a positive integer, got 0"),
        (lambda: one_hot([0, 1], True), r"n_vocab must be a positive integer"),
        (lambda: one_hot([0, 2], 2), r"ids must lie in 0\.\.1"),
        (lambda: embedding_forward_one_hot([5], E3), r"ids must lie in 0\.\.2"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "layers/embedding.md"


def _embedding_envs(forward):
    """A batch of ids with repeats, the table, and the code's results under the page's names;
    the ids are labels, 0-based in code and read 1-based like every index on the page."""
    def envs(rng):
        for m, n_vocab, n_emb in [(1, 3, 2), (6, 4, 3)]:
            xi = rng.integers(0, n_vocab, m)
            if m > 1:
                xi[-1] = xi[0]                                  # at least one repeat
            E = rng.standard_normal((n_vocab, n_emb))
            Z = forward(xi, {"E": E})
            _, cache = embedding_forward(xi, {"E": E})
            G = rng.standard_normal((m, n_emb))
            dE = embedding_backward(G, cache)[1]["E"]
            yield {"xi": xi, "E": E, "Z": Z, "G": G, "m": m, "n_vocab": n_vocab, "n_emb": n_emb,
                   "dE": dE, "dLoss/dE": dE, "__labels__": ("xi",),
                   "e": lambda label, n=n_vocab: one_hot(np.array([int(label) - 1]), n)[0],
                   "__ranges__": {"j": "n_vocab", "k": "n_emb"}}
    return envs


FORMULAS = {
    "forward": Case(_embedding_envs(lambda ids, p: embedding_forward(ids, p)[0])),
    "one-hot": Case(_embedding_envs(embedding_forward_one_hot)),
    "backward": Case(_embedding_envs(lambda ids, p: embedding_forward(ids, p)[0])),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
