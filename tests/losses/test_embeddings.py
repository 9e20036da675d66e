"""Tests for snippets/losses/embeddings.py (page docs/losses/embeddings.md)."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pytest

from snippets.losses.embeddings import (
    contrastive_grad,
    contrastive_loss,
    cosine_embedding_grad,
    cosine_embedding_loss,
    cosine_similarity,
    cosine_similarity_grad,
    distance,
    distance_grad,
    triplet_margin_grad,
    triplet_margin_loss,
)

from checks import EXACT_ATOL, EXACT_RTOL, assert_gradient
from formulas import Case, formula_test

#: (m, n): a single pair, a single coordinate, and up to 60 entries, which the checker
#: compares coordinate by coordinate (the whole gradient at once, in the Euclidean norm).
SHAPES = [(1, 1), (1, 4), (5, 1), (6, 3), (12, 5)]

#: Embedding scales far beyond what float64 can square: 1e300 ** 2 overflows and
#: 1e-300 ** 2 underflows to 0.
EXTREME_SCALES = [1e-300, 1e300]


def pairs(rng, m, n):
    return rng.standard_normal((m, n)), rng.standard_normal((m, n))


def away_from(values, kink, gap=1e-3):
    """True where a value is far enough from a kink for finite differences of step 1e-5."""
    return np.abs(values - kink) > gap


# ------------------------------------------------------------------------ cosine similarity

def test_cosine_known_values():
    # u = (1, 0), v = (1, 1): c = 1 / sqrt 2. dc/du = v / (|u||v|) - c u / |u|^2
    # = (1, 1)/sqrt 2 - (1, 0)/sqrt 2 = (0, 1/sqrt 2); dc/dv = u/sqrt 2 - c v / 2 = (1/2, -1/2)/sqrt 2.
    u, v = np.array([[1.0, 0.0]]), np.array([[1.0, 1.0]])
    r = 1 / np.sqrt(2.0)
    np.testing.assert_allclose(cosine_similarity(u, v), [r], rtol=EXACT_RTOL)
    dc_du, dc_dv = cosine_similarity_grad(u, v)
    np.testing.assert_allclose(dc_du, [[0.0, r]], rtol=EXACT_RTOL, atol=EXACT_ATOL)
    np.testing.assert_allclose(dc_dv, [[r / 2, -r / 2]], rtol=EXACT_RTOL, atol=EXACT_ATOL)


@pytest.mark.parametrize("m,n", SHAPES)
def test_cosine_gradient_with_a_random_upstream_gradient(rng, m, n):
    u, v = pairs(rng, m, n)
    G = rng.standard_normal(m)
    dc_du, dc_dv = cosine_similarity_grad(u, v)
    assert dc_du.shape == dc_dv.shape == (m, n)
    assert_gradient(lambda U: float(np.sum(G * cosine_similarity(U, v))), G[:, None] * dc_du, u, rng)
    assert_gradient(lambda V: float(np.sum(G * cosine_similarity(u, V))), G[:, None] * dc_dv, v, rng)


def test_cosine_gradient_quotient_rule_step(rng):
    """Eq. (2): the quotient rule, before simplifying, equals the form the code computes."""
    u, v = pairs(rng, 10, 4)
    nu, nv = np.linalg.norm(u, axis=1)[:, None], np.linalg.norm(v, axis=1)[:, None]
    dot = np.sum(u * v, axis=1)[:, None]
    quotient = (v * nu * nv - dot * nv * u / nu) / (nu * nv) ** 2
    np.testing.assert_allclose(cosine_similarity_grad(u, v)[0], quotient, rtol=1e-12, atol=EXACT_ATOL)


def test_cosine_gradient_is_orthogonal_to_its_vector(rng):
    """c does not change when u is scaled, so dc/du has no component along u."""
    u, v = pairs(rng, 10, 5)
    dc_du, dc_dv = cosine_similarity_grad(u, v)
    np.testing.assert_allclose(np.sum(dc_du * u, axis=1), 0.0, atol=EXACT_ATOL)
    np.testing.assert_allclose(np.sum(dc_dv * v, axis=1), 0.0, atol=EXACT_ATOL)
    np.testing.assert_allclose(cosine_similarity(3.5 * u, v), cosine_similarity(u, v), rtol=1e-14)


# ------------------------------------------------------------------- cosine embedding loss

def test_cosine_embedding_known_values():
    u, v = np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([[1.0, 1.0], [1.0, 1.0]])
    r = 1 / np.sqrt(2.0)
    # y = 1: 1 - c; y = -1, margin 0: max(0, c) = c. Mean of (1 - r) and r is 1/2.
    assert cosine_embedding_loss(u, v, [1, -1]) == pytest.approx(0.5, rel=EXACT_RTOL)
    # With margin 0.8 > c the dissimilar pair costs nothing.
    assert cosine_embedding_loss(u, v, [1, -1], margin=0.8) == pytest.approx((1 - r) / 2, rel=EXACT_RTOL)
    du, dv = cosine_embedding_grad(u, v, [1, -1])
    # dl/dc is -1 and +1; dc/du = (0, r) from the known-value test above; divided by m = 2.
    np.testing.assert_allclose(du, [[0.0, -r / 2], [0.0, r / 2]], rtol=EXACT_RTOL, atol=EXACT_ATOL)
    np.testing.assert_allclose(dv[0], -dv[1], rtol=EXACT_RTOL)


def test_cosine_embedding_of_unit_vectors_is_half_the_squared_distance(rng):
    u, v = pairs(rng, 8, 3)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    half_squared = np.mean(0.5 * np.sum((u - v) ** 2, axis=1))
    assert cosine_embedding_loss(u, v, np.ones(8)) == pytest.approx(half_squared, rel=1e-12)


@pytest.mark.parametrize("m,n", SHAPES)
@pytest.mark.parametrize("margin", [0.0, 0.3])
def test_cosine_embedding_gradients(rng, m, n, margin):
    u, v = pairs(rng, m, n)
    y = rng.choice([-1.0, 1.0], size=m)
    keep = away_from(cosine_similarity(u, v), margin) | (y == 1)
    u, v, y = u[keep], v[keep], y[keep]
    du, dv = cosine_embedding_grad(u, v, y, margin=margin)
    assert_gradient(lambda U: cosine_embedding_loss(U, v, y, margin=margin), du, u, rng)
    assert_gradient(lambda V: cosine_embedding_loss(u, V, y, margin=margin), dv, v, rng)


def test_cosine_embedding_subgradient_at_the_kink():
    # Orthogonal vectors: c = 0 = margin exactly, a dissimilar pair sits on the corner.
    u, v = np.array([[1.0, 0.0]]), np.array([[0.0, 2.0]])
    assert cosine_embedding_loss(u, v, [-1]) == 0.0
    du, dv = cosine_embedding_grad(u, v, [-1])
    np.testing.assert_array_equal(du, 0.0)
    np.testing.assert_array_equal(dv, 0.0)


# ------------------------------------------------------------------------------ distance

def test_distance_known_values_and_the_subgradient_at_zero():
    u, v = np.array([[3.0, 4.0], [1.0, 1.0]]), np.array([[0.0, 0.0], [1.0, 1.0]])
    np.testing.assert_allclose(distance(u, v), [5.0, 0.0], rtol=EXACT_RTOL)
    dd_du, dd_dv = distance_grad(u, v)
    # (u - v) / d = (0.6, 0.8) in the first row; 0 in the second, where u = v.
    np.testing.assert_allclose(dd_du, [[0.6, 0.8], [0.0, 0.0]], rtol=EXACT_RTOL)
    np.testing.assert_allclose(dd_dv, -dd_du, rtol=EXACT_RTOL)


@pytest.mark.parametrize("m,n", SHAPES)
def test_distance_gradient_with_a_random_upstream_gradient(rng, m, n):
    u, v = pairs(rng, m, n)
    G = rng.standard_normal(m)
    dd_du, dd_dv = distance_grad(u, v)
    assert_gradient(lambda U: float(np.sum(G * distance(U, v))), G[:, None] * dd_du, u, rng)
    assert_gradient(lambda V: float(np.sum(G * distance(u, V))), G[:, None] * dd_dv, v, rng)


@pytest.mark.parametrize("scale", EXTREME_SCALES)
def test_distance_neither_overflows_nor_underflows(scale):
    u, v = scale * np.array([[3.0, 4.0]]), np.zeros((1, 2))
    assert distance(u, v)[0] == pytest.approx(5.0 * scale, rel=EXACT_RTOL)
    # The formula as written squares first: 1e300^2 overflows to inf (with a warning),
    # 1e-300^2 underflows to 0 silently, and the norm comes out as 0.
    with pytest.warns(RuntimeWarning, match="overflow") if scale > 1 else nullcontext():
        naive = np.sqrt(np.sum(u**2))
    assert naive == (np.inf if scale > 1 else 0.0)


# --------------------------------------------------------------------------- contrastive

def test_contrastive_known_values():
    u, v = np.zeros((2, 2)), np.array([[0.3, 0.4], [0.3, 0.4]])   # d = 0.5 in both rows
    # y = 1: d^2 = 0.25; y = 0, margin 1: (1 - 0.5)^2 = 0.25.
    assert contrastive_loss(u, v, [1, 0]) == pytest.approx(0.25, rel=EXACT_RTOL)
    # Margin 0.4 < d: the dissimilar pair costs nothing.
    assert contrastive_loss(u, v, [1, 0], margin=0.4) == pytest.approx(0.125, rel=EXACT_RTOL)
    du, dv = contrastive_grad(u, v, [1, 0])
    # y = 1: 2 (u - v) = (-0.6, -0.8). y = 0: dl/dd = -2 (1 - 0.5) = -1 times
    # (u - v)/d = (-0.6, -0.8) gives (0.6, 0.8). Both divided by m = 2.
    np.testing.assert_allclose(du, [[-0.3, -0.4], [0.3, 0.4]], rtol=EXACT_RTOL)
    np.testing.assert_allclose(dv, -du, rtol=EXACT_RTOL)


def test_contrastive_similar_pairs_gradient_is_twice_the_difference(rng):
    """Eq. (7), y = 1: 2 d (u - v) / d simplifies to 2 (u - v)."""
    u, v = pairs(rng, 7, 3)
    du, dv = contrastive_grad(u, v, np.ones(7))
    np.testing.assert_allclose(du, 2.0 * (u - v) / 7, rtol=1e-12, atol=EXACT_ATOL)


def test_contrastive_against_the_original_half_convention(rng):
    """The 2006 paper: (1 - Y) D^2 / 2 + Y max(0, margin - D)^2 / 2 with Y = 0 for similar."""
    u, v = pairs(rng, 12, 4)
    y = rng.integers(0, 2, size=12).astype(float)
    D, Y = np.linalg.norm(u - v, axis=1), 1.0 - y
    paper = np.mean((1 - Y) * D**2 / 2 + Y * np.maximum(0.0, 2.0 - D) ** 2 / 2)
    assert contrastive_loss(u, v, y, margin=2.0) == pytest.approx(2.0 * paper, rel=1e-12)


@pytest.mark.parametrize("m,n", SHAPES)
@pytest.mark.parametrize("margin", [1.0, 3.0])
def test_contrastive_gradients(rng, m, n, margin):
    u, v = pairs(rng, m, n)
    y = rng.integers(0, 2, size=m).astype(float)
    du, dv = contrastive_grad(u, v, y, margin=margin)
    assert_gradient(lambda U: contrastive_loss(U, v, y, margin=margin), du, u, rng)
    assert_gradient(lambda V: contrastive_loss(u, V, y, margin=margin), dv, v, rng)


def test_contrastive_subgradient_at_zero_distance():
    u = np.array([[1.0, 2.0], [1.0, 2.0]])
    # u = v: a dissimilar pair costs margin^2 = 1 and the code returns the subgradient 0;
    # a similar pair has loss 0 and true gradient 2 (u - v) = 0.
    assert contrastive_loss(u, u.copy(), [0, 1]) == pytest.approx(0.5, rel=EXACT_RTOL)
    du, dv = contrastive_grad(u, u.copy(), [0, 1])
    np.testing.assert_array_equal(du, 0.0)
    np.testing.assert_array_equal(dv, 0.0)


def test_contrastive_collapsed_dissimilar_pair_has_no_subgradient(rng):
    """At u = v the dissimilar term mu^2 - 2 mu d + d^2 falls in every direction: a concave
    kink. A subgradient g needs loss(u + h) >= loss(u) + g . h for all small h; for the code's
    g = 0 the loss falls below that plane in every direction tried."""
    u = np.array([[1.0, -2.0, 0.5]])
    (du, _), value = contrastive_grad(u, u.copy(), [0]), contrastive_loss(u, u.copy(), [0])
    np.testing.assert_array_equal(du, 0.0)
    for _ in range(20):
        h = 1e-3 * rng.standard_normal((1, 3))
        drop = value - contrastive_loss(u + h, u, [0])
        # The loss falls by 2 mu |h| - |h|^2, to first order 2 |h| with mu = 1.
        assert drop == pytest.approx(2 * np.linalg.norm(h) - np.sum(h**2), rel=1e-9)
        assert drop > 0.0


# ------------------------------------------------------------------------------- triplet

def test_triplet_known_values():
    u, v_pos = np.zeros((1, 2)), np.array([[3.0, 4.0]])
    # d+ = 5, d- = 10: 5 - 10 + 1 < 0, no loss.
    assert triplet_margin_loss(u, v_pos, np.array([[6.0, 8.0]])) == 0.0
    # d+ = 5, d- = 1: 5 - 1 + 1 = 5. e+ = (u - v+)/5 = (-0.6, -0.8), e- = (0, -1).
    v_neg = np.array([[0.0, 1.0]])
    assert triplet_margin_loss(u, v_pos, v_neg) == pytest.approx(5.0, rel=EXACT_RTOL)
    du, dpos, dneg = triplet_margin_grad(u, v_pos, v_neg)
    np.testing.assert_allclose(du, [[-0.6, 0.2]], rtol=EXACT_RTOL)
    np.testing.assert_allclose(dpos, [[0.6, 0.8]], rtol=EXACT_RTOL)
    np.testing.assert_allclose(dneg, [[0.0, -1.0]], rtol=EXACT_RTOL, atol=EXACT_ATOL)


@pytest.mark.parametrize("m,n", SHAPES)
@pytest.mark.parametrize("margin", [1.0, 0.2])
def test_triplet_gradients(rng, m, n, margin):
    u, v_pos, v_neg = (rng.standard_normal((m, n)) for _ in range(3))
    keep = away_from(distance(u, v_pos) - distance(u, v_neg) + margin, 0.0)
    u, v_pos, v_neg = u[keep], v_pos[keep], v_neg[keep]
    du, dpos, dneg = triplet_margin_grad(u, v_pos, v_neg, margin=margin)
    assert_gradient(lambda A: triplet_margin_loss(A, v_pos, v_neg, margin=margin), du, u, rng)
    assert_gradient(lambda P: triplet_margin_loss(u, P, v_neg, margin=margin), dpos, v_pos, rng)
    assert_gradient(lambda N: triplet_margin_loss(u, v_pos, N, margin=margin), dneg, v_neg, rng)
    # Moving all three embeddings together changes nothing: the gradients sum to zero.
    np.testing.assert_allclose(du + dpos + dneg, 0.0, atol=EXACT_ATOL)


def test_triplet_subgradients_at_the_kinks():
    u, v_pos, v_neg = np.zeros((1, 2)), np.array([[1.0, 0.0]]), np.array([[2.0, 0.0]])
    # Exactly on the hinge: 1 - 2 + 1 = 0, every gradient 0.
    assert triplet_margin_loss(u, v_pos, v_neg) == 0.0
    for g in triplet_margin_grad(u, v_pos, v_neg):
        np.testing.assert_array_equal(g, 0.0)
    # Anchor equal to the positive: d+ = 0 has no derivative, the code uses 0 for it; the
    # negative at distance 0.5 still pushes: loss 0 - 0.5 + 1 = 0.5.
    v_neg = np.array([[0.0, 0.5]])
    assert triplet_margin_loss(u, u.copy(), v_neg) == pytest.approx(0.5, rel=EXACT_RTOL)
    du, dpos, dneg = triplet_margin_grad(u, u.copy(), v_neg)
    np.testing.assert_array_equal(dpos, 0.0)
    np.testing.assert_allclose(du, [[0.0, 1.0]], rtol=EXACT_RTOL)     # -(u - v-)/d- = (0, 1)
    np.testing.assert_allclose(dneg, [[0.0, -1.0]], rtol=EXACT_RTOL)


def test_triplet_zero_distances_convex_kink_at_the_positive_concave_at_the_negative(rng):
    v = np.array([[0.0, 3.0]])
    # Anchor on its positive (d+ = 0, d- = 3, active): the code's gradient is a subgradient,
    # loss(u + h) >= loss(u) + du . h for small h (d+ enters with a plus sign: a convex cone).
    u = np.zeros((1, 2))
    value, (du, _, _) = triplet_margin_loss(u, u.copy(), v, 4.0), triplet_margin_grad(u, u.copy(), v, 4.0)
    for _ in range(20):
        h = 1e-4 * rng.standard_normal((1, 2))
        assert triplet_margin_loss(u + h, u, v, 4.0) >= value + np.sum(du * h)
    # Anchor on its negative (d- = 0, d+ = 3): -d- is a concave cone, and the loss falls
    # below the plane of the code's gradient in every direction: it is no subgradient.
    value, (du, _, _) = triplet_margin_loss(u, v, u.copy()), triplet_margin_grad(u, v, u.copy())
    for _ in range(20):
        h = 1e-4 * rng.standard_normal((1, 2))
        assert triplet_margin_loss(u + h, v, u) < value + np.sum(du * h)


def test_triplet_against_pytorch_at_a_zero_distance():
    """PyTorch adds eps to every coordinate of the difference before the norm.

    Measured with torch 2.13.0, TripletMarginLoss() in float64 at u = v+ = (1, 2, 3),
    v- = (1.5, 2, 3): loss 0.5000027320488076, gradient (1.5774, 0.5773, 0.5773) in the
    anchor and -0.5774 (1, 1, 1) in the positive.
    """
    u, v_neg = np.array([[1.0, 2.0, 3.0]]), np.array([[1.5, 2.0, 3.0]])
    eps = 1e-6
    # PyTorch's documented distance ||u - v + eps||, and its gradient (u - v + eps) / d.
    d_pos, d_neg = np.linalg.norm(eps * np.ones(3)), np.linalg.norm(u - v_neg + eps)
    assert d_pos - d_neg + 1.0 == pytest.approx(0.5000027320488076, rel=EXACT_RTOL)
    torch_du = eps * np.ones(3) / d_pos - (u - v_neg + eps) / d_neg
    np.testing.assert_allclose(torch_du, [[1.5774, 0.5773, 0.5773]], atol=1e-4)
    # Ours: d+ = 0 exactly, and eq. (5) gives d+ the subgradient 0.
    assert triplet_margin_loss(u, u.copy(), v_neg) == 0.5
    du, dpos, _ = triplet_margin_grad(u, u.copy(), v_neg)
    np.testing.assert_allclose(du, [[1.0, 0.0, 0.0]], rtol=EXACT_RTOL, atol=EXACT_ATOL)
    np.testing.assert_array_equal(dpos, 0.0)
    # The gradients differ by the unit vector (1, 1, 1) / sqrt 3: by 1, not by about eps.
    assert np.linalg.norm(torch_du - du) == pytest.approx(1.0, rel=1e-5)


def test_triplet_accepts_a_margin_of_zero():
    # PyTorch refuses margin <= 0; here margin = 0 asks only for d+ <= d-: d+ = 5, d- = 1.
    u, v_pos, v_neg = np.zeros((1, 2)), np.array([[3.0, 4.0]]), np.array([[0.0, 1.0]])
    assert triplet_margin_loss(u, v_pos, v_neg, margin=0.0) == pytest.approx(4.0, rel=EXACT_RTOL)
    assert triplet_margin_loss(u, v_neg, v_pos, margin=0.0) == 0.0


# ------------------------------------------------------------------------ extreme inputs

@pytest.mark.parametrize("scale", EXTREME_SCALES)
def test_losses_are_finite_and_warning_free_at_extreme_scales(rng, scale):
    # filterwarnings = error turns any overflow, underflow-to-nan or divide warning into a failure.
    u, v, w = (rng.standard_normal((4, 3)) for _ in range(3))
    y = np.array([1.0, -1.0, 1.0, -1.0])
    expected = cosine_embedding_loss(u, v, y)
    assert cosine_embedding_loss(scale * u, scale * v, y) == pytest.approx(expected, rel=1e-12)
    for g in cosine_embedding_grad(scale * u, scale * v, y):
        assert np.all(np.isfinite(g))
    loss = triplet_margin_loss(scale * u, scale * v, scale * w)
    assert np.isfinite(loss)
    for g in triplet_margin_grad(scale * u, scale * v, scale * w):
        assert np.all(np.isfinite(g))


@pytest.mark.parametrize("scale", [1e-300, 1e150])
def test_contrastive_is_finite_while_the_squared_distance_fits(rng, scale):
    u, v = pairs(rng, 4, 3)
    y = np.array([1.0, 0.0, 1.0, 0.0])
    assert np.isfinite(contrastive_loss(scale * u, scale * v, y))
    for g in contrastive_grad(scale * u, scale * v, y):
        assert np.all(np.isfinite(g))


# ---------------------------------------------------------------------------- bad inputs

ONE = np.ones((1, 2))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: cosine_similarity(np.ones(2), np.ones(2)), r"first embeddings must be a non-empty \(m, n\)"),
        (lambda: cosine_similarity(ONE, np.ones((2, 2))), r"second embeddings must have the shape"),
        (lambda: cosine_similarity(ONE, [[np.nan, 1.0]]), r"second embeddings must be finite"),
        (lambda: cosine_similarity(np.zeros((0, 2)), np.zeros((0, 2))), r"non-empty"),
        (lambda: cosine_similarity([[0.0, 0.0]], ONE), r"zero vector; rows \[0\] have norm 0"),
        (lambda: cosine_similarity_grad(ONE, [[0.0, 0.0]]), r"zero vector"),
        (lambda: cosine_embedding_loss(ONE, ONE, [0]), r"labels must be in \{1\.0, -1\.0\}"),
        (lambda: cosine_embedding_loss(ONE, ONE, [1, 1]), r"y must have shape \(1,\)"),
        (lambda: cosine_embedding_grad(ONE, ONE, [1], margin=1.5),
         r"margin must be a finite number in \[-1\.0, 1\.0\], got 1\.5"),
        (lambda: distance(ONE, [[1.0]]), r"must have the shape of the first"),
        (lambda: distance_grad(ONE, [[np.inf, 0.0]]), r"must be finite"),
        (lambda: contrastive_loss(ONE, ONE, [-1]), r"labels must be in \{0\.0, 1\.0\}"),
        (lambda: contrastive_grad(ONE, ONE, [1], margin=-1.0),
         r"margin must be a finite number >= 0\.0, got -1\.0"),
        (lambda: contrastive_loss(ONE, ONE, [1], margin=np.nan), r"margin must be a finite number >= 0\.0"),
        (lambda: triplet_margin_loss(ONE, ONE, np.ones((1, 3))), r"third embeddings must have the shape"),
        (lambda: triplet_margin_grad(ONE, ONE, ONE, margin=-0.5), r"margin must be a finite number >= 0\.0"),
        # An infinite margin would give inf or nan; an array margin is not one number.
        (lambda: contrastive_loss(ONE, ONE, [0], margin=np.inf), r"margin must be a finite number"),
        (lambda: triplet_margin_loss(ONE, ONE, ONE, margin=np.inf), r"margin must be a finite"),
        (lambda: cosine_embedding_loss(ONE, ONE, [1], margin=np.zeros(2)), r"margin must be a"),
        (lambda: triplet_margin_grad(ONE, ONE, ONE, margin=[1.0]), r"margin must be a finite"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "losses/embeddings.md"

MU = 0.2


def _pairs(rng, m=6, n=3):
    U, V = rng.standard_normal((m, n)), rng.standard_normal((m, n))
    return U, V


def _cosine_envs(rng):
    U, V = _pairs(rng)
    dU, dV = cosine_similarity_grad(U, V)
    for i in range(2):
        u, v = U[i], V[i]
        yield {"u": u, "v": v, "n": 3, "m": 6, "c": float(cosine_similarity(U, V)[i]),
               "u_hat": u / np.linalg.norm(u), "v_hat": v / np.linalg.norm(v),
               "dc/du": dU[i], "dc/dv": dV[i], "U": U, "V": V,
               "C_all": cosine_similarity(U, V)}


def _cosine_batch_envs(rng):
    U, V = _pairs(rng)
    V[3] = U[3] + 0.05 * V[3]                  # a dissimilar pair that is very close: c > mu
    V[4] = -U[4] + 0.05 * V[4]                 # a dissimilar pair far apart: c <= mu
    y = np.array([1.0, -1.0, 1.0, -1.0, -1.0, 1.0])
    c = cosine_similarity(U, V)
    dU_c, _ = cosine_similarity_grad(U, V)
    du, dv = cosine_embedding_grad(U, V, y, MU)
    dloss_dc = np.where(y == 1.0, -1.0, np.where(c > MU, 1.0, 0.0))
    yield {"U": U, "V": V, "y": y, "c": c, "mu": MU, "m": 6, "dc/du": dU_c,
           "loss": np.array([cosine_embedding_loss(U[i:i + 1], V[i:i + 1], y[i:i + 1], MU)
                             for i in range(6)]),
           "Loss": cosine_embedding_loss(U, V, y, MU), "du": du, "dv": dv,
           "dloss/dc": dloss_dc}
    assert np.any((y == -1.0) & (c > MU)) and np.any((y == -1.0) & (c <= MU))


def _distance_envs(rng):
    U, V = _pairs(rng)
    V[2] = U[2]                                  # a pair at distance 0
    V[1] = U[1] + 0.1                            # a dissimilar pair closer than the margin
    d = distance(U, V)
    dd_du, dd_dv = distance_grad(U, V)
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.0, 1.0])
    du, dv = contrastive_grad(U, V, y, 1.5)
    unit = np.where(d[:, None] > 0, (U - V) / np.where(d > 0, d, 1.0)[:, None], 0.0)
    # the code's dl_i/dd_i, read back from its gradient: du_i = (1/m) dl_i/dd_i * unit_i
    dloss_dd = 6 * np.sum(du * unit, axis=1)
    yield {"U": U, "V": V, "d": d, "dd/du": dd_du, "dd/dv": dd_dv, "y": y, "mu": 1.5,
           "m": 6, "loss": np.array([contrastive_loss(U[i:i + 1], V[i:i + 1], y[i:i + 1], 1.5)
                                     for i in range(6)]),
           "du": du, "dv": dv, "dloss/dd": dloss_dd}


def _triplet_envs(rng):
    U, P = _pairs(rng)
    N = rng.standard_normal(U.shape)
    N[1] = U[1] + 10.0                            # an easy triplet: no loss, no gradient
    d_pos, d_neg = distance(U, P), distance(U, N)
    du, dp, dn = triplet_margin_grad(U, P, N, MU)
    yield {"U": U, "V+": P, "V-": N, "d+": d_pos, "d-": d_neg, "mu": MU, "m": 6,
           "loss": np.array([triplet_margin_loss(U[i:i + 1], P[i:i + 1], N[i:i + 1], MU)
                             for i in range(6)]),
           "h": (d_pos - d_neg + MU > 0).astype(float), "du": du, "dv+": dp, "dv-": dn,
           "E_hat+": (U - P) / d_pos[:, None], "E_hat-": (U - N) / d_neg[:, None]}


FORMULAS = {
    "cosine": Case(lambda rng: ({"U": e["U"], "V": e["V"], "m": 6, "c": e["C_all"]}
                                for e in _cosine_envs(rng))),
    "cosine-grad": Case(_cosine_envs),
    "cosine-embedding": Case(_cosine_batch_envs),
    "cosine-embedding-grad": Case(_cosine_batch_envs),
    "distance": Case(_distance_envs),
    "contrastive": Case(_distance_envs),
    "contrastive-grad": Case(_distance_envs),
    "triplet": Case(_triplet_envs),
    "triplet-grad": Case(_triplet_envs),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
