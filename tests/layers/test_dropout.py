"""Tests for snippets/layers/dropout.py (page docs/layers/dropout.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from snippets.layers.dropout import (
    average_output,
    dropout_backward,
    dropout_forward,
    expected_scale,
    standard_error,
)

from checks import EXACT_RTOL, assert_gradient
from formulas import Case, formula_test

#: Shapes of A: a batch of one with one feature, a batch of one, a matrix, a vector and
#: a 3-D array (m, n_seq, n): dropout acts entry by entry, whatever the layout.
SHAPES = [(1, 1), (1, 5), (4, 3), (7,), (2, 3, 4)]
P_KEEPS = [0.2, 0.5, 0.9, 1.0]

#: How many standard deviations an average of random masks may stray from its expected
#: value. The average of many independent masks is close to normal (central limit
#: theorem); a normal value lies beyond 5 standard deviations with probability 5.7e-7, so
#: a correct layer fails this bound essentially never, while a wrong scale (dividing by
#: 1 - p_keep, or not at all) misses it by a hundred standard deviations and more.
N_SD = 5.0

#: Draws of the mask averaged in the expectation tests.
N_DRAWS = 20_000


def masked_forward(A, p_keep, seed, train=True):
    """The forward pass with a fresh generator of a fixed seed: the same mask every call,
    so that the output is a fixed function of A for the finite differences."""
    return dropout_forward(A, {}, p_keep, np.random.default_rng(seed), train)


# --- eq. (1): the forward pass ----------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("p_keep", P_KEEPS)
def test_training_keeps_and_scales_or_zeroes_each_entry(rng, shape, p_keep):
    A = rng.standard_normal(shape)
    Z, (mask, p, cache_shape) = dropout_forward(A, {}, p_keep, rng)
    assert Z.shape == mask.shape == A.shape == cache_shape and p == p_keep
    assert np.all((mask == 0.0) | (mask == 1.0))
    np.testing.assert_array_equal(Z, np.where(mask == 1.0, A / p_keep, 0.0))


def test_forward_hand_computed():
    # With the generator's first draws known, entries below p_keep = 0.5 are kept.
    draws = np.random.default_rng(7).random(4)
    Z, (mask, _, _) = dropout_forward(np.array([1.0, 2.0, 3.0, 4.0]), {}, 0.5,
                                      np.random.default_rng(7))
    np.testing.assert_array_equal(mask, (draws < 0.5).astype(float))
    np.testing.assert_array_equal(Z, mask * np.array([2.0, 4.0, 6.0, 8.0]))


def test_the_same_seed_gives_the_same_mask_and_a_new_draw_a_new_one():
    A = np.ones((6, 8))
    Z1, _ = masked_forward(A, 0.5, seed=3)
    Z2, _ = masked_forward(A, 0.5, seed=3)
    np.testing.assert_array_equal(Z1, Z2)
    rng = np.random.default_rng(3)
    first, _ = dropout_forward(A, {}, 0.5, rng)
    second, _ = dropout_forward(A, {}, 0.5, rng)
    assert not np.array_equal(first, second)     # 48 entries: equal with chance 2^-48


@pytest.mark.parametrize("shape", SHAPES)
def test_evaluation_is_the_identity_without_a_generator(rng, shape):
    A = rng.standard_normal(shape)
    Z, cache = dropout_forward(A, {}, 0.3, None, train=False)
    np.testing.assert_array_equal(Z, A)
    G = rng.standard_normal(shape)
    dA, d_params = dropout_backward(G, cache)
    np.testing.assert_array_equal(dA, G)
    assert d_params == {}


@pytest.mark.parametrize("shape", SHAPES)
def test_p_keep_one_is_the_identity(rng, shape):
    A, G = rng.standard_normal(shape), rng.standard_normal(shape)
    Z, cache = dropout_forward(A, {}, 1.0, rng)
    np.testing.assert_array_equal(Z, A)
    np.testing.assert_array_equal(dropout_backward(G, cache)[0], G)


def test_extreme_but_finite_inputs_are_scaled_exactly(rng):
    A = np.array([1e300, -1e-300, 5e-324])
    Z, (mask, _, _) = dropout_forward(A, {}, 0.5, rng)
    np.testing.assert_array_equal(Z, mask * np.array([2e300, -2e-300, 1e-323]))
    # A keep probability of 1e-300 keeps (almost surely) nothing, and overflows nothing.
    Z, _ = dropout_forward(np.ones(5), {}, 1e-300, rng)
    np.testing.assert_array_equal(Z, 0.0)


# --- eq. (2): the expectation is preserved -------------------------------------------

@pytest.mark.parametrize("p_keep", [1e-9, 0.1, 0.3, 0.5, 0.77, 1.0])
def test_expected_scale_is_one(p_keep):
    assert expected_scale(p_keep) == pytest.approx(1.0, rel=EXACT_RTOL)


@pytest.mark.parametrize("p_keep", [0.1, 0.5, 0.9])
def test_average_output_is_A_within_the_binomial_bound(rng, p_keep):
    """Each entry of the mean of N outputs has mean a_ij and standard deviation
    |a_ij| * standard_error(p_keep, N) (eq. (3)); no entry may stray more than N_SD of them."""
    A = rng.normal(scale=3.0, size=(4, 5))
    mean = average_output(A, p_keep, rng, N_DRAWS)
    assert mean.shape == A.shape
    bound = N_SD * np.abs(A) * standard_error(p_keep, N_DRAWS)
    assert np.all(np.abs(mean - A) <= bound)
    # The bound has teeth: forgetting the 1 / p_keep leaves a bias of (1 - p_keep) |a|.
    assert np.all(np.abs(p_keep * A - A) > bound)


@pytest.mark.parametrize("p_keep", [0.1, 0.5, 0.9])
def test_mean_of_all_masks_over_p_keep_is_one(rng, p_keep):
    """Every entry of every mask is one draw of U / p_keep: N_DRAWS * 20 draws in all."""
    ones = np.ones((4, 5))
    mean = float(np.mean(average_output(ones, p_keep, rng, N_DRAWS)))
    assert abs(mean - 1.0) <= N_SD * standard_error(p_keep, N_DRAWS * ones.size)


@pytest.mark.parametrize("p_keep", [0.1, 0.5, 0.9])
def test_the_fraction_of_kept_entries_is_p_keep(rng, p_keep):
    """The number kept out of K entries is binomial(K, p_keep): sd sqrt(K p (1 - p))."""
    _, (mask, _, _) = dropout_forward(np.ones((200, 100)), {}, p_keep, rng)
    K = mask.size
    assert abs(mask.sum() - K * p_keep) <= N_SD * math.sqrt(K * p_keep * (1 - p_keep))


# --- eq. (3): the spread of the average ----------------------------------------------

def test_standard_error_hand_computed():
    # p = 0.5: Var(U / p) = (1 - p) / p = 1; over 100 draws the sd is 1 / 10.
    assert standard_error(0.5, 100) == pytest.approx(0.1, rel=EXACT_RTOL)
    assert standard_error(1.0, 3) == 0.0             # p_keep = 1: no randomness at all


@pytest.mark.parametrize("p_keep", [0.2, 0.6])
def test_standard_error_is_the_spread_of_averages(rng, p_keep):
    """The sample sd of K independent averages matches eq. (3); its own relative standard
    error is about 1 / sqrt(2 (K - 1)) for nearly normal averages."""
    K, n = 4000, 50
    averages = average_output(np.ones(K), p_keep, rng, n)   # K averages of n masks each
    ratio = float(np.std(averages, ddof=1)) / standard_error(p_keep, n)
    assert abs(ratio - 1.0) <= N_SD / math.sqrt(2 * (K - 1))


# --- eq. (4): the backward pass --------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("p_keep", P_KEEPS)
@pytest.mark.parametrize("train", [True, False])
def test_backward_matches_finite_differences(rng, shape, p_keep, train):
    A = rng.standard_normal(shape)
    seed = int(rng.integers(2**32))
    Z, cache = masked_forward(A, p_keep, seed, train)
    G = rng.standard_normal(Z.shape)                 # a random upstream gradient
    dA, d_params = dropout_backward(G, cache)
    assert dA.shape == A.shape and d_params == {}
    s = lambda x: float(np.sum(G * masked_forward(x, p_keep, seed, train)[0]))
    assert_gradient(s, dA, A, rng)


@pytest.mark.parametrize("p_keep", [0.3, 0.8])
def test_backward_reuses_the_forward_mask(rng, p_keep):
    A = rng.uniform(1.0, 2.0, (30, 20))             # no zeros: Z = 0 exactly where dropped
    Z, cache = dropout_forward(A, {}, p_keep, rng)
    G = rng.standard_normal(A.shape)
    dA, _ = dropout_backward(G, cache)
    dropped = Z == 0.0
    np.testing.assert_array_equal(dA[dropped], 0.0)
    np.testing.assert_array_equal(dA[~dropped], G[~dropped] / p_keep)
    # A fresh mask would disagree with the forward pass in about 2 p (1 - p) of entries.
    _, fresh = dropout_forward(A, {}, p_keep, rng)
    assert not np.array_equal(dropout_backward(G, fresh)[0], dA)


# --- bad input ---------------------------------------------------------------------------

R = np.random.default_rng(0)
_, CACHE = dropout_forward(np.ones((2, 3)), {}, 0.5, R)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: dropout_forward(np.ones(3), {}, 0.0, R), r"p_keep must be a number in \(0, 1\], got 0\.0"),
        (lambda: dropout_forward(np.ones(3), {}, -0.1, R), r"p_keep must be a number in \(0, 1\]"),
        (lambda: dropout_forward(np.ones(3), {}, 1.5, R), r"p_keep must be a number in \(0, 1\], got 1\.5"),
        (lambda: dropout_forward(np.ones(3), {}, float("nan"), R), r"p_keep must be a number"),
        (lambda: dropout_forward(np.ones(3), {}, True, R), r"p_keep must be a number"),
        (lambda: dropout_forward(np.ones(3), {}, "0.5", R), r"p_keep must be a number"),
        (lambda: dropout_forward(np.ones(3), {}, np.array([0.5, 0.5]), R), r"p_keep must be a number"),
        (lambda: dropout_forward(np.ones(3), {}, 0.5, None), r"training mode needs rng"),
        (lambda: dropout_forward(np.ones(3), {}, 0.5, np.random.RandomState(0)),
         r"needs rng, a numpy\.random\.Generator, got RandomState"),
        (lambda: dropout_forward(np.ones(3), {}, 0.5, R, train=1), r"train must be True .* or False"),
        (lambda: dropout_forward(np.ones(3), {"p": 0.5}, 0.5, R), r"dropout has no parameters"),
        (lambda: dropout_forward(np.ones(3), None, 0.5, R), r"dropout has no parameters"),
        (lambda: dropout_forward(np.ones(0), {}, 0.5, R), r"A must be a non-empty finite array"),
        (lambda: dropout_forward([np.nan], {}, 0.5, R), r"A must be a non-empty finite array"),
        (lambda: dropout_forward(["a"], {}, 0.5, R), r"A must be an array of real numbers"),
        (lambda: dropout_forward([[1.0], [1.0, 2.0]], {}, 0.5, R), r"A must be a rectangular array"),
        (lambda: dropout_forward(np.full(2, 1e308), {}, 0.5, R), r"max \|A\| / p_keep must stay below"),
        (lambda: dropout_backward(np.ones((3, 2)), CACHE), r"dZ must have the shape of the output, \(2, 3\)"),
        (lambda: dropout_backward(np.full((2, 3), 1e308), CACHE), r"max \|dZ\| / p_keep must stay"),
        (lambda: expected_scale(0.0), r"p_keep must be a number in \(0, 1\]"),
        (lambda: standard_error(0.5, 0), r"n_draws must be a positive integer, got 0"),
        (lambda: standard_error(2.0, 10), r"p_keep must be a number"),
        (lambda: average_output(np.ones(2), 0.5, R, True), r"n_draws must be a positive integer"),
        (lambda: average_output(np.ones(2), 1.2, R, 10), r"p_keep must be a number"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "layers/dropout.md"


def _mode_envs(rng):
    """Training and evaluation, with the code's output, its mask and its input gradient."""
    for (m, n), p_keep in [((1, 3), 0.5), ((4, 5), 0.8)]:
        A = rng.standard_normal((m, n))
        G = rng.standard_normal((m, n))
        for train, label in [(True, "training"), (False, "evaluation")]:
            Z, cache = dropout_forward(A, {}, p_keep, rng, train)
            mask = cache[0] if train else np.ones((m, n))   # no mask in evaluation
            dA, _ = dropout_backward(G, cache)
            yield {"A": A, "Z": Z, "U": mask, "p_keep": p_keep, "G": G, "m": m, "n": n,
                   "dA": dA, "dLoss/dA": dA, "__case__": label}


def _outcome_envs(rng):
    """A mask entry takes two values, 1 (probability p_keep) and 0: U and Z hold both
    outcomes along a last axis, and E and Var are the exact mean and variance over them."""
    for p_keep in (0.25, 0.5, 0.9, 1.0):
        A = rng.standard_normal((2, 3))
        outcomes = np.stack([np.ones_like(A), np.zeros_like(A)], axis=-1)
        weights = np.array([p_keep, 1.0 - p_keep])
        mean = lambda v, w=weights: np.asarray(v) @ w
        yield {"A": A, "U": outcomes, "Z": A[..., None] * outcomes / p_keep,
               "p_keep": p_keep, "m": 2, "n": 3, "E": mean,
               "Var": lambda v, mean=mean: mean(np.asarray(v) ** 2) - mean(v) ** 2,
               "SE": lambda n, p=p_keep: standard_error(p, n), "n_draws": 400,
               "__ranges__": {"j": "n"}}


FORMULAS = {
    "forward": Case(_mode_envs),
    "expectation": Case(_outcome_envs),
    "variance": Case(_outcome_envs),
    "backward": Case(_mode_envs),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
