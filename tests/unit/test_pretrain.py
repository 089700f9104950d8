"""The pretraining corpus (tests left out, validation by whole files), bits per character, and resumable training."""

import argparse
import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnviz import corpus as corpus_mod
from rnnviz import pretrain
from rnnviz.checkpoint import load
from rnnviz.corpus import bits_per_char, excluded, heldout_files, stdlib_corpus
from rnnviz.model import Model, ModelConfig
from rnnviz.pretrain import CorpusText, load_state, lr_at, parse_args, save_state, train_char
from rnnviz.train import Trainer
from rnnviz.vocab import Vocab


@pytest.mark.parametrize("rel, out", [("os.py", False), ("json/decoder.py", False), ("test/test_os.py", True),
                                      ("lib2to3/tests/data/x.py", True), ("idlelib/idle_test/htest.py", True),
                                      ("ctypes/test_x/a.py", True), ("site-packages/numpy/a.py", True),
                                      ("email/test_email.py", True), ("pkg/thing_test.py", True),
                                      ("pydoc_data/topics.py", True), ("contest.py", False)])
def test_excluded_paths(rel, out):
    assert excluded(rel) is out


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


FILES = {f"pkg{i % 3}/mod{i:02d}.py": f"def f{i}():\n    return {i} * 'x'\n" for i in range(40)}
FILES.update({"b.py": "print('b')\n", "a.py": "import os\n", "test/test_a.py": "assert 0\n", "notes.txt": "no\n",
              "pkg0/tests/t.py": "assert 0\n"})


def test_corpus_splits_by_whole_files_in_sorted_order(tmp_path):
    root = _tree(tmp_path, FILES)
    c = stdlib_corpus(0.3, str(root))
    kept = sorted(r for r in FILES if r.endswith(".py") and "test" not in r)
    assert sorted(c.train_files + c.val_files) == kept and not set(c.train_files) & set(c.val_files)
    for part in (c.train_files, c.val_files):
        assert list(part) == sorted(part)
    in_val = {r for r in kept if int(hashlib.sha256(r.encode()).hexdigest()[:8], 16) < 0.3 * 16**8}
    assert set(c.val_files) == in_val and 0 < len(in_val) < len(kept)
    assert c.train == "".join(FILES[r] for r in c.train_files) and c.val == "".join(FILES[r] for r in c.val_files)
    card = c.card()
    assert card["train_chars"] == len(c.train) and card["val_files"] == list(c.val_files)


def test_the_machines_standard_library_corpus():
    c = stdlib_corpus()
    assert 8_000_000 < len(c.train) and 200_000 < len(c.val) < 0.15 * len(c.train)
    for rel in c.train_files + c.val_files:
        parts = rel.split("/")
        assert not {"test", "tests", "idle_test", "site-packages"} & set(parts), rel
    assert "os.py" in c.train_files + c.val_files


def test_heldout_source_is_third_party_whole_files():
    files = heldout_files(20_000)
    names = [rel for rel, _ in files]
    assert {n.split("/")[0] for n in names} == {"numpy", "plotly"}
    for package in ("numpy", "plotly"):
        texts = [t for rel, t in files if rel.startswith(package + "/")]
        assert 0 < sum(map(len, texts)) <= 20_000
    rel, text = files[0]
    package, _, inner = rel.partition("/")
    assert (corpus_mod.package_root(package) / inner).read_text(encoding="utf-8") == text


def _model(hidden=8, seed=0):
    vocab = Vocab(tuple("abc xyz\n"))
    return Model(ModelConfig("lstm", hidden, encoder="embedding", embed_dim=4), vocab,
                 generator=torch.Generator().manual_seed(seed))


def test_bits_per_char_matches_a_window_by_window_computation():
    model = _model()
    text = "abc xyz abba\nzyx " * 40 + "q"  # q is outside the vocabulary: the <unk> target
    window = 37
    ids = model.ids(text).numpy()
    total, count = 0.0, 0
    with torch.no_grad():
        for k in range((len(ids) - 1) // window):
            chunk = ids[k * window: (k + 1) * window + 1]
            logits = model(torch.tensor(chunk[:-1])[None])[0][0].double().numpy()  # one window, fresh state
            logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
            total -= logp[np.arange(window), chunk[1:]].sum()
            count += window
    assert bits_per_char(model, text, window=window, batch=5) == pytest.approx(total / count / math.log(2), rel=1e-5)


def test_bits_per_char_of_a_uniform_model_is_log2_of_the_vocabulary():
    model = _model()
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
    assert bits_per_char(model, "abc " * 300, window=50) == pytest.approx(math.log2(len(model.vocab)), rel=1e-6)


def test_learning_rate_schedule():
    assert lr_at(0.0, 2e-3, 0.05) == lr_at(0.49, 2e-3, 0.05) == 2e-3
    assert lr_at(0.75, 2e-3, 0.05) == pytest.approx(2e-3 * (0.05 + 0.95 / 2))
    assert lr_at(1.0, 2e-3, 0.05) == pytest.approx(1e-4) and lr_at(2.0, 2e-3, 0.05) == pytest.approx(1e-4)


def _task(tmp_path):
    root = _tree(tmp_path / "lib", FILES)
    return CorpusText(stdlib_corpus(0.3, str(root)), seq_len=12, embed_dim=4, min_count=1)


def test_a_resumed_run_matches_an_uninterrupted_one(tmp_path):
    task = _task(tmp_path)
    settings = {"hidden": 8}

    def trainer():
        return Trainer(task.build_model("lstm", 8, seed=0), task, "adam", 1e-2, 4, 1.0, seed=0, eval_every=None,
                       flow_steps=())

    straight = trainer()
    straight.step(20)
    first = trainer()
    first.step(10)
    save_state(tmp_path / "ckpt.safetensors", first, settings)
    resumed = trainer()
    assert not load_state(tmp_path / "ckpt.safetensors", resumed, {"hidden": 16})  # other settings: refused
    assert load_state(tmp_path / "ckpt.safetensors", resumed, settings) and resumed.step_count == 10
    resumed.step(10)
    for a, b in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_train_char_writes_a_card_and_resumes(tmp_path):
    task = _task(tmp_path)
    args = parse_args(["--device", "cpu", "--hidden", "8", "--embed", "4", "--seq-len", "12", "--batch", "4",
                       "--steps", "3", "--eval-every", "2", "--work", str(tmp_path / "work"),
                       "--out", str(tmp_path / "out")])
    args.out.mkdir()
    lines = []
    c = task_corpus = stdlib_corpus(0.3, str(tmp_path / "lib"))
    card = train_char("gru", args, task_corpus, task, log=lines.append)
    assert card["training"]["steps"] == 3 and card["device"] == "cpu" and card["cell"] == "gru"
    assert card["task"]["val_files"] == list(c.val_files) and card["task"]["train_chars"] == len(c.train)
    model, saved = load(args.out / "char_gru.safetensors")
    assert saved["metrics"]["bpc"] == pytest.approx(bits_per_char(model, c.val), rel=1e-6)
    assert saved["metrics"]["heldout_bpc"] == card["metrics"]["heldout_bpc"] > 0
    args2 = argparse.Namespace(**{**vars(args), "steps": 5})
    card2 = train_char("gru", args2, task_corpus, task, log=lines.append)
    assert "resumed at step 3" in lines[-2] and card2["training"]["steps"] == 5


def test_each_char_model_has_its_own_size_unless_hidden_is_given(tmp_path, monkeypatch):
    """char_lstm 512 units, char_rnn and char_gru 256 (README: chosen by measurement); --hidden sets all three. The
    size reaches the model and the arguments from which the loop takes its checkpoint settings and the card its title
    (both stubbed here: a 512-unit run is too slow for a unit test)."""
    task, corpus = _task(tmp_path), stdlib_corpus(0.3, str(tmp_path / "lib"))
    seen = {}

    def loop(name, model, task, args, log=print, **extra):
        seen[name] = (model.rnn.hidden_size, args.hidden)

    monkeypatch.setattr(pretrain, "train_loop", loop)
    monkeypatch.setattr(pretrain, "_finish", lambda *args, **kwargs: None)
    base = ["--device", "cpu", "--embed", "4", "--work", str(tmp_path / "work"), "--out", str(tmp_path / "out")]
    for cell in ("rnn", "lstm", "gru"):
        train_char(cell, parse_args(base), corpus, task)
    assert seen == {"char_rnn": (256, 256), "char_lstm": (512, 512), "char_gru": (256, 256)}
    for cell in ("rnn", "lstm", "gru"):
        train_char(cell, parse_args([*base, "--hidden", "8"]), corpus, task)
    assert set(seen.values()) == {(8, 8)}


def test_continue_goes_on_from_the_bundled_model_and_records_it(tmp_path):
    task = _task(tmp_path)
    base = ["--device", "cpu", "--hidden", "8", "--embed", "4", "--seq-len", "12", "--batch", "4", "--steps", "3",
            "--eval-every", "2", "--out", str(tmp_path / "out")]
    args = parse_args([*base, "--work", str(tmp_path / "work1")])
    args.out.mkdir()
    corpus = stdlib_corpus(0.3, str(tmp_path / "lib"))
    first = train_char("lstm", args, corpus, task, log=lambda _: None)
    bundled, _ = load(args.out / "char_lstm.safetensors")
    # a fresh work folder, so nothing is resumed: the weights can only come from the bundled model
    again = parse_args([*base, "--work", str(tmp_path / "work2"), "--continue", "--steps", "1", "--lr", "1e-7"])
    card = train_char("lstm", again, corpus, task, log=lambda _: None)
    assert card["training"]["started_from"]["steps"] == first["training"]["steps"] == 3
    assert card["training"]["started_from"]["bpc"] == pytest.approx(first["metrics"]["bpc"])
    # one step of 1e-7: the same weights
    assert card["metrics"]["bpc"] == pytest.approx(first["metrics"]["bpc"], rel=1e-5)
    went_on, _ = load(args.out / "char_lstm.safetensors")
    for a, b in zip(bundled.parameters(), went_on.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    wider = parse_args([*base, "--work", str(tmp_path / "work3"), "--continue", "--hidden", "16"])
    with pytest.raises(ValueError, match="another vocabulary or size"):
        train_char("lstm", wider, corpus, task)
