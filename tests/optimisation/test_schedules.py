"""Tests for snippets/optimisation/schedules.py (page docs/optimisation/schedules.md)."""

from __future__ import annotations

import numpy as np
import pytest

from snippets.optimisation.schedules import (
    cosine_annealing,
    exponential_decay,
    linear_warmup,
    step_decay,
    warmup_cosine,
)

from checks import EXACT_ATOL, EXACT_RTOL
from formulas import Case, formula_test

T = np.arange(0, 200)


def test_step_decay_hand_computed():
    # lr_max = 0.1, gamma = 0.5, every 3 steps: t = 0..2 -> 0.1, 3..5 -> 0.05, 6..8 -> 0.025, 9 -> 0.0125
    expected = [0.1] * 3 + [0.05] * 3 + [0.025] * 3 + [0.0125]
    np.testing.assert_allclose(step_decay(np.arange(10), 0.1, 0.5, 3), expected, rtol=EXACT_RTOL)


def test_step_decay_is_piecewise_constant_and_drops_by_gamma():
    lr = step_decay(T, 1.0, 0.1, 30)
    drops = np.flatnonzero(np.diff(lr) != 0) + 1
    np.testing.assert_array_equal(drops, [30, 60, 90, 120, 150, 180])
    np.testing.assert_allclose(lr[drops] / lr[drops - 1], 0.1, rtol=EXACT_RTOL)


def test_exponential_decay_hand_computed_and_as_repeated_multiplication():
    # 0.2 * 0.9^t: 0.2, 0.18, 0.162, 0.1458
    np.testing.assert_allclose(exponential_decay(np.arange(4), 0.2, 0.9),
                               [0.2, 0.18, 0.162, 0.1458], rtol=EXACT_RTOL)
    lr = exponential_decay(T, 0.2, 0.97)
    np.testing.assert_allclose(lr[1:] / lr[:-1], 0.97, rtol=EXACT_RTOL)


def test_exponential_decay_is_step_decay_with_step_one(rng):
    gamma = rng.uniform(0.5, 1.0)
    np.testing.assert_allclose(exponential_decay(T, 0.3, gamma), step_decay(T, 0.3, gamma, 1),
                               rtol=EXACT_RTOL)


def test_cosine_hand_computed():
    # lr_max = 1, lr_min = 0.2, n = 4: t = 0, 1, 2, 3, 4 -> cos(pi t/4) = 1, r, 0, -r, -1 with r = 1/sqrt 2
    # lr = 0.2 + 0.4 (1 + cos): 1, 0.2 + 0.4 (1 + r), 0.6, 0.2 + 0.4 (1 - r), 0.2
    r = 1 / np.sqrt(2)
    expected = [1.0, 0.2 + 0.4 * (1 + r), 0.6, 0.2 + 0.4 * (1 - r), 0.2]
    np.testing.assert_allclose(cosine_annealing(np.arange(5), 1.0, 0.2, 4), expected,
                               rtol=EXACT_RTOL)


def test_cosine_is_decreasing_and_symmetric_about_its_midpoint():
    lr = cosine_annealing(np.arange(101), 0.5, 0.01, 100)
    assert np.all(np.diff(lr) < 0)
    # lr(t) - mid = -(lr(n - t) - mid): the curve is point-symmetric about (n/2, mid)
    mid = (0.5 + 0.01) / 2
    np.testing.assert_allclose(lr - mid, -(lr[::-1] - mid), atol=EXACT_ATOL)
    # its slope is 0 at both ends and steepest, -(lr_max - lr_min) pi / (2 n), in the middle
    slope_mid = (lr[51] - lr[49]) / 2
    assert slope_mid == pytest.approx(-(0.49) * np.pi / 200, rel=1e-3)


def test_warmup_hand_computed():
    # lr_max = 0.1 over 4 steps: 0.025, 0.05, 0.075, 0.1, then 0.1 for ever
    np.testing.assert_allclose(linear_warmup(np.arange(7), 0.1, 4),
                               [0.025, 0.05, 0.075, 0.1, 0.1, 0.1, 0.1], rtol=EXACT_RTOL)


def test_warmup_of_one_step_is_a_constant_rate():
    np.testing.assert_array_equal(linear_warmup(T, 0.3, 1), np.full(T.shape, 0.3))


def test_warmup_cosine_joins_the_two_pieces():
    # 2 warm-up steps, 6 in all: 0.5, 1, then cosine over 4 steps from 1 to 0:
    # 1, 0.5 (1 + r), 0.5, 0.5 (1 - r), 0 with r = 1/sqrt 2
    r = 1 / np.sqrt(2)
    expected = [0.5, 1.0, 1.0, 0.5 * (1 + r), 0.5, 0.5 * (1 - r), 0.0]
    np.testing.assert_allclose(warmup_cosine(np.arange(7), 1.0, 0.0, 2, 6), expected,
                               rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_scalar_step_gives_a_scalar_array():
    assert step_decay(5, 0.1, 0.5, 2).shape == ()
    assert float(cosine_annealing(0, 0.1, 0.0, 10)) == pytest.approx(0.1, rel=EXACT_RTOL)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: step_decay(-1, 0.1, 0.5, 2), r"step t must be an integer >= 0"),
        (lambda: step_decay(1.5, 0.1, 0.5, 2), r"step t must be an integer >= 0"),
        (lambda: step_decay(1, 0.0, 0.5, 2), r"lr_max must be a positive finite number"),
        (lambda: step_decay(1, 0.1, 1.5, 2), r"gamma must be a number in \(0, 1\]"),
        (lambda: step_decay(1, 0.1, 0.5, 0), r"step_size must be a positive integer"),
        (lambda: exponential_decay(1, 0.1, 0.0), r"gamma must be a number in \(0, 1\]"),
        (lambda: cosine_annealing(11, 0.1, 0.0, 10), r"must be <= the number of steps 10"),
        (lambda: cosine_annealing(1, 0.1, 0.2, 10), r"lr_min must be a number in \[0, lr_max\]"),
        (lambda: cosine_annealing(1, 0.1, 0.0, 0), r"n_steps must be a positive integer"),
        (lambda: linear_warmup(1, np.inf, 5), r"lr_max must be a positive finite number"),
        (lambda: linear_warmup(1, 0.1, 2.0), r"warmup_steps must be a positive integer"),
        (lambda: warmup_cosine(1, 0.1, 0.0, 10, 10), r"n_steps - warmup_steps must be a positive"),
        (lambda: warmup_cosine(11, 0.1, 0.0, 2, 10), r"must be <= the number of steps 10"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "optimisation/schedules.md"

#: The schedules' settings for the formula checks (T_TOTAL is the page's T).
LR_MAX, LR_MIN, GAMMA, T_STEP, T_TOTAL, T_W = 0.5, 0.01, 0.7, 4, 20, 5


def _envs(rng, schedule):
    for t in (0, 1, 3, 4, 5, 9, 12, 20):
        ts = np.array([t])
        lr_t = {"step": step_decay(ts, LR_MAX, GAMMA, T_STEP),
                "exp": exponential_decay(ts, LR_MAX, GAMMA),
                "cos": cosine_annealing(ts, LR_MAX, LR_MIN, T_TOTAL),
                "warm": linear_warmup(ts, LR_MAX, T_W),
                "warm-cos": warmup_cosine(ts, LR_MAX, LR_MIN, T_W, T_TOTAL)}[schedule][0]
        yield {"t": t, "lr_t": lr_t, "lr_max": LR_MAX, "lr_min": LR_MIN, "gamma": GAMMA,
               "T_step": T_STEP, "T": T_TOTAL, "T_w": T_W}


FORMULAS = {
    "step-decay": Case(lambda rng: _envs(rng, "step")),
    "exponential": Case(lambda rng: _envs(rng, "exp")),
    "cosine": Case(lambda rng: _envs(rng, "cos")),
    "warmup": Case(lambda rng: _envs(rng, "warm")),
    "warmup-cosine": Case(lambda rng: _envs(rng, "warm-cos")),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
