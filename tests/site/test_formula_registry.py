"""The formula side of the pairing rule: every display formula is read and checked as displayed.

A display formula must have a Case in its page's test file (tests/formulas.py reads it from
the page and checks every part against the code), or be listed with its reason in
tests/unevaluable.py; at most 5 % may be listed; the summary the site shows is current.
"""

from __future__ import annotations

from pages import DOCS, ROOT, markdown_pages, parse_page

PARSED = {p: parse_page(p) for p in markdown_pages()}


def rel(path):
    return path.relative_to(ROOT).as_posix()


# --- Every display formula is read as displayed and checked (tests/formulas.py) ---------

def _formula_keys():
    from registry import pages_with_formulas
    for page in pages_with_formulas():
        for number, formula in enumerate(PARSED[DOCS / page].formulas, start=1):
            if formula.include is not None:
                yield page, number, formula.include.section


#: At most this share of the display formulas may be listed as not evaluable.
MAX_UNEVALUABLE_SHARE = 0.05


def test_every_display_formula_is_checked_as_displayed_or_listed():
    from registry import cases_of, test_file_for, unevaluable
    listed = unevaluable()
    problems = []
    for page, number, section in _formula_keys():
        checked = section in cases_of(page)
        if checked and (page, section) in listed:
            problems.append(f"docs/{page}, eq. ({number}): both checked and listed as not evaluable")
        elif not checked and (page, section) not in listed:
            problems.append(
                f"docs/{page}, eq. ({number}): no test reads this formula; add a Case for "
                f"section {section!r} to FORMULAS in {rel(test_file_for(page))}, or list it "
                "with its reason in tests/unevaluable.py")
    assert not problems, "\n".join(problems)


def test_no_registered_case_or_listing_points_at_a_missing_formula():
    from registry import cases_of, pages_with_formulas, test_file_for, unevaluable
    known = {(page, section) for page, _, section in _formula_keys()}
    stale = [f"{rel(test_file_for(p))}: FORMULAS[{s!r}]" for p in pages_with_formulas()
             for s in cases_of(p) if (p, s) not in known]
    stale += [f"tests/unevaluable.py: {key}" for key in unevaluable() if key not in known]
    for key, reason in unevaluable().items():
        if len(reason.strip()) < 20:
            stale.append(f"tests/unevaluable.py: {key} needs a reason, not {reason!r}")
    assert not stale, "entries for formulas that are not on their page:\n" + "\n".join(stale)


def test_at_most_five_percent_of_the_formulas_are_listed_as_not_evaluable():
    from registry import unevaluable
    total = sum(1 for _ in _formula_keys())
    listed = len(unevaluable())
    assert listed <= MAX_UNEVALUABLE_SHARE * total, (
        f"{listed} of {total} display formulas are listed as not evaluable, more than "
        f"{MAX_UNEVALUABLE_SHARE:.0%}")


def test_the_formula_summary_lists_every_formula():
    """tests/formula_summary.json, which the site's checks page shows, covers every formula."""
    from registry import load_summary, unevaluable
    summary = load_summary()
    listed = unevaluable()
    expected = {}
    for page, number, section in _formula_keys():
        expected.setdefault(page, {})[section] = number
    got = {page: {s: e["eq"] for s, e in entries.items()} for page, entries in summary.items()}
    assert got == expected, ("tests/formula_summary.json is out of date with the pages; "
                             "run 'make formula-summary'")
    for page, entries in summary.items():
        for section, entry in entries.items():
            is_listed = (page, section) in listed
            assert (entry["status"] == "listed") == is_listed, (
                f"docs/{page}, eq. ({entry['eq']}): summary says {entry['status']!r}; "
                "run 'make formula-summary'")
