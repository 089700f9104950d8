"""A class opening one shared link at once, as a fresh server's first requests: every session gets the page.

Streamlit starts a server whose app has a pages/ folder in its legacy multipage mode until a run reaches
app.py's st.navigation, and every session whose first run starts before that runs in it (pages/shared.py,
leave_legacy_pages_mode). Issue 20 measured 11 of 12 such sessions showing a traceback and file names as navigation.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import EXCEPTION, IDLE, STALE, VIEWPORT
from tests.e2e.server import serve_app

pytestmark = pytest.mark.e2e

SESSIONS = 8
LINK = "train?train_lag=37&train_cells=LSTM"  # a deep link with settings, as a teacher would share it
TIMEOUT_S = 240  # eight first runs at once on a busy two-core machine


def test_sessions_opening_one_deep_link_at_once_on_a_fresh_server(browser, tmp_path):
    with serve_app(tmp_path / "streamlit.log") as url:
        contexts = [browser.new_context(viewport=VIEWPORT, base_url=url) for _ in range(SESSIONS)]
        try:
            pages = [context.new_page() for context in contexts]
            for page in pages:  # each returns once the HTML has come: the sessions' first runs overlap
                page.goto("/" + LINK, wait_until="commit")
            deadline = time.monotonic() + TIMEOUT_S
            for i, page in enumerate(pages):
                left = max(1.0, deadline - time.monotonic()) * 1000
                page.wait_for_selector(IDLE, state="attached", timeout=left)
                page.wait_for_selector(STALE, state="detached", timeout=left)
                heading = page.get_by_role("heading", name="Train live", level=1)
                expect(heading).to_be_visible(timeout=left)
                # A legacy-mode first run can draw the heading before it reruns through app.py: wait for the end
                # state (a session left in the legacy mode never reaches it).
                expect(page, f"session {i}: app.py's set_page_config did not run").to_have_title("rnnviz",
                                                                                                  timeout=left)
                page.wait_for_selector(IDLE, state="attached", timeout=left)
                boxes = page.locator(EXCEPTION)
                assert boxes.count() == 0, f"session {i}: " + " | ".join(boxes.all_inner_texts())
                # app.py's navigation (titles at the top), not the legacy one (file names in the sidebar)
                assert page.locator('[data-testid="stSidebarNav"]').count() == 0, f"session {i}: legacy navigation"
                assert page.locator('[data-testid="stTopNavLink"]').filter(has_text="Inside the cell").count()
                # the link's settings reached the run (the caption is written by the server from the race it built)
                expect(page.get_by_text("Racing LSTM on recall lag 37, seed 0.")).to_be_visible(timeout=left)
        finally:
            for context in contexts:
                context.close()
