"""Figures of the /cell page: arrays in, ``go.Figure`` out, no streamlit. The analysis lives in rnnviz.units."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..i18n import tr
from ..vocab import token_label
from .common import GATE_SCALE, ShapeError, check, finite32, quantity_name
from .states import color_range, plotly_label, stacked_time_layout, state_heatmaps

CELL_KEYS = {"lstm": ("i", "f", "g", "o", "c", "h"), "gru": ("r", "z", "n", "h"), "rnn": ("h",), "leaky": ("n", "h"),
             "esn": ("n", "h")}
GATE_COLORS = {"i": "#2563eb", "f": "#dc2626", "o": "#16a34a", "r": "#9333ea", "z": "#ea580c"}
DIRECTION_SYMBOLS = ("circle", "diamond")


def cell_heatmaps(trace, layer: int = 0, direction: int = 0, units=None, panel_height: int = 190,
                  unit_names: dict[int, str] | None = None, steps: tuple[int, int] | None = None,
                  groups: list[str] | None = None, lang: str = "en", handles: bool = False,
                  selected: int | None = None) -> go.Figure:
    """Every internal of the cell stacked on one token axis: LSTM i, f, g, o, c, h; GRU r, z, n, h; RNN h.
    ``unit_names``, ``steps``, ``groups``, ``lang``, ``handles`` and ``selected`` as in :func:`state_heatmaps`."""
    return state_heatmaps(trace, CELL_KEYS[trace.cell], layer, direction, units, panel_height, unit_names, steps,
                          groups, lang=lang, handles=handles, selected=selected)


LINE_COLORS = {"i": "#2563eb", "f": "#dc2626", "o": "#16a34a", "g": "#9333ea", "c": "#ea580c", "h": "#111827",
               "r": "#9333ea", "z": "#ea580c", "n": "#2563eb"}


def unit_gates_figure(trace, layer: int, direction: int, unit: int, feature: np.ndarray | None = None,
                      feature_name: str = "", lang: str = "en") -> go.Figure:
    """One unit's gates and states as lines on the token axis (LSTM i, f, g, o, c, h; GRU r, z, n, h; RNN h),
    with ``feature`` ``[time]`` (NaN where unavailable) drawn dashed, scaled to [0, 1], when given.

    Gates, candidates and h live in [−1, 1], but an LSTM's cell state c_t is unbounded (a counting unit reaches
    ±20), so the LSTM gets two panels on one step axis: the gates and h above, c_t below with the feature. The
    feature has its own 0–1 axis on the right of the lower panel, so neither flattens the other."""
    L, D, T, H = trace.shape
    if not (0 <= layer < L and 0 <= direction < D and 0 <= unit < H):
        raise ShapeError(f"layer {layer}, direction {direction}, unit {unit} is outside a trace of shape {trace.shape}")
    mode = "lines+markers" if T <= 120 else "lines"
    keys = CELL_KEYS[trace.cell]
    rows = 2 if "c" in keys else 1
    axes = {key: ("x2", "y2") if key == "c" and rows == 2 else ("x", "y") for key in keys}
    data = []
    for key in keys:
        name = quantity_name(key, lang)
        x_axis, y_axis = axes[key]
        data.append(dict(type="scatter", x=np.arange(T), y=finite32(trace[key][layer, direction, :, unit]), mode=mode,
                         name=name, line=dict(color=LINE_COLORS.get(key, "#6b7280"), width=2.6 if key in "ch" else 1.2),
                         opacity=1.0 if key in "ch" else 0.6, marker=dict(size=3), xaxis=x_axis, yaxis=y_axis,
                         hovertemplate=_hover(lang, name, "%{y:.3f}")))
    titles = [tr(lang, "gates and hidden state h_t of unit #{unit}", unit=unit),
              tr(lang, "cell state c_t of unit #{unit}", unit=unit)] if rows == 2 else None
    layout, extra = stacked_time_layout(trace.labels, rows, titles, spacing=0.12 if rows == 2 else 0.0)
    bottom = "y2" if rows == 2 else "y"
    if feature is not None:
        feature = np.asarray(feature, dtype=np.float64)
        if feature.shape != (T,):
            raise ShapeError(f"feature must be [time] = [{T}], got shape {feature.shape}")
        finite = feature[np.isfinite(feature)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        scaled = (feature - lo) / (hi - lo) if hi > lo else feature * 0
        name = tr(lang, "{feature} (scaled to 0–1)", feature=feature_name)
        data.append(dict(type="scatter", x=np.arange(T), y=finite32(scaled), mode="lines", name=name, yaxis="y9",
                         xaxis="x2" if rows == 2 else "x",
                         line=dict(color="#4b5563", width=2.2, dash="dot", shape="hv"),
                         customdata=finite32(feature), hovertemplate=_hover(lang, feature_name, "%{customdata:.0f}")))
        # its own 0–1 scale on the right of the lower panel, so a large c_t does not flatten it
        layout["yaxis9"] = dict(overlaying=bottom, anchor="x2" if rows == 2 else "x", side="right",
                                range=[-0.05, 1.05], showgrid=False, zeroline=False, tickvals=[0, 1],
                                ticktext=[f"{lo:g}", f"{hi:g}"], title=dict(text=feature_name, standoff=2))
    for y_axis in ("yaxis", "yaxis2")[:rows]:
        layout[y_axis].update(zeroline=True, zerolinecolor="#d1d5db")
    if rows == 1:
        layout["yaxis"]["title"] = dict(text=tr(lang, "unit #{unit}", unit=unit))
    layout.update(height=330 if rows == 1 else 470, hovermode="x unified",
                  legend=dict(orientation="h", y=1.02 if rows == 1 else 1.08, yanchor="bottom", x=0),
                  margin=dict(l=60, r=60 if feature is not None else 30, t=30 if rows == 1 else 60, b=40))
    return go.Figure(data=data + extra, layout=layout)


def _hover(lang: str, name: str, value: str) -> str:
    """A line chart's hover on the token axis: the token, then ``name = value`` (a Plotly template field)."""
    return tr(lang, "token {x}<br>{name} = {value}", x="%{x}", name=name, value=value) + "<extra></extra>"


def _token_figure(data: list, labels: list[str], height: int, first_step: int = 0, **layout) -> go.Figure:
    """One panel over the token time axis (hover ``%{x}`` is the token)."""
    base, extra = stacked_time_layout(labels, first_step=first_step)
    base.update(height=height, margin=dict(l=60, r=30, t=30, b=40), **layout)
    return go.Figure(data=data + extra, layout=base)


def predictions_figure(ids: np.ndarray, p: np.ndarray, vocab: list[str], labels: list[str],
                       next_p: np.ndarray | None = None, next_labels: list[str] | None = None,
                       first_step: int = 0, max_text_steps: int = 60, lang: str = "en") -> go.Figure:
    """Top-k next-token predictions at each step: rows #1..#k (and "actual" on top when ``next_p`` is given:
    the probability given to the token that really came next, labelled ``next_labels``), colour = probability.

    ``ids``/``p`` are ``[time, k]`` (from rnnviz.units.top_k), ``vocab`` the model's tokens, ``labels`` the visible
    tokens read at those steps, the first being step ``first_step``. Cells carry the predicted token as text
    when there are at most ``max_text_steps`` steps. Words in ``lang``.
    """
    ids, p = check("ids", ids, 2), check("p", p, 2)
    T, k = ids.shape
    if p.shape != (T, k) or len(labels) != T:
        raise ShapeError(f"ids {ids.shape}, p {p.shape} and {len(labels)} labels must agree on [time, k]")
    text = np.array([[plotly_label(token_label(vocab[i])) for i in row] for row in ids], dtype=object).T  # [k, T]
    z, rows = np.asarray(p, dtype=np.float32).T, [f"#{r + 1}" for r in range(k)]
    if next_p is not None:
        nxt = next_labels if next_labels is not None else [*labels[1:], tr(lang, "(end)")]
        if len(next_p) != T or len(nxt) != T:
            raise ShapeError(f"next_p ({len(next_p)}) and next_labels ({len(nxt)}) must have {T} steps")
        z = np.vstack([np.asarray(next_p, dtype=np.float32)[None], z])
        text = np.vstack([np.asarray([plotly_label(s) for s in nxt], dtype=object)[None], text])
        rows = [tr(lang, "actual"), *rows]
    steps = np.broadcast_to(np.arange(first_step, first_step + T, dtype=np.int32), z.shape)
    heatmap = dict(
        type="heatmap", z=finite32(z), x=np.arange(first_step, first_step + T), y=rows, zmin=0, zmax=1,
        colorscale=GATE_SCALE, text=text, customdata=steps, textfont=dict(size=11),
        texttemplate="%{text}" if T <= max_text_steps else "",
        hovertemplate=tr(lang, "after {x} · step {step}<br>{row}: {token} · p = {p}", x="%{x}", step="%{customdata}",
                         row="%{y}", token="%{text}", p="%{z:.3f}") + "<extra></extra>",
        colorbar=dict(thickness=12, title=dict(text="p", side="right")),
    )
    fig = _token_figure([heatmap], labels, height=80 + 30 * len(rows), first_step=first_step)
    fig.update_yaxes(type="category", autorange="reversed")
    return fig


def saturation_figure(sat: dict[str, tuple[np.ndarray, np.ndarray]], lang: str = "en") -> go.Figure:
    """Gate saturation (Karpathy et al. 2015, fig. 3): each point a gate unit, x the fraction of steps below 0.1,
    y the fraction above 0.9. ``sat`` is {gate: (left, right)}, each ``[layer, direction, unit]``.

    One colour per gate, shaded per layer; backward-direction units are diamonds. Points near the top-left edge
    are gates that are almost always open; bottom-right, almost always closed; near the origin, in between.
    Words in ``lang``.
    """
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[1, 0], mode="lines", line=dict(color="#9ca3af", dash="dot", width=1),
                             hoverinfo="skip", showlegend=False))
    for gate, (left, right) in sat.items():
        left, right = check(f"{gate} left", left, 3), check(f"{gate} right", right, 3)
        if left.shape != right.shape:
            raise ShapeError(f"{gate}: left {left.shape} and right {right.shape} must match")
        L, D, H = left.shape
        for layer in range(L):
            for d in range(D):
                where = tr(lang, "layer {layer}", layer=layer) + (" · " + tr(lang, "backward") if d else "")
                name = f"{gate} · {where}"
                fig.add_trace(go.Scatter(
                    x=left[layer, d], y=right[layer, d], mode="markers", name=name,
                    marker=dict(color=GATE_COLORS.get(gate, "#6b7280"), symbol=DIRECTION_SYMBOLS[d], size=7,
                                opacity=max(0.35, 0.85 - 0.2 * layer), line=dict(width=0.5, color="white")),
                    customdata=np.arange(H),
                    hovertemplate=f"{quantity_name(gate, lang)} · {where}<br>"
                                  + tr(lang, "unit {unit}<br>closed (< 0.1) {closed} · open (> 0.9) {open}",
                                       unit="%{customdata}", closed="%{x:.0%}", open="%{y:.0%}") + "<extra></extra>",
                ))
    fig.update_xaxes(title_text=tr(lang, "fraction of steps left-saturated (gate < 0.1)"), range=[-0.03, 1.03],
                     tickformat=".0%", constrain="domain")
    fig.update_yaxes(title_text=tr(lang, "fraction of steps right-saturated (gate > 0.9)"), range=[-0.03, 1.03],
                     tickformat=".0%", scaleanchor="x", scaleratio=1, constrain="domain")
    fig.update_layout(height=460, margin=dict(l=60, r=20, t=20, b=50),
                      legend=dict(title_text=tr(lang, "gate · layer"), x=1, xanchor="right", y=1,
                                  bgcolor="rgba(255,255,255,0.8)"))
    return fig


def memory_figure(kept: np.ndarray, written: np.ndarray, labels: list[str], cell: str = "lstm",
                  unit: int | None = None, lang: str = "en") -> go.Figure:
    """Kept against written at each step, ``[time]`` each: for an LSTM f ⊙ c_{t−1} and i ⊙ g, for a GRU
    z ⊙ h_{t−1} and (1 − z) ⊙ n. With ``unit`` None the inputs are means of magnitudes over units. Words in
    ``lang``."""
    kept, written = check("kept", kept, 1), check("written", written, 1)
    if kept.shape != written.shape or len(labels) != len(kept):
        raise ShapeError(f"kept {kept.shape}, written {written.shape} and {len(labels)} labels must agree on [time]")
    terms = {"lstm": ("f ⊙ c_{t−1}", "i ⊙ g"), "gru": ("z ⊙ h_{t−1}", "(1 − z) ⊙ n"),
             "leaky": ("(1 − α) ⊙ h_{t−1}", "α ⊙ n"), "esn": ("(1 − α) ⊙ h_{t−1}", "α ⊙ n")}.get(cell)
    kept_name = tr(lang, "kept {term}", term=terms[0]) if terms else tr(lang, "kept")
    written_name = tr(lang, "written {term}", term=terms[1]) if terms else tr(lang, "written")
    T = len(labels)
    mode = "lines+markers" if T <= 120 else "lines"
    lines = [dict(type="scatter", x=np.arange(T), y=finite32(y), name=name, mode=mode, line=dict(color=color, width=2),
                  marker=dict(size=4),
                  hovertemplate=tr(lang, "token {x} · step {step}<br>{name} = {value}", x="%{x}", step="%{pointNumber}",
                                   name=name, value="%{y:.3f}") + "<extra></extra>")
             for name, y, color in ((kept_name, kept, "#dc2626"), (written_name, written, "#2563eb"))]
    fig = _token_figure(lines, labels, height=340, hovermode="closest",
                        legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0))
    what = tr(lang, "mean |value| over the units shown") if unit is None else tr(lang, "unit #{unit}", unit=unit)
    fig.update_yaxes(title_text=what, zeroline=True, zerolinecolor="#d1d5db")
    return fig


def horizon_figure(horizon: np.ndarray, units=None, gate: str = "f", lang: str = "en",
                   selected: int | None = None) -> go.Figure:
    """Memory horizon τ = −1 / ln(mean gate) per unit, bars in the order of ``units`` (default: by index),
    on a log axis: the number of steps over which the unit's memory decays by a factor e. Words in ``lang``.
    Each bar carries its unit as ``customdata`` (a click can select it); the ``selected`` unit's bar is dark."""
    horizon = check("horizon", horizon, 1)
    units = np.arange(len(horizon)) if units is None else np.asarray(units, dtype=int)
    values = finite32(horizon[units])
    base = "#dc2626" if gate == "f" else "#ea580c"
    fig = go.Figure(go.Bar(
        x=[f"#{u}" for u in units], y=values, customdata=units.astype(np.int32),
        marker_color=["#111827" if u == selected else base for u in units],
        selected=dict(marker=dict(opacity=1)), unselected=dict(marker=dict(opacity=1)),
        hovertemplate=tr(lang, "unit {unit}<br>τ = {tau} steps (mean {gate} = e^(−1/τ))", unit="%{x}", tau="%{y:.3g}",
                         gate=gate) + "<br>" + tr(lang, "click to select it") + "<extra></extra>",
    ))
    fig.update_xaxes(type="category", title_text=tr(lang, "unit"), showticklabels=len(units) <= 64)
    fig.update_yaxes(type="log", dtick=1, title_text=tr(lang, "horizon τ (steps)"))  # a label per decade
    fig.update_layout(height=300, margin=dict(l=60, r=20, t=20, b=50), bargap=0.15, clickmode="event+select",
                      dragmode=False)
    return fig


def finder_figure(values: np.ndarray, labels: list[str], units, start: int, stop: int, key: str = "h",
                  lang: str = "en") -> go.Figure:
    """The units a unit finder returned (rows, best first) over time, ``values`` ``[time, unit]``, with the
    selected span ``start..stop`` (inclusive) outlined. Hover words in ``lang``."""
    values = check("values", values, 2)
    units = np.asarray(units, dtype=int)
    T = values.shape[0]
    if len(labels) != T or not 0 <= start <= stop < T:
        raise ShapeError(f"{len(labels)} labels and span {start}..{stop} must fit values of shape {values.shape}")
    zmin, zmax, scale = color_range(key, values)
    heatmap = dict(type="heatmap", z=finite32(values[:, units].T), x=np.arange(T), y=[f"#{u}" for u in units],
                   zmin=zmin, zmax=zmax, colorscale=scale,
                   hovertemplate=tr(lang, "token {x} · step {step}<br>unit {unit}<br>{key} = {value}", x="%{x}",
                                    step="%{pointNumber[1]}", unit="%{y}", key=key, value="%{z:.3f}")
                   + "<extra></extra>",
                   colorbar=dict(thickness=12, title=dict(text=key, side="right")))
    fig = _token_figure([heatmap], labels, height=110 + 16 * len(units))
    fig.update_yaxes(type="category", autorange="reversed", tickfont=dict(size=10))
    fig.add_shape(type="rect", xref="x", yref="paper", x0=start - 0.5, x1=stop + 0.5, y0=0, y1=1,
                  line=dict(color="#111827", width=2), fillcolor="rgba(0,0,0,0)")
    return fig
