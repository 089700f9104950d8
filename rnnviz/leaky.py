"""LeakyRNN: stacked leaky-integrator tanh layers with nn.RNN's parameter names, for the leaky and ESN cells.

    n_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)      candidate, [batch, hidden]
    h_t = (1 − α) ⊙ h_{t−1} + α ⊙ n_t                       α = leak rate per unit, 0 < α ≤ 1

Parameters per layer ``l`` and direction (suffix ``_reverse`` for direction 1), as in ``torch.nn.RNN``:
``weight_ih_l{l}`` ``[hidden, input]``, ``weight_hh_l{l}`` ``[hidden, hidden]``, ``bias_ih_l{l}``,
``bias_hh_l{l}`` ``[hidden]``, plus ``leak_l{l}`` ``[hidden]`` (α; trained only when ``learn_leak``).
There is no fused kernel for this cell, so the forward pass is a loop over time; the input projection
W_ih x_t + b_ih is computed for every step at once first.
"""

from __future__ import annotations

import math

import torch
from torch import nn

MIN_LEAK = 1e-3  # a learned α is put back in [MIN_LEAK, 1] whenever a layer runs


class LeakyRNN(nn.Module):
    """Drop-in for ``nn.RNN(batch_first=True)`` with a leak rate; ``forward`` returns ``(out, h_n)`` the same way."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bidirectional: bool = False,
                 dropout: float = 0.0, leak: float = 1.0, learn_leak: bool = False):
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bidirectional, self.dropout, self.learn_leak = bidirectional, dropout, learn_leak
        self.batch_first, self.bias, self.nonlinearity = True, True, "tanh"
        D = 2 if bidirectional else 1
        bound = 1 / math.sqrt(hidden_size)
        for layer in range(num_layers):
            n_in = input_size if layer == 0 else D * hidden_size
            for d in range(D):
                s = f"_l{layer}" + ("_reverse" if d else "")
                for name, shape in (("weight_ih", (hidden_size, n_in)), ("weight_hh", (hidden_size, hidden_size)),
                                    ("bias_ih", (hidden_size,)), ("bias_hh", (hidden_size,))):
                    setattr(self, name + s, nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))
                setattr(self, "leak" + s, nn.Parameter(torch.full((hidden_size,), float(leak)),
                                                       requires_grad=learn_leak))

    def weights(self, layer: int, direction: int):
        """(w_ih, w_hh, b_ih, b_hh, leak) of one layer and direction."""
        s = f"_l{layer}" + ("_reverse" if direction else "")
        return tuple(getattr(self, k + s) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "leak"))

    def run_layer(self, layer: int, direction: int, z: torch.Tensor, h0: torch.Tensor | None = None):
        """One layer and direction over ``z`` ``[batch, time, in]`` → (h, n), each ``[batch, time, hidden]``,
        in the original time order (direction 1 runs from the last step back)."""
        w_ih, w_hh, b_ih, b_hh, leak = self.weights(layer, direction)
        if self.learn_leak:
            with torch.no_grad():  # projected gradient descent: α stays a leak rate in (0, 1] after every update
                leak.clamp_(MIN_LEAK, 1.0)
        B, T, _ = z.shape
        drive = torch.nn.functional.linear(z, w_ih, b_ih)  # [B, T, H]: the input's share, all steps at once
        if b_hh is not None:
            drive = drive + b_hh
        w_hh_t = w_hh.t()
        h = z.new_zeros(B, self.hidden_size) if h0 is None else h0
        hs, ns = [None] * T, [None] * T
        for t in range(T) if direction == 0 else range(T - 1, -1, -1):  # two operations a step: the loop is the cost
            n = torch.tanh(torch.addmm(drive[:, t], h, w_hh_t))
            h = torch.lerp(h, n, leak)  # (1 − α) h + α n
            hs[t], ns[t] = h, n
        return torch.stack(hs, 1), torch.stack(ns, 1)

    def forward(self, x: torch.Tensor, hx: torch.Tensor | None = None):
        """``x`` ``[batch, time, input]`` → (out ``[batch, time, D*hidden]``, h_n ``[layers*D, batch, hidden]``)."""
        D = 2 if self.bidirectional else 1
        z, finals = x, []
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                h0 = None if hx is None else hx[layer * D + d]
                h, _ = self.run_layer(layer, d, z, h0)
                outs.append(h)
                finals.append(h[:, -1] if d == 0 else h[:, 0])
            z = torch.cat(outs, -1)
            if self.training and self.dropout and layer < self.num_layers - 1:
                z = torch.nn.functional.dropout(z, self.dropout)
        return z, torch.stack(finals)


@torch.no_grad()
def reservoir_init(rnn, spectral_radius: float, input_scaling: float, density: float, seed: int) -> None:
    """Draw the fixed reservoir weights of every layer and direction of ``rnn`` in place (see rnnviz.reservoir)."""
    if rnn.weight_hh_l0.is_meta:  # a shape-only model (the checkpoint reader's): nothing to draw
        return
    g = torch.Generator().manual_seed(seed)
    H = rnn.hidden_size
    for layer in range(rnn.num_layers):
        for d in range(2 if rnn.bidirectional else 1):
            w_ih, w_hh, b_ih, b_hh, _ = rnn.weights(layer, d)
            w = torch.randn(H, H, generator=g, dtype=torch.float64)
            w *= torch.rand(H, H, generator=g, dtype=torch.float64) < density
            radius = float(torch.linalg.eigvals(w).abs().max())
            if radius > 0:
                w *= spectral_radius / radius
            w_hh.copy_(w)
            w_ih.copy_((torch.rand(w_ih.shape, generator=g, dtype=torch.float64) * 2 - 1) * input_scaling)
            b_ih.copy_((torch.rand(H, generator=g, dtype=torch.float64) * 2 - 1) * input_scaling)
            b_hh.zero_()
