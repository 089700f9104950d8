"""Model: input encoder → stacked recurrent layers (PyTorch's fused nn.RNN/LSTM/GRU) → optional linear head.

Shapes: tokens ``[batch, time]`` (int64) or features ``[batch, time, input]`` go in; ``forward`` returns
the head's output ``[batch, time, output]`` (or the top layer's ``[batch, time, directions*hidden]`` when
there is no head) and the final states as nn.LSTM/GRU/RNN return them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import torch
from torch import nn
from torch.nn import functional as F

from .errors import ConfigError, InputError, shown
from .i18n import N_
from .init import InitConfig, initialize
from .vocab import Vocab

CELLS = ("rnn", "lstm", "gru")
ENCODERS = ("onehot", "embedding", "float")
HEADS = ("auto", "classify", "regress", "none")
MAX_HIDDEN, MAX_LAYERS = 1024, 6


@dataclass(frozen=True)
class ModelConfig:
    cell: str = "lstm"  # "rnn" | "lstm" | "gru"
    hidden_size: int = 32
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0  # between stacked layers, training only
    nonlinearity: str = "tanh"  # vanilla RNN only: "tanh" | "relu"
    encoder: str = "onehot"  # "onehot" | "embedding" over a vocabulary, or "float" features
    input_size: int = 0  # float features; for onehot/embedding it is taken from the vocabulary
    embed_dim: int = 16  # embedding encoder only
    head: str = "auto"  # "auto": classify over the vocabulary if there is one, else none
    output_size: int = 0  # head outputs; 0 means the vocabulary size

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ConfigError("Unknown cell {cell}: choose rnn, lstm or gru.", cell=shown(self.cell))
        if self.encoder not in ENCODERS:
            raise ConfigError("Unknown encoder {encoder}: choose onehot, embedding or float.",
                              encoder=shown(self.encoder))
        if self.head not in HEADS:
            raise ConfigError("Unknown head {head}: choose auto, classify, regress or none.", head=shown(self.head))
        if self.nonlinearity not in ("tanh", "relu"):
            raise ConfigError("The vanilla RNN's nonlinearity must be tanh or relu.")
        for name, value, hi in ((N_("hidden size"), self.hidden_size, MAX_HIDDEN),
                                (N_("number of layers"), self.num_layers, MAX_LAYERS),
                                (N_("embedding size"), self.embed_dim, MAX_HIDDEN)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= hi:
                raise ConfigError("The {name} must be a whole number from 1 to {hi}.", name=name, hi=hi)
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, int | float) or not 0 <= self.dropout < 1:
            raise ConfigError("Dropout must be at least 0 and below 1.")

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1


_RNN = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class Model(nn.Module):
    """An encoder, a fused recurrent stack and a head. Build with a config, or wrap a module with from_torch."""

    def __init__(self, config: ModelConfig = ModelConfig(), vocab: Vocab | None = None,
                 init: InitConfig = InitConfig(), generator: torch.Generator | None = None,
                 rnn: nn.RNNBase | None = None):
        super().__init__()
        if config.encoder != "float" and vocab is None:
            raise ConfigError("A {encoder} encoder needs a vocabulary.", encoder=config.encoder)
        if config.encoder == "float" and config.input_size < 1:
            raise ConfigError("A float encoder needs input_size of at least 1.")
        head = config.head
        if head == "auto":
            head = "classify" if vocab is not None else "none"
        out = config.output_size or (len(vocab) if vocab is not None and head == "classify" else 0)
        if head != "none" and out < 1:
            raise ConfigError("A head needs output_size of at least 1.")
        self.config = replace(config, head=head, output_size=out if head != "none" else 0)
        self.vocab = vocab
        self.init = init  # recorded for model cards
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        with torch.random.fork_rng(devices=[]):  # module constructors draw from the global RNG: undo that
            self._build(config, init, head, out, generator, rnn)

    def _build(self, config, init, head, out, generator, rnn):
        self.embedding = None
        if config.encoder == "embedding":
            self.embedding = nn.Embedding(len(self.vocab), config.embed_dim)
            nn.init.normal_(self.embedding.weight, 0, 1, generator=generator)
        if rnn is None:
            kwargs = {"nonlinearity": config.nonlinearity} if config.cell == "rnn" else {}
            rnn = _RNN[config.cell](self.input_size, config.hidden_size, config.num_layers, batch_first=True,
                                    dropout=config.dropout if config.num_layers > 1 else 0.0,
                                    bidirectional=config.bidirectional, **kwargs)
            initialize(rnn, config.cell, init, generator)
        self.rnn = rnn
        self.head = None
        if head != "none":
            self.head = nn.Linear(config.directions * config.hidden_size, out)
            bound = 1 / (config.directions * config.hidden_size) ** 0.5
            for p in self.head.parameters():
                nn.init.uniform_(p, -bound, bound, generator=generator)

    @property
    def cell(self) -> str:
        return self.config.cell

    @property
    def input_size(self) -> int:
        c = self.config
        sizes = {"onehot": len(self.vocab) if self.vocab else 0, "embedding": c.embed_dim, "float": c.input_size}
        return sizes[c.encoder]

    @property
    def dtype(self) -> torch.dtype:
        return self.rnn.weight_hh_l0.dtype

    def layer_weights(self, layer: int, direction: int):
        """(w_ih, w_hh, b_ih, b_hh) of one layer and direction; biases are None when the layer has none."""
        s = f"_l{layer}" + ("_reverse" if direction else "")
        return tuple(getattr(self.rnn, k + s, None) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def ids(self, text: str) -> torch.Tensor:
        if self.vocab is None:
            raise InputError("This model reads numbers, not text: give a series of numbers.")
        return self.vocab.encode(text)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's output fed to layer 0: ``[..., time, input_size]``."""
        enc = self.config.encoder
        if enc == "float":
            if not x.is_floating_point():
                raise InputError("This model reads numbers: give a float tensor [time, features].")
            if x.shape[-1] != self.input_size:
                raise InputError("This model reads {n} feature(s) per step, not {given}.", n=self.input_size,
                                 given=x.shape[-1])
            return x.to(self.dtype)
        if x.is_floating_point():
            raise InputError("This model reads tokens: give text or integer token ids.")
        if x.numel() and (x.min() < 0 or x.max() >= len(self.vocab)):
            raise InputError("Token ids must lie in 0..{last}.", last=len(self.vocab) - 1)
        x = x.long()  # int32 or bool ids (numpy on some platforms) would fail inside one_hot
        if enc == "onehot":
            return F.one_hot(x, len(self.vocab)).to(self.dtype)
        return self.embedding(x)

    def forward(self, x: torch.Tensor, hx=None):
        z = self.encode(x)
        batch_first = self.rnn.batch_first
        out, hn = self.rnn(z if batch_first else z.transpose(0, 1), hx)
        out = out if batch_first else out.transpose(0, 1)
        return (self.head(out) if self.head is not None else out), hn

    def fingerprint(self) -> str:
        """A short hash of config, vocabulary and weights: a cache key that changes whenever the model does."""
        h = hashlib.sha1(repr((self.config, self.vocab)).encode())
        for k, v in self.state_dict().items():
            h.update(k.encode())
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]


def from_torch(module: nn.RNNBase) -> Model:
    """Wrap an existing nn.RNN, nn.LSTM or nn.GRU (any layers, bidirectional, batch_first), sharing its weights."""
    kinds = {nn.LSTM: "lstm", nn.GRU: "gru", nn.RNN: "rnn"}
    cell = next((v for k, v in kinds.items() if isinstance(module, k)), None)
    if cell is None:
        raise ConfigError("from_torch takes an nn.RNN, nn.LSTM or nn.GRU.")
    if getattr(module, "proj_size", 0):
        raise ConfigError("LSTMs with proj_size are not supported.")
    nonlin = getattr(module, "nonlinearity", "tanh")
    config = ModelConfig(cell=cell, hidden_size=module.hidden_size, num_layers=module.num_layers,
                         bidirectional=module.bidirectional, dropout=float(module.dropout), nonlinearity=nonlin,
                         encoder="float", input_size=module.input_size, head="none")
    return Model(config, rnn=module)
