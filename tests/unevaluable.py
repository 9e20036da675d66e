"""The display formulas that cannot be evaluated, each with the reason.

Every other display formula of the site is read and checked part by part by
tests/formulas.py. This list may hold at most 5 % of the display formulas (the pairing test
counts), and each entry names its page and the snippet section paired with the formula, so
that renumbering a page does not detach it. The page "How this site is checked" shows it.
"""

from __future__ import annotations

#: (page under docs/, section paired with the formula) -> why it cannot be evaluated.
UNEVALUABLE: dict[tuple[str, str], str] = {
    ("foundations/gradient.md", "definition"):
        "defines the gradient as a column of n partial derivatives written with an ellipsis; "
        "the numeric gradient beside it is checked against every gradient of the site",
    ("foundations/matrix-calculus.md", "jacobian"):
        "defines the Jacobian entry by entry with elided rows and columns; the numeric "
        "Jacobian beside it is checked against the Jacobians of eqs. (3) and (5)",
    ("networks/initialisation.md", "xavier"):
        "states the distributions the weights are drawn from (W ~ N(0, v), W ~ U(-r, r)), "
        "which are sampled, not evaluated; the tests check the sample variance of the code",
    ("networks/initialisation.md", "he"):
        "derives the ReLU variance with an integral over the density of z; the tests "
        "check the variance it predicts on samples of the code's He initialisation",
}
