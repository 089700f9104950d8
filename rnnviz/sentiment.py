"""Reading a many-to-one sentiment classifier at every step: /cell's sentiment view.

The classifier (``make_task("sentiment")``, the bundled ``sentiment_lstm``) is trained on its head at the last step
only, but the head is a linear map of the top layer's h_t, so it can be read at every step t::

    p_t = softmax(W h_t + b)[positive]          the prediction had the review ended at character t

Three readings of one review ``x`` of T characters, and one of the model over many reviews:

- ``running(model, x)`` → p_t ``[time]``. A causal model reads no future characters, so p_t equals the model's own
  prediction on the prefix x_0..x_t run on its own.
- ``occlusion(model, text)`` → s_t ``[time]``: s_t = p_T(x) − p_T(x with character t read as <unk>), the change
  in the final prediction when that character is hidden (exact: each edited copy is run again). s_t > 0: the
  character pushed the review towards positive; s_t < 0: towards negative.
- ``gradient_input(model, text)`` → g_t ``[time]``: g_t = ∂p_T/∂e_t · e_t, the first-order (Taylor) estimate of
  the same change when the character's embedding e_t is set to zero (gradient × input).
- ``label_units(model, pairs)`` → r ``[quantity, layer, direction, unit]``: Pearson r of each unit's final h_T
  (and c_T for an LSTM) with the label (1 positive, 0 negative) over a sample of held-out reviews: the units that
  carry sentiment, the probes' way (``rnnviz.probes.correlate``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn.utils.rnn import pack_sequence

from .errors import InputError
from .model import LEAKY, Model
from .probes import correlate
from .trace import Trace, trace

POSITIVE = "positive"
MAX_OCCLUSION = 400  # characters: occlusion runs T edited copies of T steps each
CHUNK = 64  # edited copies run at once


def positive_index(card: dict | None) -> int:
    """Index of the positive class among the head's outputs: from the card's ``classes``, else 1."""
    classes = (card or {}).get("classes") if isinstance(card, dict) else None
    if isinstance(classes, list | tuple) and POSITIVE in classes:
        return list(classes).index(POSITIVE)
    return 1


def is_classifier(model: Model, card: dict | None = None) -> bool:
    """A text model whose head scores classes rather than the next token (its outputs are not its vocabulary)."""
    if isinstance(card, dict) and card.get("group") == "sentiment":
        return True
    return (model.vocab is not None and model.head is not None and model.config.head == "classify"
            and model.config.output_size != len(model.vocab))


def _final_p(model: Model, ids: torch.Tensor, positive: int) -> torch.Tensor:
    """p_T for each row of ``ids`` ``[batch, time]`` → ``[batch]``."""
    return torch.softmax(model(ids)[0][:, -1], -1)[:, positive]


def running(model: Model, x, positive: int = 1) -> np.ndarray:
    """p_t = softmax(W h_t + b)[positive] at every step ``[time]`` (float64), from one trace of ``x``."""
    return running_from_trace(trace(model, x), positive)


def running_from_trace(tr: Trace, positive: int = 1) -> np.ndarray:
    """p_t of :func:`running` from a trace's head output ``[time, classes]``."""
    if tr.output is None:
        raise InputError("This model has no head to read a prediction from.")
    out = torch.as_tensor(tr.output, dtype=torch.float64)  # [time, classes]
    return torch.softmax(out, -1)[:, positive].numpy()


@torch.no_grad()
def occlusion(model: Model, text: str, positive: int = 1) -> np.ndarray:
    """s_t = p_T(x) − p_T(x with character t read as <unk>) ``[time]`` (float64); 0 at a character that is already
    <unk>. Runs T edited copies, ``CHUNK`` at a time; at most ``MAX_OCCLUSION`` characters."""
    ids = model.ids(text)  # [T]
    T = len(ids)
    if T == 0:
        raise InputError("The sequence is empty: type at least one token.")
    if T > MAX_OCCLUSION:
        raise InputError("Occlusion reruns the text once per character: give at most {limit:,} characters, not "
                         "{n:,}.", limit=MAX_OCCLUSION, n=T)
    model = model.eval()
    base = _final_p(model, ids[None], positive)[0].double()
    out = np.empty(T)
    for start in range(0, T, CHUNK):
        rows = torch.arange(start, min(T, start + CHUNK))
        edited = ids.repeat(len(rows), 1)  # [chunk, T]
        edited[torch.arange(len(rows)), rows] = 0  # <unk> is id 0
        out[start:start + len(rows)] = (base - _final_p(model, edited, positive).double()).numpy()
    return out


def gradient_input(model: Model, text: str, positive: int = 1) -> np.ndarray:
    """g_t = Σ_k ∂p_T/∂e_{t,k} · e_{t,k} ``[time]`` (float64): gradient × input on the encoder's output e_t
    ``[time, input]`` (an embedding, or a one-hot vector, for which it is ∂p_T/∂(its one))."""
    model = model.eval()
    e = model.encode(model.ids(text)[None]).detach().requires_grad_(True)  # [1, T, input]
    out, _ = model.rnn(e if model.rnn.batch_first else e.transpose(0, 1))
    out = out if model.rnn.batch_first else out.transpose(0, 1)
    p = torch.softmax(model.head(out[:, -1]), -1)[0, positive]
    (grad,) = torch.autograd.grad(p, e)
    return (grad * e).sum(-1)[0].double().detach().numpy()


@torch.no_grad()
def final_states(model: Model, texts: list[str]) -> np.ndarray:
    """Each text's state after reading all of it ``[text, quantity, layer, direction, unit]``: h (and c for an LSTM)
    at the last step of the forward direction, at the first of the backward one: nn.LSTM/GRU/RNN's h_n (c_n) on
    the texts (none empty) packed without padding, so no <pad> step changes them; other cells run one trace per text."""
    if model.cell in LEAKY or not texts:
        rows = []
        for text in texts:
            tr = trace(model, text)
            D = tr.shape[1]
            rows.append(np.stack([np.stack([tr[q][:, d, -1 if d == 0 else 0] for d in range(D)], 1)
                                  for q in ("h", "c") if q in tr.keys()]))
        return np.stack(rows).astype(np.float64) if rows else np.zeros((0,))
    model = model.eval()
    ids = [model.ids(text) for text in texts]
    packed = pack_sequence([model.encode(i) for i in ids], enforce_sorted=False)
    _, hn = model.rnn(packed)
    states = hn if isinstance(hn, tuple) else (hn,)  # each [layer·direction, text, unit]
    L, D, H = model.rnn.num_layers, model.config.directions, model.rnn.hidden_size
    out = torch.stack([x.reshape(L, D, len(texts), H) for x in states])  # [quantity, layer, direction, text, unit]
    return out.permute(3, 0, 1, 2, 4).double().numpy()


def label_units(model: Model, pairs: list[tuple[str, int]]) -> np.ndarray:
    """Pearson r of every unit's final state (``final_states``) with the label over ``pairs`` (text, label 0/1):
    ``[quantity, layer, direction, unit]``, quantity h (and c for an LSTM); 0 for a constant unit."""
    pairs = [(t, y) for t, y in pairs if t]
    texts = [t for t, _ in pairs]
    labels = np.array([[float(y)] for _, y in pairs])  # [review, 1]
    states = final_states(model, texts)  # [review, quantity, layer, direction, unit]
    r = correlate(states.reshape(len(texts), -1), labels)  # [quantity·layer·direction·unit, 1]
    return r[:, 0].reshape(states.shape[1:])


def best_units(r: np.ndarray, k: int = 8) -> list[tuple[int, int, int, int, float]]:
    """The ``k`` (quantity, layer, direction, unit, r) of largest |r| in ``r`` ``[quantity, layer, direction, unit]``,
    each (layer, direction, unit) once (with its stronger quantity), strongest first."""
    strongest = np.abs(r).argmax(axis=0)  # [layer, direction, unit]
    per_unit = np.take_along_axis(r, strongest[None], axis=0)[0]
    flat = np.argsort(-np.abs(per_unit), axis=None, kind="stable")[:k]
    out = []
    for i in flat:
        layer, d, u = np.unravel_index(i, per_unit.shape)
        out.append((int(strongest[layer, d, u]), int(layer), int(d), int(u), float(per_unit[layer, d, u])))
    return out


def sample_pairs(pairs: list[tuple[str, int]], n: int, max_chars: int = 120, seed: int = 0) -> list[tuple[str, int]]:
    """A seeded sample of ``n`` (text, label) pairs, each text cut to its last ``max_chars`` characters (as the task
    feeds them), balanced between the labels when both have enough."""
    rng = np.random.default_rng(seed)
    by_label = {y: [p for p in pairs if p[1] == y] for y in (0, 1)}
    half = n // 2
    picked = []
    for y, rows in by_label.items():
        take = min(len(rows), half if len(by_label[1 - y]) >= half else n - len(by_label[1 - y]))
        picked += [rows[i] for i in sorted(rng.choice(len(rows), take, replace=False))]
    return [(t[-max_chars:], y) for t, y in picked]
