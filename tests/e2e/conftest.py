"""Fixtures for browser tests: one ``streamlit run app.py`` per session and headless Debian Chromium.

* ``app_url``  (session): base URL of the app, started on a free port from the repository root and
  stopped at the end. Its console goes to ``streamlit.log`` in pytest's temporary folder; startup
  failures quote its tail.
* ``browser``  (session): Chromium from ``$RNNVIZ_CHROMIUM`` or ``/usr/bin/chromium``. Skipped with a
  reason when missing, except under ``CI=true``, where a missing browser fails the run.
* ``browser_context`` (session): 1400x900, relative URLs resolve against ``app_url``; shared so the
  HTTP cache is warm (a cold page load costs about 3 s here, a warm one under 1 s).
* ``page``     (test): a new tab in that context, so a new Streamlit session with empty session state
  (cookies and the HTTP cache are shared). Its script runs are counted, so the helpers in
  ``tests.e2e.helpers`` can wait for reruns. When a test fails and ``$RNNVIZ_SCREENSHOTS`` is set, the
  tab is saved there as ``FAILED-<test>.png``.

Test modules here set ``pytestmark = pytest.mark.e2e``; a collection hook adds the mark to any that forget.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import VIEWPORT, save_screenshot, track_runs
from tests.e2e.server import serve_app

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in this folder ``e2e``, so ``-m "not e2e"`` skips the browser even if one forgets."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.e2e)


_CALL_FAILED = pytest.StashKey[bool]()  # set per test, read by `page` to screenshot failures


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_app(tmp_path_factory.mktemp("server") / "streamlit.log") as url:
        yield url


def _chromium() -> str | None:
    path = os.environ.get("RNNVIZ_CHROMIUM", "/usr/bin/chromium")
    return path if os.access(path, os.X_OK) else None


@pytest.fixture(scope="session")
def browser():
    path = _chromium()
    if path is None:
        reason = (
            f"Chromium not found at {os.environ.get('RNNVIZ_CHROMIUM', '/usr/bin/chromium')}: "
            "install Debian's chromium (apt-get install chromium) or point RNNVIZ_CHROMIUM at a Chromium."
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " Browser tests cannot be skipped under CI=true.")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def browser_context(browser, app_url: str):
    """One context for the session, so the app's JavaScript is fetched and compiled once (about 2 s a test)."""
    context = browser.new_context(viewport=VIEWPORT, base_url=app_url)
    yield context
    context.close()


@pytest.fixture
def page(browser_context, request: pytest.FixtureRequest):
    page = browser_context.new_page()
    track_runs(page)
    yield page
    if request.node.stash.get(_CALL_FAILED, False):
        save_screenshot(page, f"FAILED-{request.node.name}")
    page.close()
