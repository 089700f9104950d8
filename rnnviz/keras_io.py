"""from_keras: a Keras model file (``.keras`` or legacy ``.h5``) read as data into an rnnviz model.

Only json and h5py read the file (rnnviz.keras_files); keras is never imported, nothing is unpickled, and a module
named in the file is never imported: such a name is refused. Supported, as a Sequential model or a functional
chain: InputLayer, Embedding, SimpleRNN, LSTM, GRU (reset_after=True), Bidirectional (concat), stacked recurrent
layers of one kind, Dropout (ignored at inference) and one Dense head (linear, sigmoid or softmax).

Weight mapping to PyTorch's layout (W·x with W ``[gates·units, in]``):
    kernel [in, G·u] → weight_ih = kernelᵀ;  recurrent_kernel [u, G·u] → weight_hh = recurrent_kernelᵀ
    LSTM  gates i, f, c, o → i, f, g, o (same order); bias [4u] → bias_ih, bias_hh = 0
    GRU   gates z, r, h → r, z, n; bias [2, 3u] (reset_after): row 0 → bias_ih, row 1 → bias_hh
    SimpleRNN  bias [u] → bias_ih, bias_hh = 0;   Dense kernel [in, out] → head.weight = kernelᵀ
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import h5py
import numpy as np
import torch
from torch import nn

from .checkpoint import MAX_BYTES, MAX_FEATURES, _read
from .errors import CheckpointError, RnnvizError, shown
from .i18n import N_
from .keras_files import (
    HDF5_SIGNATURE,
    ZIP_SIGNATURE,
    names_attr,
    open_h5,
    open_zip,
    parse_json,
    read_weight,
    text_attr,
)
from .model import MAX_HIDDEN, ImportedModel, ModelConfig
from .vocab import MAX_VOCAB, Vocab, ids_vocab

SUPPORTED = "InputLayer, Embedding, SimpleRNN, LSTM, GRU, Bidirectional, Dropout and Dense"
RECURRENT = {"SimpleRNN": "rnn", "LSTM": "lstm", "GRU": "gru"}
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
HEAD_ACTIVATIONS = ("linear", "sigmoid", "softmax")
KERAS_PACKAGES = ("keras", "tf_keras")  # packages a Keras config may name (as the module of its own layers)


@dataclass
class Layer:
    """One layer of the chain, as the config describes it; ``weights`` filled from the file."""

    kind: str  # "input" | "embedding" | "rnn" | "lstm" | "gru" | "dropout" | "dense"
    name: str
    class_name: str
    config: dict
    bidirectional: bool = False
    weights: tuple = ()


def _refuse(name: str, class_name: str, why: str, layers: bool = False, **values) -> CheckpointError:
    """The layer's refusal, naming it: ``why`` (a message id, with its ``values``) says what the layer does that
    rnnviz cannot show; ``layers`` adds the layers rnnviz reads (for a layer it cannot read at all)."""
    reason = CheckpointError(why, **values)  # translated inside the sentence (rnnviz.i18n)
    if layers:
        return CheckpointError("The layer {name} ({cls}) {why}; rnnviz reads {supported}.", name=shown(name),
                               cls=shown(class_name), why=reason, supported=SUPPORTED)
    return CheckpointError("The layer {name} ({cls}) {why}.", name=shown(name), cls=shown(class_name), why=reason)


def _check_modules(node, depth: int = 0) -> None:
    """Refuse any Python module or registered custom object the config names: rnnviz never imports one."""
    if depth > 64:
        raise CheckpointError("The model's config is nested too deeply to be a Keras model.")
    if isinstance(node, dict):
        module, registered = node.get("module"), node.get("registered_name")
        if isinstance(module, str) and module.split(".")[0] not in KERAS_PACKAGES:
            raise CheckpointError("The model's config names the Python module {module}; rnnviz never imports "
                                  "code from a file and reads only Keras' own layers ({supported}).",
                                  module=shown(module), supported=SUPPORTED)
        if isinstance(registered, str) and registered != node.get("class_name"):
            raise CheckpointError("The model's config names the custom object {name}; rnnviz never imports "
                                  "code from a file and reads only Keras' own layers ({supported}).",
                                  name=shown(registered), supported=SUPPORTED)
        for value in node.values():
            _check_modules(value, depth + 1)
    elif isinstance(node, list):
        for value in node:
            _check_modules(value, depth + 1)


def _sources(node) -> list[str]:
    """Names of the layers feeding one inbound node, in Keras 3's or Keras 2's form."""
    found = []
    if isinstance(node, dict):
        history = (node.get("config") or {}).get("keras_history") if isinstance(node.get("config"), dict) else None
        if node.get("class_name") == "__keras_tensor__" and isinstance(history, list) and history:
            return [str(history[0])]
        for key in ("args", "kwargs"):
            found += _sources(node.get(key))
    elif isinstance(node, list):
        if len(node) >= 3 and isinstance(node[0], str) and isinstance(node[1], int):  # Keras 2: [name, 0, 0, {}]
            return [node[0]]
        for value in node:
            found += _sources(value)
    return found


def _chain(config: dict) -> list[dict]:
    """The layers of a functional model that is one chain from its input to its output, in order."""
    layers = config.get("layers")
    if not isinstance(layers, list) or not layers:
        raise CheckpointError("The functional model's config lists no layers.")
    names = [layer.get("name") or (layer.get("config") or {}).get("name") for layer in layers]
    outputs = config.get("output_layers")
    if isinstance(outputs, list) and outputs and isinstance(outputs[0], list):
        outputs = outputs[0] if len(outputs) == 1 else None
    if not (isinstance(outputs, list) and outputs and outputs[0] == names[-1]):
        raise CheckpointError("The functional model is not a simple chain: it has several outputs, or its output "
                              "is not its last layer. rnnviz reads one chain of layers from one input to one output.")
    for i, layer in enumerate(layers[1:], 1):
        sources = _sources(layer.get("inbound_nodes"))
        if sources != [names[i - 1]]:
            raise CheckpointError("The functional model is not a simple chain: the layer {name} takes its input "
                                  "from {sources}, not from the layer before it ({before}).", name=shown(names[i]),
                                  sources=shown(sources), before=shown(names[i - 1]))
    return layers


def _layer_list(config) -> list[dict]:
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise CheckpointError("The model's config is not a Keras model config (it has no class_name).")
    cls, inner = config["class_name"], config.get("config")
    if cls == "Sequential":
        layers = inner.get("layers") if isinstance(inner, dict) else inner  # Keras 2.0 kept a bare list
        if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
            raise CheckpointError("The Sequential model's config lists no layers.")
        return layers
    if cls in ("Functional", "Model") and isinstance(inner, dict):
        return _chain(inner)
    raise CheckpointError("The file holds a {cls}, not a Sequential or functional Keras model; rnnviz reads "
                          "those, built from {supported}.", cls=shown(cls), supported=SUPPORTED)


def _rnn_checks(name: str, cls: str, cfg: dict, backward: bool = False) -> None:
    def bad(why, **values):
        return _refuse(name, cls, why, **values)
    for key, why in (("stateful", N_("is stateful (it carries states across batches); rnnviz starts every sequence "
                                  "from zero states")),
                     ("return_state", N_("returns its states as extra outputs; rnnviz reads return_state=False")),
                     ("time_major", N_("reads time-major input; rnnviz reads batch-major input"))):
        if cfg.get(key):
            raise bad(why)
    if bool(cfg.get("go_backwards")) != backward:
        raise bad(N_("reads its sequence backwards (go_backwards); use Bidirectional for a backward direction"))
    activation, recurrent = cfg.get("activation", "tanh"), cfg.get("recurrent_activation", "sigmoid")
    allowed = ("tanh", "relu") if cls == "SimpleRNN" else ("tanh",)
    if activation not in allowed:
        raise bad(N_("uses the activation {activation}; rnnviz's cells use {allowed}"), activation=shown(activation),
                  allowed=" / ".join(allowed))
    if cls != "SimpleRNN" and recurrent != "sigmoid":
        raise bad(N_("uses the gate activation {activation}; rnnviz's gates use the logistic sigmoid, as PyTorch "
                  "does"), activation=shown(recurrent))
    if cls == "GRU" and not cfg.get("reset_after", True):
        raise bad(N_("uses reset_after=False, which applies the reset gate before the recurrent weights "
                  "(TensorFlow 1's default); rnnviz, like PyTorch, reads reset_after=True"))
    units = cfg.get("units")
    if isinstance(units, bool) or not isinstance(units, int) or not 1 <= units <= MAX_HIDDEN:
        raise bad(N_("has {units} units; rnnviz shows 1 to {limit}"), units=shown(units), limit=MAX_HIDDEN)


def _parse(config) -> list[Layer]:
    _check_modules(config)
    out = []
    for raw in _layer_list(config):
        cls, cfg = raw.get("class_name"), raw.get("config")
        if not isinstance(cls, str) or not isinstance(cfg, dict):
            raise CheckpointError("A layer in the model's config has no class_name or config.")
        name = str(cfg.get("name", cls))
        if cls == "Bidirectional":
            inner = cfg.get("layer") or {}
            icls, icfg = inner.get("class_name"), inner.get("config")
            if icls not in RECURRENT or not isinstance(icfg, dict):
                raise _refuse(name, cls, N_("wraps {inner}, not SimpleRNN, LSTM or GRU"), layers=True,
                              inner=shown(icls))
            if cfg.get("merge_mode", "concat") != "concat":
                raise _refuse(name, cls, N_("merges its directions by {mode}; rnnviz reads merge_mode='concat', "
                                         "Keras' default"), mode=shown(cfg.get("merge_mode")))
            _rnn_checks(name, icls, icfg)
            back = cfg.get("backward_layer")
            if back is not None:
                bcfg = back.get("config") if isinstance(back, dict) else None
                if back.get("class_name") != icls or not isinstance(bcfg, dict) or any(
                        bcfg.get(k) != icfg.get(k) for k in ("units", "use_bias", "return_sequences", "activation")):
                    raise _refuse(name, cls, N_("has a backward layer unlike its forward one"))
                _rnn_checks(name, icls, bcfg, backward=True)
            out.append(Layer(RECURRENT[icls], name, f"Bidirectional({icls})", icfg, bidirectional=True))
        elif cls in RECURRENT:
            _rnn_checks(name, cls, cfg)
            out.append(Layer(RECURRENT[cls], name, cls, cfg))
        elif cls == "Embedding":
            if cfg.get("mask_zero"):
                raise _refuse(name, cls, N_("masks id 0 (mask_zero=True); rnnviz reads every id (mask_zero=False)"))
            out.append(Layer("embedding", name, cls, cfg))
        elif cls == "Dense":
            if cfg.get("activation", "linear") not in HEAD_ACTIVATIONS:
                raise _refuse(name, cls, N_("uses the activation {activation}; a Dense head may be linear, sigmoid "
                                         "or softmax"), activation=shown(cfg.get("activation")))
            out.append(Layer("dense", name, cls, cfg))
        elif cls in ("InputLayer", "Dropout"):
            out.append(Layer(cls.lower().replace("layer", ""), name, cls, cfg))
        elif cls == "Lambda":
            raise _refuse(name, cls, N_("holds Python code, which rnnviz never runs"), layers=True)
        else:
            raise _refuse(name, cls, N_("is not supported"), layers=True)
    return _order(out)


def _order(layers: list[Layer]) -> list[Layer]:
    """Check the chain reads [InputLayer] [Embedding] recurrent… [Dense], Dropout anywhere after the input."""
    kinds = "".join({"input": "I", "embedding": "E", "dropout": "", "dense": "D"}.get(x.kind, "R") for x in layers)
    if not re.fullmatch(r"I?E?R+D?", kinds):
        where = next((x for x in layers if x.kind in ("input", "embedding", "dense")), layers[0])
        raise CheckpointError("The layers are in an order rnnviz cannot show (at {name}): it reads an "
                              "optional InputLayer and Embedding, then recurrent layers, then at most one Dense "
                              "head, with Dropout anywhere in between.", name=shown(where.name))
    rec = [x for x in layers if x.kind in RECURRENT.values()]
    if len({x.kind for x in rec}) > 1 or len({x.bidirectional for x in rec}) > 1:
        raise CheckpointError("The recurrent layers are of different kinds ({kinds}); rnnviz shows a stack of "
                              "one kind, all bidirectional or none.",
                              kinds=", ".join(shown(x.class_name) for x in rec))
    if len({x.config.get("activation", "tanh") for x in rec}) > 1:
        raise CheckpointError("The SimpleRNN layers use different activations; rnnviz's stack uses one.")
    for x in rec[:-1]:
        if not x.config.get("return_sequences"):
            raise _refuse(x.name, x.class_name, N_("feeds another recurrent layer without return_sequences=True"))
    return [x for x in layers if x.kind != "dropout"]


class _Store:
    """Where each layer's weights live: ``layers/<snake_case class>[_k]`` in a .keras file, or
    ``model_weights/<layer name>`` with its weight_names in a legacy .h5."""

    def __init__(self, f: h5py.File, legacy: bool):
        self.f, self.legacy, self.used = f, legacy, {}

    def datasets(self, layer: Layer, raw_class: str) -> list:
        if self.legacy:
            group = self.f["model_weights"].get(layer.name) if "model_weights" in self.f else None
            if group is None:
                return []
            names = names_attr(group, "weight_names")
            if any(n.startswith("/") or ".." in n for n in names):
                raise CheckpointError("The weights of layer {name} point outside their group.",
                                      name=shown(layer.name))
            return [group.get(n) for n in names]
        snake = re.sub(r"([a-z])([A-Z])", r"\1_\2", re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", raw_class)).lower()
        k = self.used[snake] = self.used.get(snake, -1) + 1
        group = self.f.get(f"layers/{snake}" + (f"_{k}" if k else ""))
        if group is None:
            return []
        if layer.bidirectional:
            return self._vars(group.get("forward_layer")) + self._vars(group.get("backward_layer"))
        return self._vars(group)

    def _vars(self, group) -> list:
        if group is None:
            return []
        group = group.get("cell", group)
        vars_ = group.get("vars")
        if not isinstance(vars_, h5py.Group):
            return []
        return [vars_[str(i)] for i in range(len(vars_)) if str(i) in vars_]


def _expected(layer: Layer, n_in: int) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of each weight array Keras stores for ``layer`` fed ``n_in`` features, in stored order."""
    cfg = layer.config
    if layer.kind == "embedding":
        return [("embeddings", (cfg["input_dim"], cfg["output_dim"]))]
    if layer.kind == "dense":
        units = cfg["units"]
        return [("kernel", (n_in, units))] + ([("bias", (units,))] if cfg.get("use_bias", True) else [])
    u = cfg["units"]
    g = GATES[layer.kind] * u
    one = [("kernel", (n_in, g)), ("recurrent_kernel", (u, g))]
    if cfg.get("use_bias", True):
        one.append(("bias", (2, g) if layer.kind == "gru" else (g,)))
    return one * (2 if layer.bidirectional else 1)


def _whole(cfg: dict, key: str, lo: int, hi: int, cls: str, name: str) -> int:
    value = cfg.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise CheckpointError("The {cls} {name}'s {key} is {value}; rnnviz reads {lo} to {hi:,}.", cls=cls,
                              name=shown(name), key=key, value=shown(value), lo=lo, hi=hi)
    return value


def _input_features(layers: list[Layer], first) -> int:
    """Features per step fed to the first recurrent layer when there is no Embedding: from the config's input
    shape where it says, else from the stored kernel (checked against the config's later)."""
    for layer in layers:
        shape = layer.config.get("batch_shape") or layer.config.get("batch_input_shape")
        if isinstance(shape, list) and shape and isinstance(shape[-1], int):
            if len(shape) != 3:
                raise CheckpointError("The model's input is shaped {shape}; an RNN without an Embedding reads "
                                      "[samples, timesteps, features].", shape=shown(shape))
            return shape[-1]
    return first.shape[0] if first is not None and len(first.shape) == 2 else 0


def _load_weights(layers: list[Layer], store: _Store) -> int:
    """Read every layer's weights (checked) into ``layer.weights``; returns the features fed to the stack."""
    n_in = None
    for layer in layers:
        if layer.kind == "input":
            continue
        raw = "Bidirectional" if layer.bidirectional else layer.class_name
        found = store.datasets(layer, raw)
        if layer.kind == "embedding":
            _whole(layer.config, "input_dim", 1, MAX_VOCAB, "Embedding", layer.name)
            n_in = _whole(layer.config, "output_dim", 1, MAX_HIDDEN, "Embedding", layer.name)
        elif n_in is None:
            n_in = _input_features(layers, found[0] if found else None)
            if not 1 <= n_in <= MAX_FEATURES:
                raise CheckpointError("The model reads {n:,} features per step; rnnviz reads 1 to {limit:,}.",
                                      n=n_in, limit=MAX_FEATURES)
            first_in = n_in
        if layer.kind == "dense":
            _whole(layer.config, "units", 1, max(MAX_FEATURES, MAX_VOCAB), "Dense", layer.name)
        expected = _expected(layer, n_in)
        if len(found) != len(expected) or any(not isinstance(d, h5py.Dataset) for d in found):
            raise CheckpointError("The file holds {n} weights for the layer {name}; its config implies "
                                  "{expected}: the weights do not belong to this config.", n=len(found),
                                  name=shown(layer.name), expected=len(expected))
        layer.weights = tuple(read_weight(d, shape, key, layer.name)
                              for d, (key, shape) in zip(found, expected, strict=True))
        if layer.kind in GATES:
            n_in = layer.config["units"] * (2 if layer.bidirectional else 1)
        if layer.kind == "embedding":
            first_in = n_in
    return first_in


def _gru_order(w: np.ndarray, axis: int = 0) -> np.ndarray:
    """Keras' GRU blocks z, r, h → PyTorch's r, z, n along ``axis``."""
    z, r, h = np.split(w, 3, axis=axis)
    return np.concatenate([r, z, h], axis=axis)


def _columns(units: int, H: int, D: int) -> np.ndarray:
    """Where a Keras layer's D·units outputs sit among the padded stack's D·H."""
    return np.concatenate([np.arange(units) + d * H for d in range(D)])


def _fill_layer(rnn: nn.RNNBase, index: int, layer: Layer, prev_units: int | None) -> None:
    """Copy one Keras layer (both directions) into layer ``index`` of the padded PyTorch stack."""
    H, D, G = rnn.hidden_size, 2 if rnn.bidirectional else 1, GATES[layer.kind]
    u = layer.config["units"]
    rows = np.concatenate([np.arange(u) + g * H for g in range(G)])  # gate blocks of u inside blocks of H
    cols = None if prev_units is None else _columns(prev_units, H, D)
    per = len(layer.weights) // D
    for d in range(D):
        kernel, recurrent, *bias = layer.weights[d * per:(d + 1) * per]
        w_ih, w_hh = kernel.T, recurrent.T  # [G·u, in], [G·u, u]
        b_ih = b_hh = np.zeros(G * u, np.float32)
        if bias:
            b_ih, b_hh = (bias[0][0], bias[0][1]) if layer.kind == "gru" else (bias[0], b_hh)
        if layer.kind == "gru":
            w_ih, w_hh, b_ih, b_hh = (_gru_order(a) for a in (w_ih, w_hh, b_ih, b_hh))
        s = f"_l{index}" + ("_reverse" if d else "")
        target = {k: getattr(rnn, k + s) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        in_cols = np.arange(w_ih.shape[1]) if cols is None else cols
        target["weight_ih"][np.ix_(rows, in_cols)] = torch.from_numpy(w_ih)
        target["weight_hh"][np.ix_(rows, np.arange(u))] = torch.from_numpy(w_hh)
        target["bias_ih"][rows] = torch.from_numpy(np.ascontiguousarray(b_ih))
        target["bias_hh"][rows] = torch.from_numpy(np.ascontiguousarray(b_hh))


def _summary(layers: list[Layer], features: int) -> tuple[dict, ...]:
    rows = []
    for layer in layers:
        if layer.kind == "input":
            continue
        cfg = layer.config
        if layer.kind == "embedding":
            out = f"[batch, time, {cfg['output_dim']}]"
        elif layer.kind == "dense":
            out = f"{cfg['units']} ({cfg.get('activation', 'linear')})"
        else:
            width = cfg["units"] * (2 if layer.bidirectional else 1)
            out = f"[batch, time, {width}]" if cfg.get("return_sequences") else f"[batch, {width}]"
        shapes = ", ".join(str(list(w.shape)) for w in layer.weights)
        rows.append({"layer": layer.name, "type": layer.class_name, "output": out, "weights": shapes})
    return ({"layer": "input", "type": "", "output": f"[batch, time, {features}]" if features else "[batch, time]",
             "weights": ""}, *rows)


def _build(layers: list[Layer], features: int, vocab: Vocab | None) -> ImportedModel:
    rec = [x for x in layers if x.kind in GATES]
    emb = next((x for x in layers if x.kind == "embedding"), None)
    dense = next((x for x in layers if x.kind == "dense"), None)
    cell, units = rec[0].kind, tuple(x.config["units"] for x in rec)
    H, D = max(units), 2 if rec[0].bidirectional else 1
    if emb is not None:
        vocab, encoder, size = ids_vocab(vocab, emb.config["input_dim"]), "embedding", 0
    elif vocab is not None:
        vocab, encoder, size = ids_vocab(vocab, features), "onehot", 0
    else:
        encoder, size = "float", features
    head = "none" if dense is None else "classify" if dense.config.get("activation") == "softmax" else "regress"
    config = ModelConfig(cell=cell, hidden_size=H, num_layers=len(rec), bidirectional=D == 2,
                         nonlinearity=rec[0].config.get("activation", "tanh") if cell == "rnn" else "tanh",
                         encoder=encoder, input_size=size, embed_dim=emb.config["output_dim"] if emb else 16,
                         head=head, output_size=dense.config["units"] if dense else 0)
    kwargs = {"nonlinearity": config.nonlinearity} if cell == "rnn" else {}
    rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](
        features, H, len(rec), batch_first=True, bidirectional=D == 2, **kwargs)
    with torch.no_grad():
        for p in rnn.parameters():
            p.zero_()
        for index, layer in enumerate(rec):
            _fill_layer(rnn, index, layer, units[index - 1] if index else None)
    model = ImportedModel(config, vocab, rnn, units, activation=dense.config.get("activation", "linear")
                          if dense else "linear", return_sequences=bool(rec[-1].config.get("return_sequences")),
                          layers=_summary(layers, features if emb is None else 0))
    with torch.no_grad():
        if emb is not None:
            model.embedding.weight.copy_(torch.from_numpy(emb.weights[0]))
        if dense is not None:
            model.head.weight.zero_()
            model.head.bias.zero_()
            model.head.weight[:, _columns(units[-1], H, D)] = torch.from_numpy(dense.weights[0].T)
            if len(dense.weights) > 1:
                model.head.bias.copy_(torch.from_numpy(dense.weights[1]))
    return model.eval()


def from_keras(source, vocab=None, max_bytes: int = MAX_BYTES) -> ImportedModel:
    """Read a Keras model (bytes, a path or an open binary file; ``.keras`` or legacy ``.h5``) → ImportedModel.

    ``vocab`` names the token ids of an Embedding, or the one-hot positions of a feature input: a Vocab, or a list
    of tokens for ids 0, 1, … (see rnnviz.vocab.read_tokens); ids past the list are named by their numbers, and
    without one every id is. A feature model without a vocabulary reads numbers ``[time, features]``.
    Raises CheckpointError, with a sentence for the person who gave the file, for anything else.
    """
    data = _read(source, max_bytes)
    if data.startswith(ZIP_SIGNATURE):
        config, weights = open_zip(data)
        f, legacy = open_h5(weights), False
    elif data.startswith(HDF5_SIGNATURE):
        f, legacy = open_h5(data), True
        raw = text_attr(f, "model_config")
        if raw is None:
            f.close()
            raise CheckpointError("This .h5 file holds weights only (no model_config): save the whole model with "
                                  "model.save('model.keras') or model.save('model.h5').")
        config = parse_json(raw, "model_config")
    else:
        raise CheckpointError("This is neither a .keras file (a zip) nor a Keras .h5 file (HDF5).")
    try:
        layers = _parse(config)
        features = _load_weights(layers, _Store(f, legacy))
        return _build(layers, features, vocab)
    except (KeyError, TypeError, AttributeError) as e:
        raise CheckpointError("The model's config is malformed ({detail}).", detail=shown(str(e))) from None
    except CheckpointError:
        raise
    except RnnvizError as e:
        raise CheckpointError("This model cannot be built in rnnviz: {reason}", reason=e) from None
    finally:
        f.close()
