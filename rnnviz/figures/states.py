"""Heatmaps of traced states across time: one row of panels per quantity, one shared token axis."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .common import HOVER_TOKENS_MAX_CELLS, NAMES, check, finite32, token_axis, value_range


def state_heatmaps(trace, keys=("h",), layer: int = 0, direction: int = 0, units=None,
                   panel_height: int = 170) -> go.Figure:
    """Stacked heatmaps (units × time) of ``trace[key][layer, direction]`` for each key.

    ``units`` picks and orders the rows (default: all, in index order). Gates use a sequential scale fixed
    to [0, 1]; h, g and n a diverging scale fixed to [−1, 1]; c a diverging scale symmetric about 0.
    """
    keys = [k for k in keys if k in trace.keys()]
    if not keys:
        raise KeyError(f"none of the requested quantities is traced; available: {', '.join(trace.keys())}")
    L, D, T, H = trace.shape
    if not (0 <= layer < L and 0 <= direction < D):
        raise IndexError(f"layer {layer} / direction {direction} out of range for a trace of shape {trace.shape}")
    units = np.arange(H) if units is None else np.asarray(units, dtype=int)
    labels = trace.labels
    fig = make_subplots(rows=len(keys), cols=1, shared_xaxes=True, vertical_spacing=0.06 if len(keys) > 1 else 0,
                        subplot_titles=[NAMES.get(k, k) for k in keys])
    hover_tokens = T * len(units) <= HOVER_TOKENS_MAX_CELLS
    custom = np.broadcast_to(np.asarray(labels, dtype=object), (len(units), T)) if hover_tokens else None
    token_part = "token %{customdata} · " if hover_tokens else ""
    for row, key in enumerate(keys, start=1):
        z = check(key, trace[key], 4)[layer, direction][:, units].T  # [unit, time]
        zmin, zmax, scale = value_range(key, z)
        bar_len = 1 / len(keys)
        fig.add_trace(go.Heatmap(
            z=finite32(z), x=np.arange(T), y=[f"#{u}" for u in units], zmin=zmin, zmax=zmax, colorscale=scale,
            customdata=custom, name=key,
            hovertemplate=f"{token_part}step %{{x}}<br>unit %{{y}}<br>{key} = %{{z:.3f}}<extra></extra>",
            colorbar=dict(len=bar_len * 0.9, y=1 - (row - 0.5) * bar_len, thickness=12),
        ), row=row, col=1)
        fig.update_yaxes(title_text="unit", type="category", row=row, col=1, showticklabels=len(units) <= 32)
    fig.update_xaxes(**token_axis(labels), row=len(keys), col=1)
    fig.update_layout(height=panel_height * len(keys) + 60, margin=dict(l=50, r=20, t=40, b=40))
    return fig
