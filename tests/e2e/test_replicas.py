"""Two replicas behind nginx, started by deploy/replicas.sh: pages open and train through the proxy's websocket,
first visits spread over the replicas, and every browser stays on its replica.

Skipped with a reason when nginx is missing, except under CI=true (.ci/run installs Debian's nginx)."""

from __future__ import annotations

import collections
import http.cookies
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


def visit(url: str, cookie: str | None = None) -> tuple[str, str | None]:
    """(the replica that answered, the rnnviz_replica cookie the response set) for a request holding ``cookie``."""
    request = urllib.request.Request(url, headers={"Cookie": f"rnnviz_replica={cookie}"} if cookie else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        jar = http.cookies.SimpleCookie()
        for header in response.headers.get_all("Set-Cookie") or []:
            jar.load(header)
        return response.headers[HEADER], jar["rnnviz_replica"].value if "rnnviz_replica" in jar else None


def replica_of(url: str, cookie: str | None = None) -> str:
    return visit(url, cookie)[0]


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


def test_first_visits_are_shared_evenly_and_a_cookie_keeps_its_replica(nginx_url):
    """A first visit goes to the replica with the fewest open connections (a tie round-robin), so 40 of them split
    20/20 rather than as a coin would; the cookie it gets names that replica, and keeps the browser there."""
    first = [visit(f"{nginx_url}/_stcore/health") for _ in range(40)]
    counts = collections.Counter(replica for replica, _ in first)
    assert len(counts) == 2 and max(counts.values()) - min(counts.values()) <= 2, counts
    names = {replica: {cookie for r, cookie in first if r == replica} for replica in counts}
    assert all(len(n) == 1 for n in names.values()) and {n.pop() for n in names.values()} == {"r0", "r1"}, names
    for replica, cookie in first[:4]:
        assert {visit(f"{nginx_url}/_stcore/health", cookie) for _ in range(10)} == {(replica, cookie)}


@pytest.mark.parametrize("cookie", ["r9", "127.0.0.1:22", "../../etc/passwd", "rnnviz", "r0x"])
def test_a_cookie_naming_no_replica_counts_as_a_first_visit(nginx_url, cookie):
    """Stale (after a redeploy with fewer replicas) or forged: it reaches a listed replica and gets a cookie naming
    it. nginx never takes an address from the cookie."""
    replica, given = visit(f"{nginx_url}/_stcore/health", cookie)
    assert given in {"r0", "r1"} and replica.startswith("127.0.0.1:")
    assert visit(f"{nginx_url}/_stcore/health", given)[0] == replica


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
