"""Words a user reads, in English (the catalogs' source language) or Simplified Chinese.

The language is always passed explicitly: Streamlit serves every session from threads of one process, so a
process-wide ``_`` would give one person's language to everyone. Strings are marked for Babel's extraction by
``tr(lang, "...")`` here and ``t("...")`` in pages/ (the keywords are listed in the README's development section);
placeholders are named, ``{n:,}`` style, and filled after the lookup.

Catalogs: ``rnnviz/locales/messages.pot`` (extracted), ``rnnviz/locales/zh/LC_MESSAGES/messages.po`` (translated,
with Babel) and its compiled ``messages.mo``, which is committed; tests/unit/test_i18n.py fails when any of them
is stale. A language's translations are read once per process and shared (GNUTranslations is read-only).

Errors (one scheme): an :class:`rnnviz.errors.RnnvizError` carries its English message as a catalog id plus the
named values that fill it (``InputError("The text has {n:,} characters.", n=len(text))``, the exception class
names are extraction keywords too). ``str(err)`` is the English sentence; a page shows ``err.text(lang)``.
A value that is itself a word to translate (a setting's name inside a message) is marked with :func:`N_` and
translated with the message.
"""

from __future__ import annotations

import functools
import gettext
from pathlib import Path

LANGUAGES = ("en", "zh")  # codes in the ?lang= link parameter
LOCALES = Path(__file__).parent / "locales"
DOMAIN = "messages"


class Msg(str):
    """A message id kept as it is now and translated where it is shown (see :func:`N_`)."""

    __slots__ = ()


def N_(message: str) -> str:
    """Mark ``message`` for extraction where it is stored now and translated later (option labels, tables, a
    setting's name inside an error message): ``tr`` translates a value marked this way along with its message."""
    return Msg(message)


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalog of ``lang`` (English, or an unknown code: the source text itself)."""
    if lang not in LANGUAGES or lang == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALES, languages=[lang], fallback=True)


def tr(lang: str, message: str, **values: object) -> str:
    """``message`` in ``lang``, with its ``{named}`` placeholders filled from ``values``."""
    text = translations(lang).gettext(message) if message else message
    if not values:
        return text
    return text.format(**{k: _value(lang, v) for k, v in values.items()})


def _value(lang: str, value: object) -> object:
    """A placeholder's value in ``lang``: a message marked with N_, or an RnnvizError (a reason quoted inside
    another message), is translated; anything else is filled in as it is."""
    if isinstance(value, Msg):
        return tr(lang, value)
    text = getattr(value, "text", None)
    return text(lang) if isinstance(value, Exception) and callable(text) else value
