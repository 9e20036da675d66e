"""MkDocs hook: the home page's link to the whole book as one PDF.

`make pdf` builds the site with BOOK_PDF=true, then prints the built pages into one PDF
(scripts/book_pdf.py) and writes it into the built site, beside the home page. In that
build the PDF is registered as a file of the site, so the strict link check accepts the
home page's link to it; it is written after the build, so nothing is copied for it here.

Every other build (`make build`, `make serve`, the tests) has no PDF. There the link becomes
plain text that says how to make it, so that no copy of the site carries a dead link and the
strict build passes without the PDF.
"""

from __future__ import annotations

import re

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, InclusionLevel

PDF_NAME = "hands-on-gradients.pdf"
HOME = "index.md"
_LINK = re.compile(r"\[(?P<text>[^\]]+)\]\(" + re.escape(PDF_NAME) + r"\)")


class PrintedAfterTheBuild(File):
    """The PDF, which scripts/book_pdf.py writes into the site once the build is done."""

    def copy_file(self, dirty: bool = False) -> None:
        pass

    def is_modified(self) -> bool:
        return False


def with_pdf(config) -> bool:
    return bool(config.extra.get("book_pdf"))


def on_files(files, config):
    if with_pdf(config):
        files.append(PrintedAfterTheBuild(PDF_NAME, src_dir=None, dest_dir=config.site_dir,
                                          use_directory_urls=config.use_directory_urls,
                                          inclusion=InclusionLevel.NOT_IN_NAV))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri != HOME:
        return markdown
    if len(_LINK.findall(markdown)) != 1:
        raise PluginError(f"{HOME} must link to {PDF_NAME} once, as [text]({PDF_NAME})")
    if with_pdf(config):
        return markdown
    return _LINK.sub(r"\g<text>, which `make pdf` makes (this copy of the site was built without it)",
                     markdown)
