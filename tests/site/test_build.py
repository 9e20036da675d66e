"""The strict build, and checks of the HTML it produced.

- no broken internal link or anchor (mkdocs validates Markdown links; notebook pages and the
  theme's own links are only checked here);
- nothing loaded from another host: no script, stylesheet, font, image or frame in the
  HTML, no url() or @import in the CSS;
- math present on every page whose source has formulas, one rendered block per display
  formula that the pairing test found.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from bs4 import BeautifulSoup

from pages import DOCS, markdown_pages, notebook_markdown, notebooks, parse_page

pytestmark = pytest.mark.site

CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""")
LOADING_ATTRS = [("script", "src"), ("link", "href"), ("img", "src"), ("source", "src"),
                 ("iframe", "src"), ("video", "src"), ("audio", "src"), ("embed", "src"),
                 ("object", "data")]


@functools.cache
def soup_of(path: Path) -> BeautifulSoup:
    """The parsed page, parsed once per session: the checks below read every page."""
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def html_files(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def page_url(site, path: Path) -> str:
    return site.base_url + path.relative_to(site.path).as_posix()


def target_file(site, url: str) -> Path | None:
    """The built file an internal URL points to, or None if it points outside the site."""
    parts = urlsplit(url)
    if not url.startswith(site.base_url):
        return None
    rel = unquote(parts.path)[len(urlsplit(site.base_url).path):]
    path = site.path / rel
    return path / "index.html" if rel == "" or rel.endswith("/") or path.is_dir() else path


def is_remote(site, url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "javascript", "mailto"):
        return False
    return bool(parts.netloc) and not url.startswith(site.base_url)


def source_of(site, html: Path) -> Path | None:
    rel = html.relative_to(site.path).parent.as_posix()
    for candidate in (DOCS / f"{rel}.md", DOCS / rel / "index.md", DOCS / f"{rel}.ipynb"):
        if candidate.is_file():
            return candidate
    return DOCS / "index.md" if rel == "." else None


def test_build_is_strict_and_quick(built_site):
    assert (built_site.path / "index.html").is_file()
    # About twenty executed notebooks build in about a minute on two idle cores; five
    # minutes means a notebook has become slow, which every reader of `make serve` pays.
    assert built_site.seconds < 300, f"the build took {built_site.seconds:.0f} s"


def test_every_page_source_is_built(built_site):
    for source in [*markdown_pages(), *notebooks()]:
        rel = source.relative_to(DOCS).with_suffix("")
        html = built_site.path / ("index.html" if rel.name == "index" else rel / "index.html")
        assert html.is_file(), f"{source} was not built to {html}"


def test_no_broken_internal_link_or_anchor(built_site):
    soups = {p: soup_of(p) for p in html_files(built_site.path)}
    ids = {p: {tag["id"] for tag in s.find_all(id=True)} for p, s in soups.items()}
    broken = []
    for path, soup in soups.items():
        base = page_url(built_site, path)
        for a in soup.find_all("a", href=True):
            url = urljoin(base, a["href"])
            target = target_file(built_site, url.split("#")[0])
            if target is None:
                continue
            if not target.is_file():
                broken.append(f"{path.relative_to(built_site.path)}: {a['href']} -> missing file")
                continue
            fragment = urlsplit(url).fragment
            if fragment and target.suffix == ".html":
                if unquote(fragment) not in ids.setdefault(target, set()):
                    broken.append(f"{path.relative_to(built_site.path)}: {a['href']} -> no anchor")
    assert not broken, "\n".join(broken)


@functools.cache
def loaded_resources(site) -> list[tuple[Path, str, str]]:
    """(page, tag, attribute value, absolute URL) of everything a built page loads.

    Walked once per session: two tests read it, and the walk takes seconds.
    """
    return list(_walk_loaded_resources(site))


def _walk_loaded_resources(site):
    for path in html_files(site.path):
        soup = soup_of(path)
        base = page_url(site, path)
        for tag, attr in LOADING_ATTRS:
            for el in soup.find_all(tag):
                value = el.get(attr)
                if value and not (tag == "link" and "canonical" in (el.get("rel") or [])):
                    yield path, f"<{tag} {attr}={value}>", urljoin(base, value)
        for style in soup.find_all("style"):
            for m in CSS_URL.findall(style.text):
                yield from ((path, f"<style> {u}", urljoin(base, u)) for u in m if u)
        for script in soup.find_all("script", src=False):
            for u in re.findall(r"""import\(\s*["']([^"']+)["']""", script.text):
                yield path, f"<script> import({u})", urljoin(base, u)
    for css in site.path.rglob("*.css"):
        for m in CSS_URL.findall(css.read_text(encoding="utf-8", errors="replace")):
            yield from ((css, f"url({u})", urljoin(page_url(site, css), u)) for u in m if u)


def test_nothing_is_loaded_from_another_host(built_site):
    remote = [f"{path.relative_to(built_site.path)}: {what}"
              for path, what, url in loaded_resources(built_site) if is_remote(built_site, url)]
    assert not remote, "\n".join(remote)


def test_local_assets_that_pages_load_exist(built_site):
    missing = []
    for path, what, url in loaded_resources(built_site):
        target = target_file(built_site, url.split("?")[0].split("#")[0])
        if target is not None and not target.exists():
            missing.append(f"{path.relative_to(built_site.path)}: {what}")
    assert not missing, "\n".join(missing)


def test_katex_fonts_referenced_by_its_css_are_served(built_site):
    css = built_site.path / "assets" / "vendor" / "katex" / "katex.min.css"
    fonts = [u for m in CSS_URL.findall(css.read_text(encoding="utf-8")) for u in m if u]
    assert len(fonts) > 20
    for font in fonts:
        assert (css.parent / font).is_file(), f"KaTeX font {font} is not in the built site"


def test_math_is_present_on_every_page_with_formulas(built_site):
    for source in markdown_pages():
        text = source.read_text(encoding="utf-8")
        rel = source.relative_to(DOCS).with_suffix("")
        html = built_site.path / ("index.html" if rel.name == "index" else rel / "index.html")
        soup = soup_of(html)
        article = soup.find("article")
        blocks = article.select("div.arithmatex")
        inline = article.select("span.arithmatex")
        expected_blocks = len(parse_page(source).formulas)
        assert len(blocks) == expected_blocks, (
            f"{source}: {len(blocks)} display formulas in the HTML, {expected_blocks} in the source")
        if "$" in text:
            assert blocks or inline, f"{source} has math but its page has none"
            scripts = [s.get("src", "") for s in soup.find_all("script")]
            assert any(s.endswith("katex.min.js") for s in scripts), f"{html} does not load KaTeX"


def test_notebook_pages_keep_their_math_for_katex(built_site):
    for nb in notebooks():
        rel = nb.relative_to(DOCS).with_suffix("")
        html = (built_site.path / rel / "index.html").read_text(encoding="utf-8")
        assert "mathjax" not in html.lower(), f"{nb}: a MathJax loader is left in the page"
        if any("$" in cell for cell in notebook_markdown(nb)):
            cells = soup_of(built_site.path / rel / "index.html").select(".jp-RenderedMarkdown")
            assert any("$" in c.text for c in cells), f"{nb}: math in its cells did not reach the page"


def test_notebook_pages_show_their_executed_outputs(built_site):
    for nb in notebooks():
        rel = nb.relative_to(DOCS).with_suffix("")
        soup = soup_of(built_site.path / rel / "index.html")
        outputs = soup.select(".jp-OutputArea-output")
        assert outputs, f"{nb}: its page shows no output; was the notebook executed?"
