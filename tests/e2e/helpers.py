"""Drive the running app in a real browser: open a page, change a widget, wait for the rerun, assert.

Import these in e2e tests (the fixtures ``app_url``, ``browser`` and ``page`` come from conftest.py)::

    from tests.e2e.helpers import assert_no_exception, open_page, save_screenshot, set_text

    @pytest.mark.e2e
    def test_cell(page):
        open_page(page, "cell")                       # url_path from app.py; "" is home
        set_text(page, "Sequence", "hello")           # types, commits and waits for the rerun to end
        assert_no_exception(page)

Waiting for Streamlit, and why it is done this way:

* ``[data-testid="stApp"]`` carries ``data-test-script-state``: ``initial`` before the first run, then
  ``running`` / ``notRunning`` (also ``rerunRequested``, ``stopRequested``, ``compilationError``), and
  ``data-test-connection-state`` (``CONNECTED`` once the websocket is up). Elements left over from the
  previous run carry ``data-stale="true"`` until the run ends.
* ``notRunning`` alone cannot tell you that *your* rerun happened: a fast script's ``running`` state is
  often batched away by React and never reaches the DOM (seen here on about 1 in 3 first interactions).
  So the page fixture counts the ``script_finished`` messages on Streamlit's websocket, and
  :func:`expect_rerun` waits for that count to grow. This never sleeps and never misses a run.
* Setting a widget to the value it already has does not rerun the script; :func:`expect_rerun` then
  times out with a message saying so.
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Locator, Page, WebSocket
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

APP = '[data-testid="stApp"]'
IDLE = f'{APP}[data-test-connection-state="CONNECTED"][data-test-script-state="notRunning"]'
STALE = '[data-stale="true"]'
EXCEPTION = '[data-testid="stException"]'
PLOTLY_CHART = '[data-testid="stPlotlyChart"]'
VIEWPORT = {"width": 1400, "height": 900}
TIMEOUT_S = 60.0  # the first run of a page imports torch and builds models; a cold CI runner is slow

_FINISHED = {  # a run that was cut short for a newer rerun does not count; the newer one will
    ForwardMsg.FINISHED_SUCCESSFULLY,
    ForwardMsg.FINISHED_WITH_COMPILE_ERROR,
    ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
}
_runs: weakref.WeakKeyDictionary[Page, list[int]] = weakref.WeakKeyDictionary()


def track_runs(page: Page) -> None:
    """Count finished script runs on ``page``. Call before the first ``goto`` (the fixture does)."""
    if page in _runs:
        return
    count = _runs[page] = [0]

    def on_websocket(ws: WebSocket) -> None:
        def on_frame(payload: bytes | str) -> None:
            if isinstance(payload, str):
                return
            msg = ForwardMsg()
            msg.ParseFromString(payload)
            if msg.WhichOneof("type") == "script_finished" and msg.script_finished in _FINISHED:
                count[0] += 1

        ws.on("framereceived", on_frame)

    page.on("websocket", on_websocket)


def finished_runs(page: Page) -> int:
    """How many script runs (full or fragment) have finished on ``page`` since it was tracked."""
    if page not in _runs:
        raise RuntimeError("Untracked page: use the `page` fixture, or call track_runs(page) before goto.")
    return _runs[page][0]


def wait_idle(page: Page, timeout_s: float = TIMEOUT_S) -> None:
    """Wait until the app is connected, no script is running, and no stale element is left on screen.

    Enough after a page load once a run is known to have happened (see :func:`open_page`); after an
    interaction use :func:`expect_rerun`, which also waits for the rerun to *start*.
    """
    ms = timeout_s * 1000
    page.wait_for_selector(APP, state="attached", timeout=ms)
    page.wait_for_selector(IDLE, state="attached", timeout=ms)
    page.wait_for_selector(STALE, state="detached", timeout=ms)


def _wait_for_run(page: Page, after: int, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while finished_runs(page) <= after:
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"No script run finished within {timeout_s:.0f} s after {what}. If a widget was set to the "
                "value it already had, Streamlit does not rerun; otherwise look for an error in the app."
            )
        page.wait_for_timeout(25)  # lets Playwright deliver websocket events to the counter
    wait_idle(page, max(1.0, deadline - time.monotonic()))


@contextmanager
def expect_rerun(page: Page, timeout_s: float = TIMEOUT_S) -> Iterator[None]:
    """Wrap an interaction that makes Streamlit rerun; on exit, wait until that rerun has finished.

    Example: ``with expect_rerun(page): page.get_by_role("button", name="Train").click()``
    """
    before = finished_runs(page)
    yield
    _wait_for_run(page, before, timeout_s, "the interaction")


def open_page(page: Page, url_path: str = "", timeout_s: float = TIMEOUT_S) -> Page:
    """Load the app at ``url_path`` ("" is home, "cell", "gradients", ...) and wait for its first run."""
    track_runs(page)
    before = finished_runs(page)
    page.goto("/" + url_path.lstrip("/"))
    _wait_for_run(page, before, timeout_s, f"opening /{url_path}")
    return page


def text_box(page: Page, label: str) -> Locator:
    """The ``st.text_input`` or ``st.text_area`` whose label is exactly ``label``."""
    return page.get_by_label(label, exact=True)


def set_text(page: Page, label: str, text: str, timeout_s: float = TIMEOUT_S) -> None:
    """Replace the text of a ``st.text_input`` / ``st.text_area`` and commit it, as a user would.

    A text input commits on Enter; a text area on Ctrl+Enter (plain Enter adds a newline); both commit
    on blur. Waits for the rerun to finish. Any Unicode works: ``fill`` inserts text, not key presses.
    """
    box = text_box(page, label)
    commit = "Control+Enter" if box.evaluate("e => e.tagName") == "TEXTAREA" else "Enter"
    with expect_rerun(page, timeout_s):
        box.fill(text)
        box.press(commit)


def assert_no_exception(page: Page) -> None:
    """Fail, quoting the message, if the page shows an uncaught exception (``st.exception`` box)."""
    boxes = page.locator(EXCEPTION)
    if boxes.count():
        raise AssertionError("The app shows an exception:\n" + "\n---\n".join(boxes.all_inner_texts()))


def plotly_xtick_labels(chart: Locator) -> list[str]:
    """The x-axis tick labels Plotly drew in ``chart`` (e.g. ``page.locator(PLOTLY_CHART).first``).

    Read from the SVG (``.xtick text``), so this is what the user sees; Plotly may skip labels
    when they do not fit, so test with sequences short enough for every label to be drawn.
    """
    chart.locator(".xtick text").first.wait_for(state="attached")
    return [t.text_content() or "" for t in chart.locator(".xtick text").all()]


def save_screenshot(page: Page, name: str, full_page: bool = True) -> Path | None:
    """Save ``<name>.png`` under ``$RNNVIZ_SCREENSHOTS`` if that variable is set; return the path."""
    folder = os.environ.get("RNNVIZ_SCREENSHOTS")
    if not folder:
        return None
    path = Path(folder) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=full_page)
    return path
