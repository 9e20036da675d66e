"""Tests for snippets/optimisation/optimisers.py (page docs/optimisation/optimisers.md).

Hand-computed steps use eps = 1e-14 where a formula divides by sqrt(s) + eps: next to the
values sqrt(s) >= 1 used there, eps changes the result by a relative 1e-14 at most, below
EXACT_RTOL, so the hand values can ignore it.
"""

from __future__ import annotations

import numpy as np
import pytest

from snippets.optimisation.optimisers import (
    adagrad_step,
    adam_step,
    adamw_step,
    ema_weights,
    l2_gradient,
    momentum_step,
    nesterov_step,
    rmsprop_step,
    sgd_step,
    sgd_weight_decay_step,
    unrolled_velocity,
)

from checks import EXACT_ATOL, EXACT_RTOL, assert_gradient
from formulas import Case, formula_test

TINY_EPS = 1e-14
ONES = np.ones(2)
ZEROS = np.zeros(2)


def test_sgd_hand_computed():
    # (1, 1) - 0.1 * (2, -2) = (0.8, 1.2)
    np.testing.assert_allclose(sgd_step(ONES, [2.0, -2.0], 0.1), [0.8, 1.2], rtol=EXACT_RTOL)


def test_momentum_two_hand_computed_steps():
    # theta = 1, v = 0, lr = 0.1, beta = 0.9, gradients 1 then 2:
    #   v1 = 0.9 * 0 + 1 = 1,        theta1 = 1 - 0.1 * 1 = 0.9
    #   v2 = 0.9 * 1 + 2 = 2.9,      theta2 = 0.9 - 0.1 * 2.9 = 0.61
    theta, v = momentum_step([1.0], [1.0], [0.0], 0.1, 0.9)
    np.testing.assert_allclose([theta[0], v[0]], [0.9, 1.0], rtol=EXACT_RTOL)
    theta, v = momentum_step(theta, [2.0], v, 0.1, 0.9)
    np.testing.assert_allclose([theta[0], v[0]], [0.61, 2.9], rtol=EXACT_RTOL)


def test_momentum_with_beta_zero_is_plain_gradient_descent(rng):
    theta, v = rng.normal(size=5), rng.normal(size=5)   # any old velocity is forgotten
    g = rng.normal(size=5)
    theta_m, v_m = momentum_step(theta, g, v, 0.3, 0.0)
    np.testing.assert_array_equal(theta_m, sgd_step(theta, g, 0.3))
    np.testing.assert_array_equal(v_m, g)


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9])
def test_unrolled_velocity_equals_the_recursion(rng, beta):
    """Eq. (3), first line, against t = 12 steps of eq. (2)."""
    grads = rng.normal(size=(12, 3))
    theta, v = np.zeros(3), np.zeros(3)
    for g in grads:
        theta, v = momentum_step(theta, g, v, 0.1, beta)
    np.testing.assert_allclose(unrolled_velocity(grads, beta), v, rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_constant_gradient_velocity_closed_form():
    """Eq. (3), last line: (1 - beta^t)/(1 - beta) g, tending to g/(1 - beta) = 10 g."""
    g = np.array([1.0, -2.0])
    for t in [1, 2, 5, 50]:
        grads = np.tile(g, (t, 1))
        np.testing.assert_allclose(unrolled_velocity(grads, 0.9), (1 - 0.9**t) / 0.1 * g,
                                   rtol=EXACT_RTOL)
    np.testing.assert_allclose(unrolled_velocity(np.tile(g, (2000, 1)), 0.9), 10 * g, rtol=EXACT_RTOL)


def test_nesterov_two_hand_computed_steps():
    # f(theta) = theta^2, gradient 2 theta; theta0 = 1, v0 = 0, lr = 0.1, beta = 0.9.
    #   look-ahead 1 - 0.1*0.9*0 = 1, g = 2, v1 = 2, theta1 = 1 - 0.2 = 0.8
    #   look-ahead 0.8 - 0.1*0.9*2 = 0.62, g = 1.24, v2 = 1.8 + 1.24 = 3.04,
    #   theta2 = 0.8 - 0.304 = 0.496
    # (heavy ball would use g = 1.6 at 0.8: v2 = 3.4, theta2 = 0.46.)
    grad = lambda th: 2.0 * th
    theta, v = nesterov_step([1.0], grad, [0.0], 0.1, 0.9)
    np.testing.assert_allclose([theta[0], v[0]], [0.8, 2.0], rtol=EXACT_RTOL)
    theta, v = nesterov_step(theta, grad, v, 0.1, 0.9)
    np.testing.assert_allclose([theta[0], v[0]], [0.496, 3.04], rtol=EXACT_RTOL)
    heavy, _ = momentum_step([0.8], grad(np.array([0.8])), [2.0], 0.1, 0.9)
    assert heavy[0] == pytest.approx(0.46, rel=EXACT_RTOL)


def test_nesterov_with_beta_zero_is_plain_gradient_descent(rng):
    A = rng.normal(size=(3, 3))
    grad = lambda th: A.T @ (A @ th)
    theta = rng.normal(size=3)
    new, _ = nesterov_step(theta, grad, rng.normal(size=3), 0.05, 0.0)
    np.testing.assert_array_equal(new, sgd_step(theta, grad(theta), 0.05))


def test_nesterov_equals_momentum_when_the_gradient_is_constant(rng):
    # The look-ahead changes nothing if the gradient is the same everywhere (a linear loss).
    g = rng.normal(size=4)
    theta, v = rng.normal(size=4), rng.normal(size=4)
    a = nesterov_step(theta, lambda th: g, v, 0.1, 0.9)
    b = momentum_step(theta, g, v, 0.1, 0.9)
    np.testing.assert_allclose(a[0], b[0], rtol=EXACT_RTOL)
    np.testing.assert_allclose(a[1], b[1], rtol=EXACT_RTOL)


def test_nesterov_look_ahead_points_follow_the_library_form(rng):
    """The page's remark: phi_t = theta_t - lr beta v_t obeys the form that needs only the
    gradient at the current point, v <- beta v + g(phi), phi <- phi - lr (g + beta v)."""
    A = rng.normal(size=(4, 3))
    grad = lambda th: A.T @ (A @ th)
    theta, v = rng.normal(size=3), np.zeros(3)
    phi, u = theta.copy(), np.zeros(3)
    for _ in range(15):
        theta, v = nesterov_step(theta, grad, v, 0.05, 0.9)
        g = grad(phi)
        u = 0.9 * u + g
        phi = phi - 0.05 * (g + 0.9 * u)
        np.testing.assert_allclose(theta - 0.05 * 0.9 * v, phi, rtol=1e-10, atol=EXACT_ATOL)


def test_adagrad_two_hand_computed_steps():
    # theta0 = (1, 1), lr = 0.1.
    #   g1 = (3, -4): s1 = (9, 16),  step 0.1 * (3/3, -4/4) = (0.1, -0.1)  -> (0.9, 1.1)
    #   g2 = (4, 3):  s2 = (25, 25), step 0.1 * (4/5, 3/5) = (0.08, 0.06) -> (0.82, 1.04)
    theta, s = adagrad_step(ONES, [3.0, -4.0], ZEROS, 0.1, TINY_EPS)
    np.testing.assert_allclose(theta, [0.9, 1.1], rtol=EXACT_RTOL)
    np.testing.assert_array_equal(s, [9.0, 16.0])
    theta, s = adagrad_step(theta, [4.0, 3.0], s, 0.1, TINY_EPS)
    np.testing.assert_allclose(theta, [0.82, 1.04], rtol=EXACT_RTOL)
    np.testing.assert_array_equal(s, [25.0, 25.0])


def test_adagrad_steps_shrink_under_a_constant_gradient():
    # With g constant, s_t = t g^2 and the step is lr / sqrt(t) in size, whatever g is.
    theta, s = np.zeros(2), np.zeros(2)
    for t in range(1, 10):
        new, s = adagrad_step(theta, [5.0, -0.01], s, 0.1, TINY_EPS)
        np.testing.assert_allclose(np.abs(new - theta), 0.1 / np.sqrt(t), rtol=1e-10)
        theta = new


def test_rmsprop_two_hand_computed_steps():
    # theta0 = (1, 1), lr = 0.1, rho = 0.75.
    #   g1 = (2, -2): s1 = 0.25 * (4, 4) = (1, 1), step 0.1 * (2, -2) -> (0.8, 1.2)
    #   g2 = (1, 0):  s2 = 0.75 * (1, 1) + 0.25 * (1, 0) = (1, 0.75),
    #                 step 0.1 * (1/1, 0) = (0.1, 0) -> (0.7, 1.2)
    theta, s = rmsprop_step(ONES, [2.0, -2.0], ZEROS, 0.1, 0.75, TINY_EPS)
    np.testing.assert_allclose(theta, [0.8, 1.2], rtol=EXACT_RTOL)
    np.testing.assert_array_equal(s, [1.0, 1.0])
    theta, s = rmsprop_step(theta, [1.0, 0.0], s, 0.1, 0.75, TINY_EPS)
    np.testing.assert_allclose(theta, [0.7, 1.2], rtol=EXACT_RTOL)
    np.testing.assert_array_equal(s, [1.0, 0.75])


def test_rmsprop_with_rho_zero_steps_by_lr_times_the_sign(rng):
    g = rng.normal(size=6) * 10.0 ** rng.uniform(-3, 3, size=6)
    theta, _ = rmsprop_step(np.zeros(6), g, np.ones(6), 0.01, 0.0, TINY_EPS)
    np.testing.assert_allclose(theta, -0.01 * np.sign(g), rtol=1e-10)


@pytest.mark.parametrize("beta", [0.5, 0.9, 0.999])
@pytest.mark.parametrize("t", [1, 2, 10, 100])
def test_ema_weights_sum_to_one_minus_beta_to_the_t(beta, t):
    """Eq. (7): the geometric sum (1 - beta) sum_k beta^(t-k) = 1 - beta^t."""
    w = ema_weights(beta, t)
    assert w.shape == (t,)
    assert np.sum(w) == pytest.approx(1 - beta**t, rel=1e-12)


@pytest.mark.parametrize("t", [1, 3, 20])
def test_ema_weights_are_the_running_average_unrolled(rng, t):
    """Eq. (7), first line: v_t of the recursion is sum_k weight_k g_k."""
    grads = rng.normal(size=(t, 3))
    v = np.zeros(3)
    for g in grads:
        v = 0.9 * v + 0.1 * g
    np.testing.assert_allclose(ema_weights(0.9, t) @ grads, v, rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_running_average_is_biased_towards_zero_by_one_minus_beta_to_the_t(rng):
    """Eq. (7), last line: E[v_t] = (1 - beta^t) mu, for gradients whose mean is mu.

    The expectation is taken exactly over a symmetric noise: every sequence mu + xi_k comes
    with its mirror mu - xi_k, so the average over the pair is mu at every step."""
    mu = np.array([2.0, -1.0, 0.5])
    xi = rng.normal(size=(6, 3)) * 5.0
    for t in range(1, 7):
        w = ema_weights(0.9, t)
        mean_v = 0.5 * (w @ (mu + xi[:t]) + w @ (mu - xi[:t]))
        np.testing.assert_allclose(mean_v, (1 - 0.9**t) * mu, rtol=1e-12)
        np.testing.assert_allclose(mean_v / (1 - 0.9**t), mu, rtol=1e-12)


def test_adam_two_hand_computed_steps():
    # theta0 = (1, 1), lr = 0.1, beta1 = 0.5, beta2 = 0.75.
    # Step 1, g = (2, -2): v1 = 0.5 g = (1, -1), s1 = 0.25 g^2 = (1, 1);
    #   v_hat = v1 / 0.5 = (2, -2), s_hat = s1 / 0.25 = (4, 4), step 0.1 * (2/2, -2/2)
    #   -> theta1 = (0.9, 1.1)
    # Step 2, g = (2, 0): v2 = 0.5 (1, -1) + 0.5 (2, 0) = (1.5, -0.5),
    #   s2 = 0.75 (1, 1) + 0.25 (4, 0) = (1.75, 0.75);
    #   1 - 0.5^2 = 0.75 and 1 - 0.75^2 = 0.4375:
    #   v_hat = (2, -2/3), s_hat = (4, 12/7); step 0.1 * (2/2, (-2/3) / sqrt(12/7))
    #   -> theta2 = (0.8, 1.1 + 0.1 * (2/3) / sqrt(12/7))
    theta, v, s = adam_step(ONES, [2.0, -2.0], ZEROS, ZEROS, 1, 0.1, 0.5, 0.75, TINY_EPS)
    np.testing.assert_allclose(theta, [0.9, 1.1], rtol=EXACT_RTOL)
    np.testing.assert_allclose(v, [1.0, -1.0], rtol=EXACT_RTOL)
    np.testing.assert_allclose(s, [1.0, 1.0], rtol=EXACT_RTOL)
    theta, v, s = adam_step(theta, [2.0, 0.0], v, s, 2, 0.1, 0.5, 0.75, TINY_EPS)
    np.testing.assert_allclose(v, [1.5, -0.5], rtol=EXACT_RTOL)
    np.testing.assert_allclose(s, [1.75, 0.75], rtol=EXACT_RTOL)
    np.testing.assert_allclose(theta, [0.8, 1.1 + 0.1 * (2 / 3) / np.sqrt(12 / 7)], rtol=EXACT_RTOL)


#: Adam's first step is lr * g / (|g| + eps): it differs from lr * sign(g) by
#: lr * eps / (|g| + eps) < lr * eps / |g|. With eps = 1e-8 and |g| >= 1e-3 that is a relative
#: 1e-5 at most; the test asserts the bound per coordinate, not a blanket tolerance.
@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3, 1e8])
def test_adam_first_step_has_size_lr_whatever_the_gradient_scale(rng, scale):
    g = rng.normal(size=8) * scale
    theta0 = rng.normal(size=8)
    theta1, _, _ = adam_step(theta0, g, np.zeros(8), np.zeros(8), 1, lr=0.01, eps=1e-8)
    step = theta0 - theta1
    np.testing.assert_array_equal(np.sign(step), np.sign(g))
    np.testing.assert_allclose(np.abs(step), 0.01 * np.abs(g) / (np.abs(g) + 1e-8), rtol=1e-10)
    assert np.all(np.abs(np.abs(step) - 0.01) <= 0.01 * 1e-8 / np.abs(g) + 1e-15)


def test_without_bias_correction_the_first_step_would_be_far_too_small():
    # v1 = 0.1 g and s1 = 0.001 g^2: v1 / sqrt(s1) = 0.1 / sqrt(0.001) = 3.16 times sign(g)
    # with beta1 = 0.9, beta2 = 0.999 -- and the bias-corrected ratio is exactly 1.
    g = np.array([0.5, -3.0])
    v1, s1 = 0.1 * g, 0.001 * g**2
    np.testing.assert_allclose(np.abs(v1 / np.sqrt(s1)), 0.1 / np.sqrt(0.001), rtol=EXACT_RTOL)
    _, v, s = adam_step(np.zeros(2), g, np.zeros(2), np.zeros(2), 1)
    np.testing.assert_allclose(v, v1, rtol=EXACT_RTOL)
    np.testing.assert_allclose(s, s1, rtol=EXACT_RTOL)


def test_adam_under_a_constant_gradient_steps_by_lr_every_time():
    # Constant g: v_hat_t = g and s_hat_t = g^2 exactly (eq. (7)), so every step is lr sign(g).
    theta, v, s = np.zeros(2), np.zeros(2), np.zeros(2)
    for t in range(1, 30):
        new, v, s = adam_step(theta, [4.0, -0.25], v, s, t, lr=0.1, eps=TINY_EPS)
        np.testing.assert_allclose(new - theta, [-0.1, 0.1], rtol=1e-10)
        theta = new


def test_l2_gradient_matches_finite_differences(rng):
    """Eq. (9): the gradient of L(theta) + omega/2 |theta|^2, for L(theta) = |A theta - c|^2."""
    A, c = rng.normal(size=(5, 3)), rng.normal(size=5)
    loss = lambda th: float(np.sum((A @ th - c) ** 2))
    grad = lambda th: 2.0 * A.T @ (A @ th - c)
    theta = rng.normal(size=3)
    penalised = lambda th: loss(th) + 0.3 / 2 * float(th @ th)
    assert_gradient(penalised, l2_gradient(grad(theta), theta, 0.3), theta)


def test_with_sgd_l2_and_decoupled_decay_coincide(rng):
    """Eq. (10): a step on the L2 gradient equals the shrink-then-step update."""
    theta, g = rng.normal(size=5), rng.normal(size=5)
    a = sgd_step(theta, l2_gradient(g, theta, 0.01), 0.1)
    b = sgd_weight_decay_step(theta, g, 0.1, 0.01)
    np.testing.assert_allclose(a, b, rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_with_momentum_l2_and_decay_differ_hand_computed():
    """The page's numbers: momentum on the L2 gradient of eq. (9) (PyTorch's SGD with
    momentum and weight_decay) carries the decay in the velocity, unlike eq. (10)."""
    theta, v = np.array([1.0]), np.array([0.0])
    for expected in (0.95, 0.8575):        # zero loss gradient, lr 0.1, beta 0.9, omega 0.5
        theta, v = momentum_step(theta, l2_gradient([0.0], theta, 0.5), v, 0.1, 0.9)
        assert theta[0] == pytest.approx(expected, rel=EXACT_RTOL)
    decayed = sgd_weight_decay_step(sgd_weight_decay_step([1.0], [0.0], 0.1, 0.5), [0.0], 0.1, 0.5)
    assert decayed[0] == pytest.approx(0.9025, rel=EXACT_RTOL)


def test_adamw_hand_computed_and_different_from_adam_with_l2():
    # theta0 = (1, 1), g = (2, -2), lr = 0.1, beta1 = 0.5, beta2 = 0.75, omega = 0.5.
    # AdamW: Adam's first step is 0.1 * (1, -1); decay adds 0.1 * 0.5 * (1, 1):
    #   theta1 = (1 - 0.1 - 0.05, 1 + 0.1 - 0.05) = (0.85, 1.05).
    # Adam with L2: g + omega theta = (2.5, -1.5); Adam's first step is lr * sign of it:
    #   theta1 = (0.9, 1.1) -- the penalty has vanished from the step.
    w_theta, _, _ = adamw_step(ONES, [2.0, -2.0], ZEROS, ZEROS, 1, 0.1, 0.5, 0.75, TINY_EPS, 0.5)
    np.testing.assert_allclose(w_theta, [0.85, 1.05], rtol=EXACT_RTOL)
    g_l2 = l2_gradient([2.0, -2.0], ONES, 0.5)
    np.testing.assert_allclose(g_l2, [2.5, -1.5], rtol=EXACT_RTOL)
    l2_theta, _, _ = adam_step(ONES, g_l2, ZEROS, ZEROS, 1, 0.1, 0.5, 0.75, TINY_EPS)
    np.testing.assert_allclose(l2_theta, [0.9, 1.1], rtol=EXACT_RTOL)


def test_adamw_and_adam_with_l2_part_ways_over_many_steps(rng):
    """With Adam the two ways of adding weight decay give different parameters."""
    A, c = rng.normal(size=(8, 3)), rng.normal(size=8)
    grad = lambda th: 2.0 * A.T @ (A @ th - c) / 8
    th_w = th_l = np.ones(3)
    vw = sw = vl = sl = np.zeros(3)
    for t in range(1, 201):
        th_w, vw, sw = adamw_step(th_w, grad(th_w), vw, sw, t, 0.01, weight_decay=0.1)
        th_l, vl, sl = adam_step(th_l, l2_gradient(grad(th_l), th_l, 0.1), vl, sl, t, 0.01)
    assert np.linalg.norm(th_w - th_l) > 1e-3


def test_adamw_with_zero_decay_is_adam(rng):
    theta, g = rng.normal(size=4), rng.normal(size=4)
    a = adamw_step(theta, g, np.zeros(4), np.zeros(4), 1, weight_decay=0.0)
    b = adam_step(theta, g, np.zeros(4), np.zeros(4), 1)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: sgd_step(ONES, [1.0], 0.1), r"must have the shape of theta, \(2,\), got \(1,\)"),
        (lambda: sgd_step(ONES, [np.nan, 1.0], 0.1), r"must be finite"),
        (lambda: sgd_step(ONES, ONES, 0.0), r"learning rate must be a positive"),
        (lambda: momentum_step(ONES, ONES, ZEROS, 0.1, 1.0), r"beta must be a number in \[0, 1\)"),
        (lambda: momentum_step(ONES, ONES, ZEROS, 0.1, -0.1), r"beta must be a number in \[0, 1\)"),
        (lambda: unrolled_velocity(np.zeros((0, 2)), 0.9), r"one gradient per step"),
        (lambda: unrolled_velocity(np.float64(1.0), 0.9), r"one gradient per step"),
        (lambda: nesterov_step(ONES, lambda th: np.ones(3), ZEROS, 0.1, 0.9), r"shape of theta"),
        (lambda: adagrad_step(ONES, ONES, ZEROS, 0.1, 0.0), r"eps must be a positive"),
        (lambda: adagrad_step(ONES, ONES, -ONES, 0.1), r"s must be >= 0"),
        (lambda: rmsprop_step(ONES, ONES, ZEROS, 0.1, rho=1.5), r"rho must be a number in \[0, 1\)"),
        (lambda: adam_step(ONES, ONES, ZEROS, ZEROS, 0), r"step counter t must be an integer >= 1"),
        (lambda: adam_step(ONES, ONES, ZEROS, ZEROS, 1.0), r"step counter t must be an integer"),
        (lambda: adam_step(ONES, ONES, ZEROS, ZEROS, 1, beta2=1.0), r"beta2 must be a number"),
        (lambda: ema_weights(0.9, 0), r"step counter t must be an integer >= 1"),
        (lambda: l2_gradient(ONES, ONES, -1.0), r"weight_decay must be a finite number >= 0"),
        (lambda: sgd_weight_decay_step(ONES, ONES, 0.1, np.inf), r"weight_decay must be"),
        (lambda: adamw_step(ONES, ONES, ZEROS, ZEROS, 1, weight_decay=-0.1), r"weight_decay must be"),
        (lambda: sgd_step([], [], 0.1), r"theta must be non-empty, got shape \(0,\)"),
        (lambda: adam_step(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros((0, 2)), np.zeros((0, 2)), 1),
         r"theta must be non-empty"),
        (lambda: unrolled_velocity([[1.0, np.nan], [0.0, 0.0]], 0.9), r"grads must be finite"),
        (lambda: unrolled_velocity([np.inf, 1.0], 0.9), r"grads must be finite"),
        (lambda: momentum_step(ONES, ONES, ZEROS, 0.1, np.ones(2)), r"beta must be a number in"),
        (lambda: adagrad_step(ONES, ONES, ZEROS, [0.1]), r"learning rate must be a positive"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("shape", [(1,), (7,), (3, 4)])
def test_every_optimiser_keeps_the_shape_and_lowers_a_quadratic(rng, shape):
    """Parameters of any shape (a weight matrix too): the state has the shape of theta."""
    c = rng.normal(size=shape)
    loss = lambda th: 0.5 * float(np.sum((th - c) ** 2))
    grad = lambda th: th - c
    theta0 = c + rng.normal(size=shape)
    zeros = np.zeros(shape)
    steps = {
        "sgd": lambda th, st, t: (sgd_step(th, grad(th), 0.1), st),
        "momentum": lambda th, st, t: momentum_step(th, grad(th), st, 0.1, 0.9),
        "nesterov": lambda th, st, t: nesterov_step(th, grad, st, 0.1, 0.9),
        "adagrad": lambda th, st, t: adagrad_step(th, grad(th), st, 0.1),
        "rmsprop": lambda th, st, t: rmsprop_step(th, grad(th), st, 0.01),
        "adam": lambda th, st, t: (lambda r: (r[0], r[1:]))(adam_step(th, grad(th), *st, t, 0.01)),
        "adamw": lambda th, st, t: (lambda r: (r[0], r[1:]))(
            adamw_step(th, grad(th), *st, t, 0.01, weight_decay=0.0)),
    }
    for name, step in steps.items():
        theta, state = theta0, (zeros, zeros) if name.startswith("adam") else zeros
        for t in range(1, 21):
            theta, state = step(theta, state, t)
        assert theta.shape == shape, name
        for s in (state if isinstance(state, tuple) else (state,)):
            assert s.shape == shape, name
        assert loss(theta) < loss(theta0), name


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "optimisation/optimisers.md"

from formulas import Dyn, LazyFn  # noqa: E402

LR, BETA, RHO, EPSILON, DECAY = 0.1, 0.8, 0.9, 1e-8, 0.05


def _loss_grad(theta):
    return 2.0 * theta + np.sin(theta)          # gradient of a smooth loss


def _step_envs(rng, t=3):
    """theta_{t-1}, the moments before step t, and every optimiser's step t."""
    for p in (1, 3):
        theta = rng.standard_normal(p)
        v, s = rng.standard_normal(p), rng.uniform(0.1, 1.0, p)
        g = _loss_grad(theta)
        env = {"t": t, "lr": LR, "beta": BETA, "rho": RHO, "epsilon": EPSILON, "omega": DECAY,
               "beta_1": 0.9, "beta_2": 0.999, "theta_t-1": theta, "v_t-1": v,
               "s_t-1": s, "g_t": g, "v_0": 0.0, "s_0": 0.0, "grad_Loss": _loss_grad}
        yield env


def _sgd_envs(rng):
    for env in _step_envs(rng):
        yield {**env, "theta_t": sgd_step(env["theta_t-1"], env["g_t"], LR)}


def _momentum_envs(rng):
    for env in _step_envs(rng):
        theta, v = momentum_step(env["theta_t-1"], env["g_t"], env["v_t-1"], LR, BETA)
        yield {**env, "theta_t": theta, "v_t": v, "v_0": np.zeros_like(v)}


def _unrolled_envs(rng):
    for t in (1, 2, 5):
        G = rng.standard_normal((t, 3))
        yield {"t": t, "beta": BETA, "G": G, "v_t": unrolled_velocity(G, BETA)}
        g = rng.standard_normal(3)
        constant = np.tile(g, (t, 1))
        yield {"t": t, "beta": BETA, "g": g, "__case__": "constant gradient",
               "v_t": unrolled_velocity(constant, BETA),
               **{f"g_{k}": g for k in range(1, t + 1)}}


def _nesterov_envs(rng):
    for env in _step_envs(rng):
        theta, v = nesterov_step(env["theta_t-1"], _loss_grad, env["v_t-1"], LR, BETA)
        look_ahead = env["theta_t-1"] - LR * BETA * env["v_t-1"]
        yield {**env, "theta_t": theta, "v_t": v, "g_t": _loss_grad(look_ahead)}


def _adagrad_envs(rng):
    for env in _step_envs(rng):
        theta, s = adagrad_step(env["theta_t-1"], env["g_t"], env["s_t-1"], LR, EPSILON)
        yield {**env, "theta_t": theta, "s_t": s, "s_0": np.zeros_like(s)}


def _rmsprop_envs(rng):
    for env in _step_envs(rng):
        theta, s = rmsprop_step(env["theta_t-1"], env["g_t"], env["s_t-1"], LR, RHO, EPSILON)
        yield {**env, "theta_t": theta, "s_t": s}


def _ema_env(t, beta_1, values):
    """Gradients drawn independently from the rows of values, every sequence equally likely."""
    import itertools

    sequences = list(itertools.product(range(len(values)), repeat=t))
    current = {"seq": sequences[0]}

    def velocity(env, t=t):
        seq = current["seq"]
        return sum((1 - beta_1) * beta_1 ** (t - k) * values[seq[k - 1]] for k in range(1, t + 1))

    def expectation(ev, node):
        out = []
        for seq in sequences:
            current["seq"] = seq
            out.append(np.asarray(ev.value(node), dtype=float))
        return np.mean(out, axis=0)

    env = {"t": t, "beta_1": beta_1, "E": LazyFn(expectation), "v_t": Dyn(velocity),
           "v_t-1": Dyn(lambda env: velocity(env, t - 1)),
           "g_t": Dyn(lambda env: values[current["seq"][t - 1]]),
           "g": Dyn(lambda env: values[current["seq"][0]])}
    for k in range(1, t + 1):
        env[f"g_{k}"] = Dyn(lambda env, k=k: values[current["seq"][k - 1]])
    return env


def _ema_envs(rng):
    beta_1 = 0.9
    values = np.array([[1.0, -2.0], [3.0, 0.5]])
    for t in (1, 3):
        # the weights (1 - beta_1) beta_1^(t-k) of the sum, from the code
        assert ema_weights(beta_1, t) == pytest.approx(
            [(1 - beta_1) * beta_1 ** (t - k) for k in range(1, t + 1)], rel=EXACT_RTOL)
        yield _ema_env(t, beta_1, values)


def _adam_envs(rng):
    for env in _step_envs(rng):
        b1, b2, t = env["beta_1"], env["beta_2"], env["t"]
        theta, v, s = adam_step(env["theta_t-1"], env["g_t"], env["v_t-1"], env["s_t-1"], t,
                                LR, b1, b2, EPSILON)
        yield {**env, "theta_t": theta, "v_t": v, "s_t": s, "v_t_hat": v / (1 - b1**t),
               "s_t_hat": s / (1 - b2**t)}


def _l2_envs(rng):
    for env in _step_envs(rng):
        yield {**env, "theta": env["theta_t-1"],
               "Loss": lambda th: float(np.sum(th**2) - np.sum(np.cos(th))),
               "Loss_omega": lambda th: float(np.sum(th**2) - np.sum(np.cos(th)))
               + DECAY / 2 * float(th @ th),
               "grad_Loss_omega": lambda th: l2_gradient(_loss_grad(th), th, DECAY)}


def _decay_envs(rng):
    for env in _step_envs(rng):
        yield {**env, "theta_t": sgd_weight_decay_step(env["theta_t-1"], env["g_t"], LR, DECAY)}


def _adamw_envs(rng):
    for env in _adam_envs(rng):
        theta, _, _ = adamw_step(env["theta_t-1"], env["g_t"], env["v_t-1"], env["s_t-1"],
                                 env["t"], LR, env["beta_1"], env["beta_2"], EPSILON, DECAY)
        yield {**env, "theta_t": theta}


FORMULAS = {
    "sgd": Case(_sgd_envs),
    "momentum": Case(_momentum_envs),
    "momentum-unrolled": Case(_unrolled_envs),
    "nesterov": Case(_nesterov_envs),
    "adagrad": Case(_adagrad_envs),
    "rmsprop": Case(_rmsprop_envs),
    "ema": Case(_ema_envs),
    "adam": Case(_adam_envs),
    "l2": Case(_l2_envs),
    "sgd-decay": Case(_decay_envs),
    "adamw": Case(_adamw_envs),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
