"""Invariants of traced internals over random shapes, cells and Unicode text (hypothesis)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnviz import InitConfig, InputError, Model, ModelConfig, Vocab, from_torch, trace

cells_ = st.sampled_from(["rnn", "lstm", "gru"])


@settings(max_examples=40, deadline=None)
@given(cell=cells_, hidden=st.integers(1, 9), layers=st.integers(1, 3), bi=st.booleans(),
       text=st.text(min_size=1, max_size=40), encoder=st.sampled_from(["onehot", "embedding"]))
def test_invariants(cell, hidden, layers, bi, text, encoder):
    vocab = Vocab.from_text(text)
    model = Model(ModelConfig(cell=cell, hidden_size=hidden, num_layers=layers, bidirectional=bi, encoder=encoder),
                  vocab, generator=torch.Generator().manual_seed(1)).double()
    tr = trace(model, text)
    T = len(text)
    assert tr.shape == (layers, 2 if bi else 1, T, hidden)
    assert tr.tokens == list(text)
    for k in tr.keys():
        assert tr[k].dtype == np.float64 and np.isfinite(tr[k]).all()
    gates = {"lstm": "ifo", "gru": "rz", "rnn": ""}[cell]
    for g in gates:
        assert tr[g].min() >= 0 and tr[g].max() <= 1
    if cell == "lstm":
        assert np.abs(tr["h"] - tr["o"] * np.tanh(tr["c"])).max() < 1e-12
    if cell == "gru":
        h = tr["h"]
        prev = np.zeros_like(h)
        prev[:, 0, 1:] = h[:, 0, :-1]
        if bi:
            prev[:, 1, :-1] = h[:, 1, 1:]
        assert np.abs(h - ((1 - tr["z"]) * tr["n"] + tr["z"] * prev)).max() < 1e-12
    np.testing.assert_allclose(tr.probs.sum(-1), 1, atol=1e-12)
    logits = model(vocab.encode(text)[None])[0][0].detach().numpy()
    np.testing.assert_allclose(tr.output, logits, atol=1e-10)


def test_float32_by_default_and_unknown_marked():
    vocab = Vocab.from_text("hello")
    model = Model(ModelConfig(cell="lstm", hidden_size=4), vocab)
    tr = trace(model, "help!")
    assert tr["h"].dtype == np.float32
    assert tr.unknown == [False, False, False, True, True]
    assert tr.labels == ["h", "e", "l", "p", "!"]


def test_numeric_series_one_feature():
    model = from_torch(torch.nn.GRU(1, 3))
    tr = trace(model, torch.tensor([0.5, -1.0, 2.0]))
    assert tr.shape == (1, 1, 3, 3) and tr.tokens == ["0.5", "-1", "2"]


@pytest.mark.parametrize("bad,match", [
    ("", "empty"),
    ("x" * 10_001, "limit"),
])
def test_text_errors(bad, match):
    model = Model(ModelConfig(hidden_size=2), Vocab.from_text("x"))
    with pytest.raises(InputError, match=match):
        trace(model, bad)


def test_numeric_errors():
    model = from_torch(torch.nn.LSTM(2, 3))
    with pytest.raises(InputError, match="NaN"):
        trace(model, torch.tensor([[1.0, float("nan")]]))
    with pytest.raises(InputError, match="feature"):
        trace(model, torch.zeros(4, 3))
    with pytest.raises(InputError, match="numbers"):
        trace(model, "text")


def test_init_schemes():
    vocab = Vocab.from_text("ab")
    state = torch.random.get_rng_state()
    cfg, init = ModelConfig(cell="lstm", hidden_size=8), InitConfig(forget_bias=3.0)
    m = Model(cfg, vocab, init, torch.Generator().manual_seed(0))
    assert torch.equal(state, torch.random.get_rng_state())  # the global RNG is never drawn from
    eff = (m.rnn.bias_ih_l0 + m.rnn.bias_hh_l0)[8:16]
    assert torch.allclose(eff, torch.full((8,), 3.0))  # set once, not doubled across the two bias vectors
    m2 = Model(cfg, vocab, init, torch.Generator().manual_seed(0))
    assert m.fingerprint() == m2.fingerprint()
    chrono = Model(ModelConfig(cell="lstm", hidden_size=64), vocab, InitConfig(chrono_tmax=100),
                   torch.Generator().manual_seed(0))
    b = chrono.rnn.bias_ih_l0.detach() + chrono.rnn.bias_hh_l0.detach()
    assert b[64:128].min() >= 0 and b[64:128].max() <= np.log(99) + 1e-6
    assert torch.allclose(b[:64], -b[64:128])
    ortho = Model(ModelConfig(cell="gru", hidden_size=8), vocab, InitConfig("orthogonal", gain=1.5))
    for k in range(3):
        s = torch.linalg.svdvals(ortho.rnn.weight_hh_l0[k * 8:(k + 1) * 8].detach())
        assert torch.allclose(s, torch.full((8,), 1.5), atol=1e-5)
    ident = Model(ModelConfig(cell="rnn", hidden_size=8), vocab, InitConfig("identity", gain=1.0))
    assert torch.equal(ident.rnn.weight_hh_l0.detach(), torch.eye(8))
