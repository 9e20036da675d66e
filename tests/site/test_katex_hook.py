"""The build-time math renderer (hooks/katex_math.py) on small pieces of HTML.

It needs the KaTeX that `make` installs into node_modules/, like the site build.
"""

from __future__ import annotations

import importlib.util
import re
from types import SimpleNamespace

import pytest
from mkdocs.exceptions import PluginError

from pages import ROOT

pytestmark = pytest.mark.site


@pytest.fixture(scope="module")
def hook():
    spec = importlib.util.spec_from_file_location("katex_math_under_test", ROOT / "hooks" / "katex_math.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not module.KATEX.is_file():
        pytest.fail(f"KaTeX is not installed at {module.KATEX.parent}; run the tests with 'make test'")
    yield module
    module.close_renderer()


def page(src_uri: str):
    return SimpleNamespace(file=SimpleNamespace(src_uri=src_uri))


def test_arithmatex_formulas_become_katex_html_and_mathml_with_the_tex_unescaped(hook):
    html = ('<p><span class="arithmatex">\\(a &lt; b\\)</span></p>\n'
            '<div class="arithmatex">\\[\n\\begin{aligned} x &amp;= 1 \\tag{1} \\end{aligned}\n\\]</div>')
    out = hook.on_post_page(html, page=page("x.md"), config=None)
    assert out.count('<span class="arithmatex"><span class="katex">') == 1
    assert out.count('<div class="arithmatex"><span class="katex-display">') == 1
    assert '<annotation encoding="application/x-tex">a &lt; b</annotation>' in out
    assert "x &amp;= 1 \\tag{1}" in out          # the TeX, unescaped once and escaped again
    assert out.count("<math") == 2
    shown = re.sub(r"<annotation.*?</annotation>", "", out, flags=re.S)
    assert "\\(" not in shown and "\\[" not in shown


def test_a_formula_katex_cannot_render_fails_with_the_page_and_the_formula(hook):
    html = ('<span class="arithmatex">\\(\\frac{1}{2}\\)</span>'
            '<span class="arithmatex">\\(\\notacommand{x}\\)</span>'
            '<div class="arithmatex">\\[x^\\]</div>')
    with pytest.raises(PluginError) as error:
        hook.on_post_page(html, page=page("part/topic.md"), config=None)
    message = str(error.value)
    assert message.startswith("part/topic.md: KaTeX cannot render 2 formula(s)")
    assert "\n    \\notacommand{x}\n" in message and "Undefined control sequence" in message
    assert "x^" in message
    assert "frac" not in message


def test_text_that_katex_accepts_only_with_a_warning_fails_too(hook):
    # strict: "error" — a Unicode letter inside math mode is a warning in KaTeX's default mode
    with pytest.raises(PluginError, match="é"):
        hook.on_post_page('<span class="arithmatex">\\(é\\)</span>', page=page("x.md"), config=None)


NOTEBOOK = """<div class="jp-Cell jp-MarkdownCell">
<div class="jp-RenderedHTMLCommon jp-RenderedMarkdown jp-MarkdownOutput" data-mime-type="text/markdown">
<p>The loss $\\ell(y, \\hat y)$ costs $$\\sum_{i=1}^{m} x_i$$ and <code>price = $5 $6</code>.</p>
<div class="inner"><p>Nested: $a &lt; b$, and a lone $ sign.</p></div>
</div>
</div>
<div class="jp-Cell jp-CodeCell"><pre>x = "$y$"</pre>
<div class="jp-RenderedText"><pre>$z$ in an output</pre></div></div>
<p>After the cell: $w$</p>
"""


def test_notebook_math_is_rendered_in_markdown_cells_only(hook):
    out = hook.on_post_page(NOTEBOOK, page=page("part/topic-plots.ipynb"), config=None)
    assert out.count('<span class="katex">') == 3            # ell, a < b, and inside the display
    assert out.count('<span class="katex-display">') == 1
    assert '<annotation encoding="application/x-tex">a &lt; b</annotation>' in out
    assert "<code>price = $5 $6</code>" in out               # code spans are left alone
    assert "and a lone $ sign." in out                       # an unclosed $ stays text
    assert '<pre>x = "$y$"</pre>' in out and "<pre>$z$ in an output</pre>" in out
    assert "<p>After the cell: $w$</p>" in out                # outside the Markdown cell


def test_one_node_process_serves_a_build_and_ends_with_it(hook):
    hook._rendered.clear()      # formulas rendered by earlier tests would start no process
    hook.on_post_page('<span class="arithmatex">\\(x\\)</span>', page=page("a.md"), config=None)
    first = hook._renderer.process
    hook.on_post_page('<span class="arithmatex">\\(y\\)</span>', page=page("b.md"), config=None)
    assert hook._renderer.process is first
    hook.on_post_build(config=None)
    assert hook._renderer is None and first.poll() == 0
    # The next build (a rebuild under `mkdocs serve`) starts a fresh process.
    hook.on_post_page('<span class="arithmatex">\\(z\\)</span>', page=page("a.md"), config=None)
    second = hook._renderer.process
    assert second is not first
    hook.on_build_error(error=RuntimeError("a later page failed"))
    assert hook._renderer is None and second.poll() == 0


def test_a_rebuild_reuses_each_formula_until_katex_changes(hook, tmp_path, monkeypatch):
    good = '<span class="arithmatex">\\(q_{1} + r\\)</span>'
    bad = '<span class="arithmatex">\\(\\nosuchcommand\\)</span>'
    hook._rendered.clear()
    hook.on_pre_build(config=None)
    first = hook.on_post_page(good, page=page("a.md"), config=None)
    with pytest.raises(PluginError, match="Undefined control sequence") as failed:
        hook.on_post_page(bad, page=page("b.md"), config=None)
    assert hook._renderer is not None
    hook.on_post_build(config=None)
    # The next build of the same process (a save under `mkdocs serve`), KaTeX unchanged:
    # the same HTML and the same error, and no KaTeX process is started for them.
    hook.on_pre_build(config=None)
    assert hook.on_post_page(good, page=page("a.md"), config=None) == first
    with pytest.raises(PluginError) as again:
        hook.on_post_page(bad, page=page("b.md"), config=None)
    assert str(again.value) == str(failed.value)
    assert hook._renderer is None
    hook.on_post_build(config=None)
    # KaTeX changed (its package file differs): every formula is rendered again.
    changed = tmp_path / "package.json"
    changed.write_text(hook.KATEX.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    monkeypatch.setattr(hook, "KATEX", changed)
    hook.on_pre_build(config=None)
    assert hook.on_post_page(good, page=page("a.md"), config=None) == first
    assert hook._renderer is not None
    hook.on_post_build(config=None)
