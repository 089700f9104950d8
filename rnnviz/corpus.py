"""Corpora for the bundled character models, and bits per character on a long text.

- ``stdlib_corpus()``: every ``.py`` file of Python's standard library on this machine (``sysconfig``'s
  "stdlib" path, about 12 MB on CPython 3.11) without its tests and without installed packages. Files come in
  sorted relative-path order. Validation is held out by whole files: a file is in validation when the first
  8 hex digits of the SHA-256 of its relative path, read as a fraction of 16**8, fall below ``val_fraction``.
  The split depends only on the path, so it survives a new Python release that adds or drops files.
- ``heldout_source()``: third-party Python source that ships with our own dependencies (numpy's and
  plotly's own ``.py`` files in site-packages), which nothing here trains on. Whole files, in SHA-256 order
  of their path inside the package, up to ``max_chars`` per package, same exclusions as above.
- ``bits_per_char(model, text)``: the model's cross-entropy on ``text`` in bits, over non-overlapping windows.

Excluded everywhere (``EXCLUDED_DIRS``, ``excluded``): any directory named ``test``, ``tests``,
``idle_test``, ``testing`` or starting with ``test_``, the installed-package folders ``site-packages`` and
``dist-packages``, ``__pycache__``, ``pydoc_data`` (generated help text), and files named ``test_*.py`` or
``*_test.py``.
"""

from __future__ import annotations

import hashlib
import math
import sysconfig
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from torch.nn import functional as F

from .errors import InputError

EXCLUDED_DIRS = frozenset({"test", "tests", "idle_test", "testing", "site-packages", "dist-packages",
                           "__pycache__", "pydoc_data"})  # pydoc_data: 0.7 MB of generated help text, not code
VAL_FRACTION = 0.05
HELDOUT_PACKAGES = ("numpy", "plotly")
HELDOUT_CHARS = 500_000  # per package: about 1 MB of third-party source in all


def excluded(rel: str) -> bool:
    """True for a test or installed-package path (relative, '/'-separated); see the module docstring."""
    *dirs, name = rel.split("/")
    if any(d in EXCLUDED_DIRS or d.startswith("test_") for d in dirs):
        return True
    return name.startswith("test_") or name.endswith("_test.py")


def python_files(root: Path) -> list[str]:
    """Relative '/'-separated paths of the ``.py`` files under ``root`` that are not excluded, sorted."""
    root = Path(root)
    rels = (p.relative_to(root).as_posix() for p in root.rglob("*.py") if p.is_file())
    return sorted(r for r in rels if not excluded(r))


def path_fraction(rel: str) -> float:
    """A fixed number in [0, 1) for a relative path: its SHA-256's first 8 hex digits / 16**8."""
    return int(hashlib.sha256(rel.encode("utf-8")).hexdigest()[:8], 16) / 16**8


def _read(root: Path, rel: str) -> str | None:
    try:
        return (root / rel).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


@dataclass(frozen=True)
class Corpus:
    """Training and validation text, each the concatenation of whole files in sorted path order."""

    train: str
    val: str
    train_files: tuple[str, ...]
    val_files: tuple[str, ...]
    root: str
    source: str = "stdlib"

    def card(self) -> dict:
        """What a model card records: the root, the files of each part and their character counts."""
        digest = hashlib.sha256("\n".join(self.train_files + ("",) + self.val_files).encode()).hexdigest()
        return {"source": self.source, "root": self.root, "train_chars": len(self.train), "val_chars": len(self.val),
                "train_file_count": len(self.train_files), "val_file_count": len(self.val_files),
                "files_sha256": digest, "val_files": list(self.val_files), "train_files": list(self.train_files)}


@lru_cache(maxsize=2)
def stdlib_corpus(val_fraction: float = VAL_FRACTION, root: str | None = None) -> Corpus:
    """The standard library's Python source split by whole files (see the module docstring)."""
    root = root or sysconfig.get_paths()["stdlib"]
    parts: dict[bool, list[tuple[str, str]]] = {False: [], True: []}
    for rel in python_files(Path(root)):
        text = _read(Path(root), rel)
        if text:
            parts[path_fraction(rel) < val_fraction].append((rel, text))
    if not parts[False] or not parts[True]:
        raise InputError("Too little Python standard-library source was found under {root} to train on.",
                         root=str(root))
    return Corpus("".join(t for _, t in parts[False]), "".join(t for _, t in parts[True]),
                  tuple(r for r, _ in parts[False]), tuple(r for r, _ in parts[True]), str(root))


def package_root(name: str) -> Path:
    """The folder of an installed package, found without importing it (site-packages or purelib)."""
    for key in ("purelib", "platlib"):
        path = Path(sysconfig.get_paths()[key]) / name
        if path.is_dir():
            return path
    raise InputError("The package {name} is not installed here, so its source cannot be read.", name=name)


@lru_cache(maxsize=4)
def heldout_files(max_chars: int = HELDOUT_CHARS, packages: tuple[str, ...] = HELDOUT_PACKAGES) -> tuple:
    """((package/relative path, text), ...): per package, whole files in SHA-256 order of their relative path
    until the next would pass ``max_chars``; files longer than ``max_chars`` are skipped."""
    chosen = []
    for name in packages:
        root = package_root(name)
        size = 0
        for rel in sorted(python_files(root), key=lambda r: (path_fraction(r), r)):
            text = _read(root, rel)
            if not text or len(text) > max_chars:
                continue
            if size + len(text) > max_chars:
                break
            chosen.append((f"{name}/{rel}", text))
            size += len(text)
    return tuple(chosen)


def heldout_source(max_chars: int = HELDOUT_CHARS) -> str:
    """The held-out third-party text: the files of ``heldout_files(max_chars)`` joined in that order."""
    return "".join(text for _, text in heldout_files(max_chars))


@torch.no_grad()
def bits_per_char(model, text: str, window: int = 500, batch: int = 64) -> float:
    """Mean of -log2 p(x_{t+1} | x_1..x_t) over ``text``, read in non-overlapping windows of ``window``
    characters, each from a zero state (one window if the text is shorter). Window k predicts characters
    k*window+1 … (k+1)*window; the tail shorter than a window is dropped. Characters outside the
    vocabulary are the <unk> target.
    Shapes: ids ``[N]`` → windows ``[K, window + 1]`` → logits ``[K, window, vocab]``."""
    ids = model.ids(text)
    if len(ids) < 2:
        raise InputError("The text needs at least two characters to be scored.")
    window = min(window, len(ids) - 1)  # a text shorter than a window is one window
    count = (len(ids) - 1) // window
    idx = torch.arange(count)[:, None] * window + torch.arange(window + 1)
    chunks = ids[idx]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total = 0.0
    for start in range(0, count, batch):
        chunk = chunks[start:start + batch].to(device)
        out, _ = model(chunk[:, :-1])
        total += F.cross_entropy(out.reshape(-1, out.shape[-1]), chunk[:, 1:].reshape(-1), reduction="sum").item()
    model.train(was_training)
    return total / (count * window) / math.log(2)
