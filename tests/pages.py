"""Read the site's sources: pages, their display formulas, and the snippet sections they include.

Used by the pairing test and the built-site test. The rules it knows (see docs/notation.md,
"Equations, code and tests"): a display formula is a `$$ ... $$` block; the code of a page
lives in snippet files and reaches the page only through `--8<-- "file.py:section"` lines
inside fenced code blocks.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SNIPPETS = ROOT / "snippets"
TESTS = ROOT / "tests"

FENCE = re.compile(r"^(?P<indent>\s*)(?P<mark>`{3,}|~{3,})(?P<info>.*)$")
INCLUDE = re.compile(r'^\s*-{1,}8<-{1,}\s+"(?P<target>[^"]+)"\s*$')
TAG = re.compile(r"\\tag\{([^}]*)\}")
SECTION = re.compile(r"^\s*#\s*--8<--\s*\[(?P<kind>start|end):(?P<name>[\w-]+)\]\s*$")
TITLE = re.compile(r'title="(?P<title>[^"]*)"')


@dataclass
class Include:
    page: Path
    line: int
    file: str                 # relative to snippets/
    section: str | None       # None: the whole file
    title: str | None


@dataclass
class Formula:
    page: Path
    line: int
    tex: str
    tags: list[str]
    include: Include | None   # the include right after it, if any


@dataclass
class Page:
    path: Path
    formulas: list[Formula] = field(default_factory=list)
    includes: list[Include] = field(default_factory=list)
    bare_code: list[int] = field(default_factory=list)   # lines of code blocks with no include

    @property
    def rel(self) -> str:
        return self.path.relative_to(DOCS).as_posix()


def markdown_pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "vendor" not in p.parts)


def notebooks() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def snippet_files() -> list[Path]:
    return sorted(p for p in SNIPPETS.rglob("*.py") if "__pycache__" not in p.parts)


def _read_fence(lines: list[str], start: int) -> tuple[int, str, list[str]]:
    """Return (index after the closing fence, info string, body lines) of the fence at start."""
    m = FENCE.match(lines[start])
    assert m is not None
    mark = m["mark"]
    end = start + 1
    while end < len(lines):
        close = FENCE.match(lines[end])
        if close and close["mark"][0] == mark[0] and len(close["mark"]) >= len(mark) \
                and not close["info"].strip():
            break
        end += 1
    return end + 1, m["info"], lines[start + 1:end]


def _parse_includes(page: Path, line: int, info: str, body: list[str]) -> tuple[list[Include], bool]:
    includes, other = [], False
    title = TITLE.search(info)
    for offset, text in enumerate(body):
        inc = INCLUDE.match(text)
        if inc:
            target = inc["target"]
            file, _, section = target.partition(":")
            includes.append(Include(page, line + offset + 1, file, section or None,
                                    title["title"] if title else None))
        elif text.strip():
            other = True
    return includes, other


def parse_page(path: Path) -> Page:
    page = Page(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if FENCE.match(lines[i]):
            end, info, body = _read_fence(lines, i)
            incs, other = _parse_includes(path, i + 1, info, body)
            page.includes.extend(incs)
            if other or not incs:
                page.bare_code.append(i + 1)
            i = end
            continue
        if stripped.startswith("$$"):
            start = i
            if stripped == "$$" or not stripped[2:].rstrip().endswith("$$"):
                i += 1
                while i < len(lines) and not lines[i].strip().endswith("$$"):
                    i += 1
            tex = "\n".join(lines[start:i + 1]).strip().strip("$").strip()
            i += 1
            while i < len(lines) and not lines[i].strip():
                i += 1
            include = None
            if i < len(lines) and FENCE.match(lines[i]):
                _, info, body = _read_fence(lines, i)
                incs, other = _parse_includes(path, i + 1, info, body)
                if len(incs) == 1 and incs[0].section and not other:
                    include = incs[0]
            page.formulas.append(Formula(path, start + 1, tex, TAG.findall(tex), include))
            continue
        i += 1
    return page


def notebook_markdown(path: Path) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]


@dataclass
class Section:
    file: Path
    name: str
    start: int   # line of the start marker (1-based)
    end: int     # line of the end marker
    text: str
    functions: list[str]


def snippet_sections(path: Path) -> dict[str, Section]:
    """The named sections of a snippet file, with the functions defined inside each."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    opened: dict[str, int] = {}
    spans: dict[str, tuple[int, int]] = {}
    for no, text in enumerate(lines, start=1):
        m = SECTION.match(text)
        if not m:
            continue
        if m["kind"] == "start":
            if m["name"] in opened or m["name"] in spans:
                raise ValueError(f"{path}:{no}: section {m['name']!r} opened twice")
            opened[m["name"]] = no
        else:
            if m["name"] not in opened:
                raise ValueError(f"{path}:{no}: section {m['name']!r} closed but never opened")
            spans[m["name"]] = (opened.pop(m["name"]), no)
    if opened:
        raise ValueError(f"{path}: sections never closed: {sorted(opened)}")
    tree = ast.parse(source)
    defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    sections = {}
    for name, (start, end) in spans.items():
        inside = [d.name for d in defs if start < d.lineno < end]
        sections[name] = Section(path, name, start, end, "\n".join(lines[start:end - 1]), inside)
    return sections


def names_used(path: Path) -> set[str]:
    """Every name and attribute a Python file refers to (imports included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, ast.Attribute):
            used.add(node.attr)
        elif isinstance(node, ast.alias):
            used.add(node.asname or node.name)
    return used


def matching_test_file(snippet: Path) -> Path:
    """snippets/<part>/<topic>.py -> tests/<part>/test_<topic>.py"""
    rel = snippet.relative_to(SNIPPETS)
    return TESTS / rel.parent / f"test_{rel.name}"


def page_for(snippet: Path) -> Path:
    """snippets/<part>/<topic>.py -> docs/<part>/<topic with hyphens>.md"""
    rel = snippet.relative_to(SNIPPETS)
    return DOCS / rel.parent / (rel.stem.replace("_", "-") + ".md")


def _nav() -> list:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!ENV", lambda loader, node: None)
    Loader.add_multi_constructor("tag:yaml.org,2002:python/name:", lambda loader, suffix, node: None)
    return yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=Loader)["nav"]


def nav_parts() -> dict[str, str | None]:
    """Every file named in the nav, relative to docs/, with the top-level section (part) it
    is in, or None for a page at the top level."""
    parts: dict[str, str | None] = {}
    for entry in _nav():
        for title, value in (entry.items() if isinstance(entry, dict) else [(None, entry)]):
            if isinstance(value, list):
                parts.update((src, title) for src in nav_files(value))
            else:
                parts[value] = None
    return parts


def nav_files(nav: list | None = None) -> list[str]:
    """Every file named in the nav of mkdocs.yml (or in `nav`, a part of it), relative to docs/."""
    found: list[str] = []

    def walk(item):
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, list):
            for x in item:
                walk(x)
        elif isinstance(item, dict):
            for x in item.values():
                walk(x)

    walk(_nav() if nav is None else nav)
    return found
