"""python -m rnnviz.sweep on a tiny grid: its JSON, its progress bar, its scores reproduced by hand."""

import json

import pytest
import torch

from rnnviz import ConfigError
from rnnviz.reservoir import fit_readout
from rnnviz.sweep import SweepConfig, main, summarize
from rnnviz.tasks import make_task
from rnnviz.train import Trainer


def test_cli_tiny_grid(capsys):
    code = main(["--task", "adding", "--lags", "4,6", "--cells", "rnn,esn", "--seeds", "2", "--steps", "3",
                 "--hidden", "6", "--json", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert code == 0
    result = json.loads(out.strip().splitlines()[-1])
    assert "4/8" in err and "8/8" in err  # the progress bar
    assert result["complete"] and len(result["runs"]) == 8 and result["metric"] == "1 - mse/baseline"
    assert result["config"]["lags"] == [4, 6] and result["config"]["steps"] == 3 and result["device"] == "cpu"
    run = next(r for r in result["runs"] if r["cell"] == "rnn" and r["lag"] == 6 and r["seed"] == 1)
    task = make_task("adding", length=6, seed=1)  # the same run, by hand
    model = task.build_model("rnn", 6, seed=1)
    trainer = Trainer(model, task, seed=1, eval_every=None, flow_steps=())
    trainer.step(3)
    loss = trainer.evaluate()["loss"]
    y = task.validation()[1]
    baseline = torch.mean((y - 1) ** 2).item()
    assert run["baseline"] == pytest.approx(baseline) and run["value"] == pytest.approx(1 - loss / baseline)
    esn = next(r for r in result["runs"] if r["cell"] == "esn" and r["lag"] == 4 and r["seed"] == 0)
    task = make_task("adding", length=4, seed=0)
    model = task.build_model("esn", 6, seed=0, leak=0.5)
    assert esn["loss"] == pytest.approx(fit_readout(model, task, samples=2048, seed=0)["loss"])
    assert esn["steps"] == 0
    values = [r["value"] for r in result["runs"] if r["cell"] == "esn" and r["lag"] == 6]
    assert result["summary"]["esn"]["6"] == {"median": pytest.approx(sum(values) / 2), "min": min(values),
                                              "max": max(values), "n": 2}


def test_recall_reports_accuracy(capsys):
    assert main(["--task", "recall", "--lags", "3", "--cells", "lstm", "--seeds", "1", "--steps", "2",
                 "--hidden", "4", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["metric"] == "accuracy" and result["chance"] == pytest.approx(1 / 8)
    assert result["runs"][0]["value"] == result["runs"][0]["accuracy"]


def test_bad_grids_are_refused_with_a_sentence(capsys):
    assert main(["--task", "temporal_order", "--lags", "5", "--cells", "rnn", "--seeds", "1"]) == 2
    assert "sequence length must be a whole number from 10" in capsys.readouterr().err
    assert main(["--task", "recall", "--lags", "5", "--cells", "rnn,transformer"]) == 2
    assert "Pick cells among" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="limit is 500"):
        SweepConfig(lags=tuple(range(1, 101)), seeds=2)


def test_stop_keeps_what_ran():
    from rnnviz.sweep import sweep

    calls = []
    result = sweep(SweepConfig(task="adding", lags=(4,), cells=("esn", "rnn"), seeds=2, steps=1, hidden_size=4),
                   on_run=lambda done, total, rec: calls.append((done, total)), should_stop=lambda: len(calls) >= 3,
                   device="cpu")
    assert calls == [(1, 4), (2, 4), (3, 4)] and not result["complete"] and len(result["runs"]) == 3


def test_summary_median_and_range():
    runs = [{"cell": "rnn", "lag": 5, "value": v} for v in (0.2, 0.9, 0.4)]
    assert summarize(runs) == {"rnn": {"5": {"median": 0.4, "min": 0.2, "max": 0.9, "n": 3}}}


def test_live_sweep_in_slices_gives_the_same_runs():
    from rnnviz.sweep import LiveSweep, sweep

    config = SweepConfig(task="adding", lags=(4, 6), cells=("rnn", "esn"), seeds=1, steps=25, hidden_size=4,
                         esn_samples=64)
    whole_run = sweep(config, device="cpu")
    live = LiveSweep(config, device="cpu")
    seen = []
    while not live.done:
        live.advance(0.0)  # at least one chunk of 10 steps (or one ESN fit) per call
        seen.append(live.progress)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) > 4  # 3 chunks per trained run
    for a, b in zip(live.result()["runs"], whole_run["runs"], strict=True):
        assert (a["cell"], a["lag"], a["steps"]) == (b["cell"], b["lag"], b["steps"])
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-6)


def test_estimate_scales_with_the_work():
    from rnnviz.sweep import costs_from, estimate_seconds, work

    config = SweepConfig(task="recall", lags=(5, 20), cells=("lstm", "esn"), seeds=2, steps=10)
    costs = {"lstm": 1e-6, "esn": 2e-6}
    doubled = SweepConfig(task="recall", lags=(5, 20), cells=("lstm", "esn"), seeds=2, steps=20)
    esn = 2 * 2e-6 * (work(config, "esn", 5) + work(config, "esn", 20))
    assert estimate_seconds(doubled, costs) - esn == pytest.approx(2 * (estimate_seconds(config, costs) - esn))
    assert work(config, "lstm", 20) == 10 * 32 * 21  # steps × batch × (lag + 1) time steps
    runs = [{"cell": "lstm", "lag": 20, "seconds": 0.5}, {"cell": "lstm", "lag": 5, "seconds": 3.0},
            {"cell": "lstm", "lag": 5, "seconds": 1.0}]
    measured = costs_from({"config": {"task": "recall", "lags": [5, 20], "cells": ["lstm"], "seeds": 2,
                                      "steps": 10}, "runs": runs})
    assert measured["lstm"] == pytest.approx(1.0 / (10 * 32 * 6))  # the median of the three
