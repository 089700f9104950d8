"""gradient_flow(model, x) → GradFlow: how the gradient of one objective reaches every earlier step.

Backpropagation through time, written out over the gates a :func:`trace` stored, in numpy, so no autograd
graph is built. For a vanilla RNN, h_t = φ(a_t) with a_t = W_ih x_t + W_hh h_{t−1} + b:

    dL/dh_{t−1} = W_hhᵀ (φ'(a_t) ⊙ dL/dh_t)     (+ whatever reaches h_{t−1} directly)

so after k steps the gradient has been multiplied by k Jacobians J_t = diag(φ'(a_t)) W_hh and
(Pascanu et al. 2013)  ‖dL/dh_{T−k}‖ ≤ ‖dL/dh_T‖ · (γ σ_max(W_hh))^k,  with γ = 1 for tanh and relu.

An LSTM adds the cell-state path dL/dc_{t−1} = f_t ⊙ dL/dc_t: with f near 1 the gradient is carried
almost unchanged (the constant error carousel); with f ≈ 0.5 it halves every step.

A leaky unit (and an ESN reservoir), h_t = (1 − α) ⊙ h_{t−1} + α ⊙ tanh(a_t), has the Jacobian
J_t = diag(1 − α) + diag(α ⊙ tanh'(a_t)) W_hh, so ‖J_t‖ ≤ max(1 − α) + max(α) γ σ_max(W_hh): with small α the
gradient fades as (1 − α)^k at worst, whatever W_hh does.

"Total derivative" means every path counts: later steps of the same layer and, in stacked models, the layer
above, which reads h_t at step t. Values overflow to inf/NaN rather than raise; ``finite`` says so.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import torch

from . import cells
from .errors import InputError, shown
from .model import LEAKY, Model
from .spectral import spectral_norms
from .trace import Trace, as_input, trace

OBJECTIVES = ("sum", "next_token")


@dataclass
class GradFlow:
    """Gradient norms across time. Per-step arrays are ``[layer, direction, time]``, per-unit ones
    ``[layer, direction, time, unit]``; direction 1 is the backward direction, in original time order.

    ==============  ==============================================================
    dh, dh_units    ‖dL/dh_t‖ and dL/dh_t (total derivative)
    dc, dc_units    the same for the LSTM cell state (None for other cells)
    saliency        ‖dL/dx_t‖ for the encoder's output x_t, ``[time]``
    sigma_max       largest singular value of each W_hh, ``[layer, direction]``
    spectral_radius largest |eigenvalue| of each W_hh (vanilla RNN; NaN for gated cells)
    jacobian        ‖dh_t/dh_{t−1}‖₂ for every step (computed on first use)
    leak            α of the leaky and ESN cells, ``[layer, direction, unit]`` (None for others)
    ==============  ==============================================================
    """

    cell: str
    objective: str
    loss: float
    dh_units: np.ndarray
    dc_units: np.ndarray | None
    saliency: np.ndarray
    gamma: float
    trace: Trace
    _jac_parts: list = field(default_factory=list, repr=False)  # per (layer, direction): (q, d0, W_hh)
    leak: np.ndarray | None = None

    @property
    def dh(self) -> np.ndarray:
        return _norm(self.dh_units)

    @property
    def dc(self) -> np.ndarray | None:
        return None if self.dc_units is None else _norm(self.dc_units)

    @property
    def steps(self) -> int:
        return self.dh_units.shape[2]

    @property
    def lag(self) -> np.ndarray:
        """Distance T − 1 − t from the objective's step, for each t."""
        return np.arange(self.steps)[::-1].copy()

    @property
    def finite(self) -> bool:
        """False when any gradient overflowed to inf or became NaN (a forward overflow included)."""
        return bool(np.isfinite(self.dh_units).all() and (self.dc_units is None or np.isfinite(self.dc_units).all()))

    def overflow_lag(self, layer: int = 0, direction: int = 0) -> int | None:
        """The smallest lag at which ‖dL/dh‖ is inf or NaN (None when every value is finite)."""
        bad = ~np.isfinite(self.dh[layer, direction][::-1])
        return int(np.argmax(bad)) if bad.any() else None

    def forward_overflow_step(self) -> int | None:
        """The first step whose hidden state (any layer) is inf or NaN: the forward pass itself blew up."""
        bad = ~np.isfinite(self.trace["h"]).all(axis=(0, 1, 3))
        return int(np.argmax(bad)) if bad.any() else None

    def normalized(self, layer: int = 0, direction: int = 0, which: str = "h") -> np.ndarray:
        """‖dL/dh_t‖ / ‖dL/dh_T‖ (or the c path), ``[time]``: 1 at the objective's step."""
        a = (self.dh if which == "h" else self.dc)[layer, direction]
        with np.errstate(divide="ignore", invalid="ignore"):
            return a / a[-1]

    def bound(self, layer: int = 0, direction: int = 0) -> np.ndarray:
        """(γ σ_max(W_hh))^(T−1−t): Pascanu et al.'s ceiling on ``normalized()`` for a one-layer vanilla RNN;
        for leaky and ESN cells ((1 − α) + α γ σ_max(W_hh))^(T−1−t), with max(1 − α) and max(α) over units."""
        factor = self.gamma * float(self.sigma_max[layer, direction])
        if self.leak is not None:
            alpha = self.leak[layer, direction].astype(np.float64)
            factor = float((1 - alpha).max()) + float(alpha.max()) * factor
        with np.errstate(over="ignore"):
            return factor ** self.lag.astype(np.float64)

    def horizon(self, threshold: float = 1e-3, layer: int = 0, direction: int = 0, which: str = "h") -> int:
        """The largest lag at which the normalized gradient is still at or above ``threshold``."""
        norm = self.normalized(layer, direction, which)[::-1]
        ok = np.isfinite(norm) & (norm >= threshold)
        return int(np.nonzero(ok)[0].max()) if ok.any() else 0

    @cached_property
    def sigma_max(self) -> np.ndarray:
        """Largest singular value of each W_hh, ``[layer, direction]`` (computed on first use)."""
        L, D = self.dh_units.shape[:2]
        return np.array([_sigma_max(w) for *_, w in self._jac_parts]).reshape(L, D)

    @cached_property
    def spectral_radius(self) -> np.ndarray:
        """Largest |eigenvalue| of each W_hh for a vanilla RNN, leaky or ESN, ``[layer, direction]``; NaN for gated
        cells."""
        L, D = self.dh_units.shape[:2]
        if self.cell not in ("rnn", *LEAKY):
            return np.full((L, D), np.nan)
        return np.array([np.abs(np.linalg.eigvals(w.astype(np.float64))).max() for *_, w in self._jac_parts]
                        ).reshape(L, D)

    @cached_property
    def jacobian(self) -> np.ndarray:
        """‖dh_t/dh_{t−1}‖₂ at every step (for the LSTM with c_{t−1} held fixed), by batched Lanczos."""
        if not self._jac_parts:
            raise ValueError("this compact copy was made without the per-step Jacobian norms: "
                             "add them with with_step_norms(step_norms(model, x))")
        L, D, T, H = self.dh_units.shape
        out = np.empty((L, D, T), dtype=np.float64)
        for (layer, d), (q, d0, w) in zip(np.ndindex(L, D), self._jac_parts, strict=True):
            out[layer, d] = spectral_norms(q, d0, w)
        return out

    def compact(self, step_norms: bool = True) -> GradFlow:
        """A copy to keep in a cache: every lazy value computed, the Jacobian parts and the trace's gates dropped.

        It keeps what the views read (gradients, saliency, h, the LSTM's f, tokens) and answers every
        property the same; at T = 1,000, H = 128 an LSTM's copy is about a fifth of the original's size.
        With ``step_norms=False`` the per-step Jacobian norms (the costly part: batched Lanczos) are left out;
        :meth:`with_step_norms` adds them later, so a page can draw everything else first.
        """
        names = ("jacobian", "sigma_max", "spectral_radius") if step_norms else ("sigma_max", "spectral_radius")
        for name in names:
            getattr(self, name)
        tr = self.trace
        keep = {k: v for k, v in tr.arrays.items() if k in ("h", "f")}
        slim = Trace(tr.cell, keep, tr.tokens, tr.unknown, tr.inputs[:, :0])
        out = replace(self, trace=slim, _jac_parts=[])
        out.__dict__.update({k: self.__dict__[k] for k in names})
        return out

    def with_step_norms(self, norms: np.ndarray) -> GradFlow:
        """A copy whose ``jacobian`` is ``norms`` (``[layer, direction, time]``, from :func:`step_norms`)."""
        norms = np.asarray(norms, dtype=np.float64)
        if norms.shape != self.dh_units.shape[:3]:
            raise ValueError(f"step norms of shape {norms.shape} do not fit a flow of shape {self.dh_units.shape[:3]}")
        out = replace(self)
        out.__dict__.update({k: v for k, v in self.__dict__.items() if k in ("sigma_max", "spectral_radius")})
        out.__dict__["jacobian"] = norms
        return out

    @property
    def forget_path(self) -> np.ndarray | None:
        """LSTM only: ‖dc_t/dc_{t−1}‖₂ = max over units of f_t, the cell-state path's per-step factor."""
        return self.trace["f"].max(-1) if self.cell == "lstm" else None


def _norm(a: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        return np.sqrt(np.square(a.astype(np.float64)).sum(-1))


def _sigma_max(w: np.ndarray) -> float:
    """σ_max(W) as the square root of the top eigenvalue of the small Gram matrix WᵀW."""
    w = w.astype(np.float64)
    return float(np.sqrt(max(np.linalg.eigvalsh(w.T @ w)[-1], 0.0)))


def _shift(a: np.ndarray, direction: int) -> np.ndarray:
    """x_{t−1} in processing order (zeros before the first step), in original time order."""
    out = np.zeros_like(a)
    if direction == 0:
        out[1:] = a[:-1]
    else:
        out[:-1] = a[1:]
    return out


def _slopes(cell: str, tr: Trace, layer: int, d: int, nonlinearity: str) -> dict[str, np.ndarray]:
    """The per-step gate slopes that both BPTT and the per-step Jacobians are made of (``[T, ·]`` arrays)."""
    h = tr["h"][layer, d]
    T, H = h.shape
    if cell == "rnn":
        k = 1 - h * h if nonlinearity == "tanh" else (h > 0).astype(h.dtype)
        return {"k": np.where(np.isfinite(h), k, np.nan)}  # past a forward overflow the derivative is undefined
    if cell in LEAKY:
        n = tr["n"][layer, d]
        alpha = tr.extras["leak"][layer * tr.shape[1] + d].astype(h.dtype)
        return {"k": alpha * (1 - n * n), "d0": np.broadcast_to(1 - alpha, (T, H))}
    if cell == "lstm":
        i, f, gg, o, c = (tr[key][layer, d] for key in "ifgoc")
        tc = np.tanh(c)
        a_o = o * (1 - tc * tc)  # dh_t/dc_t
        kc = np.concatenate([gg * i * (1 - i), _shift(c, d) * f * (1 - f), i * (1 - gg * gg)], 1)  # [T, 3H]
        k_o = tc * o * (1 - o)
        return {"a_o": a_o, "kc": kc, "k_o": k_o, "f": f}
    r, z, n = (tr[key][layer, d] for key in "rzn")
    hn = tr.extras["hn"][layer * (tr.shape[1]) + d]
    k_n = (1 - z) * (1 - n * n)
    k_ih = np.concatenate([k_n * hn * r * (1 - r), (_shift(h, d) - n) * z * (1 - z), k_n], 1)  # [T, 3H]
    k_hh = k_ih.copy()
    k_hh[:, 2 * H :] *= r
    return {"k_ih": k_ih, "k_hh": k_hh, "z": z}


def _jacobian_parts(cell: str, s: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
    """(q, d0) of J_t = diag(d0_t) + Σ_b diag(q_{t,b}) W_b, from :func:`_slopes`, for :func:`_spectral_norms`."""
    if cell == "rnn":
        return s["k"], None
    if cell in LEAKY:
        return s["k"], s["d0"]
    if cell == "lstm":
        return np.concatenate([np.tile(s["a_o"], 3) * s["kc"], s["k_o"]], 1), None
    return s["k_hh"], s["z"]


def _bptt(cell: str, tr: Trace, layer: int, d: int, e: np.ndarray, w_hh: np.ndarray, nonlinearity: str):
    """Backward through one layer and direction given the external gradient ``e`` ``[T, H]``.

    Returns (dL/dh_t, dL/dc_t or None, gradient at the gates' pre-activations for W_ih ``[T, G*H]``,
    the Jacobian parts (q, d0) for :func:`_spectral_norms`).
    """
    T, H = e.shape
    order = range(T - 1, -1, -1) if d == 0 else range(T)
    dh_all = np.empty_like(e)
    s = _slopes(cell, tr, layer, d, nonlinearity)
    if cell == "rnn":
        k = s["k"]
        g = np.zeros(H, dtype=e.dtype)
        for t in order:
            dh = e[t] + g
            dh_all[t] = dh
            g = (dh * k[t]) @ w_hh
        return dh_all, None, dh_all * k, _jacobian_parts(cell, s)
    if cell in LEAKY:
        k, keep = s["k"], s["d0"][0]
        g = np.zeros(H, dtype=e.dtype)
        for t in order:
            dh = e[t] + g
            dh_all[t] = dh
            g = (dh * k[t]) @ w_hh + dh * keep
        return dh_all, None, dh_all * k, _jacobian_parts(cell, s)
    if cell == "lstm":
        a_o, kc, k_o, f = s["a_o"], s["kc"], s["k_o"], s["f"]
        k = np.concatenate([kc, k_o], 1).reshape(T, 4, H)
        w_t = np.ascontiguousarray(w_hh.T)  # [H, 4H]: contiguous rows make the per-step product fastest
        dc_all = np.empty_like(e)
        buf = np.empty((4, H), dtype=e.dtype)
        gh = np.zeros(H, dtype=e.dtype)
        gc = np.zeros(H, dtype=e.dtype)
        for t in order:
            dh, dc = dh_all[t], dc_all[t]
            np.add(e[t], gh, out=dh)
            np.multiply(dh, a_o[t], out=dc)
            dc += gc
            np.multiply(k[t, :3], dc, out=buf[:3])
            np.multiply(k[t, 3], dh, out=buf[3])
            gh = w_t @ buf.reshape(-1)
            gc = dc * f[t]
        da = (k * np.concatenate([np.broadcast_to(dc_all[:, None], (T, 3, H)), dh_all[:, None]], 1)).reshape(T, 4 * H)
        return dh_all, dc_all, da, _jacobian_parts(cell, s)
    k_ih, k_hh, z = s["k_ih"], s["k_hh"], s["z"]
    g = np.zeros(H, dtype=e.dtype)
    for t in order:
        dh = e[t] + g
        dh_all[t] = dh
        g = dh * z[t] + (np.tile(dh, 3) * k_hh[t]) @ w_hh
    return dh_all, None, np.tile(dh_all, 3) * k_ih, _jacobian_parts(cell, s)


def _seed(model: Model, tr: Trace, objective: str, target: int | None) -> tuple[np.ndarray, float]:
    """dL/d(top layer output) at every step ``[T, D*H]`` and the objective's value."""
    L, D, T, H = tr.shape
    top = tr["h"][L - 1].transpose(1, 0, 2).reshape(T, D * H).astype(np.float64)  # [T, D*H]
    seed = np.zeros((T, D * H), dtype=tr["h"].dtype)
    if objective == "sum":
        seed[-1] = 1
        return seed, float(top[-1].sum())
    if objective != "next_token":
        raise InputError("Unknown objective {objective}: use 'sum' or 'next_token'.", objective=shown(objective))
    if model.head is None or model.config.head != "classify":
        raise InputError("The next-token objective needs a model with a classifier head.")
    p = tr.probs[-1].astype(np.float64)
    target = int(np.argmax(p)) if target is None else target
    if isinstance(target, bool) or not isinstance(target, numbers.Integral) or not 0 <= target < len(p):
        raise InputError("The target token id must be a whole number from 0 to {last}.", last=len(p) - 1)
    target = int(target)
    dlogits = p.copy()
    dlogits[target] -= 1
    seed[-1] = dlogits @ model.head.weight.detach().double().numpy()
    return seed, float(-np.log(max(p[target], 1e-300)))


@torch.no_grad()
def gradient_flow(model: Model, x, objective: str = "sum", target: int | None = None,
                  tr: Trace | None = None) -> GradFlow:
    """Total derivatives dL/dh_t (and dL/dc_t) at every step, layer and direction; see :class:`GradFlow`.

    ``objective``: "sum" (the sum of the top layer's output at the last step) or "next_token" (cross-entropy
    of the head's prediction at the last step against ``target``, by default the model's own top choice).
    Pass ``tr`` to reuse a trace of the same model and input.
    """
    tr = trace(model, x) if tr is None else tr
    L, D, T, H = tr.shape
    seed, loss = _seed(model, tr, objective, target)
    dt = tr["h"].dtype
    dh_units = np.empty((L, D, T, H), dtype=dt)
    dc_units = np.empty((L, D, T, H), dtype=dt) if model.cell == "lstm" else None
    jac_parts: list = [None] * (L * D)
    with np.errstate(over="ignore", invalid="ignore"):
        for layer in range(L - 1, -1, -1):
            dx = None
            for d in range(D):
                w_ih, w_hh = (p.detach().numpy().astype(dt) for p in model.layer_weights(layer, d)[:2])
                dh, dc, da, jac = _bptt(model.cell, tr, layer, d, seed[:, d * H : (d + 1) * H], w_hh,
                                        getattr(model.rnn, "nonlinearity", "tanh"))
                dh_units[layer, d] = dh
                if dc is not None:
                    dc_units[layer, d] = dc
                jac_parts[layer * D + d] = (*jac, w_hh)
                dx = da @ w_ih if dx is None else dx + da @ w_ih
            seed = dx  # the layer below receives dL/d(its output) through this layer's input
    saliency = _norm(seed)
    leak = np.stack(tr.extras["leak"]).reshape(L, D, H) if model.cell in LEAKY else None
    return GradFlow(model.cell, objective, loss, dh_units, dc_units, saliency.astype(np.float64),
                    1.0 if model.cell in ("rnn", *LEAKY) else 0.25, tr, jac_parts, leak)


@torch.no_grad()
def step_norms(model: Model, x, layer: int | None = None, tr: Trace | None = None) -> np.ndarray:
    """‖dh_t/dh_{t−1}‖₂ at every step, ``[layer, direction, time]``: ``gradient_flow(model, x).jacobian`` (only
    ``layer``'s when it is given, NaN elsewhere).

    They depend on the forward pass only (not on the objective), and they are the costly part of a flow, so a
    page computes them on their own, after drawing the rest (see :meth:`GradFlow.with_step_norms`). Pass ``tr``
    to reuse a trace of the same model and input.
    """
    tr = trace(model, x) if tr is None else tr  # the forward pass is all they need: no backward pass
    L, D, T, H = tr.shape
    if layer is not None and not 0 <= layer < L:
        raise ValueError(f"layer {layer} does not exist: the model has {L}")
    dt = tr["h"].dtype
    out = np.full((L, D, T), np.nan, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        for i, d in np.ndindex(L, D):
            if layer is None or i == layer:
                w_hh = model.layer_weights(i, d)[1].detach().numpy().astype(dt)
                slopes = _slopes(model.cell, tr, i, d, getattr(model.rnn, "nonlinearity", "tanh"))
                out[i, d] = spectral_norms(*_jacobian_parts(model.cell, slopes), w_hh)
    return out


def gradient_flow_autograd(model: Model, x, objective: str = "sum", target: int | None = None):
    """The slow reference: a Python loop of cell steps under autograd, retaining every h_t and c_t.

    Returns (dh_units, dc_units or None, saliency) with the shapes of :class:`GradFlow`. Used by the tests
    and by the benchmark to show what the analytic pass saves; never by the app.
    """
    xb, _, _ = as_input(model, x)
    with torch.enable_grad():
        z = model.encode(xb)[0].detach().requires_grad_(True)
        L, D, H = model.rnn.num_layers, 2 if model.rnn.bidirectional else 1, model.rnn.hidden_size
        T = z.shape[0]
        hs, cs = {}, {}
        layer_in = z
        for layer in range(L):
            outs = []
            for d in range(D):
                w = model.layer_weights(layer, d)
                h = c = layer_in.new_zeros(H)
                seq = [None] * T
                for t in (range(T) if d == 0 else range(T - 1, -1, -1)):
                    if model.cell == "lstm":
                        h, c, _ = cells.lstm_cell(layer_in[t], h, c, *w)
                        c.retain_grad()
                        cs[layer, d, t] = c
                    elif model.cell == "gru":
                        h, _ = cells.gru_cell(layer_in[t], h, *w)
                    elif model.cell in LEAKY:
                        h, _ = cells.leaky_cell(layer_in[t], h, *w, leak=model.leak(layer, d))
                    else:
                        h = cells.rnn_cell(layer_in[t], h, *w, nonlinearity=model.rnn.nonlinearity)
                    h.retain_grad()
                    hs[layer, d, t] = seq[t] = h
                outs.append(torch.stack(seq))
            layer_in = torch.cat(outs, -1)
        last = layer_in[-1]
        if objective == "sum":
            loss = last.sum()
        else:
            logits = model.head(last)
            tgt = int(logits.argmax()) if target is None else int(target)
            loss = torch.nn.functional.cross_entropy(logits[None], torch.tensor([tgt]))
        loss.backward()

    def grab(store):
        out = np.zeros((L, D, T, H))
        for (layer, d, t), v in store.items():
            if v.grad is not None:
                out[layer, d, t] = v.grad.detach().double().numpy()
        return out

    return grab(hs), (grab(cs) if model.cell == "lstm" else None), z.grad.norm(dim=-1).double().numpy()
