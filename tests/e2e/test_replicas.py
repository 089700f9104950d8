"""Two replicas behind nginx, started by deploy/replicas.sh: pages open and train through the proxy's websocket,
first visits spread over the replicas, and every browser stays on its replica.

Skipped with a reason when nginx is missing, except under CI=true (.ci/run installs Debian's nginx)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import VIEWPORT, assert_no_exception, expect_rerun, open_page, track_runs
from tests.e2e.server import ROOT

pytestmark = pytest.mark.e2e

HEADER = "x-rnnviz-replica"  # deploy/nginx.conf: the upstream that answered
STARTUP_S = 180


def _nginx() -> str | None:
    return os.environ.get("NGINX") or shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def _free_ports(n: int) -> int:
    """The first of ``n`` consecutive free loopback ports."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            first = s.getsockname()[1]
        if first + n > 65535:
            continue
        try:
            for port in range(first, first + n):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise RuntimeError("no run of free ports")


def replica_of(url: str, cookie: str | None = None) -> str:
    request = urllib.request.Request(url, headers={"Cookie": f"rnnviz_replica={cookie}"} if cookie else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.headers[HEADER]


@pytest.fixture(scope="module")
def nginx_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    nginx = _nginx()
    if nginx is None:
        reason = "nginx not found: install Debian's nginx (apt-get install nginx) or point NGINX at one."
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " The replica test cannot be skipped under CI=true.")
        pytest.skip(reason)
    run = tmp_path_factory.mktemp("replicas")
    port = _free_ports(3)  # nginx, then the two replicas
    env = {**os.environ, "NGINX": nginx, "RNNVIZ_PORT": str(port), "RNNVIZ_FIRST_PORT": str(port + 1),
           "RNNVIZ_RUN_DIR": str(run)}
    with open(run / "replicas.out", "wb") as out:
        proc = subprocess.Popen(["bash", "deploy/replicas.sh", "2"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"deploy/replicas.sh exited with {proc.returncode}:\n{_tail(run)}")
            try:
                replica_of(f"{url}/_stcore/health")
                break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"nginx did not answer within {STARTUP_S} s:\n{_tail(run)}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()  # its trap stops the replicas and nginx
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def _tail(run: Path) -> str:
    return "\n".join(f"--- {p.name}\n" + p.read_text(errors="replace")[-2000:] for p in sorted(run.glob("*.out")))


def test_first_visits_spread_over_the_replicas_and_a_cookie_keeps_one(nginx_url):
    first_visits = {replica_of(f"{nginx_url}/_stcore/health") for _ in range(40)}
    assert len(first_visits) == 2, first_visits  # 40 random keys all on one replica: 2 in 2^40
    for key in ("a", "b", "c"):
        assert len({replica_of(f"{nginx_url}/_stcore/health", key) for _ in range(10)}) == 1


def test_sessions_train_through_nginx_each_on_one_replica(browser, nginx_url):
    contexts = [browser.new_context(viewport=VIEWPORT, base_url=nginx_url) for _ in range(2)]
    try:
        for context in contexts:
            seen: set[str] = set()
            page = context.new_page()
            page.on("response", lambda r, seen=seen: seen.add(r.headers.get(HEADER, "")))
            track_runs(page)
            open_page(page, "train")  # the page's first run came over the websocket through nginx
            assert page.title() == "rnnviz"
            with expect_rerun(page):
                page.get_by_role("button", name="Step", exact=True).click()
            expect(page.get_by_text("Step 10 of 1,000")).to_be_visible()
            assert_no_exception(page)
            assert len(seen - {""}) == 1, seen  # the page, its scripts and its assets: one replica
    finally:
        for context in contexts:
            context.close()
