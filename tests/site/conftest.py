"""Build the site once per test run, for the built-HTML and browser tests.

The build starts in the background as soon as the tests are collected, so that the snippet
tests run while the notebooks execute. Under pytest-xdist each worker has its own session:
the first worker to take a file lock in the run's shared temporary folder starts the build,
and every worker that needs the site waits for the outcome the build writes there. The build
runs in a process of its own, which finishes even if the worker that started it has no more
tests and exits. `make test` distributes whole test files (`--dist loadfile`), so each
file's module-scoped fixtures (the parsed pages, the server on the site's port) exist in one
worker only.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from pages import ROOT

KATEX_ASSETS = ROOT / "docs" / "assets" / "vendor" / "katex" / "katex.min.css"


@dataclass(frozen=True)
class BuiltSite:
    path: Path
    base_url: str
    port: int
    seconds: float


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def site_port() -> int:
    """The port the site is built for and served on: one derived from the checkout's path,
    the same in every run, or any free port if that one is taken.

    The address is written into the built pages (their canonical links, the sitemap), so a
    fixed one keeps the pages byte-identical from run to run while their sources do not
    change; the PDF and browser checks reuse what they found for unchanged files.
    """
    port = 20_000 + int.from_bytes(hashlib.sha256(str(ROOT).encode()).digest()[:4], "big") % 20_000
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As the test's server does: a port the previous run's server left in TIME_WAIT is free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return free_port()
    return port


#: Seconds a build may take before the site tests give up waiting for it.
BUILD_TIMEOUT = 900

#: Run in its own process: build strictly, then write the outcome atomically as JSON.
BUILDER = """
import json, os, subprocess, sys, time
root, out, record, base_url, timeout = sys.argv[1:6]
start = time.perf_counter()
try:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", out],
        cwd=root, capture_output=True, text=True, timeout=float(timeout),
        # Always the real site: notebooks executed (or their cached outputs reused).
        env={**os.environ, "SITE_URL": base_url, "NO_MKDOCS_2_WARNING": "1",
             "EXECUTE_NOTEBOOKS": "true"})
    outcome = {"returncode": result.returncode, "log": result.stdout + "\\n" + result.stderr}
except Exception as e:
    outcome = {"returncode": -1, "log": repr(e)}
outcome.update(base_url=base_url, seconds=time.perf_counter() - start)
with open(record + ".tmp", "w") as f:
    json.dump(outcome, f)
os.replace(record + ".tmp", record)
"""


def shared_folder(factory: pytest.TempPathFactory) -> Path:
    """The run's temporary folder, the same for every xdist worker."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def start_build(shared: Path) -> None:
    """Start the build into shared/, once per run, unless it was started already."""
    with open(shared / "built-site.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        started = shared / "built-site.started"
        if started.exists():
            return
        started.touch()
        base_url = f"http://127.0.0.1:{site_port()}/"
        proc = subprocess.Popen(
            [sys.executable, "-c", BUILDER, str(ROOT), str(shared / "built-site"),
             str(shared / "built-site.json"), base_url, str(BUILD_TIMEOUT)],
            start_new_session=True, stdin=subprocess.DEVNULL)
        threading.Thread(target=proc.wait, daemon=True).start()   # reaps it when it ends


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    # The private factory is the one the tmp_path_factory fixture returns: no other handle
    # to the run's temporary folder exists before the first test starts.
    if any("built_site" in getattr(item, "fixturenames", ()) for item in session.items):
        start_build(shared_folder(session.config._tmp_path_factory))


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    if not KATEX_ASSETS.is_file():
        pytest.fail(f"KaTeX is not installed at {KATEX_ASSETS.parent}; run the tests with "
                    "'make test', which installs it")
    shared = shared_folder(tmp_path_factory)
    start_build(shared)
    record, deadline = shared / "built-site.json", time.monotonic() + BUILD_TIMEOUT + 60
    while not record.is_file():
        if time.monotonic() > deadline:
            pytest.fail(f"the site build did not finish within {BUILD_TIMEOUT} s")
        time.sleep(0.2)
    outcome = json.loads(record.read_text(encoding="utf-8"))
    assert outcome["returncode"] == 0, f"mkdocs build --strict failed:\n{outcome['log']}"
    port = int(outcome["base_url"].rsplit(":", 1)[1].strip("/"))
    return BuiltSite(shared / "built-site", outcome["base_url"], port, outcome["seconds"])


# Coverage measures the snippets, which the site's tests never run (the build runs the
# notebooks in processes of their own). Its tracer still costs every Python call they
# make, and they make many (parsing every page, reading the PDF's text): it doubles their
# time. So it is paused around the setup, call and teardown of the tests marked `site`;
# `make test` still fails if the snippets' coverage falls below 100 %.


def _untraced(item: pytest.Item):
    plugin = item.config.pluginmanager.getplugin("_cov")
    controller = getattr(plugin, "cov_controller", None)
    pause = (controller is not None and getattr(controller, "started", False)
             and item.get_closest_marker("site") is not None)
    if pause:
        controller.pause()
    try:
        return (yield)
    finally:
        if pause:
            controller.resume()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from _untraced(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _untraced(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    return (yield from _untraced(item))
