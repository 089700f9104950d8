"""Training views: :class:`rnnviz.race.RunCurves` in, ``go.Figure`` out (one run per cell, on shared axes).

- :func:`loss_figure`: training loss per step (thin) and validation loss (bold, dots), log y.
- :func:`accuracy_figure`: the same for accuracy, with the chance level as a dashed line and the task's baselines
  (bag of characters, majority class) as dotted ones.
- :func:`grad_norm_figure`: the gradient norm of every step before clipping, log y; clipped steps marked ×,
  the clipping threshold dashed.
- :func:`train_flow_figure`: ‖dL/dh_t‖ against lag on one validation example, now (solid) beside step 0 (dashed).

Words are in ``lang`` (each builder's last parameter). Long runs are drawn in at most ``max_points`` bins per
curve (mean over the bin; max for the gradient norm, so spikes stay visible), which keeps a live page's updates
small.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ..i18n import tr
from ..race import RunCurves
from .common import empty_figure
from .gradients import CELL_COLORS, EXTRA_COLORS, _log_ticks, _plot, _rgba, _safe

MAX_POINTS = 250  # drawn bins per per-step curve over the run's full length (x_max): a 1,000-step run in bins of 4
MAX_MARKERS = 300  # drawn clipping markers per run
GREY = "#6b7280"
BASELINE_COLORS = ("#111827", "#9ca3af", "#6b7280")  # the accuracies to beat: near-black first, then greys
LEGEND = dict(orientation="h", yanchor="top", y=-0.2, x=0, font=dict(size=11))  # below the x axis: never on the title


def _color(run: RunCurves, i: int) -> str:
    return CELL_COLORS.get(run.cell, EXTRA_COLORS[i % len(EXTRA_COLORS)])


def binned(x: np.ndarray, y: np.ndarray, max_points: int = MAX_POINTS, how: str = "mean",
           span: float | None = None) -> tuple[np.ndarray, ...]:
    """(x, y) in bins of equal size, at most ``max_points`` of them over ``span`` steps (default: the data's
    length), so that bins keep their width while a run grows towards ``span``. x is each bin's last step, y its
    mean (or max). A bin whose values are all NaN stays NaN: a diverged run ends in a gap, not a made-up value."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = len(x)
    size = int(np.ceil(max(n, span or 0) / max_points))
    if size <= 1:
        return x, y
    pad = (-n) % size
    xb = np.concatenate([x, np.full(pad, np.nan)]).reshape(-1, size)
    yb = np.concatenate([y, np.full(pad, np.nan)]).reshape(-1, size)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN bin: NaN is the answer we want
        y_out = np.nanmax(yb, 1) if how == "max" else np.nanmean(yb, 1)
        return np.nanmax(xb, 1), y_out


def _layout(title: str, y_title: str, x_max: float | None, runs: Sequence[RunCurves], height: int, lang: str,
            **yaxis) -> dict:
    last = max([float(np.nanmax(r.steps)) for r in runs if len(r.steps)] + [1.0])
    right = max(last, float(x_max or 0), 10.0)
    return dict(
        title=dict(text=title, x=0, xanchor="left", font=dict(size=15)), height=height,
        margin=dict(l=60, r=15, t=40, b=40), hovermode="closest", legend=LEGEND,
        xaxis=dict(title=dict(text=tr(lang, "training step"), standoff=4), range=[-0.015 * right, right * 1.015],
                   showgrid=True),
        yaxis=dict(title=dict(text=y_title), showgrid=True, **yaxis),
    )


def _train_and_validation(runs: Sequence[RunCurves], train: str, val: str, max_points: int, log: bool,
                          hover: str, x_max: float | None, lang: str) -> list[dict]:
    data = []
    for i, r in enumerate(runs):
        color, name = _color(r, i), _safe(r.name)
        x, y = binned(r.steps, getattr(r, train), max_points, span=x_max)
        train_name, val_name = tr(lang, "{name} train", name=name), tr(lang, "{name} validation", name=name)
        data.append(dict(type="scatter", mode="lines", x=x, y=_plot(y) if log else y, name=train_name,
                         legendgroup=name, line=dict(color=_rgba(color, 0.45), width=1),
                         hovertemplate=tr(lang, "{name} · step {step}", name=train_name, step="%{x:.0f}")
                         + f"<br>{hover}<extra></extra>"))
        y_val = getattr(r, val)
        data.append(dict(type="scatter", mode="lines+markers", x=np.asarray(r.eval_steps, dtype=np.float64),
                         y=_plot(y_val) if log else np.asarray(y_val, dtype=np.float64), name=val_name,
                         legendgroup=name, line=dict(color=color, width=2.5), marker=dict(size=5, color=color),
                         hovertemplate=tr(lang, "{name} · step {step}", name=val_name, step="%{x:.0f}")
                         + f"<br>{hover}<extra></extra>"))
    return data


def _log_axis(data: list[dict]) -> dict:
    """Range and readable ticks (1-2-5 on short spans, whole decades on long ones) for a log y axis."""
    ys = [np.asarray(t["y"], dtype=np.float64) for t in data]
    vals = np.concatenate(ys) if ys else np.array([])
    vals = vals[np.isfinite(vals) & (vals > 0)]
    if not vals.size:
        return {}
    lo, hi = float(np.log10(vals.min())), float(np.log10(vals.max()))
    pad = max(0.1, 0.05 * (hi - lo), (1 - (hi - lo)) / 2)  # at least one decade: a flat start still gets ticks
    lo, hi = lo - pad, hi + pad
    return dict(range=[lo, hi], **_log_ticks(lo, hi))


def _hline(y: float, x_right: float, name: str, hover: str | None = None, color: str = GREY,
           dash: str = "dash") -> dict:
    return dict(type="scatter", mode="lines", x=[0, x_right], y=[y, y], name=name,
                line=dict(color=color, width=1.5, dash=dash),
                hovertemplate=f"{_safe(hover or name)}<extra></extra>")


def _diverged_marks(runs: Sequence[RunCurves], x_right: float, lang: str) -> tuple[list[dict], list[dict]]:
    """A vertical dash-dot line and a note at the step where each diverged run stopped."""
    shapes, notes = [], []
    for i, r in enumerate(runs):
        if r.diverged_at is None:
            continue
        color = _color(r, i)
        shapes.append(dict(type="line", xref="x", x0=r.diverged_at, x1=r.diverged_at, yref="y domain", y0=0, y1=1,
                           line=dict(color=color, width=2, dash="dashdot")))
        notes.append(dict(x=r.diverged_at, xref="x", y=0.97 - 0.1 * len(notes), yref="y domain", showarrow=False,
                          text="⚠ " + tr(lang, "{name} diverged at step {step:,}", name=_safe(r.name),
                                         step=r.diverged_at),
                          xanchor="left" if r.diverged_at < 0.6 * x_right else "right", yanchor="top",
                          font=dict(color=color, size=12), bgcolor="rgba(255,255,255,.85)"))
    return shapes, notes


def loss_figure(runs: Sequence[RunCurves], unit: str = "cross-entropy (nats)",
                baseline: tuple[float, str] | None = None, x_max: float | None = None, max_points: int = MAX_POINTS,
                height: int = 370, lang: str = "en") -> go.Figure:
    """Training loss per step (binned mean, thin) and validation loss (bold), log y. ``baseline`` = (loss, name)
    draws a loss to beat as a dashed line, e.g. the persistence forecast of a series. ``unit`` and the baseline's
    name are catalog ids (rnnviz.race marks them), shown in ``lang``."""
    if not runs:
        return empty_figure(tr(lang, "No model is training yet."))
    unit = tr(lang, unit)
    data = _train_and_validation(runs, "loss", "eval_loss", max_points, True, f"{_safe(unit)} %{{y:.4g}}",
                                 x_max, lang)
    layout = _layout(tr(lang, "Loss"), unit, x_max, runs, height, lang, type="log", exponentformat="power")
    if baseline is not None and np.isfinite(baseline[0]) and baseline[0] > 0:
        data.append(_hline(float(baseline[0]), layout["xaxis"]["range"][1],
                           f"{tr(lang, baseline[1])}: {baseline[0]:.3g}"))
    layout["yaxis"].update(_log_axis(data))
    layout["shapes"], layout["annotations"] = _diverged_marks(runs, layout["xaxis"]["range"][1], lang)
    return go.Figure(data=data, layout=layout)


def accuracy_figure(runs: Sequence[RunCurves], chance: float | None = None, x_max: float | None = None,
                    scored: bool = True, max_points: int = MAX_POINTS, height: int = 370,
                    lang: str = "en", baselines: Sequence[tuple[float, str]] = ()) -> go.Figure:
    """Training accuracy per step (binned mean, thin) and validation accuracy (bold); chance as a dashed line.
    ``baselines`` = [(validation accuracy, name)]: classifiers measured on the same split (rnnviz.race's
    ``Race.accuracy_baselines``: bag of characters, majority class), each a dotted line with its value in the
    legend; names are catalog ids. ``scored=False``: the task has no accuracy (a plain regression), and the figure
    says so."""
    if not runs:
        return empty_figure(tr(lang, "No model is training yet."))
    if not scored:
        fig = empty_figure(tr(lang, "This task has no accuracy: it is scored by its loss alone."))
        fig.update_layout(height=height, title=dict(text=tr(lang, "Accuracy"), x=0, xanchor="left",
                                                    font=dict(size=15)))
        return fig
    data = _train_and_validation(runs, "accuracy", "eval_accuracy", max_points, False, "%{y:.1%}", x_max, lang)
    layout = _layout(tr(lang, "Accuracy"), tr(lang, "accuracy"), x_max, runs, height, lang, range=[0, 1.03],
                     tickformat=".0%")
    if chance is not None:
        data.append(_hline(float(chance), layout["xaxis"]["range"][1], tr(lang, "chance {p:.1%}", p=chance)))
    for (value, name), color, dash in zip(baselines, BASELINE_COLORS, ("dot", "dashdot", "longdash"), strict=False):
        name = tr(lang, name)
        hover = tr(lang, "{name}: {p:.1%} validation accuracy, fitted on the training split in this run",
                   name=name, p=value)
        data.append(_hline(float(value), layout["xaxis"]["range"][1], tr(lang, "{name} {p:.1%}", name=name, p=value),
                           hover, color, dash))
    layout["shapes"], layout["annotations"] = _diverged_marks(runs, layout["xaxis"]["range"][1], lang)
    return go.Figure(data=data, layout=layout)


def grad_norm_figure(runs: Sequence[RunCurves], clip: float | None = None, x_max: float | None = None,
                     max_points: int = MAX_POINTS, max_markers: int = MAX_MARKERS, height: int = 370,
                     lang: str = "en") -> go.Figure:
    """‖∇‖ of every step before clipping (binned max), log y; × marks clipped steps (evenly thinned to at most
    ``max_markers`` per run, every mark a real clipped step); the threshold ``clip`` dashed."""
    if not runs:
        return empty_figure(tr(lang, "No model is training yet."))
    data = []
    for i, r in enumerate(runs):
        color, name = _color(r, i), _safe(r.name)
        x, y = binned(r.steps, r.grad_norm, max_points, how="max", span=x_max)
        data.append(dict(type="scatter", mode="lines", x=x, y=_plot(y), name=f"{name} ‖∇‖", legendgroup=name,
                         line=dict(color=color, width=1.3),
                         hovertemplate=tr(lang, "{name} · step {step}<br>gradient norm {value}", name=name,
                                          step="%{x:.0f}", value="%{y:.3g}") + "<extra></extra>"))
        clipped = np.flatnonzero(np.asarray(r.clipped, dtype=bool))
        if clipped.size:
            shown = clipped[np.unique(np.linspace(0, clipped.size - 1, min(clipped.size, max_markers)).round()
                                      .astype(int))]
            data.append(dict(type="scatter", mode="markers", x=np.asarray(r.steps, dtype=np.float64)[shown],
                             y=_plot(np.asarray(r.grad_norm)[shown]),
                             name=tr(lang, "{name} clipped ({n:,} steps)", name=name, n=clipped.size),
                             legendgroup=name, marker=dict(symbol="x-thin", size=7, color=color,
                                                           line=dict(width=1.5, color=color)),
                             hovertemplate=tr(lang, "{name} · step {step}: clipped from {value}", name=name,
                                              step="%{x:.0f}", value="%{y:.3g}") + "<extra></extra>"))
    layout = _layout(tr(lang, "Gradient norm (before clipping)"), "‖∇‖", x_max, runs, height, lang, type="log",
                     exponentformat="power")
    if clip is not None:
        data.append(_hline(float(clip), layout["xaxis"]["range"][1], tr(lang, "clipping threshold {clip:g}",
                                                                        clip=clip)))
    layout["yaxis"].update(_log_axis(data))
    layout["shapes"], layout["annotations"] = _diverged_marks(runs, layout["xaxis"]["range"][1], lang)
    if not any(len(r.steps) for r in runs):
        layout["annotations"].append(dict(text=tr(lang, "Each step's gradient norm appears here once training "
                                                        "starts."),
                                          showarrow=False, x=0.5, y=0.8, xref="paper", yref="paper",
                                          font=dict(color=GREY), bgcolor="rgba(255,255,255,.9)"))
    return go.Figure(data=data, layout=layout)


def train_flow_figure(runs: Sequence[RunCurves], height: int = 370, lang: str = "en") -> go.Figure:
    """‖dL/dh_t‖ of the top layer against lag (steps back from the scored output) on one validation example:
    at the newest snapshot (solid) beside step 0 (dashed), log y. Exactly 0 (underflow) leaves a gap."""
    with_flow = [(i, r) for i, r in enumerate(runs) if r.flow is not None or r.flow0 is not None]
    if not with_flow:
        return empty_figure(tr(lang, "The gradient flow appears after the first step."))
    data, T = [], 1
    for i, r in with_flow:
        color, name = _color(r, i), _safe(r.name)
        for flow, step, dash, width in ((r.flow0, 0, "dash", 1.5), (r.flow, r.flow_step, "solid", 2.5)):
            if flow is None or (step == 0 and dash == "solid"):
                continue  # at step 0 the newest snapshot is the step-0 one: draw it once, dashed
            flow = np.asarray(flow, dtype=np.float64)
            T = max(T, len(flow))
            label = tr(lang, "{name} at step {step:,}", name=name, step=step)
            data.append(dict(type="scatter", mode="lines", x=np.arange(len(flow)), y=_plot(flow[::-1]), name=label,
                             legendgroup=name, line=dict(color=color, width=width, dash=dash),
                             hovertemplate=tr(lang, "{name} · lag {lag}", name=label, lag="%{x}")
                             + "<br>‖dL/dh‖ %{y:.3g}<extra></extra>"))
    layout = dict(
        title=dict(text=tr(lang, "Gradient flow through time: now vs step 0"), x=0, xanchor="left",
                   font=dict(size=15)),
        height=height, margin=dict(l=60, r=15, t=40, b=40), hovermode="closest", legend=LEGEND,
        xaxis=dict(title=dict(text=tr(lang, "lag: steps back from the scored output"), standoff=4),
                   range=[-0.5, T - 0.5],
                   showgrid=True),
        yaxis=dict(title=dict(text="‖dL/dh_t‖"), type="log", exponentformat="power", showgrid=True,
                   **_log_axis(data)),
    )
    return go.Figure(data=data, layout=layout)
