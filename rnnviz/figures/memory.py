"""Memory views: success against lag (a sweep's JSON result in) and memory capacity (MemoryCapacity in).

- :func:`lag_sweep_figure`: one curve per cell, the median over seeds with a band from the worst to the best
  seed, on a log lag axis; chance (or the constant answer) dashed.
- :func:`capacity_figure`: r²_k against the delay k, one line per model; the legend gives MC = Σ r²_k beside N.
- :func:`capacity_scan_figure`: total memory capacity against one reservoir setting (ρ or the input scaling),
  with the bound N dashed and the current setting marked.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ..i18n import N_, tr
from ..reservoir import MemoryCapacity
from .common import ShapeError
from .gradients import CELL_COLORS, EXTRA_COLORS, _rgba, _safe

CELL_LABELS = {"rnn": "RNN", "leaky": N_("Leaky RNN"), "esn": "ESN", "lstm": "LSTM", "gru": "GRU"}  # tr() shows
TASK_NAMES = {"recall": N_("Recall"), "adding": N_("Adding problem"), "temporal_order": N_("Temporal order")}
GREY = "#6b7280"
LEGEND = dict(orientation="h", yanchor="top", y=-0.22, x=0, font=dict(size=11))


def _color(cell: str, i: int) -> str:
    return CELL_COLORS.get(cell, EXTRA_COLORS[i % len(EXTRA_COLORS)])


def _title(text: str) -> dict:
    return dict(text=_safe(text), x=0, xanchor="left", font=dict(size=15))


def _summary(result: dict) -> tuple[list[str], dict]:
    summary, config = result.get("summary"), result.get("config")
    if not isinstance(summary, dict) or not isinstance(config, dict):
        raise ShapeError("a sweep result needs 'summary' and 'config' (made by rnnviz.sweep)")
    cells = [c for c in config.get("cells", ()) if c in summary] + [c for c in summary if c not in config["cells"]]
    return cells, summary


def lag_sweep_figure(result: dict, lang: str = "en", height: int = 420) -> go.Figure:
    """Success against lag for every cell of a :func:`rnnviz.sweep.sweep` result: median line, min–max band."""
    cells, summary = _summary(result)
    accuracy = result.get("metric") == "accuracy"
    fig = go.Figure()
    all_lags: set[int] = set()
    for i, cell in enumerate(cells):
        rows = sorted((int(lag), s) for lag, s in summary[cell].items())
        lags = [lag for lag, _ in rows]
        all_lags.update(lags)
        med, lo, hi = (np.array([s[k] for _, s in rows], dtype=np.float64) for k in ("median", "min", "max"))
        n = [s["n"] for _, s in rows]
        color, name = _color(cell, i), tr(lang, CELL_LABELS.get(cell, cell))
        fig.add_trace(go.Scatter(x=lags, y=hi, mode="lines", line=dict(width=0, color=color), hoverinfo="skip",
                                 showlegend=False, legendgroup=cell))
        fig.add_trace(go.Scatter(x=lags, y=lo, mode="lines", line=dict(width=0, color=color), fill="tonexty",
                                 fillcolor=_rgba(color, 0.18), hoverinfo="skip", showlegend=False, legendgroup=cell))
        hover = [tr(lang, "{cell} at lag {lag}: median {median}, seeds from {low} to {high} ({n} seeds)",
                    cell=name, lag=lag, median=f"{m:.3f}", low=f"{a:.3f}", high=f"{b:.3f}", n=k)
                 for lag, m, a, b, k in zip(lags, med, lo, hi, n, strict=True)]
        fig.add_trace(go.Scatter(x=lags, y=med, mode="lines+markers", name=_safe(name), legendgroup=cell,
                                 line=dict(color=color, width=2.5), marker=dict(size=7), text=[_safe(h) for h in hover],
                                 hovertemplate="%{text}<extra></extra>"))
    ticks = sorted(all_lags)
    if accuracy:
        level, label, y_title = result.get("chance"), tr(lang, "chance"), tr(lang, "validation accuracy")
    else:
        level, label = 0.0, tr(lang, "constant answer")
        y_title = tr(lang, "1 − MSE / MSE of the constant answer")
    if level is not None:
        fig.add_hline(y=level, line=dict(color=GREY, dash="dash", width=1), annotation_text=_safe(label),
                      annotation_position="bottom right", annotation_font=dict(size=11, color=GREY))
    config = result.get("config", {})
    task = str(config.get("task", ""))
    task = tr(lang, TASK_NAMES[task]) if task in TASK_NAMES else task.replace("_", " ")
    lows = [s["min"] for c in cells for s in summary[c].values()]
    fig.update_layout(
        title=_title(tr(lang, "Success against lag: {task}", task=task)), height=height,
        margin=dict(l=60, r=15, t=40, b=40), legend=LEGEND, hovermode="closest",
        xaxis=dict(type="log", title=dict(text=_safe(tr(lang, "lag (steps the answer must be kept)")), standoff=4),
                   tickvals=ticks, ticktext=[str(t) for t in ticks]),
        yaxis=dict(title=_safe(y_title), range=[min([0.0, *lows]) - 0.03, 1.03], zeroline=False),
    )
    return fig


def capacity_figure(curves: Sequence[tuple[str, str, MemoryCapacity]], lang: str = "en",
                    height: int = 380) -> go.Figure:
    """r²_k against k for each ``(name, cell, MemoryCapacity)``; the legend gives each total and its bound N."""
    fig = go.Figure()
    for i, (name, cell, mc) in enumerate(curves):
        r2 = np.asarray(mc.per_delay, dtype=np.float64)
        if r2.ndim != 1:
            raise ShapeError(f"per_delay must be [delays], got shape {r2.shape}")
        label = tr(lang, "{name}: MC = {total} of N = {bound}", name=name, total=f"{mc.total:.1f}", bound=mc.bound)
        fig.add_trace(go.Scatter(
            x=mc.delays, y=r2, mode="lines+markers", name=_safe(label), line=dict(color=_color(cell, i), width=2),
            marker=dict(size=4),
            hovertemplate=tr(lang, "delay {k}: r² = {r2}", k="%{x}", r2="%{y:.3f}") + "<extra></extra>"))
    fig.update_layout(
        title=_title(tr(lang, "How well the states recall the input k steps back")), height=height,
        margin=dict(l=60, r=15, t=40, b=40), legend=LEGEND, hovermode="closest",
        xaxis=dict(title=dict(text=_safe(tr(lang, "delay k (steps)")), standoff=4)),
        yaxis=dict(title=_safe(tr(lang, "r²ₖ (squared correlation)")), range=[-0.02, 1.05]),
    )
    return fig


def capacity_scan_figure(values: Sequence[float], totals: Sequence[float], bound: int, current: float,
                         setting: str, lang: str = "en", height: int = 300) -> go.Figure:
    """Total memory capacity against one reservoir ``setting`` (its axis title), N dashed, ``current`` marked."""
    x, y = np.asarray(values, dtype=np.float64), np.asarray(totals, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ShapeError(f"values and totals must be two 1-D arrays of one length, got {x.shape} and {y.shape}")
    fig = go.Figure(go.Scatter(x=x, y=y, mode="lines+markers", name=_safe(tr(lang, "memory capacity")),
                               line=dict(color=CELL_COLORS.get("esn", EXTRA_COLORS[1]), width=2),
                               hovertemplate="%{x:.3g}: MC = %{y:.2f}<extra></extra>"))
    fig.add_hline(y=bound, line=dict(color=GREY, dash="dash", width=1),
                  annotation_text=_safe(tr(lang, "bound N = {n}", n=bound)), annotation_position="bottom right",
                  annotation_font=dict(size=11, color=GREY))
    fig.add_vline(x=current, line=dict(color=GREY, dash="dot", width=1))
    fig.update_layout(
        title=_title(tr(lang, "Memory capacity against {setting}", setting=setting)), height=height,
        margin=dict(l=60, r=15, t=40, b=40), showlegend=False,
        xaxis=dict(title=dict(text=_safe(setting), standoff=4)),
        yaxis=dict(title=_safe(tr(lang, "memory capacity (Σ r²ₖ)")), range=[0, bound * 1.08]),
    )
    return fig
