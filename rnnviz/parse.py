"""Strict parsing of a typed number series: ``"1, 2.5, -3"`` or ``"1 2.5 -3"`` → float32 ``[time]``.

Strict on purpose: a page shows the sentence of the InputError, so every rejection names the entry and says
what to do. Accepted: plain decimals with an optional exponent (``-1.5``, ``.5``, ``2e-3``), separated either by
commas (with any spaces around them) or by whitespace alone, never a mix of both.
"""

from __future__ import annotations

import re

import numpy as np

from .errors import InputError

MAX_ABS = 1e6  # larger values only saturate every tanh and sigmoid; float32 overflows at 3.4e38
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NOT_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)


def _show(entry: str, limit: int = 20) -> str:
    """An entry quoted for a message, cut short and with controls made visible."""
    entry = entry if len(entry) <= limit else entry[:limit] + "…"
    return repr(entry)


def parse_numbers(text: str, max_abs: float = MAX_ABS) -> np.ndarray:
    """The numbers in ``text`` as float32 ``[time]``; raises InputError with a sentence a user can act on."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("Type some numbers, separated by commas or spaces, e.g. 0.1, 0.5, -0.2.")
    if "," in text:
        entries = [e.strip() for e in text.split(",")]
        if entries and entries[-1] == "":  # a trailing comma is harmless
            entries.pop()
        for i, entry in enumerate(entries, start=1):
            if not entry:
                raise InputError("Entry {i} is empty: remove the extra comma.", i=i)
            if len(entry.split()) > 1:
                raise InputError("Entry {i}, {entry}, mixes spaces and commas: separate the numbers "
                                 "with commas or with spaces, not both.", i=i, entry=_show(entry))
    else:
        entries = text.split()
    values = []
    for i, entry in enumerate(entries, start=1):
        if _NOT_FINITE.fullmatch(entry):
            raise InputError("Entry {i} is {entry}: NaN and infinity cannot be fed to a model; use a number.", i=i,
                             entry=entry)
        if not _NUMBER.fullmatch(entry):
            raise InputError("Entry {i}, {entry}, is not a number: use digits, a dot for decimals and "
                             "commas or spaces between numbers.", i=i, entry=_show(entry))
        value = float(entry)
        if not abs(value) <= max_abs:
            raise InputError("Entry {i}, {entry}, is too large: keep every value between "
                             "-{limit:,.0f} and {limit:,.0f}.", i=i, entry=_show(entry), limit=max_abs)
        values.append(value)
    return np.asarray(values, dtype=np.float32)
