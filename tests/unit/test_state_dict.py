"""from_state_dict against the PyTorch modules that wrote the state dict: same outputs and final states, and files
that are not plain state dicts refused without anything in them running."""

import io
import os

import pytest
import torch
from torch import nn

from rnnviz import Model, ModelConfig, Vocab, from_state_dict
from rnnviz.errors import CheckpointError


class Net(nn.Module):
    """An embedding (optional), a recurrent stack and a linear head (optional), as people write them."""

    def __init__(self, rnn: nn.RNNBase, vocab: int = 0, out: int = 0, bias: bool = True):
        super().__init__()
        self.emb = nn.Embedding(vocab, rnn.input_size) if vocab else None
        self.rnn = rnn
        width = rnn.hidden_size * (2 if rnn.bidirectional else 1)
        self.fc = nn.Linear(width, out, bias=bias) if out else None

    def forward(self, x):
        out, hn = self.rnn(self.emb(x) if self.emb is not None else x)
        return (self.fc(out) if self.fc is not None else out), hn


def _saved(module: nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return buffer.getvalue()


def _cases():
    torch.manual_seed(0)
    ids = torch.randint(0, 11, (2, 7))
    yield Net(nn.LSTM(4, 6, 2, batch_first=True, bidirectional=True), vocab=11, out=11), ids, {}
    yield Net(nn.GRU(3, 5, batch_first=True)), torch.randn(2, 7, 3), {}
    yield Net(nn.RNN(3, 4, 3, batch_first=True, nonlinearity="relu"), out=2, bias=False), torch.randn(2, 7, 3), \
        {"nonlinearity": "relu"}
    yield Net(nn.LSTM(2, 3, batch_first=True, bias=False), out=1), torch.randn(1, 7, 2), {}


@pytest.mark.parametrize("net, x, kwargs", list(_cases()))
def test_outputs_and_final_states_match_torch(net, x, kwargs):
    net = net.eval()
    model = from_state_dict(_saved(net), **kwargs)
    with torch.no_grad():
        want, want_hn = net(x)
        got, got_hn = model(x)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    for a, b in zip(got_hn if isinstance(got_hn, tuple) else (got_hn,),
                    want_hn if isinstance(want_hn, tuple) else (want_hn,), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_rnnviz_models_own_state_dict_reads_back_with_its_vocabulary():
    vocab = Vocab(tuple("abcd"), unk=False)
    model = Model(ModelConfig(cell="gru", hidden_size=5, encoder="onehot"), vocab).eval()
    back = from_state_dict(_saved(model), vocab=list(vocab.tokens))
    assert back.config.encoder == "onehot" and back.config.head == "classify"
    x = vocab.encode("abcadb")[None]
    torch.testing.assert_close(back(x)[0], model(x)[0], atol=1e-6, rtol=0)


class _Marker:
    """Unpickling this would create a file: weights_only loading must refuse it instead."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_pickled_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    buffer = io.BytesIO()
    torch.save({"rnn.weight_ih_l0": torch.zeros(4, 2), "payload": _Marker(marker)}, buffer)
    with pytest.raises(CheckpointError, match="weights-only"):
        from_state_dict(buffer.getvalue())
    assert not marker.exists()


@pytest.mark.parametrize("state, says", [
    ({"fc.weight": torch.zeros(2, 3)}, "no recurrent"),
    ({"weight_ih_l0": torch.zeros(8, 3), "weight_hh_l0": torch.zeros(8, 3)}, "not an RNN"),
    ({"weight_ih_l0": torch.zeros(4, 3), "weight_hh_l0": torch.zeros(4, 4), "weight_hh_l1": torch.zeros(4, 4)},
     "do not form a stack"),
    ({"weight_ih_l0": torch.full((4, 3), float("nan")), "weight_hh_l0": torch.zeros(4, 4)}, "NaN"),
    ({"weight_ih_l0": torch.zeros(4, 3, dtype=torch.int64), "weight_hh_l0": torch.zeros(4, 4)}, "floats"),
    ({"weight_ih_l0": torch.zeros(4, 3), "weight_hh_l0": torch.zeros(4, 4), "out.weight": torch.zeros(2, 9)},
     "neither an nn.Embedding"),
])
def test_bad_state_dicts_are_refused_by_name(state, says):
    buffer = io.BytesIO()
    torch.save(state, buffer)
    with pytest.raises(CheckpointError, match=says):
        from_state_dict(buffer.getvalue())


def test_damaged_file_is_refused():
    with pytest.raises(CheckpointError, match="damaged"):
        from_state_dict(_saved(nn.GRU(2, 3))[:100])
