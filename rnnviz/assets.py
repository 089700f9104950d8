"""Bundled pretrained models in assets/: each NAME.safetensors carries its model card, and NAME.json repeats the
card for people to read. ``python -m rnnviz.pretrain`` makes them all; nothing is downloaded at run time.

Groups: "char" (character models on Python's standard-library source, for /cell and /generate) and
"recall" (first-symbol recall at a long lag, for /gradients), "sentiment" (the review classifier, for /cell). A card's
"language" says what text a model reads ("zh": Chinese; none: Python source).
"""

from __future__ import annotations

import json
from pathlib import Path

from .checkpoint import load
from .errors import CheckpointError, shown
from .i18n import N_
from .model import Model

ASSETS = Path(__file__).resolve().parent.parent / "assets"
# The bundled cards' titles, marked for the message catalog (pages show a title in the reader's language, and a
# link holds it); tests/unit/test_i18n.py checks that every bundled title is listed here.
TITLES = (N_("GRU, 256 units, Python source"), N_("LSTM, 512 units, Python source"),
          N_("LSTM, 256 units, Python source"), N_("vanilla RNN, 256 units, Python source"),
          N_("GRU, recall at lag 100"), N_("LSTM, recall at lag 100"), N_("vanilla RNN, recall at lag 100"),
          N_("LSTM, 256 units, Chinese reviews"), N_("LSTM, 128 units, sentiment of Chinese reviews"),
          N_("LSTM, 256 units, sentiment of Chinese reviews"))


def list_pretrained(group: str | None = None) -> list[dict]:
    """Model cards of the bundled models (optionally one group), sorted by name; each has "name" and "group"."""
    cards = []
    for path in sorted(ASSETS.glob("*.json")):
        try:
            card = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(card, dict) and card.get("group") and (ASSETS / f"{path.stem}.safetensors").exists():
            card["name"] = path.stem
            if group is None or card["group"] == group:
                cards.append(card)
    return cards


def load_pretrained(name: str) -> tuple[Model, dict]:
    """(model in eval mode, card) of one bundled model."""
    path = ASSETS / f"{name}.safetensors"
    if not name.replace("_", "").replace("-", "").isalnum() or not path.exists():
        raise CheckpointError("There is no bundled model named {name}.", name=shown(name))
    model, card = load(path)
    return model.eval(), card
