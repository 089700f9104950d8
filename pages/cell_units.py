"""/cell's "What the units learned": the probes of rnnviz.probes on the page, and the one selected unit.

The selected unit (layer, direction, unit) lives in ``st.session_state[SELECTED]``: a feature, a unit picker or the
unit finder sets it (through callbacks, before the next run draws anything), and every view shows it.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import streamlit as st

from pages.i18n import lang, t
from pages.shared import plotly_chart
from rnnviz import Trace
from rnnviz import probes as P
from rnnviz import units as U
from rnnviz.figures import unit_gates_figure
from rnnviz.figures.common import quantity_name

KEY = "cell"
SELECTED = f"{KEY}_selected"  # session_state: (layer, direction, unit)
FEATURE = f"{KEY}_feature"  # the feature picked on the first view
DIRECTIONS = ("forward", "backward")


@st.cache_data(max_entries=48, show_spinner=False)  # [quantity, layer, direction, unit, feature] float64: ~70 kB
def cached_probes(_tr: Trace, model_key: str, text: str) -> P.Probes:
    """rnnviz.probes.probe(_tr, text); ``model_key`` (Model.fingerprint()) and ``text`` stand for the trace."""
    return P.probe(_tr, text)


# The selected unit -----------------------------------------------------------------------------------------------


def select(layer: int, direction: int, unit: int) -> None:
    """Select a unit everywhere; the view controls follow it to its layer and direction."""
    st.session_state[SELECTED] = (int(layer), int(direction), int(unit))
    st.session_state[f"{KEY}_layer"] = int(layer)
    st.session_state[f"{KEY}_direction"] = DIRECTIONS[int(direction)]
    st.session_state.pop(f"{KEY}_units_q", None)  # paint h or c, whichever fits the new unit better


def selected(tr: Trace, probes: P.Probes | None, model_key: str) -> tuple[int, int, int]:
    """The selected (layer, direction, unit) of this model; at first, and for a new model, the best unit of the best
    feature."""
    L, D, _, H = tr.shape
    if st.session_state.get(f"{SELECTED}_model") != model_key:
        st.session_state.pop(SELECTED, None)
        st.session_state.pop(FEATURE, None)  # before the feature pills exist in this run
        st.session_state[f"{SELECTED}_model"] = model_key
    sel = st.session_state.get(SELECTED)
    if sel and sel[0] < L and sel[1] < D and sel[2] < H:
        return sel
    first = top_feature(probes)
    if first is None:
        return 0, 0, 0
    best = probes.best(first)[0]
    st.session_state[SELECTED] = (best.layer, best.direction, best.unit)
    return st.session_state[SELECTED]


def top_feature(probes: P.Probes | None) -> str | None:
    """The feature some unit follows best (largest |r|), or None without probes."""
    if probes is None:
        return None
    rows = [row for row in probes.summary() if probes.varies[probes.codes.index(row["code"])]]
    return max(rows, key=lambda row: abs(row["best"].r))["code"] if rows else None


def unit_labels(probes: P.Probes | None, layer: int, direction: int, H: int) -> list[str]:
    """What each unit of one layer and direction tracks ("indentation, r = 0.81"), "" where nothing."""
    return probes.labels(layer, direction, lang=lang()) if probes is not None else [""] * H


def unit_groups(probes: P.Probes, layer: int, direction: int, units) -> list[str]:
    """Per unit, the feature it tracks (as the heatmaps group them), or "tracks nothing named"."""
    feature, r = probes.unit_best(layer, direction)
    return [P.feature_name(probes.codes[feature[u]], lang()) if abs(r[u]) >= P.TRACKS else t("tracks nothing named")
            for u in units]


def _clicked(key: str, layer: int, direction: int) -> None:
    """on_select of a chart whose points carry units in customdata (the heatmaps' squares, the horizon bars)."""
    state = st.session_state.get(key) or {}
    points = (state.get("selection") or {}).get("points") or []
    for point in points:
        unit = point.get("customdata")
        unit = unit[0] if isinstance(unit, list | tuple) and unit else unit
        if isinstance(unit, int | float) and not isinstance(unit, bool) and unit == int(unit) and unit >= 0:
            select(layer, direction, int(unit))
            return


def clickable_chart(where, fig, key: str, layer: int, direction: int) -> None:
    """Draw ``fig`` so that a click on a point carrying a unit in customdata selects that unit everywhere."""
    plotly_chart(where, fig, width="stretch", key=key, on_select=partial(_clicked, key, layer, direction),
                 selection_mode="points")


def selected_unit(layer: int, direction: int) -> int | None:
    """The selected unit when it is in this layer and direction, else None."""
    sel = st.session_state.get(SELECTED)
    return sel[2] if sel and (sel[0], sel[1]) == (layer, direction) else None


def unit_text(unit: int, labels: list[str]) -> str:
    """A unit as pickers and captions list it: "#12 · indentation, r = 0.81"."""
    return f"#{unit} · {labels[unit]}" if labels[unit] else f"#{unit}"


def _picked(key: str, layer: int, direction: int) -> None:
    unit = st.session_state.get(key)
    if unit is not None:
        select(layer, direction, int(unit))


def unit_picker(where, label: str, options, key: str, layer: int, direction: int, labels: list[str],
                help: str | None = None) -> int:
    """A selectbox of units that shows and sets the selected unit (when it is one of ``options``)."""
    options = [int(u) for u in options]
    sel = st.session_state.get(SELECTED)
    if sel and (sel[0], sel[1]) == (layer, direction) and sel[2] in options:
        st.session_state[key] = sel[2]  # before the widget exists, so the widget shows the selection
    return where.selectbox(label, options, key=key, format_func=lambda u: unit_text(u, labels), help=help,
                           on_change=_picked, args=(key, layer, direction))


# The view --------------------------------------------------------------------------------------------------------


def _feature_picked(probes: P.Probes) -> None:
    code = st.session_state.get(FEATURE)
    if code is not None:
        best = probes.best(code)[0]
        select(best.layer, best.direction, best.unit)


def _pill(code: str, rows: dict, L: int, D: int) -> str:
    row = rows[code]
    best = row["best"]
    where = (f" L{best.layer}" if L > 1 else "") + ((" ←" if best.direction else " →") if D > 1 else "")
    if not row["tracked"]:
        return t("{feature}: nothing (|r| {r})", feature=row["feature"], r=f"{abs(best.r):.2f}")
    return t("{feature}: #{unit}{where} {quantity}, r = {r}", feature=row["feature"], unit=best.unit, where=where,
             quantity=best.quantity, r=f"{best.r:.2f}")


def feature_ui(tr: Trace, probes: P.Probes) -> str | None:
    """The features that vary on this text as pills, each with its best unit and r; returns the picked code."""
    L, D = tr.shape[:2]
    rows = {row["code"]: row for row in probes.summary(lang=lang())}
    shown = [c for c in probes.codes if probes.varies[probes.codes.index(c)]]
    if not shown:
        st.info(t("No feature varies in this text: type some code or a few sentences."), icon=":material/info:")
        return None
    shown.sort(key=lambda c: (not rows[c]["tracked"], -abs(rows[c]["best"].r)))
    if FEATURE not in st.session_state or st.session_state[FEATURE] not in [*shown, None]:
        st.session_state[FEATURE] = shown[0]  # the best tracked feature, whose unit selected() picked first
    code = st.pills(t("Features of this text, each with the unit that follows it best"), shown, key=FEATURE,
                    format_func=lambda c: _pill(c, rows, L, D), on_change=_feature_picked, args=(probes,),
                    help=t("r is the Pearson correlation between the feature and the unit's hidden state h or cell "
                           "state c over every step of this text; |r| near 1 means the unit follows the feature."))
    quiet = [rows[c]["note"] for c in shown if not rows[c]["tracked"]]
    if quiet:
        st.caption(" ".join(quiet))
    flat = [rows[c]["feature"] for c in probes.codes if not probes.varies[probes.codes.index(c)]]
    if flat:
        st.caption(t("Not in this text (constant or not measured): {features}.", features=", ".join(flat)))
    return code


def units_view(tr: Trace, probes: P.Probes, model_key: str) -> None:
    """What the units learned: for the picked feature (or unit), the unit painted over the text and its gates."""
    st.caption(t("Units that follow something a person can name: whether the model is inside a string or a comment, "
                 "how deep in brackets, how far into a line. After Karpathy, Johnson and Fei-Fei (2015)."))
    code = feature_ui(tr, probes)
    layer, direction, unit = selected(tr, probes, model_key)
    H = tr.shape[3]
    labels = unit_labels(probes, layer, direction, H)
    order = probes.unit_order(layer, direction)
    c1, c2 = st.columns([2, 1])
    unit = unit_picker(c1, t("Unit"), order, f"{KEY}_units_pick_{H}", layer, direction, labels,
                       help=t("Units grouped by the feature they follow best; clicking a feature above picks its "
                              "best unit."))
    quantities = list(probes.quantities)
    q_best = int(np.abs(probes.r[:, layer, direction, unit]).max(axis=1).argmax())  # h or c, whichever fits best
    quantity = c2.segmented_control(t("Paint"), quantities, default=quantities[q_best], key=f"{KEY}_units_q",
                                    format_func=lambda q: quantity_name(q, lang()), required=True) or quantities[q_best]
    if code is None or probes.best(code)[0].unit != unit:  # a unit picked by hand: its own best feature
        feature, _ = probes.unit_best(layer, direction)
        code = probes.codes[feature[unit]] if labels[unit] else code
    values = tr[quantity][layer, direction, :, unit]
    m = float(np.abs(values).max()) or 1.0
    r = probes.r[probes.quantities.index(quantity), layer, direction, unit, probes.codes.index(code)] if code else 0
    name = f"{quantity}[{unit}]" + (f" · {labels[unit]}" if labels[unit] else "")
    st.html(U.colored_text_html(tr.tokens, values, -m, m, tr.unknown, name=name, lang=lang()))
    where = t(" in layer {layer}", layer=layer) if tr.shape[0] > 1 else ""
    where += (t(", backward") if direction else t(", forward")) if tr.shape[1] > 1 else ""
    st.caption(t("Unit #{unit}{where}: its {quantity} painted over the text, red high and blue low (±{m}).",
                 unit=unit, where=where, quantity=quantity_name(quantity, lang()), m=f"{m:.2g}")
               + (" " + t("r = {r} with {feature}: {sense}", r=f"{r:.2f}", feature=P.feature_name(code, lang()),
                          sense=t("red where the feature is high.") if r > 0 else t("blue where the feature is high.")
                          ) if code else ""))
    fig = unit_gates_figure(tr, layer, direction, unit, probes.values[:, probes.codes.index(code)] if code else None,
                            P.feature_name(code, lang()) if code else "", lang())
    plotly_chart(st, fig, width="stretch", key=f"{KEY}_unit_gates")
    st.caption(t("The same unit's gates and states at every step, and the feature as a dotted line."))
