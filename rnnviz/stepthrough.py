"""Step through: one recurrent step at a time, the way textbooks write it, with every intermediate number.

Two notations for the same numbers. Textbooks use row vectors and put the input first::

    h_t = tanh(x_t W_xh + h_{t−1} W_hh + b_h)          W_xh [input, hidden], W_hh [hidden, hidden], b_h [hidden]
    y_t = softmax(h_t W_hy + b_y)                      W_hy [hidden, vocab]

PyTorch uses column vectors and stores the transposes, with two bias vectors whose sum is b_h::

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)  weight_ih_l0 = W_xhᵀ [hidden, input], bias_ih + bias_hh = b_h

For an LSTM (GRU) the G = 4 (3) gate blocks are stacked: PyTorch's rows i|f|g|o (r|z|n) are the textbook's
columns, so W_x here is ``[input, G*hidden]`` and a gate's block is ``W_x[:, k*H:(k+1)*H]``.

What is here, all pure (NumPy and torch, no UI):

- :class:`StepWeights` from a Model (:meth:`StepWeights.from_model`) or typed matrices (:func:`textbook_weights`),
  :func:`walk` → one :class:`Step` per token holding every intermediate vector under a name.
- :func:`train_letters`: the letter task (a→b … e→a) trained on the spot.
- :func:`shape_rows` / :func:`torch_shapes`: the tensor shape at every stage, written out and measured.
- :func:`numpy_layer` / :func:`numpy_forward`: a plain NumPy forward pass, checked by :func:`check_numpy`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .cells import N_BLOCKS
from .errors import ConfigError, InputError, shown
from .i18n import N_, tr
from .model import Model
from .parse import parse_numbers

LETTERS = "abcde"
MAX_STEPS = 24  # a walk is read one step at a time; longer sequences belong on /cell
MAX_TYPED = 1000.0  # typed weights beyond this only saturate every tanh
MAX_TYPED_CHARS = 5000  # a 8 × 8 matrix needs a few hundred

# The worked example of the study notes: 3 memory units, the letter b fed in. x_b W_xh = [-2.3, 0.8, 1.1],
# b_h = [0.5, 0.3, -0.2], so h = tanh([-1.8, 1.1, 0.9]) ≈ [-0.9, 0.8, 0.7] and the output is about 91% c.
# Only those rows are given there; the other entries were fitted here (and rounded to one decimal) so that the
# same matrices also predict a→b, c→d, d→e, e→a, and keep predicting the next letter over a walk like "bcde".
TEXTBOOK = {  # rows of W_xh: a, b, c, d, e; columns of W_hy and b_y: a, b, c, d, e
    "W_xh": "0.9, -1.5, 1.6\n-2.3, 0.8, 1.1\n-1.5, 1.2, -1.3\n-1.8, -1.6, -0.3\n1.2, 1.1, 0.2",
    "W_hh": "0.2, -0.4, 0.8\n-0.1, -0.7, -0.6\n-0.5, 0.7, 0.0",
    "b_h": "0.5, 0.3, -0.2",
    "W_hy": "3.2, 1.3, -0.9, -1.3, -2.6\n3.0, -2.1, 0.8, 2.5, -3.1\n-0.1, 3.2, 2.0, -3.5, -1.1",
    "b_y": "0.0, 0.1, 0.4, -0.7, 0.1",
}


# Weights in both notations -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class StepWeights:
    """One recurrent layer (one direction) in textbook layout, plus the classifier head if it reads this layer.

    ``w_x`` ``[input, G*H]`` = weight_ihᵀ, ``w_h`` ``[H, G*H]`` = weight_hhᵀ, ``b_ih`` and ``b_hh`` ``[G*H]``,
    ``w_y`` ``[H, V]`` = head.weightᵀ and ``b_y`` ``[V]`` (None without a head). ``tokens`` names the one-hot
    places and the head's outputs; ``embedding`` ``[V, E]`` is the lookup table of an embedding encoder.
    """

    cell: str
    w_x: np.ndarray
    w_h: np.ndarray
    b_ih: np.ndarray
    b_hh: np.ndarray
    tokens: tuple[str, ...]
    w_y: np.ndarray | None = None
    b_y: np.ndarray | None = None
    embedding: np.ndarray | None = None
    nonlinearity: str = "tanh"
    unk: bool = True  # <unk> sits at index 0; False for a closed vocabulary (the letters, typed matrices)

    @property
    def hidden(self) -> int:
        return self.w_h.shape[0]

    @property
    def input_size(self) -> int:
        return self.w_x.shape[0]

    @property
    def b(self) -> np.ndarray:
        """The effective bias b_ih + b_hh (the textbook's b_h, per gate block)."""
        return self.b_ih + self.b_hh

    @classmethod
    def from_model(cls, model: Model, layer: int = 0, direction: int = 0) -> StepWeights:
        """The weights of one layer and direction of ``model``, transposed to textbook layout, as float64."""
        if model.vocab is None:
            raise InputError("Step-through reads text: pick a model with a vocabulary.")
        w_ih, w_hh, b_ih, b_hh = (None if p is None else p.detach().double().numpy()
                                  for p in model.layer_weights(layer, direction))
        zeros = np.zeros(w_hh.shape[0])
        top = layer == model.config.num_layers - 1 and model.config.directions == 1
        head = model.head if top and model.config.head == "classify" else None
        emb = model.embedding.weight.detach().double().numpy() if model.embedding is not None else None
        return cls(model.cell, w_ih.T.copy(), w_hh.T.copy(), zeros if b_ih is None else b_ih,
                   zeros if b_hh is None else b_hh, model.vocab.tokens,
                   None if head is None else head.weight.detach().double().numpy().T.copy(),
                   None if head is None else head.bias.detach().double().numpy(),
                   emb if layer == 0 else None, model.config.nonlinearity, model.vocab.unk)

    def torch_params(self) -> dict[str, np.ndarray]:
        """The same layer under PyTorch's names and layout (``weight_ih_l0`` = W_xᵀ, …)."""
        return {"weight_ih_l0": self.w_x.T, "weight_hh_l0": self.w_h.T, "bias_ih_l0": self.b_ih,
                "bias_hh_l0": self.b_hh}

    def encode(self, text: str) -> tuple[np.ndarray, list[str], list[bool]]:
        """(x ``[time, input]``, tokens, unknown): one-hot rows or embedding rows for each character."""
        if not isinstance(text, str) or not text.strip():
            raise InputError("Type a sequence of letters, e.g. bcde.")
        if len(text) > MAX_STEPS:
            raise InputError("The sequence has {n:,} characters; step-through takes at most {most}.", n=len(text),
                             most=MAX_STEPS)
        index = {t: i for i, t in enumerate(self.tokens)}
        unknown = [c not in index for c in text]
        if any(unknown) and not self.unk:
            bad = next(c for c, u in zip(text, unknown, strict=True) if u)
            raise InputError("{token} has no row in W_xh: this vocabulary is closed, use only {tokens}.",
                             token=repr(bad), tokens=" ".join(self.tokens))
        ids = np.array([index.get(c, 0) for c in text])
        if self.embedding is not None:
            x = self.embedding[ids]
        else:
            x = np.eye(len(self.tokens))[ids]
        return x, list(text), unknown


def _rows(text: str, name: str) -> list[str]:
    body = text.strip()
    if body.startswith("[") and body.endswith("]"):
        body = body[1:-1]  # a pasted NumPy or Python literal: [[1, 2], [3, 4]]
    rows = [r.strip().strip(",").strip() for r in re.split(r"[\n;]|\]\s*,?\s*\[", body)]
    rows = [r.strip("[]").strip() for r in rows]
    if not any(rows):
        raise InputError("{name} is empty: type its numbers, one row per line.", name=name)
    return [r for r in rows if r]


def parse_matrix(text: str, name: str, shape: tuple[int, int] | None = None) -> np.ndarray:
    """A typed matrix, one row per line (or rows separated by ``;``), numbers by commas or spaces → float64.

    Rejects NaN, infinity, stray characters, ragged rows and (with ``shape``) the wrong size, each with a
    sentence that names the matrix and the row.
    """
    if not isinstance(text, str):
        raise InputError("{name} must be typed as text.", name=name)
    if len(text) > MAX_TYPED_CHARS:
        raise InputError("{name} has {n:,} characters; a matrix here takes at most {most:,}.", name=name,
                         n=len(text), most=MAX_TYPED_CHARS)
    rows = []
    for r, row in enumerate(_rows(text, name), start=1):
        try:
            parse_numbers(row, max_abs=MAX_TYPED)  # validates; its float32 would turn 0.1 into 0.100000001
        except InputError as err:
            raise InputError("{name}, row {r}: {reason}", name=name, r=r, reason=err) from None
        rows.append(np.array([float(e) for e in re.split(r"[,\s]+", row) if e], dtype=np.float64))
    widths = {len(r) for r in rows}
    if len(widths) > 1:
        lens = ", ".join(str(len(r)) for r in rows[:8]) + (", …" if len(rows) > 8 else "")
        raise InputError("{name}: every row needs the same number of entries; the rows have {lens}.", name=name,
                         lens=lens)
    m = np.stack(rows)
    if shape is not None and m.shape != shape:
        raise InputError("{name} must be {rows} × {cols} ({rows} row(s) of {cols} numbers); it is {r} × {c}.",
                         name=name, rows=shape[0], cols=shape[1], r=m.shape[0], c=m.shape[1])
    return m


def parse_vector(text: str, name: str, size: int | None = None) -> np.ndarray:
    m = parse_matrix(text, name)
    if m.shape[0] != 1 and m.shape[1] != 1:
        raise InputError("{name} is a vector: type one row of numbers.", name=name)
    v = m.reshape(-1)
    if size is not None and v.size != size:
        raise InputError("{name} needs {size} numbers; it has {n}.", name=name, size=size, n=v.size)
    return v


def textbook_weights(w_xh: str, w_hh: str, b_h: str, w_hy: str, b_y: str, letters: str = LETTERS,
                     max_hidden: int = 8) -> StepWeights:
    """A vanilla RNN typed in textbook layout over ``letters`` (one-hot, no unknown token).

    The number of memory units is read from b_h; every other shape is checked against it and the letters.
    PyTorch would hold b_h as bias_ih with bias_hh = 0.
    """
    V = len(letters)
    b = parse_vector(b_h, "b_h")
    H = b.size
    if H > max_hidden:
        raise InputError("b_h has {H} numbers; step-through takes at most {most} memory units.", H=H, most=max_hidden)
    wx = parse_matrix(w_xh, "W_xh", (V, H))
    wh = parse_matrix(w_hh, "W_hh", (H, H))
    wy = parse_matrix(w_hy, "W_hy", (H, V))
    by = parse_vector(b_y, "b_y", V)
    return StepWeights("rnn", wx, wh, b, np.zeros(H), tuple(letters), wy, by, unk=False)


# One step, every number ----------------------------------------------------------------------------------------


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * a))  # = 1 / (1 + e^−a), without overflow warnings for large |a|


def softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max())
    return e / e.sum()


@dataclass
class Step:
    """Every intermediate of one step under a name; all vectors are 1-D float64.

    ==========  ==============================================  =========
    name        meaning                                         cells
    ==========  ==============================================  =========
    x           x_t, what the encoder feeds in                  all
    h_prev      h_{t−1}                                         all
    xW, hW      x_t W_x and h_{t−1} W_h, every gate block       all
    b_ih, b_hh  the two biases (their sum is b)                 all
    a           x_t W_x + h_{t−1} W_h + b (pre-activation)      rnn, lstm
    i f g o     gates and candidate                             lstm
    c_prev, c   c_{t−1}, c_t                                    lstm
    tanh_c      tanh(c_t)                                       lstm
    r z         reset and update gates                          gru
    hn          h_{t−1} W_hn + b_hn                             gru
    n           candidate n_t                                   gru
    h           h_t                                             all
    hWy, b_y    h_t W_hy and b_y                                with a head
    logits      h_t W_hy + b_y                                  with a head
    probs       softmax(logits)                                 with a head
    ==========  ==============================================  =========
    """

    t: int
    token: str
    unknown: bool
    values: dict[str, np.ndarray]

    def __getitem__(self, key: str) -> np.ndarray:
        return self.values[key]

    @property
    def prediction(self) -> int | None:
        return None if "probs" not in self.values else int(np.argmax(self.values["probs"]))


def step(w: StepWeights, x: np.ndarray, h_prev: np.ndarray, c_prev: np.ndarray | None = None) -> dict:
    """One step of ``w.cell`` from x_t, h_{t−1} (and c_{t−1}): every intermediate by name (see :class:`Step`)."""
    v = {"x": x, "h_prev": h_prev, "xW": x @ w.w_x, "hW": h_prev @ w.w_h, "b_ih": w.b_ih, "b_hh": w.b_hh}
    H = w.hidden
    if w.cell == "rnn":
        v["a"] = v["xW"] + v["hW"] + w.b
        v["h"] = np.tanh(v["a"]) if w.nonlinearity == "tanh" else np.maximum(v["a"], 0)
    elif w.cell == "lstm":
        v["a"] = v["xW"] + v["hW"] + w.b
        ai, af, ag, ao = np.split(v["a"], 4)
        v.update(i=sigmoid(ai), f=sigmoid(af), g=np.tanh(ag), o=sigmoid(ao))
        v["c_prev"] = np.zeros(H) if c_prev is None else c_prev
        v["c"] = v["f"] * v["c_prev"] + v["i"] * v["g"]
        v["tanh_c"] = np.tanh(v["c"])
        v["h"] = v["o"] * v["tanh_c"]
    else:
        xr, xz, xn = np.split(v["xW"] + w.b_ih, 3)
        hr, hz, hn = np.split(v["hW"] + w.b_hh, 3)
        v.update(r=sigmoid(xr + hr), z=sigmoid(xz + hz), hn=hn)
        v["n"] = np.tanh(xn + v["r"] * hn)
        v["h"] = (1 - v["z"]) * v["n"] + v["z"] * h_prev
    if w.w_y is not None:
        v["hWy"], v["b_y"] = v["h"] @ w.w_y, w.b_y
        v["logits"] = v["hWy"] + v["b_y"]
        v["probs"] = softmax(v["logits"])
    return v


GATE_PARTS = {  # column headers of gate_rows' parts
    "lstm": ["x_t W_x·", "h_t−1 W_h·", "b· = b_i· + b_h·"],
    "gru": ["x_t W_x· + b_i·", "h_t−1 W_h· + b_h·  (n: times r_t)"],
}


def gate_rows(s: Step, cell: str) -> list[dict]:
    """One row per gate of an LSTM or GRU step: the parts added inside its activation, their sum, the result.

    Each row is {"gate", "name", "parts": {label: vector}, "pre", "act", "value"}; ``value`` = act(``pre``) and
    ``pre`` is the sum of the parts. LSTM parts: x_t W, h_{t−1} W and the bias b = b_ih + b_hh. GRU parts keep each
    bias with its side, because the candidate multiplies only the h side by r_t.
    """
    v, rows = s.values, []
    if cell == "lstm":
        b = np.split(v["b_ih"] + v["b_hh"], 4)
        for k, (gate, name, act) in enumerate((("i", "input gate", "σ"), ("f", "forget gate", "σ"),
                                              ("g", "candidate", "tanh"), ("o", "output gate", "σ"))):
            parts = {f"x_t W_x{gate}": np.split(v["xW"], 4)[k], f"h_t−1 W_h{gate}": np.split(v["hW"], 4)[k],
                     f"b_{gate}": b[k]}
            rows.append({"gate": gate, "name": name, "parts": parts, "pre": np.split(v["a"], 4)[k], "act": act,
                         "value": v[gate]})
    elif cell == "gru":
        xs, hs = np.split(v["xW"] + v["b_ih"], 3), np.split(v["hW"] + v["b_hh"], 3)
        for k, (gate, name) in enumerate((("r", "reset gate"), ("z", "update gate"))):
            parts = {f"x_t W_x{gate} + b_i{gate}": xs[k], f"h_t−1 W_h{gate} + b_h{gate}": hs[k]}
            rows.append({"gate": gate, "name": name, "parts": parts, "pre": xs[k] + hs[k], "act": "σ",
                         "value": v[gate]})
        parts = {"x_t W_xn + b_in": xs[2], "r_t ⊙ (h_t−1 W_hn + b_hn)": v["r"] * v["hn"]}
        rows.append({"gate": "n", "name": "candidate", "parts": parts, "pre": xs[2] + v["r"] * v["hn"],
                     "act": "tanh", "value": v["n"]})
    return rows


def walk(w: StepWeights, text: str) -> list[Step]:
    """Run ``w`` over ``text`` from h_0 = 0 (and c_0 = 0), one :class:`Step` per character."""
    xs, tokens, unknown = w.encode(text)
    h, c = np.zeros(w.hidden), np.zeros(w.hidden)
    steps = []
    for t, x in enumerate(xs):
        v = step(w, x, h, c)
        h, c = v["h"], v.get("c", c)
        steps.append(Step(t, tokens[t], unknown[t], v))
    return steps


def textbook_example() -> StepWeights:
    """The worked letter example as typed matrices (see ``TEXTBOOK``)."""
    return textbook_weights(**{k.lower(): v for k, v in TEXTBOOK.items()})


# The letter task, trained on the spot -------------------------------------------------------------------------


def train_letters(cell: str = "rnn", mode: str = "four", encoder: str = "onehot", seed: int = 0, steps: int = 150,
                  lr: float = 3e-2) -> tuple[Model, dict]:
    """A 3-unit model trained on the letter task (a→b … e→a); (model in eval mode, validation metrics).

    150 Adam steps at lr 3e-2 reach 100% on all five cases for every cell and mode (about 0.3 s on one core).
    """
    from .tasks import make_task
    from .train import Trainer

    task = make_task("letters", mode=mode, encoder=encoder, seed=seed)
    model = task.build_model(cell, 3, seed=seed)
    trainer = Trainer(model, task, lr=lr, seed=seed, eval_every=None, flow_steps=())
    trainer.step(steps)
    return model.eval(), trainer.metrics()


# One-hot against embedding --------------------------------------------------------------------------------------


ENCODING_COLUMNS = (N_("encoder"), N_("numbers per token"), N_("nonzero per token"), N_("input to the cell"),
                    N_("lookup table"), N_("parameters"))  # encoding_sizes' columns, besides W_xh


def encoding_sizes(vocab: int, embed_dim: int, hidden: int, steps: int, gates: int = 1,
                   lang: str = "en") -> list[dict]:
    """What each encoder feeds the first layer, and what it costs in parameters, for one sequence (column names
    and words in ``lang``)."""
    G = gates
    k = {name: tr(lang, name) for name in ENCODING_COLUMNS}
    return [
        {k["encoder"]: tr(lang, "one-hot"), k["numbers per token"]: vocab, k["nonzero per token"]: 1,
         k["input to the cell"]: f"[{steps}, {vocab}]", k["lookup table"]: tr(lang, "none"),
         "W_xh": f"[{vocab}, {G * hidden}]", k["parameters"]: vocab * G * hidden},
        {k["encoder"]: tr(lang, "embedding"), k["numbers per token"]: embed_dim, k["nonzero per token"]: embed_dim,
         k["input to the cell"]: f"[{steps}, {embed_dim}]", k["lookup table"]: f"[{vocab}, {embed_dim}]",
         "W_xh": f"[{embed_dim}, {G * hidden}]", k["parameters"]: vocab * embed_dim + embed_dim * G * hidden},
    ]


# Shapes -----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShapeSpec:
    cell: str = "lstm"
    hidden: int = 3
    layers: int = 1
    bidirectional: bool = False
    batch: int = 32  # samples
    time: int = 4  # timesteps
    vocab: int = 6  # tokens, <unk> included: the one-hot width and the head's outputs
    encoder: str = "onehot"  # "onehot" | "embedding"
    embed_dim: int = 2
    return_sequences: bool = True  # the top layer's output at every step, or only the last

    def __post_init__(self):
        if self.cell not in N_BLOCKS:
            raise ConfigError("Unknown cell {cell}: choose rnn, lstm or gru.", cell=shown(self.cell))
        if self.encoder not in ("onehot", "embedding"):
            raise ConfigError("Unknown encoder {encoder}: choose onehot or embedding.", encoder=shown(self.encoder))
        for name, value, hi in ((N_("hidden size"), self.hidden, 1024), (N_("number of layers"), self.layers, 6),
                                (N_("batch size"), self.batch, 4096), (N_("number of timesteps"), self.time, 10_000),
                                (N_("vocabulary size"), self.vocab, 5000),
                                (N_("embedding size"), self.embed_dim, 1024)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= hi:
                raise ConfigError("The {name} must be a whole number from 1 to {most:,}.", name=name, most=hi)

    @property
    def features(self) -> int:
        return self.vocab if self.encoder == "onehot" else self.embed_dim


@dataclass(frozen=True)
class ShapeRow:
    key: str  # what torch_shapes measures under the same key
    stage: str
    keras: str  # the name and axes frameworks describing [samples, timesteps, features] use
    torch: str  # PyTorch's name (batch_first=True)
    shape: tuple[int, ...]


def shape_rows(s: ShapeSpec, lang: str = "en") -> list[ShapeRow]:
    """The shape at every stage of the configured model, written out from the sizes alone (stages in ``lang``)."""
    B, T, H, L, D, G, V = s.batch, s.time, s.hidden, s.layers, 2 if s.bidirectional else 1, N_BLOCKS[s.cell], s.vocab
    every, last = "return_sequences=True: [samples, timesteps, units]", "return_sequences=False: [samples, units]"
    states = "return_state=True: one [samples, units] per layer"
    enc = ("one-hot", "to_categorical(x)", "F.one_hot(x)") if s.encoder == "onehot" else \
        ("embedding", "Embedding(vocab, dim)(x)", "nn.Embedding(vocab, dim)(x)")
    encoded = tr(lang, "one-hot input to layer 1") if s.encoder == "onehot" else tr(lang, "embedding input to layer 1")
    rows = [ShapeRow("tokens", tr(lang, "token ids"), "[samples, timesteps]", "x (int64)", (B, T)),
            ShapeRow("encoded", encoded, f"{enc[1]}: [samples, timesteps, features]", enc[2], (B, T, s.features))]
    rows += [ShapeRow(f"layer{k}", tr(lang, "layer {k} output, input to layer {n}", k=k + 1, n=k + 2), every,
                      tr(lang, "output of layer {k}", k=k + 1), (B, T, D * H)) for k in range(L - 1)]
    if s.return_sequences:
        rows.append(ShapeRow("output", tr(lang, "top layer, every step"), every, "output", (B, T, D * H)))
    else:  # a backward direction's last state is at t = 1, so its half is h_n, not output[:, -1]
        rows.append(ShapeRow("output", tr(lang, "top layer, last step only"), last,
                             "output[:, -1]" if D == 1 else "cat(h_n[-2], h_n[-1])", (B, D * H)))
    rows.append(ShapeRow("h_n", tr(lang, "final hidden state, every layer and direction"), states, "h_n",
                         (L * D, B, H)))
    if s.cell == "lstm":
        rows.append(ShapeRow("c_n", tr(lang, "final cell state, every layer and direction"), states, "c_n",
                             (L * D, B, H)))
    rows.append(ShapeRow("head", tr(lang, "scores over the vocabulary"), "Dense(vocab)", "nn.Linear(D*hidden, vocab)",
                         (B, T, V) if s.return_sequences else (B, V)))
    # Keras keeps one bias vector, except its GRU (reset_after=True, the default), which keeps two as PyTorch does
    bias = f"bias: [2, {G}·units] (two rows)" if s.cell == "gru" else f"bias: [{G}·units] (their sum)"
    for k in range(L):
        for sfx in ("", "_reverse")[:D]:
            rows += [ShapeRow(f"weight_ih_l{k}{sfx}", tr(lang, "layer {k} input weights", k=k + 1),
                              f"kernel: [{'features' if k == 0 else 'inputs'}, {G}·units] = W_xh",
                              f"weight_ih_l{k}{sfx} = W_xhᵀ", (G * H, s.features if k == 0 else D * H)),
                     ShapeRow(f"weight_hh_l{k}{sfx}", tr(lang, "layer {k} recurrent weights", k=k + 1),
                              f"recurrent_kernel: [units, {G}·units] = W_hh", f"weight_hh_l{k}{sfx} = W_hhᵀ",
                              (G * H, H))]
            rows += [ShapeRow(f"bias_{b}_l{k}{sfx}", tr(lang, "layer {k} bias ({b})", k=k + 1, b=b), bias,
                              f"bias_{b}_l{k}{sfx}", (G * H,)) for b in ("ih", "hh")]
    return rows


_MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


@torch.no_grad()
def torch_shapes(s: ShapeSpec) -> dict[str, tuple[int, ...]]:
    """The shapes PyTorch actually produces for ``s``, measured by running the modules on random tokens."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, s.vocab, (s.batch, s.time), generator=g)
    z = F.one_hot(x, s.vocab).float() if s.encoder == "onehot" else nn.Embedding(s.vocab, s.embed_dim)(x)
    shapes = {"tokens": tuple(x.shape), "encoded": tuple(z.shape)}
    D = 2 if s.bidirectional else 1
    stacked = _MODULES[s.cell](s.features, s.hidden, s.layers, batch_first=True, bidirectional=s.bidirectional)
    shapes.update({k: tuple(v.shape) for k, v in stacked.state_dict().items()})
    out, state = stacked(z)
    h_n, c_n = state if s.cell == "lstm" else (state, None)
    y = z
    for k in range(s.layers - 1):  # the stacked module hides its inner outputs: run the layers one by one
        single = _MODULES[s.cell](y.shape[-1], s.hidden, 1, batch_first=True, bidirectional=s.bidirectional)
        y = single(y)[0]
        shapes[f"layer{k}"] = tuple(y.shape)
    if not s.return_sequences:
        out = out[:, -1] if D == 1 else torch.cat([h_n[-2], h_n[-1]], -1)
    shapes["output"] = tuple(out.shape)
    shapes["h_n"] = tuple(h_n.shape)
    if c_n is not None:
        shapes["c_n"] = tuple(c_n.shape)
    shapes["head"] = tuple(nn.Linear(D * s.hidden, s.vocab)(out).shape)
    return shapes


# A plain NumPy forward pass (shown on the page as source code) ------------------------------------------------


def numpy_layer(x, w_ih, w_hh, b_ih, b_hh, cell="rnn", reverse=False, nonlinearity="tanh"):
    """One recurrent layer over x [time, input], written with textbook row vectors: x_t W + h_{t-1} U + b.

    Takes PyTorch's weights (W_ih is [G*hidden, input]) and returns every h_t [time, hidden], the last h and
    the last c (LSTM; zeros otherwise).
    """
    W_x, W_h, b = w_ih.T, w_hh.T, b_ih + b_hh  # PyTorch stores the transposes; its two biases add up to b
    hidden = w_hh.shape[1]
    h, c = np.zeros(hidden), np.zeros(hidden)
    out = np.zeros((len(x), hidden))
    for t in reversed(range(len(x))) if reverse else range(len(x)):
        if cell == "rnn":
            a = x[t] @ W_x + h @ W_h + b
            h = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)
        elif cell == "lstm":
            i, f, g, o = np.split(x[t] @ W_x + h @ W_h + b, 4)  # gate order i, f, g, o
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
        else:  # GRU, gate order r, z, n; r multiplies (h W_hn + b_hn), after the matmul, as PyTorch does
            xr, xz, xn = np.split(x[t] @ W_x + b_ih, 3)
            hr, hz, hn = np.split(h @ W_h + b_hh, 3)
            r, z = sigmoid(xr + hr), sigmoid(xz + hz)
            n = np.tanh(xn + r * hn)
            h = (1 - z) * n + z * h
        out[t] = h
    return out, h, c


def numpy_forward(x, params, cell="rnn", num_layers=1, bidirectional=False, nonlinearity="tanh"):
    """A stacked (and bidirectional) network over x [time, features] with PyTorch's parameter names.

    Returns (output [time, directions*hidden], h_n [layers*directions, hidden], c_n likewise), the shapes an
    nn.RNN / nn.LSTM / nn.GRU returns for one unbatched sequence.
    """
    h_n, c_n = [], []
    for k in range(num_layers):
        outs = []
        for d, suffix in enumerate(["", "_reverse"][: 2 if bidirectional else 1]):
            w = [params[f"{name}_l{k}{suffix}"] for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            out, h, c = numpy_layer(x, *w, cell=cell, reverse=d == 1, nonlinearity=nonlinearity)
            outs.append(out)
            h_n.append(h)
            c_n.append(c)
        x = np.concatenate(outs, axis=1)  # the next layer reads both directions side by side
    return x, np.stack(h_n), np.stack(c_n)


@torch.no_grad()
def check_numpy(params: dict[str, np.ndarray], x: np.ndarray, cell: str, num_layers: int = 1,
                bidirectional: bool = False, nonlinearity: str = "tanh") -> dict:
    """Run :func:`numpy_forward` and the same weights in PyTorch's own module; the largest differences.

    Returns {"numpy": (out, h_n, c_n), "torch": (…), "diff": {"output", "h_n", "c_n" (LSTM)}}. Both run in
    float64, so a difference above 1e-9 would be a real disagreement, not rounding.
    """
    H = params["weight_hh_l0"].shape[1]
    kwargs = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
    module = _MODULES[cell](x.shape[1], H, num_layers, bidirectional=bidirectional, **kwargs).double()
    full = {k: torch.from_numpy(np.ascontiguousarray(params[k], dtype=np.float64)) for k in module.state_dict()}
    module.load_state_dict(full)
    out, state = module(torch.from_numpy(np.asarray(x, dtype=np.float64)))
    h_n, c_n = state if cell == "lstm" else (state, None)
    ours = numpy_forward(np.asarray(x, dtype=np.float64), params, cell, num_layers, bidirectional, nonlinearity)
    theirs = (out.numpy(), h_n.numpy(), None if c_n is None else c_n.numpy())
    diff = {"output": float(np.abs(ours[0] - theirs[0]).max()), "h_n": float(np.abs(ours[1] - theirs[1]).max())}
    if c_n is not None:
        diff["c_n"] = float(np.abs(ours[2] - theirs[2]).max())
    return {"numpy": ours, "torch": theirs, "diff": diff}


def model_params(model: Model) -> dict[str, np.ndarray]:
    """A model's recurrent parameters under PyTorch's names, as float64 arrays."""
    return {k: v.detach().double().numpy() for k, v in model.rnn.state_dict().items()}
