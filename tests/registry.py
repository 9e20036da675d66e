"""Which test checks which display formula: the registry the tests and the site share.

Each page's test file (tests/<part>/test_<topic>.py, tests/test_notation.py for the notation
page) defines ``PAGE`` and ``FORMULAS``, a dict from the snippet section paired with a display
formula to the ``Case`` that checks it. tests/unevaluable.py lists the few formulas that cannot
be evaluated. tests/formula_summary.json records, per formula, how it is checked (numerically,
and how many steps sympy proves); the formula tests assert that it is current, and the site's
page "How this site is checked" is generated from it when the site is built.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from functools import cache
from pathlib import Path

from pages import DOCS, ROOT, TESTS, markdown_pages, parse_page

SUMMARY = TESTS / "formula_summary.json"


def test_file_for(page: str) -> Path:
    """docs/<part>/<topic>.md -> tests/<part>/test_<topic>.py (notation.md -> tests/test_notation.py)."""
    rel = Path(page)
    return TESTS / rel.parent / f"test_{rel.stem.replace('-', '_')}.py"


@cache
def cases_of(page: str) -> dict:
    """The FORMULAS of the page's test file ({} if it has none)."""
    path = test_file_for(page)
    if not path.is_file():
        return {}
    name = "_registry_" + "_".join(path.relative_to(TESTS).with_suffix("").parts)
    if name in sys.modules:
        module = sys.modules[name]
    else:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    formulas = getattr(module, "FORMULAS", {})
    declared = getattr(module, "PAGE", page)
    if formulas and declared != page:
        raise ValueError(f"{path.relative_to(ROOT)} declares PAGE = {declared!r}, expected {page!r}")
    return formulas


def pages_with_formulas() -> list[str]:
    return [p.relative_to(DOCS).as_posix() for p in markdown_pages() if parse_page(p).formulas]


def unevaluable() -> dict[tuple[str, str], str]:
    from unevaluable import UNEVALUABLE
    return UNEVALUABLE


def load_summary() -> dict:
    if not SUMMARY.is_file():
        return {}
    return json.loads(SUMMARY.read_text(encoding="utf-8"))
