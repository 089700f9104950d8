"""Model: input encoder → stacked recurrent layers (PyTorch's fused nn.RNN/LSTM/GRU) → optional linear head.

Shapes: tokens ``[batch, time]`` (int64) or features ``[batch, time, input]`` go in; ``forward`` returns
the head's output ``[batch, time, output]`` (or the top layer's ``[batch, time, directions*hidden]`` when
there is no head) and the final states as nn.LSTM/GRU/RNN return them.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace

import torch
from torch import nn
from torch.nn import functional as F

from .errors import ConfigError, InputError, shown
from .i18n import N_
from .init import InitConfig, initialize
from .leaky import LeakyRNN, reservoir_init
from .vocab import Vocab

CELLS = ("rnn", "lstm", "gru", "leaky", "esn")
LEAKY = ("leaky", "esn")  # the cells built on LeakyRNN (no fused kernel; a leak rate α per unit)
ENCODERS = ("onehot", "embedding", "float")
HEADS = ("auto", "classify", "regress", "none")
MAX_HIDDEN, MAX_LAYERS = 1024, 6


@dataclass(frozen=True)
class ModelConfig:
    cell: str = "lstm"  # "rnn" | "lstm" | "gru" | "leaky" | "esn"
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
    leak: float = 0.5  # leaky and esn: the leak rate α each unit starts at, 0 < α ≤ 1 (1: the vanilla RNN)
    learn_leak: bool = False  # leaky only: train α per unit along with the weights
    spectral_radius: float = 0.9  # esn: ρ, the largest |eigenvalue| of the fixed W_hh
    input_scaling: float = 1.0  # esn: s, W_ih and b_ih are drawn from s · U(−1, 1)
    density: float = 0.1  # esn: fraction of W_hh's entries that are not zero
    seed: int = 0  # esn: the draw of the reservoir

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ConfigError("Unknown cell {cell}: choose rnn, lstm, gru, leaky or esn.", cell=shown(self.cell))
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
        self._check_leaky()

    def _check_leaky(self):
        def real(value, lo, hi, lo_open=False):
            return (not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
                    and (lo < value if lo_open else lo <= value) and value <= hi)

        if not real(self.leak, 0, 1, lo_open=True):
            raise ConfigError("The leak rate α must be above 0 and at most 1 (1 is the vanilla RNN).")
        if not isinstance(self.learn_leak, bool):
            raise ConfigError("learn_leak must be true or false.")
        if not real(self.spectral_radius, 0, 10):
            raise ConfigError("The spectral radius ρ must be a number from 0 to 10 (below 1 for echoes that fade).")
        if not real(self.input_scaling, 0, 100):
            raise ConfigError("The input scaling must be a number from 0 to 100.")
        if not real(self.density, 0, 1, lo_open=True):
            raise ConfigError("The reservoir density must be above 0 and at most 1.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**31:
            raise ConfigError("The reservoir seed must be a whole number from 0 to 2,147,483,647.")
        if self.cell in LEAKY and self.nonlinearity != "tanh":
            raise ConfigError("Leaky units and echo state networks use tanh.")
        if self.cell == "esn" and self.learn_leak:
            raise ConfigError("An echo state network's reservoir is fixed: its leak rate is not learned.")

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
        if rnn is None and config.cell in LEAKY:
            rnn = LeakyRNN(self.input_size, config.hidden_size, config.num_layers, config.bidirectional,
                           config.dropout if config.num_layers > 1 else 0.0, config.leak,
                           config.learn_leak and config.cell == "leaky")
            if config.cell == "esn":
                reservoir_init(rnn, config.spectral_radius, config.input_scaling, config.density, config.seed)
                rnn.requires_grad_(False)  # the reservoir is never trained: only the readout (the head) is
            else:
                initialize(rnn, config.cell, init, generator)
        elif rnn is None:
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
        """(w_ih, w_hh, b_ih, b_hh) of one layer and direction; biases are None when the layer has none.
        Leaky and ESN layers have a leak rate too: see :meth:`leak`."""
        s = f"_l{layer}" + ("_reverse" if direction else "")
        return tuple(getattr(self.rnn, k + s, None) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def leak(self, layer: int, direction: int) -> torch.Tensor:
        """α ``[hidden]`` of one layer and direction: the leak rates (ones for the other cells)."""
        if self.cell in LEAKY:
            return self.rnn.weights(layer, direction)[4].clamp(0, 1)
        return torch.ones(self.rnn.hidden_size, dtype=self.dtype)

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
        return self.steps(x, hx)

    def steps(self, x: torch.Tensor, hx=None):
        """The head's raw output at every step ``[batch, time, output]`` (or the top layer's), and the final states.
        ``forward`` is this for rnnviz's own models; an imported model answers as its framework does."""
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


_ACTIVATIONS = {"linear": lambda y: y, "sigmoid": torch.sigmoid, "softmax": lambda y: torch.softmax(y, -1)}


class ImportedModel(Model):
    """A model read from another framework's file (Keras), answering ``model(x)`` as that framework does.

    Layers narrower than the widest are padded to ``config.hidden_size`` with units whose weights and biases are
    all zero: such a unit stays at exactly 0 (tanh(0) = 0; an LSTM's c_t = ½ c_{t−1} + ½·0 = 0), so outputs are
    unchanged; ``columns`` picks the real units of the top layer, ``units`` gives each layer's real width.

    forward: ``[batch, time, out]`` when the last recurrent layer returns sequences, else ``[batch, out]`` (the
    forward direction's last step and, as Keras does, the backward direction's first), then the head and its
    activation ("linear", "sigmoid", "softmax"). ``steps`` still gives every step's raw head output.
    """

    def __init__(self, config: ModelConfig, vocab: Vocab | None, rnn: nn.RNNBase, units: tuple[int, ...],
                 activation: str = "linear", return_sequences: bool = True, layers: tuple[dict, ...] = ()):
        super().__init__(config, vocab, rnn=rnn)
        if activation not in _ACTIVATIONS:
            raise ConfigError("Unknown head activation {activation}: use linear, sigmoid or softmax.",
                              activation=shown(activation))
        self.units, self.activation, self.return_sequences = tuple(units), activation, return_sequences
        self.layers = tuple(layers)  # what was read, one row per layer of the file, for people to check
        H, top = config.hidden_size, self.units[-1]
        self.register_buffer("columns", torch.cat([torch.arange(top) + d * H for d in range(config.directions)]),
                             persistent=False)

    def forward(self, x: torch.Tensor, hx=None):
        out, hn = self.rnn(self.encode(x), hx)  # [batch, time, D*H], batch_first
        if not self.return_sequences:
            H = self.config.hidden_size
            out = torch.cat([out[:, -1, :H], out[:, 0, H:]], -1)  # [batch, D*H]
        if self.head is None:
            return out[..., self.columns], hn
        return _ACTIVATIONS[self.activation](self.head(out)), hn


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
