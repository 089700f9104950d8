"""Checkpoints: the round trip gives the same outputs, and every kind of bad file is refused with a sentence."""

import io
import json
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import save as save_tensors

from rnnviz.checkpoint import CARD_KEY, MAX_BYTES, load, make_card, save
from rnnviz.errors import CheckpointError
from rnnviz.init import InitConfig
from rnnviz.model import Model, ModelConfig, from_torch
from rnnviz.tasks import make_task
from rnnviz.vocab import Vocab


def _models():
    vocab = Vocab(tuple("abcdé中"))
    yield Model(ModelConfig(cell="lstm", hidden_size=6, encoder="embedding", embed_dim=3), vocab,
                InitConfig(chrono_tmax=10), torch.Generator().manual_seed(1)), torch.tensor([[1, 2, 6, 0, 3]])
    yield Model(ModelConfig(cell="gru", hidden_size=5, num_layers=2, bidirectional=True, encoder="float", input_size=3,
                            head="regress", output_size=2)), torch.randn(2, 7, 3)
    words = Vocab(("x", "y"), "word")
    yield Model(ModelConfig(cell="rnn", hidden_size=4, nonlinearity="relu"), words), torch.tensor([[1, 2]])
    yield from_torch(torch.nn.LSTM(3, 4)), torch.randn(1, 5, 3)


@pytest.mark.parametrize("model, x", list(_models()))
def test_round_trip_gives_the_same_outputs(model, x, tmp_path):
    card = {"task": {"name": "demo"}, "metrics": {"loss": 0.5, "accuracy": float("nan")}, "init": InitConfig()}
    path = tmp_path / "m.safetensors"
    data = save(model, path, card)
    assert path.read_bytes() == data
    buffer = io.BytesIO()
    save(model, buffer, card)
    for source in (path, str(path), data, io.BytesIO(buffer.getvalue())):
        loaded, loaded_card = load(source)
        assert loaded.config == model.config and loaded.vocab == model.vocab and not loaded.training
        model.eval()
        torch.testing.assert_close(loaded(x)[0], model(x)[0], rtol=0, atol=0)
    assert loaded_card["metrics"] == {"loss": 0.5, "accuracy": None}  # NaN is not JSON: it is stored as null
    assert loaded_card["init"]["scheme"] == "default" and loaded_card["cell"] == model.cell
    assert loaded.fingerprint() == model.fingerprint()


def test_the_card_describes_the_model_not_the_caller():
    task = make_task("letters")
    model = task.build_model()
    card = make_card(model, {"cell": "gru", "hidden_size": 99, "task": task.card()})
    assert (card["cell"], card["hidden_size"], card["num_layers"], card["bidirectional"]) == ("rnn", 3, 1, False)
    assert card["vocab"] == {"tokens": ["a", "b", "c", "d", "e"], "level": "char", "unk": False}
    assert card["task"]["name"] == "letters" and card["dtype"] == "float32" and card["head"] == "classify"


@pytest.fixture
def good():
    model = Model(ModelConfig(cell="lstm", hidden_size=4), Vocab(tuple("abc")))
    data = save(model, None, {"task": {"name": "demo"}})
    header_len = int.from_bytes(data[:8], "little")
    card = json.loads(json.loads(data[8 : 8 + header_len])["__metadata__"][CARD_KEY])
    return model, data, card


def _resave(state, card):
    return save_tensors(state, metadata={CARD_KEY: json.dumps(card)})


def _refused(source, match):
    with pytest.raises(CheckpointError, match=match):
        load(source)


def test_refuses_a_pickle(good, tmp_path):
    model = good[0]
    _refused(pickle.dumps(model.state_dict()), "pickle")
    path = tmp_path / "model.pt"
    torch.save(model.state_dict(), path)
    _refused(path, "pickle")


def test_refuses_truncated_and_random_bytes(good):
    data = good[1]
    _refused(data[:-7], "truncated")
    _refused(data[:40], "truncated")
    _refused(data[:5], "too short")
    _refused(b"", "too short")
    rng = np.random.default_rng(0)
    _refused(rng.bytes(5000), "not a safetensors")
    _refused(b"\x10\x00\x00\x00\x00\x00\x00\x00" + b"not json at all!" + bytes(40), "not JSON")


def test_refuses_wrong_shapes_dtypes_missing_and_extra_weights(good):
    model, _, card = good
    state = {k: v.clone() for k, v in model.state_dict().items()}
    wrong = dict(state, **{"rnn.weight_hh_l0": torch.zeros(16, 5)})
    _refused(_resave(wrong, card), r"rnn.weight_hh_l0 has shape \[16, 5\]")
    _refused(_resave({k: v.double() for k, v in state.items()}, card), "stored as F64")
    _refused(_resave({k: v for k, v in state.items() if k != "head.bias"}, card), "missing head.bias")
    _refused(_resave(dict(state, extra=torch.zeros(1)), card), "unexpected extra")


def test_refuses_nan_and_infinite_weights(good):
    model, _, card = good
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["rnn.weight_ih_l0"][0, 0] = float("nan")
    _refused(_resave(state, card), "NaN or infinite")
    state["rnn.weight_ih_l0"][0, 0] = float("inf")
    _refused(_resave(state, card), "NaN or infinite")


def test_refuses_oversize_files(good, tmp_path):
    _refused(good[1] + bytes(MAX_BYTES), "larger than 20 MB")
    path = tmp_path / "big.safetensors"
    path.write_bytes(bytes(MAX_BYTES + 1))
    _refused(path, "larger than 20 MB")
    with pytest.raises(CheckpointError, match="larger than"):
        load(good[1], max_bytes=100)


@pytest.mark.parametrize("change, match", [
    ({"hidden_size": 0}, "hidden size"), ({"cell": "transformer"}, "Unknown cell"),
    ({"bidirectional": "yes"}, "true or false"),
    ({"num_layers": 99}, "layers"), ({"output_size": -1}, "output_size"), ({"dtype": "int8"}, "dtype"),
    ({"vocab": {"tokens": ["a", "b"]}}, "starting with <unk>"), ({"format": "other"}, "not an rnnviz card"),
    ({"version": 7}, "version"), ({"head": "auto"}, "resolved"), ({"hidden_size": 5}, "shape"),
])
def test_refuses_cards_out_of_range_or_inconsistent(good, change, match):
    model, _, card = good
    _refused(_resave(model.state_dict(), {**card, **change}), match)


def test_refuses_files_without_an_rnnviz_card(good):
    model, _, card = good
    _refused(save_tensors(model.state_dict()), "no rnnviz model card")
    _refused(save_tensors(model.state_dict(), metadata={CARD_KEY: "{not json"}), "not valid JSON")
    _refused(_resave(model.state_dict(), {k: v for k, v in card.items() if k != "cell"}), "lacks cell")


def test_save_refuses_a_model_its_card_cannot_rebuild():
    with pytest.raises(CheckpointError, match="biases"):
        save(from_torch(torch.nn.GRU(3, 4, bias=False)))


def test_header_length_that_looks_like_a_pickle_opcode_still_loads():
    """A header of 0x0480 bytes makes the file start with 80 04, the first bytes of a protocol-4 pickle."""
    model = Model(ModelConfig(cell="rnn", hidden_size=2), Vocab(tuple("ab")))
    size = len(save(model, None, {"task": {"name": ""}}))
    data = save(model, None, {"task": {"name": "x" * (size % 256 + 1)}})  # pad the header length to ..80
    pad = 0x80 - data[0]
    data = save(model, None, {"task": {"name": "x" * (size % 256 + 1 + pad % 256)}})
    assert data[0] == 0x80 and data[1] in (2, 3, 4, 5) and data[8:9] == b"{"
    loaded, _ = load(data)
    assert loaded.fingerprint() == model.fingerprint()
