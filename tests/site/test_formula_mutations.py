"""The formula checks catch a wrong formula: every display formula, changed one way at a time.

For each checked display formula, five small changes are made to its LaTeX, one at a time,
the way a typo or a slip would make them: a minus turned into a plus, a factor 1/m into
2/m (or a 2 into 3), a transpose dropped, the two indices of a subscript swapped, a fraction
turned upside down. Each changed formula is checked against the same code as the page's
formula, and must fail. A few changes leave a formula true (swapping the indices of a
symmetric matrix, changing a term that is multiplied by zero): those are listed below with
the reason, and the test also asserts that each of them still passes, so the list cannot
go stale.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import formulas as F
from registry import cases_of, pages_with_formulas

#: (page, section, kind of change) -> why the changed formula is still true.
STILL_TRUE = {
    ("foundations/matrix-calculus.md", "quadratic-form", "index"):
        "A_kl -> A_lk inside sum_k sum_l x_k A_kl x_l: the double sum is the same",
    ("layers/batch-norm.md", "zero-sum", "factor"):
        "1/(m std) -> 2/(m std) in front of a bracket that is zero, the point of the formula",
    ("layers/layer-norm.md", "zero-sum", "factor"):
        "1/(n std) -> 2/(n std) in front of a bracket that is zero, the point of the formula",
    ("layers/dropout.md", "expectation", "sign"):
        "the sign changed sits in (1 - p) times 0 / p, a term that is zero",
    ("layers/dropout.md", "variance", "sign"):
        "the sign changed sits in a term multiplied by zero",
    ("models/linear-regression.md", "normal", "fraction"):
        "2/m -> m/2 in front of a gradient that is zero at the solution",
    ("models/softmax-regression.md", "jacobian", "index"):
        "delta_kc -> delta_ck: the Kronecker delta is symmetric",
    ("models/softmax-regression.md", "dloss-dz", "transpose"):
        "the softmax Jacobian diag(s) - s s^T is symmetric",
    ("models/softmax-regression.md", "dloss-dz", "index"):
        "J_yc -> J_cy: the softmax Jacobian is symmetric",
    ("networks/backpropagation.md", "output-error-example", "transpose"):
        "the softmax Jacobian is symmetric",
}


def changes(tex: str) -> list[tuple[str, str]]:
    """The changed formulas: (kind, LaTeX), each changing the first place it applies to."""
    body = re.sub(r"\\tag\{[^}]*\}", "", tex)
    out = []
    m = re.search(r"(?<=[\w})\]]) - ", body)
    if m:
        out.append(("sign", body[:m.start()] + " + " + body[m.end():]))
    m = re.search(r"\\frac\{1\}\{", body)
    if m:
        out.append(("factor", body[:m.start()] + "\\frac{2}{" + body[m.end():]))
    else:
        m = re.search(r"(?<![\w^_{])2(?![\w}])", body)
        if m:
            out.append(("factor", body[:m.start()] + "3" + body[m.end():]))
    m = re.search(r"\^\\top|\^\{\\top\}", body)
    if m:
        out.append(("transpose", body[:m.start()] + body[m.end():]))
    m = re.search(r"_\{([a-z])([a-z])\}", body)
    if m:
        out.append(("index", body[:m.start()] + "_{" + m[2] + m[1] + "}" + body[m.end():]))
    m = re.search(r"\\frac\{([^{}]+)\}\{([^{}]+)\}", body)
    if m and m[1] != m[2]:
        out.append(("fraction",
                    body[:m.start()] + "\\frac{" + m[2] + "}{" + m[1] + "}" + body[m.end():]))
    return out


def _mutants():
    for page in pages_with_formulas():
        cases = cases_of(page)
        for eq in F.page_equations(page):
            if eq.section in cases:
                for kind, tex in changes(eq.tex):
                    yield pytest.param(page, eq.section, kind, tex,
                                       id=f"{page}:eq{eq.number}:{kind}")


def test_the_changes_reach_most_formulas():
    """Guards the test below against passing because it changed nothing."""
    assert sum(1 for _ in _mutants()) >= 300


@pytest.mark.mutations
@pytest.mark.parametrize("page, section, kind, tex", list(_mutants()))
def test_a_changed_formula_fails_its_check(page, section, kind, tex, monkeypatch):
    read = F.page_equations
    changed = tuple(F.Equation(e.page, e.number, tex if e.section == section else e.tex,
                               e.section, e.line) for e in read(page))
    monkeypatch.setattr(F, "page_equations", lambda p: changed if p == page else read(p))
    case = cases_of(page)[section]
    try:
        F.check(page, section, case, np.random.default_rng(7), prove=False)
    except AssertionError as err:
        caught = str(err)
    else:
        caught = None
    if (page, section, kind) in STILL_TRUE:
        assert caught is None, f"listed as still true, but the check now fails: {caught}"
    else:
        assert caught is not None, (
            f"docs/{page}: the formula of section {section!r} with a {kind} change still "
            f"passes its check:\n{tex}")
        assert f"docs/{page}, eq. (" in caught, f"the failure does not name page and equation: {caught}"
