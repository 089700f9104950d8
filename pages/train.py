"""Train live (/train): race RNN, LSTM and GRU cells on a classic task and watch them learn.

Sections: the settings in the sidebar (task and its parameters, cells, sizes, optimizer, init, each starting
at the task's defaults); the player (Reset, Play/Pause, Step) in the manner of TensorFlow Playground; a live
fragment that, while playing, redraws the progress, the metrics and four charts on a timer while the server's
scheduler trains the race in slices, taking turns with every other session (pages/train_jobs.py); why the LSTM
wins on recall; the session's models (listed for the other pages, downloadable as safetensors, uploadable again).

Everything trained lives in st.session_state (the race, its trainers, its snapshots): nothing trained is ever
cached for everyone, and a race keeps its state when the user visits another page and comes back.
"""

from __future__ import annotations

import math
import re
import time

import streamlit as st

from pages import train_jobs as jobs
from pages import train_reviews as reviews
from pages.i18n import lang, t
from pages.shared import (
    LINK,
    TRAINED_KEY,
    flag,
    named,
    number,
    one_of,
    plotly_chart,
    show_error,
    some_of,
    url_notice,
)
from rnnviz import InitConfig, RnnvizError
from rnnviz.checkpoint import load as load_checkpoint
from rnnviz.checkpoint import save as save_checkpoint
from rnnviz.figures import accuracy_figure, grad_norm_figure, loss_figure, train_flow_figure, with_revision
from rnnviz.i18n import LANGUAGES, N_, tr
from rnnviz.race import (
    CELL_ORDER,
    MAX_RACE_STEPS,
    Race,
    RaceConfig,
    describe_card,
    file_name,
    parse_number,
    task_label,
)
from rnnviz.tasks import TASKS, Task, make_task
from rnnviz.tasks_data import Stocks

KEY = "train"
RACE, PLAY, APPLIED, NOTE = f"{KEY}_race", f"{KEY}_play", f"{KEY}_applied", f"{KEY}_note"
FIGURES = f"{KEY}_figures"  # (race, what they show, the live view's figures): chart_figures
STEP_BUDGET_S = 15.0  # the most one press of Step trains
MAX_PUBLISHED = 12  # models kept under "Trained here" for the other pages; the oldest go first
MAX_HIDDEN, MAX_BATCH = 256, 512
STEP_SIZES = (1, 10, 50, 100)
TASK_NAMES = {  # codes → English labels (a link holds the label), translated where shown
    "recall": N_("Recall: a symbol, a long lag, then name it"),
    "letters": N_("Letters: a→b→c→d→e→a"),
    "text": N_("Text: predict the next character"),
    "adding": N_("Adding problem"),
    "temporal_order": N_("Temporal order"),
    "stocks": N_("Stock prices: next week"),
    "sine": N_("Noisy sine: next value"),
    "sentiment": N_("Sentiment of short reviews"),
}
TASK_HELP = {
    "recall": N_("Read a symbol, then `lag` steps of filler, then name the symbol. The answer is scored at the "
                 "last step only, so the gradient has to cross the whole lag."),
    "letters": N_("The classic one-hot example: one letter in (or four), predict the next, with 3 hidden units."),
    "text": N_("A character language model on Python's standard-library source or on your text, scored in bits "
               "per character on the last 10% (held out)."),
    "adding": N_("Two channels: values in [0, 1] and a marker at two steps. Output the sum of the two marked "
                 "values at the end; an answer within 0.04 counts as correct."),
    "temporal_order": N_("Among random distractors a..d, two symbols X or Y appear; say in which order (XX, XY, YX "
                         "or YY) at the end."),
    "stocks": N_("Weekly prices of six stocks (2018–2019); windows of weeks in, the next week out. The last fifth of "
                 "the weeks is the test set."),
    "sine": N_("A noisy sine wave; a window of values in, the next value out; the last fifth is the test set."),
    "sentiment": N_("Is a review positive or negative? The answer is read at its last character (or word), and "
                    "each race is measured against a bag-of-characters classifier and the majority class fitted on "
                    "the same split."),
}
SAMPLE_TEXT = ("Twinkle, twinkle, little star,\nHow I wonder what you are!\nUp above the world so high,\n"
               "Like a diamond in the sky.\n") * 8
GATE_INITS = {"chrono": N_("Chrono (spread of time scales)"), "forget": N_("Forget-gate bias"),
              "default": N_("PyTorch default")}
SCHEMES = {"default": N_("PyTorch default"), "orthogonal": N_("Orthogonal × gain"), "identity": N_("Identity × gain")}
OPTIMIZERS = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}  # names, the same in every language
FILLERS = {"blank": N_("blank"), "noise": N_("noise")}
LETTER_INPUTS = {"one": N_("one letter"), "four": N_("four letters")}
ENCODINGS = {"onehot": N_("onehot"), "embedding": N_("embedding")}
TEXT_SOURCES = {"stdlib": N_("Python's standard library"), "user": N_("Your text")}
REVIEW_SOURCES = reviews.SOURCES
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


@st.cache_resource(max_entries=8, show_spinner=False)  # its data only: the page says nothing while it loads
def cached_task(name: str, params: tuple, seed: int) -> Task:
    """The task's data, shared by every session: trainers draw batches with their own generators and never
    change the task (its validation batch is made once, the same for everyone)."""
    return make_task(name, seed=seed, **dict(params))


# Settings (sidebar) ------------------------------------------------------------------------------------------


def task_params_ui(name: str) -> dict:
    """The chosen task's parameters, as make_task takes them."""
    if name == "recall":
        lag = st.number_input(t("Lag (steps of filler)"), 1, 500, step=10, **linked("lag", 100))
        symbols = st.number_input(t("Symbols to tell apart"), 2, 26, **linked("symbols", 8))
        filler = st.radio(t("Filler"), list(FILLERS), horizontal=True, **linked("filler", "blank", FILLERS),
                          format_func=named(FILLERS),
                          help=t("blank: one repeated token. noise: random digits the model must learn to ignore."))
        return {"lag": int(lag), "num_symbols": int(symbols), "filler": filler}
    if name == "letters":
        mode = st.radio(t("Input"), list(LETTER_INPUTS), horizontal=True, **linked("mode", "one", LETTER_INPUTS),
                        format_func=named(LETTER_INPUTS))
        encoder = st.radio(t("Encoding"), list(ENCODINGS), horizontal=True, **linked("encoder", "onehot", ENCODINGS),
                           format_func=named(ENCODINGS))
        return {"mode": mode, "encoder": encoder}
    if name == "text":
        source = st.radio(t("Text"), list(TEXT_SOURCES), horizontal=True,
                          **linked("text_source", "stdlib", TEXT_SOURCES),
                          format_func=named(TEXT_SOURCES))
        seq_len = st.number_input(t("Window (characters per example)"), 2, 256, step=16, **linked("seq_len", 64))
        params = {"seq_len": int(seq_len)}
        if source == "user":
            params["text"] = st.text_area(t("Your text (at least 50 characters)"), key=k("text", SAMPLE_TEXT), **KEEP,
                                          height=150, max_chars=200_000,
                                          help=t("Not kept in the page's link: a link opens with the sample text."))
        return params
    if name in ("adding", "temporal_order"):
        lo, default = (2, 50) if name == "adding" else (10, 100)
        return {"length": int(st.number_input(t("Sequence length"), lo, 1000, step=10, **linked("length", default)))}
    if name in ("stocks", "sine"):
        params = {}
        if name == "stocks":
            params["symbols"] = tuple(st.multiselect(t("Stocks (one feature each)"), Stocks.SYMBOLS,
                                                     **linked("stock_symbols", ["GOOG"], multi=True)))
            window = st.number_input(t("Window (weeks in)"), 2, 40, **linked("stock_window", 8))
        else:
            params["period"] = float(st.number_input(t("Period (steps)"), 2.0, 1000.0, step=5.0,
                                                     **linked("period", 40.0)))
            params["noise"] = float(st.slider(t("Noise"), 0.0, 1.0, step=0.05, **linked("noise", 0.1)))
            window = st.number_input(t("Window (steps in)"), 2, 200, **linked("sine_window", 40))
        params["window"] = int(window)
        params["many_to_many"] = st.checkbox(t("Predict at every step (many-to-many)"), **linked(f"{name}_many", False))
        return params
    if name == "sentiment":
        source = st.radio(t("Reviews"), list(REVIEW_SOURCES), format_func=named(REVIEW_SOURCES),
                          **linked("review_source", "reviews", REVIEW_SOURCES))
        if source == "user":
            text = st.text_area(t("One review a line, label first (+ or -)"), key=k("reviews", reviews.sample()),
                                **KEEP, height=150, max_chars=100_000,
                                help=t("Not kept in the page's link: a link opens with the sample reviews. Lines "
                                       "with Chinese are read by character."))
            return reviews.params("user", texts=text)
        if source == "synthetic":
            size = st.number_input(t("Generated reviews"), 20, 20_000, step=500, **linked("size", 2000))
            return reviews.params("synthetic", size=int(size))
        return reviews.params("reviews")
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
    cells = st.multiselect(t("Cells to race"), CELL_ORDER, **linked("cells", ["rnn", "lstm"], multi=True),
                           format_func=str.upper,
                           help=t("Each cell gets its own model; all see the same batches in the same order."))
    c1, c2 = st.columns(2)
    hidden = c1.number_input(t("Hidden units"), 1, MAX_HIDDEN, **linked("hidden"))
    layers = c2.number_input(t("Layers"), 1, 3, **linked("layers"))
    optimizer = c1.selectbox(t("Optimizer"), list(OPTIMIZERS), **linked("optimizer", options=OPTIMIZERS),
                             format_func=named(OPTIMIZERS))
    lr = c2.text_input(t("Learning rate"), **linked("lr"), help=t("A number such as 0.003 or 3e-3, up to 10."))
    batch = c1.number_input(t("Batch size"), 1, MAX_BATCH, **linked("batch"))
    clip = c2.number_input(t("Clip gradient norm"), 0.0, 1000.0, step=0.5, **linked("clip"),
                           help=t("0 turns clipping off."))
    with st.expander(t("Initialization"), icon=":material/tune:"):
        gates = st.radio(t("Gate biases (LSTM, GRU)"), list(GATE_INITS), **linked("gates", options=GATE_INITS),
                         format_func=named(GATE_INITS),
                         help=t("The vanilla RNN has no gates and keeps PyTorch's biases."))
        forget = st.slider(t("Forget-gate bias"), -2.0, 6.0, step=0.5, **linked("forget"), disabled=gates != "forget",
                           help=t("f starts near σ(b): 0 → 0.5 (the cell-state gradient halves each step), "
                                  "1 → 0.73, 5 → 0.993. GRU: the update gate z."))
        chrono = st.number_input(t("Chrono T_max"), 3, 5000, step=50, **linked("chrono"), disabled=gates != "chrono",
                                 help=t("b_f ~ log U(1, T_max − 1), b_i = −b_f (Tallec & Ollivier 2018): the "
                                        "gates' memory times spread up to T_max steps."))
        scheme = st.selectbox(t("Recurrent weights W_hh"), list(SCHEMES), **linked("scheme", options=SCHEMES),
                              format_func=named(SCHEMES))
        gain = st.slider(t("Gain"), 0.0, 3.0, step=0.05, **linked("gain"), disabled=scheme == "default")
    seed = st.number_input(t("Seed"), 0, 2**31 - 1, **linked("seed", 0),
                           help=t("Seeds the data, every model's weights and the batch order."))
    return dict(cells=cells, hidden=int(hidden), layers=int(layers), optimizer=optimizer, lr=lr, batch=int(batch),
                clip=float(clip), gates=gates, forget=float(forget), chrono=float(chrono), scheme=scheme,
                gain=float(gain), seed=int(seed))


def link_checks() -> dict:
    """What the page keeps in its link: the task, its parameters (not pasted text), the cells and the training
    settings, with the widgets' ranges (the sequence length's lower end is the task's)."""
    linked_task = st.query_params.get(f"{KEY}_task")  # a label, in either language
    task = next((n for n, label in TASK_NAMES.items() if linked_task in {tr(c, label) for c in LANGUAGES}),
                st.session_state.get(f"{KEY}_task", "recall"))

    def lr(values: list[str]) -> str | None:
        try:
            parse_number(N_("learning rate"), values[-1], 1e-7, 10)
        except RnnvizError:
            return t("not a number from 1e-7 to 10")
        return None

    checks = {"task": one_of(TASK_NAMES, named(TASK_NAMES)), "lag": number(1, 500, integer=True),
              "symbols": number(2, 26, integer=True), "filler": one_of(FILLERS, named(FILLERS)),
              "mode": one_of(LETTER_INPUTS, named(LETTER_INPUTS)), "encoder": one_of(ENCODINGS, named(ENCODINGS)),
              "text_source": one_of(TEXT_SOURCES, named(TEXT_SOURCES)), "seq_len": number(2, 256, integer=True),
              "length": number(10 if task == "temporal_order" else 2, 1000, integer=True),
              "stock_symbols": some_of(Stocks.SYMBOLS), "stock_window": number(2, 40, integer=True),
              "period": number(2.0, 1000.0), "noise": number(0.0, 1.0), "sine_window": number(2, 200, integer=True),
              "stocks_many": flag(), "sine_many": flag(),
              "review_source": one_of(REVIEW_SOURCES, named(REVIEW_SOURCES)),
              "size": number(20, 20_000, integer=True), "cells": some_of(CELL_ORDER, str.upper),
              "hidden": number(1, MAX_HIDDEN, integer=True), "layers": number(1, 3, integer=True),
              "optimizer": one_of(OPTIMIZERS, named(OPTIMIZERS)), "lr": lr, "batch": number(1, MAX_BATCH, integer=True),
              "clip": number(0.0, 1000.0), "gates": one_of(GATE_INITS, named(GATE_INITS)), "forget": number(-2.0, 6.0),
              "chrono": number(3, 5000, integer=True), "scheme": one_of(SCHEMES, named(SCHEMES)),
              "gain": number(0.0, 3.0), "seed": number(0, 2**31 - 1, integer=True),
              "target": number(10, MAX_RACE_STEPS, integer=True)}
    return {f"{KEY}_{name}": check for name, check in checks.items()}


def settings_ui() -> tuple[RaceConfig | None, int, RnnvizError | None]:
    """Everything in the sidebar: (the race these settings describe or None, target steps, what is wrong with them
    or None). The page shows the problem in its main column, where the player and the charts are."""
    name = st.selectbox(t("Task"), list(TASK_NAMES), **linked("task", "recall", TASK_NAMES),
                        format_func=named(TASK_NAMES))
    st.caption(t(TASK_HELP[name]))
    params = task_params_ui(name)
    seed = int(st.session_state.get(k("seed", 0), 0))
    task, error = None, None
    try:
        with st.spinner(t("Preparing the task's data…")):
            task = cached_task(name, tuple(sorted(params.items())), seed)
    except RnnvizError as err:
        error = err
    if name == "sentiment" and task is not None:
        st.caption(reviews.describe(task))
    follow_defaults(task_defaults(task if task is not None else TASKS[name]))
    st.divider()
    m = model_ui()
    target = int(st.number_input(t("Train for (steps)"), 10, MAX_RACE_STEPS, step=100, **linked("target"),
                                 help=t("Play stops here; the progress bar counts towards it.")))
    st.button(t("Use the task's recommended settings"), key=f"{KEY}_defaults", icon=":material/restart_alt:",
              width="stretch", on_click=use_defaults)
    if error is not None:
        return None, target, error
    try:
        lr = parse_number(N_("learning rate"), m["lr"], 1e-7, 10)
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
    jobs.stop()  # a race waiting in the queue at step 0 is replaced: its job goes with it
    st.session_state[RACE] = race
    st.session_state[PLAY] = "pause"
    return race


def trained_store() -> dict:
    return st.session_state.setdefault(TRAINED_KEY, {})


def settle(race: Race) -> None:
    """Gradient flow and model snapshots at the current step, and the snapshots listed for the other pages."""
    with jobs.lock():
        race.snapshot_flows()
        race.snapshot_now()
        race.publish(trained_store(), MAX_PUBLISHED)


def play_changed(target: int) -> None:
    """Play/Pause's callback. Play hands the race to the server's scheduler; Pause sets the job's flag, and the job
    stops at the end of the slice it is training, so a click is never lost behind one. The callback waits for that
    end up to jobs.PAUSE_SETTLE_S (a slice is 0.25 s of training), so that the run answering the click usually shows
    the pause itself; past that the page says "pausing…" and the live view redraws once the job has stopped."""
    race = st.session_state.get(RACE)
    if playing() and race is not None:
        jobs.start(race, target)
        return
    jobs.stop(settle_s=jobs.PAUSE_SETTLE_S)
    if race is not None and not jobs.active():
        # List the snapshots the race has (its latest validation pass) here: a user who pauses and opens another
        # page at once cuts this run short. The live view then takes one at the paused step (settle), after its
        # progress line has gone out, so a class pausing together sees the pause sooner.
        race.materialize()
        with jobs.lock():
            race.publish(trained_store(), MAX_PUBLISHED)


def reset() -> None:
    jobs.stop()  # a slice under way finishes on the old race, which nothing shows any more
    st.session_state[RACE] = None  # the script builds a fresh race from the settings
    st.session_state[PLAY] = "pause"


def step_to(until: int) -> None:
    """Step's callback. It is given the step to reach rather than a count, so that running twice is harmless.
    It stops after STEP_BUDGET_S seconds, so that a large model cannot hold the page for minutes."""
    race = st.session_state.get(RACE)
    if race is None:
        return
    t0, start = time.perf_counter(), race.step
    job = jobs.run_steps(race, until, STEP_BUDGET_S)  # through the scheduler, like Play: it shares the cores
    if job.error is not None:
        raise job.error
    if race.step == start and race.live and until > start:
        st.session_state[NOTE] = t("The server is busy: every trainer was taken for {s:.0f} s. Press Step again "
                                   "in a moment.", s=time.perf_counter() - t0)
    elif race.step < min(until, MAX_RACE_STEPS) and race.live:
        elapsed = time.perf_counter() - t0
        per_step = elapsed / max(1, race.step - start)
        st.session_state[NOTE] = (N_("Step stopped at step {step:,} after {seconds:.0f} s: with these settings one "
                                     "step takes about {per_step:.2g} s. Press Step again, or Play."),
                                  dict(step=race.step, seconds=elapsed, per_step=per_step))
    settle(race)


def player_ui(race: Race, target: int) -> None:
    """Reset, Play/Pause and Step. Play/Pause is a two-state control, not a button: a button's click can be
    replayed into a rerun that the live fragment's timer queued, which would toggle it back."""
    can_play = race.step < target and bool(race.live)
    if playing() and not jobs.active():
        st.session_state[PLAY] = "pause"  # reached the step count, every model diverged, or paused while idle
    elif not playing() and jobs.training():
        st.session_state[PLAY] = "play"  # it trained on while the user was on another page
    size = int(st.session_state.get(k("step_size", 10)))
    c1, c2, c3, c4, _ = st.columns([1, 1.8, 1, 1.4, 2.8], vertical_alignment="bottom")
    c1.button(t("Reset"), key=f"{KEY}_reset", on_click=reset, icon=":material/replay:", width="stretch",
              help=t("Start over at step 0 with the settings in the sidebar."))
    c2.segmented_control(t("Play or pause"), ("play", "pause"), key=k("play", "pause"), required=True,
                         on_change=play_changed, args=(target,),
                         label_visibility="collapsed", width="stretch", disabled=not (can_play or playing()),
                         format_func={"play": ":material/play_arrow: " + t("Play"),
                                      "pause": ":material/pause: " + t("Pause")}.get,
                         help=t("Play trains continuously and redraws the charts as it goes.") if can_play else
                         t("Reached the step count (raise “Train for” in the sidebar) or every model diverged."))
    c3.button(t("Step"), key=f"{KEY}_step", on_click=step_to, args=(race.step + size,), icon=":material/skip_next:",
              width="stretch", disabled=playing() or not race.live or race.step >= MAX_RACE_STEPS,
              help=t("Train a few steps, then stop."))
    c4.selectbox(t("Steps per Step"), STEP_SIZES, key=k("step_size", 10), **KEEP, label_visibility="collapsed",
                 format_func=lambda n: t("{n} steps per Step", n=n) if n > 1 else t("1 step per Step"))
    if NOTE in st.session_state:
        message, values = st.session_state.pop(NOTE)
        st.info(t(message, **values), icon=":material/hourglass_bottom:")


# Live view (a fragment that trains while playing) --------------------------------------------------------------


def metrics_ui(race: Race) -> None:
    what = {"bpc": t("bits per character"), "accuracy": t("accuracy"), "loss": "MSE"}[race.score]
    cols = st.columns(max(3, len(race.trainers) + len(race.accuracy_baselines)))
    for col, (cell, trainer) in zip(cols, race.trainers.items(), strict=False):
        last = trainer.history.evals[-1] if trainer.history.evals else {}
        value = last.get(race.score)
        shown = "–" if value is None else f"{value:.1%}" if race.score == "accuracy" else f"{value:.4g}"
        delta, why = reviews.against(value, race)
        col.metric(t("{cell} · validation {what}", cell=cell.upper(), what=what), shown, delta=delta,
                   help=t("On the held-out batch at step {step:,}.", step=last.get("step", 0)) + why)
        solved = trainer.history.first_step("accuracy", 0.99) if race.score == "accuracy" else None
        if trainer.diverged:
            col.caption(":red[" + t("diverged at step {step:,}", step=trainer.step_count) + "]")
        elif solved is not None:
            col.caption(t("≥ 99% accuracy from step {step:,}", step=solved))
    reviews.baseline_metrics(cols[len(race.trainers):], race)


def diverged_ui(race: Race) -> None:
    groups: dict[int, list[str]] = {}
    for cell, step in race.diverged.items():
        groups.setdefault(step, []).append(cell.upper())
    first = next(iter(race.trainers.values()))
    advice = (t("Turn on gradient clipping (a threshold of 1 is a good start) or lower the learning rate.")
              if first.clip is None else
              t("Lower the learning rate (now {lr:g}) or the clipping threshold (now {clip:g}).", lr=first.lr,
                clip=first.clip))
    for step, cells in groups.items():
        st.error(t("{who} diverged at step {step:,}: the loss or the gradient became infinite or NaN, so training "
                   "stopped there, keeping the weights from before that step. {advice} Then press Reset.",
                   who=", ".join(cells), step=step, advice=advice), icon=":material/warning:")


def chart_figures(race: Race, target: int) -> tuple:
    """The live view's four figures (loss, accuracy, gradient norm, gradient flow), with their revisions set. Built
    again only when the race has moved on: a redraw of a paused race, or a rerun for any other widget, draws the
    figures it already has. Building them and hashing them for their revisions was a fifth of the server's CPU in a
    /train rerun (45 → 37 ms, python -m tests.perf.train_rerun), and a class pressing Pause at once pays that once per
    student. Call it under the job's lock, as it reads the histories. What a race was built with (its clipping,
    whether it scores accuracy) is fixed for that race, so the key holds only what moves."""
    code = lang()
    clip = next(iter(race.trainers.values())).clip
    moved = tuple((cell, trainer.step_count, len(trainer.history.steps), len(trainer.history.evals),
                   tuple(trainer.flows), trainer.diverged) for cell, trainer in race.trainers.items())
    key = (target, code, moved)
    held = st.session_state.get(FIGURES)
    if held is not None and held[0] is race and held[1] == key:
        return held[2]
    runs = race.curves()
    baselines = race.accuracy_baselines  # the majority class stands for chance where it is measured
    figures = tuple(with_revision(fig) for fig in (
        loss_figure(runs, race.loss_unit, race.baseline, x_max=target, lang=code),
        accuracy_figure(runs, None if baselines else race.task.chance, x_max=target, scored=race.has_accuracy,
                        lang=code, baselines=baselines),
        grad_norm_figure(runs, clip, x_max=target, lang=code),
        train_flow_figure(runs, lang=code)))
    st.session_state[FIGURES] = (race, key, figures)
    return figures


def charts_ui(race: Race, figures: tuple) -> None:
    for cell, fit in race.fits.items():  # the ESN: trained once, by a ridge fit, when the race was set up
        st.info(t("{cell} is trained in one ridge regression of its readout on the fixed reservoir's states "
                  "({samples:,} sequences, λ = {ridge:g}), with no backpropagation: it finished when the race "
                  "started. It takes no steps, so its validation result is drawn flat across the race.",
                  cell=cell.upper(), samples=fit["samples"], ridge=fit["ridge"]), icon=":material/bolt:")
    left, right = st.columns(2)
    for where, fig, name in zip((left, right, left, right), figures, ("loss", "accuracy", "grad_norm", "flow"),
                                strict=True):
        plotly_chart(where, fig, revised=True, width="stretch", key=f"{KEY}_{name}")


def live_ui(target: int) -> None:
    """The live view. The server's scheduler trains the race; this fragment only redraws, on a timer that stretches
    with the number of sessions training (train_jobs.tick_s), and says so."""
    tick = jobs.tick_s()

    @st.fragment(run_every=tick)
    def live():
        race = st.session_state.get(RACE)
        if race is None:
            return
        job = jobs.current()
        if tick is not None and job is not None:
            if job.stopped:  # paused, at the step count, or every model diverged
                settle(race)
                st.rerun()  # the whole page: the player shows Pause, the models are settled, the timer stops
            job.touch()
        if job is not None and job.error is not None:
            show_error(job.error)
        race.materialize()  # the model copies for other pages, made before the lock: a slice need not wait for them
        if tick is not None:
            with jobs.lock(job):  # between the job's slices: its history is read whole
                race.snapshot_flows()
                race.publish(trained_store(), MAX_PUBLISHED)
        st.progress(min(1.0, race.step / target),
                    text=t("Step {step:,} of {target:,} · {seconds:.1f} s of training", step=race.step,
                           target=target, seconds=race.seconds) + jobs.status())
        if tick is None and race.step > 0:  # no job under way (jobs.tick_s)
            settle(race)  # paused: the validation pass at its step, drawn below, once the progress line is out
        with jobs.lock(job):
            figures = chart_figures(race, target)
        if note := jobs.tick_note(tick):
            st.caption(note)
        metrics_ui(race)
        diverged_ui(race)
        charts_ui(race, figures)
        if tick is not None:
            jobs.redrawn()  # what a redraw costs the server sets every live view's timer

    live()


# Why, and the models ---------------------------------------------------------------------------------------------


def explain_ui(race: Race) -> None:
    """Why the LSTM wins on recall: the vanishing gradient, the cell state, and what its gate init keeps."""
    if race.task.name != "recall":
        return
    lag, chance = race.task.lag, race.task.chance
    init = race.config.init or race.task.defaults.init
    with st.expander(t("Why the LSTM remembers across the lag and the vanilla RNN does not"), expanded=True,
                     icon=":material/lightbulb:"):
        rnn = (t("Over {lag} steps nothing usable is left, and the RNN stays near chance, {chance:.1%}.", lag=lag,
                 chance=chance) if lag >= 50 else
               t("Over only {lag} steps enough may survive for the RNN to learn too: set the lag to 100 to see it "
                 "fail.", lag=lag))
        if init.chrono_tmax:
            half = init.chrono_tmax / 2
            gates = t("**Chrono init** (Tallec & Ollivier 2018) with T_max = {tmax:g} sets b_f = log U(1, T_max − 1): "
                      "the median forget gate starts at σ(log {half:g}) ≈ {f:.3f}, a memory time 1/(1 − f) of about "
                      "{memory:g} steps, and b_i = −b_f closes the input gates so that the filler does not wash the "
                      "symbol out.", tmax=init.chrono_tmax, half=half, f=sigmoid(math.log(half)), memory=1 + half)
        elif init.forget_bias is not None:
            f = sigmoid(init.forget_bias)
            gates = t("Here the forget-gate bias is {b:g}: f starts near σ({b:g}) = {f:.3f}, and {f:.3f}^{lag} ≈ "
                      "{kept:.0e}.", b=init.forget_bias, f=f, lag=lag, kept=f**lag)
        else:
            gates = t("Here the gates keep PyTorch's default biases.")
        try_it = (t("Try it: set the gate biases to *PyTorch default* in the sidebar's Initialization, press Reset "
                    "and Play, and watch the LSTM struggle too.") if init.chrono_tmax or init.forget_bias else
                  t("Try it: set the gate biases to *Chrono* in the sidebar's Initialization and press Reset."))
        st.markdown(t(
            "- The answer is scored only at the last step, so the one signal that can teach a model to keep the "
            "symbol is a gradient that travels back **{lag} steps** (backpropagation through time). In a vanilla "
            "RNN it is multiplied at every step by ∂h_t/∂h_t−1 = diag(1 − h_t²) W_hh, whose norm is usually below "
            "1: it shrinks geometrically, the vanishing gradient (the red curve of the gradient-flow chart falls by "
            "orders of magnitude). {rnn}\n"
            "- The LSTM's cell state c_t = f_t ⊙ c_t−1 + i_t ⊙ g_t passes the gradient back through the forget gate "
            "f_t alone. Its init decides how much survives: with PyTorch's default biases f ≈ 0.5 and the gradient "
            "halves every step (0.5^{lag} ≈ {halved:.0e}). {gates}\n"
            "- {try_it}", lag=lag, rnn=rnn, halved=0.5**lag, gates=gates, try_it=try_it))


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def plain(text: str) -> str:
    """Text shown through markdown as it is (a file name or title may hold * _ [ ] and the like)."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>$~:])", r"\\\1", str(text))


def models_ui(race: Race) -> None:
    st.subheader(t("Models from this session"))
    store = trained_store()
    busy = jobs.active()
    if not busy and race.step > 0:
        settle(race)
    listed, uploaded = st.columns([3, 2], gap="large")
    with listed:
        st.caption(t("Each model is listed under **Trained here** on Inside the cell, Gradient flow and Generate, "
                     "as of its latest validation pass.") + (t(" Pause to download one.") if busy else ""))
        if not store:
            st.info(t("No model yet: press Step or Play."), icon=":material/info:")
        for i, (name, entry) in enumerate(reversed(list(store.items()))):
            text, button = st.columns([4, 1.3], vertical_alignment="center")
            card = entry.get("card", {})
            about = describe_card(card, lang()) or t("Its card gives no details.")
            text.markdown(f"**{plain(name)}**  \n{plain(about)}")
            if not busy:
                model = entry["model"]
                button.download_button(t("Download"), data=lambda m=model, c=card: save_checkpoint(m, None, c),
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
    file = st.file_uploader(t("Checkpoint (.safetensors, made by rnnviz)"), type=["safetensors"], key=f"{KEY}_upload",
                            help=t("A model downloaded here, or saved with rnnviz.checkpoint.save."))
    if file is None:
        st.caption(t("Upload a checkpoint to open it on the other pages."))
        return
    ident = (file.name, file.size, getattr(file, "file_id", None))
    if st.session_state.get(f"{KEY}_uploaded") == ident:
        return
    try:
        model, card = load_checkpoint(file.getvalue())
    except RnnvizError as err:
        st.error(f"{plain(file.name[:80])}: {plain(err.text(lang()))}", icon=":material/error:")
        return
    st.session_state[f"{KEY}_uploaded"] = ident
    store[t("{name} (uploaded)", name=str(card.get("title") or file.name)[:80])] = {"model": model, "card": card}
    while len(store) > MAX_PUBLISHED:
        del store[next(iter(store))]
    st.rerun()  # list it on the left at once


# The page --------------------------------------------------------------------------------------------------------


def main() -> None:
    jobs.warm()
    st.title(t("Train live"))
    st.caption(t("Pick a task and one or more cells in the sidebar, then press Play: every cell trains on the same "
                 "batches from the same seed, and the charts redraw as they learn."))
    url_notice(f"{KEY}_", link_checks())
    with st.sidebar:
        config, target, problem = settings_ui()
    if problem is not None:
        show_error(problem)
    race = st.session_state.get(RACE)
    if config is not None and (race is None or (race.step == 0 and race.config != config)):
        race = new_race(config)
    if race is None:
        st.info(t("Fix the settings in the sidebar to start a race."), icon=":material/tune:")
        return
    if config is not None and race.config != config:
        st.info(t("The sidebar's settings differ from this race's: press Reset to start over with them."),
                icon=":material/info:")
    st.caption(t("Racing {cells} on **{task}**, seed {seed}.", cells=", ".join(c.upper() for c in race.trainers),
                 task=task_label(race.task, lang()), seed=race.config.seed))
    player_ui(race, target)
    reviews.baselines_ui(race)
    live_ui(target)
    explain_ui(race)
    models_ui(race)


main()
