"""Train live (/train): race RNN, LSTM and GRU cells on a classic task and watch them learn.

Sections: the settings in the sidebar (task and its parameters, cells, sizes, optimizer, init, each starting
at the task's defaults); the player (Reset, Play/Pause, Step) in the manner of TensorFlow Playground; a live
fragment that, while playing, trains in slices of about BUDGET_S seconds on each timer tick and redraws the
progress, the metrics and four charts; why the LSTM wins on recall; the session's models (listed for the other
pages, downloadable as safetensors, uploadable again).

Everything trained lives in st.session_state (the race, its trainers, its snapshots): nothing trained is ever
cached for everyone, and a race keeps its state when the user visits another page and comes back.
"""

from __future__ import annotations

import math
import re
import time

import streamlit as st

from pages.i18n import t
from pages.shared import LINK, TRAINED_KEY, flag, number, one_of, plotly_chart, show_error, some_of, url_notice
from rnnviz import InitConfig, RnnvizError
from rnnviz.checkpoint import load as load_checkpoint
from rnnviz.checkpoint import save as save_checkpoint
from rnnviz.figures import accuracy_figure, grad_norm_figure, loss_figure, train_flow_figure
from rnnviz.race import CELL_ORDER, MAX_RACE_STEPS, Race, RaceConfig, describe_card, file_name, parse_number
from rnnviz.tasks import TASKS, Task, make_task
from rnnviz.tasks_data import Stocks

KEY = "train"
RACE, PLAY, APPLIED, NOTE = f"{KEY}_race", f"{KEY}_play", f"{KEY}_applied", f"{KEY}_note"
TICK_S = 1.0  # the live fragment's timer while playing: each tick redraws four charts, which costs the browser
BUDGET_S = 0.7  # training time per tick; clicks are answered between slices
STEP_BUDGET_S = 15.0  # the most one press of Step trains
MAX_PUBLISHED = 12  # models kept under "Trained here" for the other pages; the oldest go first
MAX_HIDDEN, MAX_BATCH = 256, 512
STEP_SIZES = (1, 10, 50, 100)
TASK_NAMES = {
    "recall": "Recall: a symbol, a long lag, then name it",
    "letters": "Letters: a→b→c→d→e→a",
    "text": "Text: predict the next character",
    "adding": "Adding problem",
    "temporal_order": "Temporal order",
    "stocks": "Stock prices: next week",
    "sine": "Noisy sine: next value",
    "sentiment": "Sentiment of short reviews",
}
TASK_HELP = {
    "recall": "Read a symbol, then `lag` steps of filler, then name the symbol. The answer is scored at the "
              "last step only, so the gradient has to cross the whole lag.",
    "letters": "The classic one-hot example: one letter in (or four), predict the next, with 3 hidden units.",
    "text": "A character language model on Python's standard-library source or on your text, scored in bits "
            "per character on the last 10% (held out).",
    "adding": "Two channels: values in [0, 1] and a marker at two steps. Output the sum of the two marked "
              "values at the end; an answer within 0.04 counts as correct.",
    "temporal_order": "Among random distractors a..d, two symbols X or Y appear; say in which order (XX, XY, YX "
                      "or YY) at the end.",
    "stocks": "Weekly prices of six stocks (2018–2019); windows of weeks in, the next week out. The last 20% of "
              "the weeks are the test set.",
    "sine": "A noisy sine wave; a window of values in, the next value out; the last 20% is the test set.",
    "sentiment": "Short reviews in which \"not\" flips a clause and \"but\" hands the verdict to the second "
                 "clause: positive or negative, read at the last word.",
}
SAMPLE_TEXT = ("Twinkle, twinkle, little star,\nHow I wonder what you are!\nUp above the world so high,\n"
               "Like a diamond in the sky.\n") * 8
SAMPLE_REVIEWS = ("+ a lovely film\n- the plot was dull\n+ the music was very good\n- not good at all\n"
                  "+ the acting was not bad\n- boring but the ending was fine\n+ great fun\n- a messy script\n")
GATE_INITS = {"chrono": "Chrono (spread of time scales)", "forget": "Forget-gate bias", "default": "PyTorch default"}
SCHEMES = {"default": "PyTorch default", "orthogonal": "Orthogonal × gain", "identity": "Identity × gain"}
OPTIMIZERS = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}
FILLERS = ("blank", "noise")
LETTER_INPUTS = {"one": "one letter", "four": "four letters"}
ENCODINGS = ("onehot", "embedding")
TEXT_SOURCES = {"stdlib": "Python's standard library", "user": "Your text"}
REVIEW_SOURCES = {"synthetic": "Generated", "user": "Yours"}
KEEP = {"persist_state": "session"}  # a setting keeps its value when the user visits another page


def k(name: str, default=None) -> str:
    """The session key of a setting, given its first value. The session's value wins over a widget's value=, so a
    value set to follow the task's defaults is never overridden."""
    key = f"{KEY}_{name}"
    if default is not None and key not in st.session_state:
        st.session_state[key] = default
    return key


def linked(name: str, default=None, options=None, multi: bool = False) -> dict:
    """Widget arguments of a setting kept in the session and in the page's link (?train_<name>=…).

    Its default (``default``, else the task's, as follow_defaults applied it) is also the widget's own, because the
    link leaves out a setting equal to the widget's default, and a page opened from the link restores the task's.
    ``options``: a radio's or selectbox's (the default goes in as an index); ``multi``: a multiselect."""
    key = k(name, default)
    value = default if default is not None else st.session_state.get(APPLIED, {}).get(name)
    first = {"default": value} if multi else {"index": list(options).index(value)} if options else {"value": value}
    return {"key": key, "bind": LINK, **first, **KEEP}


def playing() -> bool:
    return st.session_state.get(PLAY) == "play"


@st.cache_resource(max_entries=8, show_spinner="Preparing the task's data…")
def cached_task(name: str, params: tuple, seed: int) -> Task:
    """The task's data, shared by every session: trainers draw batches with their own generators and never
    change the task (its validation batch is made once, the same for everyone)."""
    return make_task(name, seed=seed, **dict(params))


# Settings (sidebar) ------------------------------------------------------------------------------------------


def task_params_ui(name: str) -> dict:
    """The chosen task's parameters, as make_task takes them."""
    if name == "recall":
        lag = st.number_input("Lag (steps of filler)", 1, 500, step=10, **linked("lag", 100))
        symbols = st.number_input("Symbols to tell apart", 2, 26, **linked("symbols", 8))
        filler = st.radio("Filler", FILLERS, horizontal=True, **linked("filler", "blank", FILLERS),
                          help="blank: one repeated token. noise: random digits the model must learn to ignore.")
        return {"lag": int(lag), "num_symbols": int(symbols), "filler": filler}
    if name == "letters":
        mode = st.radio("Input", list(LETTER_INPUTS), horizontal=True, **linked("mode", "one", LETTER_INPUTS),
                        format_func=LETTER_INPUTS.get)
        encoder = st.radio("Encoding", ENCODINGS, horizontal=True, **linked("encoder", "onehot", ENCODINGS))
        return {"mode": mode, "encoder": encoder}
    if name == "text":
        source = st.radio("Text", list(TEXT_SOURCES), horizontal=True, **linked("text_source", "stdlib", TEXT_SOURCES),
                          format_func=TEXT_SOURCES.get)
        seq_len = st.number_input("Window (characters per example)", 2, 256, step=16, **linked("seq_len", 64))
        params = {"seq_len": int(seq_len)}
        if source == "user":
            params["text"] = st.text_area("Your text (at least 50 characters)", key=k("text", SAMPLE_TEXT), **KEEP,
                                          height=150, max_chars=200_000,
                                          help="Not kept in the page's link: a link opens with the sample text.")
        return params
    if name in ("adding", "temporal_order"):
        lo, default = (2, 50) if name == "adding" else (10, 100)
        return {"length": int(st.number_input("Sequence length", lo, 1000, step=10, **linked("length", default)))}
    if name in ("stocks", "sine"):
        params = {}
        if name == "stocks":
            params["symbols"] = tuple(st.multiselect("Stocks (one feature each)", Stocks.SYMBOLS,
                                                     **linked("stock_symbols", ["GOOG"], multi=True)))
            window = st.number_input("Window (weeks in)", 2, 40, **linked("stock_window", 8))
        else:
            params["period"] = float(st.number_input("Period (steps)", 2.0, 1000.0, step=5.0, **linked("period", 40.0)))
            params["noise"] = float(st.slider("Noise", 0.0, 1.0, step=0.05, **linked("noise", 0.1)))
            window = st.number_input("Window (steps in)", 2, 200, **linked("sine_window", 40))
        params["window"] = int(window)
        params["many_to_many"] = st.checkbox("Predict at every step (many-to-many)", **linked(f"{name}_many", False))
        return params
    if name == "sentiment":
        source = st.radio("Reviews", list(REVIEW_SOURCES), horizontal=True, format_func=REVIEW_SOURCES.get,
                          **linked("review_source", "synthetic", REVIEW_SOURCES))
        if source == "user":
            text = st.text_area("One review a line, label first (+ or -)", key=k("reviews", SAMPLE_REVIEWS), **KEEP,
                                height=150, max_chars=100_000,
                                help="Not kept in the page's link: a link opens with the sample reviews.")
            return {"texts": text}
        return {"size": int(st.number_input("Reviews", 20, 20_000, step=500, **linked("size", 2000)))}
    return {}


def task_defaults(task) -> dict:
    """Widget values for a task's recommended settings (``task`` an instance, or its class)."""
    d = task.defaults
    init = d.init
    gates = "chrono" if init.chrono_tmax else "forget" if init.forget_bias is not None else "default"
    return {"hidden": d.hidden_size, "layers": d.num_layers, "optimizer": d.optimizer, "lr": f"{d.lr:g}",
            "batch": d.batch_size, "clip": float(d.clip or 0.0), "gates": gates,
            "forget": float(init.forget_bias if init.forget_bias is not None else 1.0),
            "chrono": int(init.chrono_tmax or 200), "scheme": init.scheme, "gain": float(init.gain),
            "target": d.steps}


def follow_defaults(defaults: dict) -> None:
    """Set each training setting to the task's default unless the user changed it from the last default."""
    applied = st.session_state.get(APPLIED, {})
    for name, value in defaults.items():
        key = f"{KEY}_{name}"
        if key not in st.session_state or st.session_state[key] == applied.get(name):
            st.session_state[key] = value
    st.session_state[APPLIED] = defaults


def use_defaults() -> None:
    for name, value in st.session_state.get(APPLIED, {}).items():
        st.session_state[f"{KEY}_{name}"] = value


def model_ui() -> dict:
    """The cells and the training settings, collected (the learning rate still as typed)."""
    cells = st.multiselect("Cells to race", CELL_ORDER, **linked("cells", ["rnn", "lstm"], multi=True),
                           format_func=str.upper,
                           help="Each cell gets its own model; all see the same batches in the same order.")
    c1, c2 = st.columns(2)
    hidden = c1.number_input("Hidden units", 1, MAX_HIDDEN, **linked("hidden"))
    layers = c2.number_input("Layers", 1, 3, **linked("layers"))
    optimizer = c1.selectbox("Optimizer", list(OPTIMIZERS), **linked("optimizer", options=OPTIMIZERS),
                             format_func=OPTIMIZERS.get)
    lr = c2.text_input("Learning rate", **linked("lr"), help="A number such as 0.003 or 3e-3, up to 10.")
    batch = c1.number_input("Batch size", 1, MAX_BATCH, **linked("batch"))
    clip = c2.number_input("Clip gradient norm", 0.0, 1000.0, step=0.5, **linked("clip"), help="0 turns clipping off.")
    with st.expander("Initialization", icon=":material/tune:"):
        gates = st.radio("Gate biases (LSTM, GRU)", list(GATE_INITS), **linked("gates", options=GATE_INITS),
                         format_func=GATE_INITS.get, help="The vanilla RNN has no gates and keeps PyTorch's biases.")
        forget = st.slider("Forget-gate bias", -2.0, 6.0, step=0.5, **linked("forget"), disabled=gates != "forget",
                           help="f starts near σ(b): 0 → 0.5 (the cell-state gradient halves each step), 1 → 0.73, "
                                "5 → 0.993. GRU: the update gate z.")
        chrono = st.number_input("Chrono T_max", 3, 5000, step=50, **linked("chrono"), disabled=gates != "chrono",
                                 help="b_f ~ log U(1, T_max − 1), b_i = −b_f (Tallec & Ollivier 2018): the gates' "
                                      "memory times spread up to T_max steps.")
        scheme = st.selectbox("Recurrent weights W_hh", list(SCHEMES), **linked("scheme", options=SCHEMES),
                              format_func=SCHEMES.get)
        gain = st.slider("Gain", 0.0, 3.0, step=0.05, **linked("gain"), disabled=scheme == "default")
    seed = st.number_input("Seed", 0, 2**31 - 1, **linked("seed", 0),
                           help="Seeds the data, every model's weights and the batch order.")
    return dict(cells=cells, hidden=int(hidden), layers=int(layers), optimizer=optimizer, lr=lr, batch=int(batch),
                clip=float(clip), gates=gates, forget=float(forget), chrono=float(chrono), scheme=scheme,
                gain=float(gain), seed=int(seed))


def link_checks() -> dict:
    """What the page keeps in its link: the task, its parameters (not pasted text), the cells and the training
    settings, with the widgets' ranges (the sequence length's lower end is the task's)."""
    task = next((n for n, label in TASK_NAMES.items() if label == st.query_params.get(f"{KEY}_task")),
                st.session_state.get(f"{KEY}_task", "recall"))

    def lr(values: list[str]) -> str | None:
        try:
            parse_number("learning rate", values[-1], 1e-7, 10)
        except RnnvizError:
            return "not a number from 1e-7 to 10"
        return None

    checks = {"task": one_of(TASK_NAMES, TASK_NAMES.get), "lag": number(1, 500, integer=True),
              "symbols": number(2, 26, integer=True), "filler": one_of(FILLERS),
              "mode": one_of(LETTER_INPUTS, LETTER_INPUTS.get), "encoder": one_of(ENCODINGS),
              "text_source": one_of(TEXT_SOURCES, TEXT_SOURCES.get), "seq_len": number(2, 256, integer=True),
              "length": number(10 if task == "temporal_order" else 2, 1000, integer=True),
              "stock_symbols": some_of(Stocks.SYMBOLS), "stock_window": number(2, 40, integer=True),
              "period": number(2.0, 1000.0), "noise": number(0.0, 1.0), "sine_window": number(2, 200, integer=True),
              "stocks_many": flag(), "sine_many": flag(), "review_source": one_of(REVIEW_SOURCES, REVIEW_SOURCES.get),
              "size": number(20, 20_000, integer=True), "cells": some_of(CELL_ORDER, str.upper),
              "hidden": number(1, MAX_HIDDEN, integer=True), "layers": number(1, 3, integer=True),
              "optimizer": one_of(OPTIMIZERS, OPTIMIZERS.get), "lr": lr, "batch": number(1, MAX_BATCH, integer=True),
              "clip": number(0.0, 1000.0), "gates": one_of(GATE_INITS, GATE_INITS.get), "forget": number(-2.0, 6.0),
              "chrono": number(3, 5000, integer=True), "scheme": one_of(SCHEMES, SCHEMES.get),
              "gain": number(0.0, 3.0), "seed": number(0, 2**31 - 1, integer=True),
              "target": number(10, MAX_RACE_STEPS, integer=True)}
    return {f"{KEY}_{name}": check for name, check in checks.items()}


def settings_ui() -> tuple[RaceConfig | None, int, RnnvizError | None]:
    """Everything in the sidebar: (the race these settings describe or None, target steps, what is wrong with them
    or None). The page shows the problem in its main column, where the player and the charts are."""
    name = st.selectbox("Task", list(TASK_NAMES), **linked("task", "recall", TASK_NAMES), format_func=TASK_NAMES.get)
    st.caption(TASK_HELP[name])
    params = task_params_ui(name)
    seed = int(st.session_state.get(k("seed", 0), 0))
    task, error = None, None
    try:
        task = cached_task(name, tuple(sorted(params.items())), seed)
    except RnnvizError as err:
        error = err
    follow_defaults(task_defaults(task if task is not None else TASKS[name]))
    st.divider()
    m = model_ui()
    target = int(st.number_input("Train for (steps)", 10, MAX_RACE_STEPS, step=100, **linked("target"),
                                 help="Play stops here; the progress bar counts towards it."))
    st.button("Use the task's recommended settings", key=f"{KEY}_defaults", icon=":material/restart_alt:",
              width="stretch", on_click=use_defaults)
    if error is not None:
        return None, target, error
    try:
        lr = parse_number("learning rate", m["lr"], 1e-7, 10)
        init = InitConfig(m["scheme"], gain=m["gain"] if m["scheme"] != "default" else 1.0,
                          forget_bias=m["forget"] if m["gates"] == "forget" else None,
                          chrono_tmax=m["chrono"] if m["gates"] == "chrono" else None)
        config = RaceConfig(task=name, params=tuple(sorted(params.items())), cells=tuple(m["cells"]),
                            hidden_size=m["hidden"], num_layers=m["layers"], optimizer=m["optimizer"], lr=lr,
                            batch_size=m["batch"], clip=m["clip"] or None, init=init, seed=m["seed"])
    except RnnvizError as err:
        return None, target, err
    return config, target, None


# Player ----------------------------------------------------------------------------------------------------------


def new_race(config: RaceConfig) -> Race | None:
    try:
        race = Race(config, cached_task(config.task, config.params, config.seed))
    except RnnvizError as err:
        show_error(err)
        st.session_state[RACE] = None
        return None
    st.session_state[RACE] = race
    st.session_state[PLAY] = "pause"
    return race


def trained_store() -> dict:
    return st.session_state.setdefault(TRAINED_KEY, {})


def settle(race: Race) -> None:
    """Gradient flow and model snapshots at the current step, and the snapshots listed for the other pages."""
    race.snapshot_flows()
    race.snapshot_now()
    race.publish(trained_store(), MAX_PUBLISHED)


def reset() -> None:
    st.session_state[RACE] = None  # the script builds a fresh race from the settings
    st.session_state[PLAY] = "pause"


def step_to(until: int) -> None:
    """Step's callback. It is given the step to reach rather than a count, so that running twice is harmless.
    It stops after STEP_BUDGET_S seconds, so that a large model cannot hold the page for minutes."""
    race = st.session_state.get(RACE)
    if race is None:
        return
    t0, start = time.perf_counter(), race.step
    race.advance(until - race.step, budget_s=STEP_BUDGET_S)
    if race.step < min(until, MAX_RACE_STEPS) and race.live:
        elapsed = time.perf_counter() - t0
        per_step = elapsed / max(1, race.step - start)
        st.session_state[NOTE] = (f"Step stopped at step {race.step:,} after {elapsed:.0f} s: with these "
                                  f"settings one step takes about {per_step:.2g} s. Press Step again, or Play.")
    settle(race)


def player_ui(race: Race, target: int) -> None:
    """Reset, Play/Pause and Step. Play/Pause is a two-state control, not a button: a button's click can be
    replayed into a rerun that the live fragment's timer queued, which would toggle it back."""
    can_play = race.step < target and bool(race.live)
    if playing() and not can_play:
        st.session_state[PLAY] = "pause"  # reached the step count, or every model diverged
    size = int(st.session_state.get(k("step_size", 10)))
    c1, c2, c3, c4, _ = st.columns([1, 1.8, 1, 1.4, 2.8], vertical_alignment="bottom")
    c1.button("Reset", key=f"{KEY}_reset", on_click=reset, icon=":material/replay:", width="stretch",
              help="Start over at step 0 with the settings in the sidebar.")
    c2.segmented_control("Play or pause", ("play", "pause"), key=k("play", "pause"), required=True,
                         label_visibility="collapsed", width="stretch", disabled=not (can_play or playing()),
                         format_func={"play": ":material/play_arrow: Play", "pause": ":material/pause: Pause"}.get,
                         help="Play trains continuously and redraws the charts as it goes." if can_play else
                         "Reached the step count (raise “Train for” in the sidebar) or every model diverged.")
    c3.button("Step", key=f"{KEY}_step", on_click=step_to, args=(race.step + size,), icon=":material/skip_next:",
              width="stretch", disabled=playing() or not race.live or race.step >= MAX_RACE_STEPS,
              help="Train a few steps, then stop.")
    c4.selectbox("Steps per Step", STEP_SIZES, key=k("step_size", 10), **KEEP, label_visibility="collapsed",
                 format_func=lambda n: f"{n} step{'s' if n > 1 else ''} per Step")
    if NOTE in st.session_state:
        st.info(st.session_state.pop(NOTE), icon=":material/hourglass_bottom:")


# Live view (a fragment that trains while playing) --------------------------------------------------------------


def metrics_ui(race: Race) -> None:
    what = {"bpc": "bits per character", "accuracy": "accuracy", "loss": "MSE"}[race.score]
    cols = st.columns(max(3, len(race.trainers)))
    for col, (cell, trainer) in zip(cols, race.trainers.items(), strict=False):
        last = trainer.history.evals[-1] if trainer.history.evals else {}
        value = last.get(race.score)
        shown = "–" if value is None else f"{value:.1%}" if race.score == "accuracy" else f"{value:.4g}"
        col.metric(f"{cell.upper()} · validation {what}", shown,
                   help=f"On the held-out batch at step {last.get('step', 0):,}.")
        solved = trainer.history.first_step("accuracy", 0.99) if race.score == "accuracy" else None
        if trainer.diverged:
            col.caption(f":red[diverged at step {trainer.step_count:,}]")
        elif solved is not None:
            col.caption(f"≥ 99% from step {solved:,}")


def diverged_ui(race: Race) -> None:
    groups: dict[int, list[str]] = {}
    for cell, step in race.diverged.items():
        groups.setdefault(step, []).append(cell.upper())
    first = next(iter(race.trainers.values()))
    advice = ("Turn on gradient clipping (a threshold of 1 is a good start) or lower the learning rate."
              if first.clip is None else
              f"Lower the learning rate (now {first.lr:g}) or the clipping threshold (now {first.clip:g}).")
    for step, cells in groups.items():
        who = " and ".join(cells)
        st.error(f"{who} diverged at step {step:,}: the loss or the gradient became infinite or NaN, so training "
                 f"stopped there, keeping the weights from before that step. {advice} Then press Reset.",
                 icon=":material/warning:")


def charts_ui(race: Race, target: int) -> None:
    runs = race.curves()
    chance = race.task.chance
    for cell, fit in race.fits.items():  # the ESN: trained once, by a ridge fit, when the race was set up
        st.info(t("{cell} is trained in one ridge regression of its readout on the fixed reservoir's states "
                  "({samples:,} sequences, λ = {ridge:g}), with no backpropagation: it finished when the race "
                  "started. It takes no steps, so its validation result is drawn flat across the race.",
                  cell=cell.upper(), samples=fit["samples"], ridge=fit["ridge"]), icon=":material/bolt:")
    left, right = st.columns(2)
    plotly_chart(left, loss_figure(runs, race.loss_unit, race.baseline, x_max=target), width="stretch",
                 key=f"{KEY}_loss")
    plotly_chart(right, accuracy_figure(runs, chance, x_max=target, scored=race.has_accuracy),
                 width="stretch", key=f"{KEY}_accuracy")
    clip = next(iter(race.trainers.values())).clip
    plotly_chart(left, grad_norm_figure(runs, clip, x_max=target), width="stretch", key=f"{KEY}_grad_norm")
    plotly_chart(right, train_flow_figure(runs), width="stretch", key=f"{KEY}_flow")


def live_ui(target: int) -> None:
    @st.fragment(run_every=TICK_S if playing() else None)
    def live():
        race = st.session_state.get(RACE)
        if race is None:
            return
        if playing():
            race.advance(target - race.step, budget_s=BUDGET_S)
            race.snapshot_flows()
            race.publish(trained_store(), MAX_PUBLISHED)
            if race.step >= target or not race.live:
                settle(race)
                st.rerun()  # the whole page: the player switches to Pause and the timer stops
        st.progress(min(1.0, race.step / target),
                    text=f"Step {race.step:,} of {target:,} · {race.seconds:.1f} s of training"
                         + (" · playing" if playing() else ""))
        metrics_ui(race)
        diverged_ui(race)
        charts_ui(race, target)

    live()


# Why, and the models ---------------------------------------------------------------------------------------------


def explain_ui(race: Race) -> None:
    if race.task.name != "recall":
        return
    lag, chance = race.task.lag, race.task.chance
    init = race.config.init or race.task.defaults.init
    with st.expander("Why the LSTM remembers across the lag and the vanilla RNN does not", expanded=True,
                     icon=":material/lightbulb:"):
        st.markdown(
            f"- The answer is scored only at the last step, so the one signal that can teach a model to keep the "
            f"symbol is a gradient that travels back **{lag} steps**. In a vanilla RNN it is multiplied at every "
            "step by ∂h_t/∂h_t−1 = diag(1 − h_t²) W_hh, whose norm is usually below 1: it shrinks geometrically "
            "(the red curve of the gradient-flow chart falls by orders of magnitude). "
            + (f"Over {lag} steps nothing usable is left, and the RNN stays near chance, {chance:.1%}.\n"
               if lag >= 50 else
               f"Over only {lag} steps enough may survive for the RNN to learn too: set the lag to 100 to see it "
               f"fail.\n")
            + "- The LSTM's cell state c_t = f_t ⊙ c_t−1 + i_t ⊙ g_t passes the gradient back through the forget "
            "gate f_t alone. Its init decides how much survives: with PyTorch's default biases f ≈ 0.5 and the "
            f"gradient halves every step (0.5^{lag} ≈ {0.5 ** lag:.0e}). "
            + (f"**Chrono init** (Tallec & Ollivier 2018) with T_max = {init.chrono_tmax:g} sets "
               f"b_f = log U(1, T_max − 1): the median forget gate starts at σ(log {init.chrono_tmax / 2:g}) ≈ "
               f"{sigmoid(math.log(init.chrono_tmax / 2)):.3f}, a memory time 1/(1 − f) of about "
               f"{1 + init.chrono_tmax / 2:g} steps, and b_i = −b_f closes the input gates so that the filler does "
               "not wash the symbol out."
               if init.chrono_tmax else
               f"Here the forget-gate bias is {init.forget_bias:g}: f starts near "
               f"σ({init.forget_bias:g}) = {sigmoid(init.forget_bias):.3f}, and "
               f"{sigmoid(init.forget_bias):.3f}^{lag} ≈ {sigmoid(init.forget_bias) ** lag:.0e}."
               if init.forget_bias is not None else "Here the gates keep PyTorch's default biases.")
            + ("\n- Try it: set the gate biases to *PyTorch default* in the sidebar's Initialization, press Reset "
               "and Play, and watch the LSTM struggle too." if init.chrono_tmax or init.forget_bias else
               "\n- Try it: set the gate biases to *Chrono* in the sidebar's Initialization and press Reset."))


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def plain(text: str) -> str:
    """Text shown through markdown as it is (a file name or title may hold * _ [ ] and the like)."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>$~:])", r"\\\1", str(text))


def models_ui(race: Race) -> None:
    st.subheader("Models from this session")
    store = trained_store()
    busy = playing()
    if not busy and race.step > 0:
        settle(race)
    listed, uploaded = st.columns([3, 2], gap="large")
    with listed:
        st.caption("Each model is listed under **Trained here** on Inside the cell, Gradient flow and Generate, "
                   "as of its latest validation pass." + (" Pause to download one." if busy else ""))
        if not store:
            st.info("No model yet: press Step or Play.", icon=":material/info:")
        for i, (name, entry) in enumerate(reversed(list(store.items()))):
            text, button = st.columns([4, 1.3], vertical_alignment="center")
            card = entry.get("card", {})
            text.markdown(f"**{plain(name)}**  \n{plain(describe_card(card) or 'Its card gives no details.')}")
            if not busy:
                model = entry["model"]
                button.download_button("Download", data=lambda m=model, c=card: save_checkpoint(m, None, c),
                                       file_name=file_name(name), mime="application/octet-stream",
                                       key=f"{KEY}_download_{i}", icon=":material/download:", on_click="ignore",
                                       width="stretch")
        links = st.columns(3)
        pages = (("pages/cell.py", ":material/memory:"), ("pages/gradients.py", ":material/trending_down:"),
                 ("pages/generate.py", ":material/edit_note:"))
        for col, (page, icon) in zip(links, pages, strict=True):
            col.page_link(page, icon=icon)
    with uploaded:
        upload_ui(store)


def upload_ui(store: dict) -> None:
    """A checkpoint upload, validated by rnnviz.checkpoint.load and listed with the trained models. (Not
    pages.shared.upload_ui: its caption fails on a card whose metrics are not a mapping.)"""
    file = st.file_uploader("Checkpoint (.safetensors, made by rnnviz)", type=["safetensors"], key=f"{KEY}_upload",
                            help="A model downloaded here, or saved with rnnviz.checkpoint.save.")
    if file is None:
        st.caption("Upload a checkpoint to open it on the other pages.")
        return
    ident = (file.name, file.size, getattr(file, "file_id", None))
    if st.session_state.get(f"{KEY}_uploaded") == ident:
        return
    try:
        model, card = load_checkpoint(file.getvalue())
    except RnnvizError as err:
        st.error(f"{plain(file.name[:80])}: {plain(err)}", icon=":material/error:")
        return
    st.session_state[f"{KEY}_uploaded"] = ident
    store[f"{str(card.get('title') or file.name)[:80]} (uploaded)"] = {"model": model, "card": card}
    while len(store) > MAX_PUBLISHED:
        del store[next(iter(store))]
    st.rerun()  # list it on the left at once


# The page --------------------------------------------------------------------------------------------------------


def main() -> None:
    st.title("Train live")
    st.caption("Pick a task and one or more cells in the sidebar, then press Play: every cell trains on the same "
               "batches from the same seed, and the charts redraw as they learn.")
    url_notice(f"{KEY}_", link_checks())
    with st.sidebar:
        config, target, problem = settings_ui()
    if problem is not None:
        show_error(problem)
    race = st.session_state.get(RACE)
    if config is not None and (race is None or (race.step == 0 and race.config != config)):
        race = new_race(config)
    if race is None:
        st.info("Fix the settings in the sidebar to start a race.", icon=":material/tune:")
        return
    if config is not None and race.config != config:
        st.info("The sidebar's settings differ from this race's: press Reset to start over with them.",
                icon=":material/info:")
    st.caption(f"Racing {', '.join(c.upper() for c in race.trainers)} on **{race.label}**, seed {race.config.seed}.")
    player_ui(race, target)
    live_ui(target)
    explain_ui(race)
    models_ui(race)


main()
