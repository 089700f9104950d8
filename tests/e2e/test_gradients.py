"""/gradients in a real browser: the default comparison draws, and a gain past 1 on a long sequence overflows
visibly (marked on the chart, explained on the page) without an exception."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import (
    PLOTLY_CHART,
    assert_no_exception,
    expect_rerun,
    open_page,
    save_screenshot,
)

pytestmark = pytest.mark.e2e


def sidebar(page):
    return page.locator('[data-testid="stSidebar"]')


def chart_texts(page, index: int = 0) -> list[str]:
    """The annotations Plotly drew on a chart (SVG text), as the user sees them."""
    chart = page.locator(PLOTLY_CHART).nth(index)
    chart.locator(".main-svg").first.wait_for(state="attached")
    return [t.text_content() or "" for t in chart.locator(".annotation-text").all()]


def generate(page, length: int) -> None:
    box = page.get_by_label("Length", exact=True)
    with expect_rerun(page):
        box.fill(str(length))
        box.press("Enter")
    with expect_rerun(page):
        page.get_by_role("button", name="Generate", exact=True).click()


def test_default_view_draws_the_comparison(page):
    open_page(page, "gradients")
    assert_no_exception(page)
    expect(page.locator(PLOTLY_CHART)).to_have_count(3)  # retries: charts mount just after the run ends
    # the per-step Jacobian chart, computed last, sits right below the main chart and shares its lag axis
    main, steps = (page.locator(PLOTLY_CHART).nth(i).bounding_box() for i in (0, 1))
    assert 0 <= steps["y"] - (main["y"] + main["height"]) < 40 and abs(steps["x"] - main["x"]) < 1
    assert any("stretches or shrinks" in t for t in chart_texts(page, 1))
    expect(page.get_by_text("Computing each step's Jacobian norm…")).to_have_count(0)
    assert [m.split(":")[0] for m in page.locator('[data-testid="stMetricLabel"]').all_inner_texts()] == [
        "RNN", "LSTM", "GRU"]
    saliency = page.locator(".rnnviz-saliency")
    assert saliency.count() == 1 and saliency.locator("span[title]").count() == 200  # one element per token
    # what the browser paints: each model's largest value in (nearly) its own colour, and many shades in between;
    # a token's background is one band per model, each coloured by that model's class
    painted = saliency.evaluate("el => [...el.querySelectorAll('.tokens > span')].map(s => { const c = "
                                "getComputedStyle(s); return [s.className, [0, 1, 2].map(m => "
                                "c.getPropertyValue(`--c${m}`).trim()), c.backgroundImage]; })")
    shades = {cls: color for classes, colors, _ in painted for cls, color in zip(classes.split(), colors, strict=True)}
    assert shades["m0s20"] == "#da4647" and shades["m1s20"] == "#3f8abe"
    assert len(set(shades.values())) > 10
    assert all(image.startswith("linear-gradient") and image.count("rgb") >= 3 for _, _, image in painted)
    assert not [t for t in chart_texts(page) if "overflow" in t]
    save_screenshot(page, "gradients", full_page=False)
    # the per-unit heatmaps are images (painted on the server); hovering one still reads out that cell's value
    heat = page.locator(PLOTLY_CHART).nth(2)
    images = heat.locator(".imagelayer image")
    expect(images).to_have_count(3)
    heat.scroll_into_view_if_needed()
    box = images.nth(1).bounding_box()  # the LSTM's panel
    assert box["width"] > 300 and box["height"] > 100
    page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] * 0.5)
    hover = heat.locator(".hoverlayer .hovertext")
    expect(hover).to_contain_text(re.compile(r"LSTM · step \d+ · unit \d+"))
    expect(hover).to_contain_text(re.compile(r"log₁₀ \|dL/dh\| / ‖dL/dh_T‖ = −?-?\d+\.\d\d"))


def test_gain_past_one_on_a_long_sequence_marks_the_overflow(page):
    open_page(page, "gradients")
    if not sidebar(page).get_by_role("radio", name="Random (untrained)").is_checked():
        with expect_rerun(page):
            sidebar(page).get_by_text("Random (untrained)", exact=True).click()
    init = sidebar(page).locator('[data-testid="stSelectbox"]').filter(has_text="Recurrent init")
    init.scroll_into_view_if_needed()  # a click that has to scroll the sidebar first focuses the box, unopened
    with expect_rerun(page):
        init.click()
        page.get_by_role("option", name="Orthogonal × gain").click()
    generate(page, 1000)
    assert not [t for t in chart_texts(page) if "overflow" in t]  # gain 1: nothing overflows

    thumb = sidebar(page).locator('[data-testid="stSlider"]').filter(has_text="Gain").get_by_role("slider")
    with expect_rerun(page, timeout_s=120):
        thumb.focus()
        thumb.press("End")  # the largest gain, 2.0
    assert_no_exception(page)
    assert sidebar(page).locator('[data-testid="stSlider"]').filter(has_text="Gain").get_by_text("2.00").count()
    notes = [t for t in chart_texts(page) if "overflow" in t]
    assert notes and notes[0].startswith("⚠ RNN")
    assert page.get_by_text("Exploding gradients").is_visible()
    assert page.get_by_text("Why it overflows, and what gradient clipping does").is_visible()
    save_screenshot(page, "gradients-exploding", full_page=False)


def test_picking_cells_adds_them_to_every_view_and_to_the_link(page):
    """Random models open on RNN, LSTM and GRU; clicking the LEAKY and ESN pills adds their cards and their lines
    on both charts, the link keeps the choice, and the link opened anew shows the same five."""
    open_page(page, "gradients?grad_source=Random+%28untrained%29")
    expect(page.locator('[data-testid="stMetricLabel"]')).to_have_count(3)
    pills = sidebar(page).locator('[data-testid="stButtonGroup"]')
    for cell in ("LEAKY", "ESN"):
        with expect_rerun(page, timeout_s=120):
            pills.get_by_role("button", name=cell, exact=True).click()
    assert_no_exception(page)
    labels = [m.split(":")[0] for m in page.locator('[data-testid="stMetricLabel"]').all_inner_texts()]
    assert labels == ["RNN", "LSTM", "GRU", "LEAKY", "ESN"]
    expect(page.locator(PLOTLY_CHART).nth(1).locator(".scatterlayer .js-line")).to_have_count(6)  # + LSTM max f_t
    assert re.search(r"grad_cells=LEAKY.*grad_cells=ESN|grad_cells=ESN.*grad_cells=LEAKY", page.url)
    again = page.context.new_page()
    open_page(again, page.url.split("/", 3)[3])
    expect(again.locator('[data-testid="stMetricLabel"]')).to_have_count(5)
    assert_no_exception(again)
    again.close()
