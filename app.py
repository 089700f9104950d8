"""rnnviz entry point: page config, the language, and navigation. Each page is a short script in pages/."""

import streamlit as st
import torch
from threadpoolctl import threadpool_limits

from pages.i18n import LANG_KEY, NAMES, PARAM, choose_language, t
from rnnviz.heap import freeze_imports
from rnnviz.i18n import LANGUAGES

# The models here are tiny and sequential: sessions run in parallel threads, and a second intra-op thread per
# op only adds synchronization (a 200-step LSTM trace: ~10 ms on one thread, 30-550 ms on two on a busy machine).
torch.set_num_threads(1)
# numpy's OpenBLAS keeps a pool of its own as wide as the machine, whose workers spin after each product: beside
# torch's they starved each other (a fused LSTM forward ran 5-8x its own time inside a trace; rnnviz.bench says more).
threadpool_limits(1, user_api="blas")
# Once per process, before any session's objects: the libraries' objects leave the garbage collector's walks.
freeze_imports()

SWITCH_KEY = "rnnviz_lang_switch"  # never language-dependent, like every widget key

st.set_page_config(page_title="rnnviz", page_icon=":material/neurology:", layout="wide")


def switch_language() -> None:
    """The switch's callback. Every widget's value is written back into the session first, while the widgets still
    show the old language's labels: an option widget's state travels as its label, so without this the new
    labels would not match it and it would fall back to its default. Written back, each value is re-sent to the
    browser in the new language's labels (and so to the link). Nothing is recomputed: the caches hold no words."""
    for key in list(st.session_state):
        if key in (SWITCH_KEY, LANG_KEY):
            continue
        try:
            value = st.session_state[key]
        except KeyError:
            continue
        if _option_like(value):
            st.session_state[key] = value
    code = st.session_state[SWITCH_KEY]
    st.session_state[LANG_KEY] = code
    st.query_params[PARAM] = code


def _option_like(value) -> bool:
    """A value an option widget can hold (a code, a number, a list of them). Buttons, checkboxes (bools), uploads
    and editors hold other things, and a button or an upload refuses to be set."""
    if isinstance(value, list | tuple):
        return all(_option_like(v) for v in value)
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def language_ui() -> None:
    """A visible switch at the top right of every page."""
    st.session_state[SWITCH_KEY] = st.session_state[LANG_KEY]
    with st.container(horizontal=True, horizontal_alignment="right"):
        st.segmented_control(t("Language"), LANGUAGES, key=SWITCH_KEY, format_func=NAMES.get, required=True,
                             label_visibility="collapsed", on_change=switch_language)


choose_language()
language_ui()

PAGES = [
    st.Page(
        "pages/home.py",
        title=t("Home"),
        icon=":material/home:",
        url_path="",
        default=True,
        help=t("What rnnviz is, with a live LSTM's hidden states on a sequence you type."),
    ),
    st.Page(
        "pages/cell.py",
        title=t("Inside the cell"),
        icon=":material/memory:",
        url_path="cell",
        help=t("Gates, cell state and hidden state of a live model, step by step over a typed sequence."),
    ),
    st.Page(
        "pages/gradients.py",
        title=t("Gradient flow"),
        icon=":material/trending_down:",
        url_path="gradients",
        help=t("How gradients decay through time in a vanilla RNN, beside what an LSTM or GRU keeps."),
    ),
    st.Page(
        "pages/memory.py",
        title=t("Before gating"),
        icon=":material/waves:",
        url_path="memory",
        help=t("Leaky units and echo state networks beside RNN, LSTM and GRU: success against lag, memory "
               "capacity."),
    ),
    st.Page(
        "pages/train.py",
        title=t("Train live"),
        icon=":material/model_training:",
        url_path="train",
        help=t("Train a small RNN, LSTM or GRU on classic tasks and watch loss and internals change."),
    ),
    st.Page(
        "pages/step.py",
        title=t("Step through"),
        icon=":material/steppers:",
        url_path="step",
        help=t("The classic worked examples, one time step at a time, with every number shown."),
    ),
    st.Page(
        "pages/generate.py",
        title=t("Generate"),
        icon=":material/edit_note:",
        url_path="generate",
        help=t("Sample text from a character-level model and see the probabilities behind each character."),
    ),
]

st.navigation(PAGES, position="top").run()
