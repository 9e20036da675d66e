"""Tests for snippets/losses/regularisation.py (page docs/losses/regularisation.md)."""

from __future__ import annotations

import numpy as np
import pytest

from snippets.losses.regularisation import (
    elastic_net_penalty,
    elastic_net_penalty_grad,
    gd_step,
    l1_penalty,
    l1_penalty_grad,
    l2_penalty,
    l2_penalty_grad,
    soft_threshold,
    weight_decay_step,
)

from checks import EXACT_ATOL, EXACT_RTOL, assert_gradient
from formulas import Case, Dyn, FnValue, formula_test

#: Shapes of w: one weight, a vector, a weight matrix, more entries than the checker's 64.
SHAPES = [(1,), (5,), (1, 1), (3, 4), (10, 10)]


def weights_away_from_zero(rng: np.random.Generator, shape, away: float = 0.05) -> np.ndarray:
    """Random weights none of which lies within `away` of the kink of |w| at 0."""
    w = rng.normal(scale=1.5, size=shape)
    return np.where(np.abs(w) < away, np.copysign(away, w) + w, w)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("penalty, grad, kwargs", [
    (l2_penalty, l2_penalty_grad, {}),
    (l1_penalty, l1_penalty_grad, {}),
    (elastic_net_penalty, elastic_net_penalty_grad, {}),
    (elastic_net_penalty, elastic_net_penalty_grad, {"l1_ratio": 0.2}),
], ids=lambda p: getattr(p, "__name__", str(p)))
def test_penalty_gradients_match_finite_differences(rng, shape, penalty, grad, kwargs):
    w = weights_away_from_zero(rng, shape)
    lam = 0.3
    g = grad(w, lam, **kwargs)
    assert g.shape == w.shape
    assert_gradient(lambda v: penalty(v, lam, **kwargs), g, w, rng)


def test_known_values():
    w = np.array([[3.0, -4.0], [0.0, 1.0]])
    # Squares 9 + 16 + 0 + 1 = 26; absolute values 3 + 4 + 0 + 1 = 8.
    assert l2_penalty(w, 0.5) == pytest.approx(13.0, rel=EXACT_RTOL)
    assert l1_penalty(w, 0.5) == pytest.approx(4.0, rel=EXACT_RTOL)
    # 0.1 * (0.25 * 8 + 0.75 * 26) = 0.1 * 21.5
    assert elastic_net_penalty(w, 0.1, l1_ratio=0.25) == pytest.approx(2.15, rel=EXACT_RTOL)
    np.testing.assert_array_equal(l2_penalty_grad(w, 0.5), w)
    np.testing.assert_array_equal(l1_penalty_grad(w, 0.5), [[0.5, -0.5], [0.0, 0.5]])


def test_l1_subgradient_at_zero_lies_between_the_one_sided_slopes():
    lam, h = 0.7, 1e-6
    right = (l1_penalty([h], lam) - l1_penalty([0.0], lam)) / h
    left = (l1_penalty([0.0], lam) - l1_penalty([-h], lam)) / h
    assert right == pytest.approx(lam, rel=1e-9) and left == pytest.approx(-lam, rel=1e-9)
    assert left <= l1_penalty_grad([0.0], lam)[0] == 0.0 <= right
    assert elastic_net_penalty_grad([0.0], lam)[0] == 0.0


@pytest.mark.parametrize("shape", SHAPES)
def test_l2_penalty_step_is_weight_decay_with_twice_lambda(rng, shape):
    """Eq. (2): a step on loss + lam |w|^2 equals decay by 1 - 2 lr lam, then a step."""
    w, dw = rng.standard_normal(shape), rng.standard_normal(shape)
    lam, lr = 0.01, 0.1
    with_penalty = gd_step(w, dw + l2_penalty_grad(w, lam), lr)
    decayed = weight_decay_step(w, dw, lr, weight_decay=2 * lam)
    np.testing.assert_allclose(with_penalty, decayed, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    np.testing.assert_allclose(decayed, (1 - 2 * lr * lam) * w - lr * dw, rtol=EXACT_RTOL)


def test_l2_step_shrinks_weights_geometrically_without_data_gradient(rng):
    w = rng.standard_normal(4)
    lam, lr = 0.05, 0.2
    for _ in range(10):
        w_next = gd_step(w, l2_penalty_grad(w, lam), lr)
        np.testing.assert_allclose(w_next, 0.98 * w, rtol=EXACT_RTOL)   # 1 - 2 * 0.2 * 0.05
        w = w_next


def test_soft_threshold_known_values_and_that_it_minimises_the_proximal_problem(rng):
    np.testing.assert_array_equal(soft_threshold([3.0, -0.5, 0.2, -2.0], 1.0),
                                  [2.0, 0.0, 0.0, -1.0])
    # Eq. (5) minimises 0.5 (u - v)^2 + t |u| for each entry: compare with a fine grid.
    v, t = rng.normal(scale=2.0, size=6), 0.8
    grid = np.linspace(-8, 8, 160001)                 # spacing 1e-4
    for vj, uj in zip(v, soft_threshold(v, t), strict=True):
        objective = 0.5 * (grid - vj) ** 2 + t * np.abs(grid)
        assert abs(grid[np.argmin(objective)] - uj) <= 1e-4


def test_soft_threshold_gives_exact_zeros_where_subgradient_steps_oscillate():
    # Minimise 0.5 (w - 0.3)^2 + 1.0 |w|: the minimiser is exactly 0 (|0.3| < 1).
    lam, lr, target = 1.0, 0.1, 0.3
    w_sub = np.array([0.3])
    w_prox = np.array([0.3])
    for _ in range(200):
        w_sub = gd_step(w_sub, (w_sub - target) + l1_penalty_grad(w_sub, lam), lr)
        w_prox = soft_threshold(gd_step(w_prox, w_prox - target, lr), lr * lam)
    assert w_prox[0] == 0.0
    assert w_sub[0] != 0.0 and abs(w_sub[0]) < lr * (lam + 1)   # hovers around 0


def test_elastic_net_ends_are_l1_and_l2(rng):
    w = rng.standard_normal(7)
    assert elastic_net_penalty(w, 0.4, l1_ratio=1.0) == pytest.approx(l1_penalty(w, 0.4), rel=EXACT_RTOL)
    assert elastic_net_penalty(w, 0.4, l1_ratio=0.0) == pytest.approx(l2_penalty(w, 0.4), rel=EXACT_RTOL)
    np.testing.assert_allclose(elastic_net_penalty_grad(w, 0.4, 0.3),
                               0.3 * l1_penalty_grad(w, 0.4) + 0.7 * l2_penalty_grad(w, 0.4),
                               rtol=EXACT_RTOL)


def test_elastic_net_parameter_conversion_from_keras(rng):
    w = rng.standard_normal(9)
    # Keras L1L2(l1=a, l2=b), documented as a sum|w| + b sum w^2: lam = a + b, ratio a / (a + b).
    a, b = 0.02, 0.05
    keras = a * np.sum(np.abs(w)) + b * np.sum(w**2)
    assert elastic_net_penalty(w, a + b, a / (a + b)) == pytest.approx(keras, rel=EXACT_RTOL)


def test_elastic_net_conversions_from_scikit_learn_cover_the_data_term(rng):
    """scikit-learn's documented objectives, against the mean squared error plus a penalty.

    Twice ElasticNet's objective, (1/2m)|y - Xw - b|^2 + alpha r |w|_1
    + 0.5 alpha (1 - r) |w|^2, is MSE + eq. (6) with lam = alpha (1 + r), ratio 2 r / (1 + r).
    """
    m, n = 30, 4
    X, y, w, b = rng.standard_normal((m, n)), rng.standard_normal(m), rng.standard_normal(n), 0.7
    residual = y - X @ w - b
    mse = np.mean(residual**2)
    alpha, r = 0.3, 0.4
    sk = residual @ residual / (2 * m) + alpha * r * np.sum(np.abs(w)) \
        + 0.5 * alpha * (1 - r) * np.sum(w**2)
    lam, ratio = alpha * (1 + r), 2 * r / (1 + r)
    assert 2 * sk == pytest.approx(mse + elastic_net_penalty(w, lam, ratio), rel=EXACT_RTOL)
    # ... and back: alpha = lam (2 - ratio) / 2, r = ratio / (2 - ratio).
    assert lam * (2 - ratio) / 2 == pytest.approx(alpha, rel=EXACT_RTOL)
    assert ratio / (2 - ratio) == pytest.approx(r, rel=EXACT_RTOL)
    # Lasso(alpha): (1/2m)|y - Xw - b|^2 + alpha |w|_1, twice it is MSE + L1 with lam = 2 alpha.
    lasso = residual @ residual / (2 * m) + alpha * np.sum(np.abs(w))
    assert 2 * lasso == pytest.approx(mse + l1_penalty(w, 2 * alpha), rel=EXACT_RTOL)
    # Ridge(alpha): |y - Xw - b|^2 + alpha |w|^2, a sum; over m it is MSE + L2 with lam = alpha / m.
    ridge = residual @ residual + alpha * np.sum(w**2)
    assert ridge / m == pytest.approx(mse + l2_penalty(w, alpha / m), rel=EXACT_RTOL)


def test_extreme_weights_are_finite_and_warning_free():
    w = np.array([1e150, -1e150, 1e-300, 0.0])
    for value in (l2_penalty(w, 1.0), l1_penalty(w, 1.0), elastic_net_penalty(w, 1.0)):
        assert np.isfinite(value)
    for g in (l2_penalty_grad(w, 1.0), l1_penalty_grad(w, 1.0), elastic_net_penalty_grad(w, 1.0)):
        assert np.all(np.isfinite(g))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: l2_penalty([], 0.1), r"w must be non-empty, got shape \(0,\)"),
        (lambda: l2_penalty_grad([np.nan], 0.1), r"w must be finite"),
        (lambda: l1_penalty([1.0], -0.1), r"lam must be a finite number >= 0, got -0.1"),
        (lambda: l1_penalty_grad([1.0], np.inf), r"lam must be a finite number >= 0"),
        (lambda: elastic_net_penalty([1.0], 0.1, l1_ratio=1.5), r"l1_ratio must be a number in \[0, 1\]"),
        (lambda: elastic_net_penalty_grad([1.0], [0.1]), r"lam must be"),
        (lambda: gd_step([1.0, 2.0], [1.0], 0.1), r"dw must have the shape of w \(2,\), got \(1,\)"),
        (lambda: weight_decay_step([1.0], [1.0], 0.1, weight_decay=-1.0), r"weight_decay must be"),
        (lambda: weight_decay_step([1.0], [1.0], -0.1, weight_decay=0.0), r"lr must be"),
        (lambda: soft_threshold([1.0], -1.0), r"t must be a finite number >= 0"),
        # The message names the argument at fault.
        (lambda: gd_step([1.0], [np.nan], 0.1), r"^dw must be finite"),
        (lambda: weight_decay_step([1.0], [], 0.1, 0.0), r"^dw must be non-empty"),
        (lambda: soft_threshold([np.inf], 1.0), r"^v must be finite"),
        (lambda: l2_penalty([1.0], np.ones(2)), r"lam must be a finite number >= 0, got array"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "losses/regularisation.md"

LAM, LR, RATIO = 0.3, 0.1, 0.4


def _penalty_env(w, penalty, **kwargs):
    """R bound to the code's penalty with lambda = 1, recomputed wherever w moves."""
    fn = lambda v: penalty(v, 1.0, **kwargs)          # noqa: E731
    return {"w": w, "lam": LAM, "lr": LR, "r": RATIO, "n": len(w),
            "R": Dyn(lambda e: FnValue(fn, fn(e["w"])))}


def _l2_envs(rng):
    w = rng.standard_normal(4)
    dw = rng.standard_normal(4)
    yield {**_penalty_env(w, l2_penalty), "dw": dw,
           "__after__": {"w": weight_decay_step(w, dw, LR, 2 * LAM)}}


def _l1_envs(rng):
    w = np.array([-1.3, 0.0, 0.4, 2.0, 0.0])        # zeros: the kink, where 0 is chosen
    yield _penalty_env(w, l1_penalty)


def _soft_envs(rng):
    for v in (-2.0, -0.2, 0.0, 0.25, 1.7):
        yield {"v": np.array([v, -v]), "t": 0.3, "soft": lambda x, t: soft_threshold(
            np.array([x]), t)[0], "__ranges__": {"j": 2}}


def _elastic_envs(rng):
    w = rng.standard_normal(4)
    yield _penalty_env(w, elastic_net_penalty, l1_ratio=RATIO)


FORMULAS = {
    "l2": Case(_l2_envs),
    "weight-decay": Case(_l2_envs),
    "l1": Case(_l1_envs),
    "l1-grad": Case(_l1_envs),
    "soft-threshold": Case(_soft_envs),
    "elastic-net": Case(_elastic_envs),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
