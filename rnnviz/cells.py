"""The recurrent cells, written as the equations, in PyTorch's weight layout.

Shapes: ``x`` is ``[..., input]``, ``h`` and ``c`` are ``[..., hidden]``; any leading dims are a batch
(a minibatch, or every time step at once when ``h`` holds h_{t-1} for all t). Weights are laid out as in
``torch.nn.RNN/LSTM/GRU``: ``w_ih`` is ``[G*hidden, input]`` and ``w_hh`` is ``[G*hidden, hidden]`` with
the G gate blocks stacked in PyTorch's order, and there are two bias vectors whose sum is the effective
bias (``b_ih`` and ``b_hh``, either may be None).

    vanilla RNN (G=1):  h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)         (or relu)
    LSTM (G=4, i|f|g|o):
        i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)     input gate
        f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)     forget gate
        g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)  candidate
        o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)     output gate
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t,   h_t = o_t ⊙ tanh(c_t)
    GRU (G=3, r|z|n), with r applied *after* W_hn as PyTorch and cuDNN do:
        r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)     reset gate
        z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)     update gate
        n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))
        h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}
    leaky unit and echo state network reservoir (G=1), with a leak rate α per unit, 0 < α ≤ 1:
        n_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)  candidate
        h_t = (1 − α) ⊙ h_{t-1} + α ⊙ n_t                  (α = 1: the vanilla tanh RNN)
"""

from __future__ import annotations

import torch
from torch.nn.functional import linear

GATES = {"rnn": (), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n"), "leaky": (), "esn": ()}
N_BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3, "leaky": 1, "esn": 1}


def rnn_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    a = linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh)
    return torch.tanh(a) if nonlinearity == "tanh" else torch.relu(a)


def lstm_gates(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """(i, f, g, o) from x_t and h_{t-1}."""
    gates = linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh)
    i, f, g, o = gates.chunk(4, -1)
    return torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)


def lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step: returns (h_t, c_t, (i, f, g, o))."""
    i, f, g, o = lstm_gates(x, h, w_ih, w_hh, b_ih, b_hh)
    c = f * c + i * g
    return o * torch.tanh(c), c, (i, f, g, o)


def gru_gates(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """(r, z, n, W_hn h_{t-1} + b_hn) from x_t and h_{t-1}; the last term is kept for the backward pass."""
    xr, xz, xn = linear(x, w_ih, b_ih).chunk(3, -1)
    hr, hz, hn = linear(h, w_hh, b_hh).chunk(3, -1)
    r = torch.sigmoid(xr + hr)
    z = torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    return r, z, n, hn


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step: returns (h_t, (r, z, n))."""
    r, z, n, _ = gru_gates(x, h, w_ih, w_hh, b_ih, b_hh)
    return (1 - z) * n + z * h, (r, z, n)


def leaky_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, leak=1.0):
    """One leaky step: returns (h_t, n_t) with n_t the tanh candidate and ``leak`` α ``[hidden]`` or a number."""
    n = torch.tanh(linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh))
    return (1 - leak) * h + leak * n, n
