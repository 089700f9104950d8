"""python -m rnnviz.pretrain: make every bundled model in assets/, reproducibly, with this project's own Trainer.

- ``char_rnn``, ``char_lstm``, ``char_gru``: character models (128 units) on Python's standard-library source
  found on this machine; the /cell and /generate pages open on them. Card metrics: validation bits per char.
- ``recall_rnn``, ``recall_lstm``, ``recall_gru``: first-symbol recall at lag 100 (the task's tuned defaults),
  where the LSTM succeeds and the vanilla RNN stays near chance; the /gradients page opens on them.

Each model is written as NAME.safetensors (weights + model card in the metadata) and NAME.json (the same card,
for people). Seeds are fixed, so a rerun on the same machine and torch version gives the same files.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from .assets import ASSETS
from .checkpoint import make_card, save
from .tasks import make_task
from .train import Trainer

CELLS = ("rnn", "lstm", "gru")
TITLES = {"rnn": "vanilla RNN", "lstm": "LSTM", "gru": "GRU"}


def _write(name: str, model, trainer: Trainer, group: str, title: str, out: Path) -> dict:
    card = {**trainer.card(), "group": group, "title": title, "seconds": round(trainer.seconds, 1)}
    save(model, out / f"{name}.safetensors", card)
    full = make_card(model, card)
    (out / f"{name}.json").write_text(json.dumps(full, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return full


def char_models(steps: int, out: Path, cells=CELLS, hidden: int = 128, log=print) -> list[dict]:
    task = make_task("text", seq_len=100, seed=0)
    cards = []
    for cell in cells:
        model = task.build_model(cell, hidden, seed=0)
        trainer = Trainer(model, task, lr=3e-3, batch_size=32, clip=1.0, seed=0, eval_every=max(steps // 10, 1))
        t0 = time.perf_counter()
        trainer.step(steps)
        card = _write(f"char_{cell}", model, trainer, "char",
                      f"{TITLES[cell]}, {hidden} units, Python source", out)
        log(f"char_{cell}: bpc {card['metrics']['bpc']:.3f} after {steps} steps ({time.perf_counter() - t0:.0f} s)")
        cards.append(card)
    return cards


def recall_models(steps: int, out: Path, lag: int = 100, cells=CELLS, log=print) -> list[dict]:
    cards = []
    for cell in cells:
        task = make_task("recall", lag=lag, seed=0)
        model = task.build_model(cell, seed=0)
        trainer = Trainer(model, task, seed=0)
        t0 = time.perf_counter()
        trainer.step(steps)
        card = _write(f"recall_{cell}", model, trainer, "recall",
                      f"{TITLES[cell]}, recall at lag {lag}", out)
        log(f"recall_{cell}: accuracy {card['metrics']['accuracy']:.3f} (chance {task.chance:.3f}) "
            f"after {steps} steps ({time.perf_counter() - t0:.0f} s)")
        cards.append(card)
    return cards


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--char-steps", type=int, default=3000)
    p.add_argument("--recall-steps", type=int, default=1000)
    p.add_argument("--only", choices=("char", "recall"), default=None)
    p.add_argument("--out", type=Path, default=ASSETS)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "recall"):
        recall_models(args.recall_steps, args.out)
    if args.only in (None, "char"):
        char_models(args.char_steps, args.out)


if __name__ == "__main__":
    main()
