"""from_keras against Keras itself: every supported layer and the notes' own models, saved as .keras and as .h5, give
Keras' predict output, every layer's hidden states and the final states (atol 1e-5)."""

import io

import numpy as np
import pytest
import torch

from rnnviz import from_keras, trace
from rnnviz.errors import CheckpointError
from rnnviz.vocab import read_tokens
from tests.unit import keras_models as K

ATOL = 1e-5


@pytest.fixture(scope="module", params=K.MAKERS, ids=lambda m: m.__name__)
def built(request):
    return (request.param.__name__, *K.build(request.param))


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_outputs_and_states_match_keras(built, suffix, tmp_path):
    name, km, x = built
    data = K.saved(km, tmp_path, suffix)
    vocab = read_tokens("abcde", "chars") if name == "letters_onehot" else None  # one-hot letters, read as text
    model = from_keras(io.BytesIO(data) if suffix == ".h5" else tmp_path / f"model{suffix}", vocab)
    feed = torch.as_tensor(x.argmax(-1) if vocab else x)
    got, hn = model(feed)
    want = km.predict(x, verbose=0)
    assert got.shape == want.shape
    np.testing.assert_allclose(got.detach().numpy(), want, atol=ATOL)

    hn = hn if isinstance(hn, tuple) else (hn,)
    D = model.config.directions
    for index, layer in enumerate(K.recurrent_layers(km)):
        states = K.final_states(km, layer, x)  # [h, c] or [h] per direction
        per = len(states) // D
        u = model.units[index]
        for d in range(D):
            for s, keras_state in enumerate(states[d * per:(d + 1) * per]):
                ours = hn[s][index * D + d].detach().numpy()  # [batch, H]
                np.testing.assert_allclose(ours[:, :u], keras_state, atol=ATOL)
                assert not ours[:, u:].any(), "a padding unit left zero"


def test_trace_shows_every_step_of_every_layer(tmp_path):
    km, x = K.build(K.bidirectional_lstm_functional)
    model = from_keras(K.saved(km, tmp_path, ".keras"))
    tr = trace(model, torch.as_tensor(x[0]))
    assert tr.shape == (2, 2, K.T, 5)
    import keras

    for index, layer in enumerate(K.recurrent_layers(km)):
        out = keras.Model(km.inputs, layer.output).predict(x[:1], verbose=0)[0]  # [T, 2u] or [2u]
        u = model.units[index]
        fwd, bwd = tr["h"][index, 0, :, :u], tr["h"][index, 1, :, :u]
        if out.ndim == 2:
            np.testing.assert_allclose(np.concatenate([fwd, bwd], -1), out, atol=ATOL)
        else:  # return_sequences=False: Keras keeps the forward's last step and the backward's first
            np.testing.assert_allclose(np.concatenate([fwd[-1], bwd[0]]), out, atol=ATOL)
        assert not tr["h"][index, :, :, u:].any() and not tr["c"][index, :, :, u:].any()


def test_vocabulary_forms_name_the_ids(tmp_path):
    km, x = K.build(K.embedding_rnn)
    data = K.saved(km, tmp_path, ".keras")
    lines = from_keras(data, read_tokens("the\ncat\n\nsat\n", "lines"))
    assert lines.vocab.tokens == ("the", "cat", "2", "sat", "4") and lines.vocab.level == "word"
    assert lines(lines.ids("the cat sat")[None])[0].tolist() == lines(torch.tensor([[0, 1, 3]]))[0].tolist()
    chars = from_keras(data, read_tokens("hello", "chars"))  # h e l o: id 4 is named by its number
    assert chars.vocab.tokens == ("h", "e", "l", "o", "4") and chars.vocab.level == "char"
    mapping = from_keras(data, read_tokens('{"a": 1, "b": 3}', "json"))  # a Keras Tokenizer's word_index
    assert mapping.vocab.tokens == ("0", "a", "2", "b", "4")
    assert from_keras(data).vocab.tokens == ("0", "1", "2", "3", "4")
    with pytest.raises(CheckpointError, match="8 tokens.*5 ids"):
        from_keras(data, read_tokens("hello world", "chars"))


def test_feature_model_reads_numbers(tmp_path):
    km, x = K.build(K.stock_lstm)
    model = from_keras(K.saved(km, tmp_path, ".keras"))
    assert model.vocab is None and model.config.encoder == "float" and model.input_size == 1
    tr = trace(model, torch.as_tensor(x[0, :, 0]))  # a plain series of numbers
    assert tr.shape == (2, 1, K.T, 100)


def test_keras2_h5_layout_reads_the_same(tmp_path):
    """A legacy .h5 as tf.keras 2 wrote it (batch_input_shape, nested inbound_nodes, weight names ending in :0),
    written by hand from a Keras 3 model's weights, gives that model's output."""
    import json

    import h5py

    km, x = K.build(K.stacked_gru)
    layers = [{"class_name": "InputLayer", "config": {"batch_input_shape": [None, None, 3], "name": "in"}}]
    weights = {}
    previous = "in"
    for layer in km.layers:
        config = {k: v for k, v in layer.get_config().items() if not isinstance(v, dict)}
        layers.append({"class_name": type(layer).__name__, "config": config, "name": layer.name,
                       "inbound_nodes": [[[previous, 0, 0, {}]]]})
        previous = layer.name
        cell = "gru_cell/" if type(layer).__name__ == "GRU" else ""
        names = ["kernel", "recurrent_kernel", "bias"] if cell else ["kernel", "bias"]
        weights[layer.name] = {f"{layer.name}/{cell}{n}:0": w for n, w in zip(names, layer.get_weights(), strict=True)}
    config = {"class_name": "Functional", "config": {"name": "model", "layers": layers,
                                                     "input_layers": [["in", 0, 0]],
                                                     "output_layers": [[previous, 0, 0]]}}
    path = tmp_path / "keras2.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config).encode()
        for name, arrays in weights.items():
            group = f.create_group(f"model_weights/{name}")
            group.attrs["weight_names"] = [n.encode() for n in arrays]
            for n, w in arrays.items():
                group[n] = w
    got = from_keras(path)(torch.as_tensor(x))[0].detach().numpy()
    np.testing.assert_allclose(got, km.predict(x, verbose=0), atol=ATOL)
