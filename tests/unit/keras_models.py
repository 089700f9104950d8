"""Keras reference models for the import tests, built on Keras' torch backend (never TensorFlow).

Each maker returns (keras model, input batch); weights are redrawn N(0, 0.5²) so that every gate, bias and
embedding matters (Keras' own init zeroes biases and shrinks embeddings to ±0.05, which would hide mistakes).
"""

import io
import os
import zipfile

os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported anywhere

import keras  # noqa: E402
import numpy as np  # noqa: E402

assert keras.backend.backend() == "torch", "Keras must run on the torch backend here"
L = keras.layers
T = 6  # time steps in every test batch


def _randomized(model, seed: int):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    return model


def _ids(vocab: int, batch: int = 2, seed: int = 0):
    return np.random.default_rng(seed).integers(0, vocab, (batch, T))


def _features(n: int, batch: int = 2, seed: int = 0):
    return np.random.default_rng(seed).normal(0, 1, (batch, T, n)).astype("float32")


def seq(*layers):
    return keras.Sequential(list(layers))


def letters_onehot():
    """The notes' letters: SimpleRNN(3) on one-hot a…e, a softmax over the next letter at every step."""
    m = seq(keras.Input((None, 5)), L.SimpleRNN(3, return_sequences=True), L.Dense(5, activation="softmax"))
    return m, np.eye(5, dtype="float32")[_ids(5)]


def embedding_rnn():
    """The notes' Embedding(5, 2) followed by a SimpleRNN."""
    return seq(keras.Input((None,)), L.Embedding(5, 2), L.SimpleRNN(4)), _ids(5)


def stock_lstm():
    """The notes' stock model: LSTM(80) → Dropout → LSTM(100) → Dense(1) on one feature."""
    m = seq(keras.Input((T, 1)), L.LSTM(80, return_sequences=True), L.Dropout(0.2), L.LSTM(100), L.Dense(1))
    return m, _features(1)


def imdb_rnn():
    """The notes' sentiment model: Embedding → SimpleRNN → Dense(sigmoid)."""
    m = seq(keras.Input((None,)), L.Embedding(40, 8), L.SimpleRNN(6), L.Dense(1, activation="sigmoid"))
    return m, _ids(40)


def stacked_gru():
    m = seq(keras.Input((None, 3)), L.GRU(4, return_sequences=True), L.GRU(7, return_sequences=True),
            L.Dense(3, activation="softmax"))
    return m, _features(3)


def bidirectional_lstm_functional():
    inp = keras.Input((None,))
    h = L.Embedding(9, 3)(inp)
    h = L.Bidirectional(L.LSTM(3, return_sequences=True))(h)
    h = L.Dropout(0.5)(h)
    out = L.Bidirectional(L.LSTM(5))(h)
    return keras.Model(inp, out), _ids(9)


def bidirectional_gru_head():
    m = seq(keras.Input((None, 2)), L.Bidirectional(L.GRU(4)), L.Dense(3, activation="softmax"))
    return m, _features(2)


def relu_rnn_no_bias():
    m = seq(keras.Input((None, 3)), L.SimpleRNN(5, activation="relu", use_bias=False, return_sequences=True),
            L.SimpleRNN(2, activation="relu", use_bias=False, return_sequences=True))
    return m, _features(3)


def lstm_sequences_no_bias_head():
    m = seq(keras.Input((None, 2)), L.LSTM(4, return_sequences=True), L.Dense(2, use_bias=False))
    return m, _features(2)


MAKERS = [letters_onehot, embedding_rnn, stock_lstm, imdb_rnn, stacked_gru, bidirectional_lstm_functional,
          bidirectional_gru_head, relu_rnn_no_bias, lstm_sequences_no_bias_head]


def build(maker, seed: int = 0):
    model, x = maker()
    return _randomized(model, seed), x


def saved(model, tmp_path, suffix: str) -> bytes:
    path = tmp_path / f"model{suffix}"
    model.save(path)
    return path.read_bytes()


def recurrent_layers(model):
    return [layer for layer in model.layers if isinstance(layer, L.RNN | L.Bidirectional)]


def final_states(model, layer, x) -> list[np.ndarray]:
    """The states Keras ends ``layer`` with on ``x``: a copy of it with return_state=True on the same input.
    Returns [h, c] (LSTM) or [h] per direction, forward first."""
    feed = keras.Model(model.inputs, layer.input)
    inner = layer.forward_layer if isinstance(layer, L.Bidirectional) else layer
    clone = type(inner).from_config({**inner.get_config(), "return_state": True, "go_backwards": False})
    if isinstance(layer, L.Bidirectional):
        clone = L.Bidirectional(clone)
    z = feed.predict(x, verbose=0)
    out = clone(z)
    clone.set_weights(layer.get_weights())
    out = clone(z)
    return [keras.ops.convert_to_numpy(s) for s in out[1:]]


def rezip(data: bytes, **replace: bytes) -> bytes:
    """A .keras file with some entries replaced (config_json=…, weights=…) or added (any other name=bytes)."""
    names = {"config_json": "config.json", "weights": "model.weights.h5"}
    replace = {names.get(k, k): v for k, v in replace.items()}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, replace.pop(info.filename, None) or src.read(info.filename))
        for name, value in replace.items():
            dst.writestr(name, value)
    return out.getvalue()
