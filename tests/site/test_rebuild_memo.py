"""Rebuilds under `mkdocs serve` reuse work (hooks/rebuild_memo.py) and are still exact.

A small project is built twice in one process, as `mkdocs serve` does on a save, with one
kind of edit in between. The second build must reuse what the edit did not touch, and its
output must be byte for byte the output of a build that reuses nothing.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from mkdocs.commands.build import build
from mkdocs.config import load_config
from mkdocs.exceptions import Abort

from pages import ROOT

pytestmark = pytest.mark.site

CONFIG = """\
site_name: Memo
site_url: http://127.0.0.1:8000/
theme:
  name: material
  font: false
plugins:
  - search
hooks:
  - rebuild_memo.py
nav:
  - Home: index.md
  - Alpha: a.md
  - Beta: b.md
  - c.md
markdown_extensions:
  - toc:
      permalink: true
  - pymdownx.highlight
  - pymdownx.superfences
  - pymdownx.snippets:
      base_path: [snippets]
      check_paths: true
"""

PAGES = {
    # No heading: the search index names its first section after the page's nav title.
    "docs/index.md": "Start with [alpha](a.md).\n",
    "docs/a.md": ("# Alpha\n\nSome prose about alpha.\n\n## Code\n\n"
                  "```python\n--8<-- \"demo.py\"\n```\n"),
    "docs/b.md": "# Beta\n\nSee [the section of c](c.md#a-section).\n",
    "docs/c.md": "# Gamma\n\n## A section\n\nText of c.\n",
    "snippets/demo.py": "def f(x):\n    return 2 * x\n",
}


class Project:
    def __init__(self, root: Path):
        self.root = root
        shutil.copy(ROOT / "hooks" / "rebuild_memo.py", root / "rebuild_memo.py")
        self.write("mkdocs.yml", CONFIG)
        for rel, text in PAGES.items():
            self.write(rel, text)

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def edit(self, rel: str, old: str, new: str) -> None:
        text = (self.root / rel).read_text(encoding="utf-8")
        assert old in text
        self.write(rel, text.replace(old, new))

    def build(self, site: str, *, fresh: bool = False, new_process: bool = False,
              strict: bool = False) -> dict:
        """One build into root/site; returns the hook's counts. fresh: forget the memo and the
        stored search entries first. new_process: forget only what a new process forgets."""
        config = load_config(config_file=str(self.root / "mkdocs.yml"),
                             site_dir=str(self.root / site), strict=strict)
        memo = config["hooks"]["rebuild_memo.py"]
        if fresh or new_process:
            memo._RENDERED.clear()
            memo._SEARCHED.clear()
        if fresh:
            shutil.rmtree(self.root / ".cache" / "search", ignore_errors=True)
        build(config)
        return dict(memo.stats)

    def site(self, name: str) -> dict[str, bytes]:
        folder = self.root / name
        return {p.relative_to(folder).as_posix(): p.read_bytes()
                for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Project:
    monkeypatch.chdir(tmp_path)           # pymdownx.snippets reads base_path from here
    return Project(tmp_path)


def test_an_unchanged_rebuild_reuses_every_page_and_writes_the_same_site(project):
    first = project.build("first")
    assert first["render_done"] == 4 and first["render_reused"] == 0
    again = project.build("again")
    assert again == {"render_reused": 4, "render_done": 0, "search_reused": 4, "search_stored": 0,
                     "search_done": 0}
    assert project.site("again") == project.site("first")


def test_a_new_process_reads_the_search_entries_kept_on_disk_unless_their_page_changed(project):
    first = project.build("first")
    assert first["search_done"] == 4 and first["search_stored"] == 0
    stored = sorted((project.root / ".cache" / "search").glob("*.json"))
    assert len(stored) == 4
    # A new `mkdocs build`: nothing in memory, every page's entries read from disk.
    again = project.build("again", new_process=True)
    assert (again["search_stored"], again["search_done"], again["render_done"]) == (4, 0, 4)
    assert project.site("again") == project.site("first")
    # An edited page is parsed again; a stored file that cannot be read, or that is not
    # what was stored, is parsed again too.
    project.edit("docs/a.md", "Some prose", "Other prose")
    stored[0].write_text("{not json", encoding="utf-8")
    other = stored[1].read_text(encoding="utf-8").replace('"entries": [', '"entries": [{"x": 1}, ', 1)
    stored[1].write_text(other, encoding="utf-8")
    counts = project.build("edited", new_process=True)
    assert counts["search_done"] >= 2 and counts["search_stored"] <= 2
    assert counts["search_done"] + counts["search_stored"] == 4
    project.build("fresh", fresh=True)
    assert project.site("edited") == project.site("fresh")
    assert "Other prose" in project.site("edited")["search/search_index.json"].decode()


EDITS = {
    # what is edited: (file, old, new, pages rendered again, text the new site must show)
    "prose of one page": ("docs/a.md", "Some prose", "Other prose", 1, "Other prose"),
    "an included snippet": ("snippets/demo.py", "2 * x", "3 * x", 4, "3"),
    "a heading that gives a nav title": ("docs/c.md", "# Gamma", "# Gamma renamed", 1,
                                         "Gamma renamed"),
    "a title given in the nav": ("mkdocs.yml", "- Home: index.md", "- Welcome: index.md", 0,
                                 "Welcome"),
    "the Markdown options": ("mkdocs.yml", "permalink: true", "permalink: \"#\"", 4, "#"),
}


@pytest.mark.parametrize("edit", EDITS, ids=list(EDITS))
def test_a_rebuild_after_an_edit_equals_a_build_that_reuses_nothing(project, edit):
    rel, old, new, rendered, shown = EDITS[edit]
    project.build("before")
    project.edit(rel, old, new)
    counts = project.build("after")
    assert counts["render_done"] == rendered
    assert counts["render_reused"] == 4 - rendered
    fresh = project.build("fresh", fresh=True)
    assert fresh["render_reused"] == 0
    after, before = project.site("after"), project.site("before")
    assert after == project.site("fresh")
    assert after != before
    pages = [html.decode() for name, html in after.items() if name.endswith("index.html")]
    if "title" in edit:
        # At most one page is rendered again, yet every page's navigation shows the title.
        assert all(shown in html for html in pages)
    assert any(shown in html for html in pages)


def test_a_new_page_renders_every_page_again_and_links_to_it_resolve(project):
    # a.md links to d.md before it exists; a.md is unchanged when d.md is added, but its
    # link must now point at the new page.
    project.edit("docs/a.md", "Some prose", "Some prose, then [delta](d.md)")
    project.build("before")
    assert 'href="d.md"' in project.site("before")["a/index.html"].decode()
    project.write("docs/d.md", "# Delta\n")
    project.edit("mkdocs.yml", "  - c.md\n", "  - c.md\n  - Delta: d.md\n")
    assert project.build("after")["render_done"] == 5
    assert 'href="../d/"' in project.site("after")["a/index.html"].decode()
    project.build("fresh", fresh=True)
    assert project.site("after") == project.site("fresh")


def test_a_warning_from_a_reused_page_still_fails_a_strict_build(project, caplog):
    project.edit("docs/b.md", "(c.md#a-section)", "(missing.md)")
    with caplog.at_level(logging.WARNING), pytest.raises(Abort):
        project.build("first", strict=True)
    first = [r.getMessage() for r in caplog.records if "missing.md" in r.getMessage()]
    assert first
    caplog.clear()
    with caplog.at_level(logging.WARNING), pytest.raises(Abort):
        project.build("again", strict=True)
    again = [r.getMessage() for r in caplog.records if "missing.md" in r.getMessage()]
    assert again == first
    project.edit("docs/b.md", "(missing.md)", "(c.md#a-section)")
    counts = project.build("fixed", strict=True)
    assert counts["render_done"] == 1


def test_an_anchor_removed_from_a_reused_page_is_still_reported(project, caplog):
    # b.md links to c.md#a-section; b.md is reused, c.md loses the section. The links of a
    # reused page are checked against the new anchors at every build.
    project.build("before")
    project.edit("docs/c.md", "## A section", "## Another section")
    with caplog.at_level(logging.INFO):
        counts = project.build("after")
    assert counts["render_reused"] == 3
    assert any("a-section" in r.getMessage() and "b.md" in r.getMessage()
               for r in caplog.records), [r.getMessage() for r in caplog.records]
