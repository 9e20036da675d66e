"""The notebook cache of hooks/notebook_cache.py executes exactly the notebooks that changed.

A small project is laid out in a temporary folder: two notebooks, each importing a different
module of a `snippets` package. A counting executor stands in for the kernel, so each test
can assert which notebooks ran; one test executes real notebooks with nbclient.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from mkdocs.exceptions import PluginError

from pages import DOCS, ROOT, notebooks

spec = importlib.util.spec_from_file_location("notebook_cache", ROOT / "hooks" / "notebook_cache.py")
hook = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hook)


def notebook(*cells: str) -> str:
    return json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
                   "outputs": [], "source": src} for i, src in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    })


class Project:
    """Two notebooks, a.ipynb importing snippets.demo.alpha and b.ipynb importing beta."""

    def __init__(self, root: Path):
        self.root = root
        self.cache = root / ".cache" / "notebooks"
        self.pkg = root / "snippets" / "demo"
        self.pkg.mkdir(parents=True)
        (root / "docs").mkdir()
        self.write("constraints.txt", "numpy==2.4.6\n")
        self.write("snippets/demo/alpha.py", "def f():\n    return 1\n")
        self.write("snippets/demo/beta.py", "def g():\n    return 2\n")
        self.write("docs/a.ipynb", notebook("from snippets.demo.alpha import f", "f()"))
        self.write("docs/b.ipynb", notebook("from snippets.demo import beta", "beta.g()"))
        self.runs: list[str] = []

    def write(self, rel: str, text: str) -> None:
        (self.root / rel).write_text(text, encoding="utf-8")

    def execute(self, jobs, keys):
        """Stand-in for the kernel: record the run, store the notebook with one output."""
        for source, entry in jobs:
            self.runs.append(source.name)
            nb = json.loads(source.read_text(encoding="utf-8"))
            nb["cells"][-1]["outputs"] = [{"output_type": "stream", "name": "stdout",
                                           "text": f"run {len(self.runs)}\n"}]
            hook.store(entry, nb, keys[source])
        return {}

    def build(self) -> list[str]:
        """One build: returns the notebooks it executed."""
        self.runs = []
        sources = {name: self.root / "docs" / name for name in ("a.ipynb", "b.ipynb")}
        entries = hook.ensure_executed(sources, self.root, self.cache, self.execute)
        for name, entry in entries.items():
            assert hook.is_valid(entry, hook.cache_key(sources[name], self.root))
        return sorted(self.runs)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def test_a_clean_cache_executes_every_notebook_and_a_second_build_none(project):
    assert project.build() == ["a.ipynb", "b.ipynb"]
    assert project.build() == []


@pytest.mark.parametrize(("edit", "expected"), [
    ("snippets/demo/alpha.py", ["a.ipynb"]),
    ("snippets/demo/beta.py", ["b.ipynb"]),
    ("docs/a.ipynb", ["a.ipynb"]),
    ("constraints.txt", ["a.ipynb", "b.ipynb"]),
])
def test_an_edit_executes_exactly_the_notebooks_that_depend_on_it(project, edit, expected):
    project.build()
    path = project.root / edit
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        nb["cells"][-1]["source"] += " + 1"
        project.write(edit, json.dumps(nb))
    else:
        project.write(edit, path.read_text(encoding="utf-8") + "# edited\n")
    assert project.build() == expected
    assert project.build() == []


def test_an_unrelated_edit_executes_nothing(project):
    project.build()
    project.write("snippets/demo/unused.py", "X = 1\n")
    project.write("docs/page.md", "# A page\n")
    assert project.build() == []


@pytest.mark.parametrize("how", ["absolute", "relative", "relative-from"])
def test_a_module_imported_through_another_is_a_dependency(project, how):
    line = {"absolute": "import snippets.demo.gamma\n",
            "relative": "from . import gamma\n",
            "relative-from": "from .gamma import h\n"}[how]
    project.write("snippets/demo/gamma.py", "def h():\n    return 3\n")
    project.write("snippets/demo/alpha.py", line + "def f():\n    return 1\n")
    project.build()
    project.write("snippets/demo/gamma.py", "def h():\n    return 4\n")
    assert project.build() == ["a.ipynb"]


def test_an_import_added_between_two_builds_of_one_process_is_seen(project):
    # The hook keeps each module's parsed imports for the next build of the same process
    # (`mkdocs serve`); an edit that adds an import must not be answered from that memory.
    project.write("snippets/demo/gamma.py", "def h():\n    return 3\n")
    project.build()
    project.write("snippets/demo/gamma.py", "def h():\n    return 4\n")
    assert project.build() == []                     # nothing imports gamma yet
    project.write("snippets/demo/beta.py", "from . import gamma\ndef g():\n    return 2\n")
    assert project.build() == ["b.ipynb"]
    project.write("snippets/demo/gamma.py", "def h():\n    return 5\n")
    assert project.build() == ["b.ipynb"]
    project.write("docs/a.ipynb", notebook("from snippets.demo import gamma", "gamma.h()"))
    assert project.build() == ["a.ipynb"]
    project.write("snippets/demo/gamma.py", "def h():\n    return 6\n")
    assert project.build() == ["a.ipynb", "b.ipynb"]
    project.write("snippets/demo/alpha.py", "def f():\n    return 7\n")
    assert project.build() == []                     # a no longer imports alpha


def test_a_package_init_on_the_import_path_is_a_dependency(project):
    project.write("snippets/demo/__init__.py", "")
    project.build()
    project.write("snippets/demo/__init__.py", "LEVEL = 1\n")
    assert project.build() == ["a.ipynb", "b.ipynb"]


def test_a_cell_that_is_not_python_makes_the_notebook_depend_on_every_snippet(project):
    project.write("docs/a.ipynb", notebook("%%timeit\nx = 1", "from snippets.demo.alpha import f"))
    project.build()
    project.write("snippets/demo/beta.py", "def g():\n    return 5\n")
    assert project.build() == ["a.ipynb", "b.ipynb"]


def test_a_line_magic_does_not_hide_the_imports(project):
    project.write("docs/a.ipynb", notebook("%matplotlib inline\nfrom snippets.demo.alpha import f"))
    project.build()
    project.write("snippets/demo/beta.py", "def g():\n    return 5\n")
    assert project.build() == ["b.ipynb"]


@pytest.mark.parametrize("damage", ["truncated", "not json", "output edited", "key edited",
                                    "no key", "empty"])
def test_a_corrupt_entry_is_executed_again_never_shown(project, damage):
    project.build()
    entry = project.cache / "a.ipynb"
    text = entry.read_text(encoding="utf-8")
    nb = json.loads(text)
    if damage == "truncated":
        entry.write_text(text[: len(text) // 2], encoding="utf-8")
    elif damage == "not json":
        entry.write_bytes(b"\xff\xfe garbage")
    elif damage == "output edited":
        nb["cells"][-1]["outputs"][0]["text"] = "a stale output\n"
        entry.write_text(json.dumps(nb), encoding="utf-8")
    elif damage == "key edited":
        nb["metadata"][hook.META]["key"] = "0" * 64
        entry.write_text(json.dumps(nb), encoding="utf-8")
    elif damage == "no key":
        del nb["metadata"][hook.META]
        entry.write_text(json.dumps(nb), encoding="utf-8")
    else:
        entry.write_text("", encoding="utf-8")
    assert project.build() == ["a.ipynb"]
    assert "a stale output" not in (project.cache / "a.ipynb").read_text(encoding="utf-8")


def test_a_stale_entry_from_an_older_version_is_executed_again(project):
    project.build()
    old = (project.cache / "a.ipynb").read_text(encoding="utf-8")
    project.write("snippets/demo/alpha.py", "def f():\n    return 10\n")
    project.build()
    project.write("snippets/demo/alpha.py", "def f():\n    return 1\n")
    assert project.build() == ["a.ipynb"]    # the first version again: its key, a new run
    (project.cache / "a.ipynb").write_text(old, encoding="utf-8")
    project.write("snippets/demo/alpha.py", "def f():\n    return 11\n")
    assert project.build() == ["a.ipynb"]


def test_a_failed_execution_fails_the_build_naming_the_notebook_and_stores_nothing(project):
    def failing(jobs, keys):
        return {source: RuntimeError("ZeroDivisionError in cell 2") for source, _ in jobs}

    sources = {"a.ipynb": project.root / "docs" / "a.ipynb"}
    with pytest.raises(PluginError, match=r"docs/a\.ipynb: ZeroDivisionError in cell 2"):
        hook.ensure_executed(sources, project.root, project.cache, failing)
    assert not (project.cache / "a.ipynb").exists()
    assert project.build() == ["a.ipynb", "b.ipynb"]


def test_real_execution_stores_outputs_and_a_failing_cell_names_its_notebook(tmp_path):
    root = tmp_path
    (root / "docs").mkdir()
    (root / "docs" / "helper.py").write_text("def double(x):\n    return 2 * x\n", encoding="utf-8")
    (root / "docs" / "ok.ipynb").write_text(notebook("from helper import double", "double(21)"),
                                            encoding="utf-8")
    (root / "docs" / "bad.ipynb").write_text(notebook("1 / 0"), encoding="utf-8")
    cache = root / ".cache"
    entries = hook.ensure_executed({"ok.ipynb": root / "docs" / "ok.ipynb"}, root, cache)
    out = json.loads(entries["ok.ipynb"].read_text(encoding="utf-8"))["cells"][1]["outputs"]
    assert out[0]["data"]["text/plain"] == "42"
    with pytest.raises(PluginError, match=r"(?s)docs/bad\.ipynb: .*1 / 0.*ZeroDivisionError"):
        hook.ensure_executed({"bad.ipynb": root / "docs" / "bad.ipynb"}, root, cache)
    assert not (cache / "bad.ipynb").exists()


def test_the_site_notebooks_depend_on_the_snippets_they_import():
    deps = {nb.relative_to(DOCS).as_posix(): {p.relative_to(ROOT).as_posix()
                                               for p in hook.dependencies(nb, ROOT)}
            for nb in notebooks()}
    assert deps["networks/backpropagation-moons.ipynb"] == {
        "snippets/models/logistic_regression.py", "snippets/networks/backpropagation.py"}
    assert deps["optimisation/mini-batch-curves.ipynb"] == {
        "snippets/models/linear_regression.py", "snippets/models/logistic_regression.py",
        "snippets/optimisation/mini_batch.py"}
    for nb, files in deps.items():
        assert files, f"{nb} imports no snippet file"
        assert all(f.startswith("snippets/") for f in files), f"{nb}: {files}"


class FakePage:
    """What the rendering cache reads and sets on a MkDocs page."""

    def __init__(self):
        self.title, self.content, self.toc, self.renders = "From the nav", None, None, 0

    def render(self, config, files):
        from mkdocs.structure.toc import get_toc

        self.renders += 1
        self.content = f"<p>rendering {self.renders}</p>"
        self.toc = get_toc([{"level": 1, "id": "top", "name": "Top", "children": [
            {"level": 2, "id": "sub", "name": "Sub", "children": []}]}])
        self.title = "From the notebook"


def test_the_rendered_html_is_reused_and_a_corrupt_or_stale_one_rendered_again(tmp_path):
    entry = tmp_path / "x.ipynb.html.json"

    def build(key: str) -> FakePage:
        page = FakePage()
        hook._cached_render(page, page.render, entry, key)(None, None)
        return page

    first = build("k1")
    assert (first.renders, first.content) == (1, "<p>rendering 1</p>")
    again = build("k1")
    assert again.renders == 0
    assert (again.content, again.title) == (first.content, "From the notebook")
    assert [(a.id, a.title, [c.id for c in a.children]) for a in again.toc] == [("top", "Top", ["sub"])]
    assert build("k2").renders == 1                      # the executed notebook changed
    data = json.loads(entry.read_text(encoding="utf-8"))
    data["content"] = "<p>tampered</p>"
    entry.write_text(json.dumps(data), encoding="utf-8")
    assert build("k2").content == "<p>rendering 1</p>"   # rendered again, not shown
    entry.write_text("{", encoding="utf-8")
    assert build("k2").renders == 1
