"""Before gating (/memory): leaky units and echo state networks beside RNN, LSTM and GRU.

Sections: what came before gates, in plain words and then the equations; success against lag for every cell,
from the sweep shipped in assets/ or from one run here, live, with progress, cancel and a time estimate; memory
capacity (Jaeger 2001) of any model, and for an echo state network how ρ and the input scaling move it.
"""

from __future__ import annotations

import json
import math

import numpy as np
import streamlit as st

from pages.i18n import lang, t
from pages.shared import model_source_ui, plotly_chart, random_model, show_error, url_notice
from rnnviz import InitConfig, ModelConfig, RnnvizError, memory_capacity
from rnnviz.assets import ASSETS
from rnnviz.figures import capacity_figure, capacity_scan_figure, lag_sweep_figure
from rnnviz.figures.memory import CELL_LABELS
from rnnviz.i18n import N_
from rnnviz.model import Model
from rnnviz.sweep import SWEEP_CELLS, LiveSweep, SweepConfig, costs_from, estimate_seconds

KEY = "memory"
SHIPPED = ASSETS / "sweep_recall.json"
LIVE, STATUS = f"{KEY}_live", f"{KEY}_status"  # session_state: the LiveSweep, and "running" | "done" | "cancelled"
MAX_LIVE_S = 180  # the longest sweep a session may run here (estimated before it starts)
TICK_S, BUDGET_S = 1.0, 0.7  # the live fragment's timer and the training time per tick
LAG_CHOICES = (5, 10, 20, 50, 100, 200)
TASK_LABELS = {"recall": N_("Recall (lag = steps of filler)"),
               "adding": N_("Adding problem (lag = sequence length)"),
               "temporal_order": N_("Temporal order (lag = sequence length)")}
MC_CELLS = ("esn", "leaky", "rnn", "lstm", "gru")
RHO_SCAN = (0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0, 1.1, 1.3)
SCALING_SCAN = (0.01, 0.03, 0.1, 0.3, 1.0, 2.0, 5.0)


def cell_label(cell: str) -> str:
    return t(CELL_LABELS[cell])


def explain_ui() -> None:
    st.title(t("Before gating: leaky units and echo state networks"))
    st.markdown(t(
        "A vanilla RNN forgets fast: every step multiplies what it remembers, and the gradient that teaches it, "
        "by a factor that is usually below 1. At 0.9 per step, 20 steps leave about 0.12 of the signal. Before "
        "gated cells (LSTM, GRU) took over, two other answers were tried.\n\n"
        "- **Leaky units** keep part of the old state at every step and mix in only a share α of the new one. A "
        "unit with a small α changes slowly, so it works on a longer time scale; units with different α see the "
        "sequence at different speeds.\n"
        "- **Reservoir computing**, here the **echo state network (ESN)**: a large recurrent layer whose weights "
        "are drawn at random and never trained. Scaled so that echoes of the input fade (spectral radius ρ "
        "below 1), its state holds a rich, fading record of the recent input, and only a linear readout is "
        "trained, in one least-squares solve, with no backpropagation through time.\n\n"
        "Gated cells still do best on most tasks; the charts below show where each answer stands."))
    with st.expander(t("The equations"), icon=":material/function:"):
        st.markdown(t("Leaky unit, with a leak rate α per unit (α = 1 is the vanilla RNN):"))
        st.latex(r"h_t = (1-\alpha)\odot h_{t-1} + \alpha \odot \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})")
        st.markdown(t("Its Jacobian, and the bound on how fast a gradient can fade or grow over k steps "
                      "(Pascanu et al. 2013, with γ = 1 for tanh):"))
        st.latex(r"\frac{\partial h_t}{\partial h_{t-1}} = \operatorname{diag}(1-\alpha) + "
                 r"\operatorname{diag}\!\big(\alpha \odot \tanh'(a_t)\big) W_{hh}, \qquad "
                 r"\Big\|\frac{\partial h_t}{\partial h_{t-k}}\Big\| \le "
                 r"\big((1-\alpha) + \alpha\,\gamma\,\sigma_{\max}(W_{hh})\big)^k")
        st.markdown(t("Echo state network (Jaeger 2001): the same leaky layer with W_hh random, sparse and fixed, "
                      "scaled to spectral radius ρ, and input weights drawn from s · U(−1, 1). Only the readout is "
                      "fitted, by ridge regression on the states X and targets Y:"))
        st.latex(r"W_{hh} \leftarrow \rho\, \frac{W}{\max_i |\lambda_i(W)|}, \qquad "
                 r"W_{out} = Y X^\top (X X^\top + \lambda I)^{-1}")
        st.markdown(t("Memory capacity: drive the network with independent random inputs u(t), fit one readout "
                      "per delay k to recall u(t − k), and add up the squared correlations. With N state units "
                      "it is at most N:"))
        st.latex(r"MC = \sum_{k \ge 1} r^2\big(u(t-k),\, y_k(t)\big) \le N")


# Success against lag -----------------------------------------------------------------------------------------


@st.cache_data(max_entries=2, show_spinner=False)
def shipped() -> dict | None:
    try:
        return json.loads(SHIPPED.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def sweep_caption(result: dict) -> str:
    c = result["config"]
    runs = len(result["runs"])
    minutes = result["seconds"] / 60
    values = dict(runs=runs, seeds=c["seeds"], hidden=c["hidden_size"] or 32, samples=c["esn_samples"],
                  minutes=f"{minutes:.1f}", device=result["device"], threads=result["threads"])
    if not c["steps"]:
        return t("{runs} runs: the task's default number of training steps each ({seeds} seeds, {hidden} units, the "
                 "task's other defaults; the ESN fits its readout on {samples} sequences instead). {minutes} min on "
                 "{device} with {threads} thread(s).", **values)
    return t("{runs} runs: {steps} training steps each ({seeds} seeds, {hidden} units, the task's other defaults; "
             "the ESN fits its readout on {samples} sequences instead). {minutes} min on {device} with {threads} "
             "thread(s).", steps=c["steps"], **values)


def sweep_settings_ui() -> SweepConfig | None:
    c1, c2 = st.columns(2)
    task = c1.selectbox(t("Task"), list(TASK_LABELS), key=f"{KEY}_task", format_func=lambda k: t(TASK_LABELS[k]))
    lags = c2.multiselect(t("Lags"), LAG_CHOICES, default=[5, 10, 20], key=f"{KEY}_lags")
    cells = st.multiselect(t("Cells"), SWEEP_CELLS, default=list(SWEEP_CELLS), key=f"{KEY}_cells",
                           format_func=cell_label)
    c1, c2 = st.columns(2)
    seeds = c1.number_input(t("Seeds"), 1, 5, 2, key=f"{KEY}_seeds")
    steps = c2.number_input(t("Training steps per run"), 10, 2000, 100, step=50, key=f"{KEY}_steps",
                            help=t("The task's own default is 1,000 to 2,000: more than a session can wait for."))
    if not lags or not cells:
        st.info(t("Pick at least one lag and one cell."), icon=":material/info:")
        return None
    try:
        return SweepConfig(task, tuple(sorted(lags)), tuple(c for c in SWEEP_CELLS if c in cells), int(seeds),
                           int(steps), esn_samples=512)
    except RnnvizError as err:
        show_error(err)
        return None


def start(config: SweepConfig) -> None:
    st.session_state[LIVE] = LiveSweep(config, device="cpu")
    st.session_state[STATUS] = "running"


def cancel() -> None:
    st.session_state[STATUS] = "cancelled"


def live_sweep_ui() -> None:
    with st.expander(t("Run a sweep here"), icon=":material/play_circle:",
                     expanded=st.session_state.get(STATUS) == "running"):
        config = sweep_settings_ui()
        running = st.session_state.get(STATUS) == "running"
        if config is None:
            return
        base = shipped()
        try:
            seconds = estimate_seconds(config, costs_from(base)) if base else None
        except (RnnvizError, KeyError, TypeError, ValueError, ZeroDivisionError):
            seconds = None
        command = (f"python -m rnnviz.sweep --task {config.task} --lags {','.join(map(str, config.lags))} "
                   f"--cells {','.join(config.cells)} --seeds {config.seeds} --steps {config.steps} --json")
        too_large = seconds is not None and seconds > MAX_LIVE_S
        if too_large:
            st.warning(t("This sweep ({runs} runs) would take about {minutes} min here; a session runs sweeps of "
                         "up to {limit} min. Use fewer lags, seeds or steps, or run it on your own machine:",
                         runs=config.runs, minutes=f"{seconds / 60:.0f}", limit=MAX_LIVE_S // 60),
                       icon=":material/hourglass_disabled:")
            st.code(command, language="bash")
        elif seconds is not None:
            st.caption(t("{runs} runs, about {seconds} s on this machine.", runs=config.runs,
                         seconds=f"{max(1, seconds):.0f}"))
        c1, c2, _ = st.columns([1, 1, 3])
        c1.button(t("Start"), key=f"{KEY}_start", on_click=start, args=(config,), icon=":material/play_arrow:",
                  disabled=running or too_large, width="stretch")
        c2.button(t("Cancel"), key=f"{KEY}_cancel", on_click=cancel, icon=":material/stop:",
                  disabled=not running, width="stretch")
        progress_ui()


def progress_ui() -> None:
    @st.fragment(run_every=TICK_S if st.session_state.get(STATUS) == "running" else None)
    def live():
        sweep = st.session_state.get(LIVE)
        status = st.session_state.get(STATUS)
        if sweep is None:
            return
        if status == "running":
            sweep.advance(BUDGET_S)
            if sweep.done:
                st.session_state[STATUS] = "done"
                st.rerun()
        left = sweep.seconds_left()
        text = t("Run {done} of {total} · {seconds} s", done=min(len(sweep.runs) + 1, len(sweep.plan)),
                 total=len(sweep.plan), seconds=f"{sweep.seconds:.0f}")
        if status == "running" and left is not None:
            text += " · " + t("about {left} s left", left=f"{left:.0f}")
        elif status == "cancelled":
            text += " · " + t("cancelled: the chart shows the runs that finished")
        elif status == "done":
            text = t("Done: {total} runs in {seconds} s", total=len(sweep.plan), seconds=f"{sweep.seconds:.0f}")
        st.progress(sweep.progress, text=text)

    live()


def lag_sweep_ui() -> None:
    st.header(t("Success against lag"))
    st.caption(t("Each cell learns the task at several lags; the line is the median over seeds and the band runs "
                 "from the worst seed to the best (Bengio et al. 1994; Hochreiter & Schmidhuber 1997)."))
    live_sweep_ui()
    sweep = st.session_state.get(LIVE)
    base = shipped()
    choices = {}
    if base is not None:
        choices["shipped"] = t("Shipped with rnnviz")
    if sweep is not None and sweep.runs:
        choices["yours"] = t("Your sweep")
    if not choices:
        st.info(t("No sweep result is bundled: run one above, or `python -m rnnviz.sweep --json`."),
                icon=":material/info:")
        return
    which = st.segmented_control(t("Result shown"), list(choices), format_func=choices.get, key=f"{KEY}_which",
                                 default=list(choices)[-1], required=True) if len(choices) > 1 else list(choices)[0]
    result = base if which == "shipped" else sweep.result()
    plotly_chart(st, lag_sweep_figure(result, lang()), width="stretch", key=f"{KEY}_sweep_chart")
    st.caption(sweep_caption(result))


# Memory capacity -----------------------------------------------------------------------------------------------


def random_ui() -> tuple[Model, str] | None:
    c1, c2, c3 = st.columns(3)
    cell = c1.selectbox(t("Cell"), MC_CELLS, key=f"{KEY}_mc_cell", format_func=cell_label)
    size = int(c2.number_input(t("Units N"), 2, 200, 50, key=f"{KEY}_mc_hidden"))
    seed = int(c3.number_input(t("Seed"), 0, 2**31 - 1, 0, key=f"{KEY}_mc_seed"))
    extra = {}
    if cell == "esn":
        c1, c2, c3, c4 = st.columns(4)
        extra["spectral_radius"] = c1.slider(t("Spectral radius ρ"), 0.05, 1.5, 0.9, 0.05, key=f"{KEY}_rho",
                                             help=t("Below 1, echoes of the input fade; above 1 they may not."))
        extra["input_scaling"] = c2.select_slider(t("Input scaling s"), SCALING_SCAN, value=0.1,
                                                  key=f"{KEY}_scaling",
                                                  help=t("Small: the units stay in tanh's linear middle."))
        extra["leak"] = c3.slider(t("Leak rate α"), 0.05, 1.0, 1.0, 0.05, key=f"{KEY}_esn_leak")
        extra["density"] = c4.slider(t("Density of W_hh"), 0.05, 1.0, 0.1, 0.05, key=f"{KEY}_density")
    elif cell == "leaky":
        extra["leak"] = st.slider(t("Leak rate α"), 0.05, 1.0, 0.5, 0.05, key=f"{KEY}_leak")
    config = ModelConfig(cell=cell, hidden_size=size, encoder="float", input_size=1, head="none",
                         seed=seed if cell == "esn" else 0, **extra)
    return random_model(config, InitConfig(), None, seed), f"{cell_label(cell)} (N = {size})"


@st.cache_data(max_entries=64, show_spinner=False)
def cached_capacity(_model: Model, model_key: str, max_delay: int):
    return memory_capacity(_model, max_delay=max_delay)


@st.cache_data(max_entries=16, show_spinner=False)
def capacity_scan(config: ModelConfig, name: str, values: tuple[float, ...], max_delay: int) -> list[float]:
    """Total memory capacity of the ESN ``config`` with its setting ``name`` at each of ``values``."""
    from dataclasses import replace

    return [memory_capacity(Model(replace(config, **{name: v})), max_delay=max_delay).total for v in values]


def capacity_ui() -> None:
    st.header(t("Memory capacity"))
    st.caption(t("How much of its recent input a network's state still holds (Jaeger 2001): the input is random "
                 "noise u(t), one linear readout per delay k tries to recall u(t − k), and r²ₖ says how well it "
                 "does. Token models read a random choice between two tokens."))
    picked = model_source_ui(f"{KEY}_mc", "char", random_ui, default="Random")
    if picked is None:
        return
    model, name = picked
    N = model.config.directions * model.config.hidden_size
    K = int(st.slider(t("Largest delay K"), 5, 200, min(200, max(10, 2 * N)), 5, key=f"{KEY}_mc_delay"))
    try:
        with st.spinner(t("Measuring memory capacity…")):
            mc = cached_capacity(model, model.fingerprint(), K)
    except RnnvizError as err:
        show_error(err)
        return
    c1, c2 = st.columns(2)
    c1.metric(t("Memory capacity Σ r²ₖ"), f"{mc.total:.2f}")
    c2.metric(t("Bound N (state units read)"), f"{mc.bound}")
    plotly_chart(st, capacity_figure([(name, model.cell, mc)], lang()), width="stretch", key=f"{KEY}_mc_chart")
    if model.cell == "esn":
        scan_ui(model, K)


def scan_ui(model: Model, K: int) -> None:
    st.markdown(t("**How ρ and the input scaling move it.** Each point is the same reservoir redrawn with one "
                  "setting changed; the dotted line marks yours."))
    c = model.config
    left, right = st.columns(2)
    with st.spinner(t("Measuring memory capacity…")):
        rho = capacity_scan(c, "spectral_radius", RHO_SCAN, K)
        scaling = capacity_scan(c, "input_scaling", SCALING_SCAN, K)
    plotly_chart(left, capacity_scan_figure(RHO_SCAN, rho, c.hidden_size, c.spectral_radius, t("spectral radius ρ"),
                                            lang()), width="stretch", key=f"{KEY}_scan_rho")
    fig = capacity_scan_figure(SCALING_SCAN, scaling, c.hidden_size, c.input_scaling, t("input scaling s"), lang())
    fig.update_xaxes(type="log", tickvals=SCALING_SCAN, ticktext=[f"{v:g}" for v in SCALING_SCAN])
    plotly_chart(right, fig, width="stretch", key=f"{KEY}_scan_scaling")
    best = int(np.argmax(rho))
    st.caption(t("Here the capacity peaks near ρ = {rho}: too small and echoes die within a few steps, too large "
                 "and the state is driven by its own dynamics more than by the input. Large input scaling pushes "
                 "the units into tanh's flat ends, where they stop tracking the input.", rho=RHO_SCAN[best])
               if math.isfinite(rho[best]) else "")


url_notice(KEY, {})  # before the widgets: leaves Streamlit's legacy pages/ mode on a cold start
explain_ui()
lag_sweep_ui()
capacity_ui()
