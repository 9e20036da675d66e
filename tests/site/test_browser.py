"""Open the built site in headless Chromium, served on 127.0.0.1, as a reader would.

For every page: no console error, no request to any other host, and every formula rendered
by KaTeX (no raw TeX left in the text, no KaTeX error element). Then the same after instant
navigation, which swaps the page content without reloading the page.

Chromium comes from the system (Debian's chromium package; `make test` installs it when it
can). Playwright only drives it and never downloads a browser of its own. The pages are
checked a few at a time, each in its own browser context (its own cookies, storage and
request log), since a page spends most of its time waiting for its scripts.
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytestmark = [pytest.mark.site, pytest.mark.browser]

CANDIDATES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"]
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
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
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
    acceptNode: (n) => n.parentElement.closest(skip) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
  });
  const raw = [];
  const tex = /\\[()[\]]|\$\$|\$[^$\s][^$]*\$|\\(frac|mathbf|nabla|partial|sum|tag|begin|hat)\b/;
  while (walker.nextNode()) {
    const text = walker.currentNode.nodeValue;
    if (tex.test(text)) raw.push(text.trim().slice(0, 80));
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


def site_pages(site: Path) -> list[str]:
    pages = [p.relative_to(site).as_posix() for p in site.rglob("index.html")]
    return sorted(p[: -len("index.html")] for p in pages)


def assert_math_rendered(state: dict, where: str, expect_math: bool):
    assert state["unrendered"] == 0, f"{where}: {state['unrendered']} formulas left unrendered"
    assert state["errors"] == 0, f"{where}: {state['errors']} KaTeX error elements"
    assert not state["raw"], f"{where}: raw TeX left in the text: {state['raw'][:5]}"
    if expect_math:
        assert state["rendered"] > 0, f"{where}: no rendered formula"


def pages_with_math(site: Path) -> set[str]:
    from pages import DOCS, markdown_pages, notebook_markdown, notebooks

    with_math = set()
    for md in markdown_pages():
        if "$" in md.read_text(encoding="utf-8"):
            rel = md.relative_to(DOCS).with_suffix("").as_posix()
            with_math.add("" if rel == "index" else rel + "/")
    for nb in notebooks():
        if any("$" in c for c in notebook_markdown(nb)):
            with_math.add(nb.relative_to(DOCS).with_suffix("").as_posix() + "/")
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
    except Exception as e:          # a timeout on one page must not hide the others
        problems.append(f"{rel}: {type(e).__name__}: {e}")
    finally:
        await reader.close()
    return problems


async def every_page_problems(executable: str, base_url: str, pages: list[str],
                              math_pages: set[str]) -> list[str]:
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
    return [problem for problems in results for problem in problems]


def test_every_page_renders_its_math_with_no_error_and_no_remote_request(built_site, server,
                                                                        chromium):
    math_pages = pages_with_math(built_site.path)
    pages = site_pages(built_site.path)
    assert len(pages) >= 6
    problems = asyncio.run(every_page_problems(chromium, server, pages, math_pages))
    assert not problems, "\n".join(problems)


async def instant_navigation(executable: str, base_url: str) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await launch(p, executable)
        reader = await Reader.open(browser, base_url)
        try:
            page = reader.page
            await page.goto(base_url, wait_until="load")
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
