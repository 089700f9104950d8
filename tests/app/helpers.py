"""Shared AppTest helpers for the page tests."""

from streamlit.testing.v1 import AppTest

from tests.app.test_app import APP

TIMEOUT_S = 120


def ok(at: AppTest) -> AppTest:
    """``at`` after asserting its last run raised nothing."""
    assert not at.exception, [e.message for e in at.exception]
    return at


def open_app_page(page_file: str) -> AppTest:
    """Run app.py, then switch to ``page_file`` and run it, asserting no exception either time."""
    at = ok(AppTest.from_file(APP, default_timeout=TIMEOUT_S).run())
    at.switch_page(page_file)
    return ok(at.run())
