"""Open the built site in headless Chromium, served on 127.0.0.1, as a reader would.

For every page: no console error, no request to any other host, no math script loaded, and
every formula rendered by KaTeX (no raw TeX left in the text, no KaTeX error element). Then the
same after instant navigation, which swaps the page content without reloading the page. The
math is rendered when the site is built, so every page is also opened with JavaScript off and
must show every display formula of its source, typeset.

Chromium comes from the system (Debian's chromium package; `make test` installs it when it
can). Playwright only drives it and never downloads a browser of its own. The pages are
checked a few at a time, each in its own browser context (its own cookies, storage and
request log), since a page spends most of its time waiting for its scripts.

A page that passed a per-page check is recorded in .cache/browser/ under a key of all its
outcome depends on: the page's HTML, every other file of the built site it could load (the
theme's scripts and styles, the fonts, the search index, the sitemap the instant navigation
reads, the images), this file, and the
versions of Chromium and Playwright. A later run opens only the pages whose key is not
recorded, so a page is checked again as soon as anything it loads changes; a failure is
never recorded, and a clean clone has no records and opens every page.
"""


from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import re
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.site, pytest.mark.browser]

#: The browsers tried, in order: Debian's headless shell first (the same engine without the
#: browser's own interface, which loads a page in about half the CPU time).
CANDIDATES = ["chromium-headless-shell", "chromium", "chromium-browser", "google-chrome",
              "google-chrome-stable", "chrome"]
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-quic", "--disable-default-apps", "--disable-extensions",
]
#: Milliseconds to wait for a page and its math; the site is local, so this is generous.
TIMEOUT_MS = 20_000
#: Pages open at the same time, each in its own context of one browser.
CONTEXTS = 4

MATH_STATE = r"""
() => {
  const root = document.querySelector("article") || document.body;
  const arithmatex = [...root.querySelectorAll(".arithmatex")];
  const skip = ".katex, pre, code, script, style, .md-clipboard, .clipboard-copy-txt, .jp-CodeCell";
  // No filter callback: with JavaScript off, the page cannot call back into this script.
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const raw = [];
  const tex = /\\[()[\]]|\$\$|\$[^$\s][^$]*\$|\\(frac|mathbf|nabla|partial|sum|tag|begin|hat)\b/;
  while (walker.nextNode()) {
    const text = walker.currentNode.nodeValue;
    if (tex.test(text) && !walker.currentNode.parentElement.closest(skip)) raw.push(text.trim().slice(0, 80));
  }
  return {
    arithmatex: arithmatex.length,
    unrendered: arithmatex.filter((el) => !el.querySelector(".katex")).length,
    rendered: root.querySelectorAll(".katex").length,
    errors: root.querySelectorAll(".katex-error").length,
    raw: raw,
  };
}
"""


def find_chromium() -> str:
    env = os.environ.get("CHROMIUM")
    if env:
        found = shutil.which(env)
        if found:
            return found
        pytest.fail(f"CHROMIUM={env!r} is not an executable")
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("No Chromium or Chrome found for the browser test. Run 'make test' as root on "
                "Debian or Ubuntu (it installs the chromium package), install one yourself "
                "(sudo apt-get install chromium), or set CHROMIUM=/path/to/chrome.")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@pytest.fixture(scope="module")
def server(built_site):
    handler = functools.partial(QuietHandler, directory=str(built_site.path))
    httpd = ThreadingHTTPServer(("127.0.0.1", built_site.port), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield built_site.base_url
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def chromium() -> str:
    return find_chromium()


async def launch(p, executable: str):
    return await p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS,
                                   timeout=60_000)


class Reader:
    """A browser tab in its own context that records console errors and every request."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.errors: list[str] = []
        self.remote: list[str] = []
        self.scripts: list[str] = []

    @classmethod
    async def open(cls, browser, base_url: str) -> Reader:
        self = cls(base_url)
        self.context = await browser.new_context(viewport={"width": 1280, "height": 900},
                                                 service_workers="block")
        await self.context.route("**/*", self._route)
        self.page = await self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: r.resource_type == "script" and self.scripts.append(r.url))
        return self

    async def _route(self, route):
        url = route.request.url
        if url.startswith(self.base_url) or url.startswith(("data:", "blob:")):
            await route.continue_()
        else:
            self.remote.append(url)
            await route.abort()

    async def math(self) -> dict:
        await self.page.wait_for_function(
            "() => [...document.querySelectorAll('.arithmatex')]"
            ".every(e => e.querySelector('.katex') || e.classList.contains('katex-error'))")
        return await self.page.evaluate(MATH_STATE)

    async def close(self):
        await self.context.close()


class Passed:
    """The pages that passed one per-page check, by a key of everything its outcome depends on.

    The keys of a check live in .cache/browser/<check>/, one empty file each; recording a
    run's passes removes the keys of earlier versions of the site.
    """

    def __init__(self, check: str, site: Path, browser_version: str, cache: Path | None = None):
        from importlib.metadata import version

        from pages import ROOT

        self.site, self.folder = site, (cache or ROOT / ".cache" / "browser") / check
        digest = hashlib.sha256()
        for part in (Path(__file__).read_bytes(), browser_version.encode(),
                     version("playwright").encode()):
            digest.update(hashlib.sha256(part).digest())
        for path in sorted(site.rglob("*")):
            if path.is_file() and path.suffix != ".html":
                digest.update(path.relative_to(site).as_posix().encode() + b"\0")
                digest.update(hashlib.sha256(path.read_bytes()).digest())
        self.base = digest

    def key(self, rel: str, expected: object) -> str:
        """The key of page rel (its URL in the site) when the check expects `expected` of it."""
        digest = self.base.copy()
        digest.update(rel.encode() + b"\0" + repr(expected).encode() + b"\0")
        digest.update((self.site / rel / "index.html").read_bytes())
        return digest.hexdigest()

    def to_check(self, pages: dict[str, object]) -> list[str]:
        """The pages (rel -> what the check expects of it) that have not passed as they are."""
        return [rel for rel, expected in pages.items()
                if not (self.folder / self.key(rel, expected)).is_file()]

    def record(self, pages: dict[str, object], failed: set[str]) -> None:
        """Record the pages that passed; forget the keys of pages as they no longer are."""
        keys = {rel: self.key(rel, expected) for rel, expected in pages.items()}
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.iterdir():
            if old.name not in keys.values():
                old.unlink(missing_ok=True)
        for rel, key in keys.items():
            if rel not in failed:
                (self.folder / key).touch()


async def browser_version(executable: str) -> str:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await launch(p, executable)
        try:
            return browser.version
        finally:
            await browser.close()


def site_pages(site: Path) -> list[str]:
    pages = [p.relative_to(site).as_posix() for p in site.rglob("index.html")]
    return sorted(p[: -len("index.html")] for p in pages)


def assert_math_rendered(state: dict, where: str, expect_math: bool):
    assert state["unrendered"] == 0, f"{where}: {state['unrendered']} formulas left unrendered"
    assert state["errors"] == 0, f"{where}: {state['errors']} KaTeX error elements"
    assert not state["raw"], f"{where}: raw TeX left in the text: {state['raw'][:5]}"
    if expect_math:
        assert state["rendered"] > 0, f"{where}: no rendered formula"


def url_of(source: Path) -> str:
    """The page's URL relative to the site: docs/a/b.md -> a/b/, docs/a/index.md -> a/."""
    from pages import DOCS

    rel = source.relative_to(DOCS).with_suffix("").as_posix()
    return "" if rel == "index" else (rel[: -len("index")] if rel.endswith("/index") else rel + "/")


def display_formulas(site: Path) -> dict[str, int]:
    """The number of display formulas in the source of every page, by its URL."""
    from pages import markdown_pages, notebook_markdown, notebooks, parse_page

    counts = {url_of(md): len(parse_page(md).formulas) for md in markdown_pages()}
    for nb in notebooks():
        blocks = sum(len(re.findall(r"\$\$.+?\$\$", c, re.S)) for c in notebook_markdown(nb))
        counts[url_of(nb)] = blocks
    return counts


def pages_with_math(site: Path) -> set[str]:
    from pages import markdown_pages, notebook_markdown, notebooks

    with_math = {url_of(md) for md in markdown_pages() if "$" in md.read_text(encoding="utf-8")}
    with_math |= {url_of(nb) for nb in notebooks() if any("$" in c for c in notebook_markdown(nb))}
    return with_math


async def page_problems(browser, base_url: str, rel: str, expect_math: bool) -> list[str]:
    """Everything wrong with one page, read in a fresh context."""
    reader = await Reader.open(browser, base_url)
    problems = []
    try:
        await reader.page.goto(base_url + rel, wait_until="load")
        state = await reader.math()
        try:
            assert_math_rendered(state, rel or "home", expect_math)
        except AssertionError as e:
            problems.append(str(e))
        problems += [f"{rel}: console error: {e}" for e in reader.errors]
        problems += [f"{rel}: request to another host: {u}" for u in reader.remote]
        problems += [f"{rel}: loads a math script: {u}" for u in reader.scripts
                     if re.search(r"katex|mathjax|auto-render", u, re.I)]
    except Exception as e:          # a timeout on one page must not hide the others
        problems.append(f"{rel}: {type(e).__name__}: {e}")
    finally:
        await reader.close()
    return problems


async def every_page_problems(executable: str, base_url: str, pages: list[str],
                              math_pages: set[str]) -> dict[str, list[str]]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await launch(p, executable)
        gate = asyncio.Semaphore(CONTEXTS)

        async def one(rel: str) -> list[str]:
            async with gate:
                return await page_problems(browser, base_url, rel, rel in math_pages)

        try:
            results = await asyncio.gather(*(one(rel) for rel in pages))
        finally:
            await browser.close()
    return dict(zip(pages, results, strict=True))


def check_pages(check: str, site: Path, chromium: str, pages: dict[str, object],
                run) -> None:
    """Run check over the pages not recorded as passed, record the passes, fail on problems.

    run(pages) returns each page's problems, an empty list for a page that passed.
    """
    passed = Passed(check, site, asyncio.run(browser_version(chromium)))
    found = run(passed.to_check(pages))
    passed.record(pages, failed={rel for rel, problems in found.items() if problems})
    problems = [problem for page_problems in found.values() for problem in page_problems]
    assert not problems, "\n".join(problems)


def test_every_page_renders_its_math_with_no_error_and_no_remote_request(built_site, server,
                                                                        chromium):
    math_pages = pages_with_math(built_site.path)
    pages = site_pages(built_site.path)
    assert len(pages) >= 6
    check_pages("scripts-on", built_site.path, chromium,
                {rel: rel in math_pages for rel in pages},
                lambda todo: asyncio.run(every_page_problems(chromium, server, todo, math_pages)))


async def instant_navigation(executable: str, base_url: str) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await launch(p, executable)
        reader = await Reader.open(browser, base_url)
        try:
            page = reader.page
            # The theme takes over links only once it has read the sitemap, which it fetches
            # after the load event: on a busy machine a click could come first and reload.
            await page.goto(base_url, wait_until="load")
            await page.wait_for_load_state("networkidle")
            await page.evaluate("window.__sameDocument = true")
            for target in ["models/logistic-regression/", "models/linear-regression-example/",
                           "notation/"]:
                link = page.locator('nav.md-nav--primary a.md-nav__link'
                                    f'[href$="{target.rstrip("/")}/"]').first
                await link.click()
                await page.wait_for_url(base_url + target)
                await page.wait_for_function("() => document.querySelector('.katex') !== null")
                state = await reader.math()
                assert_math_rendered(state, f"{target} (instant navigation)", True)
                assert await page.evaluate("window.__sameDocument === true"), (
                    f"{target}: the page was reloaded, so instant navigation was not used")
            assert not reader.errors, f"console errors: {reader.errors}"
            assert not reader.remote, f"requests to other hosts: {reader.remote}"
        finally:
            await reader.close()
            await browser.close()


def test_math_renders_again_after_instant_navigation(built_site, server, chromium):
    asyncio.run(instant_navigation(chromium, server))


async def javascript_off_problems(executable: str, base_url: str, pages: list[str],
                                  math_pages: set[str], expected: dict[str, int]
                                  ) -> dict[str, list[str]]:
    """Every page opened with JavaScript off: each display formula of its source typeset."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await launch(p, executable)
        gate = asyncio.Semaphore(CONTEXTS)

        async def one(rel: str) -> list[str]:
            async with gate:
                context = await browser.new_context(java_script_enabled=False,
                                                    service_workers="block")
                try:
                    page = await context.new_page()
                    page.set_default_timeout(TIMEOUT_MS)
                    await page.goto(base_url + rel, wait_until="load")
                    state = await page.evaluate(MATH_STATE)
                    displays = await page.locator("article .katex-display").count()
                    assert_math_rendered(state, f"{rel or 'home'} (JavaScript off)",
                                         rel in math_pages)
                    assert displays == expected.get(rel, 0), (
                        f"{rel or 'home'} (JavaScript off): {displays} display formulas "
                        f"typeset, {expected.get(rel, 0)} in the source")
                    return []
                except AssertionError as e:
                    return [str(e)]
                except Exception as e:      # a timeout on one page must not hide the others
                    return [f"{rel}: {type(e).__name__}: {e}"]
                finally:
                    await context.close()

        try:
            results = await asyncio.gather(*(one(rel) for rel in pages))
        finally:
            await browser.close()
    return dict(zip(pages, results, strict=True))


def test_every_formula_is_typeset_with_javascript_off(built_site, server, chromium):
    math_pages = pages_with_math(built_site.path)
    expected = display_formulas(built_site.path)
    pages = site_pages(built_site.path)
    assert set(expected) <= set(pages), f"pages not built: {sorted(set(expected) - set(pages))}"
    check_pages("scripts-off", built_site.path, chromium,
                {rel: (rel in math_pages, expected.get(rel, 0)) for rel in pages},
                lambda todo: asyncio.run(javascript_off_problems(chromium, server, todo,
                                                                 math_pages, expected)))


async def search_for(executable: str, base_url: str, word: str) -> tuple[list[str], list[str]]:
    """The links the site's search box lists for word, and the console errors on the way."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await launch(p, executable)
        reader = await Reader.open(browser, base_url)
        try:
            page = reader.page
            await page.goto(base_url, wait_until="load")
            search = page.locator("input.md-search__input")
            await search.click()
            results = page.locator(".md-search-result__list a.md-search-result__link")
            # Type key by key (the search listens to key events), and again until the search
            # worker, which may still be loading its index, answers.
            for _ in range(TIMEOUT_MS // 1000):
                await search.fill("")
                await search.press_sequentially(word)
                try:
                    await results.first.wait_for(state="attached", timeout=1000)
                    break
                except PlaywrightTimeout:
                    continue
            hrefs = [await a.get_attribute("href") for a in await results.all()]
            return hrefs, list(reader.errors)
        finally:
            await reader.close()
            await browser.close()


def test_search_finds_a_word_found_only_inside_formulas(built_site, server, chromium):
    # The same word as in test_build.py, which checks that it is on its page only in formulas.
    word, url = "LeakyReLU", "networks/activations/"
    hrefs, errors = asyncio.run(search_for(chromium, server, word))
    assert any(urlsplit(h).path.endswith("/" + url) for h in hrefs), (
        f"a search for {word} found {hrefs}")
    assert not errors, f"console errors: {errors}"


def test_a_page_is_checked_again_when_it_or_anything_it_loads_changes(tmp_path):
    site, cache = tmp_path / "site", tmp_path / "cache"
    for rel in ["", "a/", "b/"]:
        (site / rel).mkdir(parents=True, exist_ok=True)
        (site / rel / "index.html").write_text(f"<p>{rel}</p>", encoding="utf-8")
    (site / "assets").mkdir()
    (site / "assets" / "theme.js").write_text("let x = 1;", encoding="utf-8")
    pages = {"": False, "a/": True, "b/": True}

    def passed(version="1.0"):
        return Passed("check", site, version, cache)

    assert passed().to_check(pages) == ["", "a/", "b/"]         # nothing recorded yet
    passed().record(pages, failed={"b/"})
    assert passed().to_check(pages) == ["b/"]                   # a failure is not recorded
    passed().record(pages, failed=set())
    assert passed().to_check(pages) == []
    assert passed("2.0").to_check(pages) == ["", "a/", "b/"]    # another browser
    assert passed().to_check({**pages, "a/": False}) == ["a/"]  # another expectation
    (site / "a" / "index.html").write_text("<p>a, edited</p>", encoding="utf-8")
    assert passed().to_check(pages) == ["a/"]                   # the page itself
    passed().record(pages, failed=set())
    assert len(list((cache / "check").iterdir())) == 3          # the old key of a/ is gone
    (site / "assets" / "theme.js").write_text("let x = 2;", encoding="utf-8")
    assert passed().to_check(pages) == ["", "a/", "b/"]         # a file every page loads
    (site / "assets" / "theme.js").write_text("let x = 1;", encoding="utf-8")
    assert passed().to_check(pages) == []
    (site / "c").mkdir()
    (site / "c" / "index.html").write_text("<p>c</p>", encoding="utf-8")
    assert passed().to_check(pages) == []                       # another page is not loaded
    (site / "sitemap.xml").write_text("<urlset/>", encoding="utf-8")
    assert passed().to_check(pages) == ["", "a/", "b/"]         # the sitemap is
