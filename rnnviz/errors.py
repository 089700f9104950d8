"""Errors a user can cause. Each carries one sentence the page can show, in English or translated.

The sentence is a catalog id with named placeholders and the values that fill them (see rnnviz.i18n):
``InputError("The text has {n:,} characters.", n=len(text))``. ``str(err)`` is the English sentence,
``err.text("zh")`` the Chinese one.
"""

import reprlib

from .i18n import tr

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 40
_short.maxlist = _short.maxtuple = _short.maxdict = 6


def shown(value) -> str:
    """``value`` as repr() writes it, cut short: a message never echoes a pasted novel or a 1 MB field back."""
    return _short.repr(value)


class RnnvizError(ValueError):
    """Base class: the message is written for the person using the app."""

    def __init__(self, message: str, **values: object) -> None:
        self.message, self.values = message, values
        super().__init__(tr("en", message, **values))

    def text(self, lang: str = "en") -> str:
        """The sentence in ``lang``."""
        return tr(lang, self.message, **self.values)


class InputError(RnnvizError):
    """Text, numbers or tensors that cannot be fed to the model (empty, too long, NaN, wrong shape)."""


class ConfigError(RnnvizError):
    """Sizes, cell names or hyperparameters outside what rnnviz supports."""


class CheckpointError(RnnvizError):
    """An uploaded or saved checkpoint that is not a valid rnnviz model."""
