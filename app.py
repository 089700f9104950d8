"""rnnviz entry point: page config and navigation. Each page is a short script in pages/."""

import streamlit as st
import torch

# The models here are tiny and sequential: sessions run in parallel threads, and a second intra-op thread per
# op only adds synchronization (a 200-step LSTM trace: ~10 ms on one thread, 30-550 ms on two on a busy machine).
torch.set_num_threads(1)

st.set_page_config(page_title="rnnviz", page_icon=":material/neurology:", layout="wide")

PAGES = [
    st.Page(
        "pages/home.py",
        title="Home",
        icon=":material/home:",
        url_path="",
        default=True,
        help="What rnnviz is, with a live LSTM's hidden states on a sequence you type.",
    ),
    st.Page(
        "pages/cell.py",
        title="Inside the cell",
        icon=":material/memory:",
        url_path="cell",
        help="Gates, cell state and hidden state of a live model, step by step over a typed sequence.",
    ),
    st.Page(
        "pages/gradients.py",
        title="Gradient flow",
        icon=":material/trending_down:",
        url_path="gradients",
        help="How gradients decay through time in a vanilla RNN, beside what an LSTM or GRU keeps.",
    ),
    st.Page(
        "pages/memory.py",
        title="Before gating",
        icon=":material/waves:",
        url_path="memory",
        help="Leaky units and echo state networks beside RNN, LSTM and GRU: success against lag, memory capacity.",
    ),
    st.Page(
        "pages/train.py",
        title="Train live",
        icon=":material/model_training:",
        url_path="train",
        help="Train a small RNN, LSTM or GRU on classic tasks and watch loss and internals change.",
    ),
    st.Page(
        "pages/step.py",
        title="Step through",
        icon=":material/steppers:",
        url_path="step",
        help="The classic worked examples, one time step at a time, with every number shown.",
    ),
    st.Page(
        "pages/generate.py",
        title="Generate",
        icon=":material/edit_note:",
        url_path="generate",
        help="Sample text from a character-level model and see the probabilities behind each character.",
    ),
]

st.navigation(PAGES, position="top").run()
