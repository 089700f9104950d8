"""Words a user reads, in English (the catalogs' source language) or Simplified Chinese.

The language is always passed explicitly: Streamlit serves every session from threads of one process, so a
process-wide ``_`` would give one person's language to everyone. Strings are marked for Babel's extraction by
``tr(lang, "...")`` here and ``t("...")`` in pages/ (keywords set in babel.cfg); placeholders are named.
"""

from __future__ import annotations

LANGUAGES = ("en", "zh")  # codes in the ?lang= link parameter


def tr(lang: str, message: str, **values: object) -> str:
    """``message`` in ``lang``, with its ``{named}`` placeholders filled from ``values``."""
    text = message  # the catalog lookup lands with the Chinese-interface issue (#16)
    return text.format(**values) if values else text


def N_(message: str) -> str:
    """Mark ``message`` for extraction where it is stored now and translated later (option labels, tables)."""
    return message
