"""Build the site once per test session, for the built-HTML and browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
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


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    if not KATEX_ASSETS.is_file():
        pytest.fail(f"KaTeX is not installed at {KATEX_ASSETS.parent}; run the tests with "
                    "'make test', which installs it")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/"
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "SITE_URL": base_url, "NO_MKDOCS_2_WARNING": "1"}
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    seconds = time.perf_counter() - start
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    return BuiltSite(out, base_url, port, seconds)
