"""The memory figures hold the numbers they are given: medians, bands, r²_k, totals and bounds."""

import numpy as np
import pytest

from rnnviz.figures import ShapeError, capacity_figure, capacity_scan_figure, lag_sweep_figure
from rnnviz.reservoir import MemoryCapacity
from rnnviz.sweep import summarize

RUNS = [{"cell": c, "lag": lag, "seed": s, "value": v} for c, lag, s, v in (
    ("rnn", 5, 0, 0.9), ("rnn", 5, 1, 0.7), ("rnn", 50, 0, 0.1), ("rnn", 50, 1, 0.2),
    ("esn", 5, 0, 1.0), ("esn", 5, 1, 1.0), ("esn", 50, 0, 0.15), ("esn", 50, 1, 0.1))]


def result(metric="accuracy"):
    return {"config": {"task": "recall", "cells": ["rnn", "esn"]}, "metric": metric, "chance": 0.125,
            "summary": summarize(RUNS), "runs": RUNS}


def test_lag_sweep_median_and_band():
    fig = lag_sweep_figure(result())
    lines = [t for t in fig.data if t.name]
    assert [t.name for t in lines] == ["RNN", "ESN"]
    rnn = lines[0]
    assert list(rnn.x) == [5, 50] and list(rnn.y) == pytest.approx([0.8, 0.15])
    hi, lo = fig.data[0], fig.data[1]  # the band of the RNN: best seed, then worst seed filled up to it
    assert list(hi.y) == pytest.approx([0.9, 0.2]) and list(lo.y) == pytest.approx([0.7, 0.1])
    assert lo.fill == "tonexty"
    assert fig.layout.xaxis.type == "log"
    assert any(s.y0 == 0.125 for s in fig.layout.shapes)  # chance
    assert "median 0.800" in rnn.text[0]


def test_lag_sweep_mse_metric_and_bad_input():
    fig = lag_sweep_figure(result("1 - mse/baseline"))
    assert any(s.y0 == 0 for s in fig.layout.shapes)
    assert "MSE" in fig.layout.yaxis.title.text
    with pytest.raises(ShapeError, match="summary"):
        lag_sweep_figure({"runs": []})


def test_capacity_figures():
    mc = MemoryCapacity(np.array([1.0, 0.8, 0.3]), bound=10, steps=100)
    fig = capacity_figure([("ESN <b>", "esn", mc)])
    (trace,) = fig.data
    assert list(trace.x) == [1, 2, 3] and list(trace.y) == pytest.approx([1.0, 0.8, 0.3])
    assert "MC = 2.1 of N = 10" in trace.name and "<b>" not in trace.name  # escaped
    scan = capacity_scan_figure([0.5, 0.9], [3.0, 5.0], 10, 0.9, "ρ")
    assert list(scan.data[0].y) == [3.0, 5.0]
    assert {s.y0 for s in scan.layout.shapes if s.y0 is not None} >= {10}
    with pytest.raises(ShapeError):
        capacity_scan_figure([0.5], [1.0, 2.0], 10, 0.5, "ρ")
