"""bptt(model, x, target) → Backprop: backpropagation through time written out the way a textbook derives it.

The worked example of the backward pass, for a one-layer, one-direction RNN, LSTM or GRU with a classifier head.
The loss is the cross-entropy summed over the scored steps (every step, or only the last):

    L = Σ_t −log ŷ_t[target_t],     ŷ_t = softmax(h_t W_hy + b_y)

Going back from step T to step 1, the error δ_t = ∂L/∂h_t arrives from two places, the output at step t and
the step after it (zero at T):

    ∂L/∂y_t = ŷ_t − onehot(target_t)                          (the softmax and the cross-entropy together)
    δ_t = δ_t^out + δ_t^next,    δ_t^out = ∂L/∂y_t W_hyᵀ,    δ_t^next = ∂L/∂h_t through h_{t+1}
    vanilla RNN:  δ_{a,t} = δ_t ⊙ φ'(a_t),  δ_{t−1}^next = δ_{a,t} W_hhᵀ
    LSTM:  δo_t = δ_t ⊙ tanh(c_t) ⊙ σ'(o),   δc_t = δ_t ⊙ o_t ⊙ tanh'(c_t) + δc_{t+1} ⊙ f_{t+1}
           δi_t = δc_t ⊙ g_t ⊙ σ'(i),  δf_t = δc_t ⊙ c_{t−1} ⊙ σ'(f),  δg_t = δc_t ⊙ i_t ⊙ tanh'(g)
           δ_{t−1}^next = [δi δf δg δo]_t W_hᵀ
    GRU:   δn_t = δ_t ⊙ (1 − z_t) ⊙ tanh'(n),  δz_t = δ_t ⊙ (h_{t−1} − n_t) ⊙ σ'(z),
           δr_t = δn_t ⊙ (h_{t−1} W_hn + b_hn) ⊙ σ'(r),
           δ_{t−1}^next = δ_t ⊙ z_t + [δr δz (δn ⊙ r_t)]_t W_hᵀ

Each weight's gradient is the sum over steps of its contribution at each step, e.g. ∂L/∂W_hh = Σ_t h_{t−1}ᵀ δ_{a,t}
(PyTorch stores the transpose: weight_hh_l0.grad = Σ_t δ_{a,t}ᵀ h_{t−1}). The recursion itself is
:func:`rnnviz.gradients._bptt`, the one /gradients runs; this module names its pieces and adds the weights.
"""

from __future__ import annotations

import copy
import numbers
from dataclasses import dataclass

import numpy as np
import torch

from .errors import ConfigError, InputError, shown
from .gradients import _bptt, _sigma_max
from .i18n import N_
from .model import Model, ModelConfig
from .stepthrough import StepWeights
from .trace import as_input, trace
from .vocab import Vocab

LOSSES = ("every", "last")
MAX_ELEMENTS = 20_000_000  # per-step weight contributions kept: time × parameters (160 MB of float64)


@dataclass
class Backprop:
    """Every intermediate of BPTT for one sequence. Per-step arrays are ``[time, ...]`` in time order (index 0 is
    step 1); a walk from T down to 1 reads them backwards. H is the hidden size, V the vocabulary.

    ==================  ===============================================================  ===========
    name                meaning                                                          cells
    ==================  ===============================================================  ===========
    x                   x_t, what the encoder fed the layer ``[T, input]``               all
    h, h_prev           h_t and h_{t−1} (h_0 = 0)                                       all
    probs               ŷ_t = softmax(h_t W_hy + b_y) ``[T, V]``                          all
    dy                  ∂L/∂y_t = ŷ_t − onehot(target_t) at scored steps, else 0         all
    delta_out           δ_t^out = ∂L/∂y_t W_hyᵀ ``[T, H]``                                all
    delta_next          δ_t^next: what reaches h_t from step t+1 (0 at T)                all
    delta               δ_t = ∂L/∂h_t = delta_out + delta_next                           all
    slope               φ'(a_t): tanh' = 1 − h_t² (relu: 1 where a_t > 0)                rnn
    delta_a             δ_{a,t} = δ_t ⊙ φ'(a_t), at the pre-activation                   rnn
    i f g o c c_prev    gates, cell state c_t and c_{t−1}                                lstm
    slope_i/f/g/o       σ'(a_i) = i(1 − i), …, tanh'(a_g) = 1 − g²                       lstm
    slope_c             tanh'(c_t) = 1 − tanh²(c_t)                                      lstm
    delta_c_next        δc_{t+1} ⊙ f_{t+1}: the cell-state path from the step after     lstm
    delta_c             δc_t = δ_t ⊙ o_t ⊙ tanh'(c_t) + δc_{t+1} ⊙ f_{t+1}              lstm
    delta_i/f/g/o       each gate's δ at its pre-activation                              lstm
    r z n hn            gates, candidate, h_{t−1} W_hn + b_hn                            gru
    slope_r/z/n         σ'(a_r) = r(1 − r), σ'(a_z), tanh'(a_n) = 1 − n²                 gru
    delta_r/z/n         each gate's δ at its pre-activation (input side)                 gru
    ==================  ===============================================================  ===========

    ``steps[name]`` is each parameter's contribution at every step, ``[T, *shape]``, under the model's own
    ``named_parameters()`` names; ``weight_grads[name]`` is their sum over time, what autograd puts in ``.grad``.
    ``delta_last`` is the part of δ_t that comes from the last step's loss alone (equal to ``delta`` for "last").
    """

    cell: str
    loss_kind: str
    loss: float
    losses: np.ndarray  # [T] cross-entropy of each step; 0 where not scored
    scored: np.ndarray  # [T] bool
    targets: np.ndarray  # [T] target id, −1 where not scored
    tokens: list[str]
    arrays: dict[str, np.ndarray]
    steps: dict[str, np.ndarray]
    weight_grads: dict[str, np.ndarray]
    w_hh: np.ndarray  # weight_hh_l0 [G*H, H], for the bound
    nonlinearity: str = "tanh"

    def __getitem__(self, key: str) -> np.ndarray:
        try:
            return self.arrays[key]
        except KeyError:
            raise KeyError(f"{key!r} is not kept for a {self.cell}; available: {', '.join(self.arrays)}") from None

    @property
    def T(self) -> int:
        return len(self.tokens)

    @property
    def delta_norm(self) -> np.ndarray:
        """‖δ_t‖ for every step ``[T]``."""
        return np.linalg.norm(self["delta"], axis=1)

    @property
    def delta_last(self) -> np.ndarray:
        return self.arrays["delta_last"]

    def bound(self) -> np.ndarray:
        """The notes' bound on the last step's loss reaching step t, vanilla RNN only, ``[T]``:

            ‖δ_t‖ ≤ (‖W_hh‖ · max|φ'|)^(T−t) · ‖δ_T‖

        with ‖W_hh‖ the spectral norm σ_max and max|φ'| the largest slope over every step and unit. Each step
        back multiplies δ by W_hhᵀ diag(φ'(a_t)), whose norm is at most that product. It bounds ``delta_last``
        (the whole δ_t when only the last step is scored).
        """
        if self.cell != "rnn":
            raise ConfigError("The bound (‖W_hh‖·max|f′|)^(T−t) is derived for the vanilla RNN only.")
        factor = _sigma_max(self.w_hh) * float(np.abs(self["slope"]).max())
        lag = np.arange(self.T)[::-1].astype(np.float64)
        with np.errstate(over="ignore"):
            return factor ** lag * float(np.linalg.norm(self.delta_last[-1]))

    @property
    def predictions(self) -> np.ndarray:
        return self["probs"].argmax(1)


def _targets(model: Model, target, loss: str, T: int) -> np.ndarray:
    """Target ids ``[T]`` (−1 where not scored) from ids, or text in the model's vocabulary."""
    V = len(model.vocab)
    if isinstance(target, str):
        try:
            target = model.vocab.encode(target).tolist()
        except InputError as err:
            raise InputError("Targets: {reason}", reason=err) from None
        if loss == "last":
            if len(target) != 1:
                raise InputError("The last-step loss takes one target token, not {n}.", n=len(target))
            target = target[0]
    if loss == "last":
        if isinstance(target, torch.Tensor | np.ndarray) and np.ndim(target) == 0:
            target = target.item()
        if isinstance(target, bool) or not isinstance(target, numbers.Integral) or not 0 <= target < V:
            raise InputError("The target of the last step must be one token id from 0 to {top}.", top=V - 1)
        out = np.full(T, -1)
        out[-1] = int(target)
        return out
    ids = np.asarray(target.tolist() if isinstance(target, torch.Tensor) else target)
    if ids.ndim != 1 or ids.size != T:
        raise InputError("Scoring every step takes {T} target(s), one per step; got {n}.", T=T, n=ids.size)
    if ids.size and (not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0 or ids.max() >= V):
        raise InputError("Targets must be token ids from 0 to {top}.", top=V - 1)
    return ids.astype(np.int64)


def _check(model: Model, loss: str) -> None:
    c = model.config
    if loss not in LOSSES:
        raise InputError("Unknown loss {loss}: use 'every' (every step scored) or 'last' (the last step only).",
                         loss=shown(loss))
    if c.num_layers != 1 or c.bidirectional:
        raise ConfigError("The worked backward pass covers one layer in one direction; this model has {n} "
                          "layer(s){bidirectional}. Gradient flow shows stacked and bidirectional models.",
                          n=c.num_layers, bidirectional=N_(", bidirectional") if c.bidirectional else "")
    if model.head is None or c.head != "classify" or model.vocab is None:
        raise ConfigError("The worked backward pass needs a model that reads tokens and has a classifier head.")


def _gate_slopes(cell: str, a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """σ'(·) = s(1 − s) for sigmoid gates and tanh'(·) = 1 − v² for tanh ones, from the gate values."""
    out = {}
    for g in {"lstm": "ifgo", "gru": "rzn"}[cell]:
        v = a[g]
        out[f"slope_{g}"] = 1 - v * v if g in "gn" else v * (1 - v)
    return out


@torch.no_grad()
def bptt(model: Model, x, target, loss: str = "every") -> Backprop:
    """Backpropagation through time with every textbook intermediate; see :class:`Backprop` and the module notes.

    ``x``: text or token ids ``[time]``. ``target``: ids ``[time]`` (or text of the same length) for
    ``loss="every"``, one id (or one token) for ``loss="last"``. Runs in float64 on a copy of ``model``.
    """
    _check(model, loss)
    ids = as_input(model, x)[0][0]
    if ids.is_floating_point():
        raise InputError("The worked backward pass reads tokens: give text or integer token ids.")
    T = len(ids)
    n_params = sum(p.numel() for p in model.parameters())
    if T * n_params > MAX_ELEMENTS:
        raise InputError("The worked backward pass keeps every weight's contribution at every step: {T:,} steps "
                         "of {n:,} parameters is too many. Use a shorter sequence or a smaller model.",
                         T=T, n=n_params)
    m = model if model.dtype == torch.float64 else copy.deepcopy(model).double()
    targets = _targets(m, target, loss, T)
    tr = trace(m, ids)
    H = m.config.hidden_size
    w_ih, w_hh, _, _ = (None if p is None else p.detach().numpy() for p in m.layer_weights(0, 0))
    w_y, probs = m.head.weight.detach().numpy(), tr.probs  # [V, H], [T, V]
    scored = targets >= 0
    dy = np.where(scored[:, None], probs, 0.0)
    dy[np.nonzero(scored)[0], targets[scored]] -= 1
    losses = np.zeros(T)
    losses[scored] = -np.log(np.maximum(probs[scored, targets[scored]], 1e-300))
    e = dy @ w_y  # δ_t^out [T, H]
    nonlin = m.config.nonlinearity
    dh, dc, da, _ = _bptt(m.cell, tr, 0, 0, e, w_hh, nonlin)
    e_last = np.zeros_like(e)
    e_last[-1] = e[-1]
    delta_last = _bptt(m.cell, tr, 0, 0, e_last, w_hh, nonlin)[0]

    a = {k: tr[k][0, 0] for k in tr.keys()}
    h = a["h"]
    h_prev = np.vstack([np.zeros((1, H)), h[:-1]])
    arrays = {"x": tr.inputs, "h": h, "h_prev": h_prev, "probs": probs, "dy": dy, "delta_out": e,
              "delta_next": dh - e, "delta": dh, "delta_last": delta_last}
    da_hh = da.copy()
    if m.cell == "rnn":
        arrays["slope"] = 1 - h * h if nonlin == "tanh" else (h > 0).astype(h.dtype)
        arrays["delta_a"] = da
    else:
        arrays.update({k: a[k] for k in ("ifgoc" if m.cell == "lstm" else "rzn")})
        arrays.update(_gate_slopes(m.cell, a))
        arrays.update({f"delta_{g}": blk for g, blk in zip(("ifgo" if m.cell == "lstm" else "rzn"),
                                                             np.split(da, da.shape[1] // H, axis=1), strict=True)})
    if m.cell == "lstm":
        c = a["c"]
        arrays["c_prev"] = np.vstack([np.zeros((1, H)), c[:-1]])
        arrays["slope_c"] = 1 - np.tanh(c) ** 2
        arrays["delta_c"] = dc
        arrays["delta_c_next"] = np.vstack([dc[1:] * a["f"][1:], np.zeros((1, H))])
    elif m.cell == "gru":
        arrays["hn"] = tr.extras["hn"][0]
        da_hh[:, 2 * H:] *= a["r"]  # the candidate's h side is multiplied by r_t
    steps = _contributions(m, ids.numpy(), tr.inputs, h, h_prev, dy, da, da_hh, w_ih)
    grads = {k: v.sum(0) for k, v in steps.items()}
    return Backprop(m.cell, loss, float(losses.sum()), losses, scored, targets, tr.tokens, arrays, steps, grads,
                    w_hh, nonlin)


def _contributions(m: Model, ids, x, h, h_prev, dy, da, da_hh, w_ih) -> dict[str, np.ndarray]:
    """Each parameter's gradient contribution at every step, ``[T, *shape]``, under named_parameters() names."""
    per = {"rnn.weight_ih_l0": np.einsum("tg,ti->tgi", da, x), "rnn.weight_hh_l0": np.einsum("tg,th->tgh", da_hh,
                                                                                            h_prev),
           "rnn.bias_ih_l0": da, "rnn.bias_hh_l0": da_hh, "head.weight": np.einsum("tv,th->tvh", dy, h),
           "head.bias": dy}
    if m.embedding is not None:  # x_t is row ids[t] of the table: only that row receives δ_{a,t} W_ih
        emb = np.zeros((len(ids), *m.embedding.weight.shape))
        emb[np.arange(len(ids)), ids] = da @ w_ih
        per["embedding.weight"] = emb
    return {k: per[k] for k, _ in m.named_parameters()}


def model_from_weights(w: StepWeights) -> Model:
    """A float64 Model holding typed (or step-through) weights, so a typed homework problem can be backpropagated.

    The layout goes back from the textbook's to PyTorch's: weight_ih_l0 = W_xᵀ, head.weight = W_hyᵀ.
    """
    if w.w_y is None:
        raise ConfigError("The worked backward pass needs the output weights W_hy and b_y.")
    encoder = "embedding" if w.embedding is not None else "onehot"
    config = ModelConfig(cell=w.cell, hidden_size=w.hidden, nonlinearity=w.nonlinearity, encoder=encoder,
                         embed_dim=w.input_size if w.embedding is not None else 16, head="classify",
                         output_size=len(w.tokens))
    model = Model(config, Vocab(tuple(w.tokens), unk=w.unk)).double()
    params = {f"rnn.{k}": v for k, v in w.torch_params().items()} | {"head.weight": w.w_y.T, "head.bias": w.b_y}
    if w.embedding is not None:
        params["embedding.weight"] = w.embedding
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.from_numpy(np.ascontiguousarray(params[name], dtype=np.float64)))
    return model.eval()


def descend(model: Model, grads: dict[str, np.ndarray], lr: float, frozen: tuple[str, ...] = ()) -> Model:
    """One step of gradient descent on a float64 copy: W ← W − lr · ∂L/∂W for every named parameter but ``frozen``.

    PyTorch keeps two biases and steps both, so their sum b moves by 2·lr·∂L/∂b; a textbook with one b_h (typed
    weights, held as bias_ih with bias_hh = 0) moves it by lr·∂L/∂b: freeze "rnn.bias_hh_l0" for that.
    """
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not np.isfinite(lr) or not 0 < lr <= 100:
        raise InputError("The learning rate must be a number above 0 and at most 100.")
    m = copy.deepcopy(model).double()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name not in frozen:
                p -= lr * torch.from_numpy(np.asarray(grads[name], dtype=np.float64))
    return m.eval()


__all__ = ["LOSSES", "Backprop", "bptt", "descend", "model_from_weights"]
