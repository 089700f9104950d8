"""Links in a real browser: a page writes its settings into its URL, and that URL opened in a new browser context
(a new session, nothing shared) shows the same settings and the same results. A hostile link shows one notice."""

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import expect

from pages.shared import LINK_TEXT_MAX
from rnnviz.vocab import token_label
from tests.e2e.helpers import (
    PLOTLY_CHART,
    VIEWPORT,
    assert_no_exception,
    expect_rerun,
    open_page,
    plotly_xtick_labels,
    save_screenshot,
    set_text,
    text_box,
    track_runs,
)

pytestmark = pytest.mark.e2e

TABS = '[data-testid="stTabs"]'
ALERT = '[data-testid="stAlert"]'


def query(page) -> dict[str, list[str]]:
    """The page's settings in its URL (app.py's ?lang=, kept on every page, is tested in test_i18n.py)."""
    return {k: v for k, v in parse_qs(urlsplit(page.url).query, keep_blank_values=True).items() if k != "lang"}


def path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return parts.path.lstrip("/") + (f"?{parts.query}" if parts.query else "")


@pytest.fixture
def fresh(browser, app_url):
    """Opens a URL in a new browser context: no cookies, storage or session shared with ``page``."""
    contexts = []

    def open_url(url: str):
        context = browser.new_context(viewport=VIEWPORT, base_url=app_url)
        contexts.append(context)
        other = context.new_page()
        track_runs(other)
        return open_page(other, path_and_query(url))

    yield open_url
    for context in contexts:
        context.close()


def set_number(page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    with expect_rerun(page):
        box.fill(value)
        box.press("Enter")


def click(page, role: str, name: str) -> None:
    with expect_rerun(page):
        page.get_by_role(role, name=name, exact=True).click()


def test_home_sequence_travels_in_the_link(page, fresh):
    open_page(page)
    text = "héllo 世界 👋 & ?#="
    set_text(page, "Sequence", text)
    assert query(page)["home_sequence"] == [text]
    other = fresh(page.url)
    assert_no_exception(other)
    expect(text_box(other, "Sequence")).to_have_value(text)
    assert plotly_xtick_labels(other.locator(PLOTLY_CHART).first) == [token_label(c) for c in text]


def test_step_settings_travel_in_the_link(page, fresh):
    open_page(page, "step")
    click(page, "radio", "Random")
    click(page, "radio", "LSTM")
    set_number(page, "Memory units", "2")
    set_number(page, "Seed", "5")
    set_text(page, "Sequence", "bca")
    assert {k: v[0] for k, v in query(page).items()} == {
        "step_source": "Random", "step_cell": "LSTM", "step_hidden": "2", "step_seed": "5", "step_sequence": "bca"}
    sent = page.locator(TABS).inner_text()
    other = fresh(page.url)
    assert_no_exception(other)
    expect(other.get_by_role("radio", name="LSTM", exact=True)).to_be_checked()
    expect(other.get_by_label("Memory units", exact=True)).to_have_value("2")
    # every number of the step, as the sender saw it (retried: the tab's equations and tables render after its run)
    expect(other.locator(TABS)).to_have_text(sent, use_inner_text=True, timeout=30_000)
    save_screenshot(other, "link-step")


def test_train_settings_travel_in_the_link(page, fresh):
    """/train's defaults follow the task, so a link leaves out a setting equal to the task's default and keeps one
    that differs, even when it equals the widget's lowest value (clipping off: 0)."""
    open_page(page, "train")
    set_number(page, "Clip gradient norm", "0")
    set_number(page, "Hidden units", "16")
    assert {k: v[0] for k, v in query(page).items()} == {"train_clip": "0", "train_hidden": "16"}
    other = fresh(page.url)
    assert_no_exception(other)
    expect(other.get_by_label("Clip gradient norm", exact=True)).to_have_value("0.00")
    expect(other.get_by_label("Hidden units", exact=True)).to_have_value("16")
    racing = "Racing RNN, LSTM on"
    assert other.get_by_text(racing).inner_text() == page.get_by_text(racing).inner_text()


def test_a_hostile_link_shows_one_notice_and_the_defaults(page):
    hostile = {"cell_text_hidden": "inf", "cell_source": "<script>alert(1)</script>", "cell_mode": "",
               "cell_sequence": "x" * 20_000, "cell_nope": "1"}
    open_page(page, "cell?" + urlencode(hostile))
    assert_no_exception(page)
    notice = page.locator(ALERT).filter(has_text="this page cannot use")
    expect(notice).to_have_count(1)
    text = notice.inner_text()
    for key in hostile:
        assert key in text
    assert "<script>alert(1)</script>" in text  # shown as text, not run
    assert "x" * 41 not in text
    assert not any(key in query(page) for key in hostile)  # the URL is cleaned
    expect(page.get_by_role("radio", name="Pretrained", exact=True)).to_be_checked()
    save_screenshot(page, "link-hostile", full_page=False)


def test_a_sequence_too_long_for_a_link_leaves_it_and_comes_back(page):
    open_page(page)
    set_text(page, "Sequence", "ab" * (LINK_TEXT_MAX // 2 + 1))
    assert "home_sequence" not in query(page)
    expect(page.get_by_text("Too long for this page's link")).to_be_visible()
    set_text(page, "Sequence", "short again")
    assert query(page)["home_sequence"] == ["short again"]
    assert_no_exception(page)


def test_back_to_a_hostile_link_shows_the_notice_not_a_traceback(page):
    """The notice cleans the URL with a new history entry; Back returns to the hostile one while the widget is
    already bound, where Streamlit's own seeding would raise on "inf" for a whole number."""
    open_page(page, "generate")
    open_page(page, "generate?generate_length=inf&generate_seed=3")
    assert query(page) == {"generate_seed": ["3"]}
    with expect_rerun(page):
        page.go_back()
    assert_no_exception(page)
    expect(page.locator(ALERT).filter(has_text="generate_length")).to_have_count(1)
    expect(page.get_by_label("Length", exact=True)).to_have_value("300")
    assert "generate_length" not in query(page)
