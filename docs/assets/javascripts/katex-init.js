// Render every formula with the site's own copy of KaTeX.
// Material's document$ observable fires on the first load and after each instant navigation.
(function () {
  "use strict";

  // Markdown pages: pymdownx.arithmatex (generic mode) wraps each formula in an element of
  // class "arithmatex", keeping the TeX delimiters \( \) (inline) or \[ \] (display).
  function renderArithmatex(root) {
    root.querySelectorAll(".arithmatex").forEach(function (el) {
      if (el.dataset.rendered === "katex") {
        return;
      }
      var tex = el.textContent.trim();
      var display = tex.startsWith("\\[");
      if (display || tex.startsWith("\\(")) {
        tex = tex.slice(2, -2);
      }
      try {
        katex.render(tex, el, {
          displayMode: display,
          throwOnError: true,
          strict: "error",
          trust: false,
        });
        el.dataset.rendered = "katex";
      } catch (err) {
        // Leave the TeX readable, mark the element, and report: the browser test fails on both.
        el.classList.add("katex-error");
        el.title = String(err);
        console.error("KaTeX could not render a formula:", String(err));
      }
    });
  }

  // Notebook pages: Markdown cells keep their $...$ and $$...$$ as text.
  function renderNotebookCells(root) {
    root.querySelectorAll(".jp-RenderedMarkdown, .jp-MarkdownOutput").forEach(function (el) {
      renderMathInElement(el, {
        delimiters: [
          { left: "$$", right: "$$", display: true },
          { left: "$", right: "$", display: false },
          { left: "\\(", right: "\\)", display: false },
          { left: "\\[", right: "\\]", display: true },
        ],
        throwOnError: true,
        strict: "error",
        errorCallback: function (message, err) {
          console.error("KaTeX could not render a formula:", message, String(err));
        },
      });
    });
  }

  function renderAll() {
    renderArithmatex(document);
    renderNotebookCells(document);
  }

  if (typeof document$ !== "undefined") {
    document$.subscribe(renderAll);
  } else {
    document.addEventListener("DOMContentLoaded", renderAll);
  }
})();
