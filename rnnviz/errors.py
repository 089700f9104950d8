"""Errors a user can cause. Each carries one sentence the page can show as it is."""

import reprlib

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 40
_short.maxlist = _short.maxtuple = _short.maxdict = 6


def shown(value) -> str:
    """``value`` as repr() writes it, cut short: a message never echoes a pasted novel or a 1 MB field back."""
    return _short.repr(value)


class RnnvizError(ValueError):
    """Base class: the message is written for the person using the app."""


class InputError(RnnvizError):
    """Text, numbers or tensors that cannot be fed to the model (empty, too long, NaN, wrong shape)."""


class ConfigError(RnnvizError):
    """Sizes, cell names or hyperparameters outside what rnnviz supports."""


class CheckpointError(RnnvizError):
    """An uploaded or saved checkpoint that is not a valid rnnviz model."""
