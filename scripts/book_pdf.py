"""Print the built site as one PDF: `make pdf` runs this after a strict build.

    python scripts/book_pdf.py SITE_DIR OUTPUT.pdf [--cache DIR]

Every page of the nav, in nav order, is taken from the built site (the math is already
typeset there, and the notebooks' plots are embedded images) and printed by headless
Chromium, the one the browser test uses, through Playwright. Chromium makes the PDF's
bookmarks from the headings (`outline=True`): parts, chapters and their sections.

The body (parts and chapters) is printed once, numbered from 1 in its footer; the page each
chapter starts on is then read back from its bookmark with pypdf. The front matter (a title
page and the table of contents, with those numbers) is printed on its own and put in front
of the body with pypdf: its links become links to the chapters' first pages, a "Contents"
bookmark is added, and the pages are labelled i, ii, ... then 1, 2, ..., so that a viewer's
page box shows the numbers printed on the pages and in the contents.

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
.md-typeset div.arithmatex { content-visibility: visible !important; }
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
    # .book-pdf-note: the home page's link to this PDF. .katex-mathml: the MathML copy of
    # each formula for screen readers on the web, hidden on the page; printed, it only
    # doubles the formula's text and a third of the printing time.
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
    return f'<section class="chapter" id="{chapter.slug}">{article.decode_contents()}</section>'


@dataclass
class Book:
    head: str                  # the <head> content shared by the body and the front matter
    body: str                  # the parts and chapters
    parts: dict[str, str]      # the anchor of each part's title page -> the part's name


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
    return Book(head, "".join(body), parts)


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
<nav class="book-toc"><h1 id="contents">Contents</h1><ol>{"".join(toc)}</ol></nav>""")


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
        page.evaluate("document.fonts.ready")
        fitted = page.evaluate(FIT_TO_WIDTH)
        if fitted["cut"]:
            raise SystemExit("too wide for the page even when scaled down:\n  " + "\n  ".join(fitted["cut"]))
        page.pdf(path=str(output), format="A4", print_background=True, outline=True, tagged=True,
                 prefer_css_page_size=True, display_header_footer=numbered,
                 header_template="<span></span>", footer_template=FOOTER if numbered else "<span></span>")
    finally:
        context.close()
    if outside:
        raise SystemExit(f"the book asked for outside resources: {outside[:5]}")
    return fitted["scaled"]


def bookmark_pages(pdf: Path) -> list[tuple[str, int]]:
    """Each bookmark's title and page (0-based), in order, at every depth."""
    from pypdf import PdfReader

    reader = PdfReader(pdf)
    flat: list[tuple[str, int]] = []

    def walk(items):
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                flat.append((item.title.strip(), reader.get_destination_page_number(item)))

    walk(reader.outline)
    return flat


def start_pages(pdf: Path, book: Book, chapters: list[Chapter]) -> dict[str, int]:
    """The page (0-based) each part and chapter starts on, by anchor, from the bookmarks.

    The parts and chapters are matched in order, so that a section with a chapter's title
    further on is not taken for it.
    """
    wanted: list[tuple[str, str]] = []
    parts, part = iter(book.parts.items()), None
    for chapter in chapters:
        if chapter.part != part:
            part = chapter.part
            if part is not None:
                wanted.append(next(parts))
        wanted.append((chapter.slug, chapter.title))
    flat, pages, i = bookmark_pages(pdf), {}, 0
    for anchor, title in wanted:
        for j in range(i, len(flat)):
            if flat[j][0] == title:
                pages[anchor], i = flat[j][1], j + 1
                break
    missing = [title for anchor, title in wanted if anchor not in pages]
    if missing:
        raise SystemExit(f"no bookmark found for {missing}")
    return pages


def merge(front: Path, body: Path, starts: dict[str, int], output: Path) -> int:
    """Put the front matter before the body; return the number of front pages.

    The contents' links (to FAKE_HOST#anchor) become links to the body's pages, a
    "Contents" bookmark comes first, and the pages are labelled i, ii, ... then 1, 2, ...
    The body is cloned whole, so its bookmarks, links and tags stay as Chromium made them.
    """
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, FloatObject, NameObject, NullObject

    front_reader = PdfReader(front)
    contents = dict(bookmark_pages(front))["Contents"]
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
    first_bookmark(writer, writer.add_outline_item(title="Contents", page_number=contents))
    writer.set_page_label(0, n_front - 1, style="/r")
    writer.set_page_label(n_front, n_front + n_body - 1, style="/D", start=1)
    with open(output, "wb") as f:
        writer.write(f)
    return n_front


def first_bookmark(writer, item) -> None:
    """Move the bookmark `item`, the last at the top level, to the front of the list."""
    from pypdf.generic import NameObject

    root = writer.root_object["/Outlines"].get_object()
    node = item.get_object()
    old_first = root.raw_get("/First")
    if old_first == item:
        return
    before = node.raw_get("/Prev")
    del before.get_object()[NameObject("/Next")]
    root[NameObject("/Last")] = before
    del node[NameObject("/Prev")]
    node[NameObject("/Next")] = old_first
    old_first.get_object()[NameObject("/Prev")] = item
    root[NameObject("/First")] = item


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
                starts = start_pages(body, book, chapters)
                pages = {anchor: index + 1 for anchor, index in starts.items()}
                _Handler.book = front_matter(book, chapters, name, description, pages).encode("utf-8")
                print_pdf(browser, base, front, numbered=False)
            finally:
                browser.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    n_front = merge(front, body, starts, output)
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
