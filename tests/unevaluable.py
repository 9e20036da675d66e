"""The display formulas that cannot be evaluated, each with the reason.

Every other display formula of the site is read and checked part by part by
tests/formulas.py. This list may hold at most 5 % of the display formulas (the pairing test
counts), and each entry names its page and the snippet section paired with the formula, so
that renumbering a page does not detach it. The page "How this site is checked" shows it.
"""

from __future__ import annotations

#: (page under docs/, section paired with the formula) -> why it cannot be evaluated.
UNEVALUABLE: dict[tuple[str, str], str] = {
}
