"""rnnviz.race: cells race in lockstep on identical batches; snapshots, publishing and the arrays for the charts."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
import torch

import rnnviz.race as race_module
from rnnviz import ConfigError, InitConfig
from rnnviz.checkpoint import load, save
from rnnviz.race import Race, RaceConfig, describe_card, file_name, parse_number, step_flops, task_label
from rnnviz.reservoir import fit_readout
from rnnviz.tasks import make_task


def tiny(cells=("rnn", "lstm"), eval_every=5, **kw) -> Race:
    config = RaceConfig(task="recall", params=(("lag", 3),), cells=cells, hidden_size=4, batch_size=8, **kw)
    return Race(config, eval_every=eval_every)


def test_cells_train_in_lockstep_on_the_same_batches():
    race = tiny(("gru", "rnn", "lstm"))
    assert list(race.trainers) == ["rnn", "lstm", "gru"]  # always in the same order
    race.advance(7)
    assert race.step == 7 and [len(t.history.steps) for t in race.trainers.values()] == [7, 7, 7]
    states = [t.generator.get_state() for t in race.trainers.values()]
    assert all(torch.equal(states[0], s) for s in states[1:])  # same draws so far, so the same batches
    assert race.task is race.trainers["rnn"].task is race.trainers["gru"].task


def test_a_new_race_has_its_step_zero_validation_and_gradient_flow():
    race = tiny()
    for trainer in race.trainers.values():
        assert [e["step"] for e in trainer.history.evals] == [0] and list(trainer.flows) == [0]
    race.advance(3)
    assert [e["step"] for e in race.trainers["lstm"].history.evals] == [0]  # not evaluated twice at step 0


def test_a_time_budget_ends_a_slice_early_and_keeps_the_cells_level():
    race = tiny()
    done = race.advance(10_000, budget_s=0.05)
    assert 1 <= done < 10_000 and race.step == done
    assert len({t.step_count for t in race.trainers.values()}) == 1


def test_advance_stops_at_the_race_step_cap(monkeypatch):
    monkeypatch.setattr(race_module, "MAX_RACE_STEPS", 6)
    race = tiny(("lstm",))
    assert race.advance(100) == 6 and race.advance(5) == 0 and race.step == 6


def test_gradient_flow_keeps_step_zero_and_the_newest():
    race = tiny()
    for _ in range(3):
        race.advance(2)
        race.snapshot_flows()
    assert sorted(race.trainers["rnn"].flows) == [0, 6]
    curves = {c.cell: c for c in race.curves()}
    assert curves["rnn"].flow_step == 6 and curves["rnn"].flow.shape == curves["rnn"].flow0.shape == (4,)


def test_curves_hold_the_history_as_arrays():
    race = tiny(clip=1e-3)  # a tiny threshold: every step is clipped
    race.advance(10)
    lstm = {c.cell: c for c in race.curves()}["lstm"]
    history = race.trainers["lstm"].history
    np.testing.assert_array_equal(lstm.steps, np.arange(1, 11))
    np.testing.assert_allclose(lstm.loss, [r["loss"] for r in history.steps])
    np.testing.assert_array_equal(lstm.eval_steps, [0, 5, 10])
    assert lstm.clipped.all() and lstm.diverged_at is None and lstm.name == "LSTM"


def test_snapshots_follow_validation_passes_and_are_copies():
    race = tiny()
    race.advance(7)
    model, card = race.snapshots["lstm"]
    assert card["title"] == "LSTM · recall lag 3 · step 5" and card["training"]["steps"] == 5
    assert card["cell"] == "lstm" and card["hidden_size"] == 4 and card["task"]["lag"] == 3  # a full model card
    assert model is not race.trainers["lstm"].model and not model.training
    before = model.rnn.weight_hh_l0.detach().clone()
    race.advance(1)
    assert torch.equal(model.rnn.weight_hh_l0, before)  # training goes on in the trainer's own model


def test_a_dropped_race_is_freed_at_once_without_the_garbage_collector():
    # A closed session drops its race; were the race and its trainers a reference cycle, their models, optimizer
    # state and history would wait for a full collection, which on a busy server's large heap comes rarely.
    race = tiny()
    race.advance(6)  # step callbacks and a snapshot have run
    race.publish({}, 12)
    lstm = race.trainers["lstm"]
    refs = [weakref.ref(x) for x in (race, lstm, lstm.model, lstm.optimizer, race.snapshots["rnn"][0])]
    del lstm
    gc.disable()
    try:
        del race
        assert [r() is None for r in refs] == [True] * len(refs)
    finally:
        gc.enable()


def test_snapshot_now_evaluates_a_stale_model_once():
    race = tiny(eval_every=50)
    race.advance(3)
    race.snapshot_now()
    evals = race.trainers["rnn"].history.evals
    assert [e["step"] for e in evals] == [0, 3]
    assert race.snapshots["rnn"][1]["metrics"]["step"] == 3
    race.snapshot_now()
    assert len(race.trainers["rnn"].history.evals) == 2


def test_a_published_model_round_trips_through_a_checkpoint():
    race = tiny(("lstm",))
    race.advance(5)
    model, card = race.snapshots["lstm"]
    loaded, loaded_card = load(save(model, None, card))
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    assert loaded_card["title"] == card["title"] and loaded_card["init"]["chrono_tmax"] == 6


def test_publish_replaces_the_race_s_own_names_and_bounds_the_store():
    store = {"LSTM · older run": {"model": None, "card": {}}}
    race = tiny()
    race.advance(5)
    assert race.publish(store, limit=10) == ["RNN · recall lag 3 · step 5", "LSTM · recall lag 3 · step 5"]
    race.advance(5)
    race.publish(store, limit=10)
    assert list(store) == ["LSTM · older run", "RNN · recall lag 3 · step 10", "LSTM · recall lag 3 · step 10"]
    other = tiny(("gru",))
    other.advance(5)
    other.publish(store, limit=3)  # the oldest entry goes first
    assert list(store) == ["RNN · recall lag 3 · step 10", "LSTM · recall lag 3 · step 10",
                           "GRU · recall lag 3 · step 5"]


def test_a_diverged_cell_stops_and_says_where():
    config = RaceConfig(task="adding", params=(("length", 10),), cells=("rnn", "lstm"), hidden_size=8,
                        optimizer="sgd", lr=10.0, clip=None, init=InitConfig(forget_bias=1.0))
    race = Race(config)
    race.advance(60)
    assert race.diverged and not race.live and race.advance(5) == 0
    for curve in race.curves():
        assert curve.diverged_at == race.diverged[curve.cell]


def test_config_refuses_no_cells_and_repeated_ones():
    with pytest.raises(ConfigError, match="at least one cell"):
        RaceConfig(cells=())
    with pytest.raises(ConfigError, match="at most once"):
        RaceConfig(cells=("lstm", "lstm"))


@pytest.mark.parametrize("text, value", [("0.003", 0.003), (" 3e-3 ", 0.003), ("1E-2", 0.01), (".5", 0.5),
                                         ("2.5e-1", 0.25)])
def test_parse_number_reads_plain_and_exponent_forms(text, value):
    assert parse_number("learning rate", text, 1e-7, 10) == pytest.approx(value)


@pytest.mark.parametrize("text, message", [("nan", "finite"), ("-inf", "finite"), ("", "Type a learning rate"),
                                           ("3e-3x", "not a number"), ("1,5", "not a number"),
                                           ("100", "between 1e-07 and 10"), ("0", "between")])
def test_parse_number_refuses_with_a_sentence(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_number("learning rate", text, 1e-7, 10)


def test_task_labels_name_the_main_parameter():
    assert task_label(make_task("recall", lag=100)) == "recall lag 100"
    assert task_label(make_task("recall", lag=7, filler="noise")) == "recall lag 7, noise"
    assert task_label(make_task("letters", mode="four")) == "letters (four in)"
    assert task_label(make_task("temporal_order", length=20)) == "temporal order length 20"
    assert task_label(make_task("text", text="hello world, " * 10)) == "text (yours)"


def test_settings_past_the_work_limit_are_refused_before_training():
    config = RaceConfig(task="recall", params=(("lag", 500),), cells=("rnn", "lstm"), hidden_size=256,
                        batch_size=512)
    with pytest.raises(ConfigError, match="billion operations per training step"):
        Race(config)
    Race(RaceConfig(task="recall", params=(("lag", 500),), cells=("rnn", "lstm"), hidden_size=64), evaluate=False)


def test_step_flops_counts_gates_layers_and_directions():
    task = make_task("recall", lag=9)
    rnn, lstm = task.build_model("rnn", 8), task.build_model("lstm", 8)
    assert step_flops(lstm, 10, 4) > 3 * step_flops(rnn, 10, 4)
    two = task.build_model("lstm", 8, num_layers=2)
    assert step_flops(two, 10, 4) > step_flops(lstm, 10, 4)


def test_a_card_is_described_in_one_line_and_named_for_download():
    race = tiny(("lstm",))
    race.advance(5)
    _, card = race.snapshots["lstm"]
    line = describe_card(card)
    assert line.startswith("4 units · validation accuracy ") and line.endswith("at step 5 · adam lr 0.003, batch 8")
    assert describe_card({"hidden_size": "<b>", "metrics": [1, 2], "training": "x"}) == ""  # a hostile card
    assert describe_card({"metrics": {"accuracy": "1", "loss": 0.5}}) == "validation loss 0.5"
    assert file_name(card["title"]) == "lstm-recall-lag-3-step-5.safetensors"
    assert file_name("../../ü") == "model.safetensors"


def test_leaky_trains_by_bptt_and_the_esn_is_one_ridge_fit():
    race = tiny(("esn", "leaky", "rnn"))
    assert list(race.trainers) == ["rnn", "leaky", "esn"]
    esn = race.trainers["esn"].model
    twin = race.task.build_model("esn", 4, None, 0)  # the same reservoir, fitted here independently
    expected = fit_readout(twin, race.task, seed=0)
    assert race.fits["esn"] == expected
    torch.testing.assert_close(esn.head.weight, twin.head.weight, rtol=0, atol=0)
    leaky_before = [p.detach().clone() for p in race.trainers["leaky"].model.parameters()]
    head_before = esn.head.weight.detach().clone()
    race.advance(6)
    assert race.step == 6 and race.trainers["leaky"].step_count == 6 and race.trainers["esn"].step_count == 0
    assert torch.equal(esn.head.weight, head_before)  # no step touches the fitted ESN
    leaky_after = list(race.trainers["leaky"].model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(leaky_before, leaky_after, strict=True))
    (curve,) = [c for c in race.curves() if c.cell == "esn"]
    x, y = race.task.validation()
    with torch.no_grad():
        metrics = race.task.metrics(esn.eval()(x)[0], y)
    np.testing.assert_allclose(curve.eval_steps, [0, 6])
    np.testing.assert_allclose(curve.eval_loss, [metrics["loss"]] * 2, rtol=1e-6)
    np.testing.assert_allclose(curve.eval_accuracy, [metrics["accuracy"]] * 2, rtol=1e-6)
    assert len(curve.steps) == 0 and curve.flow is not None and np.all(np.isfinite(curve.flow))


def test_the_esn_races_only_on_tasks_answered_at_the_last_step():
    for task in ("recall", "adding", "temporal_order"):
        RaceConfig(task=task, cells=("esn", "lstm"))
    with pytest.raises(ConfigError, match="recall, adding and temporal order"):
        RaceConfig(task="letters", cells=("esn",))
    RaceConfig(task="letters", cells=("leaky",))


def test_sentiment_baselines_are_fitted_on_the_race_s_own_split():
    """The lines a race draws are the task's baselines fitted in the run: on typed reviews that one character
    separates, the bag of characters is right on every held-out review, and the majority class scores the share of
    held-out labels equal to the training majority, counted here."""
    lines = "\n".join(f"+ 好{c}" for c in "一二三四五六七八") + "\n" + "\n".join(f"- 差{c}" for c in "一二三四五六")
    race = Race(RaceConfig(task="sentiment", params=(("texts", lines),), cells=("lstm",), hidden_size=4,
                           batch_size=4), evaluate=False)
    assert race.has_baselines and race.accuracy_baselines == []  # nothing drawn until measured
    race.measure_baselines()
    train = [lab for _, lab in race.task.train_pairs]
    val = np.array([lab for _, lab in race.task.val_pairs])
    top = int(np.mean(train) >= 0.5)
    assert race.accuracy_baselines == [(1.0, "bag of characters"), (pytest.approx(np.mean(val == top)),
                                                                     "majority class")]
    race.advance(1)
    race.snapshot_now()
    assert race.snapshots["lstm"][1]["baselines"]["bag_of_chars"] == 1.0  # the card records what it had to beat
    assert not tiny().has_baselines and tiny().accuracy_baselines == []


def test_word_baselines_read_the_reviews_as_the_model_does():
    """English reviews are read in lower case, so GOOD in a held-out review is the word good of the training ones."""
    lines = "\n".join(["+ good film", "+ good plot", "+ so good", "- bad film", "- bad plot", "- so bad",
                       "+ GOOD", "- BAD"])
    race = Race(RaceConfig(task="sentiment", params=(("texts", lines),), cells=("lstm",), hidden_size=4,
                           batch_size=4), evaluate=False)
    race.task.val_pairs = [("GOOD", 1), ("Bad", 0)]  # the held-out part, whatever the shuffle put there
    values = race.measure_baselines({"bag_of_chars": 0.75, "majority": 0.5})
    assert values == {"bag_of_chars": 0.75, "majority": 0.5}  # a page passes the values it cached for the task
    assert [name for _, name in race.accuracy_baselines] == ["bag of words", "majority class"]
    assert race.task.baselines()["bag_of_chars"] == 1.0
