"""Figures of /cell's sentiment view (rnnviz.sentiment computes what they draw): arrays in, ``go.Figure`` out."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..i18n import tr
from .cell import _hover, _token_figure
from .common import ShapeError, finite32

POSITIVE_COLOR, NEGATIVE_COLOR = "#16a34a", "#dc2626"
UNIT_COLORS = ("#2563eb", "#ea580c", "#9333ea", "#0d9488", "#be185d", "#4b5563")


def running_figure(p: np.ndarray, labels: list[str], lang: str = "en") -> go.Figure:
    """p(positive) after each character ``[time]`` as a line on the token axis, with 0.5 (undecided) dashed and
    the two halves shaded: green above (positive), red below (negative)."""
    p = np.asarray(p, dtype=np.float64)
    if p.shape != (len(labels),):
        raise ShapeError(f"p must be [time] = [{len(labels)}], got shape {p.shape}")
    T = len(labels)
    name = tr(lang, "p(positive)")
    line = dict(type="scatter", x=np.arange(T), y=finite32(p), mode="lines+markers" if T <= 200 else "lines",
                name=name, line=dict(color="#111827", width=2.4), marker=dict(size=4),
                hovertemplate=_hover(lang, name, "%{y:.3f}"))
    fig = _token_figure([line], labels, height=300, hovermode="x unified", showlegend=False)
    fig.update_yaxes(range=[-0.02, 1.02], title=dict(text=name), tickvals=[0, 0.25, 0.5, 0.75, 1])
    for y0, y1, color, text in ((0.5, 1.0, POSITIVE_COLOR, tr(lang, "positive")),
                                (0.0, 0.5, NEGATIVE_COLOR, tr(lang, "negative"))):
        fig.add_hrect(y0=y0, y1=y1, fillcolor=color, opacity=0.07, line_width=0, layer="below",
                      annotation_text=text, annotation_position="top right" if y0 else "bottom right",
                      annotation_font=dict(color=color, size=12))
    fig.add_hline(y=0.5, line_dash="dash", line_color="#6b7280", line_width=1)
    return fig


def sentiment_units_figure(values: np.ndarray, names: list[str], labels: list[str], lang: str = "en") -> go.Figure:
    """The units that carry sentiment on one text: ``values`` ``[time, unit]`` (each unit's h_t or c_t), one line
    per unit named by ``names`` (e.g. "h #22 · r = −0.64")."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != len(labels) or values.shape[1] != len(names):
        raise ShapeError(f"values must be [time, unit] = [{len(labels)}, {len(names)}], got shape {values.shape}")
    T = len(labels)
    data = [dict(type="scatter", x=np.arange(T), y=finite32(values[:, k]), mode="lines", name=name,
                 line=dict(color=UNIT_COLORS[k % len(UNIT_COLORS)], width=2),
                 hovertemplate=_hover(lang, name, "%{y:.3f}")) for k, name in enumerate(names)]
    fig = _token_figure(data, labels, height=320, hovermode="x unified",
                        legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0))
    fig.update_yaxes(title=dict(text=tr(lang, "value")), zeroline=True, zerolinecolor="#d1d5db")
    return fig
