"""The text of a PDF's pages, read by pypdf in as many processes as the machine has cores.

Reading the text of a page means interpreting its whole content stream: for the book's
four hundred and more pages, about a minute in one process. The pages are independent, so
they are read in chunks by a pool of processes (spawned, so that no thread of the test
runner is copied into them), each opening the PDF itself.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

#: Points from the bottom of an A4 page under which only the footer's page number is printed
#: (the bottom margin is 18 mm, about 51 points).
FOOTER_PT = 45


def page_text(page) -> tuple[str, str]:
    """The page's text, and the part of it printed in the footer."""
    footer: list[str] = []

    def visit(text, cm, tm, font, size):
        if text.strip() and tm[5] * cm[3] + cm[5] < FOOTER_PT:
            footer.append(text.strip())

    return page.extract_text(visitor_text=visit), "".join(footer)


def _chunk(pdf: str, start: int, stop: int) -> list[tuple[str, str]]:
    from pypdf import PdfReader

    reader = PdfReader(pdf)
    return [page_text(reader.pages[i]) for i in range(start, stop)]


def page_texts(pdf: Path, pages: int) -> list[tuple[str, str]]:
    """page_text() of each of the PDF's `pages` pages, in order."""
    workers = max(1, min(os.cpu_count() or 1, pages))
    size = -(-pages // (4 * workers))           # a few chunks per process evens out the load
    bounds = [(start, min(start + size, pages)) for start in range(0, pages, size)]
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        chunks = pool.map(_chunk, [str(pdf)] * len(bounds), *zip(*bounds, strict=True))
        return [text for chunk in chunks for text in chunk]
