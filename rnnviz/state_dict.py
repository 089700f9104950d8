"""from_state_dict: a ``torch.save``d state_dict of nn.RNN / nn.LSTM / nn.GRU, with an optional nn.Embedding before
it and nn.Linear after it, read with ``torch.load(weights_only=True)`` only (PyTorch's restricted unpickler: tensors
and plain containers, never code).

What is what comes from names and shapes alone:
    <rnn>.weight_ih_l{k}[_reverse] [G·H, in_k], weight_hh [G·H, H], bias_ih / bias_hh [G·H]
        G = 1 (RNN), 3 (GRU), 4 (LSTM) = weight_hh rows / H
    an embedding: a lone 2-D ``weight`` [vocab, input_size] (no bias), registered before the RNN
    a linear head: ``weight`` [out, D·H] with an optional ``bias`` [out], registered after the RNN
A vanilla RNN's nonlinearity is not in its state dict: give it (tanh unless told).
"""

from __future__ import annotations

import io
import pickle
import re
import zipfile

import torch
from torch import nn

from .checkpoint import MAX_BYTES, _read
from .errors import CheckpointError, RnnvizError, shown
from .model import MAX_HIDDEN, MAX_LAYERS, ImportedModel, ModelConfig
from .vocab import ids_vocab

_RNN_KEY = re.compile(r"^(.*?)(weight|bias)_(ih|hh|hr)_l(\d+)(_reverse)?$")
CELL_OF_GATES = {1: "rnn", 3: "gru", 4: "lstm"}


def _load(data: bytes) -> dict:
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError, TypeError,
            AttributeError, KeyError, ImportError, OSError):
        raise CheckpointError("This file cannot be read as a weights-only PyTorch state dict: it is damaged, or it "
                              "holds objects other than tensors (rnnviz never unpickles those, since they can run "
                              "code). Save model.state_dict() with torch.save.") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not (isinstance(state, dict) and state and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                      for k, v in state.items())):
        raise CheckpointError("The file does not hold a state dict ({name: tensor}); save model.state_dict().")
    for name, tensor in state.items():
        if not tensor.is_floating_point():
            raise CheckpointError("The tensor {name} is {dtype}; weights must be floats.", name=shown(name),
                                  dtype=str(tensor.dtype))
        if not torch.isfinite(tensor).all():
            raise CheckpointError("The tensor {name} holds NaN or infinite values; the model cannot be used.",
                                  name=shown(name))
    return {k: v.float() for k, v in state.items()}


def _recurrent(state: dict) -> tuple[str, dict]:
    """(prefix, {"weight_ih_l0": tensor, …}) of the one recurrent module in ``state``."""
    found: dict[str, dict] = {}
    for name, tensor in state.items():
        m = _RNN_KEY.match(name)
        if m:
            found.setdefault(m.group(1), {})[name[len(m.group(1)):]] = tensor
    if len(found) != 1:
        if not found:
            raise CheckpointError("The state dict holds no recurrent modules (keys like weight_ih_l0); rnnviz "
                                  "reads one nn.RNN, nn.LSTM or nn.GRU.")
        raise CheckpointError("The state dict holds {n} recurrent modules (keys like weight_ih_l0); rnnviz reads "
                              "one nn.RNN, nn.LSTM or nn.GRU.", n=len(found))
    return next(iter(found.items()))


def _shape_config(rnn: dict) -> tuple[str, int, int, int, int]:
    """(cell, input_size, hidden, layers, directions), every key and shape checked."""
    if any(k.startswith("weight_hr") for k in rnn) or "weight_hh_l0" not in rnn or "weight_ih_l0" not in rnn:
        raise CheckpointError("The recurrent weights are incomplete (or an LSTM with proj_size, not supported).")
    w_hh, w_ih = rnn["weight_hh_l0"], rnn["weight_ih_l0"]
    if w_hh.dim() != 2 or w_ih.dim() != 2 or not 1 <= w_hh.shape[1] <= MAX_HIDDEN:
        raise CheckpointError("weight_hh_l0 is shaped {shape}; rnnviz reads [gates·H, H], H ≤ {limit}.",
                              shape=list(w_hh.shape), limit=MAX_HIDDEN)
    H = w_hh.shape[1]
    cell = CELL_OF_GATES.get(w_hh.shape[0] // H) if w_hh.shape[0] % H == 0 else None
    if cell is None:
        raise CheckpointError("weight_hh_l0 is shaped {shape}: not an RNN (H rows), GRU (3H) or LSTM (4H).",
                              shape=list(w_hh.shape))
    L = 1 + max(int(_RNN_KEY.match(k).group(4)) for k in rnn)
    D = 2 if any(k.endswith("_reverse") for k in rnn) else 1
    if L > MAX_LAYERS:
        raise CheckpointError("The RNN has {n} layers; rnnviz shows at most {limit}.", n=L, limit=MAX_LAYERS)
    G, bias = w_hh.shape[0], "bias_ih_l0" in rnn
    want = {}
    for layer in range(L):
        for d in range(D):
            s = f"_l{layer}" + ("_reverse" if d else "")
            want |= {"weight_ih" + s: (G, w_ih.shape[1] if layer == 0 else D * H), "weight_hh" + s: (G, H)}
            if bias:
                want |= {"bias_ih" + s: (G,), "bias_hh" + s: (G,)}
    if set(rnn) != set(want):
        odd = sorted(set(rnn) ^ set(want))
        raise CheckpointError("The recurrent weights do not form a stack: {keys} missing or extra.",
                              keys=", ".join(odd[:4]))
    for k, shape in want.items():
        if tuple(rnn[k].shape) != shape:
            raise CheckpointError("The tensor {name} is shaped {shape}; the stack implies {expected}.", name=k,
                                  shape=list(rnn[k].shape), expected=list(shape))
    return cell, w_ih.shape[1], H, L, D


def _extras(state: dict, prefix: str, input_size: int, width: int) -> tuple[torch.Tensor | None, tuple | None]:
    """(embedding weight, (linear weight, bias or None)) among the keys outside the recurrent module."""
    names = list(state)
    first_rnn = min(i for i, k in enumerate(names) if k.startswith(prefix) and _RNN_KEY.match(k))
    modules: dict[str, dict] = {}
    for i, name in enumerate(names):
        if name.startswith(prefix) and _RNN_KEY.match(name):
            continue
        module, _, leaf = name.rpartition(".")
        if leaf not in ("weight", "bias"):
            raise CheckpointError("The state dict holds {name}, which is not part of an RNN, an embedding or a "
                                  "linear head.", name=shown(name))
        modules.setdefault(module, {"before": i < first_rnn})[leaf] = state[name]
    embedding = linear = None
    for module, parts in modules.items():
        w, b = parts.get("weight"), parts.get("bias")
        is_emb = w is not None and b is None and w.dim() == 2 and w.shape[1] == input_size and parts["before"]
        is_lin = (w is not None and w.dim() == 2 and w.shape[1] == width and not parts["before"]
                  and (b is None or tuple(b.shape) == (w.shape[0],)))
        if is_emb and embedding is None:
            embedding = w
        elif is_lin and linear is None:
            linear = (w, b)
        else:
            raise CheckpointError("The module {name} is neither an nn.Embedding before the RNN (weight [vocab, "
                                  "{inputs}]) nor an nn.Linear after it (weight [out, {width}]).",
                                  name=shown(module or "(top)"), inputs=input_size, width=width)
    return embedding, linear


def from_state_dict(source, vocab=None, nonlinearity: str = "tanh", max_bytes: int = MAX_BYTES) -> ImportedModel:
    """Read a state dict (bytes, a path or an open binary file) → a model whose ``model(x)`` answers as the
    PyTorch modules did: ``[batch, time, out]`` from the head (or the RNN's output) and the final states.

    ``vocab`` names an embedding's ids (or a one-hot input's positions), as in rnnviz.from_keras.
    """
    state = _load(_read(source, max_bytes))
    prefix, rnn = _recurrent(state)
    cell, n_in, H, L, D = _shape_config(rnn)
    embedding, linear = _extras(state, prefix, n_in, D * H)
    out = linear[0].shape[0] if linear else 0
    try:
        if embedding is not None:
            vocab, encoder = ids_vocab(vocab, embedding.shape[0]), "embedding"
        elif vocab is not None:
            vocab, encoder = ids_vocab(vocab, n_in), "onehot"
        else:
            encoder = "float"
        head = "none" if not linear else "classify" if vocab is not None and out == len(vocab) else "regress"
        config = ModelConfig(cell=cell, hidden_size=H, num_layers=L, bidirectional=D == 2, nonlinearity=nonlinearity,
                             encoder=encoder, input_size=n_in if encoder == "float" else 0,
                             embed_dim=n_in if embedding is not None else 16, head=head, output_size=out)
        module = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](
            n_in, H, L, batch_first=True, bidirectional=D == 2,
            **({"nonlinearity": nonlinearity} if cell == "rnn" else {}))
        rows = [{"layer": prefix.rstrip(".") or "(top)", "type": f"nn.{type(module).__name__}",
                 "output": f"[batch, time, {D * H}]", "weights": f"{L} layer(s) × {D} direction(s), input {n_in}"}]
        model = ImportedModel(config, vocab, module, (H,) * L, layers=tuple(rows))
    except RnnvizError as e:
        raise CheckpointError("This model cannot be built in rnnviz: {reason}", reason=e) from None
    with torch.no_grad():
        for p in module.parameters():
            p.zero_()
        for k, v in rnn.items():
            getattr(module, k).copy_(v)
        if embedding is not None:
            model.embedding.weight.copy_(embedding)
        if linear is not None:
            model.head.weight.copy_(linear[0])
            model.head.bias.copy_(linear[1] if linear[1] is not None else torch.zeros(out))
    return model.eval()
