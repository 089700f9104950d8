"""Heatmaps of traced states across time: one row of panels per quantity, one shared token axis.

Hover names the token without per-cell data: every panel's time axis lists all steps as tick values with the
tokens as tick text, and Plotly writes ``%{x}`` through the tick text. Only the bottom axis shows labels; when
they would not fit side by side, a trace-less overlay axis shows every n-th token instead, so labels never pile up.
Layouts are built as plain dicts and validated once (``make_subplots`` plus updates cost ~0.2 s per figure).
"""

from __future__ import annotations

import html
import unicodedata

import numpy as np
import plotly.graph_objects as go

from ..i18n import tr
from .common import check, finite32, quantity_name, value_range

MAX_TICKS = 80
TOKEN_FONT = dict(size=12, color="#374151")  # tokens are the point of the axis: darker than the theme's grey
CELL_STATE_PERCENTILE = 99  # c_t is unbounded: a few large units would wash out the rest of the panel


def color_range(key: str, a: np.ndarray) -> tuple[float, float, str]:
    """(zmin, zmax, colorscale) for a quantity: gates [0, 1], tanh-range [−1, 1] (as ``value_range``), and the cell
    state symmetric at its 99th percentile of |c| (at least 1); hover still shows the true values."""
    if key != "c":
        return value_range(key, a)
    finite = np.abs(np.asarray(a, dtype=np.float64))
    finite = finite[np.isfinite(finite)]
    m = max(1.0, float(np.percentile(finite, CELL_STATE_PERCENTILE)) if finite.size else 1.0)
    return -m, m, value_range(key, a)[2]


def plotly_label(label: str) -> str:
    """A label safe for Plotly's text: it renders a few HTML tags (<b>, <br>, <a>) and drops them from a label,
    so multi-character labels (``<unk>``, words) are entity-escaped; single characters cannot form a tag."""
    return html.escape(label, quote=False) if len(label) > 1 else label


def _width(label: str) -> int:
    """Rough width of a tick label in character cells: East Asian wide characters count twice."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in label)


def label_stride(labels: list[str], max_ticks: int = MAX_TICKS, width_px: int = 1100, cell_px: int = 7) -> int:
    """Label every n-th step so the labels fit side by side on an axis about ``width_px`` wide: 1 for up to
    ``max_ticks`` single characters, more for long labels (numbers) or many steps."""
    if not labels:
        return 1
    widest = min(12, max(_width(s) for s in labels))
    fits = max(8, min(max_ticks, width_px // (cell_px * widest + 6)))
    return max(1, int(np.ceil(len(labels) / fits)))


def _suffix(row: int) -> str:
    return "" if row == 1 else str(row)


def stacked_time_layout(labels: list[str], rows: int = 1, titles=None, spacing: float = 0.0,
                        max_ticks: int = MAX_TICKS, first_step: int = 0) -> tuple[dict, list[dict]]:
    """(layout, extra traces) for ``rows`` panels stacked top to bottom on one token time axis.

    Row r plots on axes ``x{r}``/``y{r}`` (row 1: ``x``/``y``); all time axes move together. Every time axis
    carries every token as tick text (so hover ``%{x}`` is the token); the bottom one shows them, or, when they
    would not fit side by side (see ``label_stride``), an overlay axis shows every n-th (the extra trace keeps that
    axis drawn). The labels are
    those of steps ``first_step``, ``first_step + 1``, ... (traces then use x = those step numbers).
    """
    T = len(labels)
    text = [plotly_label(s) for s in labels]
    span = [first_step - 0.5, first_step + T - 0.5]
    stride = label_stride(labels, max_ticks)
    # automargin and ticklabeloverflow make Plotly measure every label, per label: ~0.3 s for 6 × 200 tokens
    plain = dict(range=span, tickfont=TOKEN_FONT, tickangle=0, ticks="", showgrid=False, zeroline=False,
                 automargin=False, ticklabeloverflow="allow")
    every = dict(plain, tickmode="array", tickvals=list(range(first_step, first_step + T)), ticktext=text)
    height = (1 - spacing * (rows - 1)) / rows
    layout: dict = {"annotations": []}
    for row in range(1, rows + 1):
        s = _suffix(row)
        top = 1 - (row - 1) * (height + spacing)
        layout[f"xaxis{s}"] = dict(every, anchor=f"y{s}", domain=[0, 1], showticklabels=row == rows and stride == 1,
                                   **({"matches": "x"} if row > 1 else {}))
        layout[f"yaxis{s}"] = dict(anchor=f"x{s}", domain=[max(0.0, top - height), top], automargin=False,
                                   ticklabeloverflow="allow")
        if titles:
            layout["annotations"].append(dict(text=titles[row - 1], x=0, xref="paper", xanchor="left", y=top,
                                              yref="paper", yanchor="bottom", showarrow=False, font=dict(size=13)))
    extra = []
    if stride > 1:
        shown = list(range(0, T, stride))  # positions in labels
        overlay, bottom = rows + 1, _suffix(rows)
        layout[f"xaxis{overlay}"] = dict(plain, overlaying=f"x{bottom}", matches="x", anchor=f"y{bottom}",
                                         side="bottom", tickmode="array", tickvals=[first_step + t for t in shown],
                                         ticktext=[text[t] for t in shown])
        extra.append(dict(type="scatter", x=[None], y=[None], xaxis=f"x{overlay}", yaxis=f"y{bottom}",
                          hoverinfo="skip", showlegend=False))
    return layout, extra


def state_heatmaps(trace, keys=("h",), layer: int = 0, direction: int = 0, units=None,
                   panel_height: int = 170, unit_names: dict[int, str] | None = None,
                   steps: tuple[int, int] | None = None, groups: list[str] | None = None,
                   lang: str = "en", handles: bool = False, selected: int | None = None) -> go.Figure:
    """Stacked heatmaps (units × time) of ``trace[key][layer, direction]`` for each key.

    ``units`` picks and orders the rows, first at the top (default: all, in index order); past 32 rows the unit
    labels give way to hover (a tick per row costs the browser more than the heatmap itself). ``unit_names``
    ({unit: label}, e.g. what the unit tracks) joins a unit's number in its row name and hover. ``steps`` (start,
    stop), stop excluded, shows a window of the steps, numbered as in the whole sequence. ``groups`` (one name per
    row of ``units``, e.g. the feature it tracks; consecutive rows share a group) names each group at its first row
    and rules a line between groups, so an ordering by feature shows on the axis. Gates use a
    sequential scale fixed to [0, 1]; h, g and n a diverging scale fixed to [−1, 1]; c a diverging scale
    symmetric about 0 up to its 99th percentile of |c|. Hover: token, step, unit and value. Words in ``lang``.

    ``handles``: a strip of squares left of each panel, one per row, each carrying its unit as ``customdata``, so that
    a page can select a unit by a click (Plotly heatmaps send no selection events; bars do). ``selected``: a unit
    whose row is outlined in every panel and whose square is filled dark.
    """
    keys = [k for k in keys if k in trace.keys()]
    if not keys:
        raise KeyError(f"none of the requested quantities is traced; available: {', '.join(trace.keys())}")
    L, D, T, H = trace.shape
    if not (0 <= layer < L and 0 <= direction < D):
        raise IndexError(f"layer {layer} / direction {direction} out of range for a trace of shape {trace.shape}")
    units = np.arange(H) if units is None else np.asarray(units, dtype=int)
    if units.size == 0 or units.min() < 0 or units.max() >= H:
        raise IndexError(f"units must be a non-empty selection of 0..{H - 1}")
    start, stop = steps or (0, T)
    if not 0 <= start < stop <= T:
        raise IndexError(f"steps {start}..{stop} must be a non-empty window of 0..{T}")
    n = len(keys)
    height = panel_height * n + 70
    spacing = 45 / height if n > 1 else 0.0  # room for the next panel's title, in pixels
    layout, extra = stacked_time_layout(trace.labels[start:stop], n, [quantity_name(k, lang) for k in keys], spacing,
                                        first_step=start)
    step = "%{pointNumber[1]}" if start == 0 else f"{start} + %{{pointNumber[1]}}"  # hover cannot add
    unit_names = unit_names or {}
    names = [f"#{u} · {unit_names[u]}" if unit_names.get(u) else f"#{u}" for u in units]
    if groups is not None and len(groups) != len(units):
        raise IndexError(f"{len(groups)} group names for {len(units)} units")
    firsts = [i for i in range(len(units)) if groups is not None and (i == 0 or groups[i] != groups[i - 1])]
    spans = list(zip(firsts, [*firsts[1:], len(units)][:len(firsts)], strict=True))  # rows of each group
    # a group is named on the axis when it is at least 10 px high
    px = panel_height / max(1, len(units))
    data, squares = [], []
    strip = HANDLE_WIDTH if handles else 0.0
    marked = [i for i, u in enumerate(units) if selected is not None and u == selected]
    for row, key in enumerate(keys, start=1):
        s = _suffix(row)
        if handles:
            layout[f"xaxis{s}"]["domain"] = [strip, 1]
            squares.append(_handles(units, names, row, marked, lang))
            layout[f"xaxis{HANDLE_AXIS + row}"] = dict(domain=[0, strip * 0.8], anchor=f"y{s}", visible=False,
                                                       range=[0, 1], fixedrange=True)
            layout[f"yaxis{s}"].update(anchor="free", position=0)
        for i in marked:
            layout.setdefault("shapes", []).append(
                dict(type="rect", xref=f"x{s}", x0=start - 0.5, x1=stop - 0.5, yref=f"y{s}", y0=i - 0.5, y1=i + 0.5,
                     line=dict(color="#111827", width=1.5), fillcolor="rgba(0,0,0,0)"))
        z = check(key, trace[key], 4)[layer, direction][start:stop, units].T  # [unit, time]
        zmin, zmax, scale = color_range(key, z)
        lo, hi = layout[f"yaxis{s}"]["domain"]
        data.append(dict(
            type="heatmap", z=finite32(z), x=np.arange(start, stop), y=names, zmin=zmin, zmax=zmax, colorscale=scale,
            name=key, xaxis=f"x{s}", yaxis=f"y{s}",
            hovertemplate=tr(lang, "token {x} · step {step}<br>unit {unit}<br>{key} = {value}", x="%{x}",
                             step=step, unit="%{y}", key=key, value="%{z:.3f}") + "<extra></extra>",
            colorbar=dict(len=hi - lo, lenmode="fraction", y=(lo + hi) / 2, yanchor="middle", thickness=12,
                          x=1.005, xpad=6, tickfont=dict(size=10)),
        ))
        labelled = len(units) <= 32  # "#12" says unit; above that hover does, and the axis just says so
        ticks = {} if labelled else dict(tickmode="array", tickvals=[])
        if groups is not None and not labelled:
            ticks = dict(tickmode="array", tickvals=[names[(a + b - 1) // 2] for a, b in spans if (b - a) * px >= 10],
                         ticktext=[groups[a] for a, b in spans if (b - a) * px >= 10])
            layout.setdefault("shapes", []).extend(
                dict(type="line", xref=f"x{s} domain", x0=0, x1=1, yref=f"y{s}", y0=i - 0.5, y1=i - 0.5,
                     line=dict(color="#111827", width=1)) for i in firsts[1:])
        layout[f"yaxis{s}"].update(type="category", autorange="reversed", ticks="", showgrid=False,
                                   tickfont=dict(size=9),
                                   title=dict(text="" if labelled or groups else tr(lang, "unit"), standoff=4),
                                   **ticks)
    left = 60 if groups is None or labelled else 20 + 6 * max(_width(g) for g in groups)  # CJK: two cells
    layout.update(height=height, margin=dict(l=left, r=30, t=30, b=40))
    if handles:
        layout.update(clickmode="event+select", dragmode=False)
    return go.Figure(data=data + squares + extra, layout=layout)


HANDLE_WIDTH = 0.018  # of the plot's width: the strip of unit squares left of each panel
HANDLE_AXIS = 40  # the strips' x axes are x41, x42, ... (the panels use x, x2, ... and one overlay axis)


def _handles(units, names: list[str], row: int, marked: list[int], lang: str) -> dict:
    """One panel's strip of unit squares: a horizontal bar per row, filling the row's band on the panel's own unit
    axis (so a click lands on exactly one unit, however thin the rows), its unit in customdata."""
    s = _suffix(row)
    color = np.full(len(units), "#9ca3af", dtype=object)
    color[marked] = "#111827"
    return dict(type="bar", orientation="h", x=np.ones(len(units), dtype=np.int8), y=names, width=1.0,
                customdata=np.asarray(units, dtype=np.int32), xaxis=f"x{HANDLE_AXIS + row}", yaxis=f"y{s}",
                marker=dict(color=list(color), line=dict(width=0)),
                selected=dict(marker=dict(opacity=1)), unselected=dict(marker=dict(opacity=1)), showlegend=False,
                hovertemplate=tr(lang, "unit {unit}: click to select it", unit="%{y}") + "<extra></extra>")
