// Render TeX with the project's pinned KaTeX, for hooks/katex_math.py.
//
// One process serves a whole site build. It reads one JSON request per line on stdin,
//   {"tex": "\\frac{1}{m}", "display": true}
// and writes one JSON reply per line on stdout, in the same order:
//   {"html": "<span class=\"katex-display\">...</span>"}   or   {"error": "KaTeX parse error: ..."}
// It exits when stdin closes, so it cannot outlive the build that started it.
import { createInterface } from "node:readline";
import katex from "katex";

const options = {
  output: "htmlAndMathml", // HTML for the eye, MathML for screen readers
  throwOnError: true,      // a formula KaTeX cannot parse is an error, not red text
  strict: "error",         // so is TeX that KaTeX only accepts with a warning
  trust: false,            // no \href, \includegraphics or raw HTML from a formula
};

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (line.trim() === "") continue;
  let reply;
  try {
    const { tex, display } = JSON.parse(line);
    reply = { html: katex.renderToString(tex, { ...options, displayMode: Boolean(display) }) };
  } catch (err) {
    reply = { error: String(err && err.message ? err.message : err) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
}
