"""The containers of a Keras model, opened as data: a ``.keras`` zip or a legacy ``.h5``, read with zipfile, json and
h5py only. Nothing here imports keras, unpickles, or imports a module that a file names.

What a hostile file is refused for, before any weight is read (as Keras' own safe mode does, and more):
- a zip whose entries, once inflated, pass MAX_UNZIPPED (a zip bomb), a truncated or damaged zip;
- in the HDF5 tree, soft and external links, external (raw file) and virtual datasets, more than MAX_OBJECTS
  objects, any dataset declaring more than MAX_ELEMENTS values, and more than MAX_TOTAL values in all.
Weights are then read one dataset at a time, each checked for its shape, a float dtype and finite values.
"""

from __future__ import annotations

import io
import json
import math
import zipfile

import h5py
import numpy as np

from .errors import CheckpointError, shown

MAX_UNZIPPED = 80 * 2**20  # a .keras zip inflates to at most this many bytes
MAX_CONFIG = 4 * 2**20  # config.json
MAX_OBJECTS = 10_000  # groups and datasets in one HDF5 file
MAX_ELEMENTS = 2**24  # values one dataset may declare: a 1024-unit LSTM's kernel holds 2**22
MAX_TOTAL = 2**25  # values all datasets may declare together (gzip-compressed zeros fit any size in a small file)
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"


def _inflate(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """One entry's bytes, read in pieces so that a small declared size cannot hide a bomb."""
    out, total = [], 0
    with archive.open(name) as entry:
        while chunk := entry.read(2**20):
            total += len(chunk)
            if total > limit:
                raise CheckpointError("The .keras file's {name} inflates past {limit:g} MB, far more than an RNN "
                                      "needs: it looks like a zip bomb and was not opened.", name=name,
                                      limit=limit / 2**20)
            out.append(chunk)
    return b"".join(out)


def open_zip(data: bytes) -> tuple[dict, bytes]:
    """(config.json parsed, model.weights.h5 bytes) of a Keras 3 ``.keras`` file."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
        if "config.json" not in names or "model.weights.h5" not in names:
            raise CheckpointError("This zip is not a Keras model: a .keras file holds config.json and "
                                  "model.weights.h5 (a PyTorch .pt file is opened as a state dict instead).")
        declared = sum(i.file_size for i in archive.infolist())
        if declared > MAX_UNZIPPED:
            raise CheckpointError("The .keras file declares {declared:,.0f} MB once inflated; the limit is "
                                  "{limit:g} MB, far more than an RNN needs.", declared=declared / 2**20,
                                  limit=MAX_UNZIPPED / 2**20)
        raw_config = _inflate(archive, "config.json", MAX_CONFIG)
        weights = _inflate(archive, "model.weights.h5", MAX_UNZIPPED)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError("The .keras file is damaged or truncated (its zip cannot be read); save or download "
                              "it again.") from None
    return parse_json(raw_config, "config.json"), weights


def parse_json(raw: bytes | str, what: str):
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise CheckpointError("The model's {what} is not valid JSON.", what=what) from None


def open_h5(data: bytes) -> h5py.File:
    """An HDF5 file held in memory, its whole tree checked (see the module docstring)."""
    if not data.startswith(HDF5_SIGNATURE):
        raise CheckpointError("This is not an HDF5 file (.h5): its first bytes are not HDF5's signature.")
    try:
        f = h5py.File(io.BytesIO(data), "r")
    except (OSError, ValueError):
        raise CheckpointError("The .h5 file is damaged or truncated; save or download it again.") from None
    try:
        check_tree(f)
    except (OSError, RuntimeError, KeyError, ValueError) as e:
        f.close()
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError("The .h5 file is damaged: part of its tree cannot be read.") from None
    return f


def check_tree(root: h5py.Group) -> None:
    """Walk every link from ``root``: hard links only, and only plain, bounded datasets."""
    stack, seen, total = [root], 0, 0
    while stack:
        group = stack.pop()
        for name in group:
            seen += 1
            if seen > MAX_OBJECTS:
                raise CheckpointError("The HDF5 file holds more than {limit:,} objects; an RNN's weights need a "
                                      "few dozen.", limit=MAX_OBJECTS)
            link = group.get(name, getlink=True)
            where = shown(f"{group.name.rstrip('/')}/{name}")
            if isinstance(link, h5py.ExternalLink):
                raise CheckpointError("The HDF5 entry {where} links to another file ({file}); rnnviz reads only "
                                      "what is inside the file itself.", where=where, file=shown(link.filename))
            if not isinstance(link, h5py.HardLink):
                raise CheckpointError("The HDF5 entry {where} is a soft or user-defined link; Keras files have "
                                      "none, and rnnviz does not follow them.", where=where)
            item = group[name]
            if isinstance(item, h5py.Group):
                stack.append(item)
            elif isinstance(item, h5py.Dataset):
                total += _check_dataset(item, where)
                if total > MAX_TOTAL:
                    raise CheckpointError("The HDF5 file declares more than {limit:,} values in all, more than any "
                                          "RNN rnnviz can show.", limit=MAX_TOTAL)


def _check_dataset(ds: h5py.Dataset, where: str) -> int:
    """The number of values ``ds`` declares, after refusing virtual, external and oversize datasets."""
    if ds.is_virtual:
        raise CheckpointError("The HDF5 dataset {where} is virtual (its values live in other files); rnnviz "
                              "reads only data stored in the file.", where=where)
    if ds.id.get_create_plist().get_external_count():
        raise CheckpointError("The HDF5 dataset {where} keeps its values in an external file; rnnviz reads "
                              "only data stored in the file.", where=where)
    n = math.prod(ds.shape) if ds.shape else 1
    if n > MAX_ELEMENTS:
        raise CheckpointError("The HDF5 dataset {where} declares {n:,} values; the limit is {limit:,}, "
                              "more than any RNN rnnviz can show.", where=where, n=n, limit=MAX_ELEMENTS)
    return n


def read_weight(ds: h5py.Dataset, shape: tuple[int, ...], key: str, layer: str) -> np.ndarray:
    """The values of ``ds`` (the weight ``key`` of the layer named ``layer``) as float32, after checking its shape
    against the config and its dtype."""
    what = dict(key=key, layer=shown(layer))
    if tuple(ds.shape) != tuple(shape):
        raise CheckpointError("The {key} of layer {layer} has shape {shape}, but the model's config implies "
                              "{expected}: the weights do not belong to this config.", **what,
                              shape=list(ds.shape), expected=list(shape))
    if ds.dtype.kind != "f":
        raise CheckpointError("The {key} of layer {layer} is stored as {dtype}; weights must be floats.", **what,
                              dtype=shown(str(ds.dtype)))
    try:
        values = np.asarray(ds[()])
    except (OSError, ValueError, TypeError):
        raise CheckpointError("The {key} of layer {layer} cannot be read: the file is damaged.", **what) from None
    if not np.isfinite(values).all():
        raise CheckpointError("The {key} of layer {layer} holds NaN or infinite values; the model cannot be "
                              "used.", **what)
    return values.astype(np.float32)


def text_attr(node: h5py.HLObject, key: str) -> str | None:
    value = node.attrs.get(key)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def names_attr(node: h5py.HLObject, key: str) -> list[str]:
    """A list-of-strings attribute (Keras' layer_names, weight_names), decoded."""
    value = node.attrs.get(key)
    if value is None:
        return []
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in np.asarray(value).ravel()]
