"""The text of a PDF's pages, read by PDFium (pypdfium2), Chromium's own PDF engine.

For the book's four hundred and more pages this takes a few seconds; pypdf's text
extraction, which interprets every content stream in Python, took a minute of CPU.
"""

from __future__ import annotations

from pathlib import Path

#: Points from the bottom of an A4 page under which only the footer's page number is printed.
#: The number sits 16 to 21 points up; the rest of the 51-point bottom margin, above it, is
#: read on its own (MARGIN_PT), so that anything printed there is seen as such.
FOOTER_PT = 30

#: Points from the bottom under which no text of the body may be printed: the bottom margin's
#: top edge (18 mm, 51 points) less 2 points, for a glyph whose ink just passes its line.
MARGIN_PT = 49


def page_texts(pdf: Path, pages: int) -> list[tuple[str, str, str]]:
    """The text of each of the PDF's `pages` pages, the part of it printed in the footer
    (below FOOTER_PT), and the part printed in the margin above the footer (between
    FOOTER_PT and MARGIN_PT), in order."""
    import pypdfium2

    document = pypdfium2.PdfDocument(str(pdf))
    try:
        if len(document) != pages:
            raise ValueError(f"{pdf} has {len(document)} pages, not {pages}")
        texts = []
        for index in range(pages):
            page = document[index]
            text = page.get_textpage()
            texts.append((text.get_text_range(),
                          text.get_text_bounded(bottom=0, top=FOOTER_PT).strip(),
                          text.get_text_bounded(bottom=FOOTER_PT, top=MARGIN_PT).strip()))
            text.close()
            page.close()
        return texts
    finally:
        document.close()
