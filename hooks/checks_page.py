"""MkDocs hook: fill the page "How this site is checked" from the tests' own record.

tests/formula_summary.json records, for every display formula, whether the tests read and
check it and how many of its steps sympy proves; the formula tests fail when it is out of
date. This hook turns it into the per-chapter table of docs/checks.md, so the page always
shows what the tests check.
"""

from __future__ import annotations

import json
from pathlib import Path

from mkdocs.exceptions import PluginError

SUMMARY = Path(__file__).resolve().parents[1] / "tests" / "formula_summary.json"
TABLE = "<!-- formula-checks:table -->"
LISTED = "<!-- formula-checks:listed -->"


def _nav_files(item) -> list[str]:
    """Every file of the nav, in the reader's order."""
    if isinstance(item, str):
        return [item]
    if isinstance(item, dict):
        return [f for value in item.values() for f in _nav_files(value)]
    if isinstance(item, list):
        return [f for value in item for f in _nav_files(value)]
    return []


def _title(page: str, files) -> str:
    for f in files.documentation_pages():
        if f.src_uri == page and f.page is not None and f.page.title:
            return f.page.title
    return page


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri != "checks.md":
        return markdown
    if TABLE not in markdown or LISTED not in markdown:
        raise PluginError("docs/checks.md lost a formula-checks marker")
    try:
        summary = json.loads(SUMMARY.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise PluginError(f"cannot read {SUMMARY}: {err}") from err
    nav_order = _nav_files(config["nav"])
    rows = ["| Chapter | Display formulas | Checked as displayed | Proved steps | "
            "With a proved step | Listed |", "|---|---:|---:|---:|---:|---:|"]
    totals = [0, 0, 0, 0, 0]
    listed_rows = []
    for src in sorted(summary, key=lambda p: nav_order.index(p) if p in nav_order else 1e9):
        entries = summary[src].values()
        found = len(entries)
        checked = sum(e["status"] == "checked" for e in entries)
        proved = sum(e.get("proved", 0) for e in entries)
        with_proof = sum(e.get("proved", 0) > 0 for e in entries)
        listed = sum(e["status"] == "listed" for e in entries)
        link = f"[{_title(src, files)}]({src})"
        rows.append(f"| {link} | {found} | {checked} | {proved} | {with_proof} | {listed} |")
        for k, v in enumerate((found, checked, proved, with_proof, listed)):
            totals[k] += v
        for e in sorted(summary[src].values(), key=lambda e: e["eq"]):
            if e["status"] == "listed":
                listed_rows.append(f"| {link}, eq. ({e['eq']}) | {e['reason']} |")
    rows.append("| **All chapters** | **{}** | **{}** | **{}** | **{}** | **{}** |".format(*totals))
    listed_md = ("| Formula | Why it is not evaluated |\n|---|---|\n" + "\n".join(listed_rows)
                 if listed_rows else "None: every display formula is evaluated.")
    return markdown.replace(TABLE, "\n".join(rows)).replace(LISTED, listed_md)
