"""Tests for snippets/models/linear_regression.py (page docs/models/linear-regression.md)."""

from __future__ import annotations

import numpy as np
import pytest

from snippets.foundations.gradient_checking import central_difference
from snippets.models import linear_regression
from snippets.models.linear_regression import (
    example_gradient,
    fit,
    gradient,
    gradient_by_sum,
    gradient_descent_step,
    half_mse_gradient,
    half_mse_loss,
    mse_loss,
    normal_equation,
    predict,
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


def make_problem(rng: np.random.Generator, m: int, n: int):
    X = rng.standard_normal((m, n))
    y = rng.standard_normal(m)
    w = rng.standard_normal(n)
    b = float(rng.standard_normal())
    return X, y, w, b


def test_predict_hand_computed():
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    # 1*0.5 + 2*(-1) + 2 = 0.5 and 3*0.5 + 4*(-1) + 2 = -0.5
    np.testing.assert_array_equal(predict(X, [0.5, -1.0], 2.0), [0.5, -0.5])


def test_mse_hand_computed():
    # residuals 0, 2, 3: (0 + 4 + 9) / 3
    assert mse_loss([1.0, 2.0, 3.0], [1.0, 0.0, 0.0]) == pytest.approx(13 / 3, rel=EXACT_RTOL)


def test_gradient_hand_computed():
    # One feature, two examples: X = [[1], [2]], y = [1, 1], w = [1], b = 0.
    # Residuals y_hat - y = [0, 1]; dw = (2/2) * (1*0 + 2*1) = 2; db = (2/2) * (0 + 1) = 1.
    dw, db = gradient([[1.0], [2.0]], [1.0, 1.0], [1.0], 0.0)
    np.testing.assert_array_equal(dw, [2.0])
    assert db == 1.0


@pytest.mark.parametrize("m,n", SHAPES)
def test_chain_rule_steps_of_one_example(rng, m, n):
    """Eqs. (3)-(4): outer derivative, inner derivatives, and their product."""
    X, y, w, b = make_problem(rng, m, n)
    x_i, y_i = X[0], y[0]
    y_hat_i = float(x_i @ w + b)
    # Step 1: d/d y_hat of (y_hat - y)^2 is 2 (y_hat - y).
    outer = central_difference(lambda t: (t[0] - y_i) ** 2, np.array([y_hat_i]))[0]
    assert outer == pytest.approx(2 * (y_hat_i - y_i), rel=1e-8, abs=1e-10)
    # Step 2: d y_hat / d w_j is x_ij and d y_hat / d b is 1.
    inner_w = central_difference(lambda v: predict(x_i[None, :], v, b)[0], w)
    inner_b = central_difference(lambda c: predict(x_i[None, :], w, c[0])[0], np.array([b]))
    np.testing.assert_allclose(inner_w, x_i, rtol=1e-8, atol=1e-10)
    assert inner_b[0] == pytest.approx(1.0, rel=1e-8)
    # Step 3: the product is the gradient of the example's loss.
    dw_i, db_i = example_gradient(x_i, y_i, w, b)
    np.testing.assert_allclose(dw_i, outer * inner_w, rtol=1e-7, atol=1e-9)
    assert_gradient(lambda v: (x_i @ v + b - y_i) ** 2, dw_i, w)
    assert_gradient(lambda c: (x_i @ w + c[0] - y_i) ** 2, np.array([db_i]), np.array([b]))


@pytest.mark.parametrize("m,n", SHAPES)
def test_vectorised_equals_mean_over_examples(rng, m, n):
    """Eq. (6) equals eq. (5): the matrix form is the loop over examples."""
    X, y, w, b = make_problem(rng, m, n)
    dw_loop, db_loop = gradient_by_sum(X, y, w, b)
    dw, db = gradient(X, y, w, b)
    np.testing.assert_allclose(dw, dw_loop, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    assert db == pytest.approx(db_loop, rel=EXACT_RTOL, abs=EXACT_ATOL)


@pytest.mark.parametrize("m,n", SHAPES)
def test_gradient_matches_finite_differences(rng, m, n):
    X, y, w, b = make_problem(rng, m, n)
    dw, db = gradient(X, y, w, b)
    assert dw.shape == (n,) and isinstance(db, float)
    assert_gradient(lambda v: mse_loss(predict(X, v, b), y), dw, w, rng)
    assert_gradient(lambda c: mse_loss(predict(X, w, c[0]), y), np.array([db]), np.array([b]))


def test_gradient_matches_finite_differences_in_random_directions(rng):
    """A large w: the checker probes random directions instead of every coordinate."""
    X, y, w, b = make_problem(rng, 40, 300)
    dw, _ = gradient(X, y, w, b)
    assert_gradient(lambda v: mse_loss(predict(X, v, b), y), dw, w, rng)


@pytest.mark.parametrize("m,n", SHAPES)
def test_half_convention_halves_the_gradient(rng, m, n):
    """Eqs. (7)-(8): the 1/2 removes the factor 2 and changes nothing else."""
    X, y, w, b = make_problem(rng, m, n)
    dw, db = gradient(X, y, w, b)
    dw_half, db_half = half_mse_gradient(X, y, w, b)
    np.testing.assert_allclose(dw_half, dw / 2, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    assert db_half == pytest.approx(db / 2, rel=EXACT_RTOL, abs=EXACT_ATOL)
    assert half_mse_loss(predict(X, w, b), y) == pytest.approx(
        mse_loss(predict(X, w, b), y) / 2, rel=EXACT_RTOL)
    assert_gradient(lambda v: half_mse_loss(predict(X, v, b), y), dw_half, w, rng)


def test_gradient_descent_step_hand_computed():
    w, b = gradient_descent_step(np.array([1.0, 2.0]), 3.0, np.array([0.5, -1.0]), 2.0, lr=0.1)
    np.testing.assert_allclose(w, [0.95, 2.1], rtol=EXACT_RTOL)
    assert b == pytest.approx(2.8, rel=EXACT_RTOL)


def test_step_against_the_gradient_lowers_the_loss(rng):
    X, y, w, b = make_problem(rng, 20, 3)
    dw, db = gradient(X, y, w, b)
    w2, b2 = gradient_descent_step(w, b, dw, db, lr=1e-3)
    assert mse_loss(predict(X, w2, b2), y) < mse_loss(predict(X, w, b), y)


def test_normal_equation_on_an_exact_line():
    # Points on y = 2x + 1 are fitted exactly: w = 2, b = 1, zero loss and zero gradient.
    X = np.array([[0.0], [1.0], [2.0], [5.0]])
    y = 2 * X[:, 0] + 1
    w, b = normal_equation(X, y)
    np.testing.assert_allclose(w, [2.0], rtol=EXACT_RTOL)
    assert b == pytest.approx(1.0, rel=EXACT_RTOL)
    dw, db = gradient(X, y, w, b)
    np.testing.assert_allclose(dw, [0.0], atol=EXACT_ATOL)
    assert db == pytest.approx(0.0, abs=EXACT_ATOL)


@pytest.mark.parametrize("m,n", [(50, 1), (200, 3), (100, 8)])
def test_gradient_descent_reaches_the_normal_equation(rng, m, n):
    X = rng.normal(loc=1.0, scale=2.0, size=(m, n))
    y = X @ rng.standard_normal(n) - 0.7 + 0.1 * rng.standard_normal(m)
    w_star, b_star = normal_equation(X, y)
    # The loss is a quadratic with Hessian (2/m) A^T A, A = [X 1]; a learning rate of
    # 1 / (its largest eigenvalue) converges, with rate set by the smallest eigenvalue.
    A = np.column_stack([X, np.ones(m)])
    eig = np.linalg.eigvalsh(2 / m * A.T @ A)
    lr = 1 / eig[-1]
    n_iters = int(np.ceil(np.log(1e-14) / np.log(1 - eig[0] / eig[-1]))) + 10
    w, b, losses = fit(X, y, lr, n_iters)
    np.testing.assert_allclose(w, w_star, rtol=1e-9, atol=1e-9)
    assert b == pytest.approx(b_star, rel=1e-9, abs=1e-9)
    assert np.all(np.diff(losses) <= 1e-15), "loss must not rise when lr <= 1/L"
    assert losses[-1] == pytest.approx(mse_loss(predict(X, w_star, b_star), y), rel=1e-9)


@pytest.mark.parametrize("m,n", [(1, 1), (7, 3)])
def test_hessian_is_two_over_m_a_transpose_a_and_semidefinite(rng, m, n):
    """The Hessian of eq. (2) in theta = (w, b): finite differences of eq. (5), column by
    column, give (2/m) A^T A, whose quadratic form (2/m)|A v|^2 is never negative."""
    X, y, w, b = make_problem(rng, m, n)
    theta = np.append(w, b)
    grad = lambda t: np.append(*gradient(X, y, t[:-1], t[-1]))   # noqa: E731
    H_numeric = np.column_stack([
        central_difference(lambda s, k=k: grad(s)[k], theta) for k in range(n + 1)])
    A = np.column_stack([X, np.ones(m)])
    np.testing.assert_allclose(H_numeric, 2 / m * A.T @ A, rtol=1e-7, atol=1e-8)
    assert np.linalg.eigvalsh(2 / m * A.T @ A)[0] >= -EXACT_ATOL


@pytest.mark.parametrize("factor, converges", [(1.9, True), (2.1, False)])
def test_learning_rate_bound_two_over_lambda_max(rng, factor, converges):
    """Just below 2 / lambda_max the loss falls to its minimum; just above, it blows up."""
    m, n = 40, 3
    X = rng.standard_normal((m, n))
    y = rng.standard_normal(m)
    A = np.column_stack([X, np.ones(m)])
    lam_max = np.linalg.eigvalsh(2 / m * A.T @ A)[-1]
    w_star, b_star = normal_equation(X, y)
    loss_star = mse_loss(predict(X, w_star, b_star), y)
    _, _, losses = fit(X, y, lr=factor / lam_max, n_iters=400)
    if converges:
        assert np.all(np.diff(losses) <= 1e-15), "the loss may only stall at rounding level"
        assert losses[-1] == pytest.approx(loss_star, rel=1e-6)
    else:
        assert losses[-1] > 1e3 * losses[0]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: predict(np.ones(3), np.ones(3), 0.0), r"X must be a 2-D array.*got shape \(3,\)"),
        (lambda: predict(np.ones((2, 3)), np.ones(2), 0.0), r"w must have shape \(3,\).*\(2,\)"),
        (lambda: predict(np.ones((2, 3)), np.ones(3), [1.0, 2.0]), r"b must be a scalar"),
        (lambda: predict(np.ones((0, 3)), np.ones(3), 0.0), r"at least one example"),
        (lambda: predict([[np.nan]], [1.0], 0.0), r"X must be finite"),
        (lambda: gradient(np.ones((4, 2)), np.ones(3), np.ones(2), 0.0), r"4 rows.*3 entries"),
        (lambda: gradient(np.ones((3, 2)), np.ones((3, 1)), np.ones(2), 0.0), r"y must be a 1-D"),
        (lambda: gradient(np.ones((3, 2)), [1.0, np.inf, 0.0], np.ones(2), 0.0), r"y must be finite"),
        (lambda: mse_loss([1.0, 2.0], [1.0]), r"2 entries but y has 1"),
        (lambda: mse_loss([[1.0]], [1.0]), r"must be 1-D"),
        (lambda: mse_loss([], []), r"at least one example"),
        (lambda: mse_loss([np.nan], [1.0]), r"must be finite"),
        (lambda: example_gradient(np.ones((1, 2)), 1.0, np.ones(2), 0.0), r"x_i must be a 1-D"),
        (lambda: example_gradient(np.ones(2), [1.0], np.ones(2), 0.0), r"y_i must be a scalar"),
        (lambda: gradient_descent_step(np.ones(2), 0.0, np.ones(2), 0.0, lr=0.0), r"learning rate"),
        (lambda: gradient_descent_step(np.ones(2), 0.0, np.ones(2), 0.0, lr=np.ones(2)),
         r"learning rate"),
        (lambda: gradient_descent_step(np.ones(2), 0.0, np.ones(2), [1.0], lr=0.1), r"b and db must be"),
        (lambda: gradient_descent_step(np.ones(2), 0.0, np.ones(3), 0.0, lr=0.1), r"dw must have"),
        (lambda: fit(np.ones((3, 1)), np.ones(3), 0.1, n_iters=0), r"n_iters must be a positive"),
        (lambda: normal_equation(np.ones((3, 1)), np.ones(3)), r"rank 1 < n \+ 1 = 2"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_the_checks_do_not_copy_a_float64_input(rng):
    X, y = rng.normal(size=(4, 3)), rng.normal(size=4)
    X_checked, y_checked = linear_regression._check_data(X, y)
    assert X_checked is X and y_checked is y


# --- Inputs that are not finite, found from what is computed of them ----------------------

#: The functions that take the whole of X, called as f(X, y, w, b).
BATCH = {
    "predict": lambda X, y, w, b: predict(X, w, b),
    "gradient": gradient,
    "half_mse_gradient": half_mse_gradient,
}


@pytest.mark.filterwarnings("ignore:invalid value encountered in matmul:RuntimeWarning")
@pytest.mark.parametrize("name", BATCH)
@pytest.mark.parametrize("value", NON_FINITE)
@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("zero_w", [True, False], ids=["w=0", "random-w"])
def test_a_nan_or_inf_anywhere_in_X_is_named(rng, name, value, position, zero_w):
    # inf * 0 is nan: with w = 0 the bad entry still reaches X @ w (and NumPy may warn).
    X, y, w, b = make_problem(rng, 7, 5)
    w = np.zeros(5) if zero_w else w
    with pytest.raises(ValueError, match=r"^X must be finite"):
        BATCH[name](with_value_at(X, position, value), y, w, b)


@pytest.mark.parametrize("name", ["gradient", "half_mse_gradient"])
@pytest.mark.parametrize("value", NON_FINITE)
@pytest.mark.parametrize("bad", ["y", "w", "b"])
def test_a_nan_or_inf_in_y_w_or_b_is_named(rng, name, value, bad):
    X, y, w, b = make_problem(rng, 7, 5)
    inputs = {"X": X, "y": y, "w": w, "b": b}
    inputs[bad] = value if bad == "b" else with_value_at(inputs[bad], "middle", value)
    with pytest.raises(ValueError, match=rf"^{bad} must be finite"):
        BATCH[name](**inputs)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("w_scale", [1e-300, 1e-8, 1.0, 1e10])
def test_huge_finite_X_gives_the_exact_gradient_or_a_clear_error(w_scale):
    # X = 1e300 everywhere, w = w_scale everywhere, b = 0, y = 0: every residual is
    # r = n * 1e300 * w_scale, so dw_j = (2/m) * m * 1e300 * r and db = 2 r.
    m, n = 4, 3
    X, y, w = np.full((m, n), 1e300), np.zeros(m), np.full(n, w_scale)
    r = n * (1e300 * w_scale)
    if not np.isfinite(r):
        with pytest.raises(ValueError, match=r"X, y, w, b are finite.*overflowed float64"):
            gradient(X, y, w, 0.0)
    elif not np.isfinite(2e300 * r):
        with pytest.raises(ValueError, match=r"the residuals r are finite.*overflowed"):
            gradient(X, y, w, 0.0)
    else:
        dw, db = gradient(X, y, w, 0.0)
        np.testing.assert_allclose(dw, np.full(n, 2e300 * r), rtol=EXACT_RTOL)
        assert db == pytest.approx(2 * r, rel=EXACT_RTOL)


def test_finite_X_is_not_scanned_but_what_is_computed_from_it_is(rng, monkeypatch):
    X, y, w, b = make_problem(rng, 50, 7)
    scans = FiniteScans()
    monkeypatch.setattr(linear_regression, "np", scans)
    dw, db = gradient(X, y, w, b)
    assert (50, 7) not in scans.shapes, "a pass over the whole of X"
    assert scans.shapes == [(50,), (7,)], "the m residuals and the n entries of dw"
    np.testing.assert_allclose(dw, 2 / 50 * X.T @ (X @ w + b - y), rtol=EXACT_RTOL)


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "models/linear-regression.md"


def _envs(rng):
    for m, n in SHAPES:
        X, y, w, b = make_problem(rng, m, n)
        y_hat = predict(X, w, b)
        per_example = [example_gradient(X[i], y[i], w, b) for i in range(m)]
        dw, db = gradient(X, y, w, b)
        dw_sum, db_sum = gradient_by_sum(X, y, w, b)
        dw_half, db_half = half_mse_gradient(X, y, w, b)
        lr = 0.1
        w_new, b_new = gradient_descent_step(w, b, dw, db, lr)
        yield {
            "X": X, "y": y, "w": w, "b": b, "m": m, "n": n, "y_hat": y_hat, "lr": lr,
            "loss": (y_hat - y) ** 2, "Loss": mse_loss(y_hat, y), "Loss_1/2": half_mse_loss(y_hat, y),
            # per-example derivatives, one row per example
            "dloss/dw": np.array([g[0] for g in per_example]),
            "dloss/db": np.array([g[1] for g in per_example]),
            "dloss/dy_hat": 2.0 * (y_hat - y), "dy_hat/dw": X, "dy_hat/db": np.ones(m),
            "dw": dw, "db": db, "dw_by_sum": dw_sum,
            "dLoss_1/2/dw": dw_half, "dLoss_1/2/db": db_half,
            "__after__": {"w": w_new, "b": b_new},
        }


def _sum_envs(rng):
    for env in _envs(rng):
        yield {**env, "dw": env.pop("dw_by_sum")}


def _normal_envs(rng):
    for m, n in [(3, 1), (6, 2), (30, 5)]:
        X, y, _, _ = make_problem(rng, m, n)
        w, b = normal_equation(X, y)
        dw, db = gradient(X, y, w, b)
        A = np.column_stack([X, np.ones(m)])
        yield {"A": A, "y": y, "m": m, "n": n, "theta": np.append(w, b),
               "dtheta": np.append(dw, db)}


FORMULAS = {
    "predict": Case(_envs),
    "loss": Case(_envs),
    "example": Case(_envs),
    "sum": Case(_sum_envs),
    "grad": Case(_envs),
    "half": Case(_envs),
    "step": Case(_envs),
    "normal": Case(_normal_envs),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
