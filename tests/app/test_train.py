"""/train without a browser: settings build a race, Step and Play train it, Reset starts over, the models reach the
other pages (and come back as uploads), and bad input or a diverged run gives a sentence instead of a traceback.

Most tests shrink the race to recall at lag 5 with 4 hidden units, so each step takes milliseconds.
"""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from pages.shared import TRAINED_KEY
from rnnviz.checkpoint import save
from tests.app.helpers import ok
from tests.app.test_app import APP
from tests.app.test_gradients import array

PAGE = "pages/train.py"
TIMEOUT_S = 120


def open_page(lag: int | None = 5, hidden: int | None = 4) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S).run()
    at.switch_page(PAGE).run()
    ok(at)
    if lag is not None:
        ok(at.number_input(key="train_lag").set_value(lag).run())
    if hidden is not None:
        ok(at.number_input(key="train_hidden").set_value(hidden).run())
    return at


def race(at: AppTest):
    return at.session_state["train_race"]


def figures(at: AppTest) -> dict[str, dict]:
    out = {}
    for chart in at.get("plotly_chart"):
        fig = json.loads(chart.proto.spec)
        out[fig["layout"]["title"]["text"]] = fig
    return out


def trace(fig: dict, name: str) -> dict:
    (found,) = [t for t in fig["data"] if t.get("name") == name]
    return found


def step(at: AppTest, size: int = 10) -> AppTest:
    if at.selectbox(key="train_step_size").value != size:
        at.selectbox(key="train_step_size").set_value(size).run()
    return ok(at.button(key="train_step").click().run())


def play_for_slices(at: AppTest, slices: int):
    """Play toward step 5,000 until the scheduler's job has trained ``slices`` slices (a minute at most)."""
    ok(at.number_input(key="train_target").set_value(5000).run())
    ok(at.segmented_control(key="train_play").set_value("play").run())
    job = at.session_state["train_job"]
    for _ in range(1200):
        if job.slices >= slices:
            break
        job.wait(0.05)
    return job


def test_default_view_is_the_recall_race_at_step_zero():
    at = open_page(lag=None, hidden=None)
    assert [t.value for t in at.title] == ["Train live"]
    assert at.selectbox(key="train_task").value == "recall" and at.number_input(key="train_lag").value == 100
    assert at.multiselect(key="train_cells").value == ["rnn", "lstm"]
    assert at.text_input(key="train_lr").value == "0.003" and at.radio(key="train_gates").value == "chrono"
    assert at.number_input(key="train_chrono").value == 200  # the task's default: twice the lag
    assert at.segmented_control(key="train_play").value == "pause"
    assert race(at).step == 0 and [m.label for m in at.metric] == ["RNN · validation accuracy",
                                                                   "LSTM · validation accuracy"]
    figs = figures(at)
    assert set(figs) == {"Loss", "Accuracy", "Gradient norm (before clipping)",
                         "Gradient flow through time: now vs step 0"}
    accuracy = figs["Accuracy"]
    assert array(trace(accuracy, "chance 12.5%")["y"]).tolist() == [0.125, 0.125]
    assert array(trace(accuracy, "LSTM validation")["x"]).tolist() == [0]  # step 0 is evaluated before training
    assert any("Why the LSTM remembers" in e.label for e in at.expander)


def test_step_trains_every_cell_and_publishes_the_models():
    at = open_page()
    step(at, 10)
    r = race(at)
    assert r.step == 10 and all(len(t.history.steps) == 10 for t in r.trainers.values())
    loss = figures(at)["Loss"]
    assert array(trace(loss, "LSTM train")["x"])[-1] == 10  # in bins of 4 steps: 1,000 steps make 250 points
    assert "Step 10 of 1,000" in at.get("progress")[0].proto.text
    store = at.session_state[TRAINED_KEY]
    assert list(store) == ["RNN · recall lag 5 · step 10", "LSTM · recall lag 5 · step 10"]
    entry = store["LSTM · recall lag 5 · step 10"]
    assert entry["card"]["training"]["steps"] == 10 and entry["model"] is not r.trainers["lstm"].model
    step(at, 1)
    assert race(at).step == 11 and list(at.session_state[TRAINED_KEY])[-1] == "LSTM · recall lag 5 · step 11"


def test_reset_starts_over_and_keeps_the_published_models():
    at = open_page()
    step(at, 10)
    before = race(at)
    ok(at.button(key="train_reset").click().run())
    assert race(at) is not before and race(at).step == 0
    assert "Step 0 of 1,000" in at.get("progress")[0].proto.text
    assert "LSTM · recall lag 5 · step 10" in at.session_state[TRAINED_KEY]


def test_play_trains_to_the_step_count_then_pauses():
    at = open_page()
    ok(at.number_input(key="train_target").set_value(12).run())
    ok(at.segmented_control(key="train_play").set_value("play").run())
    assert at.session_state["train_job"].wait(60)  # the server's scheduler trains it in the background
    ok(at.run())
    assert race(at).step == 12
    assert at.segmented_control(key="train_play").value == "pause"
    assert at.segmented_control(key="train_play").disabled  # nothing left to play until "Train for" grows


def test_settings_follow_the_task_defaults_unless_changed():
    at = open_page(lag=None, hidden=None)
    ok(at.text_input(key="train_lr").set_value("0.01").run())
    ok(at.number_input(key="train_lag").set_value(40).run())
    assert at.number_input(key="train_chrono").value == 80  # followed the lag
    assert at.text_input(key="train_lr").value == "0.01"  # changed by the user: kept
    ok(at.selectbox(key="train_task").set_value("letters").run())
    assert at.number_input(key="train_hidden").value == 3 and at.number_input(key="train_clip").value == 0.0
    assert at.radio(key="train_gates").value == "default"
    ok(at.button(key="train_defaults").click().run())
    assert at.text_input(key="train_lr").value == "0.01"  # the letters default happens to be 1e-2 as well
    assert race(at).config.task == "letters" and race(at).config.hidden_size == 3


def test_a_race_and_its_settings_survive_a_visit_to_another_page():
    at = open_page()
    step(at, 10)
    trained = race(at)
    ok(at.switch_page("pages/home.py").run())
    ok(at.switch_page(PAGE).run())
    assert race(at) is trained and race(at).step == 10
    assert at.number_input(key="train_lag").value == 5 and at.number_input(key="train_hidden").value == 4
    assert not at.info or all("differ" not in i.value for i in at.info)


def test_changed_settings_wait_for_reset_once_training_started():
    at = open_page()
    step(at, 10)
    ok(at.number_input(key="train_lag").set_value(6).run())
    assert race(at).step == 10 and race(at).task.lag == 5
    assert any("press Reset" in i.value for i in at.info)
    ok(at.button(key="train_reset").click().run())
    assert race(at).task.lag == 6 and race(at).step == 0


def test_a_trained_model_opens_on_the_gradients_page():
    at = open_page()
    step(at, 10)
    ok(at.switch_page("pages/gradients.py").run())
    ok(at.radio(key="grad_source").set_value("Trained here").run())
    assert any("LSTM · recall lag 5 · step 10" in m.label for m in at.metric)


def test_an_uploaded_checkpoint_joins_the_trained_models():
    at = open_page()
    step(at, 10)
    entry = at.session_state[TRAINED_KEY]["LSTM · recall lag 5 · step 10"]
    data = save(entry["model"], None, entry["card"])
    ok(at.file_uploader(key="train_upload").set_value(("lstm.safetensors", data, "application/octet-stream")).run())
    uploaded = at.session_state[TRAINED_KEY]["LSTM · recall lag 5 · step 10 (uploaded)"]
    assert uploaded["card"]["task"]["lag"] == 5
    for key, value in entry["model"].state_dict().items():
        assert (uploaded["model"].state_dict()[key] == value).all()


def test_a_pickle_upload_is_refused_with_a_sentence():
    at = open_page()
    ok(at.file_uploader(key="train_upload").set_value(("evil.safetensors", b"\x80\x04\x95" + b"\0" * 64,
                                                       "application/octet-stream")).run())
    assert any("pickle" in e.value for e in at.error)
    assert not at.session_state[TRAINED_KEY]


@pytest.mark.parametrize("lr, message", [("nan", "finite number"), ("1e9", "between"), ("fast", "not a number"),
                                         ("", "Type a learning rate")])
def test_a_bad_learning_rate_gets_a_sentence(lr, message):
    at = open_page()
    ok(at.text_input(key="train_lr").set_value(lr).run())
    assert any(message in e.value for e in at.error), [e.value for e in at.error]


def test_empty_text_gets_a_sentence():
    at = open_page(lag=None, hidden=None)
    ok(at.selectbox(key="train_task").set_value("text").run())
    ok(at.radio(key="train_text_source").set_value("user").run())
    ok(at.text_area(key="train_text").set_value("  \n ").run())
    assert [e.value for e in at.error] == ["The text is empty: type or paste some text to learn from."]


def test_a_diverged_run_says_so_and_suggests_clipping():
    at = open_page(lag=None, hidden=None)
    ok(at.selectbox(key="train_task").set_value("adding").run())
    ok(at.number_input(key="train_hidden").set_value(8).run())
    ok(at.selectbox(key="train_optimizer").set_value("sgd").run())
    ok(at.text_input(key="train_lr").set_value("10").run())
    ok(at.number_input(key="train_clip").set_value(0.0).run())
    step(at, 50)
    assert race(at).diverged
    errors = [e.value for e in at.error]
    assert errors and all("diverged at step" in e and "gradient clipping" in e for e in errors)
    assert len(errors) == len(set(race(at).diverged.values()))  # one sentence per step at which cells diverged
    assert at.button(key="train_step").disabled and at.segmented_control(key="train_play").disabled


@pytest.mark.parametrize("task", ["letters", "text", "adding", "temporal_order", "stocks", "sine", "sentiment"])
def test_every_task_trains_a_step(task):
    at = open_page(lag=None, hidden=None)
    ok(at.selectbox(key="train_task").set_value(task).run())
    ok(at.number_input(key="train_hidden").set_value(4).run())
    step(at, 1)
    r = race(at)
    assert r.task.name == task and r.step == 1 and not at.error
    kind = {"text": "bits per character", "stocks": "MSE", "sine": "MSE"}.get(task, "accuracy")
    baselines = ["Baseline · bag of characters", "Baseline · majority class"] if task == "sentiment" else []
    assert [m.label for m in at.metric] == [f"RNN · validation {kind}", f"LSTM · validation {kind}", *baselines]
    accuracy = figures(at)["Accuracy"]
    assert bool(accuracy["data"]) == (task not in ("stocks", "sine"))  # a plain regression has no accuracy


def test_settings_too_large_to_train_live_get_a_sentence():
    at = open_page(lag=500, hidden=None)
    ok(at.number_input(key="train_batch").set_value(512).run())
    ok(at.number_input(key="train_hidden").set_value(256).run())
    assert any("billion operations per training step" in e.value for e in at.error)
    assert at.session_state["train_race"] is None
    assert any("Fix the settings" in i.value for i in at.info)


def test_a_hostile_card_and_file_name_show_as_text():
    at = open_page()
    step(at, 10)
    entry = at.session_state[TRAINED_KEY]["LSTM · recall lag 5 · step 10"]
    card = {**entry["card"], "title": "<img src=x onerror=alert(1)> **bold** $x$", "metrics": [1, 2]}
    data = save(entry["model"], None, card)
    ok(at.file_uploader(key="train_upload").set_value(("</textarea>.safetensors", data, "application/octet-stream"))
       .run())
    name = "<img src=x onerror=alert(1)> **bold** $x$ (uploaded)"
    assert name in at.session_state[TRAINED_KEY]
    shown = [m.value for m in at.markdown if "img src" in m.value]
    assert shown and all(r"\*\*bold\*\*" in v and r"\$x\$" in v and r"\<img" in v for v in shown)


def test_pause_stops_the_scheduler_s_job_at_a_slice_boundary():
    at = open_page()
    job = play_for_slices(at, 2)
    assert job.slices >= 2 and not job.stopped
    ok(at.segmented_control(key="train_play").set_value("pause").run())
    assert job.wait(60) and job.state == "paused"
    slices, step = job.slices, race(at).step
    ok(at.run())
    assert job.slices == slices and race(at).step == step > 0
    text = at.get("progress")[0].proto.text
    assert "playing" not in text and "pausing" not in text and f"Step {step:,} of 5,000" in text


def test_past_the_server_s_trainings_play_waits_in_the_queue_and_says_where(monkeypatch):
    from rnnviz import scheduler

    monkeypatch.setattr(scheduler, "_default", scheduler.Scheduler(workers=1, max_active=1))
    first, second = open_page(), open_page()
    for at in (first, second):
        ok(at.number_input(key="train_target").set_value(5000).run())
        ok(at.segmented_control(key="train_play").set_value("play").run())
    assert first.session_state["train_job"].state == "playing"
    queued = second.session_state["train_job"]
    assert queued.state == "waiting" and queued.position == 1
    assert "waiting for a free trainer: number 1 in the queue" in second.get("progress")[0].proto.text
    assert race(second).step == 0
    ok(first.segmented_control(key="train_play").set_value("pause").run())
    assert first.session_state["train_job"].wait(60) and queued.state == "playing"  # the first in line moves up
    ok(second.segmented_control(key="train_play").set_value("pause").run())
    assert queued.wait(60)


def test_leaky_and_esn_race_beside_the_rnn():
    at = open_page()
    ok(at.multiselect(key="train_cells").set_value(["rnn", "leaky", "esn"]).run())
    r = race(at)
    assert list(r.trainers) == ["rnn", "leaky", "esn"] and "esn" in r.fits
    assert any("one ridge regression" in i.value and "ESN" in i.value for i in at.info)
    step(at, 10)
    r = race(at)
    assert r.step == 10 and r.trainers["leaky"].step_count == 10 and r.trainers["esn"].step_count == 0
    assert [m.label for m in at.metric] == ["RNN · validation accuracy", "LEAKY · validation accuracy",
                                            "ESN · validation accuracy"]
    accuracy = figures(at)["Accuracy"]
    esn = trace(accuracy, "ESN validation")
    assert array(esn["x"]).tolist() == [0, 10]  # fitted once, drawn flat across the race
    assert array(esn["y"])[0] == array(esn["y"])[1] == r.fits["esn"]["accuracy"]
    assert not at.exception and not at.error


def test_the_esn_is_refused_on_a_task_it_cannot_read():
    at = open_page(lag=None, hidden=None)
    ok(at.selectbox(key="train_task").set_value("letters").run())
    ok(at.multiselect(key="train_cells").set_value(["lstm", "esn"]).run())
    assert any("recall, adding and temporal order" in e.value for e in at.error), [e.value for e in at.error]


def test_a_rerun_draws_the_figures_it_has_until_the_race_moves_on(monkeypatch):
    """chart_figures builds the four figures again only when something they show has changed: a rerun of a paused
    race (another widget, a Pause click) draws the ones it has; a step, the language or "Train for" builds anew."""
    import rnnviz.figures

    built = []
    real = rnnviz.figures.loss_figure
    monkeypatch.setattr(rnnviz.figures, "loss_figure", lambda *a, **k: built.append(1) or real(*a, **k))
    at = open_page()
    step(at, 10)
    held = at.session_state["train_figures"]
    count, spec = len(built), figures(at)["Loss"]
    ok(at.run())  # nothing changed: the same figures, drawn again
    ok(at.selectbox(key="train_step_size").set_value(1).run())  # another widget
    assert len(built) == count and at.session_state["train_figures"][2] is held[2]
    assert figures(at)["Loss"] == spec
    step(at, 1)  # the race moved on
    assert len(built) == count + 1 and array(trace(figures(at)["Loss"], "LSTM train")["x"])[-1] == 11
    ok(at.number_input(key="train_target").set_value(500).run())  # the x axis ends elsewhere
    axis = figures(at)["Loss"]["layout"]["xaxis"]
    assert len(built) == count + 2 and axis["range"][1] != spec["layout"]["xaxis"]["range"][1]
    ok(at.button(key="train_reset").click().run())  # a new race at the same step count as an old one
    assert len(built) == count + 3


def test_the_run_that_answers_pause_shows_the_pause_once_the_slice_has_ended(monkeypatch):
    """Pause's callback waits for the slice under way to end (up to PAUSE_SETTLE_S, here long enough for any
    slice), so the run answering the click draws the paused race, with a validation pass at its step: no "pausing…"
    and no second run to wait for."""
    from pages import train_jobs

    monkeypatch.setattr(train_jobs, "PAUSE_SETTLE_S", 60.0)
    at = open_page()
    job = play_for_slices(at, 1)
    ok(at.segmented_control(key="train_play").set_value("pause").run())
    assert job.state == "paused"  # in the click's own run
    text = at.get("progress")[0].proto.text
    assert "pausing" not in text and "playing" not in text and f"Step {race(at).step:,} of 5,000" in text
    assert any(name.endswith(f"step {race(at).step:,}") for name in at.session_state[TRAINED_KEY])
    # the validation pass at the paused step is drawn in the same run, under the progress line
    assert array(trace(figures(at)["Accuracy"], "LSTM validation")["x"])[-1] == race(at).step
