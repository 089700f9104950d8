"""/memory in a real browser: the success-against-lag chart draws every cell's median and band from the shipped
sweep, and the memory-capacity chart follows the spectral-radius slider with rnnviz's own numbers."""

import json
import re
import statistics

import pytest
from playwright.sync_api import expect

from rnnviz import Model, ModelConfig, memory_capacity
from rnnviz.assets import ASSETS
from tests.e2e.helpers import PLOTLY_CHART, TIMEOUT_S, assert_no_exception, expect_rerun, open_page, save_screenshot

pytestmark = pytest.mark.e2e
READ = ("e => e.querySelector('.js-plotly-plot')._fullData"  # a trace out of the legend (a band's edge): no name
        ".map(t => [t.showlegend ? t.name : '', Array.from(t.x), Array.from(t.y)])")


def chart(page, title: str):
    found = page.locator(PLOTLY_CHART).filter(has=page.locator(".gtitle", has_text=title))
    expect(found).to_have_count(1, timeout=TIMEOUT_S * 1000)
    return found


def test_sweep_chart_draws_medians_and_bands(page):
    open_page(page, "memory")
    assert_no_exception(page)
    shipped = json.loads((ASSETS / "sweep_recall.json").read_text())
    sweep = chart(page, "Success against lag")
    traces = sweep.evaluate(READ)
    lines = {name: (x, y) for name, x, y in traces if name}
    assert set(lines) == {"RNN", "Leaky RNN", "ESN", "LSTM", "GRU"}
    values = {}
    for r in shipped["runs"]:
        values.setdefault((r["cell"], r["lag"]), []).append(r["value"])
    x, y = lines["LSTM"]
    assert x == sorted(shipped["config"]["lags"])
    assert y == pytest.approx([statistics.median(values["lstm", lag]) for lag in x])
    assert sweep.locator("path.js-fill").count() >= 5  # one shaded band per cell
    ticks = [t.text_content() for t in sweep.locator(".xtick text").all()]
    assert ticks == [str(lag) for lag in x]
    save_screenshot(page, "memory")


def test_capacity_follows_the_spectral_radius(page):
    open_page(page, "memory")
    name, _, r2 = next(t for t in chart(page, "recall the input").evaluate(READ))
    base = ModelConfig(cell="esn", hidden_size=50, encoder="float", input_size=1, head="none", leak=1.0,
                       input_scaling=0.1)
    assert float(re.search(r"MC = ([\d.]+)", name).group(1)) == pytest.approx(
        memory_capacity(Model(base), max_delay=100).total, abs=0.051)
    assert len(r2) == 100 and 0.9 < r2[0] <= 1
    thumb = page.get_by_role("slider", name="Spectral radius ρ")
    thumb.focus()
    with expect_rerun(page):
        thumb.press("ArrowLeft")  # one step of 0.05: ρ = 0.85
    assert_no_exception(page)
    name, _, _ = next(t for t in chart(page, "recall the input").evaluate(READ))
    from dataclasses import replace

    expected = memory_capacity(Model(replace(base, spectral_radius=0.85)), max_delay=100).total
    assert float(re.search(r"MC = ([\d.]+)", name).group(1)) == pytest.approx(expected, abs=0.051)
