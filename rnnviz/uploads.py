"""One entry for a model file someone uploads, by its name's ending: an rnnviz checkpoint (.safetensors), a Keras
model (.keras, .h5) or a PyTorch state dict (.pt, .pth). Each is read as data, never as code."""

from __future__ import annotations

from .checkpoint import load as load_checkpoint
from .errors import CheckpointError, shown
from .i18n import N_
from .keras_io import from_keras
from .model import ImportedModel, Model
from .state_dict import from_state_dict

KINDS = {"safetensors": "rnnviz", "keras": "Keras", "h5": "Keras", "pt": "PyTorch", "pth": "PyTorch"}
UPLOAD_TYPES = tuple(KINDS)
IMPORTED = {"Keras": N_("imported from Keras"), "PyTorch": N_("imported from PyTorch")}  # a card's task name


def kind_of(filename: str) -> str:
    """"rnnviz", "Keras" or "PyTorch", from the file name's ending."""
    suffix = filename.rpartition(".")[2].lower()
    if suffix not in KINDS:
        raise CheckpointError("Unknown model file {name}: rnnviz reads .safetensors, .keras, .h5, .pt and .pth "
                              "files.", name=shown(filename))
    return KINDS[suffix]


def read_model(data: bytes, filename: str, vocab=None) -> tuple[Model, dict]:
    """(model in eval mode, card) of an uploaded file; ``vocab`` (tokens for ids 0, 1, …) is used by Keras and
    PyTorch files, whose weights do not name their tokens."""
    kind = kind_of(filename)
    if kind == "rnnviz":
        return load_checkpoint(data)
    model = from_keras(data, vocab) if kind == "Keras" else from_state_dict(data, vocab)
    return model, imported_card(model, kind, filename)


def imported_card(model: ImportedModel, kind: str, filename: str) -> dict:
    """A model card for an imported model: what card_caption shows, with each layer's real width."""
    c = model.config
    units = sorted(set(model.units))
    return {"cell": c.cell, "hidden_size": ", ".join(map(str, model.units)) if len(units) > 1 else c.hidden_size,
            "num_layers": c.num_layers, "bidirectional": c.bidirectional, "title": filename,
            "task": {"name": IMPORTED[kind]}, "layers": list(model.layers), "units": list(model.units)}
