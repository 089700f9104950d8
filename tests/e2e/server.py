"""Start the app the way a user does, ``streamlit run app.py``, on a free port, for browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def serve_app(log_path: Path) -> Iterator[str]:
    """Run ``streamlit run app.py`` on a free port from the repository root; yield its base URL.

    Waits for ``/_stcore/health`` to answer ``ok``; the console goes to ``log_path``.
    """
    with app_process(log_path) as (url, _):
        yield url


@contextmanager
def app_process(log_path: Path, options: Sequence[str] = ()) -> Iterator[tuple[str, subprocess.Popen]]:
    """:func:`serve_app` that also yields the server's process (the load test reads its memory) and passes
    ``options`` on to ``streamlit run``, e.g. ``["--server.disconnectedSessionTTL", "2"]``."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.headless", "true",
        "--server.fileWatcherType", "none",  # nothing edits the code during a test run; saves a core
        *options,
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with code {proc.returncode}:\n{_tail(log_path)}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{url}/_stcore/health: no answer in {STARTUP_TIMEOUT_S} s:\n{_tail(log_path)}")
            time.sleep(0.2)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
