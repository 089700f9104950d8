"""Initialization schemes for recurrent layers; every random draw comes from the generator passed in.

- ``default``: PyTorch's own, U(−1/√H, 1/√H) for every weight and bias.
- ``orthogonal``: W_hh (each gate block) a random orthogonal matrix times ``gain``.
- ``identity``: W_hh (each gate block) = ``gain`` · I and zero biases (IRNN, Le et al. 2015).
- ``forget_bias``: LSTM forget-gate bias (GRU: update-gate bias, the gate that keeps h_{t-1}) set to the value,
  written once into ``bias_ih`` with ``bias_hh`` zeroed for that block, so the effective bias is the value.
- ``chrono_tmax``: chrono init (Tallec & Ollivier 2018): b_f ~ log(U(1, T_max − 1)), b_i = −b_f for LSTM;
  b_z ~ log(U(1, T_max − 1)) for GRU. It overrides ``forget_bias``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .errors import ConfigError, shown

SCHEMES = ("default", "orthogonal", "identity")


@dataclass(frozen=True)
class InitConfig:
    scheme: str = "default"  # "default" | "orthogonal" | "identity" for W_hh
    gain: float = 1.0  # scales orthogonal / identity W_hh
    forget_bias: float | None = None  # None keeps the scheme's bias
    chrono_tmax: float | None = None  # e.g. the task's lag; overrides forget_bias

    def __post_init__(self):
        if self.scheme not in SCHEMES:
            raise ConfigError("Unknown init scheme {scheme}: choose one of {schemes}.", scheme=shown(self.scheme),
                              schemes=", ".join(SCHEMES))
        if not math.isfinite(self.gain) or not 0 <= self.gain <= 10:
            raise ConfigError("The recurrent gain must be a number between 0 and 10.")
        if self.forget_bias is not None and (not math.isfinite(self.forget_bias) or abs(self.forget_bias) > 20):
            raise ConfigError("The forget-gate bias must be a number between −20 and 20.")
        if self.chrono_tmax is not None and (not math.isfinite(self.chrono_tmax) or self.chrono_tmax < 3):
            raise ConfigError("Chrono init needs T_max of at least 3 (the longest dependency, in steps).")


def _layer_params(rnn: nn.RNNBase):
    """(w_ih, w_hh, b_ih, b_hh) for every layer and direction, in order."""
    for layer in range(rnn.num_layers):
        for suffix in ("", "_reverse")[: 2 if rnn.bidirectional else 1]:
            names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            yield tuple(getattr(rnn, f"{k}_l{layer}{suffix}", None) for k in names)


@torch.no_grad()
def initialize(rnn: nn.RNNBase, cell: str, init: InitConfig, generator: torch.Generator) -> None:
    """Re-initialize ``rnn`` in place following ``init``."""
    H = rnn.hidden_size
    bound = 1 / math.sqrt(H)
    for w_ih, w_hh, b_ih, b_hh in _layer_params(rnn):
        for p in (w_ih, w_hh, b_ih, b_hh):
            if p is not None:
                nn.init.uniform_(p, -bound, bound, generator=generator)
        blocks = w_hh.shape[0] // H
        if init.scheme == "orthogonal":
            for k in range(blocks):
                nn.init.orthogonal_(w_hh[k * H : (k + 1) * H], gain=init.gain, generator=generator)
        elif init.scheme == "identity":
            for k in range(blocks):
                w_hh[k * H : (k + 1) * H] = init.gain * torch.eye(H, dtype=w_hh.dtype)
            for b in (b_ih, b_hh):
                if b is not None:
                    b.zero_()
        if cell in ("rnn", "leaky", "esn") or b_ih is None:  # no gate biases
            continue
        keep = slice(H, 2 * H)  # LSTM f and GRU z both sit in the second block
        if init.chrono_tmax is not None:
            u = torch.rand(H, generator=generator, dtype=torch.float64) * (init.chrono_tmax - 2) + 1
            b_ih[keep] = torch.log(u).to(b_ih.dtype)
            if b_hh is not None:
                b_hh[keep] = 0
            if cell == "lstm":
                b_ih[0:H] = -b_ih[keep]
                if b_hh is not None:
                    b_hh[0:H] = 0
        elif init.forget_bias is not None:
            b_ih[keep] = init.forget_bias
            if b_hh is not None:
                b_hh[keep] = 0
