"""Builders for the backward worked example (/step, Backward): LaTeX with the step's numbers, and the ‖δ_t‖ chart.

Arrays in (a :class:`rnnviz.bptt.Backprop`), strings and figures out; no streamlit. Time ``t`` is an index into
the sequence (0 is step 1); formulas write the textbook's row vectors, x_t W, as the forward view does.
"""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from ..i18n import tr
from ..vocab import token_label
from .text import _aligned, vec

D = r"\delta"


def _next(b, t: int, d: int, lang: str = "en") -> str:
    """δ_t^next: what reaches h_t from step t+1, written for the cell."""
    if t == b.T - 1:
        why = tr(lang, "nothing comes back from after the last step")
        return rf"{D}^{{next}}_t &= 0 \quad \text{{({why})}}"
    if b.cell == "rnn":
        return (rf"{D}^{{next}}_t &= {D}_{{a,t+1}} W_{{hh}}^\top = {vec(b['delta_a'][t + 1], d)} W_{{hh}}^\top"
                rf" = {vec(b['delta_next'][t], d)}")
    if b.cell == "lstm":
        return (rf"{D}^{{next}}_t &= [{D} i\;\ {D} f\;\ {D} g\;\ {D} o]_{{t+1}}\, W_h^\top"
                rf" = {vec(b['delta_next'][t], d)}")
    return (rf"{D}^{{next}}_t &= {D}_{{t+1}} \odot z_{{t+1}} + [{D} r\;\ {D} z\;\ ({D} n \odot r)]_{{t+1}}\, W_h^\top"
            rf" = {vec(b['delta_next'][t], d)}")


def error_latex(b, t: int, d: int = 2, lang: str = "en") -> str:
    """∂L/∂y_t, δ_t^out, δ_t^next and δ_t = their sum, with the numbers of step ``t``."""
    if b.scored[t]:
        onehot = np.eye(b["probs"].shape[1])[b.targets[t]]
        first = (rf"\frac{{\partial L}}{{\partial y_t}} &= \hat y_t - y_t = {vec(b['probs'][t], d)} - "
                 rf"{vec(onehot, 0)} = {vec(b['dy'][t], d)}")
    else:
        why = tr(lang, "this step is not scored")
        first = rf"\frac{{\partial L}}{{\partial y_t}} &= 0 \quad \text{{({why})}}"
    return _aligned([
        first,
        rf"{D}^{{out}}_t &= \frac{{\partial L}}{{\partial y_t}} W_{{hy}}^\top = {vec(b['delta_out'][t], d)}",
        _next(b, t, d, lang),
        rf"{D}_t &= {D}^{{out}}_t + {D}^{{next}}_t = {vec(b['delta_out'][t], d)} + {vec(b['delta_next'][t], d)}"
        rf" = {vec(b['delta'][t], d)}",
    ])


def _times(b, t: int, names: list[str], d: int) -> str:
    return r" \odot ".join(vec(b[n][t], d) for n in names)


def cell_latex(b, t: int, d: int = 2) -> str:
    """Into the cell: δ at each pre-activation (and the LSTM's cell state) with the numbers of step ``t``."""
    if b.cell == "rnn":
        slope = r"(1 - h_t^2)" if b.nonlinearity == "tanh" else r"[a_t > 0]"
        act = r"\tanh'" if b.nonlinearity == "tanh" else r"\mathrm{relu}'"
        return _aligned([rf"{D}_{{a,t}} &= {D}_t \odot {act}(a_t) = {D}_t \odot {slope} = "
                         rf"{_times(b, t, ['delta', 'slope'], d)} = {vec(b['delta_a'][t], d)}"])
    if b.cell == "lstm":
        c_next = vec(b["delta_c_next"][t], d)
        return _aligned([
            rf"{D} o_t &= {D}_t \odot \tanh(c_t) \odot \sigma'(o) = {vec(b['delta'][t], d)} \odot "
            rf"{vec(np.tanh(b['c'][t]), d)} \odot {vec(b['slope_o'][t], d)} = {vec(b['delta_o'][t], d)}",
            rf"{D} c_t &= {D}_t \odot o_t \odot \tanh'(c_t) + {D} c_{{t+1}} \odot f_{{t+1}}",
            rf"&= {_times(b, t, ['delta', 'o', 'slope_c'], d)} + {c_next} = {vec(b['delta_c'][t], d)}",
            rf"{D} i_t &= {D} c_t \odot g_t \odot \sigma'(i) = {_times(b, t, ['delta_c', 'g', 'slope_i'], d)}"
            rf" = {vec(b['delta_i'][t], d)}",
            rf"{D} f_t &= {D} c_t \odot c_{{t-1}} \odot \sigma'(f) = "
            rf"{_times(b, t, ['delta_c', 'c_prev', 'slope_f'], d)} = {vec(b['delta_f'][t], d)}",
            rf"{D} g_t &= {D} c_t \odot i_t \odot \tanh'(g) = {_times(b, t, ['delta_c', 'i', 'slope_g'], d)}"
            rf" = {vec(b['delta_g'][t], d)}",
        ])
    return _aligned([
        rf"{D} n_t &= {D}_t \odot (1 - z_t) \odot \tanh'(n) = {vec(b['delta'][t], d)} \odot "
        rf"{vec(1 - b['z'][t], d)} \odot {vec(b['slope_n'][t], d)} = {vec(b['delta_n'][t], d)}",
        rf"{D} z_t &= {D}_t \odot (h_{{t-1}} - n_t) \odot \sigma'(z) = {vec(b['delta'][t], d)} \odot "
        rf"{vec(b['h_prev'][t] - b['n'][t], d)} \odot {vec(b['slope_z'][t], d)} = {vec(b['delta_z'][t], d)}",
        rf"{D} r_t &= {D} n_t \odot (h_{{t-1}} W_{{hn}} + b_{{hn}}) \odot \sigma'(r) = "
        rf"{_times(b, t, ['delta_n', 'hn', 'slope_r'], d)} = {vec(b['delta_r'][t], d)}",
    ])


GRADIENT_LATEX = {  # each weight's contribution at step t, textbook layout (PyTorch's .grad is the transpose)
    "rnn": r"\frac{\partial L}{\partial W_{hy}} \mathrel{+}= h_t^\top \frac{\partial L}{\partial y_t},\quad "
           r"\frac{\partial L}{\partial W_{hh}} \mathrel{+}= h_{t-1}^\top \delta_{a,t},\quad "
           r"\frac{\partial L}{\partial W_{xh}} \mathrel{+}= x_t^\top \delta_{a,t},\quad "
           r"\frac{\partial L}{\partial b_h} \mathrel{+}= \delta_{a,t}",
    "lstm": r"\frac{\partial L}{\partial W_{hy}} \mathrel{+}= h_t^\top \frac{\partial L}{\partial y_t},\quad "
            r"\frac{\partial L}{\partial W_h} \mathrel{+}= h_{t-1}^\top [\delta i\;\ \delta f\;\ \delta g\;\ "
            r"\delta o]_t,\quad \frac{\partial L}{\partial W_x} \mathrel{+}= x_t^\top [\delta i\;\ \delta f\;\ "
            r"\delta g\;\ \delta o]_t",
    "gru": r"\frac{\partial L}{\partial W_{hy}} \mathrel{+}= h_t^\top \frac{\partial L}{\partial y_t},\quad "
           r"\frac{\partial L}{\partial W_h} \mathrel{+}= h_{t-1}^\top [\delta r\;\ \delta z\;\ "
           r"(\delta n \odot r)]_t,\quad \frac{\partial L}{\partial W_x} \mathrel{+}= x_t^\top [\delta r\;\ "
           r"\delta z\;\ \delta n]_t",
}


def delta_figure(b, current: int | None = None, lang: str = "en", height: int = 300) -> go.Figure:
    """‖δ_t‖ against step t (log axis), with the vanilla RNN's bound on the part of δ_t that came from the last
    step's loss; the LSTM adds ‖δc_t‖. ``current`` (a time index) is ringed."""
    steps = np.arange(1, b.T + 1)

    def positive(a):
        a = np.asarray(a, dtype=np.float64)
        return np.where(np.isfinite(a) & (a > 0), a, np.nan)

    fig = go.Figure()
    fig.add_scatter(x=steps, y=positive(b.delta_norm), mode="lines+markers", name=tr(lang, "‖δ_t‖"),
                    line=dict(color="#dc2626", width=2.5),
                    hovertemplate=tr(lang, "step %{x}: ‖δ_t‖ = %{y:.3g}") + "<extra></extra>")
    if b.loss_kind == "every":
        fig.add_scatter(x=steps, y=positive(np.linalg.norm(b.delta_last, axis=1)), mode="lines+markers",
                        name=tr(lang, "from the last step's loss"), line=dict(color="#f97316", dash="dash"),
                        hovertemplate=tr(lang, "step %{x}: %{y:.3g} from the last step's loss") + "<extra></extra>")
    if b.cell == "lstm":
        fig.add_scatter(x=steps, y=positive(np.linalg.norm(b["delta_c"], axis=1)), mode="lines+markers",
                        name=tr(lang, "‖δc_t‖"), line=dict(color="#2563eb", dash="dash"),
                        hovertemplate=tr(lang, "step %{x}: ‖δc_t‖ = %{y:.3g}") + "<extra></extra>")
    if b.cell == "rnn":
        fig.add_scatter(x=steps, y=positive(b.bound()), mode="lines", name=tr(lang, "bound"),
                        line=dict(color="#111827", dash="dot"),
                        hovertemplate=tr(lang, "step %{x}: bound %{y:.3g}") + "<extra></extra>")
    if current is not None:
        fig.add_scatter(x=[current + 1], y=positive([b.delta_norm[current]]), mode="markers", showlegend=False,
                        marker=dict(size=16, color="rgba(0,0,0,0)", line=dict(color="#111827", width=2)),
                        hoverinfo="skip")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=36, b=10), hovermode="closest",
                      title=tr(lang, "How large δ_t is, step by step"), legend=dict(orientation="h", y=-0.3))
    fig.update_xaxes(title=tr(lang, "step t"), tickmode="array", tickvals=steps,
                     ticktext=[f"{k}: {html.escape(token_label(tok))}" for k, tok in zip(steps, b.tokens, strict=True)])
    fig.update_yaxes(title=tr(lang, "norm (log scale)"), type="log", exponentformat="power")
    return fig
