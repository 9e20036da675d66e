"""Tests of the formula reader itself (tests/formulas.py), on small formulas with known values."""

from __future__ import annotations

import numpy as np
import pytest

import formulas as F


def value(tex: str, **env):
    """The value of every part of the one statement in tex."""
    (st,) = F.statements(tex)
    chain = F.parse_statement(st)
    ev = F.Evaluator(dict(env), {}, {})
    return [ev.value(p) for p in chain.parts]


def test_juxtaposition_is_a_product_unless_the_symbol_is_a_function():
    assert value(r"y(1 - a)", y=3.0, a=0.25) == [2.25]
    assert value(r"y(1 - a)", y=lambda t: 10 * t, a=0.25) == [7.5]


def test_matrix_vector_products_and_transposes():
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    r = np.array([1.0, -1.0, 2.0])
    (out,) = value(r"X^\top \mathbf{r}", X=X, r=r)
    np.testing.assert_array_equal(out, X.T @ r)
    (dot,) = value(r"\mathbf{r}^\top \mathbf{r}", r=r)
    assert dot == 6.0
    with pytest.raises(F.Mismatch, match="missing transpose"):
        value(r"\mathbf{r} X", X=X, r=r)


def test_a_row_never_equals_a_column():
    w = np.array([1.0, 2.0])
    with pytest.raises(F.Mismatch, match="row"):
        F._assert_equal(F.transpose(w), w, 1e-12, 1e-12, 0)


def test_ones_broadcast_and_sum():
    y = np.array([1.0, 2.0, 3.0])
    assert value(r"\mathbf{1}^\top \mathbf{y}", y=y) == [6.0]
    (out,) = value(r"X\mathbf{w} + b\,\mathbf{1}", X=np.eye(3), w=y, b=0.5)
    np.testing.assert_array_equal(out, y + 0.5)


def test_indices_are_one_based_on_the_page():
    X = np.arange(6.0).reshape(2, 3)
    assert value(r"x_{1,2}", X=X) == [1.0]
    assert value(r"\sum_{j=1}^{n} x_{2j}", X=X, n=3) == [12.0]


def test_a_power_after_the_parentheses_of_a_value_squares_the_parentheses_only():
    assert value(r"b\,(y - x^2)^2", b=100.0, x=1.0, y=3.0) == [400.0]
    assert value(r"f(x)^2", f=lambda t: t + 1.0, x=2.0) == [9.0]


def test_derivative_names_keep_the_denominator_order():
    D = np.array([[1.0, 2.0], [3.0, 4.0]])
    env = {"dloss/dZ": D, "i": 1, "j": 2, "__bound__": ("i", "j")}
    ev = F.Evaluator(env, {"i": 2, "j": 2}, {})
    ij = F.parse_statement(F.statements(r"\frac{\partial \ell_i}{\partial z_{ij}}")[0]).parts[0]
    ji = F.parse_statement(F.statements(r"\frac{\partial \ell_i}{\partial z_{ji}}")[0]).parts[0]
    assert ev.value(ij) == 2.0 and ev.value(ji) == 3.0


def test_a_limit_that_differs_from_the_two_sides_fails():
    assert value(r"\lim_{h \to 0} \frac{(x + h)^2 - x^2}{h}", x=3.0) == [pytest.approx(6.0)]
    with pytest.raises(F.Mismatch, match="two sides"):
        value(r"\lim_{h \to 0} \frac{(x + h)^2 + x^2}{h}", x=3.0)


def test_cases_pick_the_branch_whose_condition_holds():
    tex = r"\begin{cases} z & z > 0 \\ 0 & z \le 0 \end{cases}"
    assert value(tex, z=2.0) == [2.0] and value(tex, z=-1.0) == [0.0]


def test_statements_split_at_qquad_and_continue_at_the_aligned_anchor():
    tex = r"""\begin{aligned}
    q = 1, \qquad \ell &= a + b \\
    &= c
    \end{aligned}"""
    sts = F.statements(tex)
    assert [F.parse_statement(s).rels for s in sts] == [["="], ["=", "="]]


def test_a_statement_after_the_aligned_block_is_refused():
    with pytest.raises(F.Unreadable, match="after"):
        F.statements(r"\begin{aligned} a &= b \end{aligned}, \qquad c = d")


def test_unknown_constructs_are_named():
    with pytest.raises(F.Unreadable, match=r"\\int"):
        F.parse_statement(F.statements(r"a = \int_0^1 x\, dx")[0])


def test_a_cases_branch_never_reached_fails_the_check(monkeypatch):
    eq = F.Equation("p.md", 1, r"f(z) = \begin{cases} z & z > 0 \\ 0 & z \le 0 \end{cases}",
                    "s", 1)
    monkeypatch.setattr(F, "page_equations", lambda page: (eq,))
    case = F.Case(lambda rng: [{"z": 1.0, "f": lambda t: max(t, 0.0)}])
    with pytest.raises(AssertionError, match="never taken"):
        F.check("p.md", "s", case, np.random.default_rng(0), prove=False)
    case = F.Case(lambda rng: [{"z": v, "f": lambda t: max(t, 0.0)} for v in (1.0, -1.0)])
    F.check("p.md", "s", case, np.random.default_rng(0), prove=False)


def test_sympy_proves_an_identity_and_not_a_false_step():
    import sympy as sp

    import proofs

    z = sp.Symbol("z", real=True)
    sig = 1 / (1 + sp.exp(-z))
    assert proofs._equal(sp.exp(-z) / (1 + sp.exp(-z)) ** 2, sig * (1 - sig))
    assert not proofs._equal(sp.exp(-z) / (1 + sp.exp(-z)) ** 2, sig * (1 + sig))
