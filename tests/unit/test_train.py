"""Trainer: learning, callbacks, clipping, fair races, divergence, the command line and its long-lag claim."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from rnnviz.checkpoint import load
from rnnviz.errors import ConfigError
from rnnviz.tasks import make_task
from rnnviz.train import Trainer, main, measure_overhead


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models train no faster on two threads, and on a busy machine two spinning threads are far slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_loss_falls_on_letters_within_a_few_hundred_steps():
    task = make_task("letters", mode="four")
    trainer = Trainer(task.build_model(), task, flow_steps=())
    trainer.step(300)
    first, last = trainer.history.evals[0], trainer.history.evals[-1]
    assert first["step"] == 0 and last["step"] == 300
    assert last["loss"] < 0.25 * first["loss"] and last["accuracy"] == 1.0
    losses = trainer.history.column("loss")
    assert losses.shape == (300,) and losses[-20:].mean() < 0.5 * losses[:20].mean()


def test_callbacks_fire_on_steps_evaluations_and_gradient_flow():
    task = make_task("recall", lag=6)
    events = []
    trainer = Trainer(task.build_model(hidden_size=8), task, eval_every=5, flow_steps=(0, 10), flow_every=None,
                      callbacks=[lambda tr, event, record: events.append((event, record["step"]))])
    trainer.step(7)
    trainer.step(5)
    assert [s for e, s in events if e == "step"] == list(range(1, 13))
    assert [s for e, s in events if e == "eval"] == [0, 5, 10]
    assert [s for e, s in events if e == "flow"] == [0, 10]
    assert sorted(trainer.flows) == [0, 10] and trainer.flows[10].shape == (1, 1, 7)  # [layer, direction, time]
    assert np.isfinite(trainer.flows[0]).all() and trainer.flows[0][0, 0, -1] > 0


def test_a_callback_can_stop_training():
    task = make_task("letters")

    def stop_at_3(trainer, event, record):
        if event == "step" and record["step"] == 3:
            trainer.stop = True

    trainer = Trainer(task.build_model(), task, callbacks=[stop_at_3], flow_steps=())
    assert trainer.step(10)["step"] == 3 and trainer.step_count == 3
    trainer.callbacks.clear()
    trainer.step(2)
    assert trainer.step_count == 5


def test_clipping_is_recorded_with_the_norm_before_clipping():
    task = make_task("letters")
    tiny = Trainer(task.build_model(), task, clip=1e-4, flow_steps=())
    tiny.step(10)
    assert all(r["clipped"] and r["grad_norm"] > 1e-4 for r in tiny.history.steps)
    assert tiny.history.clip_steps == list(range(1, 11))
    off = Trainer(task.build_model(), task, clip=None, flow_steps=())
    off.step(10)
    assert not any(r["clipped"] for r in off.history.steps) and off.clip is None
    # the norm recorded before clipping is the same whether or not clipping then shrinks the step
    assert tiny.history.steps[0]["grad_norm"] == pytest.approx(off.history.steps[0]["grad_norm"], rel=1e-5)


def test_same_seed_same_race_and_the_task_defaults_apply():
    task = make_task("recall", lag=5)
    a, b = (Trainer(task.build_model(hidden_size=8, seed=1), task, seed=4, flow_steps=()) for _ in range(2))
    a.step(15)
    b.step(15)
    np.testing.assert_array_equal(a.history.column("loss"), b.history.column("loss"))
    assert (a.optimizer_name, a.lr, a.batch_size, a.clip) == ("adam", task.defaults.lr, 32, 1.0)
    c = Trainer(task.build_model(hidden_size=8, seed=1), task, seed=5, flow_steps=())
    c.step(15)
    assert not np.array_equal(a.history.column("loss"), c.history.column("loss"))


@pytest.mark.parametrize("optimizer", ["sgd", "rmsprop"])
def test_other_optimizers_train(optimizer):
    task = make_task("letters")
    trainer = Trainer(task.build_model(), task, optimizer=optimizer, lr=0.5 if optimizer == "sgd" else 1e-2,
                      flow_steps=())
    trainer.step(150)
    assert trainer.history.evals[-1]["loss"] < trainer.history.evals[0]["loss"]


def test_bad_settings_raise_config_errors():
    task = make_task("letters")
    with pytest.raises(ConfigError, match="optimizer"):
        Trainer(task.build_model(), task, optimizer="lbfgs")
    with pytest.raises(ConfigError, match="learning rate"):
        Trainer(task.build_model(), task, lr=float("nan"))
    with pytest.raises(ConfigError, match="clipping"):
        Trainer(task.build_model(), task, clip=-1)


def test_a_nan_loss_marks_divergence_and_keeps_the_weights():
    task = make_task("sine", length=200, window=10)
    model = task.build_model(hidden_size=4)
    trainer = Trainer(model, task, flow_steps=(), eval_every=None)
    trainer.step(2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    task.batch = lambda n, g=None: (torch.full((n, 10, 1), float("nan")), torch.zeros(n, 1))
    trainer.step(5)
    assert trainer.diverged and trainer.step_count == 3
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_regression_and_text_tasks_report_their_metrics():
    sine = make_task("sine", length=300, window=10)
    trainer = Trainer(sine.build_model(hidden_size=8), sine, eval_every=20, flow_steps=(0,))
    trainer.step(40)
    assert trainer.history.evals[-1]["accuracy"] is None and trainer.history.evals[-1]["loss"] < 0.2
    text = make_task("text", text="abcabcabd " * 40, seq_len=12)
    trainer = Trainer(text.build_model(hidden_size=16), text, eval_every=50, flow_steps=(0,))
    trainer.step(100)
    ev = trainer.history.evals
    assert ev[-1]["bpc"] < ev[0]["bpc"] and ev[-1]["bpc"] == pytest.approx(ev[-1]["loss"] / np.log(2))
    card = trainer.card()
    assert card["task"]["name"] == "text" and card["training"]["steps"] == 100 and card["init"]["forget_bias"] == 1.0


def test_command_line_prints_json_and_saves_a_checkpoint(tmp_path, capsys):
    path = tmp_path / "letters.safetensors"
    assert main(["--task", "letters", "--mode", "four", "--steps", "200", "--seed", "1", "--json",
                 "--save", str(path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["steps"] == 200 and result["accuracy"] == 1.0 and result["seconds"] > 0
    assert {"loss", "solved_at", "cell", "task_params"} <= set(result)
    model, card = load(path)
    assert card["task"]["mode"] == "four" and card["metrics"]["accuracy"] == 1.0 and model.cell == "rnn"
    assert main(["--task", "recall", "--lag", "900", "--json"]) == 2
    assert "lag" in capsys.readouterr().err


def test_trainer_overhead_is_measured_side_by_side():
    result = measure_overhead("letters", "rnn", steps=5, rounds=2)
    assert result["ratio"] > 0 and result["callback_calls"] == 5 + 5 * 2 and result["bare_ms"] > 0


def _cli(*args):
    command = [sys.executable, "-m", "rnnviz.train", *args, "--threads", "1", "--json"]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    return json.loads(out.stdout)


@pytest.mark.slow
def test_lstm_solves_recall_at_lag_100_while_the_vanilla_rnn_stays_near_chance():
    lstm = _cli("--task", "recall", "--lag", "100", "--cell", "lstm", "--steps", "1000", "--seed", "0")
    assert lstm["accuracy"] >= 0.99 and lstm["solved_at"] is not None and lstm["solved_at"] <= 1000
    rnn = _cli("--task", "recall", "--lag", "100", "--cell", "rnn", "--steps", "1000", "--seed", "0")
    assert rnn["accuracy"] < 0.25  # chance is 1/8
