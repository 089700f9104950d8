"""Gradient flow (/gradients): how far back the gradient reaches in a vanilla RNN, an LSTM and a GRU, and, when
picked (the sidebar's Cells, random models), in leaky units and an echo state network. Only the cells picked are
computed and drawn: every view below holds the same models.

Sections, top to bottom: the sequence (typed or generated); a memory-horizon card per model; the main chart
(normalized ‖dL/dh_t‖ against lag, with the LSTM's cell-state path and the RNN's bound) and below it the per-step
Jacobian norm on the same lag axis; overflow notes; the math; input saliency painted over the tokens; per-unit
heatmaps; the summary table. Controls sit in the sidebar, each with one line saying what it does.

Every number is rnnviz.gradient_flow's (through pages.shared.cached_gradient_flow, keyed by model
fingerprint, input and objective, and cached_step_norms); rnnviz.flows only reorders them by lag and takes medians
over seeds. The per-step Jacobian norms cost the most (batched Lanczos): each model's start on
pages.shared.NORM_WORKERS as soon as its flow has traced it, and the Jacobian chart and the summary table are
parallel fragments that wait for them while the script sends the rest of the page, which the browser draws
meanwhile; the chart fills the space kept for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np
import streamlit as st

from pages.i18n import lang, t
from pages.shared import (
    LINK,
    MAX_STEPS,
    NONLINEARITIES,
    SOURCES,
    RunTraces,
    cached_gradient_flow,
    cached_step_norms,
    markdown_literal,
    named,
    number,
    one_of,
    plotly_chart,
    pretrained,
    random_model,
    sequence_ui,
    short_text,
    show_error,
    some_of,
    trained_models,
    upload_ui,
    url_notice,
)
from rnnviz import InitConfig, Model, ModelConfig, RnnvizError, Vocab
from rnnviz.assets import list_pretrained
from rnnviz.figures import flow_figure, jacobian_figure, saliency_html, unit_heatmaps
from rnnviz.flows import GENERATORS, HORIZON_FLOOR, Flow, generated_text, shown_layer
from rnnviz.i18n import N_

KEY = "grad"
CELLS = ("rnn", "lstm", "gru", "leaky", "esn")
DEFAULT_CELLS = ("rnn", "lstm", "gru")  # the page opens on these; leaky units and the ESN are one click away
LEAKY_CELLS = ("leaky", "esn")  # no gates: the RNN's init, and their own bound on the chart
DEFAULT_LENGTH = 200
SOURCE_NAMES = {"Pretrained": N_("Pretrained on the long-lag task"), "Random": N_("Random (untrained)"),
                "Trained here": N_("Trained in this session"), "Uploaded": N_("Uploaded checkpoint")}
GENERATOR_NAMES = {"recall_blank": N_("Recall task: a symbol, then blanks"),
                   "recall_noise": N_("Recall task: a symbol, then noise digits"), "random": N_("Random tokens")}
OBJECTIVES = {"sum": N_("Sum of the last output"), "next_token": N_("Loss at the last step")}
THRESHOLDS = [10.0 ** -k for k in range(1, 13)]
HIDDEN_SIZES = [8, 16, 32, 64, 128, 256]
SCHEME_NAMES = {"default": N_("PyTorch default"), "orthogonal": N_("Orthogonal × gain"),
                "identity": N_("Identity × gain")}
MAX_PRETRAINED = 6
JACOBIAN_HEIGHT = 260  # px: the per-step Jacobian chart, and the space kept for it while it computes


@dataclass(frozen=True)
class RandomSpec:
    """What the random-model controls collected; the models are built once the input's vocabulary is known."""

    cells: tuple[str, ...]
    hidden: int
    layers: int
    nonlinearity: str
    init: InitConfig
    seeds: tuple[int, ...]


def plain(text: str) -> str:
    """A name shown through Streamlit markdown (metric labels): markdown and HTML characters escaped."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>$~:])", r"\\\1", str(text))


# Sidebar controls -------------------------------------------------------------------------------------------


def source_ui() -> str:
    have = bool(list_pretrained("recall"))
    source = st.radio(t("Models"), SOURCES, index=0 if have else 1, key=f"{KEY}_source",
                      format_func=named(SOURCE_NAMES),
                      bind=LINK)
    st.caption(t("Pretrained: an RNN, LSTM and GRU trained to recall a symbol across a long lag. Random: untrained, "
                 "built from the controls below. Or a model from Train live, or your checkpoint."))
    return source


def random_ui() -> RandomSpec:
    """The random models' settings: the cells picked (none is allowed; model_groups then says so) and their
    shared size and initialization."""
    picked = st.pills(t("Cells"), CELLS, selection_mode="multi", default=list(DEFAULT_CELLS), format_func=str.upper,
                      key=f"{KEY}_cells", bind=LINK)
    st.caption(t("Each picked cell runs on the sequence and gets a line on both charts, a card, a row of the strip and "
                 "a heatmap. LEAKY (leaky units) and ESN (echo state network) are the answers to vanishing gradients "
                 "that came before gates."))
    hidden = st.select_slider(t("Hidden units"), HIDDEN_SIZES, value=128, key=f"{KEY}_hidden", bind=LINK)
    st.caption(t("Units per layer, the same for every cell."))
    layers = int(st.number_input(t("Layers"), 1, 4, 1, key=f"{KEY}_layers", bind=LINK))
    st.caption(t("Stacked layers; the chart shows one of them (see Layer shown)."))
    nonlin = st.radio(t("RNN nonlinearity"), NONLINEARITIES, horizontal=True, key=f"{KEY}_nonlin", bind=LINK)
    st.caption(t("tanh saturates and damps the gradient; relu passes it on unchanged wherever a unit is active."))
    scheme = st.selectbox(t("Recurrent init (W_hh)"), list(SCHEME_NAMES), key=f"{KEY}_scheme",
                          format_func=named(SCHEME_NAMES), bind=LINK)
    st.caption(t("Default: uniform ±1/√H. Orthogonal: every singular value equals the gain. Identity: W_hh = gain·I."))
    gain = st.slider(t("Gain"), 0.5, 2.0, 1.0, 0.05, key=f"{KEY}_gain", disabled=scheme == "default", bind=LINK)
    st.caption(t("Scales W_hh. Above 1 the gradient can grow step after step and overflow on a long sequence."))
    forget = st.slider(t("Forget-gate bias"), -2.0, 6.0, 1.0, 0.5, key=f"{KEY}_forget", bind=LINK)
    st.caption(t("LSTM f and GRU z start near σ(b): 0 → 0.5 (halves the cell-state gradient each step), "
                 "1 → 0.73, 5 → 0.993."))
    chrono = int(st.number_input(t("Chrono init T_max"), 0, MAX_STEPS, 0, step=50, key=f"{KEY}_chrono", bind=LINK))
    st.caption(t("0 is off. Otherwise b_f ~ log U(1, T_max − 1), b_i = −b_f: memory times spread up to T_max."))
    seed = int(st.number_input(t("Seed"), 0, 2**31 - 1, 0, key=f"{KEY}_seed", bind=LINK))
    st.caption(t("Draws the random weights; the same seed gives the same models."))
    count = int(st.number_input(t("Number of seeds"), 1, 8, 1, key=f"{KEY}_seeds", bind=LINK))
    st.caption(t("Several seeds: the line is the median, the band runs from min to max."))
    init = InitConfig(scheme, gain=float(gain) if scheme != "default" else 1.0, forget_bias=float(forget),
                      chrono_tmax=float(chrono) if chrono >= 3 else None)
    return RandomSpec(tuple(c for c in CELLS if c in picked), int(hidden), layers, nonlin, init,
                      tuple(range(seed, seed + count)))


def analysis_ui() -> tuple[str, float]:
    objective = st.radio(t("Objective"), list(OBJECTIVES), key=f"{KEY}_objective", format_func=named(OBJECTIVES),
                         bind=LINK)
    st.caption(t("What L is: the sum of the top layer's output at the last step, or the cross-entropy of the "
                 "prediction at the last step (against the model's own top choice)."))
    threshold = st.select_slider(t("Horizon threshold"), THRESHOLDS, value=1e-6, key=f"{KEY}_threshold",
                                 format_func=threshold_label, bind=LINK)
    st.caption(t("The memory horizon is the largest lag whose normalized gradient is still ≥ {floor:.0e}; the second "
                 "horizon uses this threshold.", floor=HORIZON_FLOOR))
    return objective, float(threshold)


def threshold_label(v: float) -> str:
    return f"{v:.0e}"


def link_checks() -> dict:
    """What the page keeps in its link: the models, their random settings, the analysis and the sequence."""
    return {f"{KEY}_source": one_of(SOURCES, named(SOURCE_NAMES)), f"{KEY}_cells": some_of(CELLS, str.upper),
            f"{KEY}_hidden": one_of(HIDDEN_SIZES),
            f"{KEY}_layers": number(1, 4, integer=True), f"{KEY}_nonlin": one_of(NONLINEARITIES),
            f"{KEY}_scheme": one_of(SCHEME_NAMES, named(SCHEME_NAMES)), f"{KEY}_gain": number(0.5, 2.0),
            f"{KEY}_forget": number(-2.0, 6.0), f"{KEY}_chrono": number(0, MAX_STEPS, integer=True),
            f"{KEY}_seed": number(0, 2**31 - 1, integer=True), f"{KEY}_seeds": number(1, 8, integer=True),
            f"{KEY}_objective": one_of(OBJECTIVES, named(OBJECTIVES)),
            f"{KEY}_threshold": one_of(THRESHOLDS, threshold_label), f"{KEY}_sequence": short_text()}


def layer_ui(max_layers: int) -> int | None:
    if max_layers <= 1:
        return None
    layer = st.select_slider(t("Layer shown"), list(range(1, max_layers + 1)), value=max_layers, key=f"{KEY}_layer")
    st.caption(t("The bound holds for the top layer; lower ones also get gradient from the layer above at every step."))
    return int(layer) - 1


# Sequence and models -----------------------------------------------------------------------------------------


def sequence_section() -> str | None:
    box, gen = st.columns([3, 1])
    with gen:
        st.selectbox(t("Generated input"), GENERATORS, key=f"{KEY}_gen_kind", format_func=named(GENERATOR_NAMES),
                     help=t("Recall: the input of the long-lag task the pretrained models learned, a symbol then "
                            "filler. Random: tokens drawn from the same alphabet."))
        size, go = st.columns([3, 2], vertical_alignment="bottom")
        size.number_input(t("Length"), 2, MAX_STEPS, DEFAULT_LENGTH, step=100, key=f"{KEY}_gen_length")

        def generate():  # reads the widgets' state, which holds an edit committed by this very click
            state = st.session_state
            count = state[f"{KEY}_gen_count"] = state.get(f"{KEY}_gen_count", 0) + 1
            state[f"{KEY}_sequence"] = generated_text(state[f"{KEY}_gen_kind"], int(state[f"{KEY}_gen_length"]),
                                                      seed=count)

        go.button(t("Generate"), key=f"{KEY}_generate", on_click=generate, width="stretch",
                  help=t("Replace the sequence with a generated one of this length (up to 2,000 steps)."))
    with box:
        text = sequence_ui(f"{KEY}_sequence", generated_text("recall_blank", DEFAULT_LENGTH), height=100,
                           help=t("Type anything (each character is a step), or generate a sequence on the right. "
                                  "The objective reads the last step."))
    return text


def model_groups(source: str, spec: RandomSpec | None, text: str) -> list[tuple[str, list[Model]]] | None:
    """(label, one model per seed) for each model to compare, or None with a message on the page."""
    if source == "Random":
        if not spec.cells:
            st.info(t("Pick at least one cell in the sidebar."), icon=":material/info:")
            return None
        vocab = Vocab.from_text(text)
        groups = []
        for cell in spec.cells:
            config = ModelConfig(cell=cell, hidden_size=spec.hidden, num_layers=spec.layers,
                                 nonlinearity=spec.nonlinearity if cell == "rnn" else "tanh")
            init = replace(spec.init, forget_bias=None, chrono_tmax=None) if cell in ("rnn", *LEAKY_CELLS) \
                else spec.init
            groups.append((cell.upper(), [random_model(replace(config, seed=s) if cell == "esn" else config, init,
                                                       vocab, s) for s in spec.seeds]))  # an ESN draws its reservoir
        return groups
    if source == "Pretrained":
        cards = sorted(list_pretrained("recall"), key=lambda c: (CELLS.index(c.get("cell", "rnn"))
                                                                  if c.get("cell") in CELLS else 9, c["name"]))
        if not cards:
            st.info(t("The pretrained long-lag models are not bundled yet: choose Random in the sidebar "
                      "(or run `python -m rnnviz.pretrain`)."), icon=":material/info:")
            return None
        cards = cards[:MAX_PRETRAINED]
        cells = [c.get("cell") for c in cards]
        titles = [c.get("title") or c["name"] for c in cards]  # rnnviz.assets.TITLES: in the catalog
        groups = [(c["cell"].upper() if cells.count(c.get("cell")) == 1 and c.get("cell") in CELLS
                   else t(title), [pretrained(c["name"])[0]]) for c, title in zip(cards, titles, strict=True)]
        st.caption(pretrained_caption(cards))
        return groups
    if source == "Trained here":
        models = trained_models()
        if not models:
            st.info(t("No model has been trained in this session yet: train one on the Train live page."),
                    icon=":material/info:")
            return None
        names = st.multiselect(t("Models trained in this session"), list(models), default=list(models)[:3],
                               key=f"{KEY}_trained")
        if not names:
            st.info(t("Pick at least one model to show."), icon=":material/info:")
            return None
        return [(f"{models[n]['model'].cell.upper()} · {n}", [models[n]["model"]]) for n in names]
    picked = upload_ui(KEY)
    if picked is None:
        return None
    model, _ = picked
    return [(t("{cell} (uploaded)", cell=model.cell.upper()), [model])]


def pretrained_caption(cards: list[dict]) -> str:
    """One line on what the bundled models learned, from their cards (missing fields are left out)."""
    def accuracy(card):
        acc = (card.get("metrics") or {}).get("accuracy")
        return f"{card.get('cell', '?').upper()} {acc:.0%}" if isinstance(acc, int | float) else None

    task = cards[0].get("task") or {}
    sizes = sorted({c.get("hidden_size") for c in cards if c.get("hidden_size")})
    steps = (cards[0].get("training") or {}).get("steps")
    what = (t("after {lag} steps of noise filler", lag=task["lag"]) if task.get("filler") == "noise" else
            t("after {lag} steps of blank filler", lag=task["lag"])) if "lag" in task else t("after a long lag")
    parts = [t("Trained {steps:,} steps to name the first symbol {what}", steps=steps, what=what)
             if isinstance(steps, int) else t("Trained to name the first symbol {what}", what=what)]
    if sizes:
        parts.append(t("{n} units", n=", ".join(map(str, sizes))))
    accs = [a for a in map(accuracy, cards) if a]
    if accs:
        parts.append(t("held-out accuracy {values}", values=", ".join(accs)))
    return t("Pretrained models: {parts}.", parts="; ".join(parts))


def compute_flows(groups, text: str, objective: str, layer: int | None,
                  traces: RunTraces) -> list[tuple[Flow, list[Model]]]:
    """Each group's Flow (BPTT for every seed, without the per-step Jacobian norms yet) and its models."""
    flows = []
    with st.spinner(t("Running backpropagation through time…")):
        for label, models in groups:
            try:
                gfs = [cached_gradient_flow(m, m.fingerprint(), text, objective, _traces=traces, _prefetch=True,
                                            _layer=shown_layer(m.config.num_layers, layer)) for m in models]
            except RnnvizError as err:
                st.error(markdown_literal(f"{label}: {err.text(lang())}"), icon=":material/error:")
                continue
            flows.append((Flow(label, gfs, layer=layer), models))
    return flows


def with_step_norms(flows: list[tuple[Flow, list[Model]]], text: str, traces: RunTraces,
                    report: bool = True) -> list[Flow] | None:
    """The same Flows with each step's Jacobian norm added (the costly part, so the page draws it last). The
    forward passes come from ``traces``, where the flows' own are, if this run made them. An error is shown on the
    page (``report``) and gives None."""
    models = [m for _, ms in flows for m in ms]
    layers = tuple(f.layer for f, ms in flows for _ in ms)  # only the layer shown: each costs a one-layer model
    try:
        norms = iter(cached_step_norms(models, tuple(m.fingerprint() for m in models), text, layers, _traces=traces))
    except RnnvizError as err:
        if report:
            show_error(err)
        return None
    return [Flow(f.label, [gf.with_step_norms(next(norms)) for gf in f.flows], layer=f.layer, direction=f.direction)
            for f, _ in flows]


# Views ---------------------------------------------------------------------------------------------------------


def horizon_text(f: Flow, threshold: float) -> str:
    if f.forward_overflow_lag is not None:
        return t("undefined")
    h = f.horizons(threshold)
    med = int(np.median(h))
    if med >= f.steps - 1:
        return t("≥ {n:,} (all)", n=f.steps - 1)
    return f"{med:,}" + (f" ({h.min()}–{h.max()})" if h.min() != h.max() else "")


def cards_ui(flows: list[Flow], threshold: float) -> None:
    for col, f in zip(st.columns(len(flows)), flows, strict=True):
        value = horizon_text(f, HORIZON_FLOOR)
        overflow = None
        if f.forward_overflow_lag is not None:
            overflow = t("the forward pass overflowed")
        elif f.overflow_lag is not None:
            overflow = t("overflows at lag {lag:,}", lag=f.overflow_lag)
        col.metric(t("{model}: memory horizon", model=plain(f.label)),
                   value if f.forward_overflow_lag is not None else t("{value} steps", value=value),
                   delta=overflow, delta_color="inverse", border=True,
                   help=t("The largest lag whose normalized gradient is still ≥ {floor:.0e}.", floor=HORIZON_FLOOR))
        if f.forward_overflow_lag is None:
            note = t("lag 100: {value}", value=fmt(f.at_lag(100)))
            if threshold != HORIZON_FLOOR:
                note += f" · ≥ {threshold:.0e}: {horizon_text(f, threshold)}"
            col.caption(note)


def fmt(v: float | None) -> str:
    if v is None:
        return "—"
    if not np.isfinite(v):
        return t("overflow")
    return t("0 (underflow)") if v == 0 else f"{v:.1e}"


def chart_captions(flows: list[Flow]) -> None:
    parts = [t("Solid: ‖dL/dh_t‖ divided by its value at the last step (1 at lag 0), on a log axis; going right is "
               "going back in time; ▼ marks where it drops below float32's range. Below: each step's Jacobian "
               "norm, the most that step can stretch the gradient.")]
    if any(f.cell_state is not None for f in flows):
        parts.append(t("Dashed: the LSTM's cell-state gradient ‖dL/dc_t‖ (normalized the same way). The LSTM's "
                       "Jacobian holds c_{t−1} fixed, so the gradient can fall more slowly than it says: the cell "
                       "state carries the rest, with the per-step factor max f_t (dashed, lower chart)."))
    for f in flows:
        if f.bound is not None and f.cell in LEAKY_CELLS:
            parts.append(t("{label}: dotted, its bound ((1 − α) + α γ σ_max)^k with α the leak rate, "
                           "σ_max(W_hh) = {sigma}.", label=f.label,
                           sigma=f"{float(np.median(f.sigma_max())):.3g}"))
            continue
        if f.bound is not None:
            sig, rho = float(np.median(f.sigma_max())), float(np.median(f.spectral_radius()))
            med = f.hidden.median[1:]
            grows = f.overflow_lag is not None or bool(np.any(med[np.isfinite(med)] > 1))
            if sig < 1:
                verdict = t("below 1, so the bound forces the gradient to vanish")
            elif grows:
                verdict = t("above 1, so the bound allows growth, and here the gradient does grow")
            else:
                verdict = t("at least 1, so the bound allows growth and guarantees nothing; the curve falls anyway")
            parts.append(t("Dotted: the {model} bound (γσ_max)^k, γ = 1 for tanh and relu: σ_max(W_hh) = {sigma:.3g} "
                           "({verdict}); spectral radius {rho:.3g}.", model=f.label, sigma=sig, verdict=verdict,
                           rho=rho))
        elif f.cell == "rnn" and not f.is_top:
            parts.append(t("{model}: no bound drawn, the layer shown is not the top one.", model=f.label))
    if any(f.directions > 1 for f in flows):
        parts.append(t("Bidirectional models: the forward direction is shown."))
    st.caption(" ".join(parts))


def overflow_ui(flows: list[Flow]) -> None:
    hit = [f for f in flows if f.overflow_lag is not None or f.forward_overflow_lag is not None]
    if not hit:
        return
    lines = []
    for f in hit:
        if f.forward_overflow_lag is not None:
            step = f.steps - 1 - f.forward_overflow_lag
            lines.append(t("**{model}**: the hidden state itself overflowed at step {step:,} (lag {lag:,}), so "
                           "every gradient computed through it is undefined.", model=plain(f.label), step=step,
                           lag=f.forward_overflow_lag))
        elif f.overflow_lag is not None:
            lines.append(t("**{model}**: ‖dL/dh‖ passes float32's largest number (3.4·10³⁸) at lag {lag:,}; farther "
                           "back it is inf or NaN and the line stops.", model=plain(f.label), lag=f.overflow_lag))
    st.warning(t("Exploding gradients.") + " " + " ".join(lines), icon=":material/warning:")
    with st.expander(t("Why it overflows, and what gradient clipping does"), expanded=True):
        st.markdown(t(
            "Each step back multiplies the gradient by that step's Jacobian. When those stretch it (norms above 1, "
            "the lower chart), the product grows exponentially: a factor of 1.2 per step is 10⁷⁹ after 1,000 steps, "
            "past float32's 3.4·10³⁸. With relu and a gain above 1 the forward pass grows the same way, "
            "h_t ≈ gain^t, until h itself is inf. tanh saturates for large inputs (tanh′ ≈ 0), which damps the "
            "growth, but with a large gain on a long sequence not always enough.\n\n"
            "**Clipping** rescales the whole gradient g to c·g/‖g‖ whenever ‖g‖ > c (Pascanu et al. 2013). "
            "It keeps the direction and bounds the size of one update, so a single exploding batch cannot throw "
            "the weights far; Train live clips at 1 by default. It cannot repair a gradient that is already "
            "inf or NaN, and it does nothing for vanishing gradients: that is what gates and initialization are for."))


def saliency_ui(flows: list[Flow]) -> None:
    st.subheader(t("Which inputs reach the objective"))
    long = t(" A long sequence opens at its end, where the objective reads; scroll up for earlier tokens.") \
        if flows[0].steps > 300 else ""
    st.caption(t("‖dL/dx_t‖ for each input token, painted behind it: full colour is that model's largest value, "
                 "almost white is a millionth of it or less (log scale); hover a token for its values. Dark grey: "
                 "undefined (overflow).") + long)
    st.html(saliency_html(flows, lang=lang()))


def heatmaps_ui(flows: list[Flow]) -> None:
    st.subheader(t("Per unit, over time"))
    st.caption(t("|dL/dh_t| of every hidden unit, divided by ‖dL/dh_T‖, on one log colour scale for all models; "
                 "time runs left to right and the objective reads the last step, at the right edge."))
    plotly_chart(st, unit_heatmaps(flows, lang=lang()), width="stretch", key=f"{KEY}_heatmaps")


def table_ui(flows: list[Flow], threshold: float) -> None:
    rows = []
    for f in flows:
        s = f.summary(threshold)
        rows.append({
            t("model"): f.label,
            t("seeds"): f.seeds,
            t("horizon ≥ {threshold:.0e}", threshold=HORIZON_FLOOR): horizon_text(f, HORIZON_FLOOR),
            t("horizon ≥ {threshold:.0e}", threshold=threshold): horizon_text(f, threshold),
            t("normalized at lag 100"): fmt(s["at_lag_100"]),
            t("typical step ‖∂h_t/∂h_t−1‖"): "—" if s["typical_step"] is None else f"{s['typical_step']:.3g}",
            "σ_max(W_hh)": f"{s['sigma_max']:.3g}",
            t("spectral radius"): "—" if s["spectral_radius"] is None else f"{s['spectral_radius']:.3g}",
            t("overflow at lag"): "—" if s["overflow_lag"] is None else f"{s['overflow_lag']:,}",
        })
    st.dataframe(rows, hide_index=True, width="stretch")
    st.caption(t("Typical step: the geometric mean of the per-step Jacobian norms. Medians over seeds; ranges in "
                 "brackets. σ_max of the LSTM and GRU is that of the stacked gate blocks of W_hh."))


def unknown_note(flows: list[Flow]) -> None:
    counts = {f.label: sum(f.flows[0].trace.unknown) for f in flows}
    if not any(counts.values()):
        return
    if len(set(counts.values())) == 1:
        st.caption(t("{n:,} of {steps:,} tokens are not in the models' vocabulary and are read as `<unk>`.",
                     n=next(iter(counts.values())), steps=flows[0].steps))
    else:
        st.caption(t("Tokens not in a model's vocabulary are read as `<unk>`: {counts} of {steps:,}.",
                     counts=", ".join(f"{plain(k)} {v:,}" for k, v in counts.items()), steps=flows[0].steps))


def math_ui() -> None:
    with st.expander(t("The math behind these charts"), icon=":material/function:"):
        st.markdown(t(MATH))


MATH = N_(r"""
**In words.** The loss $L$ is read at the last step, $T$. Backpropagation through time sends its gradient back
one step at a time, and each step multiplies it by that step's Jacobian. The main chart shows how large what
arrives at step $t$ is, relative to what left step $T$, against the lag $k = T - t$ (0 at the last step,
growing to the right):

$$
\frac{\partial L}{\partial h_{T-k}} =
\Big(\frac{\partial h_{T-k+1}}{\partial h_{T-k}}\Big)^{\!\top} \cdots
\Big(\frac{\partial h_{T}}{\partial h_{T-1}}\Big)^{\!\top} \frac{\partial L}{\partial h_T},
\qquad \text{plotted: } \frac{\lVert \partial L / \partial h_{T-k} \rVert}{\lVert \partial L / \partial h_T \rVert}
$$

That is for one layer; in a stack, the layer above adds its own term at every step, and the chart plots the total.

**Vanilla RNN.** With $h_t = \varphi(a_t)$, $a_t = W_{hh} h_{t-1} + W_{ih} x_t + b$, every factor is a matrix times the
squashing function's slope. The lower chart plots its spectral norm, the most one step can stretch the gradient:

$$
\frac{\partial h_t}{\partial h_{t-1}} = \operatorname{diag}\big(\varphi'(a_t)\big)\, W_{hh}
$$

**The bound** (Pascanu et al. 2013). $|\varphi'| \le \gamma$, with $\gamma = 1$ for tanh and relu, so no factor
is longer than $\gamma\,\sigma_{\max}(W_{hh})$ and the RNN's curve stays under the dotted line:

$$
\frac{\lVert \partial L / \partial h_{T-k} \rVert}{\lVert \partial L / \partial h_T \rVert}
\le \big(\gamma\,\sigma_{\max}(W_{hh})\big)^{k}
$$

If $\gamma\sigma_{\max} < 1$ the gradient must vanish exponentially. $\sigma_{\max} > 1$ is needed for it to
explode but is not enough: a saturated tanh unit has $\varphi' \approx 0$, and the directions of successive factors
rarely line up, so the product shrinks faster than the product of norms. The spectral radius $\rho(W_{hh})$ (largest
$|\text{eigenvalue}|$) is the growth rate of $W_{hh}^k$ itself: below 1 it vanishes, above 1 it can explode.

**LSTM: the constant error carousel.** $c_t = f_t \odot c_{t-1} + i_t \odot g_t$ and $h_t = o_t \odot \tanh(c_t)$.
Along the cell state there is no matrix and no squashing slope, only the forget gate (Hochreiter & Schmidhuber 1997):

$$
\frac{\partial c_t}{\partial c_{t-1}}\Big|_{\text{gates held fixed}} = \operatorname{diag}(f_t)
\quad\Longrightarrow\quad
\frac{\partial L}{\partial c_{T-k}} \approx \Big(\prod_{s=T-k+1}^{T} f_s\Big) \odot \frac{\partial L}{\partial c_T}
$$

With $f \approx 1$ the gradient rides the cell state almost unchanged. The dashed line is $\lVert \partial L /
\partial c_t \rVert$ (the total, paths through the gates included); the dashed line in the lower chart is
$\max_i f_{t,i}$, this path's per-step factor.

**The forget-gate bias at initialization.** With small random weights $f_t \approx \sigma(b_f)$, so the cell-state
gradient shrinks roughly like $\sigma(b_f)^k$ and falls to $10^{-3}$ at

$$
b_f = 0:\ 0.5^k,\ k \approx 10 \qquad b_f = 1:\ 0.73^k,\ k \approx 22 \qquad b_f = 5:\ 0.993^k,\ k \approx 1000
$$

Chrono init draws $b_f = \log u$, $u \sim U(1, T_{\max} - 1)$, so $1/(1 - f) = 1 + u$: memory times spread from 2
to $T_{\max}$ steps, and $b_i = -b_f$ keeps the input gate mostly shut. The GRU writes
$h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}$: its update gate $z$ plays the forget gate's part, and the same
slider sets its bias.
""")


@st.fragment(parallel=True)
def jacobian_ui(computed: list[tuple[Flow, list[Model]]], text: str, traces: RunTraces) -> None:
    """The per-step Jacobian chart, under the main chart. Its numbers cost the most, so it runs in a parallel
    fragment: Streamlit's worker thread computes them (on ``NORM_WORKERS``) while the script goes on to send the
    rest of the page, and the browser draws that meanwhile. The space it takes is kept while it computes."""
    slot = st.empty()
    with slot.container(height=JACOBIAN_HEIGHT, border=False):
        st.caption(t("Computing each step's Jacobian norm…"))
    full = with_step_norms(computed, text, traces)
    if full is None:
        slot.empty()
    else:
        plotly_chart(slot, jacobian_figure(full, height=JACOBIAN_HEIGHT, lang=lang()), width="stretch",
                     key=f"{KEY}_jacobian")


@st.fragment(parallel=True)
def summary_ui(computed: list[tuple[Flow, list[Model]]], text: str, traces: RunTraces, threshold: float) -> None:
    """The summary table at the page's end, from the same norms (the cache hands this thread the Jacobian
    chart's result, waiting for it if that thread is still computing; the chart's fragment shows any error)."""
    full = with_step_norms(computed, text, traces, report=False)
    if full is not None:
        table_ui(full, threshold)


# Page ------------------------------------------------------------------------------------------------------------

st.title(t("Gradient flow"))
st.caption(t("To learn from step t, the gradient of a loss read at the last step travels back through every step in "
             "between (backpropagation through time, BPTT). A vanilla RNN multiplies it by a matrix at each step, so "
             "it shrinks (or grows) exponentially; an LSTM's cell state can carry it almost unchanged. The same "
             "sequence runs through every model."))
url_notice(f"{KEY}_", link_checks())

with st.sidebar:
    source = source_ui()
    spec = random_ui() if source == "Random" else None
    objective, threshold = analysis_ui()

text = sequence_section()
if text is not None:
    try:
        groups = model_groups(source, spec, text)
    except RnnvizError as err:  # e.g. a bundled checkpoint that fails validation
        show_error(err)
        groups = None
    if groups:
        with st.sidebar:
            layer = layer_ui(max(m.config.num_layers for _, ms in groups for m in ms))
        traces = RunTraces()  # this run's forward passes, shared by the flows and the step norms
        computed = compute_flows(groups, text, objective, layer, traces)
        if computed:
            flows = [f for f, _ in computed]
            unknown_note(flows)
            cards_ui(flows, threshold)
            plotly_chart(st, flow_figure(flows, threshold, lang=lang()), width="stretch", key=f"{KEY}_flow")
            jacobian_ui(computed, text, traces)  # a thread of its own: the rest of the page is sent meanwhile
            chart_captions(flows)
            overflow_ui(flows)
            math_ui()
            saliency_ui(flows)
            heatmaps_ui(flows)
            summary_ui(computed, text, traces, threshold)
