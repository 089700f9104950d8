"""/train in a real browser: Step trains and the curves grow; Play keeps training (the live fragment reruns on its
timer) until Pause; the trained models are listed for download.

Fragment reruns do not end with the whole app idle in a way a test can wait for, so these tests wait on what the
user sees: the progress text ("Step 10 of 1,000") and the number of points Plotly holds for a curve.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from tests.e2e.helpers import PLOTLY_CHART, assert_no_exception, expect_rerun, open_page, save_screenshot, wait_idle

pytestmark = pytest.mark.e2e

TIMEOUT_S = 120


def progress_step(page: Page) -> int:
    text = page.locator('[data-testid="stProgress"]').inner_text()
    match = re.search(r"Step ([\d,]+) of", text)
    assert match, text
    return int(match.group(1).replace(",", ""))


def curve_lengths(page: Page, title: str) -> dict[str, int]:
    """{trace name: number of points} that Plotly holds for the chart titled ``title``.

    While a fragment rerun is being drawn, the new copy of a chart sits beside the old one for a moment; wait
    until one is left, then read it."""
    chart = page.locator(PLOTLY_CHART).filter(has=page.locator(".gtitle", has_text=title))
    read = "e => e.querySelector('.js-plotly-plot')._fullData.map(t => [t.name, t._length])"
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        expect(chart).to_have_count(1, timeout=TIMEOUT_S * 1000)
        try:
            return dict(chart.evaluate(read))
        except PlaywrightError as err:
            # a rerun drew a second copy, or the chart is mounting and Plotly has not drawn it yet: read again
            if not any(m in str(err) for m in ("strict mode violation", "Cannot read properties")) or \
                    time.monotonic() > deadline:
                raise
            page.wait_for_timeout(100)


def wait_for_step(page: Page, at_least: int, timeout_s: float = TIMEOUT_S) -> int:
    deadline = time.monotonic() + timeout_s
    while (step := progress_step(page)) < at_least:
        assert time.monotonic() < deadline, f"training reached step {step}, not {at_least}, in {timeout_s:.0f} s"
        page.wait_for_timeout(250)
    return step


def test_step_then_play_moves_the_curves(page):
    open_page(page, "train")
    assert_no_exception(page)
    assert progress_step(page) == 0
    assert curve_lengths(page, "Loss") == {"RNN train": 0, "RNN validation": 1, "LSTM train": 0,
                                           "LSTM validation": 1}

    with expect_rerun(page, TIMEOUT_S):
        page.get_by_role("button", name="Step", exact=True).click()
    expect(page.get_by_text("Step 10 of 1,000")).to_be_visible()
    after_step = curve_lengths(page, "Loss")
    assert after_step["LSTM train"] > 0 and after_step["RNN train"] == after_step["LSTM train"]
    expect(page.get_by_text("LSTM · recall lag 100 · step 10", exact=True)).to_be_visible()  # listed for other pages

    # No expect_rerun here: while playing, the app is idle only for moments between the timer's fragment runs, so
    # waiting for idle could return at any of them, or only when training reaches the step count.
    page.get_by_role("radio", name="Play").click()
    expect(page.get_by_text(re.compile(r"· playing$"))).to_be_visible(timeout=TIMEOUT_S * 1000)
    reached = wait_for_step(page, 30)  # the fragment's timer keeps training without any click
    page.get_by_role("radio", name="Pause").click(force=True)  # force: the charts redraw under the pointer
    # "pausing…" until the scheduler's slice under way has ended, then neither
    expect(page.get_by_text(re.compile(r"· (playing|pausing…)$"))).to_have_count(0, timeout=TIMEOUT_S * 1000)
    wait_idle(page)  # paused: the page's last full run (the models settled at the paused step) has ended
    paused = progress_step(page)
    assert 1000 > paused >= reached > 10  # paused by the click, not by reaching the step count
    assert curve_lengths(page, "Loss")["LSTM train"] > after_step["LSTM train"]  # the curve grew
    assert curve_lengths(page, "Gradient flow")["LSTM at step 0"] > 0
    page.wait_for_timeout(2500)  # paused: no timer, no more steps
    assert progress_step(page) == paused
    expect(page.get_by_role("button", name="Download", exact=True).first).to_be_visible()
    assert_no_exception(page)
    save_screenshot(page, "train", full_page=False)


def test_play_stops_by_itself_at_the_step_count(page):
    open_page(page, "train")
    box = page.get_by_label("Train for (steps)", exact=True)
    with expect_rerun(page, TIMEOUT_S):
        box.fill("20")
        box.press("Enter")
    with expect_rerun(page, TIMEOUT_S):
        page.get_by_role("radio", name="Play").click()
    expect(page.get_by_text("Step 20 of 20", exact=False)).to_be_visible(timeout=TIMEOUT_S * 1000)
    expect(page.get_by_role("radio", name="Play")).to_be_disabled(timeout=TIMEOUT_S * 1000)
    expect(page.get_by_text(re.compile(r"· playing$"))).to_have_count(0)
    assert curve_lengths(page, "Accuracy")["LSTM validation"] == 2  # at step 0, and at step 20 where it stopped
    assert_no_exception(page)


def test_sentiment_race_on_real_reviews_draws_its_baselines(page):
    """The sentiment task opens on the real Chinese reviews; once the baselines are fitted (seconds, once per task)
    they show beside the cells and as lines on the accuracy chart, and stay there while the race plays."""
    open_page(page, "train?train_task=Sentiment+of+short+reviews&train_hidden=8", timeout_s=TIMEOUT_S * 2)
    assert_no_exception(page)
    expect(page.get_by_text("Baseline · bag of characters")).to_be_visible(timeout=TIMEOUT_S * 1000)
    metric = page.get_by_test_id("stMetric").filter(has_text="Baseline · bag of characters")
    shown = metric.get_by_test_id("stMetricValue")
    value = shown.inner_text()
    assert re.fullmatch(r"\d{2}\.\d%", value), value
    page.get_by_role("radio", name="Play").click()
    expect(page.get_by_text(re.compile(r"· playing$"))).to_be_visible(timeout=TIMEOUT_S * 1000)
    wait_for_step(page, 3)
    lines = curve_lengths(page, "Accuracy")
    assert lines[f"bag of characters {value}"] == 2 and any(n.startswith("majority class ") for n in lines)
    assert lines["LSTM validation"] >= 1 and "chance 50.0%" not in lines
    chart = page.locator(PLOTLY_CHART).filter(has=page.locator(".gtitle", has_text="Accuracy"))
    # .first: while Streamlit swaps in a redrawn chart, the old plot and the new one can both be in the page
    expect(chart.locator(".legendtext", has_text=f"bag of characters {value}").first).to_be_visible()
    page.get_by_role("radio", name="Pause").click(force=True)
    expect(page.get_by_text(re.compile(r"· (playing|pausing…)$"))).to_have_count(0, timeout=TIMEOUT_S * 1000)
    wait_idle(page)
    assert_no_exception(page)
    save_screenshot(page, "train_sentiment")
