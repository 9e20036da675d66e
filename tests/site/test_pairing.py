"""The site's promise, enforced: no formula without its checked code.

- every display formula on a page is numbered, and is followed by the include of one
  snippet section whose code cites that equation number;
- code reaches pages only through snippet includes (no code typed into Markdown);
- every included section exists, defines functions, and every one of them is used by the
  snippet file's own test file (coverage of 100 % then proves each line runs);
- every snippet file is included by some page, has its test file, and names its page;
- every public function of a snippet cites an equation that exists on its page;
- notebooks hold no display formulas (those belong on the chapter page, beside their code);
- every page is in the navigation.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

import pytest

from pages import (
    DOCS,
    ROOT,
    SNIPPETS,
    markdown_pages,
    matching_test_file,
    names_used,
    nav_files,
    notebook_markdown,
    notebooks,
    page_for,
    parse_page,
    snippet_files,
    snippet_sections,
)

PAGES = markdown_pages()
PARSED = {p: parse_page(p) for p in PAGES}
EQ_REF = re.compile(r"eqs?\.\s*((?:\(\d+\)(?:\s*(?:,|-|and|to)\s*)?)+)", re.I)


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def cited_equations(text: str) -> set[int]:
    """Equation numbers cited as "eq. (3)", "eqs. (1)-(3)" or "eqs. (2) and (4)"."""
    cited: set[int] = set()
    for group in EQ_REF.findall(text):
        numbers = [int(n) for n in re.findall(r"\((\d+)\)", group)]
        cited.update(numbers)
        if re.search(r"\)\s*(?:-|to)\s*\(", group) and len(numbers) == 2:
            cited.update(range(numbers[0], numbers[1] + 1))
    return cited


def test_the_parser_finds_formulas_on_the_pages():
    """Guards the pairing test against passing because it parsed nothing."""
    assert sum(len(p.formulas) for p in PARSED.values()) >= 20
    assert sum(len(p.includes) for p in PARSED.values()) >= 20


def test_cited_equations_parses_ranges_and_lists():
    assert cited_equations("eq. (3).") == {3}
    assert cited_equations("eqs. (1)-(3)") == {1, 2, 3}
    assert cited_equations("eqs. (2) and (4)") == {2, 4}
    assert cited_equations("no citation (5)") == set()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_every_display_formula_is_numbered_in_order_and_paired(page):
    parsed = PARSED[page]
    problems = []
    for number, formula in enumerate(parsed.formulas, start=1):
        where = f"{rel(page)}:{formula.line}"
        if formula.tags != [str(number)]:
            problems.append(f"{where}: display formula {number} must carry exactly "
                            f"\\tag{{{number}}}, found {formula.tags}")
        if formula.include is None:
            problems.append(f"{where}: display formula ({number}) is not followed by a fenced "
                            "block holding one snippet section include")
            continue
        inc = formula.include
        section = snippet_sections(SNIPPETS / inc.file).get(inc.section)
        if section is None:
            problems.append(f"{where}: section {inc.file}:{inc.section} does not exist")
        elif number not in cited_equations(section.text):
            problems.append(f"{where}: the code after formula ({number}), "
                            f"{inc.file}:{inc.section}, does not cite eq. ({number})")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_code_reaches_pages_only_through_snippet_includes(page):
    parsed = PARSED[page]
    assert not parsed.bare_code, (
        f"{rel(page)}: code blocks at lines {parsed.bare_code} hold code typed into the page; "
        "put it in a snippet file and include it")
    for inc in parsed.includes:
        path = SNIPPETS / inc.file
        assert path.is_file(), f"{rel(page)}:{inc.line}: no snippet file {inc.file}"
        if inc.section is not None:
            assert inc.title == f"snippets/{inc.file}", (
                f"{rel(page)}:{inc.line}: the block must be titled with the file it shows, "
                f'title="snippets/{inc.file}"')


def all_includes():
    return [inc for p in PARSED.values() for inc in p.includes if inc.section is not None]


@pytest.mark.parametrize("inc", all_includes(),
                         ids=lambda i: f"{i.page.relative_to(DOCS).as_posix()}:{i.file}:{i.section}")
def test_every_included_section_is_exercised_by_its_tests(inc):
    snippet = SNIPPETS / inc.file
    sections = snippet_sections(snippet)
    assert inc.section in sections, f"{inc.file} has no section {inc.section!r}"
    functions = sections[inc.section].functions
    assert functions, f"{inc.file}:{inc.section} defines no function for a test to call"
    test_file = matching_test_file(snippet)
    assert test_file.is_file(), f"{rel(snippet)} has no test file {rel(test_file)}"
    unused = sorted(set(functions) - names_used(test_file))
    assert not unused, f"{rel(test_file)} never uses {unused} from section {inc.section!r}"


@pytest.mark.parametrize("snippet", snippet_files(), ids=lambda p: rel(p))
def test_every_snippet_file_is_included_tested_and_names_its_page(snippet):
    file = snippet.relative_to(SNIPPETS).as_posix()
    including = [p for p, parsed in PARSED.items() if any(i.file == file for i in parsed.includes)]
    assert including, f"{rel(snippet)} is included by no page"
    assert matching_test_file(snippet).is_file(), f"{rel(snippet)} has no {rel(matching_test_file(snippet))}"
    page = page_for(snippet)
    assert page.is_file(), f"{rel(snippet)} has no page {rel(page)} of the same name"
    tree = ast.parse(snippet.read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree) or ""
    assert rel(page) in doc, f"{rel(snippet)}: the module docstring must name {rel(page)}"
    n_equations = len(PARSED[page].formulas)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            cited = cited_equations(ast.get_docstring(node) or "")
            assert cited, f"{rel(snippet)}: {node.name}'s docstring cites no equation of {rel(page)}"
            assert max(cited) <= n_equations, (
                f"{rel(snippet)}: {node.name} cites eq. ({max(cited)}) but {rel(page)} "
                f"has {n_equations} display formulas")


@pytest.mark.parametrize("snippet", snippet_files(), ids=lambda p: rel(p))
def test_snippet_files_stand_alone(snippet):
    """A reader copies one file: it may import NumPy and the standard library only."""
    tree = ast.parse(snippet.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{rel(snippet)}: relative import"
            roots = [(node.module or "").split(".")[0]]
        else:
            continue
        for root in roots:
            assert root in {"numpy", "__future__", "collections", "typing", "math",
                            "dataclasses", "functools", "itertools"}, (
                f"{rel(snippet)} imports {root!r}; snippets use NumPy and the standard "
                "library only, and never a sibling file")


def test_every_section_is_included_somewhere():
    included = {(i.file, i.section) for i in all_includes()}
    whole = {i.file for p in PARSED.values() for i in p.includes if i.section is None}
    for snippet in snippet_files():
        file = snippet.relative_to(SNIPPETS).as_posix()
        for name in snippet_sections(snippet):
            assert (file, name) in included, f"section {file}:{name} is shown on no page"
        assert file in whole or not snippet_sections(snippet), \
            f"{file} is never shown whole: end its page with the whole file to copy"


def test_a_section_is_paired_with_at_most_one_formula_per_page():
    for page, parsed in PARSED.items():
        counts = Counter((f.include.file, f.include.section) for f in parsed.formulas if f.include)
        repeated = [k for k, n in counts.items() if n > 1]
        assert not repeated, f"{rel(page)}: sections paired with several formulas: {repeated}"


@pytest.mark.parametrize("nb", notebooks(), ids=lambda p: rel(p))
def test_notebooks_hold_no_display_formulas(nb):
    for text in notebook_markdown(nb):
        assert "$$" not in text and "\\[" not in text, (
            f"{rel(nb)}: display formula in a notebook; state it on the chapter page, "
            "beside its code, and refer to its number")


def test_every_page_and_notebook_is_in_the_nav():
    in_nav = set(nav_files())
    for path in [*PAGES, *notebooks()]:
        assert path.relative_to(DOCS).as_posix() in in_nav, f"{rel(path)} is not in the nav"


def test_every_notebook_is_named_after_a_chapter():
    """docs/<part>/<topic>-<what>.ipynb sits beside docs/<part>/<topic>.md."""
    for nb in notebooks():
        chapters = [p for p in nb.parent.glob("*.md") if nb.stem.startswith(p.stem + "-")]
        assert chapters, f"{rel(nb)} is named after no chapter in {rel(nb.parent)}"


def pairing_counts() -> tuple[int, int]:
    formulas = [f for p in PARSED.values() for f in p.formulas]
    return len(formulas), sum(f.include is not None for f in formulas)


def test_report_pairing_counts(record_property):
    found, paired = pairing_counts()
    record_property("display_formulas", found)
    record_property("paired", paired)
    assert found == paired, f"{found - paired} of {found} display formulas are unpaired"


#: Widest line of code a page shows: what fits the content column without scrolling.
SHOWN_LINE_WIDTH = 88


@pytest.mark.parametrize("snippet", snippet_files(), ids=lambda p: rel(p))
def test_shown_sections_fit_the_page_and_keep_checks_out(snippet):
    """Sections are what readers see: short lines, and input checks kept in helpers."""
    for section in snippet_sections(snippet).values():
        for offset, line in enumerate(section.text.splitlines(), start=section.start + 1):
            assert len(line) <= SHOWN_LINE_WIDTH, (
                f"{rel(snippet)}:{offset} is {len(line)} characters; a page shows at most "
                f"{SHOWN_LINE_WIDTH} without scrolling")
            assert not line.strip().startswith("raise "), (
                f"{rel(snippet)}:{offset}: input checks go in a helper outside the section")



@pytest.mark.parametrize("snippet", snippet_files(), ids=lambda p: rel(p))
def test_snippet_files_read_in_the_order_of_their_page(snippet):
    """The shown sections come first; input checks and other private helpers follow them."""
    source = snippet.read_text(encoding="utf-8")
    lines = source.splitlines()
    first = next((no for no, line in enumerate(lines, start=1)
                  if re.match(r"\s*#\s*--8<--\s*\[start:", line)), None)
    if first is None:
        return
    early = [node.name for node in ast.parse(source).body
             if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name.startswith("_")
             and node.lineno < first]
    assert not early, (f"{rel(snippet)}: {early} come before the first shown section; put "
                       "them after the sections, where the reader of the page meets them last")
