"""HTML and LaTeX builders for the step-through and generation pages: arrays in, strings out, no streamlit.

Every token, label and title is HTML-escaped; LaTeX strings hold numbers and fixed symbols only, never user text.
"""

from __future__ import annotations

import html

import numpy as np

from ..i18n import tr
from ..vocab import token_label

# LaTeX -------------------------------------------------------------------------------------------------------------


def num(x: float, decimals: int = 2) -> str:
    """A number for a formula: fixed decimals, a true minus sign, no ``-0.00``."""
    if not np.isfinite(x):
        return r"\text{nan}"
    s = f"{x:.{decimals}f}"
    if float(s) == 0:
        s = s.lstrip("-")
    return s.replace("-", "-\\!") if s.startswith("-") else s


def vec(v: np.ndarray, decimals: int = 2) -> str:
    """A row vector as a LaTeX bmatrix."""
    return r"\begin{bmatrix}" + " & ".join(num(x, decimals) for x in np.ravel(v)) + r"\end{bmatrix}"


def _aligned(lines: list[str]) -> str:
    return r"\begin{aligned}" + r" \\[2pt] ".join(lines) + r"\end{aligned}"


def rnn_latex(v: dict, d: int = 2, nonlinearity: str = "tanh") -> str:
    """h_t = tanh(x_t W_xh + h_{t−1} W_hh + b_h) with the step's numbers, line by line, as textbooks write it."""
    act = r"\tanh" if nonlinearity == "tanh" else r"\mathrm{relu}"
    b = v["b_ih"] + v["b_hh"]
    return _aligned([
        rf"h_t &= {act}\left(x_t W_{{xh}} + h_{{t-1}} W_{{hh}} + b_h\right)",
        rf"&= {act}\left({vec(v['xW'], d)} + {vec(v['hW'], d)} + {vec(b, d)}\right)",
        rf"&= {act}\left({vec(v['a'], d)}\right) = {vec(v['h'], d)}",
    ])


def rnn_torch_latex(v: dict, d: int = 2, nonlinearity: str = "tanh") -> str:
    """The same step in PyTorch's column-vector form, with the two bias vectors apart."""
    act = r"\tanh" if nonlinearity == "tanh" else r"\mathrm{relu}"
    return _aligned([
        rf"h_t &= {act}\left(W_{{ih}}\, x_t + b_{{ih}} + W_{{hh}}\, h_{{t-1}} + b_{{hh}}\right)",
        rf"&= {act}\left({vec(v['xW'], d)}^\top + {vec(v['b_ih'], d)}^\top + {vec(v['hW'], d)}^\top"
        rf" + {vec(v['b_hh'], d)}^\top\right)",
        rf"&= {vec(v['h'], d)}^\top",
    ])


TEXTBOOK_EQUATIONS = {
    "lstm": [r"i_t &= \sigma\left(x_t W_{xi} + h_{t-1} W_{hi} + b_i\right)",
             r"f_t &= \sigma\left(x_t W_{xf} + h_{t-1} W_{hf} + b_f\right)",
             r"g_t &= \tanh\left(x_t W_{xg} + h_{t-1} W_{hg} + b_g\right)",
             r"o_t &= \sigma\left(x_t W_{xo} + h_{t-1} W_{ho} + b_o\right)",
             r"c_t &= f_t \odot c_{t-1} + i_t \odot g_t",
             r"h_t &= o_t \odot \tanh(c_t)"],
    "gru": [r"r_t &= \sigma\left(x_t W_{xr} + b_{ir} + h_{t-1} W_{hr} + b_{hr}\right)",
            r"z_t &= \sigma\left(x_t W_{xz} + b_{iz} + h_{t-1} W_{hz} + b_{hz}\right)",
            r"n_t &= \tanh\left(x_t W_{xn} + b_{in} + r_t \odot (h_{t-1} W_{hn} + b_{hn})\right)",
            r"h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}"],
}
TORCH_EQUATIONS = {  # as in the torch.nn.LSTM / GRU documentation: column vectors, W_ih rows stacked by gate
    "lstm": [r"i_t &= \sigma\left(W_{ii}\, x_t + b_{ii} + W_{hi}\, h_{t-1} + b_{hi}\right)",
             r"f_t &= \sigma\left(W_{if}\, x_t + b_{if} + W_{hf}\, h_{t-1} + b_{hf}\right)",
             r"g_t &= \tanh\left(W_{ig}\, x_t + b_{ig} + W_{hg}\, h_{t-1} + b_{hg}\right)",
             r"o_t &= \sigma\left(W_{io}\, x_t + b_{io} + W_{ho}\, h_{t-1} + b_{ho}\right)",
             r"\texttt{weight\_ih\_l0} &= [W_{ii} | W_{if} | W_{ig} | W_{io}] \text{ stacked as rows} = W_x^\top",
             r"b_{ii} + b_{hi} &= b_i \quad (\text{two biases, one sum})"],
    "gru": [r"r_t &= \sigma\left(W_{ir}\, x_t + b_{ir} + W_{hr}\, h_{t-1} + b_{hr}\right)",
            r"z_t &= \sigma\left(W_{iz}\, x_t + b_{iz} + W_{hz}\, h_{t-1} + b_{hz}\right)",
            r"n_t &= \tanh\left(W_{in}\, x_t + b_{in} + r_t \odot (W_{hn}\, h_{t-1} + b_{hn})\right)",
            r"\texttt{weight\_ih\_l0} &= [W_{ir} | W_{iz} | W_{in}] \text{ stacked as rows} = W_x^\top"],
}


def equations_latex(cell: str, torch: bool = False) -> str:
    """The cell's equations without numbers, in textbook (row-vector) or PyTorch (column-vector) notation."""
    return _aligned((TORCH_EQUATIONS if torch else TEXTBOOK_EQUATIONS)[cell])


def state_latex(v: dict, cell: str, d: int = 2) -> str:
    """The state update of an LSTM (c_t, h_t) or GRU (h_t) with the step's numbers."""
    if cell == "lstm":
        return _aligned([
            rf"c_t &= f_t \odot c_{{t-1}} + i_t \odot g_t = {vec(v['f'], d)} \odot {vec(v['c_prev'], d)}"
            rf" + {vec(v['i'], d)} \odot {vec(v['g'], d)} = {vec(v['c'], d)}",
            rf"h_t &= o_t \odot \tanh(c_t) = {vec(v['o'], d)} \odot {vec(v['tanh_c'], d)} = {vec(v['h'], d)}",
        ])
    return _aligned([
        rf"h_t &= (1 - z_t) \odot n_t + z_t \odot h_{{t-1}} = {vec(1 - v['z'], d)} \odot {vec(v['n'], d)}"
        rf" + {vec(v['z'], d)} \odot {vec(v['h_prev'], d)} = {vec(v['h'], d)}",
    ])


def output_latex(v: dict, d: int = 2) -> str:
    """y_t = softmax(h_t W_hy + b_y) with the step's numbers."""
    return _aligned([
        r"y_t &= \mathrm{softmax}\left(h_t W_{hy} + b_y\right)",
        rf"&= \mathrm{{softmax}}\left({vec(v['hWy'], d)} + {vec(v['b_y'], d)}\right)",
        rf"&= \mathrm{{softmax}}\left({vec(v['logits'], d)}\right) = {vec(v['probs'], d)}",
    ])


# HTML tables ------------------------------------------------------------------------------------------------------

_TABLE_CSS = """
.rnnviz-mat { border-collapse: collapse; font-family: ui-monospace, SFMono-Regular, Menlo, monospace;
  font-size: 13px; margin: 2px 0 10px 0; }
.rnnviz-mat caption { caption-side: top; text-align: left; font-family: inherit; font-size: 13px; color: #4b5563;
  padding-bottom: 3px; white-space: nowrap; }
.rnnviz-mat th { font-weight: 500; color: #6b7280; padding: 2px 7px; text-align: center; }
.rnnviz-mat th.r { text-align: right; }
.rnnviz-mat td { padding: 2px 7px; text-align: right; border: 1px solid #e5e7eb; min-width: 3.2em; }
.rnnviz-mat tr.hl td { outline: 2px solid #111827; outline-offset: -2px; font-weight: 600; }
.rnnviz-mat td.hl { outline: 2px solid #111827; outline-offset: -2px; font-weight: 600; }
.rnnviz-scroll { overflow-x: auto; max-width: 100%; }
.rnnviz-gates th.op { color: #111827; font-weight: 600; padding: 2px 6px; }
.rnnviz-gates th.r { white-space: nowrap; font-size: 14px; color: #111827; }
.rnnviz-gates .nm { font-size: 12px; color: #6b7280; font-weight: 400; }
.rnnviz-gates td.none { border: none; }
"""


def _shade(x: float, scale: float) -> str:
    if not np.isfinite(x) or scale <= 0:
        return ""
    a = min(abs(x) / scale, 1.0) * 0.45
    rgb = "220, 38, 38" if x > 0 else "37, 99, 235"
    return f"background: rgba({rgb}, {a:.3f})"


def _fixed(x: float, decimals: int) -> str:
    """``x`` with fixed decimals, without a ``-0.000`` for a tiny negative number."""
    s = f"{x:.{decimals}f}"
    return s.lstrip("-") if np.isfinite(x) and float(s) == 0 else s


def matrix_html(m: np.ndarray, rows: list[str] | None = None, cols: list[str] | None = None, caption: str = "",
                highlight_rows=(), highlight_cols=(), decimals: int = 2, css: bool = True) -> str:
    """A small matrix (or a vector, as one row) as an HTML table, cells shaded by sign and size.

    Red is positive, blue negative, stronger for larger magnitude; highlighted rows or cells are outlined.
    """
    m = np.atleast_2d(np.asarray(m, dtype=np.float64))
    if rows is not None and len(rows) != m.shape[0]:
        raise ValueError(f"{len(rows)} row labels for {m.shape[0]} rows")
    if cols is not None and len(cols) != m.shape[1]:
        raise ValueError(f"{len(cols)} column labels for {m.shape[1]} columns")
    finite = np.abs(m[np.isfinite(m)])
    scale = float(finite.max()) if finite.size else 0.0
    esc = html.escape
    head = ""
    if cols is not None:
        head = "<tr>" + ("<th></th>" if rows is not None else "") + "".join(f"<th>{esc(c)}</th>" for c in cols) + \
            "</tr>"
    body = []
    hr, hc = set(highlight_rows), set(highlight_cols)
    for i, row in enumerate(m):
        label = f'<th class="r">{esc(rows[i])}</th>' if rows is not None else ""
        cells = "".join(f'<td style="{_shade(x, scale)}"{" class=hl" if j in hc else ""}>'
                        f"{esc(_fixed(x, decimals))}</td>" for j, x in enumerate(row))
        body.append(f'<tr{" class=hl" if i in hr else ""}>{label}{cells}</tr>')
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    style = f"<style>{_TABLE_CSS}</style>" if css else ""
    return f'{style}<div class="rnnviz-scroll"><table class="rnnviz-mat">{cap}{head}{"".join(body)}</table></div>'


def gate_table_html(rows: list[dict], headers: list[str], decimals: int = 2, lang: str = "en") -> str:
    """The gates of one LSTM or GRU step (from ``stepthrough.gate_rows``): each gate on its own row, with the
    vectors added inside its activation (under ``headers``), their sum, and the result (column titles in ``lang``)."""
    esc = html.escape
    scale = max(float(np.abs(np.concatenate([r["pre"], *r["parts"].values()])).max()) for r in rows) or 1.0

    def cells(v):
        return "".join(f'<td style="{_shade(x, scale)}">{esc(f"{x:.{decimals}f}")}</td>' for x in v)

    H = rows[0]["value"].size
    n_parts = max(len(r["parts"]) for r in rows)
    if len(headers) != n_parts:
        raise ValueError(f"{len(headers)} headers for {n_parts} parts")
    total, value = esc(tr(lang, "sum")), esc(tr(lang, "value"))
    head = "<tr><th></th>" + "".join(f'<th colspan="{H}">{esc(h)}</th><th></th>' for h in headers) + \
        f'<th colspan="{H}">{total}</th><th></th><th colspan="{H}">{value}</th></tr>'
    body = []
    for r in rows:
        parts = list(r["parts"].items())
        tds = []
        for k in range(n_parts):
            if k < len(parts):
                label, v = parts[k]
                tds.append(cells(v) + f'<th class="op">{"+" if k < len(parts) - 1 else "="}</th>')
            else:
                tds.append(f'<td colspan="{H}" class="none"></td><th></th>')
        names = " + ".join(label for label, _ in parts)
        body.append(f'<tr><th class="r" title="{esc(names, quote=True)}">{esc(r["gate"])}<sub>t</sub> '
                    f'<span class="nm">{esc(r["name"])}</span></th>{"".join(tds)}{cells(r["pre"])}'
                    f'<th class="op">{esc(r["act"])} →</th>{cells(r["value"])}</tr>')
    return (f'<style>{_TABLE_CSS}</style><div class="rnnviz-scroll"><table class="rnnviz-mat rnnviz-gates">'
            f'{head}{"".join(body)}</table></div>')


def labels(tokens) -> list[str]:
    """Visible labels for vocabulary tokens (␣ for a space, U+XXXX for controls)."""
    return [token_label(t) for t in tokens]


def gate_labels(gates: tuple[str, ...], hidden: int) -> list[str]:
    """Column names of a stacked gate matrix: i0 i1 … f0 … (or h0 h1 … for a vanilla RNN)."""
    return [f"{g}{u}" for g in (gates or ("h",)) for u in range(hidden)]


_CHIPS_CSS = """
.rnnviz-chips { display: flex; flex-wrap: wrap; gap: 6px; margin: 0 0 0 12px; }
.rnnviz-chips .chip { display: flex; flex-direction: column; align-items: center; min-width: 44px;
  padding: 4px 8px; border: 1px solid #d1d5db; border-radius: 8px; background: #f9fafb; }
.rnnviz-chips .chip.now { border: 2px solid #dc2626; background: #fef2f2; }
.rnnviz-chips .chip.done { background: #ffffff; }
.rnnviz-chips .chip.later { opacity: 0.45; }
.rnnviz-chips .tok { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 20px; font-weight: 600; }
.rnnviz-chips .tok.unk { color: #b91c1c; }
.rnnviz-chips .t { font-size: 11px; color: #6b7280; }
.rnnviz-chips .pred { font-size: 12px; color: #374151; white-space: nowrap; }
"""


def sequence_html(tokens: list[str], current: int, predictions: list[str] | None = None,
                  unknown: list[bool] | None = None, backward: bool = False, lang: str = "en") -> str:
    """The typed sequence as chips, the current step outlined; under each, the prediction made after it. Hover
    titles in ``lang``.

    ``backward``: a walk from the last step to the first, so the steps after ``current`` are the ones done.
    """
    unknown = unknown or [False] * len(tokens)
    chips = []
    for t, tok in enumerate(tokens):
        done = t > current if backward else t < current
        state = "now" if t == current else ("done" if done else "later")
        shown = token_label(tok)
        title = tr(lang, "step {step}: {token}", step=t + 1, token=shown)
        if unknown[t]:
            title += " " + tr(lang, "(not in the vocabulary: read as <unk>)")
        pred = ""
        if predictions is not None and (backward or t <= current):
            pred = f'<span class="pred">→ {html.escape(predictions[t])}</span>'
        chips.append(f'<div class="chip {state}" title="{html.escape(title, quote=True)}">'
                     f'<span class="t">t = {t + 1}</span>'
                     f'<span class="tok{" unk" if unknown[t] else ""}">{html.escape(shown)}</span>{pred}</div>')
    return f'<style>{_CHIPS_CSS}</style><div class="rnnviz-chips">{"".join(chips)}</div>'


# Generated text ---------------------------------------------------------------------------------------------------

LOW, HIGH = (249, 115, 22), (37, 99, 235)  # orange for unlikely, blue for likely: readable with colour blindness

_GEN_CSS = """
.rnnviz-gen { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 15px; line-height: 1.85;
  white-space: pre-wrap; overflow-wrap: anywhere; padding: 10px 12px; border: 1px solid #e5e7eb;
  border-radius: 8px; background: #ffffff; color: #111827; }
.rnnviz-gen .tk { position: relative; border-radius: 2px; }
.rnnviz-gen .tk:hover { outline: 2px solid #111827; }
.rnnviz-gen .tk:hover::after { content: attr(data-tip); position: absolute; left: 0; top: 1.6em; z-index: 20;
  white-space: pre; background: #111827; color: #f9fafb; font-size: 12px; line-height: 1.4; padding: 6px 9px;
  border-radius: 6px; pointer-events: none; box-shadow: 0 2px 8px rgba(0,0,0,.25); }
.rnnviz-gen .prime { color: #6b7280; font-style: italic; }
.rnnviz-gen .unk { color: #b91c1c; outline: 1px dashed #b91c1c; font-size: 12px; }
.rnnviz-gen .ctl { color: #9ca3af; font-size: 11px; }
.rnnviz-gen-legend { display: flex; align-items: center; gap: 8px; font-size: 13px; color: #4b5563;
  margin: 2px 0 6px 0; flex-wrap: wrap; }
.rnnviz-gen-legend .bar { width: 160px; height: 12px; border-radius: 3px; border: 1px solid #e5e7eb; }
"""


def prob_color(p: float) -> str:
    """Background for a token of probability ``p``: orange when unlikely, white around 0.5, blue when likely."""
    if not np.isfinite(p):
        return "transparent"
    p = float(np.clip(p, 0, 1))
    rgb, a = (LOW, (0.5 - p) * 1.2) if p < 0.5 else (HIGH, (p - 0.5) * 1.0)
    return f"rgba({rgb[0]}, {rgb[1]}, {rgb[2]}, {max(a, 0):.3f})"


def _shown(token: str, unknown: bool) -> tuple[str, str]:
    """(HTML text, extra class) for one token: newlines keep the layout, other controls get a visible name."""
    if unknown:
        return html.escape("<unk>"), " unk"
    if token == "\n":
        return '<span class="ctl">⏎</span>\n', ""
    if token in (" ", "\t"):
        return token, ""
    label = token_label(token)
    if label != token:
        return f'<span class="ctl">{html.escape(label)}</span>', ""
    return html.escape(token), ""


def token_tip(gen, t: int, lang: str = "en") -> str:
    """The hover text of position ``t``: the token, its probability, the top-5 the model expected there (in
    ``lang``)."""
    typed, tok = gen.typed[t], gen.tokens[t]
    if gen.unknown[t]:
        lines = [tr(lang, "position {n} (prime): {token} is not in the vocabulary, read as <unk>", n=t + 1,
                    token=token_label(typed))]
    elif t < gen.prime_len:
        lines = [tr(lang, "position {n} (prime): {token}", n=t + 1, token=token_label(tok))]
    else:
        lines = [tr(lang, "position {n} (written): {token}", n=t + 1, token=token_label(tok))]
    if t == 0:
        lines.append(tr(lang, "first token: nothing predicted it"))
        return "\n".join(lines)
    lines.append(tr(lang, "p = {p} under the model", p=f"{gen.prob[t]:.3f}"))
    if t >= gen.prime_len:
        lines.append(tr(lang, "greedy: the most likely token") if gen.greedy else
                     tr(lang, "q = {q} sampled at T = {temperature}", q=f"{gen.sample_prob[t]:.3f}",
                        temperature=f"{gen.temperature:g}"))
    lines.append(tr(lang, "top 5 here:"))
    for cand, p in gen.top(t):
        mark = "  ←" if cand == tok else ""
        lines.append(f"  {token_label(cand):<6} {p:.3f}{mark}")
    return "\n".join(lines)


def generation_html(gen, show_prime: bool = True, lang: str = "en") -> str:
    """The prime and the generated text, each token on a background by its probability under the model, with a
    hover box (``data-tip``, in ``lang``) listing the model's top-5 at that position. Everything is HTML-escaped."""
    sep = "" if gen.level == "char" else " "
    spans = []
    start = 0 if show_prime else gen.prime_len
    for t in range(start, len(gen.tokens)):
        text, extra = _shown(gen.tokens[t], gen.unknown[t])
        kind = " prime" if t < gen.prime_len else ""
        tip = html.escape(token_tip(gen, t, lang), quote=True)
        spans.append(f'<span class="tk{kind}{extra}" style="background:{prob_color(gen.prob[t])}" '
                     f'data-t="{t}" data-tip="{tip}">{text}</span>')
    return f'<style>{_GEN_CSS}</style><div class="rnnviz-gen">{sep.join(spans)}</div>'


def probability_legend(lang: str = "en") -> str:
    """The colour bar of :func:`generation_html` with what its marks mean, in ``lang``."""
    p_label, prime = html.escape(tr(lang, "p under the model:")), html.escape(tr(lang, "the prime in grey italics"))
    unknown, hover = (html.escape(tr(lang, "a character the model does not know")),
                      html.escape(tr(lang, "hover a character for the top 5")))
    stops = ", ".join(f"{prob_color(p)} {p * 100:.0f}%" for p in np.linspace(0, 1, 11))
    return (f'<style>{_GEN_CSS}</style><div class="rnnviz-gen-legend"><span>{p_label} 0</span>'
            f'<span class="bar" style="background: linear-gradient(to right, {stops})"></span><span>1</span>'
            f'<span>· <i style="color:#6b7280">{prime}</i> · <span style="color:#b91c1c">&lt;unk&gt;</span> = '
            f'{unknown} · {hover}</span></div>')
