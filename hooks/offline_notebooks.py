"""MkDocs hook: keep notebook pages free of third-party script hosts.

mkdocs-jupyter renders each notebook with nbconvert's template, which loads MathJax and
Mermaid from a CDN. The site renders all math, notebooks included, with its own copy of
KaTeX at build time (hooks/katex_math.py), so those two loaders are removed here. If a new
version of the template changes the markers, the build fails instead of shipping a CDN link.
"""

from __future__ import annotations

import re

from mkdocs.exceptions import PluginError

_MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)
_MERMAID = re.compile(
    r"<script type=\"module\">(?:(?!</script>).)*?mermaid(?:(?!</script>).)*</script>", re.S
)


def on_page_content(html: str, page, config, files) -> str:
    if not page.file.src_uri.endswith(".ipynb"):
        return html
    html, n_mathjax = _MATHJAX.subn("", html)
    html, _ = _MERMAID.subn("", html)
    if n_mathjax != 1:
        raise PluginError(
            f"{page.file.src_uri}: expected one MathJax loader block from mkdocs-jupyter, "
            f"found {n_mathjax}; update hooks/offline_notebooks.py for the new template"
        )
    if "cdnjs" in html or "mathjax" in html.lower():
        raise PluginError(f"{page.file.src_uri}: a CDN or MathJax reference is left in the page")
    return html
