"""The markup the book's print changes (scripts/book_pdf.py), checked on its own.

The print gives each page's code blocks and formulas a lighter form before Chromium lays
them out: the code lines lose their empty self-links and ids, the formulas their MathML
copy, and KaTeX's stacked rows are placed by margins in the normal flow instead of by
`position: relative; top: ...`, so that they need no paint layer (a printed page visits
every layer of the document). The first tests check each change on a small hand-written
example; the last one lays out every distinct formula of the built site both ways in
Chromium and requires every box of every formula in the same place.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import re
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from pages import ROOT

_spec = importlib.util.spec_from_file_location("print_book_pdf", ROOT / "scripts" / "book_pdf.py")
book_pdf = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(book_pdf)


def test_rows_are_moved_by_the_difference_of_their_offsets_and_the_flow_closes_at_zero():
    markup = ('<span class="vlist" style="height:1.2em;">'
              '<span style="top:-3.05em;"><span class="pstrut" style="height:3em;"></span>a</span>'
              '<span style="top:-1.5em;margin-left:0em;">b</span></span>')
    # Row 1 sits at -3.05em: a margin of -3.05em. Row 2 at -1.5em, 1.55em below row 1.
    # The rows have no height, so the flow ends at -1.5em; the last bottom margin adds 1.5em.
    assert book_pdf.flow_math(markup) == (
        '<span class="vlist" style="height:1.2em;">'
        '<span style="position:static;margin-top:-3.05em;">'
        '<span class="pstrut" style="height:3em;"></span>a</span>'
        '<span style="margin-bottom:1.5em;position:static;margin-top:1.55em;margin-left:0em;">'
        'b</span></span>')


def test_a_row_holding_an_svg_stays_relative_with_its_offset_less_the_flow_above_it():
    markup = ('<span class="vlist" style="height:2em;"><span style="top:-2.5em;">x</span>'
              '<span class="svg-align" style="top:-1em;"><svg width="1em"></svg></span></span>')
    # Row 1 flows to -2.5em; the SVG row's static place is there, so top:-1em becomes 1.5em.
    assert book_pdf.flow_math(markup) == (
        '<span class="vlist" style="height:2em;"><span style="position:static;margin-top:-2.5em;">x</span>'
        '<span class="svg-align" style="margin-bottom:2.5em;top:1.5em;">'
        '<svg width="1em"></svg></span></span>')


def test_nested_stacks_are_placed_each_in_its_own_flow_and_other_spans_are_left_alone():
    inner = '<span class="vlist" style="height:1em;"><span style="top:-2em;">i</span></span>'
    markup = (f'<span class="mop op-symbol small-op" style="position:relative;top:-0.5em;">∑</span>'
              f'<span class="vlist" style="height:3em;"><span style="top:-4em;">{inner}</span></span>')
    expected_inner = ('<span class="vlist" style="height:1em;">'
                      '<span style="margin-bottom:2em;position:static;margin-top:-2em;">i</span></span>')
    assert book_pdf.flow_math(markup) == (
        '<span class="mop op-symbol small-op" style="position:relative;top:-0.5em;">∑</span>'
        '<span class="vlist" style="height:3em;">'
        f'<span style="margin-bottom:4em;position:static;margin-top:-4em;">{expected_inner}</span></span>')


def test_lift_takes_out_code_and_formulas_and_drops_what_the_print_does_not_need():
    code = ('<pre><span></span><code><span id="__span-0-1"><a id="__codelineno-0-1" '
            'name="__codelineno-0-1" href="#__codelineno-0-1"></a>x = 1\n</span></code></pre>')
    formula = ('<span class="katex"><span class="katex-mathml"><math><semantics><mi>x</mi>'
               '</semantics></math></span><span class="katex-html" aria-hidden="true">'
               '<span class="katex-base">x</span></span></span>')
    linked = '<span class="katex"><span class="katex-html"><a href="https://example.org">y</a></span></span>'
    page, lifted = book_pdf.lift(f"<p>{formula} and {linked}</p>{code}")
    assert page == (f'<p><book-slot n="0"></book-slot> and {linked}</p>'
                    '<book-slot n="1"></book-slot>')
    assert lifted == ['<span class="katex"><span class="katex-html" aria-hidden="true">'
                      '<span class="katex-base">x</span></span></span>',
                      "<pre><span></span><code><span>x = 1\n</span></code></pre>"]


FORMULA_START = re.compile(r'<span class="katex(?:-display)?">')
TOKEN = re.compile(r"<span\b[^>]*>|</span>")

#: Where each box of a formula is, in CSS pixels: its left, top, width and height, four
#: numbers per box in one string (a list of lists crosses to Python a hundred times slower).
BOXES = """
() => [...document.querySelectorAll('.katex-html, .katex-html *')].map(e => {
  const r = e.getBoundingClientRect(); return `${r.x} ${r.y} ${r.width} ${r.height}`; }).join(' ')
"""
POSITIONED = """
() => [...document.querySelectorAll('.katex, .katex *')]
      .filter(e => getComputedStyle(e).position !== 'static').length
"""
#: How far, in CSS pixels, a box may move: Chromium lays out in 1/64 px, and each margin
#: is rounded to that where the relative offset was rounded once.
TOLERANCE_PX = 0.1
KATEX_CSS = ROOT / "docs" / "assets" / "vendor" / "katex" / "katex.min.css"


def site_formulas(site) -> list[str]:
    """Every distinct formula of the built site: its outermost .katex-display or .katex span."""
    found: dict[str, None] = {}
    for path in sorted(site.rglob("index.html")):
        text, end = path.read_text(encoding="utf-8"), 0
        for start in FORMULA_START.finditer(text):
            if start.start() < end:
                continue                     # the .katex of a .katex-display taken whole
            depth = 0
            for token in TOKEN.finditer(text, start.start()):
                depth += -1 if token.group(0) == "</span>" else 1
                if depth == 0:
                    end = token.end()
                    found.setdefault(text[start.start():end], None)
                    break
    return list(found)


@pytest.mark.site
@pytest.mark.browser
def test_every_formula_of_the_site_is_laid_out_the_same_with_its_rows_flowed(built_site):
    from playwright.sync_api import sync_playwright

    formulas = [book_pdf._MATHML.sub("", f) for f in site_formulas(built_site.path)]
    assert len(formulas) > 1000, f"only {len(formulas)} formulas found in the built site"
    css = '<link rel="stylesheet" href="/assets/vendor/katex/katex.min.css">'
    web = "".join(f"<div>{f}</div>" for f in formulas)
    printed = book_pdf.flow_math(web)
    documents = {
        "web": f"<!doctype html><html><head>{css}</head><body>{web}</body></html>",
        "print": (f"<!doctype html><html><head>{css}<style>{book_pdf.STATIC_MATH_CSS}</style></head>"
                  f"<body>{printed}</body></html>"),
    }
    handler = functools.partial(book_pdf._Handler, directory=str(built_site.path))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    boxes, positioned = {}, {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=book_pdf.find_chromium(),
                                        args=book_pdf.CHROMIUM_ARGS)
            record = passed_record(documents, browser.version)
            if record.exists():
                browser.close()
                return                  # these documents passed in this browser already
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            for name, document in documents.items():
                book_pdf._Handler.book = document.encode("utf-8")
                page.goto(f"http://127.0.0.1:{httpd.server_address[1]}{book_pdf.BOOK_PATH}")
                book_pdf.load_fonts(page)
                numbers = [float(x) for x in page.evaluate(BOXES).split()]
                boxes[name] = list(zip(*[iter(numbers)] * 4, strict=True))
                positioned[name] = page.evaluate(POSITIONED)
            browser.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert len(boxes["web"]) == len(boxes["print"]) > 50_000
    moved = [(i, a, b) for i, (a, b) in enumerate(zip(boxes["web"], boxes["print"], strict=True))
             if max(abs(u - v) for u, v in zip(a, b, strict=True)) > TOLERANCE_PX]
    assert not moved, f"{len(moved)} boxes moved by more than {TOLERANCE_PX} px, e.g. {moved[:3]}"
    # The point of it: almost none of the layers is left.
    assert positioned["print"] < positioned["web"] / 10, positioned
    for old in record.parent.glob("*"):
        old.unlink()
    record.touch()


def passed_record(documents: dict[str, str], browser_version: str) -> Path:
    """Where a pass of this check is recorded (.cache/print-markup/), under a key of all its
    outcome depends on: both documents (the formulas, the print's markup and style), KaTeX's
    style sheet, this file, and the versions of Chromium and Playwright. A clean clone has no
    record and lays every formula out."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    for part in (*documents.values(), Path(__file__).read_text(encoding="utf-8"), browser_version,
                 version("playwright")):
        digest.update(hashlib.sha256(part.encode("utf-8")).digest())
    digest.update(hashlib.sha256(KATEX_CSS.read_bytes()).digest())
    folder = ROOT / ".cache" / "print-markup"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / digest.hexdigest()
