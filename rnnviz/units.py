"""What the units of a traced model do: orderings, a unit finder, gate saturation, memory, predictions, export.

Pure numpy over a :class:`~rnnviz.trace.Trace` (arrays ``[layer, direction, time, unit]``); no plotting here.

- ``unit_order``: units by index, by variance of h_t over time, or by mean keep gate (LSTM f_t, GRU z_t).
- ``find_units``: after LSTMVis (Strobelt et al. 2018): units above a threshold on a span of steps, below elsewhere.
- ``gate_saturation``: per gate unit, the fraction of steps below 0.1 (left) and above 0.9 (right), as in
  Karpathy, Johnson & Fei-Fei 2015, figure 3.
- ``memory_split``: the two terms of the state update, kept against written:
  LSTM c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t;  GRU h_t = z_t ⊙ h_{t−1} + (1 − z_t) ⊙ n_t.
- ``memory_horizon``: −1 / ln(mean keep gate), the number of steps over which a unit's memory decays by e.
- ``colored_text_html``: one unit's values painted over the text, every token HTML-escaped.
- ``trace_npz`` / ``trace_csv``: the whole trace as files.
"""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .i18n import N_, tr
from .model import LEAKY
from .trace import Trace
from .vocab import token_label

KEEP_GATE = {"lstm": "f", "gru": "z"}  # the gate that multiplies the previous state
SORTS = {"index": N_("unit number"), "variance": N_("variance of h_t"), "keep": N_("mean forget gate")}  # N_: tr
SATURATION = (0.1, 0.9)


def sort_options(cell: str) -> dict[str, str]:
    """The orderings that exist for ``cell``, key → label marked with N_ (GRU's keep gate is its update gate z)."""
    options = dict(SORTS)
    if cell not in KEEP_GATE:
        del options["keep"]
    elif cell == "gru":
        options["keep"] = N_("mean update gate")
    return options


def unit_order(tr: Trace, layer: int = 0, direction: int = 0, by: str = "index") -> np.ndarray:
    """Unit indices of one layer and direction; "variance" and "keep" put the largest first (stable on ties)."""
    H = tr.shape[3]
    if by == "index":
        return np.arange(H)
    if by == "variance":
        score = np.nan_to_num(tr["h"][layer, direction].astype(np.float64).var(axis=0), nan=-1.0)
    elif by == "keep" and tr.cell in KEEP_GATE:
        score = np.nan_to_num(tr[KEEP_GATE[tr.cell]][layer, direction].astype(np.float64).mean(axis=0), nan=-1.0)
    else:
        options = ", ".join(sort_options(tr.cell))
        raise ValueError(f"cannot order the units of a {tr.cell} by {by!r}; choose one of {options}")
    return np.argsort(-score, kind="stable")


_RANGE = re.compile(r"\s*([0-9]+)\s*(?:[-–]\s*([0-9]+)\s*)?")


def parse_units(spec: str, hidden: int) -> np.ndarray | None:
    """Units named in ``spec`` ("3, 10-15"), in the order given, without repeats; None when spec is blank."""
    if not spec or not spec.strip():
        return None
    units: list[int] = []
    for part in spec.split(","):
        if not part.strip():
            continue
        m = _RANGE.fullmatch(part)
        if not m:
            raise InputError("{part} is not a unit or a range: write units like 3, 10-15.",
                             part=repr(part.strip()[:20]))
        if any(g is not None and len(g.lstrip("0")) > 9 for g in m.groups()):  # int() refuses 4,300+ digits
            raise InputError("{part} names no unit: this layer has units 0 to {last}.", part=repr(part.strip()[:20]),
                             last=hidden - 1)
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if lo > hi:
            raise InputError("The range {lo}-{hi} runs backwards: write {hi}-{lo}.", lo=lo, hi=hi)
        if hi >= hidden:
            raise InputError("Unit {unit} does not exist: this layer has units 0 to {last}.", unit=hi, last=hidden - 1)
        units.extend(range(lo, hi + 1))
    if not units:
        return None
    return np.asarray(list(dict.fromkeys(units)), dtype=int)


@dataclass(frozen=True)
class UnitMatches:
    """Units found on a span, best first: ``inside`` / ``outside`` are the fractions of steps above the threshold
    on the span and off it; ``score`` is inside − outside."""

    units: np.ndarray  # [n] int
    inside: np.ndarray  # [n]
    outside: np.ndarray  # [n]
    score: np.ndarray  # [n]

    def __len__(self) -> int:
        return len(self.units)

    def __getitem__(self, index: slice) -> UnitMatches:
        return UnitMatches(self.units[index], self.inside[index], self.outside[index], self.score[index])


def find_units(values: np.ndarray, start: int, stop: int, threshold: float, min_inside: float = 1.0,
               max_outside: float = 0.0) -> UnitMatches:
    """LSTMVis's match: units whose value (``values`` ``[time, unit]``) is above ``threshold`` on at least
    ``min_inside`` of the steps ``start..stop`` (inclusive) and on at most ``max_outside`` of the other steps.

    Ranked by inside − outside, then by the mean margin above the threshold on the span.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"values must be [time, unit], got shape {values.shape}")
    T = values.shape[0]
    if not 0 <= start <= stop < T:
        raise ValueError(f"span {start}..{stop} is outside 0..{T - 1}")
    on = values > threshold  # NaN counts as off
    span = np.zeros(T, dtype=bool)
    span[start:stop + 1] = True
    inside = on[span].mean(axis=0)
    outside = on[~span].mean(axis=0) if (~span).any() else np.zeros(values.shape[1])
    keep = (inside >= min_inside - 1e-9) & (outside <= max_outside + 1e-9)
    margin = np.nan_to_num(values[span].mean(axis=0) - threshold)
    score = inside - outside
    units = np.flatnonzero(keep)
    units = units[np.lexsort((-margin[units], -score[units]))]
    return UnitMatches(units, inside[units], outside[units], score[units])


def default_span(values: np.ndarray, threshold: float, max_outside: float = 0.0, longest: int = 12,
                 prefer=None) -> tuple[int, int] | None:
    """A span ``(start, stop)`` (inclusive) on which :func:`find_units` finds a unit, or None when no unit has one.

    For each unit its runs of steps above ``threshold`` (``values`` ``[time, unit]``); a run of n steps qualifies
    when the unit is on at most ``max_outside`` of the other steps. The longest qualifying run wins (cut to its first
    ``longest`` steps, when that still qualifies); a unit in ``prefer`` wins over the others.
    """
    values = np.asarray(values, dtype=np.float64)
    on = values > threshold  # [T, H]
    T = len(on)
    total = on.sum(axis=0)
    units = list(prefer or []) + [u for u in np.argsort(-total, kind="stable") if u not in set(prefer or [])]
    best = None
    for rank, u in enumerate(units):
        edges = np.flatnonzero(np.diff(np.concatenate([[0], on[:, u].astype(np.int8), [0]])))
        for start, end in zip(edges[::2], edges[1::2], strict=True):  # end excluded
            n = min(end - start, longest)
            if T > n and total[u] - n > max_outside * (T - n) + 1e-9:
                n = end - start  # the whole run may still qualify where a cut one does not
                if T <= n or total[u] - n > max_outside * (T - n) + 1e-9:
                    continue
            key = (rank < len(prefer or []), n)
            if best is None or key > best[0]:
                best = (key, (int(start), int(start + n - 1)))
    return None if best is None else best[1]


def saturation(values: np.ndarray, lo: float = SATURATION[0], hi: float = SATURATION[1]):
    """(left, right): fraction of steps (axis −2) below ``lo`` and above ``hi``; shapes ``values.shape`` less time."""
    values = np.asarray(values)
    return (values < lo).mean(axis=-2), (values > hi).mean(axis=-2)


def gate_saturation(tr: Trace, lo: float = SATURATION[0], hi: float = SATURATION[1]) -> dict[str, tuple]:
    """{gate: (left, right)} for every sigmoid gate of the cell, each ``[layer, direction, unit]``."""
    gates = {"lstm": ("i", "f", "o"), "gru": ("r", "z")}.get(tr.cell, ())
    return {g: saturation(tr[g], lo, hi) for g in gates}


def _previous(a: np.ndarray, direction: int) -> np.ndarray:
    """a_{t−1} in processing order ``[time, unit]``: zeros before the first step (the last, going backward)."""
    zero = np.zeros_like(a[:1])
    return np.concatenate([zero, a[:-1]]) if direction == 0 else np.concatenate([a[1:], zero])


def leak_rate(tr: Trace, layer: int = 0, direction: int = 0) -> np.ndarray:
    """α ``[unit]`` of a leaky or ESN layer, from ``tr.extras["leak"]`` (one entry per (layer, direction))."""
    if tr.cell not in LEAKY:
        raise ValueError(f"a {tr.cell} has no leak rate; only the leaky and ESN cells do")
    return np.asarray(tr.extras["leak"][layer * tr.shape[1] + direction])


def memory_split(tr: Trace, layer: int = 0, direction: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(kept, written), each ``[time, unit]``: LSTM f ⊙ c_{t−1} and i ⊙ g; GRU z ⊙ h_{t−1} and (1 − z) ⊙ n;
    leaky and ESN (1 − α) ⊙ h_{t−1} and α ⊙ n, with α the fixed or learned leak rate per unit.

    Their sum is the new state (c_t for an LSTM, h_t for the others).
    """
    if tr.cell == "lstm":
        f, i, g = (tr[k][layer, direction] for k in "fig")
        return f * _previous(tr["c"][layer, direction], direction), i * g
    if tr.cell == "gru":
        z, n = tr["z"][layer, direction], tr["n"][layer, direction]
        return z * _previous(tr["h"][layer, direction], direction), (1 - z) * n
    if tr.cell in LEAKY:
        alpha = leak_rate(tr, layer, direction).astype(tr["h"].dtype)
        return (1 - alpha) * _previous(tr["h"][layer, direction], direction), alpha * tr["n"][layer, direction]
    raise ValueError("a vanilla RNN has no gate that keeps memory; memory_split needs an LSTM, GRU, leaky or ESN cell")


def memory_horizon(keep_gate: np.ndarray) -> np.ndarray:
    """−1 / ln(mean keep gate) per unit, from ``[time, unit]``: with a constant gate f, memory decays as f^t = e^(−t/τ).

    A gate that is always 1 keeps forever; the mean is capped just below 1, so τ stays finite (≤ ~10⁹ steps).
    """
    mean = np.clip(np.asarray(keep_gate, dtype=np.float64).mean(axis=0), 1e-12, 1 - 1e-9)
    return -1.0 / np.log(mean)


def top_k(probs: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(ids, p), each ``[time, k]``: the k most likely next tokens at each step, most likely first."""
    probs = np.asarray(probs)
    k = max(1, min(int(k), probs.shape[-1]))
    ids = np.argsort(-probs, axis=-1, kind="stable")[:, :k]
    return ids, np.take_along_axis(probs, ids, axis=-1)


# Colored text --------------------------------------------------------------------------------------------------

_POSITIVE, _NEGATIVE, _WHITE = np.array([214, 39, 40]), np.array([31, 119, 180]), np.array([255, 255, 255])
_SHOWN = {"\n": "↵\n", "\t": "\t", " ": " "}


def _visible(token: str) -> str:
    """What to print for a token: line breaks stay breaks (with a mark to carry the colour), controls get names."""
    if token in _SHOWN:
        return _SHOWN[token]
    label = token_label(token)
    return token if label == token or label.startswith("◌") else label


def value_color(value: float, vmin: float, vmax: float) -> tuple[str, str]:
    """(background, text) CSS colours: red above the midpoint of [vmin, vmax], blue below, white at it."""
    if not np.isfinite(value):
        return "rgb(230,230,230)", "#1f2937"
    mid = 0.0 if vmin < 0 < vmax else (vmin + vmax) / 2
    half = max(vmax - mid, mid - vmin, 1e-12)
    strength = float(np.clip((value - mid) / half, -1, 1))
    end = _POSITIVE if strength >= 0 else _NEGATIVE
    rgb = np.rint(_WHITE + (end - _WHITE) * abs(strength)).astype(int)
    return f"rgb({rgb[0]},{rgb[1]},{rgb[2]})", ("#ffffff" if abs(strength) > 0.6 else "#1f2937")


def colored_text_html(tokens: list[str], values: np.ndarray, vmin: float = -1.0, vmax: float = 1.0,
                      unknown: list[bool] | None = None, name: str = "value", lang: str = "en") -> str:
    """The tokens as HTML spans coloured by ``values`` ``[time]``; every token and title is HTML-escaped.

    Unknown tokens (outside the vocabulary) are underlined with a wavy line and say so in their tooltip (in ``lang``).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (len(tokens),):
        raise ValueError(f"values must be [time] = [{len(tokens)}], got shape {values.shape}")
    unknown = unknown or [False] * len(tokens)
    spans = []
    for t, (token, value, unk) in enumerate(zip(tokens, values, unknown, strict=True)):
        background, color = value_color(value, vmin, vmax)
        title = tr(lang, "step {step} · {token} · {name} = {value}", step=t, token=token_label(token), name=name,
                   value=f"{value:.3f}") + (" · " + tr(lang, "not in the vocabulary") if unk else "")
        style = f"background:{background};color:{color}"
        if unk:
            style += ";text-decoration:underline wavy #b91c1c"
        spans.append(f'<span style="{style}" title="{html.escape(title, quote=True)}">'
                     f"{html.escape(_visible(token), quote=True)}</span>")
    return ('<div class="rnnviz-colored-text" style="font-family:ui-monospace,SFMono-Regular,Menlo,monospace;'
            'font-size:0.95rem;line-height:1.9;white-space:pre-wrap;overflow-wrap:anywhere">'
            + "".join(spans) + "</div>")


# Export ----------------------------------------------------------------------------------------------------------


def trace_npz(tr: Trace) -> bytes:
    """The trace as a compressed NPZ: every array by name, plus tokens, unknown, inputs and any head output.

    Loads with ``np.load(..., allow_pickle=False)``: tokens are a unicode array, not objects.
    """
    arrays = {k: np.asarray(v) for k, v in tr.arrays.items()}
    arrays.update(tokens=np.asarray(tr.tokens, dtype=str), unknown=np.asarray(tr.unknown, dtype=bool),
                  inputs=np.asarray(tr.inputs), cell=np.asarray(tr.cell))
    if tr.output is not None:
        arrays["output"] = np.asarray(tr.output)
    if tr.probs is not None:
        arrays["probs"] = np.asarray(tr.probs)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _csv_token(token: str) -> str:
    """A visible token label, with a leading quote where a spreadsheet would read it as a formula."""
    label = token_label(token)
    if label.startswith(_FORMULA):
        try:
            float(label)
        except ValueError:
            return "'" + label
    return label


def trace_csv(tr: Trace) -> str:
    """One row per layer, direction and step; columns ``layer, direction, step, token, unknown`` then ``key[unit]``
    for every traced array (h, c, gates). Values with 6 significant digits."""
    L, D, T, H = tr.shape
    keys = list(tr.keys())
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["layer", "direction", "step", "token", "unknown"] + [f"{k}[{u}]" for k in keys for u in range(H)])
    tokens = [_csv_token(t) for t in tr.tokens]
    for layer in range(L):
        for d in range(D):
            block = np.concatenate([tr[k][layer, d] for k in keys], axis=1)  # [T, len(keys) * H]
            text = np.char.mod("%.6g", block)
            for t in range(T):
                writer.writerow([layer, d, t, tokens[t], int(tr.unknown[t]), *text[t]])
    return buffer.getvalue()
