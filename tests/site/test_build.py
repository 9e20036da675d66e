"""The strict build, and checks of the HTML it produced.

- no broken internal link or anchor (mkdocs validates Markdown links; notebook pages and the
  theme's own links are only checked here);
- nothing loaded from another host: no script, stylesheet, font, image or frame in the
  HTML, no url() or @import in the CSS;
- every formula rendered by KaTeX at build time (hooks/katex_math.py): each display formula
  of the source is in its page as KaTeX's HTML and MathML, in order, with its TeX kept for
  screen readers; no raw TeX left, and no page loads a math script;
- the search index holds the formulas' TeX, so that a word found only inside a formula finds
  its page, and none of KaTeX's markup.

Each page is parsed once, into the facts these checks read (its ids, links, what it loads,
its formulas as rendered); the checks then run on the facts. Parsing every page takes the
better part of a minute, so the facts of a page are kept in .cache/site-facts/ under the
digest of the page's bytes and of this file: an unchanged page is not parsed again, and
every check still runs on every page.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from bs4 import BeautifulSoup

from pages import DOCS, ROOT, markdown_pages, notebook_markdown, notebooks, parse_page

pytestmark = pytest.mark.site

CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""")
LOADING_ATTRS = [("script", "src"), ("link", "href"), ("img", "src"), ("source", "src"),
                 ("iframe", "src"), ("video", "src"), ("audio", "src"), ("embed", "src"),
                 ("object", "data")]


FACTS = ROOT / ".cache" / "site-facts"


def tex_of(katex) -> str:
    """The TeX that KaTeX kept in its MathML, with whitespace runs made single spaces."""
    annotation = katex.find("annotation", attrs={"encoding": "application/x-tex"})
    return " ".join(annotation.text.split()) if annotation else ""


def read_facts(soup: BeautifulSoup) -> dict:
    """What the checks below need of one parsed page, as JSON-ready values."""
    loads = []
    for tag, attr in LOADING_ATTRS:
        for el in soup.find_all(tag):
            value = el.get(attr)
            if value and not (tag == "link" and "canonical" in (el.get("rel") or [])):
                loads.append((f"<{tag} {attr}={value}>", value))
    for style in soup.find_all("style"):
        for m in CSS_URL.findall(style.text):
            loads += [(f"<style> {u}", u) for u in m if u]
    for script in soup.find_all("script", src=False):
        loads += [(f"<script> import({u})", u)
                  for u in re.findall(r"""import\(\s*["']([^"']+)["']""", script.text)]
    facts = {
        "ids": sorted({tag["id"] for tag in soup.find_all(id=True)}),
        "hrefs": [a["href"] for a in soup.find_all("a", href=True)],
        "loads": loads,
        "scripts": [s.get("src", "") for s in soup.find_all("script")],
        "inline_scripts": " ".join(s.text for s in soup.find_all("script", src=False)),
        "outputs": len(soup.select(".jp-OutputArea-output")),
        "markdown_cell_formulas": len(soup.select(".jp-RenderedMarkdown .katex")),
        "code_cell_formulas": len(soup.select(".jp-CodeCell .jp-InputArea .katex")),
        # The text of each Markdown cell outside formulas and code, where it holds a "$".
        "markdown_cell_dollars": [
            left for left in ("".join(t for t in cell.find_all(string=True)
                                      if not t.find_parent(class_="katex")
                                      and not t.find_parent(["code", "pre"]))
                              for cell in soup.select(".jp-RenderedMarkdown")) if "$" in left],
    }
    article = soup.find("article")
    if article is not None:
        displays = []
        for block in article.select("div.arithmatex"):
            display = block.select(":scope > .katex-display > .katex")
            displays.append({"katex": len(display),
                             "html": bool(display and display[0].select_one(".katex-html")),
                             "mathml": bool(display and display[0].select_one(
                                 ".katex-mathml > math[display=block]")),
                             "tex": tex_of(display[0]) if display else ""})
        facts["displays"] = displays
        facts["inline"] = [(s.text[:60], bool(s.select_one(":scope > .katex .katex-html")))
                           for s in article.select("span.arithmatex")]
        # The text of each formula outside its TeX annotation, where it holds \( or \[.
        facts["raw_tex"] = [
            left for left in ("".join(t for t in f.find_all(string=True) if not t.find_parent("annotation"))
                              for f in article.select(".arithmatex")) if "\\(" in left or "\\[" in left]
    return facts


#: The digest of this file: facts read by another version of read_facts() are not reused.
CODE = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def site_facts(built_site) -> dict[Path, dict]:
    """The facts of every built page, read from the cache or by parsing the page.

    Entries no page of this build uses are removed afterwards.
    """
    found, used = {}, set()
    for path in html_files(built_site.path):
        data = path.read_bytes()
        key = hashlib.sha256(data + CODE.encode()).hexdigest()
        memo = FACTS / f"{key}.json"
        used.add(memo.name)
        try:
            found[path] = json.loads(memo.read_text(encoding="utf-8"))
            continue
        except (OSError, ValueError):
            pass                        # not read yet, or unreadable: parse the page
        found[path] = read_facts(BeautifulSoup(data.decode("utf-8"), "html.parser"))
        FACTS.mkdir(parents=True, exist_ok=True)
        memo.with_suffix(".tmp").write_text(json.dumps(found[path]), encoding="utf-8")
        memo.with_suffix(".tmp").replace(memo)
    yield found
    for old in FACTS.glob("*.json"):
        if old.name not in used:
            old.unlink(missing_ok=True)


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


def test_no_broken_internal_link_or_anchor(built_site, site_facts):
    ids = {p: set(f["ids"]) for p, f in site_facts.items()}
    broken = []
    for path, facts in site_facts.items():
        base = page_url(built_site, path)
        for href in facts["hrefs"]:
            url = urljoin(base, href)
            target = target_file(built_site, url.split("#")[0])
            if target is None:
                continue
            if not target.is_file():
                broken.append(f"{path.relative_to(built_site.path)}: {href} -> missing file")
                continue
            fragment = urlsplit(url).fragment
            if fragment and target.suffix == ".html":
                if unquote(fragment) not in ids.setdefault(target, set()):
                    broken.append(f"{path.relative_to(built_site.path)}: {href} -> no anchor")
    assert not broken, "\n".join(broken)


def loaded_resources(site, site_facts) -> list[tuple[Path, str, str]]:
    """(page, what, absolute URL) of everything a built page or stylesheet loads."""
    found = [(path, what, urljoin(page_url(site, path), value))
             for path, facts in site_facts.items() for what, value in facts["loads"]]
    for css in site.path.rglob("*.css"):
        for m in CSS_URL.findall(css.read_text(encoding="utf-8", errors="replace")):
            found += [(css, f"url({u})", urljoin(page_url(site, css), u)) for u in m if u]
    return found


def test_nothing_is_loaded_from_another_host(built_site, site_facts):
    remote = [f"{path.relative_to(built_site.path)}: {what}"
              for path, what, url in loaded_resources(built_site, site_facts)
              if is_remote(built_site, url)]
    assert not remote, "\n".join(remote)


def test_local_assets_that_pages_load_exist(built_site, site_facts):
    missing = []
    for path, what, url in loaded_resources(built_site, site_facts):
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


def built_page(site, source: Path) -> Path:
    rel = source.relative_to(DOCS).with_suffix("")
    return site.path / ("index.html" if rel.name == "index" else rel / "index.html")


def test_every_display_formula_is_rendered_in_the_built_html(built_site, site_facts):
    for source in markdown_pages():
        blocks = site_facts[built_page(built_site, source)]["displays"]
        formulas = parse_page(source).formulas
        assert len(blocks) == len(formulas), (
            f"{source}: {len(blocks)} display formulas in the HTML, {len(formulas)} in the source")
        for block, formula in zip(blocks, formulas, strict=True):
            where = f"{source}:{formula.line}"
            assert block["katex"] == 1, f"{where}: not rendered as one KaTeX display"
            assert block["html"], f"{where}: no KaTeX HTML"
            assert block["mathml"], f"{where}: no MathML"
            assert block["tex"] == " ".join(formula.tex.split()), (
                f"{where}: the rendered formula is not the source's")


def test_every_inline_formula_is_rendered_and_no_raw_tex_is_left(built_site, site_facts):
    for source in markdown_pages():
        html = built_page(built_site, source)
        facts = site_facts[html]
        if "$" in source.read_text(encoding="utf-8"):
            assert facts["inline"] or facts["displays"], f"{source} has math but its page has none"
        unrendered = [text for text, rendered in facts["inline"] if not rendered]
        assert not unrendered, f"{html}: inline formulas not rendered: {unrendered[:5]}"
        raw = [left[:80] for left in facts["raw_tex"]]
        assert not raw, f"{html}: raw TeX left: {raw[:3]!r}"


def test_no_page_loads_a_math_script(built_site, site_facts):
    for path, facts in site_facts.items():
        math = [s for s in facts["scripts"] if re.search(r"katex|mathjax|auto-render", s, re.I)]
        assert not math, f"{path.relative_to(built_site.path)} loads {math}"
        inline = facts["inline_scripts"]
        assert "renderMathInElement" not in inline and "katex.render" not in inline, (
            f"{path.relative_to(built_site.path)} renders math in the browser")


def test_notebook_math_is_rendered_in_markdown_cells_only(built_site, site_facts):
    math = re.compile(r"\$\$.+?\$\$|\$[^$]+?\$", re.S)
    code = re.compile(r"```.*?```|`[^`]*`", re.S)
    for nb in notebooks():
        rel = nb.relative_to(DOCS).with_suffix("")
        html = built_site.path / rel / "index.html"
        text = html.read_text(encoding="utf-8")
        assert "mathjax" not in text.lower(), f"{nb}: a MathJax loader is left in the page"
        facts = site_facts[html]
        expected = sum(len(math.findall(code.sub("", cell))) for cell in notebook_markdown(nb))
        rendered = facts["markdown_cell_formulas"]
        assert rendered == expected, (
            f"{nb}: {rendered} formulas rendered in its Markdown cells, {expected} in the notebook")
        assert not facts["code_cell_formulas"], f"{nb}: math rendered inside code"
        left = [text.strip()[:80] for text in facts["markdown_cell_dollars"]]
        assert not left, f"{nb}: unrendered math left: {left[:3]!r}"


SEARCH_MARKUP = ('class="katex', "<math", "<span", "<annotation", "katex-mathml")
#: A word that appears on its page only inside formulas (checked below against the source),
#: and the page a search for it must find.
FORMULA_ONLY_WORD = ("LeakyReLU", "networks/activations.md")


def test_search_index_holds_the_formulas_tex_and_no_katex_markup(built_site):
    index = json.loads((built_site.path / "search" / "search_index.json").read_text(encoding="utf-8"))
    markup = [d["location"] for d in index["docs"]
              if any(m in d["text"] or m in d["title"] for m in SEARCH_MARKUP)]
    assert not markup, f"KaTeX markup in the search index at {markup[:5]}"
    tex = [d for d in index["docs"] if "\\frac" in d["text"]]
    assert len(tex) > 20, "the search index lost the formulas' TeX"


def test_a_word_found_only_inside_formulas_finds_its_page(built_site):
    word, page = FORMULA_ONLY_WORD
    source = DOCS / page
    text = source.read_text(encoding="utf-8")
    outside = re.sub(r"\$\$.*?\$\$|\$[^$]*\$", " ", text, flags=re.S)
    assert word in text and word.lower() not in outside.lower(), (
        f"{page}: pick another word found on its page only inside formulas")
    index = json.loads((built_site.path / "search" / "search_index.json").read_text(encoding="utf-8"))
    # Tokenise as the search does in the browser: split at the configured separator, lower-case.
    separator = re.compile(index["config"]["separator"])
    url = source.relative_to(DOCS).with_suffix("").as_posix() + "/"
    found = {d["location"].split("#")[0] for d in index["docs"]
             if word.lower() in {t.lower() for t in separator.split(d["text"])}}
    assert url in found, f"a search for {word!r} does not find {url}; it finds {sorted(found)}"


def test_notebook_pages_show_their_executed_outputs(built_site, site_facts):
    for nb in notebooks():
        rel = nb.relative_to(DOCS).with_suffix("")
        outputs = site_facts[built_site.path / rel / "index.html"]["outputs"]
        assert outputs, f"{nb}: its page shows no output; was the notebook executed?"
