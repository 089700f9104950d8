"""The session's language for the pages: ``t("...")`` translates into it (see rnnviz.i18n).

app.py decides the language at the top of every run (:func:`choose_language`): ``?lang=`` in the link, else what
this session chose before, else the browser's language, else English; and it keeps ``?lang=`` in the link.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import streamlit as st

from rnnviz.i18n import LANGUAGES, tr

LANG_KEY = "rnnviz_lang"  # session_state: "en" or "zh"
PARAM = "lang"  # the link's parameter
NAMES = {"en": "English", "zh": "中文"}  # each language in its own words: the switch's labels
_speaking: ContextVar[str | None] = ContextVar("rnnviz_speaking", default=None)


def lang() -> str:
    """This session's language code."""
    return _speaking.get() or st.session_state.get(LANG_KEY, "en")


def t(message: str, **values: object) -> str:
    """``message`` (English source text with ``{named}`` placeholders) in this session's language."""
    return tr(lang(), message, **values)


@contextmanager
def speaking(code: str) -> Iterator[None]:
    """``t`` answers in ``code`` inside this block (this thread only): to compute a label in another language."""
    token = _speaking.set(code)
    try:
        yield
    finally:
        _speaking.reset(token)


def browser_language() -> str | None:
    """The browser's preferred language, if it is one of ours (``st.context.locale``: e.g. "zh-CN", "en-US")."""
    try:
        locale = st.context.locale
    except Exception:  # no browser behind this session (AppTest, bare mode)
        return None
    code = str(locale or "").split("-")[0].split("_")[0].lower()
    return code if code in LANGUAGES else None


def choose_language() -> str:
    """This run's language, remembered in the session and kept in the link as ?lang=."""
    linked = st.query_params.get(PARAM)
    code = (linked if linked in LANGUAGES else None) or st.session_state.get(LANG_KEY) or browser_language() or "en"
    st.session_state[LANG_KEY] = code
    if linked != code:
        st.query_params[PARAM] = code
    return code
