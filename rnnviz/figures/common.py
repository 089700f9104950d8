"""Shared pieces of the Plotly builders: scales, the token time axis, shape checks. Arrays in, figures out."""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib

import numpy as np
import plotly.colors as pcolors
import plotly.graph_objects as go
import plotly.io as pio

from ..i18n import N_, tr

GATE_SCALE = "Viridis"  # sequential, for sigmoid gates in [0, 1]
DIVERGING_SCALE = "RdBu_r"  # red positive, blue negative, white at 0
GATES = {"i", "f", "o", "r", "z"}
NAMES = {  # marked with N_: translate with tr(lang, NAMES[key])
    "h": N_("hidden state h_t"), "c": N_("cell state c_t"), "i": N_("input gate i_t"), "f": N_("forget gate f_t"),
    "g": N_("candidate g_t"), "o": N_("output gate o_t"), "r": N_("reset gate r_t"), "z": N_("update gate z_t"),
    "n": N_("candidate n_t"),
}
HOVER_TOKENS_MAX_CELLS = 60_000  # above this, hover names the step only (token labels stay on the axis)


class ShapeError(ValueError):
    """A figure builder got an array of the wrong shape; the message says which and why."""


def with_revision(fig: go.Figure) -> go.Figure:
    """``fig`` with ``layout.datarevision`` set to a digest of its content; returns the same figure.

    Plotly.react redraws a chart from scratch when a data array's identity changes, unless the datarevision is
    set and unchanged. Streamlit's chart draws a figure when it mounts and then hands Plotly a JSON round trip of
    the same figure (with the theme's colours filled in): new arrays, equal values. Without a revision that call
    computes and draws the chart again; with one, it finds nothing to do. The digest covers data and layout,
    so any change to the figure still redraws it, and the same figure gives the same digest (Streamlit's message
    cache and element identity see an unchanged chart as unchanged).
    """
    fig.layout.datarevision = None
    digest = hashlib.blake2b(pio.to_json(fig, validate=False, engine="json").encode(), digest_size=12).hexdigest()
    fig.layout.datarevision = digest
    return fig


def colormap(scale: str, levels: int = 256) -> np.ndarray:
    """``levels`` colours of a named Plotly colour scale, evenly spaced from its bottom to its top: uint8 [levels, 3].

    Linear in RGB between the scale's stops, as plotly.js draws its colour bars and heatmaps.
    """
    stops = pcolors.get_colorscale(scale)
    pos = np.array([p for p, _ in stops], dtype=np.float64)
    rgb = np.array([pcolors.hex_to_rgb(c) if c.startswith("#") else pcolors.unlabel_rgb(c) for _, c in stops],
                   dtype=np.float64)
    t = np.linspace(0.0, 1.0, levels)
    return np.rint(np.stack([np.interp(t, pos, rgb[:, k]) for k in range(3)], axis=1)).astype(np.uint8)


def png(rgba: np.ndarray) -> bytes:
    """An RGBA image (uint8 [height, width, 4], top row first) as PNG bytes: zlib and the standard chunks, no
    imaging library."""
    rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
    if rgba.ndim != 3 or rgba.shape[2] != 4 or not rgba.shape[0] or not rgba.shape[1]:
        raise ShapeError(f"png needs a [height, width, 4] array, got shape {rgba.shape}")
    h, w, _ = rgba.shape
    rows = np.concatenate([np.zeros((h, 1), np.uint8), rgba.reshape(h, 4 * w)], axis=1)  # filter byte 0: none

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + chunk(b"IEND", b""))


def color_image(z: np.ndarray, zmin: float, zmax: float, scale: str) -> str:
    """``z`` [rows, columns] painted with ``scale`` from ``zmin`` to ``zmax`` (values outside take the end colours,
    NaN is transparent), as a ``data:image/png`` URL for a Plotly image trace.

    A browser decodes a PNG natively; a Plotly heatmap of the same cells is coloured cell by cell in JavaScript and
    re-encoded as a PNG on every draw, which costs a long sequence's page a large part of its drawing time."""
    z = check("z", z, 2).astype(np.float64)
    lut = colormap(scale)
    span = zmax - zmin if zmax > zmin else 1.0
    with np.errstate(invalid="ignore"):
        index = np.rint(np.clip((z - zmin) / span, 0.0, 1.0) * (len(lut) - 1))
    ok = np.isfinite(index)
    rgba = np.zeros(z.shape + (4,), np.uint8)
    rgba[..., :3] = lut[np.where(ok, index, 0).astype(np.intp)]
    rgba[..., 3] = np.where(ok, 255, 0)
    return "data:image/png;base64," + base64.b64encode(png(rgba)).decode("ascii")


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


def quantity_name(key: str, lang: str = "en") -> str:
    """A traced quantity's name with its symbol ("forget gate f_t"), in ``lang``."""
    return tr(lang, NAMES[key]) if key in NAMES else key


def empty_figure(message: str) -> go.Figure:
    """A figure that only says ``message`` (already in the reader's language)."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(xaxis_visible=False, yaxis_visible=False, height=200)
    return fig
