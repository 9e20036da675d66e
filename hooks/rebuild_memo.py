"""MkDocs hook: under `mkdocs serve`, a rebuild redoes only the work whose inputs changed.

`mkdocs serve` rebuilds the whole site on every save. Every rebuild is still a full build
here (no `--dirty`): every page is read, rendered into its template with the current
navigation, its links and anchors checked, and the search index written whole. What is
kept from the previous build of the same process is the result of the two costliest pure
steps, each reused only when every input it reads is unchanged:

- **Markdown to HTML** of one page (`Page.render`: Python-Markdown, Pygments, the included
  snippet files). Its inputs are the page's Markdown after the `on_page_markdown` events, its
  path and URL, the Markdown extensions and their options, the list of the site's files (a
  link's target and its URL) and the bytes of every file under the snippets' base paths (an
  included snippet). Kept: the HTML, the table of contents, the title found in it, the
  anchors it holds, the links to anchors of other pages (checked again at every build) and
  the warnings logged while rendering (logged again, so that strict mode still fails).
- **The search index entries** of one page (Material's search plugin parses the page's HTML).
  Their inputs are the page's HTML, URL, title, metadata and table of contents.

One entry is kept per page, the latest, so the memory used does not grow with the number of
saves. Notebook pages are not memoised here: hooks/notebook_cache.py keeps their executed
copies and HTML.

The search entries are also kept on disk, in `.cache/search/` beside mkdocs.yml (ignored by
git, safe to delete): one file per page, holding the key above extended by Material's
version and this file's bytes, the entries and a digest of them. So a new `mkdocs build` parses again only
the pages whose HTML or other inputs changed; parsing every page took a third of a build
with nothing else to do. A file whose key differs, or that cannot be read, is computed
again and rewritten. The Markdown renderings are kept in memory only, for a serve session.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import types
from pathlib import Path

#: page src_uri -> (key, result) of its latest Markdown rendering and search entries.
_RENDERED: dict[str, tuple[str, dict]] = {}
_SEARCHED: dict[str, tuple[str, list]] = {}
#: Counts of reuses and fresh computations in the current build (read by the tests).
stats = {"render_reused": 0, "render_done": 0, "search_reused": 0, "search_stored": 0,
         "search_done": 0}
#: Where the search entries are kept between processes (set in on_config), and the part of
#: their key that is the same for every page.
_search_folder: Path | None = None
_search_stored_key = ""
#: Digest of the inputs shared by every page's rendering in the current build.
_shared_key = ""


def _digest(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else str(part).encode("utf-8", "surrogatepass")
        h.update(f"{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def _snippet_roots(config) -> list[Path]:
    options = (config["mdx_configs"] or {}).get("pymdownx.snippets", {})
    base = options.get("base_path", ["."])
    bases = [base] if isinstance(base, str) else list(base)
    return [Path(b) for b in bases]


def _tree_digest(roots: list[Path]) -> str:
    """Every file under the roots, by path and bytes."""
    parts: list[object] = []
    for root in roots:
        if root.is_file():
            parts += [root.as_posix(), root.read_bytes()]
        elif root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.is_file()
                               and "__pycache__" not in p.parts):
                parts += [path.as_posix(), path.read_bytes()]
    return _digest(*parts)


def _toc_key(toc) -> str:
    def item(i):
        return [i.id, i.url, i.title, i.level, [item(c) for c in i.children]]
    return json.dumps([item(i) for i in toc])


# --- MkDocs events ---------------------------------------------------------------------------


def on_config(config):
    global _search_folder, _search_stored_key
    from importlib.metadata import version

    _search_folder = Path(config.config_file_path).resolve().parent / ".cache" / "search"
    _search_stored_key = _digest(version("mkdocs-material"), Path(__file__).read_bytes())
    for name in ("material/search", "search"):
        plugin = config.plugins.get(name)
        index = getattr(plugin, "search_index", None)
        if index is not None:
            index.add_entry_from_context = types.MethodType(_memo_search(type(index)), index)
            break
    return config


def on_nav(nav, config, files):
    """After every `on_files` event: the files are final, and so is where each link goes."""
    global _shared_key
    for key in stats:
        stats[key] = 0
    listing = sorted((f.src_uri, f.dest_uri, f.url, str(f.inclusion)) for f in files)
    _shared_key = _digest(
        json.dumps(config["markdown_extensions"], default=repr),
        json.dumps(config["mdx_configs"], sort_keys=True, default=repr),
        json.dumps(listing),
        _tree_digest(_snippet_roots(config)),
    )
    return nav


def on_pre_page(page, config, files):
    if page.file.src_uri.endswith(".md"):
        page.render = types.MethodType(_memo_render(type(page).render), page)
    return page


# --- the two memoised steps ------------------------------------------------------------------


def _memo_render(render):
    def memo_render(page, config, files) -> None:
        src = page.file.src_uri
        key = _digest(_shared_key, src, page.file.url, page.markdown)
        kept = _RENDERED.get(src)
        if kept is not None and kept[0] == key:
            stats["render_reused"] += 1
            result = kept[1]
            page.content = result["content"]
            page.toc = copy.deepcopy(result["toc"])
            page._title_from_render = result["title"]
            page.present_anchor_ids = set(result["anchors"])
            for record in result["log"]:      # a warning counts again in strict mode
                logging.getLogger(record.name).handle(record)
            links = result["links"]
            if links is not None:
                page.links_to_anchors = {files.get_file_from_path(target): dict(found)
                                         for target, found in links.items()}
            return
        with _Recorder() as recorder:
            render(page, config, files)
        stats["render_done"] += 1
        links = page.links_to_anchors
        _RENDERED[src] = (key, {
            "content": page.content,
            "toc": copy.deepcopy(page.toc),
            "title": page._title_from_render,
            "anchors": set(page.present_anchor_ids or ()),
            "log": recorder.records,
            "links": None if links is None else {target.src_uri: dict(found)
                                                 for target, found in links.items()},
        })
    return memo_render


class _Recorder(logging.Handler):
    """The log records emitted while a page is rendered (a broken link's warning, say)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.loggers = [logging.getLogger("mkdocs"), logging.getLogger()]

    def emit(self, record: logging.LogRecord) -> None:
        if record not in self.records:      # seen by both loggers when "mkdocs" propagates
            self.records.append(record)

    def __enter__(self) -> _Recorder:
        for logger in self.loggers:
            logger.addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        for logger in self.loggers:
            logger.removeHandler(self)


def _memo_search(index_class):
    add = index_class.add_entry_from_context

    def memo_add(index, page) -> None:
        src = page.file.src_uri
        key = _digest(page.url, page.title, page.content, _toc_key(page.toc),
                      json.dumps(page.meta, sort_keys=True, default=repr))
        kept = _SEARCHED.get(src)
        if kept is not None and kept[0] == key:
            stats["search_reused"] += 1
            index.entries.extend(copy.deepcopy(kept[1]))
            return
        stored = _read_stored(src, key)
        if stored is not None:
            stats["search_stored"] += 1
            index.entries.extend(copy.deepcopy(stored))
            _SEARCHED[src] = (key, stored)
            return
        before = len(index.entries)
        add(index, page)
        stats["search_done"] += 1
        _SEARCHED[src] = (key, copy.deepcopy(index.entries[before:]))
        _store(src, key, index.entries[before:])
    return memo_add


def _stored_file(src: str) -> Path | None:
    return None if _search_folder is None else _search_folder / f"{_digest(src)[:32]}.json"


def _read_stored(src: str, key: str) -> list | None:
    """The entries kept on disk for this page under this key, or None."""
    path = _stored_file(src)
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None                     # none kept yet, or unreadable: parse the page
    if (not isinstance(data, dict) or data.get("key") != _digest(_search_stored_key, key)
            or not isinstance(data.get("entries"), list)
            or data.get("digest") != _digest(json.dumps(data["entries"], sort_keys=True))):
        return None                     # stored for other inputs, or not as it was stored
    return data["entries"]


def _store(src: str, key: str, entries: list) -> None:
    path = _stored_file(src)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"key": _digest(_search_stored_key, key), "entries": entries,
                               "digest": _digest(json.dumps(entries, sort_keys=True))}),
                   encoding="utf-8")
    os.replace(tmp, path)
