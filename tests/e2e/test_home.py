"""Home in a real browser: type a sequence, see the heatmap redrawn with the typed characters on its axis."""

import pytest

from rnnviz.vocab import token_label
from tests.e2e.helpers import (
    PLOTLY_CHART,
    assert_no_exception,
    open_page,
    plotly_xtick_labels,
    save_screenshot,
    set_text,
)

pytestmark = pytest.mark.e2e


def test_typed_sequence_is_drawn_on_the_time_axis(page):
    open_page(page)
    assert_no_exception(page)
    assert plotly_xtick_labels(page.locator(PLOTLY_CHART).first) == [token_label(c) for c in "hello, world"]

    text = "héllo 世界 👋"
    set_text(page, "Sequence", text)
    assert_no_exception(page)
    charts = page.locator(PLOTLY_CHART)
    assert charts.count() == 1
    assert plotly_xtick_labels(charts.first) == [token_label(c) for c in text]
    save_screenshot(page, "home")


def test_blank_sequence_shows_a_hint_not_an_error(page):
    open_page(page)
    set_text(page, "Sequence", "   ")
    assert_no_exception(page)
    assert page.get_by_text("Type a sequence").is_visible()
    assert page.locator(PLOTLY_CHART).count() == 0
