"""Print the built site as one PDF: `make pdf` runs this after a strict build.

    python scripts/book_pdf.py SITE_DIR OUTPUT.pdf

Every page of the nav, in nav order, is taken from the built site (the math is already
typeset there, and the notebooks' plots are embedded images), joined into one document
behind a title page and a table of contents, and printed by headless Chromium, the one the
browser test uses, through Playwright. Chromium makes the PDF's bookmarks from the headings
(`outline=True`): parts, chapters and their sections. The document is printed twice: the
first print tells on which page each chapter starts (read back from its bookmarks with
pypdf), the second prints those numbers in the table of contents.

Nothing is fetched from the network: the site is served on 127.0.0.1 for the print, and any
other request is refused and fails the run. Links between pages become links inside the PDF.
"""

from __future__ import annotations

import argparse
import functools
import html
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
CHROMIUM_CANDIDATES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"]
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-default-apps", "--disable-extensions"]
#: A4 less the margins below, in CSS pixels (96 per inch): the width the text is laid out in.
TEXT_WIDTH_PX = round((210 - 2 * 15) / 25.4 * 96)
FAKE_HOST = "http://book.invalid/"

PRINT_CSS = """
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
.md-typeset div.arithmatex, .md-typeset .katex .katex-mathml { content-visibility: visible !important; }
.md-typeset div.arithmatex { overflow: visible !important; }
.katex-display, img, figure, .jp-OutputArea-output, .admonition, details, tr { break-inside: avoid; }
img { max-width: 100% !important; height: auto !important; }
.md-typeset table:not([class]) { display: table; overflow: visible; max-width: 100%; font-size: 0.9em; }
.md-typeset details { overflow: visible; }
.md-typeset a { color: var(--md-typeset-a-color); }
"""

# Scale down what is too wide for the page (formulas and tables cannot wrap), then list
# whatever would still be cut at the page edge.
FIT_TO_WIDTH = """
() => {
  let scaled = 0;
  for (const el of document.querySelectorAll('.katex-display, .md-typeset table, .jp-OutputArea-output')) {
    const box = el.parentElement.clientWidth;
    const need = el.scrollWidth;
    if (box > 0 && need > box + 1) {
      el.style.zoom = String(Math.max(0.45, (box - 2) / need));
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


def chapter_html(site: Path, chapter: Chapter, slugs: dict[str, str],
                 styles: dict[str, None], shift: int) -> str:
    """One page's article, with ids made unique in the book and links made internal."""
    path = built_file(site, chapter.url)
    if not path.is_file():
        raise SystemExit(f"{chapter.src} is in the nav but {path} was not built")
    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    article = soup.select_one("article.md-content__inner")
    for style in article.find_all("style"):
        styles.setdefault(style.decode(), None)
        style.decompose()
    for junk in article.select("script, a.headerlink, a.anchor-link, .md-content__button, "
                               ".md-source-file, .book-pdf-note, .zeroclipboard-container, clipboard-copy"):
        junk.decompose()                     # .book-pdf-note: the home page's link to this PDF
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
    return f'<section class="chapter" id="{chapter.slug}">{article.decode_contents()}</section>'


def book_html(site: Path, chapters: list[Chapter], name: str, description: str,
              pages: dict[str, int] | None) -> str:
    slugs = {c.url: c.slug for c in chapters}
    styles: dict[str, None] = {}
    body, toc, part = [], [], None
    for n, chapter in enumerate(chapters):
        if chapter.part != part:
            if part is not None:
                toc.append("</ol></li>")
            part = chapter.part
            if part is not None:
                body.append(f'<section class="part"><h1 class="part-title" id="part-{n}">'
                            f"{html.escape(part)}</h1></section>")
                toc.append(f'<li class="toc-part"><a href="#part-{n}"><span class="toc-title">'
                           f"{html.escape(part)}</span></a><ol>")
        body.append(chapter_html(site, chapter, slugs, styles, 1 if part is not None else 0))
        number = "" if pages is None else str(pages.get(chapter.slug, ""))
        toc.append(f'<li><a href="#{chapter.slug}"><span class="toc-title">{html.escape(chapter.title)}'
                   f'</span><span class="toc-page">{number}</span></a></li>')
    if part is not None:
        toc.append("</ol></li>")
    home = BeautifulSoup(built_file(site, "").read_text(encoding="utf-8"), "html.parser")
    links = "\n".join(f'<link rel="stylesheet" href="/{urlsplit(urljoin(FAKE_HOST, link["href"])).path[1:]}">'
                      for link in home.select('head link[rel="stylesheet"]'))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(name)}</title>
{links}
{"".join(styles)}
<style>{PRINT_CSS}</style></head>
<body dir="ltr" data-md-color-scheme="default" data-md-color-primary="indigo" data-md-color-accent="indigo">
<div class="book md-typeset">
<section class="title-page"><p class="book-title">{html.escape(name)}</p>
<p class="book-subtitle">{html.escape(description)}</p></section>
<nav class="book-toc"><h1 id="contents">Contents</h1><ol>{"".join(toc)}</ol></nav>
{"".join(body)}
</div></body></html>"""


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


def print_pdf(browser, base: str, output: Path) -> int:
    """Print the book served at base + BOOK_PATH; return how many wide elements were scaled."""
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
        page.evaluate("document.fonts.ready")
        fitted = page.evaluate(FIT_TO_WIDTH)
        if fitted["cut"]:
            raise SystemExit("too wide for the page even when scaled down:\n  " + "\n  ".join(fitted["cut"]))
        page.pdf(path=str(output), format="A4", print_background=True, outline=True, tagged=True,
                 prefer_css_page_size=True, display_header_footer=True,
                 header_template="<span></span>",
                 footer_template='<div style="width:100%;text-align:center;font-size:8px;color:#666">'
                                 '<span class="pageNumber"></span></div>')
    finally:
        context.close()
    if outside:
        raise SystemExit(f"the book asked for outside resources: {outside[:5]}")
    return fitted["scaled"]


def chapter_pages(pdf: Path, chapters: list[Chapter]) -> dict[str, int]:
    """The page (1-based) each chapter starts on, read from the PDF's bookmarks."""
    from pypdf import PdfReader

    reader = PdfReader(pdf)
    flat: list[tuple[str, int]] = []

    def walk(items):
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                flat.append((item.title.strip(), reader.get_destination_page_number(item) + 1))

    walk(reader.outline)
    pages, i = {}, 0
    for chapter in chapters:
        for j in range(i, len(flat)):
            if flat[j][0] == chapter.title:
                pages[chapter.slug], i = flat[j][1], j + 1
                break
    return pages


def build(site: Path, output: Path, config_file: Path = ROOT / "mkdocs.yml") -> dict:
    from playwright.sync_api import sync_playwright

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
                _Handler.book = book_html(site, chapters, name, description, None).encode("utf-8")
                print_pdf(browser, base, output)
                pages = chapter_pages(output, chapters)
                missing = [c.src for c in chapters if c.slug not in pages]
                if missing:
                    raise SystemExit(f"no bookmark found for {missing}")
                _Handler.book = book_html(site, chapters, name, description, pages).encode("utf-8")
                scaled = print_pdf(browser, base, output)
            finally:
                browser.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    from pypdf import PdfReader

    return {"chapters": len(chapters), "scaled": scaled, "pages": len(PdfReader(output).pages),
            "seconds": time.perf_counter() - start}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built site (mkdocs build --site-dir)")
    parser.add_argument("output", type=Path, help=f"the PDF to write, e.g. site/{PDF_NAME}")
    args = parser.parse_args(argv)
    result = build(args.site.resolve(), args.output.resolve())
    print(f"{args.output}: {result['pages']} PDF pages from the {result['chapters']} pages of the nav "
          f"({result['scaled']} wide formulas or tables scaled to fit), in {result['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
