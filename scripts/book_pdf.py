"""Print the built site as one PDF: `make pdf` runs this after a strict build.

    python scripts/book_pdf.py SITE_DIR OUTPUT.pdf [--cache DIR]

Every page of the nav, in nav order, is taken from the built site (the math is already
typeset there, and the notebooks' plots are embedded images) and printed by headless
Chromium, the one the browser test uses, through Playwright.

The body (parts and chapters) is printed once, numbered from 1 in its footer. Chromium
writes a named destination (a page and a point) for every element a link of the document
points to, and the body has an unprinted link to each part, chapter and heading: so the
page each chapter starts on, and the place of each heading, are read back from the PDF with
pypdf. The front matter (a title page and the table of contents, with those numbers) is
printed on its own and put in front of the body with pypdf: its links become links to the
chapters' first pages, the bookmarks are made from the headings (parts, chapters and their
sections, nested by level, after a "Contents" bookmark), and the pages are labelled i, ii,
... then 1, 2, ..., so that a viewer's page box shows the numbers printed on the pages and
in the contents.

The PDF is not tagged: Chromium's tagging (which its own bookmarks need) gave every KaTeX
and code-token span a structure element of its own, 185,000 in all, which made the file
five times larger, the print about 40 % slower and pypdf's merge 25 s long, while the
formulas stayed hidden from screen readers all the same (KaTeX's HTML is aria-hidden, and
its MathML copy is left out of the print).

With --cache DIR the PDF is also stored there, under a key made of everything the print
depends on: every file of the built site (the pages the book is made of, and the assets and
images it loads), the nav in mkdocs.yml, this script and the browser's version. When nothing of that changed,
the stored PDF is copied instead of printed again; a clean clone has no cache and prints.

Nothing is fetched from the network: the site is served on 127.0.0.1 for the print, and any
other request is refused and fails the run. Links between pages become links inside the PDF.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import html
import json
import os
import re
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]
PDF_NAME = "hands-on-gradients.pdf"
BOOK_PATH = "/__book__.html"
#: The browsers tried, in order. Debian's chromium-headless-shell, which the browser test
#: prefers, comes last: it prints no faster, and leaves stray glyphs of a formula split by a
#: page break at the foot of some pages.
CHROMIUM_CANDIDATES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome",
                       "chromium-headless-shell"]
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-default-apps", "--disable-extensions"]
#: A4 less the margins below, in CSS pixels (96 per inch): the width the text is laid out in.
TEXT_WIDTH_PX = round((210 - 2 * 15) / 25.4 * 96)
FAKE_HOST = "http://book.invalid/"

#: KaTeX's positioned elements that position nothing: no paint layer for them (see flow_math).
STATIC_MATH_CSS = (".katex, .katex .katex-base, .katex .vlist, .katex .vlist > span:empty "
                   "{ position: static !important; }")

PRINT_CSS = STATIC_MATH_CSS + """
@page { size: A4; margin: 16mm 15mm 18mm 15mm; }
html { font-size: 100%; background: #fff; }
body { margin: 0; background: #fff; }
.book.md-typeset { font-size: 0.75rem; line-height: 1.55; }
/* Every chapter on a new page; headings stay with what follows them. */
.chapter, .part, .book-toc { break-before: page; }
.md-typeset h1, .md-typeset h2, .md-typeset h3, .md-typeset h4, .md-typeset h5 {
  break-after: avoid; break-inside: avoid; }
.part-title { font-size: 2.2em; margin-top: 30vh; }
.title-page { text-align: center; padding-top: 28vh; }
.title-page .book-title { font-size: 3em; font-weight: 700; margin: 0 0 0.6em; color: #222; }
.title-page .book-subtitle { font-size: 1.3em; max-width: 32em; margin: 0 auto; }
.md-typeset .book-toc ol, .md-typeset .book-toc ol ol { list-style: none; padding-left: 0; margin-left: 0; }
.md-typeset .book-toc li { margin: 0.2em 0; }
.md-typeset .book-toc ol ol { padding-left: 1.5em; }
.book-toc .toc-part { font-weight: 700; margin-top: 0.8em; }
.book-toc .toc-part li { font-weight: 400; }
.book-toc a { display: flex; color: inherit; text-decoration: none; }
.book-toc a .toc-title { flex: 1; }
.book-toc a .toc-page { padding-left: 1em; }
/* Code wraps at the page edge instead of being cut. */
.md-typeset pre, .md-typeset pre > code, .jupyter-wrapper pre, .highlight pre {
  white-space: pre-wrap !important; overflow-wrap: anywhere; word-break: break-word;
  overflow: visible !important; max-height: none !important; }
.md-typeset pre > code { padding: 0.6em 0.8em; }
/* Everything is laid out: no skipped off-screen content in print. */
.md-typeset div.arithmatex { content-visibility: visible !important; }
.md-typeset div.arithmatex { overflow: visible !important; }
.katex-display, img, figure, .jp-OutputArea-output, .admonition, details, tr { break-inside: avoid; }
/* A formula's ink can rise a point above its box (the numerator of a fraction in cases). At
   the top of a page the top margin is dropped, and that ink would be printed at the foot of
   the page before; padding, unlike the margin, stays. The spacing is the same 1em. */
.md-typeset .katex-display { margin-top: 0.7em !important; padding-top: 0.3em !important; }
img { max-width: 100% !important; height: auto !important; }
.md-typeset table:not([class]) { display: table; overflow: visible; max-width: 100%; font-size: 0.9em; }
.md-typeset details { overflow: visible; }
.md-typeset a { color: var(--md-typeset-a-color); }
"""

# Every font face the style sheets declare, loaded before anything is measured or printed.
# A face is fetched only once some text needs it, and `document.fonts.ready` resolves at
# once if layout has not asked for it yet: text measured or printed at that moment is set in
# a fallback font. Returns the faces that could not be loaded.
LOAD_FONTS = """
async () => {
  document.body.getBoundingClientRect();
  await Promise.allSettled([...document.fonts].map(f => f.load()));
  await document.fonts.ready;
  return [...document.fonts].filter(f => f.status !== 'loaded')
                             .map(f => `${f.family} ${f.style} ${f.weight}`);
}
"""


def load_fonts(page) -> None:
    """Load every font face of the page; fail, naming them, if any cannot be loaded."""
    failed = page.evaluate(LOAD_FONTS)
    if failed:
        raise SystemExit(f"fonts that could not be loaded: {failed}")


# Scale down what is too wide for the page (formulas and tables cannot wrap), then list
# whatever would still be cut at the page edge.
FIT_TO_WIDTH = """
() => {
  let scaled = 0;
  for (const el of document.querySelectorAll('.katex-display, .md-typeset table, .jp-OutputArea-output')) {
    const box = el.parentElement.clientWidth;
    const need = el.scrollWidth;
    if (box > 0 && need > box + 1) {
      let zoom = Math.max(0.45, (box - 2) / need);
      el.style.zoom = String(zoom);
      // Text need not shrink in proportion (glyph widths may be rounded at each size):
      // shrink a little more until it fits.
      while (zoom > 0.45 && (el.scrollWidth > el.clientWidth + 1 || el.parentElement.scrollWidth > box + 1)) {
        zoom = Math.max(0.45, zoom * 0.98);
        el.style.zoom = String(zoom);
      }
      scaled += 1;
    }
  }
  const cut = [];
  for (const el of document.querySelectorAll('.book pre, .book .katex-display, .book table, .book img')) {
    const box = el.parentElement;
    if (el.scrollWidth > el.clientWidth + 1 || box.scrollWidth > box.clientWidth + 1) {
      cut.push((el.closest('section.chapter') || {}).id + ': ' + el.textContent.trim().slice(0, 60));
    }
  }
  return {scaled, cut};
}
"""


@dataclass
class Chapter:
    part: str | None      # the nav section it is in, or None for a top-level page
    src: str              # relative to docs/
    url: str              # relative to the site root: "models/logistic-regression/"
    slug: str
    title: str = ""


def nav_chapters(config_file: Path) -> tuple[list[Chapter], str, str]:
    """The pages of the nav in order, with the site's name and description."""
    from mkdocs.config import load_config

    config = load_config(config_file=str(config_file))
    chapters: list[Chapter] = []

    def add(item, part):
        if isinstance(item, str):
            chapters.append(_chapter(part, item))
        elif isinstance(item, dict):
            for title, value in item.items():
                if isinstance(value, str):
                    chapters.append(_chapter(part, value))
                else:
                    for child in value:
                        add(child, part if part is not None else title)

    for entry in config["nav"]:
        add(entry, None)
    return chapters, config["site_name"], (config["site_description"] or "").strip()


def _chapter(part: str | None, src: str) -> Chapter:
    stem = re.sub(r"\.(md|ipynb)$", "", src)
    url = "" if stem == "index" else (stem[: -len("index")] if stem.endswith("/index") else stem + "/")
    slug = "page-" + (re.sub(r"[^a-z0-9]+", "-", url.lower()).strip("-") or "home")
    return Chapter(part, src, url, slug)


def built_file(site: Path, url: str) -> Path:
    return site / url / "index.html"


# What makes a long document slow to print in Chromium: every positioned element (position:
# relative included) has a paint layer of its own, and each printed page visits every layer
# of the document. KaTeX positions the rows of every fraction, subscript and accent with
# `position: relative; top: ...` (the children of `.vlist`), so the book's 5000 formulas
# carry some 49,000 layers, and the print time grows with pages times layers. The print
# places those rows with margins instead, in the normal flow, which gives each glyph the
# same place (tests/site/test_print_markup.py measures it) without a layer; KaTeX's other layers
# (`.katex`, `.katex-base`, `.vlist` and the empty spacer rows) position nothing and are made
# static by PRINT_CSS. A row that holds an SVG (a stretched delimiter or arrow) stays
# relative: the SVG is placed against it.

_SPAN_TOKEN = re.compile(r"<span\b[^>]*>|</span>|<svg\b")
_ROW_TOP = re.compile(r"top:(-?\d*\.?\d+)em;")


def _em(x: float) -> str:
    text = f"{x:.4f}".rstrip("0").rstrip(".")
    return ("0" if text in ("", "-0") else text) + "em"


class _Span:
    __slots__ = ("start", "end", "tag", "rows", "svg")

    def __init__(self, match: re.Match):
        self.start, self.end, self.tag = match.start(), match.end(), match.group(0)
        self.rows = [] if 'class="vlist"' in self.tag else None   # a .vlist's children
        self.svg = False


def flow_math(markup: str) -> str:
    """KaTeX's HTML with each stacked row (a child of `.vlist` with `top: t`) moved by a
    top margin instead, so that it needs no paint layer. The rows have no height, so in the
    flow row k sits where the margins above it add up to: its margin is t_k - t_(k-1), and
    the last row's bottom margin brings the flow back to 0, where the relative rows left it.
    A row that stays relative (it holds an SVG) keeps its offset, less the flow above it."""
    edits: dict[int, tuple[int, str]] = {}
    stack: list[_Span] = []
    for match in _SPAN_TOKEN.finditer(markup):
        token = match.group(0)
        if token == "<svg":
            for span in stack:
                span.svg = True
        elif token == "</span>":
            span = stack.pop()
            if span.rows is not None:
                _flow_rows(span.rows, edits)
        else:
            span = _Span(match)
            if stack and stack[-1].rows is not None:
                stack[-1].rows.append(span)
            stack.append(span)
    out, position = [], 0
    for start in sorted(edits):
        end, tag = edits[start]
        out += [markup[position:start], tag]
        position = end
    out.append(markup[position:])
    return "".join(out)


def _flow_rows(rows: list[_Span], edits: dict[int, tuple[int, str]]) -> None:
    flow = 0.0                          # where the flow is, after the rows placed so far
    for row in rows:
        found = _ROW_TOP.search(row.tag)
        if found is None or "position:" in row.tag:
            continue
        top = float(found.group(1))
        if row.svg:
            tag = row.tag.replace(found.group(0), f"top:{_em(top - flow)};", 1)
        else:
            tag = row.tag.replace(found.group(0), f"position:static;margin-top:{_em(top - flow)};", 1)
            flow = top
        edits[row.start] = (row.end, tag)
    if rows and flow != 0.0:
        last = rows[-1]
        tag = edits.get(last.start, (last.end, last.tag))[1]
        tag = (tag.replace('style="', f'style="margin-bottom:{_em(-flow)};', 1) if 'style="' in tag
               else tag[:-1] + f' style="margin-bottom:{_em(-flow)};">')
        edits[last.start] = (last.end, tag)


# Parsing a page is most of the time it takes to make the book's HTML, and most of a page's
# markup is in its formulas and code blocks, which the print changes without parsing: the
# formulas lose their MathML copy and have their rows flowed, the code blocks lose the
# anchor and id of each line (an empty link per line, some 11,000 in all, which Chromium
# turns into link annotations on every page). Each is replaced by a placeholder before the
# page is parsed, and put back in the chapter's HTML after.

_CODE_LINE_ANCHOR = re.compile(r'<a id="__codelineno-[\w-]+" name="__codelineno-[\w-]+" '
                               r'href="#__codelineno-[\w-]+"></a>')
_CODE_LINE_ID = re.compile(r'<span id="__span-[\w-]+">')
_PRE = re.compile(r"<pre\b.*?</pre>", re.S)
_MATHML = re.compile(r'<span class="katex-mathml">.*?</math></span>', re.S)
_SLOT = re.compile(r'<book-slot n="(\d+)"></book-slot>')


def lift(page: str) -> tuple[str, list[str]]:
    """The page with each code block and formula replaced by a numbered placeholder, and
    the print's HTML of each. One that holds a link, an id or an image is left in place:
    chapter_html has those to rewrite."""
    page = _CODE_LINE_ID.sub("<span>", _CODE_LINE_ANCHOR.sub("", page))
    lifted: list[str] = []

    def slot(markup: str) -> str | None:
        if " id=" in markup or "href=" in markup or "<img" in markup:
            return None
        lifted.append(markup)
        return f'<book-slot n="{len(lifted) - 1}"></book-slot>'

    out, position, depth, start = [], 0, 0, 0
    for match in re.finditer(r'<span class="katex">|<span\b[^>]*>|</span>', page):
        token = match.group(0)
        if depth:
            depth += 1 if token != "</span>" else -1
            if depth == 0:
                markup = page[start:match.end()]
                placeholder = slot(flow_math(_MATHML.sub("", markup)))
                if placeholder is not None:
                    out += [page[position:start], placeholder]
                    position = match.end()
        elif token == '<span class="katex">':
            depth, start = 1, match.start()
    out.append(page[position:])
    page = "".join(out)
    page = _PRE.sub(lambda m: slot(m.group(0)) or m.group(0), page)
    return page, lifted


def chapter_html(site: Path, chapter: Chapter, slugs: dict[str, str],
                 styles: dict[str, None], shift: int) -> str:
    """One page's article, with ids made unique in the book and links made internal."""
    path = built_file(site, chapter.url)
    if not path.is_file():
        raise SystemExit(f"{chapter.src} is in the nav but {path} was not built")
    page, lifted = lift(path.read_text(encoding="utf-8"))
    soup = BeautifulSoup(page, "html.parser")
    article = soup.select_one("article.md-content__inner")
    for style in article.find_all("style"):
        styles.setdefault(style.decode(), None)
        style.decompose()
    # .book-pdf-note: the home page's link to this PDF. .katex-mathml: the MathML copy of
    # each formula for screen readers on the web, hidden on the page; printed, it only
    # doubles the formula's text and a third of the printing time (lift() takes it out of
    # the formulas it lifts; this is for one left in the page, which holds a link).
    for junk in article.select("script, a.headerlink, a.anchor-link, .md-content__button, "
                               ".md-source-file, .book-pdf-note, .zeroclipboard-container, "
                               "clipboard-copy, .katex-mathml"):
        junk.decompose()
    h1 = article.find("h1")
    chapter.title = h1.get_text(" ", strip=True) if h1 else chapter.src
    for element in article.find_all(id=True):
        element["id"] = f"{chapter.slug}--{element['id']}"
    for a in article.find_all("a"):
        if a.has_attr("name"):
            del a["name"]
        href = a.get("href")
        if href is None:
            continue
        target = urljoin(FAKE_HOST + chapter.url, href)
        if not target.startswith(FAKE_HOST):
            continue                         # another site: the link stays as it is
        parts = urlsplit(target)
        page = unquote(parts.path)[1:]
        page = page[: -len("index.html")] if page.endswith("index.html") else page
        if page in slugs:
            a["href"] = "#" + (f"{slugs[page]}--{parts.fragment}" if parts.fragment else slugs[page])
        else:
            del a["href"]                    # a file of the site (a notebook download): no link
    for img in article.find_all("img", src=True):
        if not img["src"].startswith("data:"):
            img["src"] = urlsplit(urljoin(FAKE_HOST + chapter.url, img["src"])).path
    for details in article.find_all("details"):
        details["open"] = ""
    if shift:
        for heading in article.find_all(re.compile(r"^h[1-5]$")):
            heading.name = f"h{int(heading.name[1]) + shift}"
    content = _SLOT.sub(lambda m: lifted[int(m.group(1))], article.decode_contents())
    return f'<section class="chapter" id="{chapter.slug}">{content}</section>'


@dataclass
class Book:
    head: str                  # the <head> content shared by the body and the front matter
    body: str                  # the parts and chapters
    parts: dict[str, str]      # the anchor of each part's title page -> the part's name
    headings: list[tuple[int, str, str]]   # (level, anchor, title) of each heading, in order


_HEADING = re.compile(r'<h([1-6])\b[^>]*\bid="([^"]+)"[^>]*>(.*?)</h\1>', re.S)


def headings(markup: str) -> list[tuple[int, str, str]]:
    """The level, id and text of each heading with an id (math as its typeset glyphs)."""
    found = []
    for level, anchor, inner in _HEADING.findall(markup):
        text = re.sub(r'<span class="katex-mathml">.*?</math></span>', "", inner, flags=re.S)
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", text)).split())
        found.append((int(level), anchor, text))
    return found


def destination_links(anchors) -> str:
    """An unprinted list of links to `anchors`. Chromium writes a named destination (the page
    and the point) for each element that a link of the document points to, and these are
    what the bookmarks and the contents' page numbers are made from."""
    return ('<nav class="book-destinations" style="display:none">'
            + "".join(f'<a href="#{html.escape(a)}"></a>' for a in anchors) + "</nav>")


def book_body(site: Path, chapters: list[Chapter], name: str) -> Book:
    """The parts and chapters as one HTML document; sets each chapter's title."""
    slugs = {c.url: c.slug for c in chapters}
    styles: dict[str, None] = {}
    body, parts, part = [], {}, None
    for n, chapter in enumerate(chapters):
        if chapter.part != part:
            part = chapter.part
            if part is not None:
                parts[f"part-{n}"] = part
                body.append(f'<section class="part"><h1 class="part-title" id="part-{n}">'
                            f"{html.escape(part)}</h1></section>")
        body.append(chapter_html(site, chapter, slugs, styles, 1 if part is not None else 0))
    home = BeautifulSoup(built_file(site, "").read_text(encoding="utf-8"), "html.parser")
    links = "\n".join(f'<link rel="stylesheet" href="/{urlsplit(urljoin(FAKE_HOST, link["href"])).path[1:]}">'
                      for link in home.select('head link[rel="stylesheet"]'))
    head = (f'<meta charset="utf-8"><title>{html.escape(name)}</title>\n{links}\n'
            f'{"".join(styles)}\n<style>{PRINT_CSS}</style>')
    content = "".join(body)
    marks = headings(content)
    anchors = [*parts, *(c.slug for c in chapters), *(anchor for _, anchor, _ in marks)]
    return Book(head, content + destination_links(anchors), parts, marks)


def document(head: str, content: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head>{head}</head>
<body dir="ltr" data-md-color-scheme="default" data-md-color-primary="indigo" data-md-color-accent="indigo">
<div class="book md-typeset">
{content}
</div></body></html>"""


def front_matter(book: Book, chapters: list[Chapter], name: str, description: str,
                 pages: dict[str, int]) -> str:
    """The title page and the contents, each entry giving its page in the body.

    The entries link to FAKE_HOST#anchor: the chapters are not in this document, so Chromium
    prints the links as links to a web address, which merge() turns into links to the pages.
    """
    def entry(anchor: str, title: str, number: str = "") -> str:
        return (f'<a href="{FAKE_HOST}#{anchor}"><span class="toc-title">{html.escape(title)}'
                f'</span><span class="toc-page">{number}</span></a>')

    toc, part = [], None
    anchors = iter(book.parts)
    for chapter in chapters:
        if chapter.part != part:
            if part is not None:
                toc.append("</ol></li>")
            part = chapter.part
            if part is not None:
                anchor = next(anchors)
                toc.append(f'<li class="toc-part">{entry(anchor, part)}<ol>')
        toc.append(f"<li>{entry(chapter.slug, chapter.title, str(pages[chapter.slug]))}</li>")
    if part is not None:
        toc.append("</ol></li>")
    return document(book.head, f"""<section class="title-page"><p class="book-title">{html.escape(name)}</p>
<p class="book-subtitle">{html.escape(description)}</p></section>
<nav class="book-toc"><h1 id="contents">Contents</h1><ol>{"".join(toc)}</ol></nav>
{destination_links(["contents"])}""")


def find_chromium() -> str:
    env = os.environ.get("CHROMIUM")
    for name in ([env] if env else []) + CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("No Chromium or Chrome found: install one (Debian/Ubuntu: apt-get install chromium) "
                     "or set CHROMIUM=/path/to/chrome")


class _Handler(SimpleHTTPRequestHandler):
    book = b""

    def do_GET(self):  # noqa: N802 - the base class's name
        if self.path == BOOK_PATH:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(self.book)))
            self.end_headers()
            self.wfile.write(self.book)
        else:
            super().do_GET()

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


FOOTER = ('<div style="width:100%;text-align:center;font-size:8px;color:#666">'
          '<span class="pageNumber"></span></div>')


def print_pdf(browser, base: str, output: Path, numbered: bool) -> int:
    """Print the document served at base + BOOK_PATH; return how many wide elements were scaled.

    numbered: the page number in each page's footer (the body), or no footer (the front).
    """
    context = browser.new_context(viewport={"width": TEXT_WIDTH_PX, "height": 1000})
    outside: list[str] = []

    def route(r):
        if r.request.url.startswith(base) or r.request.url.startswith("data:"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    try:
        page = context.new_page()
        page.emulate_media(media="print")
        page.goto(base + BOOK_PATH[1:], wait_until="load", timeout=120_000)
        load_fonts(page)
        fitted = page.evaluate(FIT_TO_WIDTH)
        if fitted["cut"]:
            raise SystemExit("too wide for the page even when scaled down:\n  " + "\n  ".join(fitted["cut"]))
        page.pdf(path=str(output), format="A4", print_background=True, outline=False, tagged=False,
                 prefer_css_page_size=True, display_header_footer=numbered,
                 header_template="<span></span>", footer_template=FOOTER if numbered else "<span></span>")
    finally:
        context.close()
    if outside:
        raise SystemExit(f"the book asked for outside resources: {outside[:5]}")
    return fitted["scaled"]


def destinations(pdf: Path) -> dict[str, tuple[int, float]]:
    """Each named destination of the PDF: its page (0-based) and the height of its point."""
    from pypdf import PdfReader

    reader = PdfReader(pdf)
    found = {}
    for name, dest in reader.named_destinations.items():
        page = reader.get_destination_page_number(dest)
        top = dest.top if dest.top is not None else reader.pages[page].mediabox.top
        found[name.removeprefix("/")] = (page, float(top))    # Chromium writes them as PDF names
    return found


def start_pages(dests: dict[str, tuple[int, float]], book: Book,
                chapters: list[Chapter]) -> dict[str, int]:
    """The page (0-based) each part and chapter starts on, by anchor."""
    wanted = [*book.parts, *(c.slug for c in chapters)]
    missing = [anchor for anchor in wanted if anchor not in dests]
    if missing:
        raise SystemExit(f"no destination in the PDF for {missing}")
    return {anchor: dests[anchor][0] for anchor in wanted}


def merge(front: Path, body: Path, book: Book, starts: dict[str, int],
          body_dests: dict[str, tuple[int, float]], output: Path) -> int:
    """Put the front matter before the body; return the number of front pages.

    The contents' links (to FAKE_HOST#anchor) become links to the body's pages, the
    bookmarks are made ("Contents", then each heading of the body, nested by level, at its
    place on its page), and the pages are labelled i, ii, ... then 1, 2, ...
    The body is cloned whole, so its links stay as Chromium made them.
    """
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, Fit, FloatObject, NameObject, NullObject

    front_reader = PdfReader(front)
    front_dests = destinations(front)
    if "contents" not in front_dests:
        raise SystemExit("no destination for the contents in the front matter")
    n_front = len(front_reader.pages)
    writer = PdfWriter(clone_from=body)
    n_body = len(writer.pages)
    writer.merge(0, front_reader, import_outline=False)
    linked = set()
    for page in writer.pages[:n_front]:
        for ref in page.get("/Annots", []):
            annot = ref.get_object()
            uri = str(annot.get("/A", {}).get("/URI", ""))
            if annot.get("/Subtype") != "/Link" or not uri.startswith(FAKE_HOST + "#"):
                continue
            anchor = uri[len(FAKE_HOST) + 1:]
            if anchor not in starts:
                raise SystemExit(f"the contents link to {anchor!r}, which has no page")
            target = writer.pages[n_front + starts[anchor]]
            del annot["/A"]
            annot[NameObject("/Dest")] = ArrayObject([
                target.indirect_reference, NameObject("/XYZ"), NullObject(),
                FloatObject(float(target.mediabox.top)), NullObject()])
            linked.add(anchor)
    if linked != set(starts):
        raise SystemExit(f"the contents have no link to {sorted(set(starts) - linked)}")
    contents_page, contents_top = front_dests["contents"]
    writer.add_outline_item("Contents", contents_page, fit=Fit.xyz(top=contents_top))
    parents: list[tuple[int, object]] = []        # the open bookmarks: (level, item)
    for level, anchor, title in book.headings:
        if anchor not in body_dests:
            raise SystemExit(f"the heading {title!r} ({anchor}) has no destination in the PDF")
        page, top = body_dests[anchor]
        while parents and parents[-1][0] >= level:
            parents.pop()
        item = writer.add_outline_item(title, n_front + page, parent=parents[-1][1] if parents else None,
                                       fit=Fit.xyz(top=top))
        parents.append((level, item))
    writer.set_page_label(0, n_front - 1, style="/r")
    writer.set_page_label(n_front, n_front + n_body - 1, style="/D", start=1)
    with open(output, "wb") as f:
        writer.write(f)
    return n_front


def cache_key(site: Path, config_file: Path, browser_version: str) -> str:
    """A digest of everything the printed PDF depends on: every file of the built site (its
    pages, assets and images; not the sitemap, which holds the build's date), the nav and
    titles in mkdocs.yml, this script, and the browser's version."""
    digest = hashlib.sha256()
    for part in (Path(__file__).read_bytes(), config_file.read_bytes(), browser_version.encode()):
        digest.update(hashlib.sha256(part).digest())
    for path in sorted(p for p in site.rglob("*") if p.is_file()
                       and not p.name.startswith("sitemap") and p.name != PDF_NAME):
        digest.update(str(path.relative_to(site)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


#: How many printed books the cache keeps (the newest); each is some megabytes.
CACHE_ENTRIES = 3


def from_cache(cache: Path, key: str, output: Path) -> dict | None:
    entry, record = cache / f"{key}.pdf", cache / f"{key}.json"
    try:
        result = json.loads(record.read_text(encoding="utf-8"))
        if not entry.read_bytes().startswith(b"%PDF-") or entry.stat().st_size != result["bytes"]:
            return None
    except (OSError, ValueError, KeyError):
        return None                      # no entry, or a broken one: print again
    shutil.copyfile(entry, output)
    os.utime(record)
    return {**result, "cached": True}


def to_cache(cache: Path, key: str, output: Path, result: dict) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f"{key}.pdf.tmp"
    shutil.copyfile(output, tmp)
    os.replace(tmp, cache / f"{key}.pdf")
    (cache / f"{key}.json.tmp").write_text(json.dumps({**result, "bytes": output.stat().st_size}),
                                            encoding="utf-8")
    os.replace(cache / f"{key}.json.tmp", cache / f"{key}.json")
    records = sorted(cache.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in records[CACHE_ENTRIES:]:
        old.unlink(missing_ok=True)
        old.with_suffix(".pdf").unlink(missing_ok=True)


def build(site: Path, output: Path, config_file: Path = ROOT / "mkdocs.yml",
          cache: Path | None = None) -> dict:
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader

    start = time.perf_counter()
    chapters, name, description = nav_chapters(config_file)
    handler = functools.partial(_Handler, directory=str(site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS, timeout=60_000)
            try:
                if cache is not None:
                    key = cache_key(site, config_file, browser.version)
                    found = from_cache(cache, key, output)
                    if found is not None:
                        return found
                book = book_body(site, chapters, name)
                body = output.with_name(output.stem + ".body.pdf")
                front = output.with_name(output.stem + ".front.pdf")
                _Handler.book = document(book.head, book.body).encode("utf-8")
                scaled = print_pdf(browser, base, body, numbered=True)
                body_dests = destinations(body)
                starts = start_pages(body_dests, book, chapters)
                pages = {anchor: index + 1 for anchor, index in starts.items()}
                _Handler.book = front_matter(book, chapters, name, description, pages).encode("utf-8")
                print_pdf(browser, base, front, numbered=False)
            finally:
                browser.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    n_front = merge(front, body, book, starts, body_dests, output)
    body.unlink()
    front.unlink()
    result = {"chapters": len(chapters), "scaled": scaled, "front": n_front,
              "pages": len(PdfReader(output).pages), "seconds": time.perf_counter() - start,
              "cached": False}
    if cache is not None:
        to_cache(cache, key, output, result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built site (mkdocs build --site-dir)")
    parser.add_argument("output", type=Path, help=f"the PDF to write, e.g. site/{PDF_NAME}")
    parser.add_argument("--cache", type=Path, help="keep the PDF here and reuse it while nothing it "
                        "depends on changes, e.g. .cache/pdf")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    result = build(args.site.resolve(), args.output.resolve(),
                   cache=args.cache.resolve() if args.cache else None)
    if args.json:
        print(json.dumps(result))
        return 0
    how = (f"copied from the cache in {time.perf_counter() - start:.0f} s (printed in"
           if result["cached"] else "printed in")
    print(f"{args.output}: {result['pages']} PDF pages from the {result['chapters']} pages of the nav "
          f"({result['scaled']} wide formulas or tables scaled to fit), {how} {result['seconds']:.0f} s"
          + (")" if result["cached"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
