"""Training tasks: each one makes batches from its own seeded torch.Generator and says how to score them.

A task tells a Trainer everything it needs and nothing about the UI:

- ``batch(batch_size)`` → ``(x, y)``: ``x`` is int64 token ids ``[batch, time]`` or float features
  ``[batch, time, features]``; ``y`` holds class indices (``[batch]``, or ``[batch, time]`` when every step is
  scored) or float targets (``[batch, outputs]`` or ``[batch, time, outputs]``).
- ``validation()`` → a fixed held-out ``(x, y)``, the same on every call.
- ``many_to_one``: the loss reads the last step only; otherwise it reads every step.
- ``loss_kind``: ``"ce"`` (cross-entropy over ``classes``) or ``"mse"``.
- ``model_config(cell, hidden_size, ...)``, ``vocab`` (or None), ``classes`` (or None), ``defaults``.

Every task's docstring shows a worked example. Tasks:
``letters``, ``text``, ``recall``, ``adding``, ``temporal_order``, ``stocks``, ``sine``, ``sentiment``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, replace

import torch
from torch.nn import functional as F

from .errors import ConfigError, shown
from .i18n import N_
from .init import InitConfig
from .model import Model, ModelConfig
from .vocab import Vocab

MAX_BATCH = 4096


@dataclass(frozen=True)
class Defaults:
    """Recommended settings for a task; the Trainer and the page start from these."""

    cell: str = "lstm"
    hidden_size: int = 32
    num_layers: int = 1
    optimizer: str = "adam"  # "adam" | "sgd" | "rmsprop"
    lr: float = 1e-2
    batch_size: int = 32
    clip: float | None = 1.0  # gradient-norm clipping; None for off
    steps: int = 1000
    eval_every: int = 50  # steps between validation passes
    init: InitConfig = field(default_factory=InitConfig)  # for gated cells (the RNN ignores biases it has not)


def _real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def whole(name: str, value, lo: int, hi: int) -> int:
    """``value`` as an int, or a ConfigError naming ``name`` and its range."""
    if not (_real(value) and value == int(value) and lo <= value <= hi):
        raise ConfigError("The {name} must be a whole number from {lo:,} to {hi:,}.", name=name, lo=lo, hi=hi)
    return int(value)


def number(name: str, value, lo: float, hi: float) -> float:
    if not (_real(value) and lo <= value <= hi):
        raise ConfigError("The {name} must be a number from {lo:g} to {hi:g}.", name=name, lo=lo, hi=hi)
    return float(value)


def choice(name: str, value, options) -> str:
    if value not in options:
        raise ConfigError("Unknown {name} {value}: choose {options}.", name=name, value=shown(value),
                          options=", ".join(map(str, options)))
    return value


class Task:
    """Base class. Subclasses set the attributes below and implement ``sample(n, generator)``."""

    name = "task"
    loss_kind = "ce"  # "ce" | "mse"
    many_to_one = True  # True: the loss reads the last step; False: every step
    vocab: Vocab | None = None
    classes: tuple[str, ...] | None = None  # one label per output unit of a classifier
    encoder = "onehot"  # "onehot" | "embedding" | "float"
    input_size = 0  # float features per step
    output_size = 0  # regression outputs (classifiers use len(classes))
    tolerance: float | None = None  # regression: |error| below this counts as correct
    val_size = 512
    defaults = Defaults()

    def __init__(self, seed: int = 0):
        self.seed = whole(N_("seed"), seed, 0, 2**31 - 1)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.params: dict = {}
        self._validation = None

    def sample(self, n: int, generator: torch.Generator):
        raise NotImplementedError

    def batch(self, batch_size: int, generator: torch.Generator | None = None):
        """A fresh training batch drawn from ``generator`` (the task's own when None)."""
        n = whole(N_("batch size"), batch_size, 1, MAX_BATCH)
        return self.sample(n, self.generator if generator is None else generator)

    def validation(self):
        """A fixed held-out batch, drawn once from a generator seeded apart from the training one."""
        if self._validation is None:
            self._validation = self.sample(self.val_size, torch.Generator().manual_seed(self.seed + 1_000_003))
        return self._validation

    def example(self):
        """One validation input without its batch dimension, for gradient_flow and trace."""
        return self.validation()[0][0]

    def model_config(self, cell: str | None = None, hidden_size: int | None = None, num_layers: int | None = None,
                     **overrides) -> ModelConfig:
        d = self.defaults
        head = "classify" if self.loss_kind == "ce" else "regress"
        out = len(self.classes) if self.classes is not None else self.output_size
        config = ModelConfig(cell=cell or d.cell, hidden_size=hidden_size or d.hidden_size,
                             num_layers=num_layers or d.num_layers, encoder=self.encoder,
                             input_size=self.input_size if self.encoder == "float" else 0, head=head, output_size=out)
        return replace(config, **overrides)

    def build_model(self, cell: str | None = None, hidden_size: int | None = None, init: InitConfig | None = None,
                    seed: int = 0, **overrides) -> Model:
        """A fresh model for this task, initialized from its own generator seeded with ``seed`` (an ESN's
        reservoir is drawn with ``seed`` too)."""
        config = self.model_config(cell, hidden_size, **overrides)
        if config.cell == "esn":
            config = replace(config, seed=whole(N_("seed"), seed, 0, 2**31 - 1))
        generator = torch.Generator().manual_seed(whole(N_("seed"), seed, 0, 2**31 - 1))
        init = init if init is not None else self.defaults.init
        model = Model(config, self.vocab, init, generator)
        return model

    def predictions(self, out: torch.Tensor) -> torch.Tensor:
        """The outputs the loss reads: ``[batch, outputs]`` (last step) or ``[batch, time, outputs]``."""
        return out[:, -1] if self.many_to_one else out

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        pred = self.predictions(out)
        if self.loss_kind == "ce":
            return F.cross_entropy(pred.reshape(-1, pred.shape[-1]), y.reshape(-1))
        return F.mse_loss(pred, y)

    @torch.no_grad()
    def accuracy(self, out: torch.Tensor, y: torch.Tensor) -> float | None:
        """Fraction of scored outputs that are right; None where accuracy has no meaning (plain regression)."""
        pred = self.predictions(out)
        if self.loss_kind == "ce":
            return (pred.argmax(-1) == y).float().mean().item()
        if self.tolerance is None:
            return None
        return ((pred - y).abs() < self.tolerance).float().mean().item()

    @torch.no_grad()
    def metrics(self, out: torch.Tensor, y: torch.Tensor) -> dict:
        """``loss`` and ``accuracy`` (None where it has no meaning); the text task adds ``bpc``."""
        return {"loss": self.loss(out, y).item(), "accuracy": self.accuracy(out, y)}

    @property
    def chance(self) -> float | None:
        """Accuracy of guessing uniformly among the classes."""
        return 1 / len(self.classes) if self.classes else None

    def card(self) -> dict:
        """What a model card records about the task: its name, seed and parameters."""
        return {"name": self.name, "seed": self.seed, **self.params}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.card().items() if k != "name")
        return f"{type(self).__name__}({args})"


class Letters(Task):
    """The classic letter example: a→b, b→c, c→d, d→e, e→a, learned by 3 memory units.

    ``mode="one"``: one letter in, predict the next. ``mode="four"``: four consecutive letters in, predict
    the fifth. ``encoder`` is ``"onehot"`` or ``"embedding"`` (a learned 2-number code per letter).

    Worked example (mode "four")::

        >>> task = make_task("letters", mode="four")
        >>> x, y = task.validation()                   # all five cases, in order
        >>> task.vocab.decode(x[1]), task.classes[y[1]]
        ('bcde', 'a')

    The vocabulary is closed (no ``<unk>``), so the one-hot input and the softmax are five wide, as in the
    textbook example; ``classes`` is the vocabulary.
    """

    name = "letters"
    LETTERS = "abcde"
    defaults = Defaults(cell="rnn", hidden_size=3, lr=1e-2, batch_size=32, clip=None, steps=300, eval_every=25)

    def __init__(self, mode: str = "one", encoder: str = "onehot", embed_dim: int = 2, seed: int = 0):
        super().__init__(seed)
        self.mode = choice(N_("letters mode"), mode, ("one", "four"))
        self.encoder = choice(N_("encoder"), encoder, ("onehot", "embedding"))
        self.embed_dim = whole(N_("embedding size"), embed_dim, 1, 64)
        self.vocab = Vocab(tuple(self.LETTERS), unk=False)  # five one-hot columns, as in the textbook
        self.classes = self.vocab.tokens
        self.params = {"mode": mode, "encoder": encoder, "embed_dim": embed_dim}

    def sample(self, n, generator):
        start = torch.randint(5, (n,), generator=generator)
        return self._cases(start)

    def _cases(self, start):
        width = 1 if self.mode == "one" else 4
        offsets = torch.arange(width + 1)
        letters = (start[:, None] + offsets) % 5  # vocabulary ids: a=0 … e=4 (a closed vocabulary, no <unk>)
        return letters[:, :width], letters[:, width]

    def validation(self):
        if self._validation is None:
            self._validation = self._cases(torch.arange(5))
        return self._validation

    def model_config(self, cell=None, hidden_size=None, num_layers=None, **overrides):
        extra = {"embed_dim": self.embed_dim} if self.encoder == "embedding" else {}
        return super().model_config(cell, hidden_size, num_layers, **{**extra, **overrides})


class Recall(Task):
    """First-symbol recall: read a symbol, then ``lag`` steps of filler, then name the symbol.

    ``filler="blank"`` repeats one blank token; ``"noise"`` draws digits at random. The answer is read at the
    last step only, so the gradient must cross all ``lag`` steps; chance is ``1/num_symbols``.

    Worked example (lag 3, 4 symbols)::

        >>> task = make_task("recall", lag=3, num_symbols=4, seed=1)
        >>> x, y = task.batch(1)
        >>> task.vocab.decode(x[0]), task.classes[y[0]]
        ('B___', 'B')                                 # time = lag + 1 steps; the target is x[:, 0]
    """

    name = "recall"
    SYMBOLS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    BLANK, NOISE = "_", "0123456789"
    # Tuned at lag 100 (seeds 0-3): chrono init with T_max = 2·lag spreads the forget gates' time constants past
    # the lag and closes the input gates (b_i = −b_f), so the blank steps do not wash the symbol out; the LSTM
    # reaches 100% in 250-400 steps. A forget bias of 5 alone stalled at 11-45%. At lr 1e-2 Adam's steady
    # steps grow the vanilla RNN's W_hh past spectral radius 1 and it reaches 40-90%; at 3e-3 it stays at chance.
    # The class's defaults are for the default lag of 100; an instance sets T_max from its own lag.
    defaults = Defaults(hidden_size=32, lr=3e-3, batch_size=32, clip=1.0, steps=1000, eval_every=50,
                        init=InitConfig(chrono_tmax=200))

    def __init__(self, lag: int = 100, num_symbols: int = 8, filler: str = "blank", seed: int = 0):
        super().__init__(seed)
        self.lag = whole(N_("lag"), lag, 1, 500)
        self.num_symbols = whole(N_("number of symbols"), num_symbols, 2, 26)
        self.filler = choice(N_("filler"), filler, ("blank", "noise"))
        self.classes = tuple(self.SYMBOLS[: self.num_symbols])
        self.vocab = Vocab((*self.classes, self.BLANK, *self.NOISE))
        self.defaults = replace(self.defaults, init=InitConfig(chrono_tmax=max(3, 2 * self.lag)))
        self.params = {"lag": self.lag, "num_symbols": self.num_symbols, "filler": filler}

    def sample(self, n, generator):
        symbol = torch.randint(self.num_symbols, (n,), generator=generator)
        if self.filler == "blank":
            x = torch.full((n, self.lag + 1), self.vocab.index(self.BLANK))
        else:
            first_noise = self.vocab.index(self.NOISE[0])
            x = torch.randint(first_noise, first_noise + len(self.NOISE), (n, self.lag + 1), generator=generator)
        x[:, 0] = symbol + 1  # symbols follow <unk> in the vocabulary
        return x, symbol


class Adding(Task):
    """The adding problem (Hochreiter & Schmidhuber 1997): add the two marked numbers of a long sequence.

    Each step has two features: a value drawn from U(0, 1) and a marker (1 at two steps, else 0), one marker
    in each half of the sequence. The target is the sum of the two marked values, read at the last step;
    MSE loss. Predicting 1 every time scores MSE ≈ 0.167; ``accuracy`` counts answers within 0.04.

    Worked example (length 4)::

        x[0] = [[0.50, 1], [0.20, 0], [0.70, 0], [0.10, 1]]   →   y[0] = [0.60]
    """

    name = "adding"
    loss_kind = "mse"
    encoder = "float"
    input_size = 2
    output_size = 1
    tolerance = 0.04
    defaults = Defaults(hidden_size=32, lr=1e-2, batch_size=32, clip=1.0, steps=2000, eval_every=50,
                        init=InitConfig(forget_bias=1.0))

    def __init__(self, length: int = 50, seed: int = 0):
        super().__init__(seed)
        self.length = whole(N_("sequence length"), length, 2, 1000)
        self.params = {"length": self.length}

    def sample(self, n, generator):
        T = self.length
        values = torch.rand(n, T, generator=generator)
        first = torch.randint(0, T // 2, (n,), generator=generator)
        second = torch.randint(T // 2, T, (n,), generator=generator)
        marker = torch.zeros(n, T)
        rows = torch.arange(n)
        marker[rows, first] = 1
        marker[rows, second] = 1
        y = values[rows, first] + values[rows, second]
        return torch.stack([values, marker], -1), y[:, None]  # [n, T, 2], [n, 1]


class TemporalOrder(Task):
    """Temporal order (Hochreiter & Schmidhuber 1997): in which order did X and Y appear?

    A sequence of random distractors ``a b c d`` holds two relevant symbols, each X or Y: the first in
    the 10–20% stretch of the sequence, the second in the 50–60% stretch. Four classes: XX, XY, YX, YY,
    read at the last step; chance 25%.

    Worked example (length 10)::

        x[0] = "dXabcYdaac"   →   class "XY"     (X at step 1, Y at step 5)
    """

    name = "temporal_order"
    DISTRACTORS, RELEVANT = "abcd", "XY"
    defaults = Defaults(hidden_size=32, lr=1e-2, batch_size=32, clip=1.0, steps=1500, eval_every=50,
                        init=InitConfig(forget_bias=1.0))

    def __init__(self, length: int = 100, seed: int = 0):
        super().__init__(seed)
        self.length = whole(N_("sequence length"), length, 10, 1000)
        self.vocab = Vocab(tuple(self.DISTRACTORS + self.RELEVANT))
        self.classes = ("XX", "XY", "YX", "YY")
        self.params = {"length": self.length}

    def sample(self, n, generator):
        T = self.length
        x = torch.randint(1, 5, (n, T), generator=generator)  # distractors a..d are ids 1..4
        which = torch.randint(2, (n, 2), generator=generator)  # 0 = X, 1 = Y
        lo1, hi1, lo2, hi2 = int(0.1 * T), max(int(0.2 * T), int(0.1 * T) + 1), int(0.5 * T), int(0.6 * T)
        t1 = torch.randint(lo1, hi1, (n,), generator=generator)
        t2 = torch.randint(lo2, max(hi2, lo2 + 1), (n,), generator=generator)
        rows = torch.arange(n)
        x[rows, t1] = which[:, 0] + 5  # X = 5, Y = 6
        x[rows, t2] = which[:, 1] + 5
        return x, which[:, 0] * 2 + which[:, 1]


from .tasks_data import Sentiment, Sine, Stocks, Text  # noqa: E402  (they subclass Task)

TASKS = {cls.name: cls for cls in (Letters, Text, Recall, Adding, TemporalOrder, Stocks, Sine, Sentiment)}


def make_task(name: str, **params) -> Task:
    """The task called ``name``, built with ``params`` (each task's docstring lists them)."""
    cls = TASKS.get(name)
    if cls is None:
        raise ConfigError("Unknown task {name}: choose one of {tasks}.", name=shown(name), tasks=", ".join(TASKS))
    try:
        return cls(**params)
    except TypeError as e:
        import inspect

        known = ", ".join(p for p in inspect.signature(cls).parameters)
        raise ConfigError("The {name} task takes these parameters: {known} ({reason}).", name=name, known=known,
                          reason=str(e)) from None
