"""rnnviz.figures.train: the live training charts are built from RunCurves arrays and hold exactly their numbers."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from rnnviz.figures import accuracy_figure, grad_norm_figure, loss_figure, train_flow_figure
from rnnviz.figures.train import binned
from rnnviz.race import RunCurves


def run(cell="lstm", n=10, clipped=(), evals=(0, 5, 10), diverged_at=None, flow_step=None, T=6) -> RunCurves:
    steps = np.arange(1, n + 1, dtype=float)
    mask = np.isin(steps, clipped)
    flow0 = 10.0 ** -np.arange(T, dtype=float)[::-1]  # [time]: the last step has the largest gradient
    return RunCurves(name=cell.upper(), cell=cell, steps=steps, loss=2.0 / steps, accuracy=steps / n,
                     grad_norm=np.linspace(0.5, 5, n), clipped=mask, eval_steps=np.array(evals, dtype=float),
                     eval_loss=np.array([2.0, 1.0, 0.5][: len(evals)]),
                     eval_accuracy=np.array([0.1, 0.5, 1.0][: len(evals)]),
                     flow_step=flow_step, flow=None if flow_step is None else flow0 * 2, flow0=flow0,
                     diverged_at=diverged_at)


def traces(fig: go.Figure) -> dict[str, go.Scatter]:
    return {t.name: t for t in fig.data}


def test_loss_has_train_and_validation_for_every_run_on_a_log_axis():
    fig = loss_figure([run("rnn"), run("lstm")], x_max=100)
    assert list(traces(fig)) == ["RNN train", "RNN validation", "LSTM train", "LSTM validation"]
    assert fig.layout.yaxis.type == "log" and fig.layout.xaxis.range[1] == pytest.approx(101.5)
    t = traces(fig)
    np.testing.assert_allclose(t["LSTM train"].y, 2.0 / np.arange(1, 11))
    np.testing.assert_array_equal(t["LSTM validation"].x, [0, 5, 10])
    assert t["RNN train"].line.color != t["LSTM train"].line.color


def test_loss_draws_a_baseline_to_beat():
    fig = loss_figure([run()], unit="mean squared error", baseline=(0.02, "persistence: next = last"))
    line = traces(fig)["persistence: next = last: 0.02"]
    assert list(line.y) == [0.02, 0.02] and fig.layout.yaxis.title.text == "mean squared error"


def test_accuracy_marks_chance():
    fig = accuracy_figure([run()], chance=1 / 8)
    chance = traces(fig)["chance 12.5%"]
    assert list(chance.y) == [0.125, 0.125] and chance.line.dash == "dash"
    assert list(fig.layout.yaxis.range) == [0, 1.03] and fig.layout.yaxis.tickformat == ".0%"
    assert "chance" not in " ".join(traces(accuracy_figure([run()])))  # no chance level, no line


def test_accuracy_says_so_when_the_task_has_none():
    fig = accuracy_figure([run()], scored=False)
    assert not fig.data and "no accuracy" in fig.layout.annotations[0].text


def test_clipping_is_marked_at_the_clipped_steps():
    fig = grad_norm_figure([run(clipped=(3, 7)), run("rnn")], clip=1.0)
    t = traces(fig)
    marks = t["LSTM clipped (2 steps)"]
    np.testing.assert_array_equal(marks.x, [3, 7])
    np.testing.assert_allclose(marks.y, np.linspace(0.5, 5, 10)[[2, 6]])
    assert not [n for n in t if n.startswith("RNN clipped")]
    assert list(t["clipping threshold 1"].y) == [1.0, 1.0] and fig.layout.yaxis.type == "log"


def test_many_clipped_steps_are_thinned_to_real_ones():
    fig = grad_norm_figure([run(n=2000, clipped=range(1, 2001, 2))], clip=1.0, max_markers=50)
    marks = traces(fig)["LSTM clipped (1,000 steps)"]
    assert len(marks.x) == 50 and marks.x[0] == 1 and marks.x[-1] == 1999
    assert all(x % 2 == 1 for x in marks.x)


def test_gradient_norm_bins_keep_the_largest_value():
    n = 1000
    r = run(n=n)
    spiky = RunCurves(**{**r.__dict__, "grad_norm": np.where(np.arange(n) == 500, 1e3, 1.0)})
    line = traces(grad_norm_figure([spiky], max_points=100))["LSTM ‖∇‖"]
    assert len(line.x) == 100 and max(line.y) == 1e3


def test_binned_keeps_its_bin_width_while_a_run_grows():
    x = np.arange(1, 11, dtype=float)
    bx, by = binned(x, x, max_points=250, span=1000)  # bins of 4 steps, as the full 1,000-step run will have
    np.testing.assert_array_equal(bx, [4, 8, 10])
    np.testing.assert_allclose(by, [2.5, 6.5, 9.5])
    same = binned(x, x, max_points=250)
    np.testing.assert_array_equal(same[1], x)
    _, with_gap = binned(x, np.where(x > 8, np.nan, x), max_points=5)
    assert np.isnan(with_gap[-1]) and not np.isnan(with_gap[:-1]).any()


def test_gradient_flow_is_drawn_against_lag_now_and_at_step_zero():
    fig = train_flow_figure([run(flow_step=40), run("rnn", flow_step=0)])
    t = traces(fig)
    assert list(t) == ["LSTM at step 0", "LSTM at step 40", "RNN at step 0"]  # at step 0: drawn once
    np.testing.assert_array_equal(t["LSTM at step 40"].x, np.arange(6))
    np.testing.assert_allclose(t["LSTM at step 0"].y, 10.0 ** -np.arange(6))  # lag 0 is the last time step
    assert t["LSTM at step 0"].line.dash == "dash" and t["LSTM at step 40"].line.dash == "solid"
    assert fig.layout.yaxis.type == "log"


def test_underflow_leaves_a_gap_on_the_log_axis():
    r = run(flow_step=3)
    r = RunCurves(**{**r.__dict__, "flow": np.array([0.0, 0.0, 1e-3, 1e-2, 0.1, 1.0])})
    y = traces(train_flow_figure([r]))["LSTM at step 3"].y
    assert np.isnan(y[-2:]).all() and y[0] == 1.0


def test_a_diverged_run_is_marked_where_it_stopped():
    fig = loss_figure([run(diverged_at=9), run("rnn")])
    (shape,) = fig.layout.shapes
    assert shape.x0 == shape.x1 == 9
    assert fig.layout.annotations[0].text == "⚠ LSTM diverged at step 9"


def test_names_are_escaped_for_plotly_text():
    r = RunCurves(**{**run().__dict__, "name": "<b>x</b> 100%"})
    fig = loss_figure([r])
    assert traces(fig)["&lt;b&gt;x&lt;/b&gt; 100&#37; train"]


def test_no_runs_give_a_message_not_an_error():
    for fig in (loss_figure([]), accuracy_figure([]), grad_norm_figure([]), train_flow_figure([])):
        assert not fig.data and fig.layout.annotations


def test_figures_from_a_real_race():
    from rnnviz.race import Race, RaceConfig

    race = Race(RaceConfig(task="recall", params=(("lag", 3),), cells=("rnn", "gru"), hidden_size=4, batch_size=8),
                eval_every=4)
    race.advance(8)
    race.snapshot_flows()
    runs = race.curves()
    t = traces(accuracy_figure(runs, race.task.chance, x_max=100))
    assert len(t["GRU train"].x) == 8 and list(t["GRU validation"].x) == [0, 4, 8]
    assert list(traces(train_flow_figure(runs))) == ["RNN at step 0", "RNN at step 8", "GRU at step 0", "GRU at step 8"]


def test_accuracy_draws_each_baseline_as_a_line_with_its_value():
    fig = accuracy_figure([run()], baselines=[(0.8125, "bag of characters"), (0.5, "majority class")], x_max=40)
    t = traces(fig)
    bag, majority = t["bag of characters 81.2%"], t["majority class 50.0%"]
    assert list(bag.y) == [0.8125, 0.8125] and list(majority.y) == [0.5, 0.5]
    assert list(bag.x) == [0, fig.layout.xaxis.range[1]]  # across the whole axis
    assert bag.line.dash != majority.line.dash and "validation accuracy" in bag.hovertemplate
    zh = traces(accuracy_figure([run()], baselines=[(0.8125, "bag of characters")], lang="zh"))
    assert not any("bag of characters" in name for name in zh) and len(zh) == 3
