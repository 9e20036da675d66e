"""Tests for snippets/losses/classification.py (page docs/losses/classification.md)."""

from __future__ import annotations

import math
from functools import partial

import high_precision as hp
import numpy as np
import pytest

from snippets.losses.classification import (
    bce_grad,
    bce_loss,
    bce_with_logits_grad,
    bce_with_logits_loss,
    crammer_singer_grad,
    crammer_singer_loss,
    cross_entropy_grad,
    cross_entropy_loss,
    exponential_grad,
    exponential_loss,
    focal_grad,
    focal_loss,
    hinge_grad,
    hinge_loss,
    label_smoothing_grad,
    label_smoothing_loss,
    logistic_grad,
    logistic_loss,
    multiclass_focal_grad,
    multiclass_focal_loss,
    multilabel_bce_grad,
    multilabel_bce_loss,
    naive_cross_entropy_loss,
    naive_focal_loss,
    smoothed_targets,
    squared_hinge_grad,
    squared_hinge_loss,
    weston_watkins_grad,
    weston_watkins_loss,
)

from checks import EXACT_ATOL, EXACT_RTOL, assert_gradient
from formulas import Case, Dyn, formula_test

#: Numbers of examples: a single one, a few, and more than the 64 entries the checker
#: tests one by one (above that it checks random directions).
M_VALUES = [1, 3, 80]
#: (m, C) for the multi-class losses; C = 2 is the smallest number of classes.
MC_SHAPES = [(1, 2), (1, 5), (6, 2), (20, 4)]

#: |z| up to this is an "extreme" logit: exp(1e4) overflows float64 many times over.
Z_EXTREME = 1e4


def sigmoid(z):
    """Written out independently of the code under test (fine for |z| < 700)."""
    return 1.0 / (1.0 + np.exp(-z))


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def binary(rng, m):
    z = rng.normal(scale=2.0, size=m)
    y = rng.integers(0, 2, size=m).astype(float)
    return z, y


def multiclass(rng, m, C):
    return rng.normal(scale=2.0, size=(m, C)), rng.integers(0, C, size=m)


# ---------------------------------------------------------------- gradients (every loss)

def kinked(v):
    """Keep margins away from the kinks of hinge-type losses, where no derivative exists."""
    return v + np.where(np.abs(1.0 - np.abs(v)) < 1e-3, 0.01, 0.0)


BINARY_CASES = {
    "bce_with_logits": (bce_with_logits_loss, bce_with_logits_grad, {}),
    "focal": (focal_loss, focal_grad, {}),
    "focal gamma 0.5 no alpha": (focal_loss, focal_grad, {"gamma": 0.5, "alpha": None}),
}
SIGNED_CASES = {
    "logistic": (logistic_loss, logistic_grad),
    "hinge": (hinge_loss, hinge_grad),
    "squared_hinge": (squared_hinge_loss, squared_hinge_grad),
    "exponential": (exponential_loss, exponential_grad),
}
CLASS_CASES = {
    "cross_entropy": (cross_entropy_loss, cross_entropy_grad, {}),
    "label_smoothing eps 0.1": (label_smoothing_loss, label_smoothing_grad, {"epsilon": 0.1}),
    "label_smoothing 0.3": (label_smoothing_loss, label_smoothing_grad, {"epsilon": 0.3}),
    "multiclass_focal": (multiclass_focal_loss, multiclass_focal_grad, {}),
    "multiclass_focal gamma 0.5": (multiclass_focal_loss, multiclass_focal_grad, {"gamma": 0.5}),
    "weston_watkins": (weston_watkins_loss, weston_watkins_grad, {}),
    "crammer_singer": (crammer_singer_loss, crammer_singer_grad, {}),
}


@pytest.mark.parametrize("m", M_VALUES)
def test_bce_on_probabilities_gradient(rng, m):
    p = rng.uniform(0.05, 0.95, size=m)
    y = rng.integers(0, 2, size=m).astype(float)
    assert_gradient(lambda v: bce_loss(v, y), bce_grad(p, y), p, rng)
    soft = rng.uniform(0.0, 1.0, size=m)          # soft targets in [0, 1] are allowed
    assert_gradient(lambda v: bce_loss(v, soft), bce_grad(p, soft), p, rng)


@pytest.mark.parametrize("m", M_VALUES)
@pytest.mark.parametrize("name", BINARY_CASES)
def test_binary_logit_gradients(rng, m, name):
    loss, grad, kw = BINARY_CASES[name]
    z, y = binary(rng, m)
    assert_gradient(lambda v: loss(v, y, **kw), grad(z, y, **kw), z, rng)


@pytest.mark.parametrize("m", M_VALUES)
@pytest.mark.parametrize("name", SIGNED_CASES)
def test_signed_label_gradients(rng, m, name):
    loss, grad = SIGNED_CASES[name]
    z = kinked(rng.normal(scale=2.0, size=m))
    y = rng.choice([-1.0, 1.0], size=m)
    z = y * kinked(y * z)                          # the margin y z away from 1
    assert_gradient(lambda v: loss(v, y), grad(z, y), z, rng)


@pytest.mark.parametrize("m,C", MC_SHAPES)
def test_multilabel_gradient(rng, m, C):
    z = rng.normal(scale=2.0, size=(m, C))
    y = rng.integers(0, 2, size=(m, C)).astype(float)
    g = multilabel_bce_grad(z, y)
    assert g.shape == (m, C)
    assert_gradient(lambda v: multilabel_bce_loss(v, y), g, z, rng)


@pytest.mark.parametrize("m,C", MC_SHAPES)
@pytest.mark.parametrize("name", CLASS_CASES)
def test_multiclass_gradients(rng, m, C, name):
    loss, grad, kw = CLASS_CASES[name]
    z, y = multiclass(rng, m, C)
    g = grad(z, y, **kw)
    assert g.shape == (m, C)
    assert_gradient(lambda v: loss(v, y, **kw), g, z, rng)


@pytest.mark.parametrize("m,C", [(1, 2), (30, 3)])
def test_focal_gradient_on_a_matrix_of_binary_labels(rng, m, C):
    z = rng.normal(scale=2.0, size=(m, C))
    y = rng.integers(0, 2, size=(m, C)).astype(float)
    assert_gradient(lambda v: focal_loss(v, y), focal_grad(z, y), z, rng)


# ------------------------------------------------------------------ binary cross-entropy

def test_bce_known_values():
    # -(log 0.8 + log 0.6) / 2; gradient (p - y) / (p (1 - p)) / m:
    # (0.8 - 1) / (0.8 * 0.2) / 2 = -0.625 and 0.4 / (0.4 * 0.6) / 2 = 5/6.
    assert bce_loss([0.8, 0.4], [1, 0]) == pytest.approx(-(np.log(0.8) + np.log(0.6)) / 2,
                                                          rel=EXACT_RTOL)
    np.testing.assert_allclose(bce_grad([0.8, 0.4], [1, 0]), [-0.625, 5 / 6], rtol=EXACT_RTOL)


def test_bce_stays_finite_where_the_probability_approaches_its_label():
    """Near p = y in {0, 1} the loss tends to 0 and the derivative to -1 (y = 1) or +1 (y = 0);
    only towards the opposite end do both grow without bound."""
    h = 1e-12
    assert bce_loss([1.0 - h], [1]) == pytest.approx(h, rel=1e-3, abs=0.0)
    assert bce_grad([1.0 - h], [1])[0] == pytest.approx(-1.0, rel=1e-9)
    assert bce_grad([h], [0])[0] == pytest.approx(1.0, rel=1e-9)
    assert bce_loss([h], [1]) == pytest.approx(-np.log(h), rel=EXACT_RTOL)
    assert bce_grad([h], [1])[0] == pytest.approx(-1.0 / h, rel=1e-9)


def test_bce_gradient_simplification_step(rng):
    """Eq. (2): the two-term derivative equals the single fraction."""
    p = rng.uniform(0.01, 0.99, size=50)
    y = rng.uniform(0.0, 1.0, size=50)
    two_terms = (-y / p + (1.0 - y) / (1.0 - p)) / 50
    np.testing.assert_allclose(bce_grad(p, y), two_terms, rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_bce_with_logits_known_values():
    # z = 0: log 2 whatever the label, gradient (1/2 - 1) / 1.
    assert bce_with_logits_loss([0.0], [1]) == pytest.approx(np.log(2.0), rel=EXACT_RTOL)
    assert bce_with_logits_grad([0.0], [1])[0] == -0.5
    # z = ln 3, soft target 0.3: sigma = 3/4, loss log(1 + 3) - 0.3 ln 3, gradient 0.45.
    z = np.log(3.0)
    assert bce_with_logits_loss([z], [0.3]) == pytest.approx(np.log(4.0) - 0.3 * z, rel=EXACT_RTOL)
    assert bce_with_logits_grad([z], [0.3])[0] == pytest.approx(0.45, rel=EXACT_RTOL)


def test_bce_with_logits_equals_bce_of_the_sigmoid(rng):
    """Eq. (3) is eq. (1) at p = sigma(z); eq. (4) is eq. (2) times sigma'(z) (chain rule)."""
    z = rng.uniform(-8.0, 8.0, size=40)
    y = rng.uniform(0.0, 1.0, size=40)
    p = sigmoid(z)
    assert bce_with_logits_loss(z, y) == pytest.approx(bce_loss(p, y), rel=1e-12)
    chain = bce_grad(p, y) * p * (1.0 - p)
    np.testing.assert_allclose(bce_with_logits_grad(z, y), chain, rtol=1e-10, atol=EXACT_ATOL)


def test_multilabel_is_bce_over_all_entries(rng):
    """Eq. (5) is eq. (3) over the m C entries; eq. (6) is eq. (4) with mC in place of m."""
    z = rng.normal(size=(7, 3))
    y = rng.integers(0, 2, size=(7, 3)).astype(float)
    assert multilabel_bce_loss(z, y) == pytest.approx(bce_with_logits_loss(z.ravel(), y.ravel()),
                                                      rel=EXACT_RTOL)
    np.testing.assert_allclose(multilabel_bce_grad(z, y).ravel(),
                               bce_with_logits_grad(z.ravel(), y.ravel()), rtol=EXACT_RTOL)
    # Known value: every logit 0 costs log 2 per label.
    assert multilabel_bce_loss(np.zeros((2, 3)), np.eye(2, 3)) == pytest.approx(np.log(2.0))
    # Soft labels in [0, 1], as eq. (5) and the frameworks accept them: the same relation.
    soft = rng.uniform(0.0, 1.0, size=(7, 3))
    assert multilabel_bce_loss(z, soft) == pytest.approx(
        bce_with_logits_loss(z.ravel(), soft.ravel()), rel=EXACT_RTOL)
    np.testing.assert_allclose(multilabel_bce_grad(z, soft).ravel(),
                               bce_with_logits_grad(z.ravel(), soft.ravel()), rtol=EXACT_RTOL)
    assert_gradient(lambda v: multilabel_bce_loss(v, soft), multilabel_bce_grad(z, soft), z, rng)


# ---------------------------------------------------------------- categorical cross-entropy

#: softmax(0, ln 2, ln 3) = (1, 2, 3) / 6, a row whose probabilities are easy to write.
Z_SIXTHS = np.log([[1.0, 2.0, 3.0]])


def test_cross_entropy_known_values():
    # True class 2 has probability 1/2: loss ln 2, gradient p - e_y = (1/6, 1/3, -1/2).
    assert cross_entropy_loss(Z_SIXTHS, [2]) == pytest.approx(np.log(2.0), rel=EXACT_RTOL)
    np.testing.assert_allclose(cross_entropy_grad(Z_SIXTHS, [2]), [[1 / 6, 1 / 3, -1 / 2]],
                               rtol=EXACT_RTOL)


def test_cross_entropy_takes_indices_or_one_hot_rows(rng):
    z, y = multiclass(rng, 9, 4)
    Y = np.eye(4)[y]
    assert cross_entropy_loss(z, y) == cross_entropy_loss(z, Y)
    assert cross_entropy_loss(z, y.astype(float)) == cross_entropy_loss(z, y)
    np.testing.assert_array_equal(cross_entropy_grad(z, y), cross_entropy_grad(z, Y))
    # Eq. (7) term by term: minus the log of the softmax at the true class.
    expected = -np.mean(np.log(softmax(z)[np.arange(9), y]))
    assert cross_entropy_loss(z, y) == pytest.approx(expected, rel=EXACT_RTOL)


def test_cross_entropy_with_two_classes_is_bce_of_the_logit_difference(rng):
    z, y = multiclass(rng, 12, 2)
    d = z[:, 1] - z[:, 0]
    assert cross_entropy_loss(z, y) == pytest.approx(bce_with_logits_loss(d, y), rel=1e-12)
    g = cross_entropy_grad(z, y)
    np.testing.assert_allclose(g[:, 1], bce_with_logits_grad(d, y), rtol=1e-12, atol=EXACT_ATOL)
    np.testing.assert_allclose(g[:, 0], -g[:, 1], rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_naive_cross_entropy_fails_where_the_stable_one_is_exact():
    z = np.array([[1000.0, 0.0]])
    with pytest.warns(RuntimeWarning):
        naive = naive_cross_entropy_loss(z, [1])
    assert np.isnan(naive)
    # The true loss is log(e^1000 + 1) - 0, about 1000.
    assert cross_entropy_loss(z, [1]) == pytest.approx(1000.0, rel=EXACT_RTOL)
    zs = np.array([[0.3, -1.2, 2.0]])
    assert naive_cross_entropy_loss(zs, [0]) == pytest.approx(cross_entropy_loss(zs, [0]), rel=1e-14)


#: Rows of logits with a large margin, and a true class: the largest logit right (the loss
#: is about e^-margin, far below the rounding unit of log 1), or wrong (about the margin);
#: a tie at the maximum; and a largest logit that is not the first entry.
LARGE_MARGIN_ROWS = [
    *[((a, 0.0), y) for a in (40.0, 100.0, 800.0) for y in (0, 1)],
    ((0.0, 45.0), 1),
    ((50.0, 50.0, 0.0), 0),
    ((60.0, 21.0, 0.0), 0),
]


@pytest.mark.parametrize("row, y", LARGE_MARGIN_ROWS)
@pytest.mark.parametrize("name", ["cross_entropy", "label_smoothing 0", "label_smoothing 0.1",
                                  "multiclass_focal", "multiclass_focal gamma 0.5"])
def test_softmax_losses_keep_their_digits_at_large_margins(row, y, name):
    """Against 420-digit arithmetic: every entry of loss and gradient to float64 precision."""
    loss, grad, reference = {
        "cross_entropy": (cross_entropy_loss, cross_entropy_grad, hp.cross_entropy(y)),
        "label_smoothing 0": (partial(label_smoothing_loss, epsilon=0.0),
                              partial(label_smoothing_grad, epsilon=0.0),
                              hp.label_smoothing(y, 0.0)),
        "label_smoothing 0.1": (partial(label_smoothing_loss, epsilon=0.1),
                                partial(label_smoothing_grad, epsilon=0.1),
                                hp.label_smoothing(y, 0.1)),
        "multiclass_focal": (multiclass_focal_loss, multiclass_focal_grad,
                             hp.multiclass_focal(y, 2.0)),
        "multiclass_focal gamma 0.5": (partial(multiclass_focal_loss, gamma=0.5),
                                       partial(multiclass_focal_grad, gamma=0.5),
                                       hp.multiclass_focal(y, 0.5)),
    }[name]
    value, gradient = hp.value_and_gradient(reference, row)
    z = np.array([row])
    assert loss(z, [y]) == pytest.approx(value, rel=EXACT_RTOL, abs=0.0)
    np.testing.assert_allclose(grad(z, [y])[0], gradient, rtol=EXACT_RTOL, atol=0.0)


@pytest.mark.parametrize("z", [40.0, -40.0, 100.0, -100.0, 800.0, -800.0, 2.0])
@pytest.mark.parametrize("y", [0.0, 1.0, 0.3])
def test_binary_cross_entropy_on_logits_keeps_its_digits_at_large_margins(z, y):
    """Against 420-digit arithmetic, also where log(1 + e^z) - y z would cancel to 0."""
    value, gradient = hp.value_and_gradient(hp.binary_cross_entropy(y), [z])
    assert bce_with_logits_loss([z], [y]) == pytest.approx(value, rel=EXACT_RTOL, abs=0.0)
    np.testing.assert_allclose(bce_with_logits_grad([z], [y]), gradient, rtol=EXACT_RTOL,
                               atol=0.0)
    assert multilabel_bce_loss([[z]], [[y]]) == pytest.approx(value, rel=EXACT_RTOL, abs=0.0)
    np.testing.assert_allclose(multilabel_bce_grad([[z]], [[y]])[0], gradient,
                               rtol=EXACT_RTOL, atol=0.0)


def test_cross_entropy_at_margin_40_is_not_rounded_to_zero():
    """The case of the text: log(1 + e^-40) is 4.25e-18, and log of 1 + 4.25e-18 rounds to 0."""
    z = np.array([[40.0, 0.0]])
    assert cross_entropy_loss(z, [0]) == pytest.approx(math.exp(-40.0), rel=EXACT_RTOL, abs=0.0)
    # The focal loss is (1 - p_y)^2 (-log p_y), about e^-120 = 7.67e-53, not 0.
    assert multiclass_focal_loss(z, [0]) == pytest.approx(math.exp(-120.0), rel=1e-15, abs=0.0)


# ----------------------------------------------------------------------- label smoothing

def test_label_smoothing_known_values():
    # epsilon = 0.3, C = 3, y = 2: q = 0.7 e_2 + 0.1 = (0.1, 0.1, 0.8); p = (1, 2, 3) / 6.
    q = smoothed_targets([2], 3, epsilon=0.3)
    np.testing.assert_allclose(q, [[0.1, 0.1, 0.8]], rtol=EXACT_RTOL)
    expected = -(0.1 * np.log(1 / 6) + 0.1 * np.log(1 / 3) + 0.8 * np.log(1 / 2))
    assert label_smoothing_loss(Z_SIXTHS, [2], epsilon=0.3) == pytest.approx(expected, rel=EXACT_RTOL)
    np.testing.assert_allclose(label_smoothing_grad(Z_SIXTHS, [2], epsilon=0.3),
                               [[1 / 6 - 0.1, 1 / 3 - 0.1, 1 / 2 - 0.8]], rtol=EXACT_RTOL)


def test_label_smoothing_with_epsilon_zero_is_cross_entropy(rng):
    z, y = multiclass(rng, 10, 4)
    assert label_smoothing_loss(z, y, epsilon=0.0) == cross_entropy_loss(z, y)
    np.testing.assert_array_equal(label_smoothing_grad(z, y, epsilon=0.0), cross_entropy_grad(z, y))


def test_label_smoothing_is_off_by_default_as_in_the_frameworks(rng):
    # PyTorch's CrossEntropyLoss and Keras's CategoricalCrossentropy default to 0.
    z, y = multiclass(rng, 6, 3)
    assert label_smoothing_loss(z, y) == cross_entropy_loss(z, y)
    np.testing.assert_array_equal(label_smoothing_grad(z, y), cross_entropy_grad(z, y))
    np.testing.assert_array_equal(smoothed_targets(y, 3), np.eye(3)[y])
    # Measured with torch 2.13.0: CrossEntropyLoss(label_smoothing=0.3) at logits
    # log(1, 2, 3) and class 2 gives 0.8435549202375725, the value of eq. (9).
    assert label_smoothing_loss(Z_SIXTHS, [2], epsilon=0.3) == pytest.approx(
        0.8435549202375725, rel=EXACT_RTOL)


def test_label_smoothing_splits_into_cross_entropy_and_a_uniform_term(rng):
    """(1 - eps) CE + eps times the mean over classes of -log p: the decomposition in the text."""
    z, y = multiclass(rng, 10, 5)
    uniform = np.mean(-np.mean(np.log(softmax(z)), axis=1))
    expected = 0.9 * cross_entropy_loss(z, y) + 0.1 * uniform
    assert label_smoothing_loss(z, y, epsilon=0.1) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(smoothed_targets(y, 5, 0.1).sum(axis=1), 1.0, rtol=EXACT_RTOL)


# ---------------------------------------------------------------------------- focal loss

def test_focal_known_values():
    # z = 0, y = 1, alpha = 0.25, gamma = 2: p_t = 1/2, loss 0.25 * (1/2)^2 * ln 2.
    assert focal_loss([0.0], [1]) == pytest.approx(0.0625 * np.log(2.0), rel=EXACT_RTOL)
    # dl/ds = alpha u^gamma (gamma p_t log p_t - u) = 0.0625 (-ln 2 - 1/2), ds/dz = +1.
    assert focal_grad([0.0], [1])[0] == pytest.approx(0.0625 * (-np.log(2.0) - 0.5), rel=EXACT_RTOL)
    # y = 0 takes weight 1 - alpha = 0.75 and flips the sign of the gradient.
    assert focal_loss([0.0], [0]) == pytest.approx(0.1875 * np.log(2.0), rel=EXACT_RTOL)
    assert focal_grad([0.0], [0])[0] == pytest.approx(-0.1875 * (-np.log(2.0) - 0.5), rel=EXACT_RTOL)


def test_focal_with_gamma_zero_and_no_alpha_is_bce(rng):
    z, y = binary(rng, 25)
    assert focal_loss(z, y, alpha=None, gamma=0.0) == pytest.approx(bce_with_logits_loss(z, y),
                                                                    rel=EXACT_RTOL)
    np.testing.assert_allclose(focal_grad(z, y, alpha=None, gamma=0.0), bce_with_logits_grad(z, y),
                               rtol=1e-12, atol=EXACT_ATOL)
    # With alpha and gamma = 0 it is BCE with weight alpha on positives, 1 - alpha on negatives.
    weights = np.where(y == 1, 0.25, 0.75)
    per_example = np.logaddexp(0.0, z) - y * z
    assert focal_loss(z, y, gamma=0.0) == pytest.approx(np.mean(weights * per_example), rel=1e-12)


def test_focal_down_weights_easy_examples():
    # Easy positive (z = 3, p_t = 0.95): the factor (1 - p_t)^2 ~ 0.0023 shrinks the loss
    # far more than for a hard one (z = -3, factor ~ 0.91).
    easy = focal_loss([3.0], [1], alpha=None) / bce_with_logits_loss([3.0], [1])
    hard = focal_loss([-3.0], [1], alpha=None) / bce_with_logits_loss([-3.0], [1])
    assert easy == pytest.approx((1 - sigmoid(3.0)) ** 2, rel=1e-12)
    assert hard == pytest.approx((1 - sigmoid(-3.0)) ** 2, rel=1e-12)


def test_focal_gradient_chain_rule_step(rng):
    """Eq. (12): (dl/dp_t)(dp_t/ds)(ds/dz) equals the simplified form the code computes."""
    z, y = binary(rng, 30)
    gamma, alpha = 2.0, 0.25
    sign = 2 * y - 1
    p_t = sigmoid(sign * z)
    u = 1 - p_t
    alpha_t = np.where(y == 1, alpha, 1 - alpha)
    dl_dpt = -alpha_t * (-gamma * u ** (gamma - 1) * np.log(p_t) + u ** gamma / p_t)
    chain = dl_dpt * (p_t * u) * sign / 30
    np.testing.assert_allclose(focal_grad(z, y, alpha=alpha, gamma=gamma), chain,
                               rtol=1e-10, atol=EXACT_ATOL)


def test_naive_focal_agrees_for_moderate_logits_and_fails_for_large_ones(rng):
    z, y = binary(rng, 20)
    assert naive_focal_loss(z, y) == pytest.approx(focal_loss(z, y), rel=1e-12)
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        naive = naive_focal_loss([40.0], [0])
    assert naive == np.inf
    # The true loss: 0.75 * (1 - p_t)^2 * softplus(40) with 1 - p_t = sigma(40) ~ 1: about 30.
    assert focal_loss([40.0], [0]) == pytest.approx(0.75 * sigmoid(40.0) ** 2 * 40.0, rel=1e-12)


def test_focal_losses_match_the_documented_keras_formulas(rng):
    """Keras's documented focal losses, written out on probabilities: the conversions stated
    on the page (no alpha by default in the binary one, a scalar alpha in the other)."""
    z, y = binary(rng, 20)
    p = sigmoid(z)
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    focal_factor = np.where(y == 1, (1 - p) ** 2, p**2)
    keras_binary = np.mean(focal_factor * bce)                       # apply_class_balancing=False
    assert focal_loss(z, y, alpha=None) == pytest.approx(keras_binary, rel=1e-12)
    balanced = np.mean(np.where(y == 1, 0.25, 0.75) * focal_factor * bce)   # ... =True
    assert focal_loss(z, y) == pytest.approx(balanced, rel=1e-12)
    z, y = multiclass(rng, 12, 4)
    P, Y = softmax(z), np.eye(4)[y]
    keras_categorical = np.mean(np.sum(0.25 * Y * (1 - P) ** 2 * -np.log(P), axis=1))
    assert 0.25 * multiclass_focal_loss(z, y) == pytest.approx(keras_categorical, rel=1e-12)


def test_multiclass_focal_known_value():
    # p = (1, 2, 3) / 6, y = 2: p_y = 1/2, loss (1/2)^2 * ln 2.
    assert multiclass_focal_loss(Z_SIXTHS, [2]) == pytest.approx(0.25 * np.log(2.0), rel=EXACT_RTOL)


def test_multiclass_focal_with_gamma_zero_is_cross_entropy(rng):
    z, y = multiclass(rng, 10, 4)
    assert multiclass_focal_loss(z, y, gamma=0.0) == pytest.approx(cross_entropy_loss(z, y),
                                                                   rel=1e-12)
    np.testing.assert_allclose(multiclass_focal_grad(z, y, gamma=0.0), cross_entropy_grad(z, y),
                               rtol=1e-10, atol=EXACT_ATOL)


def test_multiclass_focal_with_two_classes_is_binary_focal_without_alpha(rng):
    z, y = multiclass(rng, 15, 2)
    d = z[:, 1] - z[:, 0]
    assert multiclass_focal_loss(z, y) == pytest.approx(focal_loss(d, y, alpha=None), rel=1e-12)
    np.testing.assert_allclose(multiclass_focal_grad(z, y)[:, 1], focal_grad(d, y, alpha=None),
                               rtol=1e-10, atol=EXACT_ATOL)


def test_multiclass_focal_gradient_chain_rule_step(rng):
    """Eq. (14): g (e_y - p) with g = gamma (1 - p_y)^(gamma - 1) p_y log p_y - (1 - p_y)^gamma."""
    z, y = multiclass(rng, 12, 4)
    for gamma in (0.5, 2.0, 3.0):
        p = softmax(z)
        p_y = p[np.arange(12), y]
        g = gamma * (1 - p_y) ** (gamma - 1) * p_y * np.log(p_y) - (1 - p_y) ** gamma
        expected = g[:, None] * (np.eye(4)[y] - p) / 12
        np.testing.assert_allclose(multiclass_focal_grad(z, y, gamma=gamma), expected,
                                   rtol=1e-10, atol=EXACT_ATOL)


# ------------------------------------------------------------- margin losses, y in {-1, 1}

def test_logistic_is_bce_with_logits_for_zero_one_labels(rng):
    z = rng.normal(scale=3.0, size=30)
    y = rng.choice([-1.0, 1.0], size=30)
    assert logistic_loss(z, y) == pytest.approx(bce_with_logits_loss(z, (y + 1) / 2), rel=1e-12)
    np.testing.assert_allclose(logistic_grad(z, y), bce_with_logits_grad(z, (y + 1) / 2),
                               rtol=1e-12, atol=EXACT_ATOL)


def test_logistic_known_values():
    assert logistic_loss([0.0], [-1]) == pytest.approx(np.log(2.0), rel=EXACT_RTOL)
    # z = 2, y = -1: log(1 + e^2), gradient -y sigma(-y z) = sigma(2).
    assert logistic_loss([2.0], [-1]) == pytest.approx(np.log1p(np.exp(2.0)), rel=EXACT_RTOL)
    assert logistic_grad([2.0], [-1])[0] == pytest.approx(sigmoid(2.0), rel=EXACT_RTOL)


def test_hinge_known_values_and_subgradient_at_the_kink():
    # Margins 0.5, 2, -1: losses 0.5, 0, 2, mean 2.5 / 3.
    z, y = np.array([0.5, -2.0, 1.0]), np.array([1.0, -1.0, -1.0])
    assert hinge_loss(z, y) == pytest.approx(2.5 / 3, rel=EXACT_RTOL)
    np.testing.assert_allclose(hinge_grad(z, y), np.array([-1.0, 0.0, 1.0]) / 3, rtol=EXACT_RTOL)
    # Exactly on the margin, y z = 1: the code returns the subgradient 0 ...
    np.testing.assert_array_equal(hinge_grad([1.0, -1.0], [1.0, -1.0]), [0.0, 0.0])
    # ... which lies between the one-sided derivatives -y (from below) and 0 (from above).
    h = 1e-6
    left = (hinge_loss([1.0], [1]) - hinge_loss([1.0 - h], [1])) / h
    right = (hinge_loss([1.0 + h], [1]) - hinge_loss([1.0], [1])) / h
    assert left == pytest.approx(-1.0, rel=1e-6) and right == 0.0


def test_squared_hinge_is_hinge_squared(rng):
    for zi, yi in zip(rng.normal(scale=2.0, size=20), rng.choice([-1.0, 1.0], size=20), strict=True):
        h = hinge_loss([zi], [yi])
        assert squared_hinge_loss([zi], [yi]) == pytest.approx(h ** 2, rel=EXACT_RTOL, abs=0.0)
        # Chain rule: d(h^2)/dz = 2 h dh/dz, and at the kink both sides give 0.
        assert squared_hinge_grad([zi], [yi])[0] == pytest.approx(2 * h * hinge_grad([zi], [yi])[0],
                                                                  rel=EXACT_RTOL, abs=0.0)
    np.testing.assert_array_equal(squared_hinge_grad([1.0], [1.0]), [0.0])


def test_exponential_known_values_and_overflow():
    # z = ln 2, y = -1: e^{ln 2} = 2, gradient -y e^{-yz} = 2.
    assert exponential_loss([np.log(2.0)], [-1]) == pytest.approx(2.0, rel=EXACT_RTOL)
    assert exponential_grad([np.log(2.0)], [-1])[0] == pytest.approx(2.0, rel=EXACT_RTOL)
    assert exponential_loss([0.0], [1]) == 1.0
    # e^709 is finite, e^710 is not: the loss raises instead of returning inf.
    assert np.isfinite(exponential_loss([-709.0], [1]))
    assert exponential_loss([Z_EXTREME], [1]) == 0.0
    with pytest.raises(ValueError, match="overflows float64"):
        exponential_loss([-710.0], [1])
    with pytest.raises(ValueError, match="overflows float64"):
        exponential_grad([Z_EXTREME], [-1])


# ---------------------------------------------------------------------- multi-class hinge

def test_multiclass_hinge_known_values():
    z = np.array([[1.0, 2.0, 3.0]])
    # y = 0: Weston-Watkins (1 + 2 - 1) + (1 + 3 - 1) = 5; Crammer-Singer 1 + 3 - 1 = 3.
    assert weston_watkins_loss(z, [0]) == 5.0
    np.testing.assert_array_equal(weston_watkins_grad(z, [0]), [[-2.0, 1.0, 1.0]])
    assert crammer_singer_loss(z, [0]) == 3.0
    np.testing.assert_array_equal(crammer_singer_grad(z, [0]), [[-1.0, 0.0, 1.0]])
    # y = 2: margins 3 - 1 = 2 and 3 - 2 = 1 are both >= 1, no loss, no gradient.
    assert weston_watkins_loss(z, [2]) == 0.0 and crammer_singer_loss(z, [2]) == 0.0
    np.testing.assert_array_equal(weston_watkins_grad(z, [2]), 0.0)
    np.testing.assert_array_equal(crammer_singer_grad(z, [2]), 0.0)


def test_multiclass_hinge_subgradients_at_ties():
    # Class 1 sits exactly on the margin (1 + 2 - 3 = 0): the term is inactive, gradient 0.
    np.testing.assert_array_equal(weston_watkins_grad([[1.0, 2.0, 3.0]], [2]), [[0.0, 0.0, 0.0]])
    # Two wrong classes tie for the largest logit: Crammer-Singer puts the +1 on the first.
    np.testing.assert_array_equal(crammer_singer_grad([[0.0, 2.0, 2.0]], [0]), [[-1.0, 1.0, 0.0]])
    # Weston-Watkins counts both.
    np.testing.assert_array_equal(weston_watkins_grad([[0.0, 2.0, 2.0]], [0]), [[-2.0, 1.0, 1.0]])


def test_multiclass_hinges_with_two_classes_are_the_binary_hinge(rng):
    z, y = multiclass(rng, 20, 2)
    d, s = z[:, 1] - z[:, 0], 2.0 * y - 1.0
    for loss in (weston_watkins_loss, crammer_singer_loss):
        assert loss(z, y) == pytest.approx(hinge_loss(d, s), rel=1e-12)


def test_weston_watkins_bounds_crammer_singer(rng):
    z, y = multiclass(rng, 20, 5)
    assert crammer_singer_loss(z, y) <= weston_watkins_loss(z, y)
    # A larger margin only adds loss.
    assert weston_watkins_loss(z, y, margin=2.0) >= weston_watkins_loss(z, y)


# ------------------------------------------------------------------------ extreme inputs

@pytest.mark.parametrize("z", [-Z_EXTREME, -1000.0, 1000.0, Z_EXTREME])
def test_logit_losses_are_finite_and_warning_free_at_extreme_logits(z):
    # filterwarnings = error turns any overflow, divide or invalid warning into a failure.
    zs, y01, ypm = np.array([z, z]), np.array([0.0, 1.0]), np.array([-1.0, 1.0])
    results = [
        bce_with_logits_loss(zs, y01), bce_with_logits_grad(zs, y01),
        focal_loss(zs, y01), focal_grad(zs, y01),
        focal_loss(zs, y01, gamma=0.5, alpha=None), focal_grad(zs, y01, gamma=0.5, alpha=None),
        logistic_loss(zs, ypm), logistic_grad(zs, ypm),
        hinge_loss(zs, ypm), squared_hinge_loss(zs, ypm), squared_hinge_grad(zs, ypm),
        multilabel_bce_loss(zs[None, :], y01[None, :]), multilabel_bce_grad(zs[None, :], y01[None, :]),
    ]
    Z = np.array([[z, 0.0, -z], [-z, 0.0, z]])
    smoothing = (partial(label_smoothing_loss, epsilon=0.1), partial(label_smoothing_grad, epsilon=0.1))
    for loss, grad in [(cross_entropy_loss, cross_entropy_grad), smoothing,
                       (multiclass_focal_loss, multiclass_focal_grad),
                       (weston_watkins_loss, weston_watkins_grad),
                       (crammer_singer_loss, crammer_singer_grad)]:
        results += [loss(Z, [0, 0]), grad(Z, [0, 0])]
    results += [multiclass_focal_loss(Z, [0, 0], gamma=0.5), multiclass_focal_grad(Z, [0, 0], gamma=0.5)]
    for r in results:
        assert np.all(np.isfinite(r))
    # One of the two labels is right (loss ~ 0), the other costs about |z|.
    assert bce_with_logits_loss(zs, y01) == pytest.approx(abs(z) / 2, rel=1e-12)
    assert logistic_loss(zs, ypm) == pytest.approx(abs(z) / 2, rel=1e-12)
    # A confidently wrong focal example: p_t ~ 0, weight 1, loss alpha_t |z|.
    wrong_weight = 0.75 if z > 0 else 0.25
    assert focal_loss(zs, y01) == pytest.approx(wrong_weight * abs(z) / 2, rel=1e-12)


# ---------------------------------------------------------------------------- bad inputs

@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: bce_loss([0.0, 0.5], [0, 1]), r"strictly between 0 and 1.*bce_with_logits_loss"),
        (lambda: bce_grad([0.5], [1.5]), r"targets y must lie in \[0, 1\]"),
        (lambda: bce_loss([[0.5]], [[1]]), r"p must be a non-empty array of shape \(m,\), got"),
        (lambda: bce_with_logits_loss([], []), r"non-empty array of shape \(m,\)"),
        (lambda: bce_with_logits_grad([1.0, 2.0], [1.0]), r"y must have the shape of z, \(2,\)"),
        (lambda: bce_with_logits_loss([np.nan], [1]), r"z must be finite"),
        (lambda: bce_with_logits_loss([1.0], [np.inf]), r"y must be finite"),
        (lambda: multilabel_bce_loss([1.0], [1]), r"shape \(m, C\), got shape \(1,\)"),
        (lambda: multilabel_bce_grad([[1.0]], [[1.5]]), r"targets y must lie in \[0, 1\], got min 1\.5"),
        # Eq. (11) is defined for hard labels: the focal loss refuses soft ones.
        (lambda: focal_loss([1.0], [0.5]), r"labels must be in \{0\.0, 1\.0\}, got \[0\.5\]"),
        (lambda: focal_loss(np.ones((1, 1, 1)), np.ones((1, 1, 1))), r"\(m,\) or \(m, C\)"),
        (lambda: focal_grad([1.0], [1], alpha=1.5), r"alpha must be None or a number in \[0, 1\]"),
        (lambda: focal_grad([1.0], [1], gamma=-1.0), r"gamma must be a finite number >= 0"),
        (lambda: naive_focal_loss([1.0], [2]), r"labels must be in"),
        (lambda: multiclass_focal_loss([[1.0, 2.0]], [0], gamma=np.inf), r"gamma must be"),
        (lambda: multiclass_focal_grad([[1.0, 2.0]], [2]), r"class indices must lie in 0\.\.1"),
        (lambda: cross_entropy_loss([[1.0]], [0]), r"C >= 2, got shape \(1, 1\)"),
        (lambda: cross_entropy_loss([1.0, 2.0], [0]), r"shape \(m, C\)"),
        (lambda: cross_entropy_grad([[1.0, np.inf]], [0]), r"z must be finite"),
        (lambda: cross_entropy_loss([[1.0, 2.0]], [0.5]), r"class indices must be whole numbers"),
        (lambda: cross_entropy_loss([[1.0, 2.0]], [-1]), r"class indices must lie in 0\.\.1"),
        (lambda: cross_entropy_loss([[1.0, 2.0]], [0, 1]), r"indices of shape \(1,\) or one-hot"),
        (lambda: cross_entropy_loss([[1.0, 2.0]], [[1.0, 1.0]]), r"single 1 and zeros"),
        (lambda: cross_entropy_loss([[1.0, 2.0]], [[np.nan, 1.0]]), r"y must be finite"),
        (lambda: naive_cross_entropy_loss([[1.0, 2.0]], [3]), r"class indices must lie"),
        (lambda: label_smoothing_loss([[1.0, 2.0]], [0], epsilon=1.5), r"epsilon must be a number in \["),
        (lambda: label_smoothing_grad([[1.0, 2.0]], [5]), r"class indices must lie"),
        (lambda: smoothed_targets([0], 2, epsilon=-0.1), r"epsilon must be a number in \[0, 1\], got -0\.1"),
        (lambda: logistic_loss([1.0], [0]), r"labels must be in \{1\.0, -1\.0\}"),
        (lambda: logistic_grad([1.0], [1, 1]), r"y must have the shape of z"),
        (lambda: hinge_loss([1.0], [0]), r"labels must be in"),
        (lambda: hinge_grad([np.nan], [1]), r"z must be finite"),
        (lambda: squared_hinge_loss([1.0], [2]), r"labels must be in"),
        (lambda: squared_hinge_grad([1.0], [0]), r"labels must be in"),
        (lambda: exponential_loss([1.0], [0]), r"labels must be in"),
        (lambda: weston_watkins_loss([[1.0, 2.0]], [0], margin=0.0), r"margin must be a finite"),
        (lambda: weston_watkins_grad([[1.0, 2.0]], [0], margin=-1.0), r"margin must be"),
        (lambda: crammer_singer_loss([[1.0, 2.0]], [0], margin=np.nan), r"margin must be"),
        (lambda: crammer_singer_grad([[1.0, 2.0]], [7]), r"class indices must lie"),
        # A parameter given as an array, where a single number is expected.
        (lambda: focal_loss([1.0], [1], alpha=np.array([0.2, 0.3])), r"alpha must be None or a"),
        (lambda: focal_grad([1.0], [1], gamma=np.ones(2)), r"gamma must be a finite number"),
        (lambda: multiclass_focal_grad([[1.0, 2.0]], [0], gamma=np.ones(2)), r"gamma must be"),
        (lambda: label_smoothing_grad([[1.0, 2.0]], [0], epsilon=np.zeros(0)), r"epsilon must be"),
        (lambda: weston_watkins_loss([[1.0, 2.0]], [0], margin=np.ones(2)), r"margin must be a"),
        (lambda: crammer_singer_loss([[1.0, 2.0]], [0], margin=[1.0]), r"margin must be a"),
        # Non-finite class indices: a clear error, not a RuntimeWarning from the remainder.
        (lambda: cross_entropy_loss([[1.0, 2.0]], [np.inf]), r"class indices must be whole"),
        (lambda: multiclass_focal_loss([[1.0, 2.0]], [np.nan]), r"class indices must be whole"),
        # smoothed_targets: C a whole number >= 2, y indices (m,) or one-hot rows (m, C).
        (lambda: smoothed_targets([0, 1], 2.0), r"number of classes C must be an integer >= 2"),
        (lambda: smoothed_targets([0], 1), r"C must be an integer >= 2, got 1"),
        (lambda: smoothed_targets([0], np.array([2, 3])), r"C must be an integer >= 2"),
        (lambda: smoothed_targets(0, 2), r"indices of shape \(m,\) or one-hot rows of shape \(m, 2\)"),
        (lambda: smoothed_targets([], 2), r"with m >= 1, got shape \(0,\)"),
        (lambda: smoothed_targets([[[0]]], 2), r"got shape \(1, 1, 1\)"),
        (lambda: smoothed_targets([[1.0, 0.0, 0.0]], 2), r"one-hot rows of shape \(1, 2\)"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "losses/classification.md"

#: Moderate logits (|z| < 6): e^z of the written-out forms stays far from overflow.
M_EX, C_EX = 6, 4
ALPHA, GAMMA, EPS_SMOOTH, MARGIN = 0.3, 2.0, 0.1, 1.0


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))


def _softplus(z):
    return np.logaddexp(0.0, z)


def _rows(fn, z, y, *args):
    """The loss (or gradient) of each example alone: the code on a batch of one."""
    return np.array([fn(z[i:i + 1], y[i:i + 1], *args) for i in range(len(z))])


def _binary_envs(rng):
    z = rng.uniform(-5.0, 5.0, size=M_EX)
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    p = _sigmoid(z)
    yield {"z": z, "y": y, "p": p, "m": M_EX, "sigma": _sigmoid,
           "loss": _rows(bce_loss, p, y), "Loss": bce_loss(p, y),
           "dp": bce_grad(p, y), "dloss/dp": M_EX * bce_grad(p, y),
           "dz": bce_with_logits_grad(z, y)}


def _logit_envs(rng):
    for env in _binary_envs(rng):
        yield {**env, "loss": _rows(bce_with_logits_loss, env["z"], env["y"]),
               "softplus": _softplus}


def _multilabel_envs(rng):
    Z = rng.uniform(-4.0, 4.0, size=(M_EX, C_EX))
    Y = (rng.uniform(size=(M_EX, C_EX)) < 0.5).astype(float)
    yield {"Z": Z, "Y": Y, "m": M_EX, "C": C_EX, "sigma": _sigmoid,
           "loss": _rows(multilabel_bce_loss, Z, Y), "Loss": multilabel_bce_loss(Z, Y),
           "dZ": multilabel_bce_grad(Z, Y)}


def _multiclass_envs(rng, loss_fn=cross_entropy_loss, grad_fn=cross_entropy_grad, *args):
    Z = rng.uniform(-4.0, 4.0, size=(M_EX, C_EX))
    y = np.array([0, 1, 2, 3, 1, 2])
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    Y = np.eye(C_EX)[y]
    yield {"Z": Z, "y": y, "Y": Y, "P": P, "m": M_EX, "C": C_EX, "M": Z.max(axis=1),
           "k_hat": np.argmax(Z, axis=1),               # the class of the largest logit
           "loss": _rows(loss_fn, Z, y, *args), "Loss": loss_fn(Z, y, *args),
           "dZ": grad_fn(Z, y, *args), "dloss/dZ": np.vstack(_rows(grad_fn, Z, y, *args)),
           "__labels__": ("y", "k_hat"), "__ranges__": {"j": "C"}}


def _smoothing_envs(rng):
    for env in _multiclass_envs(rng, label_smoothing_loss, label_smoothing_grad, EPS_SMOOTH):
        yield {**env, "varepsilon": EPS_SMOOTH,
               "Q": smoothed_targets(env["y"], C_EX, EPS_SMOOTH)}


def _focal_envs(rng):
    z = rng.uniform(-4.0, 4.0, size=M_EX)
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    s = (2 * y - 1) * z
    per_example_dz = np.concatenate(_rows(focal_grad, z, y, ALPHA, GAMMA))
    dloss_ds = (2 * y - 1) * per_example_dz
    p_t = _sigmoid(s)
    yield {"z": z, "y": y, "s": s, "m": M_EX, "alpha": ALPHA, "gamma": GAMMA,
           "sigma": _sigmoid, "softplus": _softplus,
           "p_t": Dyn(lambda e: p_t[e["i"] - 1]),
           "alpha_t": Dyn(lambda e: ALPHA if y[e["i"] - 1] == 1 else 1 - ALPHA),
           "loss": _rows(focal_loss, z, y, ALPHA, GAMMA),
           "dloss/ds": dloss_ds, "dloss/dp_t": dloss_ds / (p_t * (1 - p_t)),
           "dz": focal_grad(z, y, ALPHA, GAMMA)}


def _multiclass_focal_envs(rng):
    for env in _multiclass_envs(rng, multiclass_focal_loss, multiclass_focal_grad, GAMMA):
        P, y = env["P"], env["y"]
        yield {**env, "gamma": GAMMA, "p_y": Dyn(lambda e, P=P, y=y: P[e["i"] - 1, y[e["i"] - 1]])}


def _signed_envs(rng, loss_fn, grad_fn):
    # both sides of the margin y z = 1, and points exactly on it
    z = np.array([-2.0, -0.5, 0.3, 1.0, 1.7, 2.5, -1.0, 0.0])
    y = np.array([1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0])
    yield {"z": z, "y": y, "m": z.size, "sigma": _sigmoid,
           "loss": _rows(loss_fn, z, y), "Loss": loss_fn(z, y), "dz": grad_fn(z, y)}


def _margin_envs(rng, loss_fn, grad_fn):
    for env in _multiclass_envs(rng, loss_fn, grad_fn, MARGIN):
        Z, y = env["Z"].copy(), env["y"]
        Z[0, y[0]] = Z[0].max() + 3.0          # one example far inside the margin: no loss
        env = {**env, "Z": Z, "M": Z.max(axis=1), "loss": _rows(loss_fn, Z, y, MARGIN),
               "Loss": loss_fn(Z, y, MARGIN), "dZ": grad_fn(Z, y, MARGIN),
               "dloss/dZ": np.vstack(_rows(grad_fn, Z, y, MARGIN))}

        def k_star(e, Z=Z, y=y):
            row = Z[e["i"] - 1].copy()
            row[y[e["i"] - 1]] = -np.inf
            return int(np.argmax(row)) + 1            # 1-based, as on the page

        yield {**env, "Delta": MARGIN, "k*": Dyn(k_star)}


FORMULAS = {
    "bce": Case(_binary_envs),
    "bce-grad": Case(_binary_envs),
    "bce-logits": Case(_logit_envs),
    "bce-logits-grad": Case(_logit_envs),
    "multilabel": Case(_multilabel_envs),
    "multilabel-grad": Case(_multilabel_envs),
    "cross-entropy": Case(_multiclass_envs),
    "cross-entropy-grad": Case(_multiclass_envs),
    "label-smoothing": Case(_smoothing_envs),
    "label-smoothing-grad": Case(_smoothing_envs),
    "focal": Case(_focal_envs),
    "focal-grad": Case(_focal_envs),
    "multiclass-focal": Case(_multiclass_focal_envs),
    "multiclass-focal-grad": Case(_multiclass_focal_envs),
    "logistic": Case(lambda rng: _signed_envs(rng, logistic_loss, logistic_grad)),
    "logistic-grad": Case(lambda rng: _signed_envs(rng, logistic_loss, logistic_grad)),
    "hinge": Case(lambda rng: _signed_envs(rng, hinge_loss, hinge_grad)),
    "hinge-grad": Case(lambda rng: _signed_envs(rng, hinge_loss, hinge_grad)),
    "squared-hinge": Case(lambda rng: _signed_envs(rng, squared_hinge_loss, squared_hinge_grad)),
    "squared-hinge-grad": Case(lambda rng: _signed_envs(rng, squared_hinge_loss,
                                                        squared_hinge_grad)),
    "weston-watkins": Case(lambda rng: _margin_envs(rng, weston_watkins_loss, weston_watkins_grad)),
    "weston-watkins-grad": Case(lambda rng: _margin_envs(rng, weston_watkins_loss,
                                                         weston_watkins_grad)),
    "crammer-singer": Case(lambda rng: _margin_envs(rng, crammer_singer_loss, crammer_singer_grad)),
    "crammer-singer-grad": Case(lambda rng: _margin_envs(rng, crammer_singer_loss,
                                                         crammer_singer_grad)),
    "exponential": Case(lambda rng: _signed_envs(rng, exponential_loss, exponential_grad)),
    "exponential-grad": Case(lambda rng: _signed_envs(rng, exponential_loss, exponential_grad)),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
