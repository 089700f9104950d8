"""Hostile Keras files, each made from a valid small model and changed one way: {case: (file name, bytes, what the
refusal must say)}. Shared by the unit tests and the browser's hostile-input suite.

``marker`` is a path that the code planted in the Lambda and module cases would create if anything ran it.
"""

import base64
import io
import json
import marshal
from pathlib import Path

import h5py
import numpy as np

from tests.unit import keras_models as K

L = K.L


def _edit_h5(data: bytes, edit, workdir: Path) -> bytes:
    path = workdir / "edit.h5"
    path.write_bytes(data)
    with h5py.File(path, "r+") as f:
        edit(f)
    return path.read_bytes()


def _weights(keras_bytes: bytes) -> bytes:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(keras_bytes)) as z:
        return z.read("model.weights.h5")


def _config(keras_bytes: bytes) -> dict:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(keras_bytes)) as z:
        return json.loads(z.read("config.json"))


def _refused_layer(layer, x_shape=(None, 3)):
    return K.keras.Sequential([K.keras.Input(x_shape), layer])


def hostile_files(workdir: Path, marker: Path) -> dict[str, tuple[str, bytes, str]]:
    km, _ = K.build(K.embedding_rnn)
    good = K.saved(km, workdir, ".keras")
    legacy = K.saved(km, workdir, ".h5")
    config = _config(good)
    weights = _weights(good)
    plant = f"open({str(marker)!r}, 'w').write('ran')"

    lam = json.loads(json.dumps(config))
    code = base64.b64encode(marshal.dumps(compile(plant, "<lambda>", "exec"))).decode()
    lam["config"]["layers"].insert(2, {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
                                       "config": {"name": "sneaky", "function": {"class_name": "__lambda__",
                                                  "config": {"code": code, "defaults": None, "closure": None}}}})
    module = json.loads(json.dumps(config))
    module["config"]["layers"].insert(2, {"module": "os", "class_name": "system", "registered_name": None,
                                          "config": {"name": "evil", "command": f"touch {marker}"}})
    custom = json.loads(json.dumps(config))
    custom["config"]["layers"][2]["registered_name"] = "evil_pkg>SimpleRNN"
    wider = json.loads(json.dumps(config))
    wider["config"]["layers"][2]["config"]["units"] = 5

    def external(f):
        f["model_weights/simple_rnn/x"] = h5py.ExternalLink("/etc/passwd", "/data")

    def soft(f):
        f["model_weights/simple_rnn/y"] = h5py.SoftLink("/model_weights/embedding")

    def external_data(f):
        f.create_dataset("model_weights/raw", shape=(4,), dtype="f4", external=[("/etc/hostname", 0, 16)])

    def virtual(f):
        layout = h5py.VirtualLayout(shape=(4,), dtype="f4")
        layout[:] = h5py.VirtualSource("other.h5", "data", shape=(4,))
        f.create_virtual_dataset("model_weights/virtual", layout)

    def huge(f):
        f.create_dataset("layers/embedding/vars/big", shape=(10**9,), dtype="f4", chunks=(4096,))

    def nan(f):
        f["layers/simple_rnn/cell/vars/0"][0, 0] = np.nan

    bomb = K.rezip(good, **{"assets/padding.bin": bytes(100 * 2**20)})
    stateful = K.keras.Sequential([K.keras.Input((5, 3), batch_size=2), L.LSTM(2, stateful=True)])
    weights_only = workdir / "only.weights.h5"
    km.save_weights(weights_only)
    files = {
        "lambda": ("lambda.keras", K.rezip(good, config_json=json.dumps(lam).encode()), "Lambda"),
        "module": ("module.keras", K.rezip(good, config_json=json.dumps(module).encode()), "module 'os'"),
        "custom": ("custom.keras", K.rezip(good, config_json=json.dumps(custom).encode()), "custom object"),
        "external-link": ("link.h5", _edit_h5(legacy, external, workdir), "links to another file"),
        "soft-link": ("soft.h5", _edit_h5(legacy, soft, workdir), "soft"),
        "external-dataset": ("raw.h5", _edit_h5(legacy, external_data, workdir), "external file"),
        "virtual-dataset": ("virtual.h5", _edit_h5(legacy, virtual, workdir), "virtual"),
        "zip-bomb": ("bomb.keras", bomb, "MB"),
        "truncated": ("cut.keras", good[: len(good) // 2], "damaged or truncated"),
        "huge-dataset": ("huge.keras", K.rezip(good, weights=_edit_h5(weights, huge, workdir)), "1,000,000,000"),
        "nan": ("nan.keras", K.rezip(good, weights=_edit_h5(weights, nan, workdir)), "NaN"),
        "shapes": ("shapes.keras", K.rezip(good, config_json=json.dumps(wider).encode()), "shape"),
        "weights-only": ("only.weights.h5", weights_only.read_bytes(), "weights only"),
        "text": ("notes.keras", b"just some notes\n" * 10, "neither"),
    }
    refused = {
        "hard-sigmoid": (L.LSTM(2, recurrent_activation="hard_sigmoid"), "hard_sigmoid"),
        "go-backwards": (L.GRU(2, go_backwards=True), "go_backwards"),
        "reset-before": (L.GRU(2, reset_after=False), "reset_after"),
        "conv": (L.Conv1D(2, 3), "Conv1D"),
        "masking": (L.Masking(), "Masking"),
    }
    for name, (layer, says) in refused.items():
        files[name] = (f"{name}.keras", K.saved(_refused_layer(layer), workdir, ".keras"), says)
    files["stateful"] = ("stateful.keras", K.saved(stateful, workdir, ".keras"), "stateful")
    masked = K.keras.Sequential([K.keras.Input((None,)), L.Embedding(5, 2, mask_zero=True), L.SimpleRNN(2)])
    files["mask-zero"] = ("mask.keras", K.saved(masked, workdir, ".keras"), "mask_zero")
    return files
