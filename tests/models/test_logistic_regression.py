"""Tests for snippets/models/logistic_regression.py (page docs/models/logistic-regression.md)."""

from __future__ import annotations

import numpy as np
import pytest

from snippets.foundations.gradient_checking import central_difference
from snippets.models import logistic_regression
from snippets.models.logistic_regression import (
    bce_loss,
    dloss_da,
    dloss_dz,
    example_gradient,
    forward,
    gradient,
    likelihood,
    loss_from_logits,
    naive_loss_from_logits,
    negative_mean_log_likelihood,
    sigmoid,
    sigmoid_derivative,
    squared_error_dz,
    stable_sigmoid,
)

from checks import (
    EXACT_ATOL,
    EXACT_RTOL,
    NON_FINITE,
    POSITIONS,
    FiniteScans,
    assert_gradient,
    with_value_at,
)
from formulas import Case, formula_test

SHAPES = [(1, 1), (1, 4), (6, 1), (30, 5)]

#: |z| up to this is an "extreme" logit: exp(1e4) overflows float64 many times over.
Z_EXTREME = 1e4


def make_problem(rng: np.random.Generator, m: int, n: int):
    X = rng.standard_normal((m, n))
    y = rng.integers(0, 2, size=m).astype(float)
    w = rng.standard_normal(n)
    b = float(rng.standard_normal())
    return X, y, w, b


def test_sigmoid_known_values():
    assert sigmoid(0.0) == 0.5
    # sigma(ln 3) = 1 / (1 + 1/3) = 3/4, and sigma(-z) = 1 - sigma(z).
    assert sigmoid(np.log(3.0)) == pytest.approx(0.75, rel=EXACT_RTOL)
    assert stable_sigmoid(np.array([-np.log(3.0)]))[0] == pytest.approx(0.25, rel=EXACT_RTOL)


def test_sigmoid_derivative_matches_finite_differences(rng):
    z = rng.normal(scale=4.0, size=20)
    numeric = np.array([central_difference(lambda t: sigmoid(t[0]), np.array([zi]))[0] for zi in z])
    np.testing.assert_allclose(sigmoid_derivative(z), numeric, rtol=1e-8, atol=1e-12)
    assert sigmoid_derivative(0.0) == 0.25   # the largest slope, at z = 0


def test_sigmoid_derivative_quotient_rule_step(rng):
    """Eq. (2): e^{-z} / (1 + e^{-z})^2 equals sigma(z) (1 - sigma(z))."""
    z = rng.normal(scale=3.0, size=50)
    quotient_rule = np.exp(-z) / (1 + np.exp(-z)) ** 2
    np.testing.assert_allclose(sigmoid_derivative(z), quotient_rule, rtol=1e-12)


def test_bce_hand_computed():
    # -(log 0.8 + log(1 - 0.4)) / 2 for a = (0.8, 0.4), y = (1, 0)
    expected = -(np.log(0.8) + np.log(0.6)) / 2
    assert bce_loss([0.8, 0.4], [1, 0]) == pytest.approx(expected, rel=EXACT_RTOL)
    # A coin flip costs log 2 per example whatever the label.
    assert bce_loss([0.5, 0.5], [0, 1]) == pytest.approx(np.log(2), rel=EXACT_RTOL)


def test_likelihood_hand_computed():
    # a = (0.8, 0.4), y = (1, 0): the model gives the labels probabilities 0.8 and 0.6.
    assert likelihood([0.8, 0.4], [1, 0]) == pytest.approx(0.48, rel=EXACT_RTOL)
    assert likelihood([0.5], [0]) == 0.5


@pytest.mark.parametrize("m", [1, 7, 40])
def test_bce_is_the_mean_negative_log_likelihood(rng, m):
    """Eq. (5): log(a^y (1 - a)^(1 - y)) = -l_i, and minus its mean is eq. (4)."""
    a = rng.uniform(0.05, 0.95, size=m)
    y = rng.integers(0, 2, size=m).astype(float)
    per_example = [negative_mean_log_likelihood(a[i:i + 1], y[i:i + 1]) for i in range(m)]
    bernoulli_form = -(y * np.log(a) + (1 - y) * np.log(1 - a))
    np.testing.assert_allclose(per_example, bernoulli_form, rtol=EXACT_RTOL)
    assert negative_mean_log_likelihood(a, y) == pytest.approx(bce_loss(a, y), rel=EXACT_RTOL)
    # and -log of the product, divided by m, is the same number while the product is normal
    assert -np.log(likelihood(a, y)) / m == pytest.approx(bce_loss(a, y), rel=1e-12)


def test_the_product_of_many_probabilities_underflows_but_its_mean_log_does_not():
    a, y = np.full(1100, 0.5), np.zeros(1100)      # 2^-1100 is below every float64
    with pytest.raises(ValueError, match="lost its digits.*negative_mean_log_likelihood"):
        likelihood(a, y)
    assert negative_mean_log_likelihood(a, y) == pytest.approx(np.log(2.0), rel=EXACT_RTOL)
    assert likelihood(a[:1000], y[:1000]) == pytest.approx(2.0**-1000, rel=1e-12)


@pytest.mark.parametrize("y", [0.0, 1.0])
def test_dloss_da_matches_finite_differences(rng, y):
    a = rng.uniform(0.05, 0.95, size=8)
    labels = np.full(8, y)
    # The mean over 8 examples divides each derivative by 8.
    numeric = central_difference(lambda v: bce_loss(v, labels), a) * 8
    np.testing.assert_allclose(dloss_da(a, labels), numeric, rtol=1e-8)


def test_chain_rule_gives_a_minus_y(rng):
    """Eq. (7): (dl/da) * (da/dz) simplifies to a - y, and matches finite differences in z."""
    z = rng.normal(scale=2.0, size=40)
    y = rng.integers(0, 2, size=40).astype(float)
    a = stable_sigmoid(z)
    chain = dloss_da(a, y) * sigmoid_derivative(z)
    np.testing.assert_allclose(dloss_dz(a, y), chain, rtol=1e-12, atol=EXACT_ATOL)
    numeric = central_difference(lambda t: loss_from_logits(t, y), z) * z.size
    np.testing.assert_allclose(dloss_dz(a, y), numeric, rtol=1e-7, atol=1e-10)


def test_dloss_dz_accepts_a_saturated_sigmoid():
    """Eq. (7) at a = 0 and a = 1, where eq. (6) would divide by zero: a - y is exact."""
    np.testing.assert_array_equal(dloss_dz([0.0, 1.0, 1.0, 0.0], [1, 1, 0, 0]),
                                  [-1.0, 0.0, 1.0, 0.0])
    z = np.array([-1000.0, 1000.0])   # stable_sigmoid rounds these to exactly 0 and 1
    np.testing.assert_array_equal(dloss_dz(stable_sigmoid(z), [1, 0]), [-1.0, 1.0])


def test_squared_error_gradient_matches_finite_differences(rng):
    """Eq. (8): the derivative of (sigmoid(z) - y)^2 in z, entry by entry."""
    z = rng.normal(scale=3.0, size=12)
    y = rng.integers(0, 2, size=12).astype(float)
    loss = lambda t: float(np.sum((stable_sigmoid(t) - y) ** 2))   # noqa: E731
    assert_gradient(loss, squared_error_dz(z, y), z)


def test_squared_error_vanishes_where_cross_entropy_pushes_hardest():
    """The page's numbers at z = -10, y = 1: cross-entropy -0.99995, squared error -9.08e-5."""
    a = stable_sigmoid(np.array([-10.0]))
    assert a[0] == pytest.approx(4.5398e-5, rel=1e-4)
    ce = dloss_dz(a, [1])[0]
    sq = squared_error_dz([-10.0], [1])[0]
    assert ce == pytest.approx(-0.99995, rel=1e-5)
    assert sq == pytest.approx(-9.0787e-5, rel=1e-4)
    assert 1.1e4 < ce / sq < 1.11e4           # about eleven thousand times weaker
    # not convex in z: for y = 1 the second derivative is negative at z = -2
    second = central_difference(lambda t: squared_error_dz(t, [1])[0], np.array([-2.0]))[0]
    assert second < -0.1


@pytest.mark.parametrize("m,n", SHAPES)
def test_example_gradient_is_x_times_a_minus_y(rng, m, n):
    X, y, w, b = make_problem(rng, m, n)
    x_i, y_i = X[0], y[0]
    dw_i, db_i = example_gradient(x_i, y_i, w, b)
    a_i = stable_sigmoid(x_i @ w + b)
    np.testing.assert_allclose(dw_i, (a_i - y_i) * x_i, rtol=EXACT_RTOL)
    assert db_i == pytest.approx(a_i - y_i, rel=EXACT_RTOL)
    loss_i = lambda v, c: loss_from_logits(np.array([x_i @ v + c]), np.array([y_i]))  # noqa: E731
    assert_gradient(lambda v: loss_i(v, b), dw_i, w)
    assert_gradient(lambda c: loss_i(w, c[0]), np.array([db_i]), np.array([b]))


@pytest.mark.parametrize("m,n", SHAPES)
def test_vectorised_equals_mean_over_examples(rng, m, n):
    """Eq. (10) is the mean of eq. (9) over the m examples."""
    X, y, w, b = make_problem(rng, m, n)
    per_example = [example_gradient(X[i], y[i], w, b) for i in range(m)]
    dw_loop = np.mean([g[0] for g in per_example], axis=0)
    db_loop = np.mean([g[1] for g in per_example])
    dw, db = gradient(X, y, w, b)
    assert dw.shape == (n,) and isinstance(db, float)
    np.testing.assert_allclose(dw, dw_loop, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    assert db == pytest.approx(db_loop, rel=EXACT_RTOL, abs=EXACT_ATOL)


@pytest.mark.parametrize("m,n", SHAPES)
def test_gradient_matches_finite_differences(rng, m, n):
    X, y, w, b = make_problem(rng, m, n)
    dw, db = gradient(X, y, w, b)
    assert_gradient(lambda v: bce_loss(forward(X, v, b)[1], y), dw, w, rng)
    assert_gradient(lambda c: bce_loss(forward(X, w, c[0])[1], y), np.array([db]), np.array([b]))


def test_gradient_in_random_directions_for_many_features(rng):
    X, y, w, b = make_problem(rng, 25, 400)
    w *= 0.05   # keep the logits moderate so that the probabilities stay inside (0, 1)
    dw, _ = gradient(X, y, w, b)
    assert_gradient(lambda v: loss_from_logits(forward(X, v, b)[0], y), dw, w, rng)


def test_forward_shapes_and_values():
    z, a = forward([[1.0, 2.0], [0.0, 0.0]], [0.5, -0.25], 0.0)
    np.testing.assert_array_equal(z, [0.0, 0.0])
    np.testing.assert_array_equal(a, [0.5, 0.5])


@pytest.mark.parametrize("z", [-1000.0, 1000.0, -Z_EXTREME, Z_EXTREME])
def test_stable_forms_are_finite_and_warning_free_at_extreme_logits(z):
    # filterwarnings = error turns any overflow or divide warning into a failure here.
    zs = np.array([z, z])
    assert np.all(np.isfinite(stable_sigmoid(zs)))
    loss = loss_from_logits(zs, [0, 1])
    # One of the two labels is "right" (loss ~ 0), the other costs about |z|.
    assert loss == pytest.approx(abs(z) / 2, rel=1e-12)
    np.testing.assert_allclose(sigmoid_derivative(zs), 0.0, atol=1e-300)


def test_naive_loss_returns_inf_where_the_stable_one_is_exact():
    # z = 1000 with label 0: sigmoid rounds to exactly 1.0 and log(1 - 1) = -inf.
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        naive = naive_loss_from_logits([1000.0], [0])
    assert naive == np.inf
    assert loss_from_logits([1000.0], [0]) == pytest.approx(1000.0, rel=EXACT_RTOL)


def test_naive_loss_returns_nan_where_the_true_loss_is_tiny():
    # z = -1000 with label 0: exp(1000) overflows, sigmoid is 0, and 0 * log(0) is nan,
    # although the true loss is log(1 + e^-1000), about 1e-434.
    with pytest.warns(RuntimeWarning):
        naive = naive_loss_from_logits([-1000.0], [0])
    assert np.isnan(naive)
    assert loss_from_logits([-1000.0], [0]) == 0.0


def test_stable_sigmoid_removes_the_overflow_not_the_underflow():
    # At z = -710 the true value e^-710 / (1 + e^-710) = 4.476e-309 is a float64: the
    # stable form returns it, the naive one overflows in exp and returns 0.
    assert stable_sigmoid(np.array([-710.0]))[0] == pytest.approx(4.476e-309, rel=1e-3)
    with pytest.warns(RuntimeWarning, match="overflow"):
        assert sigmoid(np.array([-710.0]))[0] == 0.0
    # Below about -745 the true value is below the smallest float64: both give 0.
    assert stable_sigmoid(np.array([-1000.0]))[0] == 0.0


def test_naive_sigmoid_warns_on_overflow():
    with pytest.warns(RuntimeWarning, match="overflow"):
        assert sigmoid(np.array([-1000.0]))[0] == 0.0


def test_stable_and_naive_agree_where_both_are_accurate(rng):
    z = rng.uniform(-5.0, 5.0, size=200)
    y = rng.integers(0, 2, size=200).astype(float)
    assert loss_from_logits(z, y) == pytest.approx(naive_loss_from_logits(z, y), rel=1e-12)
    np.testing.assert_allclose(stable_sigmoid(z), sigmoid(z), rtol=1e-14)


def test_stable_loss_keeps_full_precision_for_confident_right_answers():
    # True loss at z = 30, y = 1 is log(1 + e^-30) = e^-30 - e^-60/2 + ..., about 9.36e-14.
    expected = np.exp(-30.0) - np.exp(-60.0) / 2
    assert loss_from_logits([30.0], [1]) == pytest.approx(expected, rel=1e-14)
    # The naive form takes log(a) with a = 1 - 9.4e-14 rounded to float64, whose spacing
    # near 1 is 1.1e-16: about three digits survive, a relative error near 1e-3.
    naive = naive_loss_from_logits([30.0], [1])
    assert 1e-4 < abs(naive - expected) / expected < 1e-2


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: bce_loss([0.5, 0.5], [0, 2]), r"labels must be 0 or 1, got \[2\.\]"),
        (lambda: bce_loss([0.5, 0.5], [0, -1]), r"labels must be 0 or 1"),
        (lambda: bce_loss([0.5, 0.5], [1]), r"y has 1 entries but there are 2 examples"),
        (lambda: bce_loss([0.0, 0.5], [0, 1]), r"strictly between 0 and 1.*loss_from_logits"),
        (lambda: bce_loss([1.2], [1]), r"strictly between 0 and 1"),
        (lambda: bce_loss([[0.5]], [1]), r"a must be a 1-D array"),
        (lambda: bce_loss([np.nan], [1]), r"a must be finite"),
        (lambda: dloss_da([1.0], [1]), r"strictly between 0 and 1"),
        (lambda: dloss_dz([0.3], [0.5]), r"labels must be 0 or 1"),
        (lambda: dloss_dz([1.2], [1]), r"a must lie in \[0, 1\], got min 1\.2"),
        (lambda: dloss_dz([[0.5]], [1]), r"a must be a 1-D array"),
        (lambda: squared_error_dz([np.nan], [1]), r"z must be finite"),
        (lambda: likelihood([0.0, 0.5], [0, 1]), r"strictly between 0 and 1"),
        (lambda: negative_mean_log_likelihood([0.5], [2]), r"labels must be 0 or 1"),
        (lambda: loss_from_logits([np.inf], [1]), r"z must be finite"),
        (lambda: loss_from_logits([[1.0]], [1]), r"z must be a 1-D array"),
        (lambda: loss_from_logits([], []), r"non-empty 1-D array"),
        (lambda: naive_loss_from_logits([1.0, 2.0], [1]), r"y has 1 entries"),
        (lambda: forward(np.ones(3), np.ones(3), 0.0), r"X must be a 2-D array"),
        (lambda: forward(np.ones((2, 3)), np.ones(2), 0.0), r"w must have shape \(3,\)"),
        (lambda: forward(np.ones((2, 3)), np.ones(3), [0.0, 1.0]), r"b must be a scalar"),
        (lambda: gradient(np.ones((2, 3)), [0, 1, 1], np.ones(3), 0.0), r"y has 3 entries but there are 2"),
        (lambda: example_gradient(np.ones((1, 3)), 1, np.ones(3), 0.0), r"x_i must be a 1-D"),
        (lambda: example_gradient(np.ones(3), [1], np.ones(3), 0.0), r"y_i must be a scalar"),
        (lambda: example_gradient(np.ones(3), 3, np.ones(3), 0.0), r"labels must be 0 or 1"),
        (lambda: stable_sigmoid([np.nan]), r"z must be finite"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(("labels", "valid"), [
    ([0, 1, 1], True), ([0.0, 1.0, 0.0], True), ([True, False, True], True),
    ([0, 1, 2], False), ([0, 1, -1], False), ([0, 1, 0.5], False), ([0, 1, np.nan], False),
    ([0, 1, np.inf], False),
])
def test_labels_are_exactly_0_or_1(labels, valid):
    X, w = np.ones((3, 2)), np.zeros(2)
    if valid:
        dw, db = gradient(X, labels, w, 0.0)
        assert db == pytest.approx(0.5 - np.mean(np.asarray(labels, dtype=float)), rel=1e-15)
    else:
        with pytest.raises(ValueError, match=r"labels must be 0 or 1, got \[[-\w.]+\]"):
            gradient(X, labels, w, 0.0)


def test_the_checks_do_not_copy_a_float64_input(rng):
    X = rng.normal(size=(4, 3))
    assert logistic_regression._check_finite(X, "X") is X


# --- Inputs that are not finite, found from what is computed of them ----------------------

#: The functions that take the whole of X, called as f(X, y, w, b).
BATCH = {"forward": lambda X, y, w, b: forward(X, w, b), "gradient": gradient}


@pytest.mark.filterwarnings("ignore:invalid value encountered in matmul:RuntimeWarning")
@pytest.mark.parametrize("name", BATCH)
@pytest.mark.parametrize("value", NON_FINITE)
@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("zero_w", [True, False], ids=["w=0", "random-w"])
def test_a_nan_or_inf_anywhere_in_X_is_named(rng, name, value, position, zero_w):
    # inf * 0 is nan: with w = 0 the bad entry still reaches z = X @ w + b.
    X, y, w, b = make_problem(rng, 7, 5)
    w = np.zeros(5) if zero_w else w
    with pytest.raises(ValueError, match=r"^X must be finite"):
        BATCH[name](with_value_at(X, position, value), y, w, b)


@pytest.mark.parametrize("value", NON_FINITE)
def test_a_nan_or_inf_in_w_is_named(rng, value):
    X, y, w, b = make_problem(rng, 7, 5)
    with pytest.raises(ValueError, match=r"^w must be finite"):
        gradient(X, y, with_value_at(w, "middle", value), b)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("w_scale", [1e-300, 1e-8, 1e10])
def test_huge_finite_X_gives_the_exact_gradient_or_a_clear_error(w_scale):
    # X = 1e300 everywhere, w = w_scale everywhere, b = 0, y = 0: every logit is
    # z = n * 1e300 * w_scale, a = sigmoid(z), so dw_j = 1e300 * a and db = a.
    m, n = 4, 3
    X, y, w = np.full((m, n), 1e300), np.zeros(m), np.full(n, w_scale)
    z = n * (1e300 * w_scale)
    if np.isfinite(z):
        a = 1.0 / (1.0 + np.exp(-z))
        dw, db = gradient(X, y, w, 0.0)
        np.testing.assert_allclose(dw, np.full(n, 1e300 * a), rtol=EXACT_RTOL)
        assert db == pytest.approx(a, rel=EXACT_RTOL)
    else:
        with pytest.raises(ValueError, match=r"X, w, b are finite.*overflowed float64"):
            gradient(X, y, w, 0.0)


@pytest.mark.filterwarnings("ignore:overflow encountered in matmul:RuntimeWarning")
def test_a_gradient_that_overflows_although_z_is_finite_is_an_error():
    # w = 0 gives z = 0 and a = 1/2 for every example; with y = 0 each dw_j sums
    # m = 4 terms of 1e308 * 1/2 = 2e308 before the division by m: beyond float64.
    X, y = np.full((4, 2), 1e308), np.zeros(4)
    with pytest.raises(ValueError, match=r"X, w and b are finite, but X\^T \(a - y\) overflowed"):
        gradient(X, y, np.zeros(2), 0.0)
    # Three such examples sum to 1.5e308, which float64 holds: dw_j = 1.5e308 / 3 exactly.
    dw, db = gradient(X[:3], y[:3], np.zeros(2), 0.0)
    np.testing.assert_allclose(dw, [0.5e308, 0.5e308], rtol=EXACT_RTOL)
    assert db == 0.5


def test_finite_X_is_not_scanned_but_z_is_checked(rng, monkeypatch):
    X, y, w, b = make_problem(rng, 50, 7)
    scans = FiniteScans()
    monkeypatch.setattr(logistic_regression, "np", scans)
    dw, _ = gradient(X, y, w, b)
    assert (50, 7) not in scans.shapes, "a pass over the whole of X"
    assert (50,) in scans.shapes, "the m logits are checked"
    a = 1.0 / (1.0 + np.exp(-(X @ w + b)))
    np.testing.assert_allclose(dw, X.T @ (a - y) / 50, rtol=EXACT_RTOL)


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "models/logistic-regression.md"

#: Scalar points: both signs, the saturating ends and zero, where the branches of eq. (10) meet.
Z_POINTS = (-6.0, -1.3, -0.2, 0.0, 0.4, 2.5, 7.0)


def _scalar_envs(rng):
    for z in Z_POINTS:
        for y in (0.0, 1.0):
            a = float(stable_sigmoid(np.array([z]))[0])
            yield {"z": z, "y": y, "a": a, "sigma": stable_sigmoid,
                   "sigma'": sigmoid_derivative,
                   "loss": loss_from_logits(np.array([z]), np.array([y])),
                   "dloss/da": float(dloss_da(np.array([a]), np.array([y]))[0]),
                   "dloss/dz": float(dloss_dz(np.array([a]), np.array([y]))[0]),
                   "da/dz": float(sigmoid_derivative(z))}


def _batch_envs(rng):
    for m, n in SHAPES:
        X, y, w, b = make_problem(rng, m, n)
        z, a = forward(X, w, b)
        dw, db = gradient(X, y, w, b)
        yield {"X": X, "y": y, "w": w, "b": b, "z": z, "a": a, "m": m, "n": n,
               "sigma": stable_sigmoid, "dw": dw, "db": db, "Loss": bce_loss(a, y),
               "loss": np.array([bce_loss(a[i:i + 1], y[i:i + 1]) for i in range(m)])}


def _example_envs(rng):
    for m, n in SHAPES:
        X, y, w, b = make_problem(rng, m, n)
        x, y_i = X[0], float(y[0])
        dw_i, db_i = example_gradient(x, y_i, w, b)
        a = float(stable_sigmoid(np.array([x @ w + b]))[0])
        yield {"x": x, "y": y_i, "a": a, "n": n, "dloss/dw": dw_i, "dloss/db": db_i,
               "dloss/dz": float(dloss_dz(np.array([a]), np.array([y_i]))[0]), "dz/dw": x}


def _likelihood_envs(rng):
    for env in _batch_envs(rng):
        a, y = env["a"], env["y"]
        yield {**env, "Loss": negative_mean_log_likelihood(a, y),
               "loss": -np.log(a**y * (1 - a) ** (1 - y))}


def _squared_error_envs(rng):
    for z in Z_POINTS:
        for y in (0.0, 1.0):
            a = float(stable_sigmoid(np.array([z]))[0])
            yield {"z": z, "y": y, "a": a, "loss_sq": (a - y) ** 2,
                   "dloss_sq/dz": float(squared_error_dz(np.array([z]), np.array([y]))[0]),
                   "dloss_sq/da": 2 * (a - y), "da/dz": float(sigmoid_derivative(z))}


FORMULAS = {
    "sigmoid": Case(lambda rng: ({"z": z, "sigma": sigmoid} for z in Z_POINTS)),
    "sigmoid-derivative": Case(_scalar_envs),
    "forward": Case(_batch_envs),
    "loss": Case(_batch_envs),
    "likelihood": Case(_likelihood_envs),
    "dloss-da": Case(_scalar_envs),
    "dloss-dz": Case(_scalar_envs),
    "squared-error": Case(_squared_error_envs),
    "example": Case(_example_envs),
    "grad": Case(_batch_envs),
    "stable-loss": Case(_scalar_envs),
    "stable-sigmoid": Case(_scalar_envs),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)


@pytest.mark.parametrize("b", [np.nan, np.inf, -np.inf, np.array(np.nan)])
def test_a_bias_that_is_not_finite_is_rejected(b):
    with pytest.raises(ValueError, match=r"b must be finite"):
        gradient(np.ones((2, 3)), [0, 1], np.ones(3), b)
