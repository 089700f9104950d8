"""Shared pieces of the Plotly builders: scales, the token time axis, shape checks. Arrays in, figures out."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

GATE_SCALE = "Viridis"  # sequential, for sigmoid gates in [0, 1]
DIVERGING_SCALE = "RdBu_r"  # red positive, blue negative, white at 0
GATES = {"i", "f", "o", "r", "z"}
NAMES = {
    "h": "hidden state h_t", "c": "cell state c_t", "i": "input gate i_t", "f": "forget gate f_t",
    "g": "candidate g_t", "o": "output gate o_t", "r": "reset gate r_t", "z": "update gate z_t",
    "n": "candidate n_t",
}
HOVER_TOKENS_MAX_CELLS = 60_000  # above this, hover names the step only (token labels stay on the axis)


class ShapeError(ValueError):
    """A figure builder got an array of the wrong shape; the message says which and why."""


def check(name: str, a: np.ndarray, ndim: int) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != ndim:
        raise ShapeError(f"{name} must have {ndim} dimensions, got shape {a.shape}")
    return a


def finite32(a: np.ndarray) -> np.ndarray:
    """float32 with NaN where the value is not finite, so Plotly draws a gap instead of failing."""
    a = np.asarray(a, dtype=np.float32)
    return np.where(np.isfinite(a), a, np.nan).astype(np.float32)


def token_axis(labels: list[str], max_ticks: int = 80) -> dict:
    """A numeric time axis whose tick text is the tokens, so repeated tokens keep their own column."""
    T = len(labels)
    step = max(1, int(np.ceil(T / max_ticks)))
    vals = list(range(0, T, step))
    return dict(tickmode="array", tickvals=vals, ticktext=[labels[t] for t in vals], range=[-0.5, T - 0.5])


def value_range(key: str, a: np.ndarray) -> tuple[float, float, str]:
    """(zmin, zmax, colorscale): gates fixed to [0, 1]; tanh-range values fixed to [−1, 1]; c symmetric."""
    if key in GATES:
        return 0.0, 1.0, GATE_SCALE
    if key in ("h", "g", "n"):
        m = 1.0
        finite = np.abs(a[np.isfinite(a)])
        if key == "h" and finite.size and finite.max() > 1:  # relu RNN: unbounded above
            m = float(finite.max())
        return -m, m, DIVERGING_SCALE
    finite = np.abs(a[np.isfinite(a)])
    m = max(1.0, float(finite.max()) if finite.size else 1.0)
    return -m, m, DIVERGING_SCALE


def empty_figure(message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(xaxis_visible=False, yaxis_visible=False, height=200)
    return fig
