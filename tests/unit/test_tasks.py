"""Tasks: shapes, determinism from the seed, the worked examples, and refusals of bad parameters."""

import math

import pytest
import torch
from plotly.express import data

from rnnviz.errors import ConfigError, InputError
from rnnviz.tasks import TASKS, make_task
from rnnviz.tasks_data import NEGATIVE, POSITIVE, parse_labelled, stdlib_source, synthetic_reviews

SMALL = {
    "letters": {}, "text": {"text": "the quick brown fox jumps over the lazy dog. " * 20, "seq_len": 16},
    "recall": {"lag": 10}, "adding": {"length": 12}, "temporal_order": {"length": 20}, "stocks": {},
    "sine": {"length": 200, "window": 10}, "sentiment": {"size": 200},
}


@pytest.mark.parametrize("name", TASKS)
def test_batches_fit_the_model_the_task_describes(name):
    task = make_task(name, **SMALL[name])
    x, y = task.batch(5)
    assert x.shape[0] == y.shape[0] == 5
    assert x.dtype == (torch.float32 if task.encoder == "float" else torch.int64)
    model = task.build_model(hidden_size=8)
    out, _ = model(x)
    pred = task.predictions(out)
    if task.loss_kind == "ce":
        assert y.dtype == torch.int64 and pred.shape[:-1] == y.shape and pred.shape[-1] == len(task.classes)
        assert 0 <= int(y.min()) and int(y.max()) < len(task.classes)
    else:
        assert y.dtype == torch.float32 and pred.shape == y.shape
    assert math.isfinite(task.loss(out, y).item())
    xv, yv = task.validation()
    assert xv.shape[1:] == x.shape[1:] or task.name == "text"
    assert set(task.metrics(model(xv)[0], yv)) >= {"loss", "accuracy"}


@pytest.mark.parametrize("name", TASKS)
def test_the_seed_decides_every_batch(name):
    a, b, c = (make_task(name, **SMALL[name], seed=s) for s in (3, 3, 4))
    xa, ya = a.batch(16)
    xb, yb = b.batch(16)
    assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert torch.equal(a.validation()[0], b.validation()[0])
    assert not torch.equal(xa, c.batch(16)[0])
    # a caller's generator (the Trainer's) decides the batch whatever state the task's own one is in
    a.batch(5)
    g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    assert torch.equal(a.batch(8, g1)[0], b.batch(8, g2)[0])


def test_validation_is_fixed_and_held_out():
    task = make_task("recall", lag=5, seed=1)
    x1, _ = task.validation()
    task.batch(64)
    x2, _ = task.validation()
    assert x1 is x2 or torch.equal(x1, x2)
    assert not torch.equal(task.batch(len(x1))[0], x1)


def test_letters_worked_examples():
    one = make_task("letters", mode="one")
    x, y = one.validation()
    pairs = [(one.vocab.decode(a), one.classes[b]) for a, b in zip(x, y, strict=True)]
    assert pairs == [("a", "b"), ("b", "c"), ("c", "d"), ("d", "e"), ("e", "a")]
    four = make_task("letters", mode="four")
    x, y = four.validation()
    cases = [(four.vocab.decode(a), four.classes[b]) for a, b in zip(x, y, strict=True)]
    assert cases == [("abcd", "e"), ("bcde", "a"), ("cdea", "b"), ("deab", "c"), ("eabc", "d")]
    x, y = four.batch(50)
    following = {a: b for a, b in zip("abcde", "bcdea", strict=True)}
    assert all(four.classes[int(t)] == following[four.vocab.decode(s)[-1]] for s, t in zip(x, y, strict=True))
    assert four.defaults.hidden_size == 3 and four.model_config().cell == "rnn"
    assert make_task("letters", encoder="embedding").model_config().embed_dim == 2


def test_recall_target_is_the_first_symbol():
    task = make_task("recall", lag=3, num_symbols=4, seed=1)
    x, y = task.batch(1)
    assert (task.vocab.decode(x[0]), task.classes[y[0]]) == ("B___", "B")  # the docstring's example
    task = make_task("recall", lag=7, filler="noise", seed=2)
    x, y = task.batch(200)
    assert x.shape == (200, 8)
    assert all(task.classes[int(t)] == task.vocab.decode(s)[0] for s, t in zip(x, y, strict=True))
    assert all(set(task.vocab.decode(s)[1:]) <= set("0123456789") for s in x)
    assert len(set(make_task("recall", lag=5).batch(50)[0][:, 1:].flatten().tolist())) == 1  # blank filler
    assert make_task("recall", num_symbols=5).chance == pytest.approx(0.2)


@pytest.mark.parametrize("lag", [0, 501, 2.5, float("nan"), "ten"])
def test_recall_refuses_a_lag_out_of_range(lag):
    with pytest.raises(ConfigError, match="lag"):
        make_task("recall", lag=lag)


def test_adding_target_is_the_sum_of_the_marked_values():
    task = make_task("adding", length=10, seed=5)
    x, y = task.batch(300)
    values, marker = x[..., 0], x[..., 1]
    assert torch.equal(marker.sum(1), torch.full((300,), 2.0))
    assert (marker[:, :5].sum(1) == 1).all() and (marker[:, 5:].sum(1) == 1).all()
    torch.testing.assert_close(y[:, 0], (values * marker).sum(1))
    assert task.loss_kind == "mse" and task.tolerance == 0.04


def test_temporal_order_class_names_the_order_of_the_two_marked_symbols():
    task = make_task("temporal_order", length=50, seed=2)
    x, y = task.batch(200)
    for seq, label in zip(x, y, strict=True):
        text = task.vocab.decode(seq)
        marked = [(i, ch) for i, ch in enumerate(text) if ch in "XY"]
        assert len(marked) == 2 and 5 <= marked[0][0] < 10 and 25 <= marked[1][0] < 30
        assert task.classes[label] == marked[0][1] + marked[1][1]


def test_stocks_split_by_time_and_scaled_on_the_training_part():
    task = make_task("stocks", symbols=["GOOG", "MSFT"], window=8)
    W, split = task.window, task.split
    assert task.values.shape == (105, 2)
    assert torch.allclose(task.values[:split].amin(0), torch.zeros(2)) and torch.allclose(
        task.values[:split].amax(0), torch.ones(2))
    assert int(task.train_starts.max()) + W < split <= int(task.test_starts.min()) + W  # targets on either side
    x, y = task.validation()
    assert x.shape == (105 - split, 8, 2) and torch.equal(y[-1], task.values[-1])
    many = make_task("stocks", window=8, many_to_many=True)
    x, y = many.batch(4)
    assert y.shape == (4, 8, 1) and torch.equal(x[:, 1:], y[:, :-1])
    assert not many.many_to_one and int(many.test_starts.min()) + 1 == many.split
    x, y = task.validation()
    assert 0 < task.persistence_loss() == pytest.approx(torch.mean((x[:, -1] - y) ** 2).item())
    prices = torch.tensor(data.stocks()[["GOOG", "MSFT"]].to_numpy(), dtype=torch.float32)
    torch.testing.assert_close(task.denormalize(task.values), prices)


@pytest.mark.parametrize("params, match", [({"symbols": ["IBM"]}, "Pick stocks"), ({"window": 90}, "window"),
                                           ({"window": 30, "many_to_many": True}, "test windows"),
                                           ({"test_fraction": 0.9}, "test fraction")])
def test_stocks_refuses_bad_parameters(params, match):
    with pytest.raises(ConfigError, match=match):
        make_task("stocks", **params)


def test_sine_without_noise_is_a_sine():
    task = make_task("sine", length=400, period=40, noise=0, window=4, many_to_many=True)
    x, y = task.batch(3)
    wave = torch.sin(2 * math.pi * torch.arange(400) / 40)
    torch.testing.assert_close(task.denormalize(task.values[:, 0]), wave, atol=1e-5, rtol=0)
    assert torch.equal(x[:, 1:], y[:, :-1])
    with pytest.raises(ConfigError, match="noise"):
        make_task("sine", noise=float("nan"))


def test_text_windows_shift_by_one_and_score_bits_per_character():
    task = make_task("text", text="hello hello " * 30, seq_len=8)
    x, y = task.batch(4)
    assert x.shape == y.shape == (4, 8) and torch.equal(x[:, 1:], y[:, :-1])
    assert not task.many_to_one
    xv, yv = task.validation()
    out = task.build_model(hidden_size=4)(xv)[0]
    m = task.metrics(out, yv)
    assert m["bpc"] == pytest.approx(m["loss"] / math.log(2))
    assert len(task.train_ids) + len(task.val_ids) == 360 and len(task.val_ids) >= 9


@pytest.mark.parametrize("text, match", [("", "empty"), ("  \n ", "empty"), ("short", "at least 50"), (42, "empty")])
def test_text_refuses_empty_or_tiny_text(text, match):
    with pytest.raises(InputError, match=match):
        make_task("text", text=text)


def test_stdlib_corpus_is_python_deterministic_and_capped():
    a = stdlib_source(200_000)
    assert a == stdlib_source(200_000) and 100_000 < len(a) <= 200_000
    assert "def " in a and "import " in a
    task = make_task("text", max_chars=200_000)
    assert task.params["source"] == "stdlib" and "\n" in task.vocab.tokens


def test_synthetic_reviews_follow_their_rules():
    for text, label in synthetic_reviews(300, torch.Generator().manual_seed(0)):
        clause = text.split(" but ")[-1].split()
        positive = clause[-1] in POSITIVE
        assert clause[-1] in POSITIVE + NEGATIVE
        assert label == int(positive != ("not" in clause)), text


def test_sentiment_pads_on_the_left_and_reads_user_texts():
    task = make_task("sentiment", texts="+ a lovely film\n- dull\npos: great fun\nneg: a boring plot\n1 good\n0 bad")
    x, y = task.validation()
    assert len(task.train_y) + len(y) == 6
    pad = task.vocab.index("<pad>")
    assert pad == 1 and (task.train_x[:, -1] != pad).all()
    assert task.vocab.level == "word" and task.model_config().encoder == "embedding"
    assert parse_labelled("+ nice\n\n- awful one") == [("nice", 1), ("awful one", 0)]
    with pytest.raises(InputError, match="Line 2"):
        parse_labelled("+ nice\nawful")
    with pytest.raises(InputError, match="labels"):
        make_task("sentiment", texts=[("good", 1)] * 5)


def test_make_task_refuses_unknown_names_parameters_and_batch_sizes():
    with pytest.raises(ConfigError, match="Unknown task"):
        make_task("translation")
    with pytest.raises(ConfigError, match="lag"):
        make_task("adding", lag=3)
    with pytest.raises(ConfigError, match="batch size"):
        make_task("letters").batch(0)
    with pytest.raises(ConfigError, match="mode"):
        make_task("letters", mode="five")
