"""/memory without a browser: the shipped sweep's numbers reach the chart, memory capacity is rnnviz's, a live
sweep runs to the end, and a sweep too large for a session is refused before it starts."""

from __future__ import annotations

import json
import statistics

import pytest
from streamlit.testing.v1 import AppTest

from rnnviz import Model, ModelConfig, memory_capacity
from rnnviz.assets import ASSETS
from tests.app.helpers import ok
from tests.app.test_app import APP
from tests.app.test_gradients import array

PAGE = "pages/memory.py"


def open_page() -> AppTest:
    at = ok(AppTest.from_file(APP, default_timeout=180).run())
    at.switch_page(PAGE)
    return ok(at.run())


def figures(at: AppTest) -> dict[str, dict]:
    return {chart.proto.id: json.loads(chart.proto.spec) for chart in at.get("plotly_chart")}


def chart(at: AppTest, title_part: str) -> dict:
    found = [f for f in figures(at).values() if title_part in f["layout"]["title"]["text"]]
    assert len(found) == 1, [f["layout"]["title"]["text"] for f in figures(at).values()]
    return found[0]


def metric(at: AppTest, label: str) -> str:
    (m,) = [m for m in at.metric if m.label.startswith(label)]
    return m.value


def test_shipped_sweep_medians_reach_the_chart():
    shipped = json.loads((ASSETS / "sweep_recall.json").read_text())
    at = open_page()
    fig = chart(at, "Success against lag")
    lines = {t["name"]: t for t in fig["data"] if t.get("name")}
    assert set(lines) == {"RNN", "Leaky RNN", "ESN", "LSTM", "GRU"}
    by = {}
    for r in shipped["runs"]:  # medians over seeds, computed here from the raw runs
        by.setdefault((r["cell"], r["lag"]), []).append(r["value"])
    for name, cell in (("RNN", "rnn"), ("ESN", "esn"), ("LSTM", "lstm")):
        xs, ys = list(array(lines[name]["x"])), list(array(lines[name]["y"]))
        assert xs == sorted(shipped["config"]["lags"])
        assert ys == pytest.approx([statistics.median(by[cell, lag]) for lag in xs])
    assert not at.warning  # the default live sweep fits a session


def test_memory_capacity_is_rnnvizs_and_moves_with_rho():
    at = open_page()
    model = Model(ModelConfig(cell="esn", hidden_size=50, encoder="float", input_size=1, head="none", leak=1.0,
                              input_scaling=0.1))
    expected = memory_capacity(model, max_delay=100).total
    assert float(metric(at, "Memory capacity")) == pytest.approx(expected, abs=0.006)
    assert metric(at, "Bound N") == "50"
    at.slider(key="memory_rho").set_value(0.5).run()
    ok(at)
    lower = Model(ModelConfig(cell="esn", hidden_size=50, encoder="float", input_size=1, head="none", leak=1.0,
                              input_scaling=0.1, spectral_radius=0.5))
    assert float(metric(at, "Memory capacity")) == pytest.approx(memory_capacity(lower, max_delay=100).total,
                                                                 abs=0.006)
    scan = chart(at, "against spectral radius")
    assert array(scan["data"][0]["x"])[0] == 0.1


def test_a_live_sweep_runs_to_the_end_and_is_drawn():
    at = open_page()
    at.selectbox(key="memory_task").set_value("adding").run()
    at.multiselect(key="memory_lags").set_value([5]).run()
    at.multiselect(key="memory_cells").set_value(["rnn", "esn"]).run()
    at.number_input(key="memory_seeds").set_value(1).run()
    at.number_input(key="memory_steps").set_value(10).run()
    ok(at)
    at.button(key="memory_start").click().run()
    for _ in range(30):
        if at.session_state["memory_status"] == "done":
            break
        ok(at.run())
    assert at.session_state["memory_status"] == "done"
    ok(at.run())
    fig = chart(at, "Success against lag: Adding problem")  # the newest result is shown
    assert {t["name"] for t in fig["data"] if t.get("name")} == {"RNN", "ESN"}
    runs = at.session_state["memory_live"].runs
    esn = next(r for r in runs if r["cell"] == "esn")
    line = next(t for t in fig["data"] if t.get("name") == "ESN")
    assert list(array(line["y"])) == pytest.approx([esn["value"]])


def test_a_sweep_too_large_for_a_session_says_so():
    at = open_page()
    at.multiselect(key="memory_lags").set_value([5, 10, 20, 50, 100, 200]).run()
    at.number_input(key="memory_seeds").set_value(5).run()
    at.number_input(key="memory_steps").set_value(2000).run()
    ok(at)
    (warning,) = at.warning
    assert "a session runs sweeps of up to 3 min" in warning.value
    assert at.button(key="memory_start").disabled
