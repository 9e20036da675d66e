"""Build the site once per test run, for the built-HTML and browser tests.

Under pytest-xdist each worker has its own session, so the build is made once per run under
a file lock in the run's shared temporary folder: the first worker that needs the site builds
it, and any other reads the stored result. `make test` distributes whole test files
(`--dist loadfile`), so each file's module-scoped fixtures (the parsed pages, the server on
the site's port) exist in one worker only.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from pages import ROOT

KATEX_ASSETS = ROOT / "docs" / "assets" / "vendor" / "katex" / "katex.min.js"


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


def build(out: Path) -> dict:
    """Build the site strictly into out, served later on a free port: the outcome as a dict."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/"
    # Always the real site: notebooks executed (or their cached outputs reused).
    env = {**os.environ, "SITE_URL": base_url, "NO_MKDOCS_2_WARNING": "1",
           "EXECUTE_NOTEBOOKS": "true"}
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    return {"returncode": result.returncode, "log": f"{result.stdout}\n{result.stderr}",
            "base_url": base_url, "port": port, "seconds": time.perf_counter() - start}


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    if not KATEX_ASSETS.is_file():
        pytest.fail(f"KaTeX is not installed at {KATEX_ASSETS.parent}; run the tests with "
                    "'make test', which installs it")
    base = tmp_path_factory.getbasetemp()
    worker = os.environ.get("PYTEST_XDIST_WORKER")             # gw0, gw1, ... under xdist
    shared = base.parent if worker else base                    # one folder for all workers
    out, record = shared / "built-site", shared / "built-site.json"
    with open(shared / "built-site.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if record.is_file():
            outcome = json.loads(record.read_text(encoding="utf-8"))
        else:
            outcome = build(out)
            record.write_text(json.dumps(outcome), encoding="utf-8")
    assert outcome["returncode"] == 0, f"mkdocs build --strict failed:\n{outcome['log']}"
    return BuiltSite(out, outcome["base_url"], outcome["port"], outcome["seconds"])
