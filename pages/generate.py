"""Generate (/generate): sample text from a character model and see the probability behind every character.

Sections: the model (pretrained, trained in this session, uploaded, or a tiny demo trained on the spot and labelled
as such) beside the decoding settings (prime, greedy or sampled, temperature, length, seed); then the text coloured
by each character's probability under the model, with the top-5 alternatives on hover and in a table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from pages.i18n import lang, t
from pages.shared import (
    LINK,
    label,
    linked_text,
    markdown_literal,
    model_source_checks,
    model_source_ui,
    number,
    one_of,
    short_text,
    show_error,
    url_notice,
)
from rnnviz import Model, RnnvizError
from rnnviz import sample as G
from rnnviz.assets import list_pretrained
from rnnviz.figures import generation_html, probability_legend
from rnnviz.i18n import N_
from rnnviz.vocab import token_label

KEY = "generate"
DEMO = N_("Tiny demo")
SOURCES = (N_("Pretrained"), N_("Trained here"), N_("Uploaded"), DEMO)  # codes, and English labels
DEFAULT_PRIME = "def "
DECODING = (N_("Sampled"), N_("Greedy"))


@st.cache_resource(max_entries=1, show_spinner=False)  # the page shows its own spinner, in the reader's language
def demo_model() -> tuple[Model, dict]:
    """The labelled fallback: a small GRU trained for a few seconds. Shared by every session: read only."""
    return G.train_demo_model()


@st.cache_data(max_entries=64, show_spinner=False)
def cached_generation(_model: Model, model_key: str, prime: str, length: int, temperature: float, seed: int,
                      greedy: bool) -> G.Generation:
    """generate(_model, …); ``model_key`` (Model.fingerprint()) stands for the unhashed model."""
    return G.generate(_model, prime, length, temperature, seed, greedy)


def demo_ui() -> tuple[Model, str] | None:
    if not list_pretrained("char"):
        st.info(t("No pretrained character model is bundled with this copy of rnnviz yet (`python -m "
                  "rnnviz.pretrain` makes them). Train one on the Train live page, upload one, or use the tiny "
                  "demo."), icon=":material/info:")
    if not st.session_state.get(f"{KEY}_demo"):
        st.caption(t("The tiny demo is a 64-unit GRU trained here for 200 steps on 300 kB of Python's standard "
                     "library: far too little to write real code, enough to see what sampling does."))
        st.button(t("Train the tiny demo model"), icon=":material/model_training:", key=f"{KEY}_demo_button",
                  on_click=lambda: st.session_state.update({f"{KEY}_demo": True}))
        return None
    with st.spinner(t("Training the tiny demo model on Python source (once per server; 10–40 s on a busy "
                      "machine)…")):
        model, card = demo_model()
    bpc = card["metrics"].get("bpc")
    st.warning(t("Tiny demo, not a real model: a 64-unit GRU trained on this server for {steps} steps ({seconds:.0f} "
                 "s) on Python source, at {bpc:.2f} bits per character on held-out text (a well-trained model gets "
                 "below 2). Expect code-shaped gibberish.", steps=card["training"]["steps"], seconds=card["seconds"],
                 bpc=bpc), icon=":material/science:")
    return model, t("tiny demo GRU")


def model_ui() -> tuple[Model, str] | None:
    default = "Pretrained" if list_pretrained("char") else DEMO  # a bundled model if there is one
    prime = st.session_state.get(f"{KEY}_prime", st.query_params.get(f"{KEY}_prime", DEFAULT_PRIME))
    picked = model_source_ui(KEY, "char", demo_ui, sources=SOURCES, default=default, text=prime)  # before the prime
    if picked is None:
        return None
    try:
        G.check_generative(picked[0])
    except RnnvizError as err:
        show_error(err)
        return None
    return picked


def settings_ui() -> dict | None:
    """Prime and decoding settings; None (with a message) when there is no prime."""
    prime = linked_text(st, "text_area", t("Prime text"), f"{KEY}_prime", value=DEFAULT_PRIME, height=80,
                        help=t("The model reads this first, then continues it. Characters it does not know are "
                               "read as the unknown token and marked."))
    c1, c2, c3 = st.columns([2, 1, 1])
    decoding = c1.segmented_control(t("Decoding"), DECODING, default=DECODING[0], required=True,
                                    key=f"{KEY}_decoding", bind=LINK, format_func=label,
                                    help=t("Sampled: draw each character from softmax(scores / T). Greedy: always "
                                           "take the most likely one (the temperature does not matter then)."))
    greedy = decoding == "Greedy"
    length = int(c2.number_input(t("Length"), 1, G.MAX_LENGTH, 300, step=50, key=f"{KEY}_length", bind=LINK,
                                 help=t("Characters to write, 1 to {limit:,}.", limit=G.MAX_LENGTH)))
    seed = int(c3.number_input(t("Seed"), 0, 2**31 - 1, 0, key=f"{KEY}_seed", disabled=greedy, bind=LINK,
                               help=t("The same seed gives the same text.")))
    c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
    temperature = c1.slider(t("Temperature"), G.T_MIN, G.T_MAX, 0.8, 0.05, key=f"{KEY}_temperature",
                            disabled=greedy, bind=LINK,
                            help=t("Below 1: safer, more repetitive. Above 1: more surprising, more mistakes."))

    def next_seed():
        st.session_state[f"{KEY}_seed"] = (st.session_state.get(f"{KEY}_seed", 0) + 1) % 2**31

    c2.button(t("Sample again"), icon=":material/casino:", on_click=next_seed, disabled=greedy, key=f"{KEY}_again",
              help=t("Next seed."))
    if not prime:
        st.info(t("Type a prime text for the model to continue, e.g. def."), icon=":material/keyboard:")
        return None
    if len(prime) > G.MAX_PRIME:
        st.warning(t("The prime has {n:,} characters; only the last {limit:,} are read.", n=len(prime),
                     limit=G.MAX_PRIME))
        prime = prime[-G.MAX_PRIME:]
    return {"prime": prime, "length": length, "temperature": float(temperature), "seed": seed, "greedy": greedy}


def summary_ui(gen: G.Generation) -> None:
    new = gen.generated
    p = gen.prob[new]
    c = st.columns(4)
    c[0].metric(t("Mean p, written text"), f"{np.mean(p):.2f}",
                help=t("p under the model (temperature 1): how expected each written character was."))
    c[1].metric(t("Bits per character"), f"{-np.mean(np.log2(np.maximum(p, 1e-300))):.2f}",
                help=t("−mean log₂ p of the written characters under the model."))
    c[2].metric(t("Mean entropy of q"), t("{bits:.2f} bits", bits=np.nanmean(gen.entropy[new])),
                help=t("q = softmax(scores / T), what each character was drawn from: lower temperature, lower "
                       "entropy. Greedy decoding draws from a single choice: 0 bits."))
    c[3].metric(t("Unknown in the prime"), f"{sum(gen.unknown[: gen.prime_len])}",
                help=t("Prime characters outside the model's vocabulary, read as the unknown token."))


def inspect_ui(gen: G.Generation) -> None:
    """The top-5 at one position, for keyboards and touch screens (hover shows the same)."""
    n = len(gen.tokens)
    first = min(gen.prime_len + 1, n)
    pos = int(st.number_input(t("Position"), 2 if n > 1 else 1, n, first, key=f"{KEY}_position",
                              help=t("1 is the first prime character; the prime is followed by the written text.")))
    i = pos - 1
    token = token_label(gen.tokens[i])
    if gen.unknown[i]:
        token = t("{typed} (read as {token})", typed=token_label(gen.typed[i]), token=gen.tokens[i])
    where = t("Position {pos} (prime)", pos=pos) if i < gen.prime_len else t("Position {pos} (written)", pos=pos)
    st.markdown(f"{where}: **{markdown_literal(token)}**")
    p_col = t("p under the model")
    rows = [{t("rank"): r + 1, t("token"): token_label(tok), p_col: p, t("here"): tok == gen.tokens[i]}
            for r, (tok, p) in enumerate(gen.top(i))]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config={
            p_col: st.column_config.ProgressColumn(format="%.3f", min_value=0.0, max_value=1.0)})
    else:
        st.caption(t("Nothing came before the first character, so nothing predicted it."))


def link_checks() -> dict:
    """What the page keeps in its link: the model and the decoding settings."""
    return {**model_source_checks(KEY, "char", SOURCES), f"{KEY}_prime": short_text(),
            f"{KEY}_decoding": one_of(DECODING, label), f"{KEY}_length": number(1, G.MAX_LENGTH, integer=True),
            f"{KEY}_seed": number(0, 2**31 - 1, integer=True), f"{KEY}_temperature": number(G.T_MIN, G.T_MAX)}


def main() -> None:
    st.title(t("Generate"))
    st.caption(t("A character model writes one character at a time: it scores every character it knows, turns the "
                 "scores into probabilities, picks one, reads it back in, and repeats."))
    url_notice(f"{KEY}_", link_checks())
    left, right = st.columns([2, 3], gap="large")
    with left:
        picked = model_ui()
    with right:
        settings = settings_ui()
    if picked is None or settings is None:
        return
    model, name = picked
    try:
        gen = cached_generation(model, model.fingerprint(), **settings)
    except RnnvizError as err:
        show_error(err)
        return
    mode = t("greedy") if settings["greedy"] else t("sampled at T = {temperature:g}, seed {seed}",
                                                      temperature=settings["temperature"], seed=settings["seed"])
    st.subheader(t("Written text"), anchor=False)
    st.caption(t("{name} · {mode} · {n:,} characters after the prime.", name=markdown_literal(name), mode=mode,
                 n=settings["length"]))
    st.html(probability_legend(lang()))
    st.html(generation_html(gen, lang=lang()))
    summary_ui(gen)
    with st.expander(t("The top 5 at one position"), expanded=False):
        inspect_ui(gen)


main()
