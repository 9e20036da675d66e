"""MkDocs hook: execute each notebook only when something it depends on changed.

A notebook's outputs depend on the notebook itself, on every local module it imports (the
snippet files, directly or through another local module), on the pinned environment
(constraints.txt) and on the Python version. Those bytes are hashed into the notebook's key.
The executed copy is stored under `.cache/notebooks/` (ignored by git, safe to delete) with
its key, and the page is rendered from that copy; a later build whose key is unchanged
renders the stored outputs without starting a kernel. A stored copy whose key differs (an
input changed) or that cannot be read or verified (a corrupt file) is executed again: a page
never shows outputs that were not produced from its current inputs.

mkdocs-jupyter (with `execute: false`) then renders the page from the executed copy. The
page's file points at that copy from `on_files` until its HTML is made, and at its source
again before mkdocs-jupyter copies the notebook into the site for download, so readers
download the notebook as written. Rendering a notebook to HTML (nbconvert) takes most of a
build without execution, so the HTML, table of contents and title are stored too, beside the
executed copy, keyed on its bytes, the plugin's options and constraints.txt.

A clean clone has no cache and executes every notebook. A failing cell fails the build,
naming the notebook. `EXECUTE_NOTEBOOKS=false` skips execution: the pages show the
notebooks' code without outputs, and the cache is neither read nor written.

Imports are found with `ast` in every code cell and every local module reached; a module is
local when it resolves to a file under the project root (or beside the notebook, which is on
the kernel's path). A cell that is not plain Python (an IPython magic that cannot be parsed)
makes the notebook depend on every snippet file, which can only cost an execution. Imports
made by a string at run time (importlib) are not seen; no page does that.
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import json
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.toc import get_toc

log = logging.getLogger("mkdocs.hooks.notebook_cache")

#: Part of every key: bump it when the way notebooks are executed or stored changes.
FORMAT = "notebook-cache-1"
#: Where executed copies live, relative to the project root.
CACHE_DIR = Path(".cache") / "notebooks"
#: The folder of the site's code, on which a notebook with an unreadable cell depends whole.
SNIPPETS = "snippets"
#: The file that pins every package of the environment.
CONSTRAINTS = "constraints.txt"
#: Seconds one cell may run before the build fails; the slowest cell takes a few seconds.
CELL_TIMEOUT = 600
#: Notebooks executed at the same time, each in its own kernel.
PARALLEL = max(1, min(4, os.cpu_count() or 1))
#: Notebook metadata key under which an executed copy records its key and a digest.
META = "notebook_cache"
#: Terminal colour codes in a kernel's traceback, noise in a build log.
ANSI = re.compile(r"\x1b\[[0-9;]*m")

Executor = Callable[[list[tuple[Path, Path]]], dict[Path, BaseException]]


# --- dependencies ------------------------------------------------------------------------


def _cell_sources(nb: dict) -> Iterable[str]:
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            yield "".join(source) if isinstance(source, list) else source


def _python_of_cell(source: str) -> str | None:
    """The cell as Python, with line magics and shell escapes blanked; None for a cell magic."""
    if source.lstrip().startswith("%%"):
        return None
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def imported_names(tree: ast.AST, package: str = "") -> set[str]:
    """Dotted names that the module may import: `from a import b` gives a and a.b."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            if base:
                names.add(base)
            names.update(f"{base}.{a.name}".lstrip(".") for a in node.names if a.name != "*")
    return names


def module_files(name: str, roots: Iterable[Path]) -> list[tuple[Path, Path]]:
    """(root, file) of every local file that importing `name` runs: packages, then module."""
    parts = name.split(".")
    found = []
    for root in roots:
        for i in range(1, len(parts) + 1):
            folder = root.joinpath(*parts[:i])
            for candidate in (folder / "__init__.py", folder.with_suffix(".py")):
                if candidate.is_file():
                    found.append((root, candidate))
        if found:
            return found
    return found


def _package_of(root: Path, file: Path) -> str:
    """The package a local file's relative imports start from: a.b for a/b/c.py or a/b/__init__.py."""
    return ".".join(file.relative_to(root).parts[:-1])


def dependencies(notebook: Path, root: Path) -> list[Path]:
    """Every local Python file the notebook imports, directly or through another one."""
    roots = [notebook.parent, root]     # the kernel runs in the notebook's folder
    names, everything = _notebook_imports(notebook)
    todo = [hit for name in sorted(names) for hit in module_files(name, roots)]
    if everything:
        todo += [(root, p) for p in sorted((root / SNIPPETS).rglob("*.py"))]
    seen: dict[Path, None] = {}
    while todo:
        base, file = todo.pop()
        if file in seen:
            continue
        seen[file] = None
        for name in sorted(_imports_of(file, _package_of(base, file))):
            todo += module_files(name, [base])
    return sorted(seen)


_parsed_notebooks: dict[Path, tuple[bytes, frozenset[str], bool]] = {}


def _notebook_imports(notebook: Path) -> tuple[frozenset[str], bool]:
    """The names the notebook's code cells import, and whether a cell could not be read."""
    data = notebook.read_bytes()
    kept = _parsed_notebooks.get(notebook)
    if kept is not None and kept[0] == data:
        return kept[1], kept[2]
    names: set[str] = set()
    everything = False
    for source in _cell_sources(json.loads(data.decode("utf-8"))):
        code = _python_of_cell(source)
        try:
            names |= imported_names(ast.parse(code or ""))
        except SyntaxError:
            everything = True
        everything = everything or code is None
    _parsed_notebooks[notebook] = (data, frozenset(names), everything)
    return frozenset(names), everything


#: file -> (its bytes, its package, the names it imports): a rebuild under `mkdocs serve`
#: parses only the local modules that changed since the previous one.
_parsed: dict[Path, tuple[bytes, str, frozenset[str]]] = {}


def _imports_of(file: Path, package: str) -> frozenset[str]:
    """The names a local module imports; none if it cannot be parsed (executing reports it)."""
    data = file.read_bytes()
    kept = _parsed.get(file)
    if kept is not None and kept[0] == data and kept[1] == package:
        return kept[2]
    try:
        names = frozenset(imported_names(ast.parse(data, filename=str(file)), package))
    except (SyntaxError, ValueError):
        names = frozenset()
    _parsed[file] = (data, package, names)
    return names


def cache_key(notebook: Path, root: Path) -> str:
    """Hash of everything the notebook's outputs depend on."""
    h = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        h.update(f"{label}\0{len(data)}\0".encode())
        h.update(data)

    add("format", FORMAT.encode())
    add("python", sys.version.encode())
    add("notebook", notebook.read_bytes())
    constraints = root / CONSTRAINTS
    add(CONSTRAINTS, constraints.read_bytes() if constraints.is_file() else b"(none)")
    for dep in dependencies(notebook, root):
        label = dep.relative_to(root).as_posix() if dep.is_relative_to(root) else dep.as_posix()
        add(label, dep.read_bytes())
    return h.hexdigest()


# --- the store -----------------------------------------------------------------------------


def _cells_digest(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def is_valid(entry: Path, key: str) -> bool:
    """Whether entry is an executed copy made for this key, intact."""
    try:
        nb = json.loads(entry.read_text(encoding="utf-8"))
        meta = nb["metadata"][META]
        return meta["key"] == key and meta["cells"] == _cells_digest(nb["cells"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def store(entry: Path, nb: dict, key: str) -> None:
    """Write the executed notebook with its key, atomically: a reader sees all or nothing."""
    nb = dict(nb)
    nb["metadata"] = {**nb.get("metadata", {}), META: {"key": key,
                                                         "cells": _cells_digest(nb["cells"])}}
    _write_atomically(entry, nb)


def _write_atomically(entry: Path, data: dict) -> None:
    """Write data as JSON to a temporary file beside entry, then rename it over entry."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=f".{entry.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, entry)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- execution -----------------------------------------------------------------------------


def execute_with_nbclient(jobs: list[tuple[Path, Path]], keys: dict[Path, str]
                          ) -> dict[Path, BaseException]:
    """Execute each (source, entry) job in its own kernel, a few at a time; store successes."""
    import nbformat
    from nbclient import NotebookClient

    async def run_one(source: Path, entry: Path, gate: asyncio.Semaphore) -> None:
        async with gate:
            nb = nbformat.read(source, as_version=4)
            client = NotebookClient(nb, timeout=CELL_TIMEOUT, allow_errors=False,
                                    resources={"metadata": {"path": str(source.parent)}})
            start = time.perf_counter()
            await client.async_execute()
            log.info("Executed %s in %.1f s", source.name, time.perf_counter() - start)
            store(entry, nb, keys[source])

    async def run_all() -> list:
        gate = asyncio.Semaphore(PARALLEL)
        return await asyncio.gather(*(run_one(s, e, gate) for s, e in jobs),
                                    return_exceptions=True)

    results = asyncio.run(run_all())
    return {source: r for (source, _), r in zip(jobs, results, strict=True)
            if isinstance(r, BaseException)}


def ensure_executed(notebooks: dict[str, Path], root: Path, cache: Path,
                    execute: Callable[[list[tuple[Path, Path]], dict[Path, str]],
                                      dict[Path, BaseException]] = execute_with_nbclient,
                    ) -> dict[str, Path]:
    """Map each notebook (by its name in the site) to a valid executed copy in cache.

    Executes the notebooks whose copy is missing, stale or corrupt, and raises PluginError
    naming every notebook that failed.
    """
    keys = {src: cache_key(src, root) for src in notebooks.values()}
    entries = {name: cache / name for name in notebooks}
    jobs = [(src, entries[name]) for name, src in notebooks.items()
            if not is_valid(entries[name], keys[src])]
    if jobs:
        log.info("Executing %d of %d notebooks (their inputs changed or were never run)",
                 len(jobs), len(notebooks))
        failed = execute(jobs, keys)
        if failed:
            raise PluginError("notebook execution failed:\n" + "\n".join(
                f"{src.relative_to(root) if src.is_relative_to(root) else src}: "
                f"{ANSI.sub('', str(err))}"
                for src, err in failed.items()))
        for src, entry in jobs:
            if not is_valid(entry, keys[src]):
                raise PluginError(f"{src}: its executed copy {entry} was not stored")
    return entries


# --- rendered HTML ---------------------------------------------------------------------------


def _toc_tokens(items) -> list[dict]:
    return [{"level": a.level, "id": a.id, "name": a.title, "children": _toc_tokens(a.children)}
            for a in items]


def html_key(executed: Path, options: str, root: Path) -> str:
    h = hashlib.sha256()
    constraints = root / CONSTRAINTS
    for part in (FORMAT.encode(), options.encode(), executed.read_bytes(),
                 constraints.read_bytes() if constraints.is_file() else b"(none)"):
        h.update(f"{len(part)}\0".encode())
        h.update(part)
    return h.hexdigest()


def load_html(entry: Path, key: str) -> dict | None:
    """The stored rendering for this key, or None if missing, stale or corrupt."""
    try:
        data = json.loads(entry.read_text(encoding="utf-8"))
        body = {k: data[k] for k in ("content", "toc", "title")}
        if data["key"] == key and data["digest"] == _cells_digest(body):
            return body
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def store_html(entry: Path, key: str, body: dict) -> None:
    _write_atomically(entry, {**body, "key": key, "digest": _cells_digest(body)})


def _cached_render(page, render, entry: Path, key: str):
    """page.render, reusing the stored HTML of the same executed notebook."""

    def cached(config, files):
        hit = load_html(entry, key)
        if hit is not None:
            page.content, page.toc = hit["content"], get_toc(hit["toc"])
            if hit["title"] is not None:
                page.title = hit["title"]
            return
        before = page.title
        render(config, files)
        store_html(entry, key, {"content": page.content, "toc": _toc_tokens(page.toc),
                                "title": page.title if page.title != before else None})

    return cached


# --- MkDocs events -------------------------------------------------------------------------

_sources: dict[str, str] = {}


def _enabled() -> bool:
    return os.environ.get("EXECUTE_NOTEBOOKS", "true").strip().lower() not in (
        "false", "0", "no", "off")


def on_files(files, config):
    _sources.clear()
    if not _enabled():
        return files
    root = Path(config.config_file_path).resolve().parent
    pages = {f.src_uri: f for f in files
             if f.src_uri.endswith(".ipynb") and f.abs_src_path is not None}
    executed = ensure_executed({uri: Path(f.abs_src_path) for uri, f in pages.items()},
                               root, root / CACHE_DIR)
    for uri, f in pages.items():
        _sources[uri] = f.abs_src_path
        f.abs_src_path = str(executed[uri])
    return files


def on_pre_page(page, config, files):
    """Runs after mkdocs-jupyter's: wrap the render it installed with the stored HTML."""
    uri = page.file.src_uri
    if uri in _sources:
        executed = Path(page.file.abs_src_path)
        root = Path(config.config_file_path).resolve().parent
        plugin = config.plugins.get("mkdocs-jupyter")
        options = repr(sorted(dict(plugin.config).items())) if plugin is not None else ""
        entry = executed.with_name(executed.name + ".html.json")
        page.render = _cached_render(page, page.render, entry,
                                     html_key(executed, options, root))
    return page


def on_page_content(html: str, page, config, files) -> str:
    source = _sources.get(page.file.src_uri)
    if source is not None:
        page.file.abs_src_path = source     # downloads get the notebook as written
    return html
