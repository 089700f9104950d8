"""/gradients without a browser: every control reaches the chart, and the chart holds GradFlow's numbers.

Most tests first shrink the random models to 16 units so each rerun takes a fraction of a second.
"""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

import pages.shared
import rnnviz.assets
from rnnviz import InitConfig, Model, ModelConfig
from rnnviz.flows import generated_text
from rnnviz.tasks import Recall
from tests.app.helpers import ok
from tests.app.test_app import APP

PAGE = "pages/gradients.py"
TIMEOUT_S = 120


def open_page(hidden: int | None = 16) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S).run()
    at.switch_page(PAGE).run()
    ok(at)
    if hidden is not None:  # random models, made small
        if at.radio(key="grad_source").value != "Random":
            ok(at.radio(key="grad_source").set_value("Random").run())
        at.select_slider(key="grad_hidden").set_value(hidden).run()
        ok(at)
    return at


def figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def array(v) -> np.ndarray:
    """A Plotly array from the figure JSON: a list, or a typed array {"dtype", "bdata"(, "shape")}."""
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        return a.reshape([int(n) for n in str(v["shape"]).split(",")]) if "shape" in v else a
    return np.array([np.nan if e is None else e for e in v], dtype=float)


def curve(fig: dict, prefix: str) -> np.ndarray:
    (trace,) = [t for t in fig["data"] if t.get("name", "").startswith(prefix)]
    return array(trace["y"])


def names(fig: dict) -> list[str]:
    return [t.get("name", "") for t in fig["data"]]


def heat_rows(at: AppTest) -> list[int]:
    """Units per heatmap panel: the rows of each image's values (and of the image itself)."""
    rows = []
    for t in figures(at)[2]["data"]:
        if t["type"] == "image":
            assert t["source"].startswith("data:image/png;base64,")
            rows.append(array(t["customdata"]).shape[0])
    return rows


def test_default_view_compares_three_cells():
    at = open_page(hidden=None)
    assert "Gradient flow" in [t.value for t in at.title]
    expected = "Pretrained" if rnnviz.assets.list_pretrained("recall") else "Random"
    assert at.radio(key="grad_source").value == expected
    assert [m.label.split(":")[0] for m in at.metric] == ["RNN", "LSTM", "GRU"]
    flow, jacobian, heat = figures(at)  # the per-step Jacobian chart, computed last, sits right below the main one
    # each chart carries a digest of itself, so the browser draws it once (rnnviz.figures.with_revision)
    assert all(len(f["layout"].get("datarevision", "")) == 24 for f in (flow, jacobian, heat))
    assert flow["layout"]["yaxis"]["type"] == "log"
    for cell in ("RNN", "LSTM", "GRU"):
        y = curve(flow, f"{cell} ‖dL/dh‖")
        assert y[0] == 1.0 and len(y) == 200  # normalized at lag 0; the default sequence has 200 steps
        step = curve(jacobian, f"{cell} ‖∂h_t/∂h_t−1‖")
        assert len(step) == 200 and np.all(np.isfinite(step) & (step > 0))
    assert names(jacobian).count("LSTM max forget gate f_t") == 1
    assert "Computing" not in " ".join(c.value for c in at.caption)  # the space kept for it was filled
    (table,) = at.dataframe
    assert table.value["typical step ‖∂h_t/∂h_t−1‖"].map(float).gt(0).all()
    rnn, bound = curve(flow, "RNN ‖dL/dh‖"), curve(flow, "RNN bound")
    both = np.isfinite(rnn) & np.isfinite(bound)
    assert both.sum() > 20 and np.all(rnn[both] <= bound[both] * (1 + 1e-5))  # the default (pretrained) models too
    cards = rnnviz.assets.list_pretrained("recall")
    assert heat_rows(at) == ([c["hidden_size"] for c in sorted(cards, key=lambda c: "rnn lstm gru".index(c["cell"]))]
                             if cards else [128, 128, 128])
    (html,) = at.get("html")
    assert html.proto.body.count('<span class="m0s') == 200  # the RNN's row: one shaded cell per token
    (math,) = at.expander
    assert "\\frac" in math.markdown[0].value and "constant error carousel" in math.markdown[0].value
    assert not at.error and not at.warning


@pytest.mark.parametrize("settings", [{}, {"grad_nonlin": "relu", "grad_scheme": "orthogonal", "grad_gain": 0.9},
                                      {"grad_scheme": "identity", "grad_gain": 1.0}])
def test_rnn_curve_stays_under_its_bound_on_the_page(settings):
    at = open_page()
    for key, value in settings.items():
        at.session_state[key] = value
    ok(at.run())
    flow = figures(at)[0]
    rnn, bound = curve(flow, "RNN ‖dL/dh‖"), curve(flow, "RNN bound")
    both = np.isfinite(rnn) & np.isfinite(bound)
    assert both.sum() > 20
    assert np.all(rnn[both] <= bound[both] * (1 + 1e-5))
    if "grad_gain" in settings:
        assert f"σ_max = {settings['grad_gain']:.3g}" in [n for n in names(flow) if "bound" in n][0]


def test_size_layers_and_seeds_reach_the_models():
    at = open_page()
    assert heat_rows(at) == [16] * 3  # RNN, LSTM, GRU
    at.number_input(key="grad_layers").set_value(2)
    at.number_input(key="grad_seeds").set_value(3)
    ok(at.run())
    flow = figures(at)[0]
    assert "median of 3 seeds" in names(flow)[[n.startswith("RNN ‖dL/dh‖") for n in names(flow)].index(True)]
    assert sum(t.get("fill") == "tonexty" for t in flow["data"]) >= 3  # a min–max band per model
    assert at.select_slider(key="grad_layer").value == 2  # the top layer is shown by default
    assert any("bound" in n for n in names(flow))
    top_steps = curve(figures(at)[1], "LSTM ‖∂h_t/∂h_t−1‖")
    at.select_slider(key="grad_layer").set_value(1)
    ok(at.run())
    assert not any("bound" in n for n in names(figures(at)[0]))
    low_steps = curve(figures(at)[1], "LSTM ‖∂h_t/∂h_t−1‖")  # computed for the layer shown, on demand
    assert np.isfinite(top_steps).all() and np.isfinite(low_steps).all() and not np.array_equal(top_steps, low_steps)
    assert any("not the top one" in c.value for c in at.caption)
    before = curve(figures(at)[0], "LSTM ‖dL/dh‖")
    at.number_input(key="grad_seed").set_value(7)
    ok(at.run())
    assert not np.array_equal(before, curve(figures(at)[0], "LSTM ‖dL/dh‖"))


def test_forget_bias_and_chrono_init_lengthen_the_lstm_memory():
    at = open_page()

    def lstm_horizon() -> int:
        return int(re.search(r"\d[\d,]*", at.metric[1].value).group().replace(",", ""))

    at.slider(key="grad_forget").set_value(-2.0)
    ok(at.run())
    short = lstm_horizon()
    at.slider(key="grad_forget").set_value(5.0)
    ok(at.run())
    assert lstm_horizon() > 3 * short
    rnn = at.metric[0].value
    at.slider(key="grad_forget").set_value(-2.0)
    at.number_input(key="grad_chrono").set_value(400)
    ok(at.run())
    assert lstm_horizon() > 3 * short
    assert at.metric[0].value == rnn  # the RNN has no forget gate: its models are unchanged


def test_nonlinearity_init_and_gain_change_the_rnn():
    at = open_page()
    base = curve(figures(at)[0], "RNN ‖dL/dh‖")
    assert at.slider(key="grad_gain").disabled  # the default init has no gain
    at.radio(key="grad_nonlin").set_value("relu")
    ok(at.run())
    relu = curve(figures(at)[0], "RNN ‖dL/dh‖")
    assert not np.array_equal(base, relu)
    at.selectbox(key="grad_scheme").set_value("orthogonal")
    ok(at.run())
    assert not at.slider(key="grad_gain").disabled
    at.slider(key="grad_gain").set_value(0.6)
    ok(at.run())
    bound = [n for n in names(figures(at)[0]) if "bound" in n][0]
    assert "σ_max = 0.6" in bound
    assert "below 1, so the bound forces the gradient to vanish" in " ".join(c.value for c in at.caption)


def test_objective_and_threshold():
    at = open_page()
    sum_curve = curve(figures(at)[0], "RNN ‖dL/dh‖")
    at.radio(key="grad_objective").set_value("next_token")
    ok(at.run())
    assert not np.array_equal(sum_curve, curve(figures(at)[0], "RNN ‖dL/dh‖"))
    at.select_slider(key="grad_threshold").set_value(1e-9)
    ok(at.run())
    lines = [s["y0"] for s in figures(at)[0]["layout"]["shapes"] if s.get("yref") == "y" and s["type"] == "line"]
    assert sorted(lines) == [1e-9, 1e-3]
    assert "≥ 1e-09" in at.caption[1].value or any("≥ 1e-09" in c.value for c in at.caption)
    (table,) = at.dataframe
    assert "horizon ≥ 1e-09" in table.value.columns


@pytest.mark.parametrize("kind", ["recall_blank", "recall_noise", "random"])
def test_generate_fills_the_sequence_box(kind):
    at = open_page()
    at.selectbox(key="grad_gen_kind").set_value(kind)
    at.number_input(key="grad_gen_length").set_value(300)
    at.button(key="grad_generate").click()  # in the same run as the edits, as when a user types and clicks
    ok(at.run())
    text = at.text_area(key="grad_sequence").value
    assert text == generated_text(kind, 300, seed=1)
    assert len(curve(figures(at)[0], "GRU ‖dL/dh‖")) == 300


def test_typed_text_is_escaped_and_blank_text_asks_for_input():
    at = open_page()
    text = 'x<img src=x onerror=alert(1)></textarea> 👋🏽 世界 $\\frac{1}{0}$ **b**'
    at.text_area(key="grad_sequence").set_value(text)
    ok(at.run())
    (html,) = at.get("html")
    assert "<img" not in html.proto.body and "</textarea>" not in html.proto.body and "&lt;" in html.proto.body
    assert len(curve(figures(at)[0], "RNN ‖dL/dh‖")) == len(text)
    at.text_area(key="grad_sequence").set_value("  \n ")
    ok(at.run())
    assert at.info and not at.get("plotly_chart")


def test_exploding_gain_is_marked_and_explained():
    at = open_page()
    at.radio(key="grad_nonlin").set_value("relu")
    at.selectbox(key="grad_scheme").set_value("identity")
    ok(at.run())
    at.slider(key="grad_gain").set_value(1.5)
    at.number_input(key="grad_gen_length").set_value(400)
    ok(at.run())
    at.button(key="grad_generate").click()
    ok(at.run())
    assert "Exploding gradients" in at.warning[0].value
    assert at.metric[0].value == "undefined"
    flow = figures(at)[0]
    notes = [a["text"] for a in flow["layout"]["annotations"] if "overflow" in a["text"]]
    assert notes and "RNN" in notes[0]
    clipping = [e for e in at.expander if "clipping" in e.label]
    assert clipping and "rescales the whole gradient" in clipping[0].markdown[0].value


def test_missing_sources_explain_themselves():
    at = open_page()
    for source, hint in [("Trained here", "No model has been trained"), ("Uploaded", "Upload a checkpoint")]:
        at.radio(key="grad_source").set_value(source)
        ok(at.run())
        assert any(hint in i.value for i in at.info) and not at.get("plotly_chart")


def test_models_trained_in_this_session_are_shown():
    at = open_page()
    recall = Recall(lag=20)
    trained = {f"lstm-{i}": {"model": Model(ModelConfig(cell="lstm", hidden_size=8), recall.vocab,
                                             generator=torch.Generator().manual_seed(i)), "card": {}} for i in range(2)}
    trained["series"] = {"model": Model(ModelConfig(cell="gru", hidden_size=4, encoder="float", input_size=1,
                                                    head="regress", output_size=1)), "card": {}}
    trained["bi"] = {"model": Model(ModelConfig(cell="rnn", hidden_size=6, bidirectional=True, head="none"),
                                    recall.vocab), "card": {}}
    at.session_state[pages.shared.TRAINED_KEY] = trained
    at.radio(key="grad_source").set_value("Trained here")
    ok(at.run())
    assert at.multiselect(key="grad_trained").value == ["lstm-0", "lstm-1", "series"]  # the first three
    at.multiselect(key="grad_trained").set_value(list(trained))
    ok(at.run())
    (error,) = at.error  # a model of numbers cannot read the text; the others still draw
    assert error.value.startswith("GRU · series: This model reads numbers")
    assert [m.label.split(":")[0] for m in at.metric] == ["LSTM · lstm\\-0", "LSTM · lstm\\-1", "RNN · bi"]
    assert heat_rows(at) == [8, 8, 6]
    assert any("forward direction is shown" in c.value for c in at.caption)
    at.radio(key="grad_objective").set_value("next_token")
    ok(at.run())
    assert "RNN · bi: The next-token objective needs a model with a classifier head." in [e.value for e in at.error]


def test_pretrained_long_lag_models_are_the_default_when_bundled(monkeypatch):
    """Stand-in cards and models through the same loaders the page uses, until assets/ has the real ones."""
    recall = Recall(lag=50)
    models = {f"test-recall-{c}": Model(ModelConfig(cell=c, hidden_size=8, output_size=8), recall.vocab,
                                        InitConfig(forget_bias=1.0)) for c in ("gru", "rnn", "lstm")}
    cards = [{"name": n, "group": "recall", "cell": m.cell, "title": f"{m.cell.upper()} on recall"}
             for n, m in models.items()]
    monkeypatch.setattr(rnnviz.assets, "list_pretrained", lambda group=None: cards if group in (None, "recall") else [])
    monkeypatch.setattr(pages.shared, "load_pretrained", lambda name: (models[name], {"config": {}, "cell": name}))
    at = open_page(hidden=None)
    assert at.radio(key="grad_source").value == "Pretrained"
    assert [m.label.split(":")[0] for m in at.metric] == ["RNN", "LSTM", "GRU"]
    assert len(curve(figures(at)[0], "LSTM ‖dL/dh‖")) == 200
    assert "Pretrained models: Trained to name the first symbol" in " ".join(c.value for c in at.caption)


def test_the_page_opens_on_three_cells_and_each_picked_cell_reaches_every_view():
    """RNN, LSTM and GRU open the page; picking LEAKY and ESN adds their card, their lines on both charts (drawn,
    not legend-only, each under its bound), their strip rows and their heatmaps; no cell picked says so."""
    at = open_page()
    assert at.pills(key="grad_cells").value == ["rnn", "lstm", "gru"]
    assert [m.label.split(":")[0] for m in at.metric] == ["RNN", "LSTM", "GRU"]
    assert {t["legendgroup"] for t in figures(at)[0]["data"] if "legendgroup" in t} == {"RNN", "LSTM", "GRU"}
    at.pills(key="grad_cells").set_value(["rnn", "lstm", "gru", "leaky", "esn"]).run()
    ok(at)
    assert [m.label.split(":")[0] for m in at.metric] == ["RNN", "LSTM", "GRU", "LEAKY", "ESN"]
    flow, jacobian = figures(at)[:2]
    assert all(trace.get("visible", True) is True for trace in flow["data"])
    assert {t["name"].split()[0] for t in jacobian["data"] if "y" in t} == {"RNN", "LSTM", "GRU", "LEAKY", "ESN"}
    for cell in ("LEAKY", "ESN"):
        y, bound = curve(flow, f"{cell} ‖dL/dh‖"), curve(flow, f"{cell} bound ((1 − α) + αγσ_max)^k")
        both = np.isfinite(y) & np.isfinite(bound)
        assert y[0] == 1.0 and both.sum() > 20
        assert np.all(y[both] <= bound[both] * (1 + 1e-5))
    assert "LEAKY: dotted, its bound" in " ".join(c.value for c in at.caption)
    assert heat_rows(at) == [16] * 5
    strip = at.html[0].value
    assert strip.count(" m4s") + strip.count(" m4u") == 200 and " m5" not in strip  # five bands on every token
    at.pills(key="grad_cells").set_value(["esn"]).run()
    ok(at)
    assert [m.label.split(":")[0] for m in at.metric] == ["ESN"]
    at.pills(key="grad_cells").set_value([]).run()
    assert not at.exception and not at.error and not at.get("plotly_chart")
    assert "Pick at least one cell in the sidebar." in [i.value for i in at.info]


def test_flows_and_step_norms_share_one_forward_pass_per_model(monkeypatch):
    """On a cache miss the flow and the step norms of a model reuse one trace made in that run (RunTraces); on a
    rerun that hits both caches nothing is traced. Counted on the page's own traces."""
    at = open_page()
    made = []
    real = pages.shared.trace

    def counting(model, x):
        made.append(model.fingerprint())
        return real(model, x)

    monkeypatch.setattr(pages.shared, "trace", counting)
    at.number_input(key="grad_seed").set_value(7).run()  # new models: every cache misses
    ok(at)
    assert len(made) == len(set(made)) == len(at.metric) == 3  # RNN, LSTM, GRU
    jacobian = figures(at)[1]
    assert {t["name"].split()[0] for t in jacobian["data"] if "y" in t} == {"RNN", "LSTM", "GRU"}
    assert all(np.isfinite(array(t["y"])).all() for t in jacobian["data"] if "y" in t)
    made.clear()
    at.select_slider(key="grad_threshold").set_value(1e-9).run()  # the same models and input: cached
    ok(at)
    assert made == []


def test_run_traces_trace_each_model_and_input_once(monkeypatch):
    """RunTraces answers the same model and input with one trace; another input object, even an equal one, or
    another model gets its own (RunTraces keeps each input, so no freed input's id can stand for a new one)."""
    made = []
    real = pages.shared.trace
    monkeypatch.setattr(pages.shared, "trace", lambda model, x: made.append(x) or real(model, x))
    model = Model(ModelConfig(cell="gru", hidden_size=4, encoder="float", input_size=2, head="none"))
    traces = pages.shared.RunTraces()
    x = torch.randn(5, 2)
    first = traces.get(model, "m", x)
    assert traces.get(model, "m", x) is first and len(made) == 1
    other = traces.get(model, "m", x.clone())
    assert other is not first and len(made) == 2
    np.testing.assert_array_equal(other["h"], first["h"])
    assert traces.get(model, "other", x) is not first and len(made) == 3


def test_step_norms_start_with_the_flows_and_are_solved_once_per_model(monkeypatch):
    """A cold draw starts each model's step norms on NORM_WORKERS as soon as its flow has traced it, before the
    backward passes and the charts (RunTraces.prefetch), and the Jacobian chart and the table, two parallel
    fragments, both take those results: one solve per model, not one per fragment. A rerun that hits the caches
    solves nothing; changing only the objective misses the flows' cache and starts the norms once more, whose own
    cache then answers (the cost that RunTraces' docstring states)."""
    at = open_page()
    solved, order = [], []
    real_norms, real_flow = pages.shared.step_norms, pages.shared.gradient_flow

    def norms(model, x, layer=None, tr=None):
        solved.append((model.fingerprint(), layer))
        return real_norms(model, x, layer, tr=tr)

    def flow(model, x, **kw):
        order.append(("flow", model.fingerprint()))
        return real_flow(model, x, **kw)

    def submit(fn, model, *args, **kw):
        order.append(("norms", model.fingerprint()))
        return real_submit(fn, model, *args, **kw)

    real_submit = pages.shared.NORM_WORKERS.submit
    monkeypatch.setattr(pages.shared, "step_norms", norms)
    monkeypatch.setattr(pages.shared, "gradient_flow", flow)
    monkeypatch.setattr(pages.shared.NORM_WORKERS, "submit", submit)
    at.number_input(key="grad_seed").set_value(11).run()  # new models: every cache misses
    ok(at)
    assert len(solved) == len(set(solved)) == 3 and {layer for _, layer in solved} == {0}
    assert [what for what, _ in order] == ["norms", "flow"] * 3  # each model's norms start before its backward pass
    assert [key for _, key in order[::2]] == [key for _, key in order[1::2]]
    assert sorted(key for key, _ in solved) == sorted(key for _, key in order[::2])
    table = at.dataframe[0].value
    assert len(table) == 3 and all(v != "—" for v in table.iloc[:, 5])  # typical step: from the norms
    solved.clear()
    at.select_slider(key="grad_threshold").set_value(1e-9).run()
    ok(at)
    assert solved == []
    at.radio(key="grad_objective").set_value("next_token").run()
    ok(at)
    assert len(solved) == 3 and not at.error


def test_run_traces_hand_back_the_norms_they_started():
    """RunTraces.norms returns the task RunTraces.prefetch started for the same model, input and layer (not a new
    one), and its result is step_norms' own, solved on a worker thread; another layer is its own task."""
    model = Model(ModelConfig(cell="lstm", hidden_size=8, num_layers=2, encoder="float", input_size=3, head="none"))
    x = torch.randn(40, 3)
    runs = pages.shared.RunTraces()
    runs.prefetch(model, "m", x, 1)
    task = runs.norms(model, "m", x, 1)
    assert runs.norms(model, "m", x, 1) is task
    np.testing.assert_array_equal(task.result(), pages.shared.step_norms(model, x, 1))
    other = runs.norms(model, "m", x, 0)
    assert other is not task
    np.testing.assert_array_equal(other.result(), pages.shared.step_norms(model, x, 0))
