"""Checkpoints: a safetensors file whose metadata holds the model card as JSON.

The card records what is needed to rebuild the model (the ``ModelConfig`` fields, the vocabulary tokens and
level, the dtype) and what a person wants to know about it (task, metrics, init, training settings):

    {"format": "rnnviz", "version": 1, "cell": "lstm", "hidden_size": 32, "num_layers": 1, ...,
     "vocab": {"tokens": ["<unk>", "a", ...], "level": "char"} | null, "dtype": "float32",
     "task": {...}, "metrics": {...}, "init": {...}, "training": {...}}

``load`` trusts nothing in the file: it refuses pickles, truncated or oversize files, cards out of range,
missing or extra tensors, wrong shapes or dtypes and non-finite values, each with a sentence that says so.
No pickle is ever opened.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import struct
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from .errors import CheckpointError, RnnvizError, shown
from .i18n import N_
from .model import Model, ModelConfig
from .vocab import MAX_VOCAB, UNK, Vocab

MAX_BYTES = 20 * 2**20
CARD_KEY = "rnnviz_card"
FORMAT, VERSION = "rnnviz", 1
CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(ModelConfig))
DTYPES = {"float32": ("F32", torch.float32), "float64": ("F64", torch.float64)}
MAX_FEATURES = 4096  # float input features and regression outputs
# Fields added to ModelConfig after version 1 cards were written (the leaky and ESN cells): a card without them
# describes an rnn, lstm or gru, for which their defaults are right.
LATER_FIELDS = {k: getattr(ModelConfig(), k) for k in ("leak", "learn_leak", "spectral_radius", "input_scaling",
                                                       "density", "seed")}


def _jsonable(value):
    """Plain JSON values: dataclasses become dicts, numpy and torch scalars numbers, NaN and inf None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray | torch.Tensor):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _dtype_name(model: Model) -> str:
    for name, (_, dtype) in DTYPES.items():
        if model.dtype == dtype:
            return name
    raise CheckpointError("Models stored as {dtype} cannot be saved; convert to float32 first.", dtype=str(model.dtype))


def make_card(model: Model, card: dict | None = None) -> dict:
    """The full model card: ``card`` (task, metrics, init, ...) plus the fields read from the model itself,
    which always win so that the card matches the weights."""
    full = {k: v for k, v in _jsonable(card or {}).items() if k not in CONFIG_FIELDS}
    vocab = model.vocab
    full.update(format=FORMAT, version=VERSION, **_jsonable(dataclasses.asdict(model.config)),
                vocab=None if vocab is None else {"tokens": list(vocab.tokens), "level": vocab.level,
                                                    "unk": vocab.unk},
                dtype=_dtype_name(model))
    return full


def _expected(config: ModelConfig, vocab: Vocab | None, dtype: torch.dtype) -> dict:
    """{name: (shape, dtype)} of the state dict a model of this config has, built on the meta device."""
    with torch.device("meta"):
        model = Model(config, vocab)
    return {k: (tuple(v.shape), dtype) for k, v in model.state_dict().items()}


def save(model: Model, dest=None, card: dict | None = None) -> bytes:
    """Write ``model`` and its card to ``dest`` (a path, a writable binary file, or None); returns the bytes."""
    full = make_card(model, card)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    expected = _expected(model.config, model.vocab, model.dtype)
    if set(state) != set(expected) or any(tuple(v.shape) != expected[k][0] for k, v in state.items()):
        raise CheckpointError("This model's layers differ from what its config describes (for example a layer "
                              "without biases), so it could not be loaded again; it was not saved.")
    data = save_tensors(state, metadata={CARD_KEY: json.dumps(full, ensure_ascii=False, allow_nan=False)})
    if len(data) > MAX_BYTES:
        raise CheckpointError("The model needs {mb:.1f} MB; checkpoints are limited to {limit} MB. Use fewer or "
                              "smaller layers.", mb=len(data) / 2**20, limit=MAX_BYTES // 2**20)
    if isinstance(dest, str | os.PathLike):
        Path(dest).write_bytes(data)
    elif dest is not None:
        dest.write(data)
    return data


def _read(source, max_bytes: int) -> bytes:
    too_big = CheckpointError("The file is larger than {limit:g} MB, the limit for a checkpoint; rnnviz models are "
                              "far smaller.", limit=max_bytes / 2**20)
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    elif isinstance(source, str | os.PathLike):
        try:
            if os.path.getsize(source) > max_bytes:
                raise too_big
            data = Path(source).read_bytes()
        except OSError as e:
            path = shown(os.fspath(source))
            raise CheckpointError("The checkpoint {path} could not be read: {reason}.", path=path,
                                  reason=e.strerror) from None
    elif hasattr(source, "read"):
        data = source.read(max_bytes + 1)
        if isinstance(data, str):
            raise CheckpointError("The checkpoint was opened as text; open it in binary mode ('rb').")
    else:
        raise CheckpointError("Give a checkpoint as bytes, a path or an open binary file.")
    if len(data) > max_bytes:
        raise too_big
    return data


def _header(data: bytes) -> dict:
    """The safetensors JSON header, checked for the pitfalls of uploaded files before any tensor is read."""
    # A safetensors header starts at byte 8 with "{"; only otherwise can the first bytes be a pickle's (a header
    # length such as 0x0280 begins with the same two bytes as pickle protocol 2).
    pickled = data[:2] in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05") or data[:4] == b"PK\x03\x04"
    if pickled and data[8:9] != b"{":
        raise CheckpointError("This is a PyTorch pickle (torch.save) file, not safetensors. rnnviz never opens "
                              "pickles because they can run code; save the model with rnnviz or safetensors.")
    if len(data) < 10:
        raise CheckpointError("The file is too short to be a safetensors checkpoint.")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        if data[8:9] == b"{":
            raise CheckpointError("The checkpoint is truncated: its header is cut off. Download or save it again.")
        raise CheckpointError("This is not a safetensors file (its first bytes do not describe a header).")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):  # RecursionError: "[[[[…" nested too deep
        raise CheckpointError("This is not a safetensors file (its header is not JSON).") from None
    if not isinstance(header, dict):
        raise CheckpointError("This is not a safetensors file (its header is not a JSON object).")
    body = len(data) - 8 - n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        offsets, shape, dtype = (info.get(k) if isinstance(info, dict) else None
                                 for k in ("data_offsets", "shape", "dtype"))
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)
                and isinstance(shape, list) and len(shape) <= 8 and all(isinstance(s, int) for s in shape)
                and isinstance(dtype, str) and len(dtype) <= 16):
            raise CheckpointError("The checkpoint's entry for {name} is malformed.", name=shown(name))
        if offsets[1] > body:
            raise CheckpointError("The checkpoint is truncated: some weights are missing from the end of the file. "
                                  "Download or save it again.")
    return header


def _card(header: dict) -> tuple[dict, ModelConfig, Vocab | None, torch.dtype]:
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict) or CARD_KEY not in meta:
        raise CheckpointError("This safetensors file has no rnnviz model card, so rnnviz cannot tell what model "
                              "it holds. Save models with rnnviz.checkpoint.save.")
    try:
        card = json.loads(meta[CARD_KEY])
    except (TypeError, json.JSONDecodeError, RecursionError):
        raise CheckpointError("The checkpoint's model card is not valid JSON.") from None
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise CheckpointError("The checkpoint's model card is not an rnnviz card.")
    if card.get("version") != VERSION:
        raise CheckpointError("The model card has version {version}; this rnnviz reads version {ours}.",
                              version=shown(card.get("version")), ours=VERSION)
    missing = [k for k in CONFIG_FIELDS if k not in card and k not in LATER_FIELDS]
    if missing:
        raise CheckpointError("The model card lacks {fields}.", fields=", ".join(missing))
    fields = {k: card.get(k, LATER_FIELDS.get(k)) for k in CONFIG_FIELDS}
    if not isinstance(fields["bidirectional"], bool):
        raise CheckpointError("The model card's 'bidirectional' must be true or false.")
    for key, hi in (("input_size", MAX_FEATURES), ("output_size", max(MAX_FEATURES, MAX_VOCAB))):
        value = fields[key]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= hi:
            raise CheckpointError("The model card's {key} must be a whole number from 0 to {hi}.", key=key, hi=hi)
    if isinstance(fields["dropout"], bool) or not isinstance(fields["dropout"], int | float):
        raise CheckpointError("The model card's dropout must be a number.")
    vocab = None
    if card.get("vocab") is not None:
        v = card["vocab"]
        tokens = v.get("tokens") if isinstance(v, dict) else None
        unk = v.get("unk", True) if isinstance(v, dict) else True
        if not (isinstance(tokens, list) and tokens and all(isinstance(t, str) for t in tokens)
                and isinstance(unk, bool) and (tokens[0] == UNK or not unk)):
            raise CheckpointError("The model card's vocabulary must be a list of tokens starting with {unk}.", unk=UNK)
        try:
            vocab = Vocab(tuple(tokens), v.get("level", "char"), unk)
        except RnnvizError as e:
            raise CheckpointError("The model card's vocabulary is invalid: {reason}", reason=e) from None
    if card.get("dtype") not in DTYPES:
        raise CheckpointError("The model card's dtype must be one of {dtypes}.", dtypes=", ".join(DTYPES))
    if fields["head"] == "auto":
        raise CheckpointError("The model card's head must be resolved (classify, regress or none).")
    try:
        config = ModelConfig(**fields)
        expected = _expected(config, vocab, DTYPES[card["dtype"]][1])
    except RnnvizError as e:
        raise CheckpointError("The model card describes a model rnnviz cannot build: {reason}", reason=e) from None
    except (TypeError, ValueError) as e:
        raise CheckpointError("The model card describes a model rnnviz cannot build ({reason}).",
                              reason=str(e)) from None
    card["_expected"] = expected
    return card, config, vocab, DTYPES[card["dtype"]][1]


def _names(keys) -> str:
    keys = [k if len(k) <= 40 else k[:40] + "…" for k in sorted(keys)]
    return ", ".join(keys[:4]) + (f", … (+{len(keys) - 4})" if len(keys) > 4 else "")


def load(source, max_bytes: int = MAX_BYTES) -> tuple[Model, dict]:
    """Read a checkpoint (bytes, a path or an open binary file) → ``(model, card)``, model in eval mode.

    Raises CheckpointError, with a sentence for the person who uploaded it, for anything but a valid
    rnnviz checkpoint of at most ``max_bytes``.
    """
    data = _read(source, max_bytes)
    header = _header(data)
    card, config, vocab, dtype = _card(header)
    expected = card.pop("_expected")
    found = {k: v for k, v in header.items() if k != "__metadata__"}
    if set(found) != set(expected):
        missing, unexpected = set(expected) - set(found), set(found) - set(expected)
        raise CheckpointError("The weights do not match the model card: missing {missing}; unexpected {unexpected}.",
                              missing=_names(missing) if missing else N_("none"),
                              unexpected=_names(unexpected) if unexpected else N_("none"))
    want_code = DTYPES[card["dtype"]][0]
    for name, info in sorted(found.items()):
        shape, _ = expected[name]
        if tuple(info.get("shape", ())) != shape:
            raise CheckpointError("The weight {name} has shape {shape}; the model card implies {implied}.", name=name,
                                  shape=list(info.get("shape", ())), implied=list(shape))
        if info.get("dtype") != want_code:
            raise CheckpointError("The weight {name} is stored as {dtype}; the model card says {card_dtype}.",
                                  name=name, dtype=info.get("dtype"), card_dtype=card["dtype"])
    try:
        tensors = load_tensors(data)
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise CheckpointError("The safetensors data is damaged and cannot be read ({reason}).", reason=str(e)) from None
    for name, tensor in tensors.items():
        if not torch.isfinite(tensor).all():
            raise CheckpointError("The weight {name} holds NaN or infinite values; the model cannot be used.",
                                  name=name)
    try:
        model = Model(config, vocab).to(dtype)
        model.load_state_dict(tensors, strict=True)
    except (RnnvizError, RuntimeError) as e:
        raise CheckpointError("The weights could not be loaded into the model: {reason}", reason=e) from None
    return model.eval(), card


def to_buffer(model: Model, card: dict | None = None) -> io.BytesIO:
    """The checkpoint as an in-memory file, e.g. for a download button."""
    return io.BytesIO(save(model, None, card))
