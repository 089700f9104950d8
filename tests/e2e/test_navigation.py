"""Navigation: every page answers at its own URL with the app's navigation, whichever request comes first."""

import pytest

from tests.e2e.helpers import VIEWPORT, assert_no_exception, open_page, track_runs
from tests.e2e.server import serve_app

pytestmark = pytest.mark.e2e

PAGES = {  # url_path: title, as in app.py
    "cell": "Inside the cell",
    "gradients": "Gradient flow",
    "memory": "Before gating",
    "train": "Train live",
    "step": "Step through",
    "generate": "Generate",
}


def test_every_page_opens_from_its_url(page):
    for url_path, title in PAGES.items():
        open_page(page, url_path)
        assert_no_exception(page)
        assert page.get_by_role("heading", name=title, level=1).is_visible()
        assert page.title() == "rnnviz"  # app.py's set_page_config ran: the page went through st.navigation


def test_deep_link_as_the_servers_first_request(browser, tmp_path):
    with serve_app(tmp_path / "streamlit.log") as url:
        context = browser.new_context(viewport=VIEWPORT, base_url=url)
        try:
            page = context.new_page()
            track_runs(page)
            open_page(page, "gradients")
            assert page.title() == "rnnviz"
            # the app's page titles in the navigation, not file names
            assert page.get_by_role("link", name="Inside the cell").count() > 0
        finally:
            context.close()
