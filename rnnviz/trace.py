"""trace(model, x) → Trace: every internal of a recurrent model at every step of one sequence.

How it stays fast: each layer runs once through PyTorch's fused kernel (the same call nn.LSTM makes), which
gives h_t for every t. With h_{t−1} known for every t, all gates come from one batched matmul, and only the
LSTM cell state needs a short elementwise recurrence, c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from . import cells
from .errors import InputError
from .model import LEAKY, Model
from .vocab import token_label

MAX_STEPS = 10_000  # the core's own limit; pages truncate well before it


@dataclass
class Trace:
    """Every internal of one run, each array shaped ``[layer, direction, time, unit]``.

    ====  =========================================  ==========
    key   meaning                                    cells
    ====  =========================================  ==========
    h     hidden state h_t                           all
    c     cell state c_t                             lstm
    i     input gate                                 lstm
    f     forget gate                                lstm
    g     candidate (tanh)                           lstm
    o     output gate                                lstm
    r     reset gate                                 gru
    z     update gate                                gru
    n     candidate (tanh)                           gru, leaky, esn
    ====  =========================================  ==========

    Leaky and ESN layers: n_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh), h_t = (1 − α) ⊙ h_{t−1} + α ⊙ n_t;
    ``extras["leak"]`` holds α ``[hidden]`` for each (layer, direction), in that order.

    Arrays are float32 (float64 when the model is float64). Direction 1, when present, is the backward
    direction, stored in the original time order. ``probs`` is ``[time, vocab]`` for classifier heads and
    ``output`` the head's raw output ``[time, output]`` (None without a head). ``inputs`` is what the encoder
    fed layer 0, ``[time, input_size]``.
    """

    cell: str
    arrays: dict[str, np.ndarray]
    tokens: list[str]
    unknown: list[bool]
    inputs: np.ndarray
    output: np.ndarray | None = None
    probs: np.ndarray | None = None
    extras: dict = field(default_factory=dict, repr=False)  # kept for the backward pass

    def __getitem__(self, key: str) -> np.ndarray:
        try:
            return self.arrays[key]
        except KeyError:
            raise KeyError(f"{key!r} is not traced for a {self.cell}; available: {', '.join(self.arrays)}") from None

    def keys(self):
        return self.arrays.keys()

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return self.arrays["h"].shape

    @property
    def labels(self) -> list[str]:
        """Tokens made visible for axes (␣ for space, ⏎ for newline, U+XXXX for controls)."""
        return [token_label(t) for t in self.tokens]


def as_input(model: Model, x) -> tuple[torch.Tensor, list[str], list[bool]]:
    """Normalize ``x`` (text, int64 ids [time] or float [time, input]) to model input ``[1, time, ...]``."""
    if isinstance(x, str):
        ids = model.ids(x)
        tokens, unknown = model.vocab.split(x), model.vocab.unknown(x)
        x = ids
    else:
        x = torch.as_tensor(x)
        if x.is_floating_point():
            if x.dim() == 1 and model.input_size == 1:
                x = x[:, None]
            if x.dim() != 2 or x.shape[1] == 0:
                raise InputError("A numeric sequence must be shaped [time, {n}].", n=model.input_size)
            if not torch.isfinite(x).all():
                raise InputError("The sequence holds NaN or infinite values: replace them with numbers.")
            tokens = [f"{v:.3g}" for v in x[:, 0].tolist()]
        else:
            if x.dim() != 1:
                raise InputError("Token ids must be a 1-D sequence [time].")
            V = len(model.vocab) if model.vocab else 0  # an id out of range is left to model.encode to refuse
            tokens = [model.vocab.tokens[int(i)] if 0 <= i < V else str(int(i)) for i in x]
        unknown = [False] * len(tokens)
    if len(tokens) == 0:
        raise InputError("The sequence is empty: type at least one token.")
    if len(tokens) > MAX_STEPS:
        raise InputError("The sequence has {n:,} steps; the limit is {limit:,}.", n=len(tokens), limit=MAX_STEPS)
    return x[None], tokens, unknown


def _run_layer(model: Model, layer: int, z: torch.Tensor):
    """Fused forward of one layer (both directions) over z ``[time, in]`` → h ``[directions, time, hidden]``
    (leaky and ESN layers: (h, n), each ``[directions, time, hidden]``, from their own loop)."""
    rnn = model.rnn
    D = 2 if rnn.bidirectional else 1
    if model.cell in LEAKY:
        hn = [rnn.run_layer(layer, d, z[None]) for d in range(D)]
        return torch.stack([h[0] for h, _ in hn]), torch.stack([n[0] for _, n in hn])
    params = []
    for d in range(D):
        params += [p for p in model.layer_weights(layer, d) if p is not None]
    H = rnn.hidden_size
    h0 = z.new_zeros(D, 1, H)
    has_bias = rnn.bias
    args = (params, has_bias, 1, 0.0, False, rnn.bidirectional, True)
    if model.cell == "lstm":
        out = torch._VF.lstm(z[None], (h0, h0), *args)[0]
    elif model.cell == "gru":
        out = torch._VF.gru(z[None], h0, *args)[0]
    else:
        fn = torch._VF.rnn_tanh if rnn.nonlinearity == "tanh" else torch._VF.rnn_relu
        out = fn(z[None], h0, *args)[0]
    return out[0].view(-1, D, H).transpose(0, 1)  # [D, T, H]


def _prev(h: torch.Tensor, direction: int) -> torch.Tensor:
    """h_{t−1} for every t in processing order (zeros before the first step), in original time order."""
    zero = torch.zeros_like(h[:1])
    return torch.cat([zero, h[:-1]]) if direction == 0 else torch.cat([h[1:], zero])


def _cell_state(i, f, g, direction: int) -> np.ndarray:
    """c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t, run in processing order (elementwise, so numpy is cheapest)."""
    f, ig = f.numpy(), (i * g).numpy()
    c = np.empty_like(ig)
    prev = np.zeros_like(ig[0])
    order = range(len(ig)) if direction == 0 else range(len(ig) - 1, -1, -1)
    for t in order:
        prev = c[t] = f[t] * prev + ig[t]
    return c


@torch.no_grad()
def trace(model: Model, x) -> Trace:
    """Run ``model`` on one sequence and keep every internal. See :class:`Trace` for names and shapes."""
    model = model.eval()
    x, tokens, unknown = as_input(model, x)
    z = model.encode(x)[0]  # [T, in]
    inputs = z
    L, D = model.rnn.num_layers, 2 if model.rnn.bidirectional else 1
    names = ("h",) + {"lstm": ("c", "i", "f", "g", "o"), "gru": ("r", "z", "n"), "rnn": (), "leaky": ("n",),
                      "esn": ("n",)}[model.cell]
    per: dict[str, list] = {k: [] for k in names}
    extras = {"hn": [], "pre": [], "leak": []}  # GRU's W_hn h + b_hn; leaky and ESN's α per (layer, direction)
    for layer in range(L):
        hs = _run_layer(model, layer, z)  # [D, T, H]
        if model.cell in LEAKY:
            hs, ns = hs
            per["n"] += list(ns)
            extras["leak"] += [model.leak(layer, d).numpy() for d in range(D)]
        for d in range(D):
            h = hs[d]
            w_ih, w_hh, b_ih, b_hh = model.layer_weights(layer, d)
            hp = _prev(h, d)
            per["h"].append(h)
            if model.cell == "lstm":
                i, f, g, o = cells.lstm_gates(z, hp, w_ih, w_hh, b_ih, b_hh)
                per["c"].append(torch.from_numpy(_cell_state(i, f, g, d)))
                for k, v in zip("ifgo", (i, f, g, o), strict=True):
                    per[k].append(v)
            elif model.cell == "gru":
                r, zz, n, hn = cells.gru_gates(z, hp, w_ih, w_hh, b_ih, b_hh)
                for k, v in zip("rzn", (r, zz, n), strict=True):
                    per[k].append(v)
                extras["hn"].append(hn)
        z = hs.transpose(0, 1).reshape(len(tokens), -1)  # next layer's input [T, D*H]
    T, H = len(tokens), model.rnn.hidden_size
    np_dtype = np.float64 if model.dtype == torch.float64 else np.float32
    arrays = {k: torch.stack([torch.as_tensor(a) for a in v]).reshape(L, D, T, H).numpy().astype(np_dtype, copy=False)
              for k, v in per.items()}
    output = probs = None
    if model.head is not None:
        out = model.head(z)
        output = out.numpy().astype(np_dtype, copy=False)
        if model.config.head == "classify":
            probs = torch.softmax(out, -1).numpy().astype(np_dtype, copy=False)
    extras["hn"] = [a.numpy() for a in extras["hn"]]
    inputs = inputs.numpy().astype(np_dtype, copy=False)
    return Trace(model.cell, arrays, tokens, unknown, inputs, output, probs, extras)
