"""Home (/): what rnnviz is, then a random LSTM's hidden states on a sequence the user types."""

import streamlit as st

from pages.i18n import lang, t
from pages.shared import cached_trace, plotly_chart, random_model, sequence_ui, short_text, show_error, url_notice
from rnnviz import InitConfig, ModelConfig, RnnvizError, Vocab
from rnnviz.figures import state_heatmaps

HIDDEN_SIZE = 16
SEED = 0
PAGE_LINKS = [  # (page file, icon); the label is the page's title from app.py
    ("pages/cell.py", ":material/memory:"),
    ("pages/gradients.py", ":material/trending_down:"),
    ("pages/train.py", ":material/model_training:"),
    ("pages/step.py", ":material/steppers:"),
    ("pages/generate.py", ":material/edit_note:"),
]


def intro_ui() -> None:
    st.title("rnnviz")
    st.markdown(t(
        "See inside recurrent networks. rnnviz runs real RNN, LSTM and GRU models in PyTorch and shows "
        "their gates, cell states, hidden states and gradients, one time step at a time, on sequences "
        "you type."
    ))
    for column, (page, icon) in zip(st.columns(len(PAGE_LINKS)), PAGE_LINKS, strict=True):
        with column:
            st.page_link(page, icon=icon)


def hidden_states_ui(text: str) -> None:
    st.subheader(t("Hidden states of a random LSTM"))
    st.caption(t(
        "An untrained LSTM with {n} hidden units (seed {seed}) reads your sequence one character at a time "
        "(one-hot over its distinct characters). Each column is a time step, each row a hidden unit; colour is "
        "the hidden state h_t, between -1 and 1.", n=HIDDEN_SIZE, seed=SEED,
    ))
    try:
        vocab = Vocab.from_text(text)  # the model is keyed by the vocabulary, so typing reuses it
        model = random_model(ModelConfig(cell="lstm", hidden_size=HIDDEN_SIZE), InitConfig(), vocab, SEED)
        tr = cached_trace(model, model.fingerprint(), text)
        fig = state_heatmaps(tr, keys=("h",), layer=0, direction=0, lang=lang())
    except RnnvizError as err:
        show_error(err)
        return
    plotly_chart(st, fig, width="stretch")


intro_ui()
url_notice("home_", {"home_sequence": short_text()})
text = sequence_ui("home_sequence", "hello, world")
if text is not None:
    hidden_states_ui(text)
