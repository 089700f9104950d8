"""The session's language for the pages: ``t("...")`` translates into it (see rnnviz.i18n)."""

from __future__ import annotations

import streamlit as st

from rnnviz.i18n import tr

LANG_KEY = "rnnviz_lang"  # session_state: "en" or "zh"


def lang() -> str:
    """This session's language code."""
    return st.session_state.get(LANG_KEY, "en")


def t(message: str, **values: object) -> str:
    """``message`` (English source text with ``{named}`` placeholders) in this session's language."""
    return tr(lang(), message, **values)
