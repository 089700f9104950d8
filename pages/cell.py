"""Inside the cell (/cell): every gate and state of a live model on a sequence the user types.

Sections, top to bottom: the sequence (text or numbers) beside the model source; view controls (layer, direction,
unit order and filter); then tabs, of which only the open one runs: States, Predictions, Colored text (with the
unit finder), Saturation, Memory, Download. The trace is cached by (model fingerprint, input); the rest is cheap
numpy and figure building over it.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import streamlit as st

from pages import cell_sentiment as CS
from pages import cell_units as CU
from pages.i18n import lang, t
from pages.shared import (
    LINK,
    MAX_STEPS,
    SOURCES,
    cached_trace,
    choose_pretrained,
    label,
    linked_text,
    model_source_checks,
    model_source_ui,
    named,
    one_of,
    plotly_chart,
    pretrained_cards,
    random_model,
    random_model_checks,
    random_model_ui,
    release_pretrained,
    sequence_ui,
    short_text,
    show_error,
    url_notice,
)
from rnnviz import InputError, Model, RnnvizError, Trace, Vocab
from rnnviz import units as U
from rnnviz.assets import list_pretrained
from rnnviz.figures import (
    cell_heatmaps,
    color_range,
    finder_figure,
    horizon_figure,
    memory_figure,
    predictions_figure,
    saturation_figure,
)
from rnnviz.figures.cell import CELL_KEYS
from rnnviz.figures.common import quantity_name
from rnnviz.i18n import LANGUAGES, N_
from rnnviz.i18n import tr as tr_  # the name tr is the pages' trace
from rnnviz.model import LEAKY
from rnnviz.parse import parse_numbers
from rnnviz.sentiment import is_classifier

KEY = "cell"
HIDDEN = 128  # the default random model matches the pretrained character models
SNIPPET = '''def parse(lines, sep=","):
    """Read 'name, width, height' rows; skip # comments."""
    rows = []
    for n, line in enumerate(lines):
        if not line.strip() or line.startswith("#"):
            continue  # nothing to read here
        name, width, height = [f.strip() for f in line.split(sep)]
        rows.append({"name": name, "size": (int(width), int(height))})
    return rows


def area(row):
    # the size is a tuple: (width, height)
    return row["size"][0] * row["size"][1]


class Table:
    """Rows with a 'name' and a 'size'."""

    def __init__(self, rows):
        self.rows = sorted(rows, key=area)  # smallest first

    def names(self):
        return [row["name"] for row in self.rows if area(row) > 0]
'''
PRESETS = {  # codes, and English labels (N_)
    N_("Letters: abcde, repeated"): "abcde" * 8,
    N_("Python: nested brackets, quotes, indentation"): SNIPPET,
    N_("Long-lag recall: a, 150 dots, then a again"): "a" + "." * 150 + "a",
    N_("Chinese: a sentence"): "循环神经网络一边读字，一边记住前面的内容，也会慢慢忘记。",
    CS.PRESET: CS.REVIEW,
}
PRESET_MODELS = {"Chinese: a sentence": "char_zh_lstm", CS.PRESET: CS.MODEL}  # presets that pick their reader
GROUPS = ("char", "sentiment")  # the bundled models /cell offers
NUMBER_PRESETS = {
    N_("Sine wave, 60 steps"): ", ".join(f"{math.sin(t / 4):.3f}" for t in range(60)),
    N_("A step: 0 then 1 then 0"): " ".join(["0"] * 15 + ["1"] * 15 + ["0"] * 15),
    N_("A spike and a long wait"): ", ".join(["1"] + ["0"] * 80),
}
CELLS = ("rnn", "leaky", "esn", "lstm", "gru")  # the random model's cells; leaky and ESN: rnnviz.leaky/reservoir
WINDOW = 60  # prediction steps that fit their tokens in the cells
UNITS_TAB = N_("What the units learned")
TABS = [UNITS_TAB, N_("States"), N_("Predictions"), N_("Colored text"), N_("Saturation"), N_("Memory"),
        N_("Download")]  # codes, and English labels: the tabs show them translated
HEATMAP_WINDOW = 120  # steps whose tokens the heatmaps label one by one; longer text gets a window slider
UNIT_WINDOW = 256  # units the heatmaps draw at a time (README: "Load and speed"); more get a slider over them
MODES = [N_("Text"), N_("Numbers")]  # codes, and English labels (format_func=label)
NUMBER_SOURCES = (N_("Random"), N_("Trained here"), N_("Uploaded"))
DIRECTIONS = (N_("forward"), N_("backward"))
MEAN = "mean"  # the Memory tab's choice of every unit shown


# Input and model ----------------------------------------------------------------------------------------------


def numbers_ui() -> np.ndarray | None:
    """Comma- or space-separated numbers → float32 [time], cut to MAX_STEPS; None (with a message) otherwise."""
    key = f"{KEY}_numbers"

    def apply_preset():
        st.session_state[key] = NUMBER_PRESETS[st.session_state[f"{key}_preset"]]

    st.selectbox(t("Preset"), list(NUMBER_PRESETS), key=f"{key}_preset", on_change=apply_preset, index=None,
                 placeholder=t("Pick an example series…"), format_func=label)
    text = linked_text(st, "text_area", t("Numbers"), key, value=NUMBER_PRESETS["Sine wave, 60 steps"], height=90,
                       help=t("One number per step, separated by commas or by spaces, e.g. 0.1, 0.5, -0.2."))
    if not text.strip():
        st.info(t("Type some numbers to run the model on, e.g. 0.1, 0.5, -0.2."), icon=":material/keyboard:")
        return None
    try:
        values = parse_numbers(text)
    except InputError as err:
        show_error(err)
        return None
    if len(values) > MAX_STEPS:
        st.warning(t("The series has {n:,} numbers; only the first {limit:,} are used.", n=len(values),
                     limit=MAX_STEPS))
        values = values[:MAX_STEPS]
    return values


def input_ui() -> tuple[str, str | np.ndarray | None]:
    """("Text", text) or ("Numbers", values); the second item is None when there is nothing to run."""
    mode_column, box_column = st.columns([1, 3], vertical_alignment="top")
    with mode_column:
        mode = st.segmented_control(t("Input"), MODES, default="Text", required=True, key=f"{KEY}_mode", bind=LINK,
                                    format_func=label,
                                    help=t("Text: every character is a step. Numbers: a one-feature series."))
    with box_column:
        if mode == "Numbers":
            return mode, numbers_ui()
        return mode, sequence_ui(KEY + "_sequence", SNIPPET, PRESETS, on_preset=preset_model)


def preset_model(preset: str) -> None:
    """A preset's callback: pick the bundled model that reads it (if bundled), or give the choice back."""
    name = PRESET_MODELS.get(preset)
    if name is not None and any(c["name"] == name for c in pretrained_cards(GROUPS)):
        choose_pretrained(KEY, name)
    else:
        release_pretrained(KEY)


def random_ui(mode: str, data) -> tuple[Model, str] | None:
    """The "Random" model source: a seeded untrained model; for text its vocabulary is the typed characters."""
    cell, config, init, seed = random_model_ui(f"{KEY}_{mode.lower()}", CELLS, hidden=HIDDEN)
    if cell == "esn":  # the seed draws the reservoir too
        config = replace(config, seed=seed)
    if data is None:
        return None
    try:
        if mode == "Numbers":
            config = replace(config, encoder="float", input_size=1, head="none")
            model = random_model(config, init, None, seed)
        else:
            model = random_model(config, init, Vocab.from_text(data), seed)
    except RnnvizError as err:
        show_error(err)
        return None
    return model, t("random {cell} · {n} units · seed {seed}", cell=cell.upper(), n=config.hidden_size, seed=seed)


def model_ui(mode: str, data) -> tuple[Model, str] | None:
    """The model source for this input mode, checked against the input: text models read text, float models
    with one feature read numbers."""
    if mode == "Text":
        key, sources, default = KEY, SOURCES, "Pretrained" if list_pretrained("char") else "Random"
    else:
        key, sources, default = f"{KEY}_num", NUMBER_SOURCES, "Random"
    picked = model_source_ui(key, GROUPS if mode == "Text" else "char", lambda: random_ui(mode, data),
                             sources=sources, default=default, text=data if mode == "Text" else None)
    if picked is None:
        return None
    model = picked[0]
    reads_numbers = model.config.encoder == "float"
    if mode == "Text" and reads_numbers:
        st.info(t("This model reads numbers, not text: switch the input to Numbers."), icon=":material/info:")
        return None
    if mode == "Numbers" and not (reads_numbers and model.input_size == 1):
        st.info(t("This model does not read a one-feature number series: switch the input to Text, or pick a "
                  "random model."), icon=":material/info:")
        return None
    return picked


# View controls ------------------------------------------------------------------------------------------------


def view_ui(tr: Trace, probes) -> tuple[int, int, np.ndarray, np.ndarray, str]:
    """(layer, direction, units shown in order, full order, sort) from the layer, direction, sort and filter controls.
    With probes (text input), units are sorted by the feature they track unless the user picks another order."""
    L, D, T, H = tr.shape
    widths = [1] * (L > 1) + [1] * (D == 2) + [1.3, 2]
    columns = iter(st.columns(widths))  # layer and direction only where there is a choice
    layer = direction = 0
    if L > 1:
        layer = next(columns).selectbox(t("Layer"), range(L), key=f"{KEY}_layer",
                                        format_func=lambda i: t("{layer} (input side)", layer=i) if i == 0 else str(i))
    if D == 2:
        chosen = next(columns).segmented_control(t("Direction"), DIRECTIONS, default="forward", required=True,
                                                 key=f"{KEY}_direction", format_func=label)
        direction = DIRECTIONS.index(chosen)
    c3, c4 = next(columns), next(columns)
    sorts = ({"feature": N_("feature tracked")} if probes is not None else {}) | U.sort_options(tr.cell)
    by = c3.selectbox(t("Sort units by"), list(sorts), format_func=named(sorts), key=f"{KEY}_sort_{tr.cell}",
                      help=t("Feature tracked: units grouped by the feature of the text they follow best, strongest "
                             "first. Variance: the units that change most come first. Mean forget (GRU: update) "
                             "gate: the units that keep their memory longest come first."))
    spec = c4.text_input(t("Show units"), key=f"{KEY}_units", placeholder=t("all {n}; or e.g. 0-15, 42", n=H),
                         help=t("Unit numbers and ranges, separated by commas. Empty shows every unit."))
    order = probes.unit_order(layer, direction) if by == "feature" else U.unit_order(tr, layer, direction, by)
    try:
        picked = U.parse_units(spec, H)
    except InputError as err:
        show_error(err)
        picked = None
    units = order if picked is None else order[np.isin(order, picked)]
    return layer, direction, units, order, by


# Views ---------------------------------------------------------------------------------------------------------


def step_window(where, T: int, labels: list[str], key: str) -> tuple[int, int]:
    """(start, stop), stop excluded: every step when they fit, else a slider over a window of HEATMAP_WINDOW steps."""
    if T <= HEATMAP_WINDOW:
        return 0, T
    starts = list(range(0, T - HEATMAP_WINDOW + 1, 10)) or [0]
    start = where.select_slider(t("Steps shown"), starts, key=f"{key}_{T}",
                                format_func=lambda s: f"{s}–{min(T, s + HEATMAP_WINDOW) - 1} · {labels[s]}",
                                help=t("{n} steps at a time, so every token on the axis can be read; slide along the "
                                       "text.", n=HEATMAP_WINDOW))
    return start, min(T, start + HEATMAP_WINDOW)


def unit_window(where, units: np.ndarray, selected: int | None, key: str) -> tuple[int, int]:
    """(start, stop) in ``units`` (the current order), stop excluded: all when they fit, else a slider over a window
    of UNIT_WINDOW units. When another unit is selected (on any view), the window moves to the one holding it."""
    n = len(units)
    if n <= UNIT_WINDOW:
        return 0, n
    starts = list(range(0, n, UNIT_WINDOW))
    key, followed = f"{key}_{n}", f"{key}_followed"
    if selected is not None and selected != st.session_state.get(followed) and selected in units:
        st.session_state[key] = starts[int(np.flatnonzero(units == selected)[0]) // UNIT_WINDOW]
    st.session_state[followed] = selected
    start = where.select_slider(t("Units shown"), starts, key=key,
                                format_func=lambda s: t("{first}–{last} of {n}", first=s + 1,
                                                        last=min(n, s + UNIT_WINDOW), n=n),
                                help=t("The heatmaps draw {k} units at a time, in the current order, so the page "
                                       "keeps up; slide to the others, or name units in Show units.", k=UNIT_WINDOW))
    return start, min(n, start + UNIT_WINDOW)


def states_view(tr: Trace, layer: int, direction: int, units: np.ndarray, labels: list[str],
                groups: list[str] | None) -> None:
    keys = ", ".join(f"{k}_t" for k in CELL_KEYS[tr.cell])  # symbols, as the panels name them
    T = tr.shape[2]
    left, right = st.columns(2)
    steps = step_window(left, T, tr.labels, f"{KEY}_steps")
    selected = CU.selected_unit(layer, direction)
    first, last = unit_window(right, units, selected, f"{KEY}_unit_window")
    units, groups = units[first:last], groups[first:last] if groups else None
    st.caption(t("Rows are units ({n} shown), columns are steps; hover for token, step, unit and value. "
                 "Quantities: {keys}. Gates (sigmoid) on [0, 1], tanh-range values on [−1, 1]. Click a unit's "
                 "square at the left to select it on every view; its row is outlined.", n=len(units), keys=keys))
    names = {int(u): labels[u] for u in units if labels[u]}
    fig = cell_heatmaps(tr, layer, direction, units, unit_names=names, steps=steps, groups=groups, lang=lang(),
                        handles=True, selected=selected)
    CU.clickable_chart(st, fig, f"{KEY}_heatmaps", layer, direction)


def predictions_view(model: Model, tr: Trace, data) -> None:
    if is_classifier(model):
        st.info(t("This model predicts the sentiment of the whole text, not the next character: see the "
                  "Sentiment tab."), icon=":material/info:")
        return
    if tr.probs is None or model.vocab is None:
        if model.vocab is not None or tr.probs is None:
            st.info(t("This model has no next-token head, so it predicts no next tokens."), icon=":material/info:")
        else:
            st.info(t("This model reads numbers, so it predicts no next tokens."), icon=":material/info:")
        return
    T = tr.shape[2]
    c1, c2 = st.columns([1, 3])
    k = c1.slider(t("Top k"), 1, min(10, tr.probs.shape[1]), min(5, tr.probs.shape[1]), key=f"{KEY}_topk")
    start, stop = 0, T - 1
    if T > 1:
        labels = tr.labels
        start, stop = c2.select_slider(t("Steps"), options=range(T), value=(0, min(T - 1, WINDOW - 1)),
                                       format_func=lambda s: f"{s} · {labels[s]}", key=f"{KEY}_window_{T}",
                                       help=t("Up to {n} steps show the predicted tokens in the cells; hover works "
                                              "at any width.", n=WINDOW))
    ids, p = U.top_k(tr.probs[start:stop + 1], k)
    next_ids = model.ids(data).numpy()[start + 1:stop + 2]
    next_p = tr.probs[np.arange(start, start + len(next_ids)), next_ids]
    next_labels = tr.labels[start + 1:stop + 2]
    if len(next_ids) < stop - start + 1:  # the window reaches the end of the sequence
        next_p, next_labels = np.append(next_p, np.nan), [*next_labels, t("(end)")]
    st.caption(t("At each step, the tokens the model expects next (most likely on top) and, in the first row, the "
                 "probability it gave to the token that really came next.")
               + (" " + t("A bidirectional model has read the future, so its predictions are not honest.") if
                  tr.shape[1] == 2 else ""))
    fig = predictions_figure(ids, p, model.vocab.tokens, tr.labels[start:stop + 1], next_p, next_labels,
                             first_step=start, max_text_steps=WINDOW, lang=lang())
    plotly_chart(st, fig, width="stretch", key=f"{KEY}_predictions")


def paint_unit(pills_key: str, layer: int, direction: int) -> None:
    """Callback of the unit finder: select (and so paint) the unit that was clicked."""
    unit = st.session_state.get(pills_key)
    if unit is not None:
        CU.select(layer, direction, int(unit))


def colored_text_view(tr: Trace, layer: int, direction: int, order: np.ndarray, labels: list[str]) -> None:
    H = tr.shape[3]
    keys = CELL_KEYS[tr.cell]
    c1, c2 = st.columns([1, 1])
    quantity = c1.selectbox(t("Quantity"), keys, index=keys.index("h"), format_func=lambda k: quantity_name(k, lang()),
                            key=f"{KEY}_paint_key")
    unit_key = f"{KEY}_paint_unit_{H}"
    unit = CU.unit_picker(c2, t("Unit"), order, unit_key, layer, direction, labels,
                          help=t("Listed in the current sort order, each with what it tracks; the unit finder below "
                                 "can pick one too."))
    values = tr[quantity][layer, direction]  # [T, H]
    vmin, vmax, _ = color_range(quantity, values)
    if st.toggle(t("Stretch the colours to this unit's range"), key=f"{KEY}_stretch",
                 help=t("Off: the fixed range of the quantity, so units compare. On: faint units become visible.")):
        column = values[:, unit][np.isfinite(values[:, unit])]
        if column.size:
            m = float(np.abs(column).max()) if vmin < 0 else 0.0
            vmin, vmax = (-m, m) if vmin < 0 else (float(column.min()), float(column.max()))
            vmax = vmax if vmax > vmin else vmin + 1e-6
    name = f"{quantity}[{unit}]" + (f" · {labels[unit]}" if labels[unit] else "")
    st.html(U.colored_text_html(tr.tokens, values[:, unit], vmin, vmax, tr.unknown, name=name, lang=lang()))
    st.caption(t("Unit #{unit}'s {quantity} painted over the text: red high, blue low, white at the middle of "
                 "[{lo}, {hi}]. Hover a character for its value; wavy underlines mark characters the model does not "
                 "know.", unit=unit, quantity=quantity_name(quantity, lang()), lo=f"{vmin:g}", hi=f"{vmax:g}"))
    finder_ui(tr, values, quantity, layer, direction, unit, labels)


def finder_ui(tr: Trace, values: np.ndarray, quantity: str, layer: int, direction: int, unit: int,
              unit_names: list[str]) -> None:
    """Unit finder after LSTMVis: pick a span; list units above the threshold on it and below it elsewhere."""
    T = len(tr.tokens)
    st.subheader(t("Unit finder"), anchor=False)
    if T < 2:
        st.caption(t("Type at least two steps to select a span."))
        return
    labels = tr.labels
    c1, c2, c3 = st.columns([3, 1, 1])
    lo, hi, _ = color_range(quantity, values)
    mid = (lo + hi) / 2
    threshold = c2.slider(t("Threshold"), float(lo), float(hi), round(mid + 0.3 * (hi - mid), 2), 0.01,
                          key=f"{KEY}_threshold_{quantity}",
                          help=t("On means above this value (LSTMVis uses 0.3 for h_t)."))
    outside = c3.slider(t("Allowed outside"), 0.0, 0.5, 0.1, 0.05, key=f"{KEY}_outside",
                        help=t("Fraction of the other steps on which a unit may also be on."))
    first = T // 4
    span = U.default_span(values, threshold, outside, prefer=[unit]) or (first, min(T - 1, first + max(1, T // 10)))
    start, stop = c1.select_slider(t("Span"), options=range(T), value=span, key=f"{KEY}_span_{T}",
                                   format_func=lambda s: f"{s} · {labels[s]}",
                                   help=t("The steps where the unit should be on. It opens on a span where a unit is "
                                          "found, when there is one."))
    found = U.find_units(values, start, stop, threshold, max_outside=outside)
    if len(found):
        title = (t("1 unit on at every step of {start}–{stop} and off elsewhere; click it to paint it above",
                   start=start, stop=stop) if len(found) == 1 else
                 t("{n} units on at every step of {start}–{stop} and off elsewhere; click one to paint it above",
                   n=len(found), start=start, stop=stop))
    else:
        found = U.find_units(values, start, stop, threshold, min_inside=0.0, max_outside=1.0)[:8]
        title = t("No unit is on at every step of {start}–{stop} and off elsewhere. Closest, by share of the span "
                  "on minus share of the rest on; click one to paint it above", start=start, stop=stop)
    shown = [int(u) for u in found.units[:24]]
    pills_key = f"{KEY}_found_{start}_{stop}"
    st.pills(title, shown, format_func=lambda u: CU.unit_text(u, unit_names), key=pills_key, on_change=paint_unit,
             args=(pills_key, layer, direction))
    plotly_chart(st, finder_figure(values, labels, shown, start, stop, quantity, lang()), width="stretch",
                 key=f"{KEY}_finder")


def saturation_view(tr: Trace) -> None:
    if tr.cell == "rnn":
        st.info(t("A vanilla RNN has no gates: pick an LSTM or a GRU."), icon=":material/info:")
        return
    if tr.cell in LEAKY:
        st.info(t("A leaky unit or echo state network has no gates: its leak rate α is a fixed (or learned) number "
                  "per unit, not a gate that depends on the input. Pick an LSTM or a GRU."), icon=":material/info:")
        return
    sat = U.gate_saturation(tr)
    chart, notes = st.columns([3, 2], gap="large")
    plotly_chart(chart, saturation_figure(sat, lang()), width="stretch", key=f"{KEY}_saturation")
    notes.caption(t("Each point is one gate unit over this sequence: across, how often the gate is nearly closed "
                    "(below 0.1); up, how often it is nearly open (above 0.9). Points on the dotted line are always "
                    "saturated; near the origin the gate works in between. Colour: gate; shade: layer; diamonds: the "
                    "backward direction. Karpathy et al. (2015) found trained LSTMs keep many forget gates open."))
    gate, closed, opened = t("gate"), t("nearly closed"), t("nearly open")
    rows = [{gate: quantity_name(g, lang()), closed: float(left.mean()), opened: float(right.mean())}
            for g, (left, right) in sat.items()]
    share = {k: st.column_config.ProgressColumn(k, format="percent", min_value=0, max_value=1)
             for k in (closed, opened)}
    notes.dataframe(rows, column_config=share, hide_index=True)
    notes.caption(t("Mean over all units, layers and directions: the share of steps a gate spends saturated."))


def memory_view(tr: Trace, layer: int, direction: int, units: np.ndarray, labels: list[str]) -> None:
    if tr.cell == "rnn":
        st.info(t("A vanilla RNN overwrites its state at every step; kept against written needs an LSTM or a GRU."),
                icon=":material/info:")
        return
    kept, written = U.memory_split(tr, layer, direction)  # [T, H]
    choice = st.columns([1, 2])[0].selectbox(
        t("Units"), [MEAN, *[int(u) for u in units]], key=f"{KEY}_memunit",
        format_func=lambda u: t("mean over the units shown") if u == MEAN else CU.unit_text(u, labels))
    if isinstance(choice, str):
        k_line, w_line, unit = np.abs(kept[:, units]).mean(1), np.abs(written[:, units]).mean(1), None
    else:
        k_line, w_line, unit = kept[:, choice], written[:, choice], choice
    state = "c_t" if tr.cell == "lstm" else "h_t"
    st.caption(t("{state} is the sum of what is kept from the previous step and what is written now.", state=state))
    plotly_chart(st, memory_figure(k_line, w_line, tr.labels, tr.cell, unit, lang()), width="stretch",
                 key=f"{KEY}_memory")
    if tr.cell in LEAKY:  # the keep factor is 1 − α, the same at every step
        alpha = U.leak_rate(tr, layer, direction)
        horizon = U.memory_horizon(np.broadcast_to(1 - alpha, (len(tr.labels), len(alpha))))
        st.caption(t("Memory horizon τ = −1 / ln(1 − α): without the input, the state fades by a factor e every τ "
                     "steps. Median over the units shown: {steps} steps.", steps=f"{np.median(horizon[units]):.3g}"))
        CU.clickable_chart(st, horizon_figure(horizon, units, "1 − α", lang=lang(),
                                              selected=CU.selected_unit(layer, direction)),
                           f"{KEY}_horizon", layer, direction)
        return
    gate = U.KEEP_GATE[tr.cell]
    horizon = U.memory_horizon(tr[gate][layer, direction])
    st.caption(t("Memory horizon τ = −1 / ln(mean {gate}): with a steady gate, memory fades by a factor e every τ "
                 "steps. Median over the units shown: {median} steps.", gate=gate,
                 median=f"{np.median(horizon[units]):.3g}"))
    CU.clickable_chart(st, horizon_figure(horizon, units, gate, lang(), selected=CU.selected_unit(layer, direction)),
                       f"{KEY}_horizon", layer, direction)
    st.caption(t("Click a bar to select its unit on every view."))


def download_view(tr: Trace) -> None:
    L, D, T, H = tr.shape
    keys = ", ".join(f"`{k}`" for k in tr.keys())  # array names; before t(): Babel takes a name "tr" as a keyword
    st.caption(t("The whole trace: {keys} for {L} layer(s), {D} direction(s), {T} steps and {H} units, plus the "
                 "tokens. NPZ keeps every array as [layer, direction, time, unit]; CSV has a row per layer, "
                 "direction and step. Each chart saves as PNG from its toolbar.", keys=keys, L=L, D=D, T=T, H=H))
    row = st.container(horizontal=True)
    row.download_button(t("Download NPZ"), lambda: U.trace_npz(tr), file_name="rnnviz-trace.npz",
                       mime="application/octet-stream", icon=":material/download:", key=f"{KEY}_npz")
    row.download_button(t("Download CSV"), lambda: U.trace_csv(tr), file_name="rnnviz-trace.csv", mime="text/csv",
                       icon=":material/download:", key=f"{KEY}_csv")


def open_tab_in_this_language() -> None:
    """A tab's state is its label: after a language switch, the open tab's label in the old language is turned
    into the same tab's label in this one, so the tab stays open."""
    key = f"{KEY}_view"
    shown = st.session_state.get(key)
    for code in LANGUAGES:
        labels = [tr_(code, name) for name in [*TABS, CS.TAB]]
        if shown in labels and code != lang():
            st.session_state[key] = t([*TABS, CS.TAB][labels.index(shown)])
            return


def views_ui(model: Model, tr: Trace, data) -> None:
    probes = CU.cached_probes(tr, model.fingerprint(), data) if isinstance(data, str) else None
    layer, direction, units, order, by = view_ui(tr, probes)
    CU.selected(tr, probes, model.fingerprint())  # the first unit selected: the best unit of the best feature
    labels = CU.unit_labels(probes, layer, direction, tr.shape[3])
    open_tab_in_this_language()
    names = TABS if probes is not None else TABS[1:]  # numbers have no features a person can name: States first
    if isinstance(data, str) and is_classifier(model):
        names = [CS.TAB, *names]  # a classifier's own reading comes first
    tabs = st.tabs([t(name) for name in names], key=f"{KEY}_view", on_change="rerun")
    views = {
        UNITS_TAB: lambda: CU.units_view(tr, probes, model.fingerprint()),
        "States": lambda: states_view(tr, layer, direction, units, labels,
                                      CU.unit_groups(probes, layer, direction, units) if by == "feature" else None),
        "Predictions": lambda: predictions_view(model, tr, data),
        "Colored text": lambda: colored_text_view(tr, layer, direction, order, labels),
        "Saturation": lambda: saturation_view(tr),
        "Memory": lambda: memory_view(tr, layer, direction, units, labels),
        "Download": lambda: download_view(tr),
        CS.TAB: lambda: CS.sentiment_view(model, tr, data),
    }
    for tab, name in zip(tabs, names, strict=True):
        if tab.open:
            with tab:
                views[name]()


def link_checks() -> dict:
    """What the page keeps in its link: the input, the model source and its settings."""
    return {f"{KEY}_mode": one_of(MODES, label), f"{KEY}_sequence": short_text(), f"{KEY}_numbers": short_text(),
            **model_source_checks(KEY, GROUPS), f"{KEY}_num_source": one_of(NUMBER_SOURCES, label),
            **random_model_checks(f"{KEY}_text", CELLS), **random_model_checks(f"{KEY}_numbers", CELLS)}


def main() -> None:
    st.title(t("Inside the cell"))
    st.caption(t("Type a sequence and watch every gate and state of a recurrent cell at every step."))
    url_notice(f"{KEY}_", link_checks())
    left, right = st.columns([3, 2], gap="large")
    with left:
        mode, data = input_ui()
    with right:
        picked = model_ui(mode, data)
    if data is None or picked is None:
        return
    model = picked[0]
    try:
        tr = cached_trace(model, model.fingerprint(), data)
    except RnnvizError as err:
        show_error(err)
        return
    unknown = sum(tr.unknown)
    if unknown:
        st.warning(t("{n} character(s) are not in this model's vocabulary: they are read as the unknown token and "
                     "marked with a wavy underline in the colored text.", n=unknown), icon=":material/help:")
    views_ui(model, tr, data)


if __name__ == "__main__":  # st.navigation runs pages as __main__; tests import the presets without running it
    main()
