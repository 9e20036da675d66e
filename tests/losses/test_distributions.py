"""Tests for snippets/losses/distributions.py (page docs/losses/distributions.md)."""

from __future__ import annotations

import math

import high_precision as hp
import numpy as np
import pytest

from snippets.losses.distributions import (
    entropy,
    kl_div_grad,
    kl_div_logits_grad,
    kl_div_loss,
    log_softmax,
    naive_log_softmax,
    nll_grad,
    nll_logits_grad,
    nll_loss,
    soft_cross_entropy_loss,
)

from checks import EXACT_ATOL, EXACT_RTOL, assert_gradient
from formulas import Case, Dyn, formula_test

#: (m, C), including one example, two classes, and more entries than the checker's 64.
SHAPES = [(1, 2), (1, 5), (4, 1), (6, 3), (20, 7)]

#: A logit this large overflows exp in float64 (exp(710) > 1.8e308).
Z_EXTREME = 1e4


def random_distribution(rng: np.random.Generator, m: int, C: int, zeros: bool = False):
    p = rng.uniform(0.1, 1.0, size=(m, C))
    if zeros and C > 1:
        p[:, 0] = 0.0          # a class with probability exactly 0 in every row
    return p / p.sum(axis=1, keepdims=True)


def softmax_reference(z: np.ndarray) -> np.ndarray:
    """Softmax written out, for moderate logits only (the tests' independent route)."""
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def test_kl_known_values():
    # p = (1/2, 1/2), q = (1/4, 3/4): 1/2 log 2 + 1/2 log(2/3) = 1/2 log(4/3).
    p = np.array([[0.5, 0.5]])
    log_q = np.log([[0.25, 0.75]])
    assert kl_div_loss(log_q, p) == pytest.approx(0.5 * np.log(4 / 3), rel=EXACT_RTOL)
    # q = p gives 0; a one-hot p gives -log q of its class.
    assert kl_div_loss(np.log(p), p) == pytest.approx(0.0, abs=EXACT_ATOL)
    assert kl_div_loss(log_q, [[0.0, 1.0]]) == pytest.approx(-np.log(0.75), rel=EXACT_RTOL)


def test_kl_is_not_symmetric_and_is_non_negative(rng):
    p, q = random_distribution(rng, 5, 4), random_distribution(rng, 5, 4)
    forward, backward = kl_div_loss(np.log(q), p), kl_div_loss(np.log(p), q)
    assert forward > 0 and backward > 0 and abs(forward - backward) > 1e-6


def assert_linear_gradient(loss, g: np.ndarray, log_q: np.ndarray, rng: np.random.Generator):
    """Assert that g is the gradient in log_q of a loss that is linear in log_q.

    The functions accept only normalised rows, so the checker cannot step one entry at a
    time. A linear loss changes between any two inputs by exactly the gradient times the
    step: a finite difference with no truncation error. The steps here go from log_q to
    random normalised rows, in directions that a wrong factor, sign or entry would miss
    only by chance.
    """
    m, C = log_q.shape
    for _ in range(5):
        other = np.log(random_distribution(rng, m, C))
        change = loss(other) - loss(log_q)
        assert change == pytest.approx(np.sum(g * (other - log_q)), rel=EXACT_RTOL,
                                       abs=EXACT_ATOL)


@pytest.mark.parametrize("m,C", SHAPES)
def test_kl_gradient_matches_the_change_of_the_loss(rng, m, C):
    p = random_distribution(rng, m, C, zeros=True)
    log_q = np.log(random_distribution(rng, m, C))
    g = kl_div_grad(log_q, p)
    assert g.shape == (m, C)
    assert_linear_gradient(lambda v: kl_div_loss(v, p), g, log_q, rng)


@pytest.mark.parametrize("m,C", SHAPES)
def test_kl_is_cross_entropy_minus_entropy(rng, m, C):
    """Eq. (3): KL(p || q) = H(p, q) - H(p), row by row and for the mean."""
    p = random_distribution(rng, m, C, zeros=True)
    log_q = np.log(random_distribution(rng, m, C))
    assert kl_div_loss(log_q, p) == pytest.approx(
        soft_cross_entropy_loss(log_q, p) - entropy(p), rel=1e-12, abs=EXACT_ATOL)
    # Entropy from its definition, with 0 log 0 = 0 done by hand.
    by_hand = np.mean([-sum(pk * np.log(pk) for pk in row if pk > 0) for row in p])
    assert entropy(p) == pytest.approx(by_hand, rel=EXACT_RTOL)


def test_kl_matches_pytorch_reductions(rng):
    # PyTorch's KLDivLoss (documented): elementwise p (log p - input); 'batchmean' divides
    # the sum by m, which is eq. (1); the default 'mean' divides by m * C instead.
    m, C = 5, 4
    p = random_distribution(rng, m, C)
    log_q = np.log(random_distribution(rng, m, C))
    pointwise = p * (np.log(p) - log_q)
    assert kl_div_loss(log_q, p) == pytest.approx(pointwise.sum() / m, rel=EXACT_RTOL)
    assert kl_div_loss(log_q, p) / C == pytest.approx(pointwise.mean(), rel=EXACT_RTOL)


def test_log_softmax_known_values_and_naive_agreement(rng):
    # Logits (0, ln 3): softmax (1/4, 3/4).
    np.testing.assert_allclose(log_softmax([[0.0, np.log(3.0)]]), np.log([[0.25, 0.75]]),
                               rtol=EXACT_RTOL)
    z = rng.normal(scale=5.0, size=(8, 6))
    np.testing.assert_allclose(log_softmax(z), naive_log_softmax(z), rtol=1e-12, atol=1e-12)
    # Shifting a row by a constant changes nothing.
    np.testing.assert_allclose(log_softmax(z + 100.0), log_softmax(z), rtol=1e-12, atol=1e-12)


def test_naive_log_softmax_fails_where_the_shifted_form_is_exact():
    z = np.array([[1000.0, 0.0]])
    with pytest.warns(RuntimeWarning):
        naive = naive_log_softmax(z)
    assert np.isnan(naive[0, 0])
    # Exact answer: log(1 / (1 + e^-1000)) = 0 and -1000 - 0 in float64.
    np.testing.assert_array_equal(log_softmax(z), [[0.0, -1000.0]])


#: Rows of logits with a large margin: the largest probability is 1 - e^-margin, and
#: log(1 + e^-margin) rounds to 0 once the margin passes about 37; a tie at the maximum;
#: and a largest logit that is not the first entry.
LARGE_MARGIN_ROWS = [(40.0, 0.0), (100.0, 0.0), (800.0, 0.0), (0.0, 45.0), (50.0, 50.0, 0.0),
                     (60.0, 21.0, 0.0)]


@pytest.mark.parametrize("row", LARGE_MARGIN_ROWS)
def test_log_softmax_and_logit_gradients_keep_their_digits_at_large_margins(row):
    """Against 420-digit arithmetic: every entry to float64 precision, also the tiny ones."""
    z = np.array([row])
    C = z.shape[1]
    np.testing.assert_allclose(log_softmax(z)[0], hp.log_softmax_floats(row),
                               rtol=EXACT_RTOL, atol=0.0)
    for y in range(C):
        value, gradient = hp.value_and_gradient(hp.cross_entropy(y), row)
        assert nll_loss(log_softmax(z), np.array([y])) == pytest.approx(value, rel=EXACT_RTOL,
                                                                        abs=0.0)
        np.testing.assert_allclose(nll_logits_grad(z, np.array([y]))[0], gradient,
                                   rtol=EXACT_RTOL, atol=0.0)
        one_hot = np.eye(C)[[y]]
        np.testing.assert_allclose(kl_div_logits_grad(z, one_hot)[0], gradient,
                                   rtol=EXACT_RTOL, atol=0.0)
    soft = np.full((1, C), 0.25 / (C - 1))
    soft[0, np.argmax(row)] = 0.75                 # a soft target, most mass on the top logit
    value, gradient = hp.value_and_gradient(hp.kl_divergence(soft[0]), row)
    assert kl_div_loss(log_softmax(z), soft) == pytest.approx(value, rel=EXACT_RTOL)
    np.testing.assert_allclose(kl_div_logits_grad(z, soft)[0], gradient, rtol=EXACT_RTOL,
                               atol=0.0)


def test_log_softmax_at_margin_40_is_not_rounded_to_zero():
    # log p_1 = -log(1 + e^-40) = -4.25e-18: the log of 1 + 4.25e-18 would round to 0.
    assert log_softmax(np.array([[40.0, 0.0]]))[0, 0] == pytest.approx(-math.exp(-40.0),
                                                                       rel=EXACT_RTOL, abs=0.0)


@pytest.mark.parametrize("z", [Z_EXTREME, -Z_EXTREME])
def test_logit_functions_are_finite_and_warning_free_at_extreme_logits(rng, z):
    Z = np.array([[z, 0.0, -z], [z, z, 0.0]])
    p = random_distribution(rng, 2, 3)
    assert np.all(np.isfinite(log_softmax(Z)))
    assert np.all(np.isfinite(kl_div_logits_grad(Z, p)))
    assert np.all(np.isfinite(nll_logits_grad(Z, np.array([2, 1]))))
    assert np.isfinite(kl_div_loss(log_softmax(Z), p))
    assert np.isfinite(nll_loss(log_softmax(Z), np.array([2, 1])))


@pytest.mark.parametrize("m,C", SHAPES)
def test_kl_logits_gradient_is_softmax_minus_p(rng, m, C):
    """Eq. (5): the chain rule through log-softmax gives (q - p) / m."""
    p = random_distribution(rng, m, C, zeros=True)
    z = rng.normal(scale=2.0, size=(m, C))
    g = kl_div_logits_grad(z, p)
    assert_gradient(lambda v: kl_div_loss(log_softmax(v), p), g, z, rng)
    # Middle line of eq. (5): sum_k p_k (q_j - [k = j]) equals q_j sum_k p_k - p_j.
    q = softmax_reference(z)
    middle = np.einsum("ik,ij->ij", p, q) - p
    np.testing.assert_allclose(g * m, middle, rtol=1e-12, atol=EXACT_ATOL)
    # Jacobian product of the chain rule: d log q_k / d z_j = [k = j] - q_j.
    i = 0
    jac = np.eye(C) - q[i][np.newaxis, :]          # row k, column j
    np.testing.assert_allclose(g[i] * m, jac.T @ (-p[i]), rtol=1e-12, atol=EXACT_ATOL)


def test_nll_known_values_and_one_hot_equivalence(rng):
    # Rows q = (0.2, 0.8) and (0.5, 0.5), classes 1 and 0: -(log 0.8 + log 0.5) / 2.
    log_q = np.log([[0.2, 0.8], [0.5, 0.5]])
    y = np.array([1, 0])
    assert nll_loss(log_q, y) == pytest.approx(-(np.log(0.8) + np.log(0.5)) / 2, rel=EXACT_RTOL)
    np.testing.assert_array_equal(nll_grad(log_q, y), [[0.0, -0.5], [-0.5, 0.0]])
    # With one-hot rows, the NLL is the soft cross-entropy and the KL divergence.
    one_hot = np.eye(2)[y]
    assert nll_loss(log_q, y) == pytest.approx(soft_cross_entropy_loss(log_q, one_hot), rel=EXACT_RTOL)
    assert nll_loss(log_q, y) == pytest.approx(kl_div_loss(log_q, one_hot), rel=EXACT_RTOL)
    np.testing.assert_array_equal(nll_grad(log_q, y), kl_div_grad(log_q, one_hot))
    # One-hot rows and whole-number floats are accepted in place of integer indices.
    assert nll_loss(log_q, one_hot) == nll_loss(log_q, y) == nll_loss(log_q, y.astype(float))
    np.testing.assert_array_equal(nll_logits_grad(log_q, one_hot), nll_logits_grad(log_q, y))


@pytest.mark.parametrize("m,C", SHAPES)
def test_nll_gradients_match_finite_differences(rng, m, C):
    log_q = np.log(random_distribution(rng, m, C))
    y = rng.integers(0, C, size=m)
    assert_linear_gradient(lambda v: nll_loss(v, y), nll_grad(log_q, y), log_q, rng)
    z = rng.normal(scale=2.0, size=(m, C))
    dz = nll_logits_grad(z, y)
    assert_gradient(lambda v: nll_loss(log_softmax(v), y), dz, z, rng)
    np.testing.assert_allclose(dz * m, softmax_reference(z) - np.eye(C)[y], rtol=1e-12,
                               atol=EXACT_ATOL)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: kl_div_loss(np.log([[0.5, 0.5]]), [[0.5, 0.6]]), r"each row of p must sum to 1"),
        (lambda: kl_div_loss(np.log([[0.5, 0.5]]), [[1.5, -0.5]]), r"p must hold probabilities >= 0"),
        (lambda: kl_div_loss([[0.1, -1.0]], [[0.5, 0.5]]), r"log_q must hold log-probabilities"),
        (lambda: kl_div_grad(np.log([[0.5, 0.5]]), [[1.0]]), r"p must have shape \(1, 2\), got \(1, 1\)"),
        (lambda: kl_div_grad([-1.0, -1.0], [1.0]), r"log_q must be a non-empty 2-D array"),
        (lambda: kl_div_loss([[-np.inf, 0.0]], [[0.0, 1.0]]), r"log_q must be finite"),
        (lambda: entropy([[np.nan, 1.0]]), r"p must be finite"),
        (lambda: soft_cross_entropy_loss([[0.0]], [[0.5]]), r"sum to 1"),
        # log_q rows must be normalised: exp(log_q) sums to 1 in each row.
        (lambda: kl_div_loss([[0.0, 0.0]], [[0.5, 0.5]]), r"each row of log_q must be normalised"),
        (lambda: kl_div_grad([[-1.0, -1.0]], [[0.5, 0.5]]), r"log-sum-exp between -0\.30"),
        (lambda: soft_cross_entropy_loss([[-1.0]], [[1.0]]), r"log_q must be normalised"),
        (lambda: nll_loss([[-1000.0, -1000.0]], np.array([0])), r"log-sum-exp between -999\.30"),
        (lambda: nll_grad(np.log([[0.5, 0.4]]), np.array([1])), r"log_q must be normalised"),
        (lambda: log_softmax(np.zeros((0, 3))), r"non-empty 2-D array"),
        (lambda: naive_log_softmax([1.0, 2.0]), r"z must be a non-empty 2-D"),
        (lambda: kl_div_logits_grad([[1.0, 2.0]], [[1.0, 0.0, 0.0]]), r"p must have shape \(1, 2\)"),
        (lambda: nll_loss(np.log([[0.5, 0.5]]), np.array([2])), r"class indices must lie in 0..1"),
        (lambda: nll_loss(np.log([[0.5, 0.5]]), np.array([0.5])), r"whole numbers"),
        (lambda: nll_grad(np.log([[0.5, 0.5]]), np.array([0, 1, 1])), r"shape \(1,\) or one-hot"),
        (lambda: nll_grad(np.log([[0.5, 0.5]]), np.array([[1, 1]])), r"single 1 and zeros"),
        (lambda: nll_grad([[0.5, 0.5]], np.array([0])), r"log-probabilities"),
        (lambda: nll_logits_grad([[1.0, 2.0]], np.array([[0, 1, 0]])), r"one-hot rows of shape \(1, 2\)"),
        # entropy takes distributions: rows of probabilities >= 0 that sum to 1.
        (lambda: entropy([[0.5, 0.6]]), r"each row of p must sum to 1"),
        (lambda: entropy([[1.5, -0.5]]), r"p must hold probabilities >= 0, got min -0\.5"),
        # Non-finite class indices: a clear error, not a RuntimeWarning from the remainder.
        (lambda: nll_loss(np.log([[0.5, 0.5]]), np.array([np.inf])), r"whole numbers"),
        (lambda: nll_logits_grad([[1.0, 2.0]], np.array([np.nan])), r"whole numbers"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "losses/distributions.md"


def _softmax(Z):
    E = np.exp(Z - Z.max(axis=-1, keepdims=True))
    return E / E.sum(axis=-1, keepdims=True)


def _envs(rng):
    m, C = 4, 3
    P = _softmax(rng.standard_normal((m, C)))
    Z = rng.standard_normal((m, C))
    log_Q = log_softmax(Z)
    y = np.array([0, 2, 1, 2])
    d_log_q = kl_div_grad(log_Q, P)
    yield {
        "m": m, "C": C, "P": P, "Z": Z, "M": Z.max(axis=1), "y": y,
        # q recomputed from Z wherever Z is, so that d log q / d z can be taken
        "Q": Dyn(lambda e: np.exp(log_softmax(e["Z"]))),
        "KL": lambda p, q: kl_div_loss(np.log(q)[None, :], p[None, :]),
        "loss": np.array([kl_div_loss(log_Q[i:i + 1], P[i:i + 1]) for i in range(m)]),
        "Loss": kl_div_loss(log_Q, P), "dLoss/dlogq": d_log_q, "dLoss/dlogQ": d_log_q,
        "dZ": kl_div_logits_grad(Z, P), "k_hat": np.argmax(Z, axis=1),
        "__labels__": ("y", "k_hat"), "__ranges__": {"j": "C"}}


def _link_envs(rng):
    for C in (2, 5):
        p = _softmax(rng.standard_normal(C))
        q = _softmax(rng.standard_normal(C))
        log_q = np.log(q)
        yield {"p": p, "q": q, "C": C,
               "KL": lambda p, q: kl_div_loss(np.log(q)[None, :], p[None, :]),
               "H": lambda p, q=None: entropy(p[None, :]) if q is None
               else soft_cross_entropy_loss(np.log(q)[None, :], p[None, :]),
               "code_kl": kl_div_loss(log_q[None, :], p[None, :])}


def _nll_envs(rng):
    for env in _envs(rng):
        log_Q, y = log_softmax(env["Z"]), env["y"]
        yield {**env, "loss": np.array([nll_loss(log_Q[i:i + 1], y[i:i + 1])
                                        for i in range(env["m"])]),
               "dLoss/dlogq": nll_grad(log_Q, y), "dZ": nll_logits_grad(env["Z"], y)}


FORMULAS = {
    "kl": Case(_envs),
    "kl-grad": Case(_envs),
    "link": Case(_link_envs),
    "log-softmax": Case(_envs),
    "kl-logits": Case(_envs),
    "nll": Case(_nll_envs),
    "nll-logits": Case(_nll_envs),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
