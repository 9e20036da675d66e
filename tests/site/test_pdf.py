"""The whole site as one PDF (`make pdf`, scripts/book_pdf.py), printed from the built site.

It has every page of the nav, in order, each a bookmark with its sections below it; a table
of contents whose page numbers are the ones printed at the foot of the chapters' first
pages and whose entries link to those pages; page labels that match the printed numbers;
typeset formulas and headings from every part; the notebooks' plots; and nothing cut at the
page edge (the script itself fails on that).

The PDF is kept in .cache/pdf/ under a key of everything its print depends on (see
scripts/book_pdf.py): a run whose site, assets, script and browser are those of an earlier
run checks the PDF that run printed, with every assertion below; a clean clone prints it.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

import pdf_text
from pages import DOCS, ROOT, nav_files, nav_parts

pytestmark = [pytest.mark.site, pytest.mark.browser, pytest.mark.pdf]

#: Text that only a typeset formula puts on its page (checked against the page's source
#: below), one page from each part: the PDF must hold the formula, not a hole or raw TeX.
FORMULAS = {
    "foundations/derivatives.md": ["h→0", "sin x"],
    "models/logistic-regression.md": ["σ(z) =", "1 + e−z"],
    "models/softmax-regression.md": ["LSE"],
    "networks/initialisation.md": ["Var", "diag"],
    "optimisation/gradient-descent.md": ["diag"],
    "losses/summary.md": ["clip"],
}


@dataclass
class Book:
    path: Path
    pages: list[str]                      # the text of each page
    footers: list[str]                    # the text printed in each page's footer
    margins: list[str]                    # the text printed between the footer and the body
    labels: list[str]                     # each page's label, the number a viewer shows
    outline: list[tuple[int, str, int]]   # (depth, title, page index) in order
    links: dict[int, list[int]]           # page index -> the pages its internal links go to
    images: int
    seconds: float                        # how long the print took


@dataclass
class Chapter:
    src: str
    html: Path
    title: str
    sections: list[str]


def flat(text: str) -> str:
    """Text without white space, ligatures undone (the PDF's text has "ﬁ" for "fi")."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def page_texts(pdf: Path, reader) -> list[tuple[str, str, str]]:
    """The text, footer and bottom margin of every page (tests/pdf_text.py), kept in
    .cache/pdf/ by the digest of the PDF's bytes, of the code that reads them and of
    pypdfium2's version: the same PDF gives the same texts, so the PDF copied from the cache
    is not read again."""
    from importlib.metadata import version

    digest = hashlib.sha256(pdf.read_bytes())
    digest.update(Path(pdf_text.__file__).read_bytes() + version("pypdfium2").encode())
    memo = ROOT / ".cache" / "pdf" / f"text-{digest.hexdigest()}.json"
    try:
        texts = [tuple(pair) for pair in json.loads(memo.read_text(encoding="utf-8"))]
        if len(texts) == len(reader.pages):
            return texts
    except (OSError, ValueError, TypeError):
        pass                                  # not kept yet, or unreadable: read the PDF
    texts = pdf_text.page_texts(pdf, len(reader.pages))
    for old in memo.parent.glob("text-*.json"):
        old.unlink(missing_ok=True)
    memo.parent.mkdir(parents=True, exist_ok=True)
    memo.with_suffix(".tmp").write_text(json.dumps(texts), encoding="utf-8")
    memo.with_suffix(".tmp").replace(memo)
    return texts


@pytest.fixture(scope="module")
def book(built_site, tmp_path_factory) -> Book:
    from pypdf import PdfReader

    out = tmp_path_factory.mktemp("pdf") / "hands-on-gradients.pdf"
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "book_pdf.py"), str(built_site.path),
                             str(out), "--cache", str(ROOT / ".cache" / "pdf"), "--json"],
                            cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, f"scripts/book_pdf.py failed:\n{result.stdout}\n{result.stderr}"
    seconds = json.loads(result.stdout.strip().splitlines()[-1])["seconds"]
    reader = PdfReader(out)
    outline: list[tuple[int, str, int]] = []

    def walk(items, depth):
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                outline.append((depth, item.title.strip(), reader.get_destination_page_number(item)))

    walk(reader.outline, 0)
    index = {page.indirect_reference.idnum: i for i, page in enumerate(reader.pages)}
    links = {i: [index[annot.get_object()["/Dest"][0].idnum] for annot in page.get("/Annots", [])
                 if "/Dest" in annot.get_object() and not isinstance(annot.get_object()["/Dest"], str)]
             for i, page in enumerate(reader.pages)}
    images = sum(1 for page in reader.pages
                 for x in (page.get("/Resources") or {}).get("/XObject", {}).values()
                 if x.get_object().get("/Subtype") == "/Image")
    texts = page_texts(out, reader)
    return Book(out, [t for t, _, _ in texts], [f for _, f, _ in texts], [b for _, _, b in texts],
                list(reader.page_labels),
                outline, links, images, seconds)


HEADING = re.compile(r"<h([12])\b[^>]*>(.*?)</h\1>", re.S)


@pytest.fixture(scope="module")
def chapters(built_site) -> list[Chapter]:
    found = []
    for src in nav_files():
        stem = re.sub(r"\.(md|ipynb)$", "", src)
        rel = "" if stem == "index" else (stem[: -len("index")] if stem.endswith("/index") else stem + "/")
        html = built_site.path / rel / "index.html"
        text = html.read_text(encoding="utf-8")
        # Only the headings are parsed: the whole page would take seconds.
        article = text[text.index("<article"):text.rindex("</article>")]
        headings = []
        for level, inner in HEADING.findall(article):
            heading = BeautifulSoup(inner, "html.parser")
            for junk in heading.select("a.headerlink, a.anchor-link"):
                junk.decompose()
            headings.append((level, heading.get_text(" ", strip=True)))
        title = next(t for level, t in headings if level == "1")
        found.append(Chapter(src, html, title, [t for level, t in headings if level == "2"]))
    return found


def chapter_starts(book: Book, chapters: list[Chapter]) -> list[int]:
    """Index in the outline of each chapter's bookmark, matched in nav order."""
    titles = [title for _, title, _ in book.outline]
    found, position = [], 0
    for chapter in chapters:
        assert chapter.title in titles[position:], (
            f"{chapter.src}: no bookmark {chapter.title!r} after the previous page's")
        position = titles.index(chapter.title, position)
        found.append(position)
        position += 1
    return found


def test_the_pdf_is_printed_in_reasonable_time_with_a_plausible_page_count(book, chapters):
    # One print of some 450 pages takes under two minutes on two busy cores.
    assert book.seconds < 400, f"printing took {book.seconds:.0f} s"
    assert 2 * len(chapters) <= len(book.pages) <= 20 * len(chapters), (
        f"{len(book.pages)} PDF pages for {len(chapters)} pages of the site")


def test_every_page_of_the_nav_is_a_bookmark_in_nav_order_with_its_sections(book, chapters):
    for chapter, start in zip(chapters, chapter_starts(book, chapters), strict=True):
        depth = book.outline[start][0]
        below = []
        for d, title, _ in book.outline[start + 1:]:
            if d <= depth:
                break
            below.append(title)
        missing = [s for s in chapter.sections if s not in below]
        assert not missing, f"{chapter.src}: sections with no bookmark: {missing}"
        page_text = flat(book.pages[book.outline[start][2]])
        assert flat(chapter.title) in page_text, f"{chapter.src}: its title is not on its first page"


def test_the_bookmarks_nest_chapters_in_their_parts_and_sections_in_their_chapters(book, chapters):
    parts = nav_parts()
    for name in set(parts.values()) - {None}:
        assert (0, name) in [(d, title) for d, title, _ in book.outline], (
            f"the part {name!r} is not a top-level bookmark")
    for chapter, start in zip(chapters, chapter_starts(book, chapters), strict=True):
        depth = book.outline[start][0]
        part = parts[chapter.src]
        assert depth == (0 if part is None else 1), (
            f"{chapter.src}: its bookmark is at depth {depth}, in part {part!r}")
        if part is not None:
            above = next(title for d, title, _ in reversed(book.outline[:start]) if d == 0)
            assert above == part, f"{chapter.src}: its bookmark is under {above!r}, not {part!r}"
        children = []
        for d, title, _ in book.outline[start + 1:]:
            if d <= depth:
                break
            if d == depth + 1:
                children.append(title)
        assert children == chapter.sections, (
            f"{chapter.src}: the bookmarks one level below it are {children}, "
            f"its sections {chapter.sections}")


def contents_pages(book: Book) -> range:
    first = next(i for i, text in enumerate(book.pages) if text.lstrip().startswith("Contents"))
    last = first
    while not book.footers[last + 1]:          # the front matter has no footer
        last += 1
    return range(first, last + 1)


def test_the_front_matter_is_numbered_i_ii_and_the_body_1_2_as_printed(book):
    front = contents_pages(book).stop
    assert front >= 2, "no title page and contents before the body"
    roman = ["i", "ii", "iii", "iv", "v", "vi", "vii", "viii"]
    assert book.labels[:front] == roman[:front]
    assert not any(book.footers[:front]), "a page number printed on the front matter"
    numbers = [str(n) for n in range(1, len(book.pages) - front + 1)]
    assert book.labels[front:] == numbers
    assert book.footers[front:] == numbers, "the printed page numbers are not 1, 2, 3, ..."


def test_nothing_of_the_body_is_printed_in_the_bottom_margin(book):
    """Between the page number and the body's last line the margin stays empty: no line
    printed past the page's end, no ink of a formula carried onto the page before it."""
    printed = {book.labels[i]: text for i, text in enumerate(book.margins) if text}
    assert not printed, f"text in the bottom margin, by page: {printed}"


def test_the_contents_give_each_chapter_its_printed_page_and_link_to_it(book, chapters):
    contents = contents_pages(book)
    toc = flat(" ".join(book.pages[i] for i in contents))
    targets = [target for i in contents for target in book.links[i]]
    starts = [book.outline[start][2] for start in chapter_starts(book, chapters)]
    for chapter, first in zip(chapters, starts, strict=True):
        number = book.footers[first]
        assert number == book.labels[first], (
            f"{chapter.src}: labelled page {book.labels[first]} but printed {number}")
        assert flat(chapter.title) + number in toc, (
            f"the contents do not give {chapter.title!r} page {number}")
        assert first in targets, f"the contents have no link to {chapter.title!r} on page {number}"
    assert book.outline[0][1] == "Contents" and book.outline[0][2] == contents.start, (
        "the first bookmark is not the contents")


def test_typeset_formulas_from_several_parts_are_in_the_text(book, chapters):
    starts = chapter_starts(book, chapters)
    first_page = {c.src: book.outline[i][2] for c, i in zip(chapters, starts, strict=True)}
    pages = sorted(first_page.values()) + [len(book.pages)]
    for src, fragments in FORMULAS.items():
        source = (DOCS / src).read_text(encoding="utf-8")
        prose = re.sub(r"\$\$.*?\$\$|\$[^$]*\$|```.*?```|`[^`]*`", " ", source, flags=re.S)
        first = first_page[src]
        last = next(p for p in pages if p > first)    # the next chapter's first page
        text = flat(" ".join(book.pages[first:last + 1]))
        for fragment in fragments:
            assert flat(fragment) not in flat(prose), f"{src}: {fragment!r} is not only in formulas"
            assert flat(fragment) in text, f"{src}: the formula text {fragment!r} is not in the PDF"
    text = " ".join(book.pages)
    assert "\\frac" not in text and "\\mathbf" not in text and "$$" not in text, "raw TeX in the PDF"


def test_the_notebooks_plots_are_in_the_pdf(book, chapters):
    notebooks = [c for c in chapters if c.src.endswith(".ipynb")]
    plots = sum(len(BeautifulSoup(c.html.read_text(encoding="utf-8"), "html.parser")
                    .select("article .jp-OutputArea-output img")) for c in notebooks)
    assert book.images >= plots, f"{book.images} images in the PDF, {plots} plots in the notebooks"
