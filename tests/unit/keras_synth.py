"""Keras files written by hand (json + h5py + zipfile, no keras), laid out as Keras 3 writes them, for the error
cases: a small SimpleRNN model whose config, weights or container a case spoils one way."""

import copy
import io
import json
import zipfile

import h5py
import numpy as np


def layer(class_name: str, **config) -> dict:
    return {"module": "keras.layers", "class_name": class_name, "config": config, "registered_name": None}


def rnn_config(*layers: dict) -> dict:
    """Sequential: Input [batch, time, 2] → SimpleRNN(3) by default."""
    layers = layers or (layer("InputLayer", name="input", batch_shape=[None, None, 2]),
                        layer("SimpleRNN", name="rnn", units=3, activation="tanh", return_sequences=False))
    return {"module": "keras", "class_name": "Sequential", "config": {"name": "seq", "layers": list(layers)}}


def rnn_weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"layers/simple_rnn/cell/vars/0": rng.normal(size=(2, 3)).astype("f4"),
            "layers/simple_rnn/cell/vars/1": rng.normal(size=(3, 3)).astype("f4"),
            "layers/simple_rnn/cell/vars/2": rng.normal(size=(3,)).astype("f4")}


def h5_bytes(weights: dict[str, np.ndarray], edit=None, attrs: dict | None = None) -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for path, value in weights.items():
            f[path] = value
        for key, value in (attrs or {}).items():
            f.attrs[key] = value
        if edit is not None:
            edit(f)
    return buffer.getvalue()


def keras_zip(config=None, weights: dict | None = None, edit=None, raw_config: bytes | None = None,
              raw_weights: bytes | None = None) -> bytes:
    """A .keras file: ``config`` (default rnn_config()) and ``weights`` (default rnn_weights()), then ``edit(f)`` on
    the open HDF5 file; raw_* replace an entry's bytes."""
    config = rnn_config() if config is None else config
    weights = rnn_weights() if weights is None else weights
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        z.writestr("config.json", raw_config if raw_config is not None else json.dumps(config))
        z.writestr("model.weights.h5", raw_weights if raw_weights is not None else h5_bytes(weights, edit))
    return out.getvalue()


def with_layers(*layers: dict) -> bytes:
    return keras_zip(rnn_config(*layers))


def changed(path: str, value) -> bytes:
    """The default model with one entry of its config changed: ``path`` like "1.units" (layer index, key)."""
    config = copy.deepcopy(rnn_config())
    index, key = path.split(".")
    config["config"]["layers"][int(index)]["config"][key] = value
    return keras_zip(config)


def legacy_h5(weight_names: list[str]) -> bytes:
    """A legacy .h5: model_config and a model_weights/rnn group listing ``weight_names``."""
    def edit(f):
        group = f.require_group("model_weights/rnn")
        group.attrs["weight_names"] = np.array(weight_names, dtype=object)
    config = rnn_config()
    return h5_bytes({}, edit, {"model_config": json.dumps({"class_name": "Sequential", "config": config["config"]})})
