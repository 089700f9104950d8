"""Sampling text from a character (or word) model, one token at a time, keeping the probabilities behind each.

    gen = generate(model, prime="def ", length=200, temperature=0.8, seed=0)
    gen.text                      # the generated characters (the prime not included)
    gen.prob[t], gen.top(t)       # p(token_t | tokens before it) under the model, and its top-5 alternatives

Decoding. The model's scores l over the vocabulary become p = softmax(l) (the model's own probabilities, used to
colour the text) and the sampling distribution q = softmax(l / T) at temperature T: T < 1 sharpens q towards the
most likely token, T > 1 flattens it. Greedy decoding takes argmax q (the same for every T); sampling draws from q
with a ``torch.Generator`` seeded with ``seed``, so the same seed gives the same text. The unknown token is never
written (its score is masked out of q); prime characters outside the vocabulary are read as it and reported. A closed
vocabulary (no unknown token, like the letter task's) refuses such characters with a message instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .errors import InputError
from .model import Model
from .vocab import UNK

MAX_PRIME = 2000
MAX_LENGTH = 2000
T_MIN, T_MAX = 0.1, 2.0
TOP_K = 5


def check_generative(model: Model) -> None:
    """Raise InputError unless ``model`` scores its own vocabulary and reads left to right."""
    if model.vocab is None:
        raise InputError("This model reads numbers, not text, so it cannot write text: pick a character model.")
    if model.config.head != "classify" or model.config.output_size != len(model.vocab):
        raise InputError("This model answers with {n} classes, not the next character, so it cannot write text: "
                         "pick a character model (task text or letters).", n=model.config.output_size or 0)
    if model.config.bidirectional:
        raise InputError("This model is bidirectional: it reads the future too, so it cannot write text one "
                         "character at a time. Pick a one-directional model.")


def temperature_probs(logits: torch.Tensor, temperature: float, mask_unk: bool = True) -> torch.Tensor:
    """q = softmax(logits / T) over the last axis; ``mask_unk``: the unknown token (index 0) is never drawn."""
    scaled = logits.double() / temperature
    if mask_unk:
        scaled = scaled.clone()
        scaled[..., 0] = -math.inf
    return torch.softmax(scaled, -1)


def entropy_bits(p: torch.Tensor) -> torch.Tensor:
    """Entropy in bits over the last axis; zero-probability terms count as 0."""
    logp = torch.where(p > 0, torch.log2(p.clamp_min(1e-300)), torch.zeros_like(p))
    return -(p * logp).sum(-1)


@dataclass
class Generation:
    """A prime and the tokens generated after it, with what the model thought at every position.

    Positions run over the prime then the generated tokens (``prime_len + length`` of them):

    - ``tokens``: each token as the model read it (an unknown prime character is ``UNK``); ``typed`` is what was
      typed at prime positions (equal to ``tokens`` elsewhere) and ``unknown`` marks the difference.
    - ``prob`` ``[positions]``: p(token | everything before it) under the model at temperature 1; NaN at 0.
    - ``top_ids`` / ``top_probs`` ``[positions, 5]``: the model's five most likely tokens at that position
      (before seeing it); -1 / NaN at position 0.
    - ``sample_prob`` and ``entropy`` ``[positions]``: the chosen token's probability and the entropy (bits) of
      the distribution it was drawn from, at the chosen temperature (greedy: 1 and 0); NaN over the prime.
    """

    vocab_tokens: tuple[str, ...]
    level: str
    tokens: list[str]
    typed: list[str]
    unknown: list[bool]
    prime_len: int
    prob: np.ndarray
    top_ids: np.ndarray
    top_probs: np.ndarray
    sample_prob: np.ndarray
    entropy: np.ndarray
    temperature: float
    greedy: bool
    seed: int

    @property
    def text(self) -> str:
        sep = "" if self.level == "char" else " "
        return sep.join(self.tokens[self.prime_len:])

    def top(self, position: int) -> list[tuple[str, float]]:
        """The model's top-5 (token, probability) at ``position``; empty at position 0."""
        return [(self.vocab_tokens[i], float(p)) for i, p in zip(self.top_ids[position], self.top_probs[position],
                                                                 strict=True) if i >= 0]

    @property
    def generated(self) -> slice:
        return slice(self.prime_len, len(self.tokens))


def _check_settings(length, temperature, seed) -> tuple[int, float, int]:
    if isinstance(length, bool) or not isinstance(length, int | np.integer) or not 1 <= length <= MAX_LENGTH:
        raise InputError("The length must be a whole number from 1 to {limit:,}.", limit=MAX_LENGTH)
    if not isinstance(temperature, int | float) or not math.isfinite(temperature) or \
            not T_MIN <= temperature <= T_MAX:
        raise InputError("The temperature must be a number from {lo} to {hi}.", lo=T_MIN, hi=T_MAX)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**63:
        raise InputError("The seed must be a whole number, 0 or more.")
    return int(length), float(temperature), int(seed)


@torch.no_grad()
def generate(model: Model, prime: str, length: int = 200, temperature: float = 1.0, seed: int = 0,
             greedy: bool = False) -> Generation:
    """Read ``prime``, then write ``length`` tokens; see the module docstring for the decoding rules."""
    check_generative(model)
    length, temperature, seed = _check_settings(length, temperature, seed)
    vocab = model.vocab
    if not isinstance(prime, str) or not prime:
        raise InputError("Type a prime text for the model to start from, at least one character.")
    typed = vocab.split(prime)
    if not typed:
        raise InputError("The prime has no tokens the model can read: type a word or a character.")
    if len(typed) > MAX_PRIME:
        raise InputError("The prime has {n:,} tokens; the limit is {limit:,}.", n=len(typed), limit=MAX_PRIME)
    model = model.eval()
    unknown = vocab.unknown(prime)
    ids = vocab.encode(prime)  # [P], unknown → 0
    P, N, V = len(ids), len(ids) + length, len(vocab)
    prob = np.full(N, np.nan)
    top_ids = np.full((N, min(TOP_K, V)), -1, dtype=np.int64)
    top_probs = np.full((N, min(TOP_K, V)), np.nan)
    sample_prob, entropy = np.full(N, np.nan), np.full(N, np.nan)

    def record(position: int, logits: torch.Tensor):
        p = torch.softmax(logits.double(), -1)
        tp, ti = p.topk(top_ids.shape[1])
        top_ids[position], top_probs[position] = ti.numpy(), tp.numpy()
        return p

    out, state = model.steps(ids[None])  # [1, P, V]
    for t in range(1, P):
        prob[t] = float(record(t, out[0, t - 1])[ids[t]])
    generator = torch.Generator().manual_seed(seed)
    logits, chosen = out[0, -1], []
    for t in range(P, N):
        p = record(t, logits)
        q = temperature_probs(logits, temperature, mask_unk=vocab.unk)
        if greedy:  # a point mass on the most likely token: q = 1 there, entropy 0
            nxt = int(q.argmax())
            prob[t], sample_prob[t], entropy[t] = float(p[nxt]), 1.0, 0.0
        else:
            nxt = int(torch.multinomial(q, 1, generator=generator))
            prob[t], sample_prob[t], entropy[t] = float(p[nxt]), float(q[nxt]), float(entropy_bits(q))
        chosen.append(nxt)
        if t < N - 1:
            out, state = model.steps(torch.tensor([[nxt]]), state)
            logits = out[0, -1]
    tokens = [UNK if u else tok for tok, u in zip(typed, unknown, strict=True)] + [vocab.tokens[i] for i in chosen]
    return Generation(vocab.tokens, vocab.level, tokens, typed + tokens[P:], unknown + [False] * length, P, prob,
                      top_ids, top_probs, sample_prob, entropy, temperature, greedy, seed)


def train_demo_model(steps: int = 200, hidden: int = 64, cell: str = "gru", seed: int = 0,
                     max_chars: int = 300_000) -> tuple[Model, dict]:
    """A deliberately small character model, trained on Python's standard-library source on the spot.

    For when no pretrained character model is bundled: ~200 steps on 300 kB give about 3 bits per character
    (a trained 128-unit model reaches below 2), enough for code-shaped gibberish. The card says exactly that.
    """
    from .tasks import make_task
    from .train import Trainer

    task = make_task("text", seq_len=64, max_chars=max_chars, seed=seed)
    model = task.build_model(cell, hidden, seed=seed)
    trainer = Trainer(model, task, lr=1e-2, seed=seed, eval_every=None, flow_steps=())
    trainer.step(steps)
    card = {**trainer.card(), "title": f"tiny demo {cell.upper()}, {hidden} units, {steps} steps",
            "cell": cell, "config": {"hidden_size": hidden}, "task": "text",
            "seconds": round(trainer.seconds, 1)}
    return model.eval(), card
