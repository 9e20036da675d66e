"""Tests for snippets/networks/activations.py (page docs/networks/activations.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from snippets.foundations.gradient_checking import central_difference
from snippets.networks.activations import (
    elu,
    elu_derivative,
    erf,
    gelu,
    gelu_derivative,
    gelu_tanh,
    gelu_tanh_derivative,
    leaky_relu,
    leaky_relu_derivative,
    naive_softplus,
    relu,
    relu_derivative,
    scaled_softplus,
    sigmoid,
    sigmoid_derivative,
    silu,
    silu_derivative,
    softplus,
    softplus_derivative,
    tanh,
    tanh_derivative,
    tanh_from_sigmoid,
)

from checks import EXACT_ATOL, EXACT_RTOL
from formulas import Case, FnValue, formula_test

PAIRS = {
    "sigmoid": (sigmoid, sigmoid_derivative),
    "tanh": (tanh, tanh_derivative),
    "relu": (relu, relu_derivative),
    "leaky_relu": (leaky_relu, leaky_relu_derivative),
    "elu": (elu, elu_derivative),
    "softplus": (softplus, softplus_derivative),
    "gelu": (gelu, gelu_derivative),
    "gelu_tanh": (gelu_tanh, gelu_tanh_derivative),
    "silu": (silu, silu_derivative),
}

#: Tolerance for a derivative against central differences, point by point: the step
#: h = 1e-5 leaves a truncation error of about h**2 |g'''| / 6 < 1e-10 for these functions
#: (|g'''| < 2 away from kinks), plus round-off of about 1e-16 / h = 1e-11.
FD_TOL = 1e-8

#: Distance kept from the kink at 0 in finite-difference tests of the ReLU family: a
#: central difference with step 1e-5 that straddles the kink measures the average of the
#: two one-sided slopes, not either of them.
KINK_MARGIN = 1e-3

#: Largest gap between the exact GELU and its tanh approximation on the real line, measured
#: on a fine grid over [-10, 10] in test_gelu_tanh_approximation_is_close (about 4.7e-4).
GELU_TANH_GAP = 5e-4


#: The same for the slopes (measured about 8.7e-4).
GELU_TANH_SLOPE_GAP = 9e-4


def numeric_derivative(g, z: np.ndarray) -> np.ndarray:
    return np.array([central_difference(lambda t: float(g(t[0])), np.array([zi]))[0] for zi in z])


def away_from_kink(rng: np.random.Generator, size: int) -> np.ndarray:
    z = rng.normal(scale=3.0, size=size)
    return np.where(np.abs(z) < KINK_MARGIN, KINK_MARGIN * np.sign(z) + KINK_MARGIN, z)


@pytest.mark.parametrize("name", PAIRS)
def test_derivative_matches_finite_differences(rng, name):
    g, dg = PAIRS[name]
    z = away_from_kink(rng, 40)
    np.testing.assert_allclose(dg(z), numeric_derivative(g, z), rtol=FD_TOL, atol=FD_TOL)


@pytest.mark.parametrize("name", PAIRS)
@pytest.mark.parametrize("shape", [(), (1,), (3, 4)])
def test_elementwise_on_any_shape(rng, name, shape):
    g, dg = PAIRS[name]
    z = rng.standard_normal(shape)
    assert np.shape(g(z)) == shape and np.shape(dg(z)) == shape
    flat = np.array([g(zi) for zi in np.ravel(z)])
    np.testing.assert_allclose(np.ravel(g(z)), flat, rtol=EXACT_RTOL)


@pytest.mark.parametrize("name", PAIRS)
@pytest.mark.parametrize("z", [-1000.0, 1000.0, -50.0, 50.0])
def test_finite_and_warning_free_at_large_inputs(name, z):
    g, dg = PAIRS[name]
    assert np.isfinite(g(np.array([z])))[0] and np.isfinite(dg(np.array([z])))[0]


def test_known_values():
    # By hand: sigma(0) = 1/2, sigma'(0) = 1/4; tanh'(0) = 1; softplus(0) = log 2.
    assert sigmoid(0.0) == 0.5 and sigmoid_derivative(0.0) == 0.25
    assert tanh(0.0) == 0.0 and tanh_derivative(0.0) == 1.0
    assert softplus(0.0) == pytest.approx(math.log(2.0), rel=EXACT_RTOL)
    assert softplus_derivative(0.0) == 0.5
    # ReLU family at 0 and beyond it; ELU(-ln 2) = e^{-ln 2} - 1 = -1/2.
    np.testing.assert_array_equal(relu([-2.0, 0.0, 3.0]), [0.0, 0.0, 3.0])
    np.testing.assert_array_equal(relu_derivative([-2.0, 0.0, 3.0]), [0.0, 0.0, 1.0])
    np.testing.assert_allclose(leaky_relu([-2.0, 3.0]), [-0.02, 3.0], rtol=EXACT_RTOL)
    np.testing.assert_array_equal(leaky_relu_derivative([-2.0, 0.0, 3.0]), [0.01, 0.01, 1.0])
    assert elu(-math.log(2.0)) == pytest.approx(-0.5, rel=EXACT_RTOL)
    assert elu_derivative(-math.log(2.0)) == pytest.approx(0.5, rel=EXACT_RTOL)
    assert elu_derivative(0.0) == 1.0 and elu(2.0) == 2.0
    # GELU(1) = Phi(1) = 0.8413447460685429 (normal table); GELU(0) = 0, GELU'(0) = 1/2.
    assert gelu(1.0) == pytest.approx(0.8413447460685429, rel=1e-15)
    assert gelu(0.0) == 0.0 and gelu_derivative(0.0) == 0.5
    assert gelu_tanh(0.0) == 0.0 and gelu_tanh_derivative(0.0) == 0.5
    # SiLU(0) = 0, SiLU'(0) = sigma(0) = 1/2; SiLU(ln 3) = ln 3 * 3/4.
    assert silu(0.0) == 0.0 and silu_derivative(0.0) == 0.5
    assert silu(math.log(3.0)) == pytest.approx(0.75 * math.log(3.0), rel=EXACT_RTOL)


def test_erf_matches_the_standard_library_entry_by_entry():
    z = np.array([[-3.0, -0.5], [0.0, 2.0]])
    assert erf(z).shape == (2, 2)
    np.testing.assert_array_equal(erf(z), [[math.erf(v) for v in row] for row in z])


def test_central_difference_at_the_kink_measures_the_average_slope():
    """Why the finite-difference tests keep away from z = 0 for the ReLU family."""
    at_zero = central_difference(lambda t: float(relu(t[0])), np.array([0.0]))[0]
    assert at_zero == pytest.approx(0.5, rel=EXACT_RTOL)          # (h - 0) / 2h
    assert relu_derivative(0.0) == 0.0                           # the value chosen at 0


def test_tanh_is_a_stretched_sigmoid(rng):
    """Eq. (3), and its derivative: tanh'(z) = 4 sigma'(2z)."""
    z = rng.normal(scale=4.0, size=50)
    np.testing.assert_allclose(tanh_from_sigmoid(z), np.tanh(z), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(tanh_derivative(z), 4.0 * sigmoid_derivative(2.0 * z),
                               rtol=1e-9, atol=EXACT_ATOL)


def test_tanh_from_its_definition(rng):
    z = rng.normal(scale=2.0, size=20)
    by_definition = (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z))
    np.testing.assert_allclose(tanh(z), by_definition, rtol=EXACT_RTOL, atol=EXACT_ATOL)


def test_naive_softplus_overflows_where_the_stable_one_is_exact():
    with pytest.warns(RuntimeWarning, match="overflow"):
        assert naive_softplus(np.array([1000.0]))[0] == np.inf
    # log(1 + e^1000) = 1000 + log(1 + e^-1000) = 1000 in float64.
    assert softplus(np.array([1000.0]))[0] == 1000.0


def test_naive_softplus_rounds_tiny_values_to_zero():
    # At z = -40, 1 + e^-40 rounds to exactly 1 (e^-40 = 4.25e-18 is below half the spacing
    # of float64 at 1); the true value is log(1 + e^-40) = e^-40 - e^-80 / 2 + ...
    assert naive_softplus(np.array([-40.0]))[0] == 0.0
    assert softplus(-40.0) == pytest.approx(np.exp(-40.0), rel=1e-15)


def test_naive_and_stable_softplus_agree_for_moderate_inputs(rng):
    # Below about -5, 1 + e^z rounds away most digits of e^z: the naive form loses accuracy.
    z = rng.uniform(-5.0, 20.0, size=100)
    np.testing.assert_allclose(softplus(z), naive_softplus(z), rtol=1e-12)


@pytest.mark.parametrize("beta", [1.0, 3.0, 50.0])
def test_scaled_softplus_is_relu_plus_a_small_gap(rng, beta):
    """Eq. (8): softplus(beta z) / beta = ReLU(z) + log(1 + e^{-beta |z|}) / beta."""
    z = rng.normal(scale=3.0, size=200)
    direct = np.logaddexp(0.0, beta * z) / beta
    np.testing.assert_allclose(scaled_softplus(z, beta), direct, rtol=EXACT_RTOL, atol=1e-15)
    gap = scaled_softplus(z, beta) - relu(z)
    # The gap is positive in exact arithmetic; for beta |z| > 745 it underflows to 0.
    assert np.all(gap >= 0) and np.all(gap <= math.log(2.0) / beta * (1 + EXACT_RTOL))
    # The largest gap, log(2) / beta, is at z = 0.
    assert scaled_softplus(0.0, beta) == pytest.approx(math.log(2.0) / beta, rel=EXACT_RTOL)


def test_softplus_derivative_is_sigmoid_and_relu_is_the_limit():
    z = np.array([-2.0, -0.5, 0.5, 2.0])
    np.testing.assert_array_equal(softplus_derivative(z), sigmoid(z))
    np.testing.assert_allclose(scaled_softplus(z, 1e3), relu(z), atol=1e-15)


def test_gelu_tanh_approximation_is_close():
    z = np.linspace(-10.0, 10.0, 20001)
    gap = np.max(np.abs(gelu(z) - gelu_tanh(z)))
    assert 1e-4 < gap < GELU_TANH_GAP
    slope_gap = np.max(np.abs(gelu_derivative(z) - gelu_tanh_derivative(z)))
    assert slope_gap < GELU_TANH_SLOPE_GAP


def test_gelu_and_silu_approach_relu_far_from_zero():
    z = np.array([-30.0, 30.0])
    np.testing.assert_allclose(gelu(z), relu(z), atol=1e-15)
    np.testing.assert_allclose(silu(z), relu(z), atol=1e-11)   # 30 e^-30 is about 3e-12


ALL_FUNCTIONS = [sigmoid, tanh, relu, leaky_relu, elu, softplus, gelu, gelu_tanh, silu,
                 sigmoid_derivative, tanh_derivative, relu_derivative, leaky_relu_derivative,
                 elu_derivative, softplus_derivative, gelu_derivative, gelu_tanh_derivative,
                 silu_derivative, tanh_from_sigmoid, naive_softplus, scaled_softplus]


@pytest.mark.parametrize(
    "call, message",
    [(lambda g=g: g(np.array([0.0, np.nan])), r"z must be finite") for g in ALL_FUNCTIONS]
    + [
        (lambda: relu(np.array(["a", "b"])), r"z must be an array of real numbers"),
        (lambda: sigmoid(np.array([1.0 + 2.0j])), r"z must be an array of real numbers"),
        (lambda: relu([[1.0], [1.0, 2.0]]), r"z must be a rectangular array of numbers"),
        (lambda: leaky_relu(np.zeros(2), np.nan), r"alpha must be a finite number >= 0"),
        (lambda: leaky_relu(np.zeros(2), -0.1), r"alpha must be a finite number >= 0"),
        (lambda: leaky_relu_derivative(np.zeros(3), np.array([0.1, 0.2])), r"alpha must be"),
        (lambda: elu(np.zeros(2), -1.0), r"alpha must be a finite number >= 0"),
        (lambda: elu_derivative(np.zeros(2), "1"), r"alpha must be a finite number >= 0"),
        (lambda: gelu_tanh(np.array([1e101])), r"\|z\| <= 1e\+100"),
        (lambda: gelu_tanh_derivative(np.array([-1e200])), r"\|z\| <= 1e\+100"),
        (lambda: gelu_derivative(np.array([1e160])), r"\|z\| <= 1e\+100"),
        (lambda: tanh_from_sigmoid(np.array([1.7e308])), r"\|z\| <= 8\.99e\+307"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("beta", [0.0, -1.0, np.inf, [1.0, 2.0], True, "2"])
def test_bad_beta_raises_a_clear_error(beta):
    with pytest.raises(ValueError, match=r"beta must be a positive finite number"):
        scaled_softplus(np.zeros(2), beta)


def test_derivation_steps_left_side_equals_right_side(rng):
    """The middle forms of eqs. (1), (2), (7), (9)-(11) against the simplified ones."""
    z = rng.normal(scale=2.0, size=50)
    e, ep = np.exp(-z), np.exp(z)
    # eq. (1): e^{-z} / (1 + e^{-z})^2 = sigma (1 - sigma)
    np.testing.assert_allclose(sigmoid_derivative(z), e / (1 + e) ** 2, rtol=1e-12)
    # eq. (2): quotient rule before simplifying
    quotient = ((ep + e) ** 2 - (ep - e) ** 2) / (ep + e) ** 2
    np.testing.assert_allclose(tanh_derivative(z), quotient, rtol=1e-12, atol=1e-15)
    # eq. (7): e^z / (1 + e^z) = 1 / (e^{-z} + 1)
    np.testing.assert_allclose(softplus_derivative(z), ep / (1 + ep), rtol=1e-12)
    # eq. (9): product rule, with Phi' = phi checked by a central difference
    Phi = lambda t: 0.5 * (1 + erf(t / math.sqrt(2)))
    phi = np.exp(-z**2 / 2) / math.sqrt(2 * math.pi)
    np.testing.assert_allclose(numeric_derivative(Phi, z), phi, rtol=FD_TOL, atol=FD_TOL)
    np.testing.assert_allclose(gelu_derivative(z), Phi(z) + z * phi, rtol=EXACT_RTOL)
    # eq. (10): chain rule inside, d/dz tanh(u(z)) = (1 - tanh^2 u) u'(z), by differences
    u = lambda t: math.sqrt(2 / math.pi) * (t + 0.044715 * t**3)
    du = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * z**2)
    np.testing.assert_allclose(numeric_derivative(lambda t: np.tanh(u(t)), z),
                               (1 - np.tanh(u(z)) ** 2) * du, rtol=FD_TOL, atol=FD_TOL)
    # eq. (11): sigma + z sigma (1 - sigma) = sigma (1 + z (1 - sigma))
    s = sigmoid(z)
    np.testing.assert_allclose(silu_derivative(z), s + z * s * (1 - s), rtol=1e-12, atol=1e-15)


# --- The displayed formulas, read from the page and checked part by part -----------------

PAGE = "networks/activations.md"

#: Points on both sides of every kink and at the kink itself, where the branches meet.
POINTS = (-3.7, -1.2, -0.3, 0.0, 0.25, 1.1, 4.2)
#: Slopes and sharpness other than 1, so that a missing alpha or beta shows.
ALPHA, BETA = 0.3, 2.5
GELU_C = 0.044715


def _normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))   # an independent route to Phi


def _u(t):
    return math.sqrt(2 / math.pi) * (t + GELU_C * t**3)


def _envs(rng):
    for z in POINTS:
        yield {
            "z": z, "alpha": ALPHA, "beta": BETA, "c": GELU_C,
            "sigma": sigmoid, "sigma'": sigmoid_derivative, "tanh": tanh, "tanh'": tanh_derivative,
            "ReLU": relu, "ReLU'": relu_derivative,
            "LeakyReLU": lambda t: leaky_relu(t, ALPHA),
            "LeakyReLU'": lambda t: leaky_relu_derivative(t, ALPHA),
            "ELU": lambda t: elu(t, ALPHA), "ELU'": lambda t: elu_derivative(t, ALPHA),
            "softplus": softplus, "softplus'": softplus_derivative,
            "GELU": gelu, "GELU'": gelu_derivative, "Phi": np.vectorize(_normal_cdf),
            "Phi'": lambda t: central_difference(lambda v: _normal_cdf(v[0]), np.array([t]))[0],
            "varphi": lambda t: central_difference(lambda v: _normal_cdf(v[0]), np.array([t]))[0],
            "GELU_tanh": gelu_tanh, "GELU_tanh'": gelu_tanh_derivative,
            "u": FnValue(_u, _u(z)),
            "SiLU": silu, "SiLU'": silu_derivative,
        }

FORMULAS = {
    "sigmoid": Case(_envs),
    "tanh": Case(_envs),
    "tanh-sigmoid": Case(lambda rng: ({**env, "tanh": tanh_from_sigmoid} for env in _envs(rng))),
    "relu": Case(_envs),
    "leaky-relu": Case(_envs),
    "elu": Case(_envs),
    "softplus": Case(_envs),
    "softplus-relu": Case(lambda rng: ({**env, "softplus": naive_softplus} for env in _envs(rng))),
    "gelu": Case(_envs),
    "gelu-tanh": Case(_envs),
    "silu": Case(_envs),
}

test_displayed_formulas = formula_test(PAGE, FORMULAS)
