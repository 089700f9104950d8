"""The Backward tab of /step: backpropagation through time by hand, from the last step to the first.

Sections: what the loss scores and against which targets; Back / Next over the steps (from T down to 1); at each
step the error in plain words, then the formulas with the numbers, the ‖δ_t‖ chart, and the weight gradients
filling in; then one step of gradient descent with the summed gradient. Every number is rnnviz.bptt's.
Imported by pages/step.py (not a page of its own); ``setup`` is step.py's Setup (weights, model, mode).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from pages.i18n import lang, t
from pages.shared import (
    LINK,
    linked_text,
    markdown_literal,
    named,
    number,
    one_of,
    plotly_chart,
    short_text,
    show_error,
)
from rnnviz import Backprop, Model, RnnvizError, bptt
from rnnviz import stepthrough as S
from rnnviz.bptt import LOSSES, descend, model_from_weights
from rnnviz.cells import GATES
from rnnviz.figures import matrix_html, sequence_html
from rnnviz.figures import text as FT
from rnnviz.figures.backward import GRADIENT_LATEX, cell_latex, delta_figure, error_latex
from rnnviz.i18n import N_
from rnnviz.vocab import token_label

KEY = "step_bw"
LOSS_NAMES = {"every": N_("Every step: the next letter after each"), "last": N_("The last step only (as in bcde → a)")}
DEFAULT_LR = 0.5


@st.cache_data(max_entries=64, show_spinner=False)
def cached_bptt(_model: Model, model_key: str, text: str, target: str, loss: str) -> Backprop:
    """bptt(_model, …); ``model_key`` (Model.fingerprint()) stands for the unhashed model."""
    return bptt(_model, text, target, loss)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_descent(_model: Model, model_key: str, text: str, target: str, loss: str, lr: float,
                   frozen: tuple[str, ...]) -> Backprop:
    """bptt of the model after one gradient-descent step at ``lr`` (on a copy: the shared model is never changed)."""
    before = bptt(_model, text, target, loss)
    return bptt(descend(_model, before.weight_grads, lr, frozen), text, target, loss)


def task_targets(text: str) -> str:
    """The letter task's answers: the letter after each one (e → a); anything else keeps its place."""
    return "".join(S.LETTERS[(S.LETTERS.index(c) + 1) % 5] if c in S.LETTERS else c for c in text)


def loss_ui(text: str) -> tuple[str, str]:
    """(loss, targets as letters) from the controls; empty targets mean the letter task's answers."""
    c1, c2, c3 = st.columns([4, 3, 2], vertical_alignment="bottom")
    loss = c1.segmented_control(t("Loss"), LOSSES, default="every", required=True, key=f"{KEY}_loss", bind=LINK,
                                format_func=named(LOSS_NAMES),
                                help=t("Which steps the cross-entropy scores. L is the sum over the scored steps."))
    answers = task_targets(text)
    typed = linked_text(c2, "text_input", t("Targets"), f"{KEY}_targets",
                        placeholder=answers if loss == "every" else answers[-1],
                        help=t("The right answer at each scored step, as letters. Empty: the letter task's "
                               "answers (the next letter; after e comes a)."))
    c3.segmented_control(t("Decimals"), [2, 3, 4], default=3, required=True, key=f"{KEY}_decimals")
    target = typed.strip() or (answers if loss == "every" else answers[-1])
    return loss, target


def link_checks() -> dict:
    """What the tab keeps in the page's link: the loss, the targets, the learning rate."""
    return {f"{KEY}_loss": one_of(LOSSES, named(LOSS_NAMES)), f"{KEY}_targets": short_text(),
            f"{KEY}_lr": number(0.001, 100.0)}


def position_ui(b: Backprop, key_of_walk: tuple, labels: list[str]) -> int:
    """Back / Next over the steps, from the last to the first; a new sequence or loss starts again at T."""
    key, T = f"{KEY}_t", b.T
    if st.session_state.get(f"{KEY}_walked") != key_of_walk:
        st.session_state[f"{KEY}_walked"] = key_of_walk
        st.session_state[key] = T - 1

    def move(delta: int | None):
        now = st.session_state.get(key, T - 1)
        st.session_state[key] = T - 1 if delta is None else min(max(now + delta, 0), T - 1)

    now = min(st.session_state.get(key, T - 1), T - 1)
    row = st.container(horizontal=True, vertical_alignment="center")
    row.button(t("Back"), icon=":material/arrow_back:", on_click=move, args=(1,), disabled=now == T - 1,
               key=f"{KEY}_back", help=t("One step later in time: back towards the loss."))
    row.button(t("Next"), icon=":material/arrow_forward:", on_click=move, args=(-1,), disabled=now == 0,
               type="primary", key=f"{KEY}_next",
               help=t("One step earlier in time: the error goes one step further back."))
    row.button(t("Start over"), icon=":material/last_page:", on_click=move, args=(None,), disabled=now == T - 1,
               key=f"{KEY}_restart")
    row.markdown(t("Step **{n}** of **{T}**, going back", n=now + 1, T=T))
    row.html(sequence_html(b.tokens, now, [labels[k] for k in b.predictions], backward=True))
    return now


def words(b: Backprop, now: int, letters: tuple[str, ...]) -> str:
    """What happens at this step, in plain words, before the formulas."""
    T, n = b.T, now + 1
    parts = []
    if b.scored[now]:
        target = token_label(letters[b.targets[now]])
        parts.append(t("At step {n} the loss scores the answer **{target}**: the model gave it {p:.0%}, which costs "
                       "−log {p:.3f} = {cost:.3f} of L = {L:.3f}. The error at the output is ŷ_t − y_t: every "
                       "probability, minus 1 at the right answer.", n=n, target=markdown_literal(target),
                       p=b["probs"][now, b.targets[now]], cost=b.losses[now], L=b.loss))
    else:
        parts.append(t("Step {n} is not scored, so no error starts here: everything δ_t holds came back from later "
                       "steps.", n=n))
    if now == T - 1:
        parts.append(t("This is the last step: nothing comes back from after it, so δ_T is the output's error alone, "
                       "carried into h_T through W_hy."))
    else:
        parts.append(t("δ_t = ∂L/∂h_t, how much L changes when h_t does, adds what the output at this step sends "
                       "back (through W_hy) and what step {m} sends back (through W_hh), because step {m} read h_t.",
                       m=n + 1))
    parts.append(inside(b.cell, n))
    return " ".join(parts)


def inside(cell: str, n: int) -> str:
    """What the cell does with δ_t at step ``n``, in plain words."""
    if cell == "rnn":
        text = t("Multiplying by tanh′(a_t) = 1 − h_t² takes δ inside the cell, to the sum a_t; every weight of this "
                 "step is multiplied by that.")
    elif cell == "lstm":
        text = t("Inside the LSTM the error splits over the gates: the output gate gets δ_t ⊙ tanh(c_t); the cell "
                 "state gets δ_t ⊙ o_t ⊙ tanh′(c_t) plus what the next step's cell state passes back through its "
                 "forget gate; the input gate, forget gate and candidate take their share of δc_t.")
    else:
        text = t("Inside the GRU the error splits over the update gate, the candidate and, through the candidate, "
                 "the reset gate; part of δ_t goes straight back to h_t−1 through z_t.")
    if n == 1:
        return text + " " + t("This is the first step: h_0 is the fixed start, so nothing goes further back.")
    return text + " " + t("From there it goes on to step {m}.", m=n - 1)


def formulas_ui(b: Backprop, now: int, d: int) -> None:
    st.latex(error_latex(b, now, d, lang()))
    st.latex(cell_latex(b, now, d))
    st.caption(t("σ′(v) = v(1 − v) for a sigmoid gate of value v and tanh′ = 1 − v² for a tanh of value v; ⊙ "
                 "multiplies entry by entry. Row vectors, as in the forward view."))


def chart_ui(b: Backprop, now: int) -> None:
    plotly_chart(st, delta_figure(b, now, lang()), width="stretch", key=f"{KEY}_chart")
    if b.cell == "rnn":
        note = t("Dotted: the notes' bound (‖W_hh‖ · max|f′|)^(T−t) · ‖δ_T‖, with ‖W_hh‖ the largest singular "
                 "value (σ_max, as on Gradient flow) and max|f′| the steepest tanh slope at any step. Each step back "
                 "multiplies δ by W_hhᵀ diag(f′), which stretches it by at most ‖W_hh‖ · max|f′|.")
        if b.loss_kind == "every":
            note += " " + t("With a loss at every step, each step adds its own error on the way back, so the bound "
                            "covers only the part of δ_t that came from the last step's loss (dashed), not the "
                            "whole δ_t (solid).")
    else:
        note = t("The bound (‖W_hh‖ · max|f′|)^(T−t) is the vanilla RNN's; the gates change the factor at every "
                 "step (Gradient flow compares the cells over long sequences).")
        if b.cell == "lstm":
            note += " " + t("Dashed blue: the cell state's ‖δc_t‖.")
    st.caption(note)


def weight_html(grads: dict[str, np.ndarray], what: str, b: Backprop, labels: list[str], d: int) -> tuple[str, str]:
    """(left, right) HTML: the recurrent layer's gradients, then the head's (and the embedding's), in textbook
    layout (the transposes of PyTorch's); ``what`` ends each caption (summed over which steps, or one step)."""
    H = b["h"].shape[1]
    units = FT.gate_labels(GATES[b.cell], H)
    hs = [f"h{u}" for u in range(H)]
    E = b["x"].shape[1]
    ins = labels if "embedding.weight" not in grads else [f"e{k}" for k in range(E)]
    left = (matrix_html(grads["rnn.weight_ih_l0"].T, ins, units, f"∂L/∂W_x {what}", (), (), d) +
            matrix_html(grads["rnn.weight_hh_l0"].T, hs, units, f"∂L/∂W_h {what}", (), (), d, css=False) +
            matrix_html(np.stack([grads["rnn.bias_ih_l0"], grads["rnn.bias_hh_l0"]]), ["b_ih", "b_hh"], units,
                        f"∂L/∂b {what}", (), (), d, css=False))
    right = (matrix_html(grads["head.weight"].T, hs, labels, f"∂L/∂W_hy {what}", (), (), d) +
             matrix_html(grads["head.bias"], None, labels, f"∂L/∂b_y {what}", (), (), d, css=False))
    if "embedding.weight" in grads:
        right += matrix_html(grads["embedding.weight"], labels, ins, f"∂L/∂E {what}", (), (), d, css=False)
    return left, right


def gradients_ui(b: Backprop, now: int, d: int, labels: list[str]) -> None:
    """The weights' gradients summed over the steps walked so far (T down to ``now``), in textbook layout, with
    this step's own contribution and the size of every step's."""
    st.latex(GRADIENT_LATEX[b.cell])
    span = t("steps {T}…{n}", T=b.T, n=now + 1) if now < b.T - 1 else t("step {T}", T=b.T)
    summed = {k: v[now:].sum(0) for k, v in b.steps.items()}
    left, right = st.columns(2, gap="large")
    sums = weight_html(summed, t("summed over {span}", span=span), b, labels, d)
    left.html(sums[0])
    right.html(sums[1])
    norms = pd.DataFrame([{t("step"): f"{k + 1}: {token_label(b.tokens[k])}",
                           **{name.removeprefix("rnn.").removesuffix("_l0"): float(np.linalg.norm(v[k]))
                              for name, v in b.steps.items()}} for k in range(b.T - 1, now - 1, -1)])
    right.caption(t("The size (Frobenius norm) of each weight's contribution at each step walked so far:"))
    right.dataframe(norms, hide_index=True, width="stretch", column_config={
        c: st.column_config.NumberColumn(format="%.4f") for c in norms.columns[1:]})
    with st.expander(t("This step's own contribution (step {n} alone)", n=now + 1)):
        one = weight_html({k: v[now] for k, v in b.steps.items()}, t("at step {n}", n=now + 1), b, labels, d)
        c1, c2 = st.columns(2, gap="large")
        c1.html(one[0])
        c2.html(one[1])
    if now == 0:
        st.success(t("Back at step 1 the sums are complete: these are the gradients loss.backward() leaves in each "
                     "weight's .grad (PyTorch stores the transposes)."), icon=":material/check:")


def step_table(b: Backprop, now: int) -> pd.DataFrame:
    """Every named vector of the backward step, one row each, for copying."""
    return pd.DataFrame([{t("quantity"): k, t("values"): ", ".join(f"{x:.6g}" for x in np.ravel(v[now]))}
                         for k, v in b.arrays.items()])


def descent_ui(model: Model, key: str, text: str, target: str, loss: str, b: Backprop, labels: list[str],
               textbook: bool) -> None:
    st.subheader(t("One step of gradient descent"), anchor=False)
    st.markdown(t("Move every weight a little against its summed gradient, W ← W − η · ∂L/∂W, then run the "
                  "sequence again. With a small enough learning rate η the loss goes down."))
    if textbook:
        st.caption(t("Typed weights have one bias b_h, as in the textbook: it moves by η · ∂L/∂b_h."))
    else:
        st.caption(t("PyTorch keeps two biases, b_ih and b_hh, and steps each by its own gradient. Where the two "
                     "are simply added (the RNN, the LSTM, the GRU's r and z) their gradients are equal, so their sum "
                     "moves twice as far as one textbook bias would."))
    frozen = ("rnn.bias_hh_l0",) if textbook else ()
    c1, c2 = st.columns([1, 3])
    lr = c1.number_input(t("Learning rate η"), 0.001, 100.0, DEFAULT_LR, step=0.1, format="%.3f", key=f"{KEY}_lr",
                         bind=LINK)
    try:
        after = cached_descent(model, key, text, target, loss, float(lr), frozen)
    except RnnvizError as err:
        show_error(err)
        return
    c1.metric(t("Loss before"), f"{b.loss:.4f}")
    c1.metric(t("Loss after"), f"{after.loss:.4f}", delta=f"{after.loss - b.loss:+.4f}", delta_color="inverse")
    rows = []
    for k in range(b.T):
        row = {t("step"): f"{k + 1}: {token_label(b.tokens[k])}",
               t("target"): token_label(labels[b.targets[k]]) if b.scored[k] else "—",
               t("predicted before"): f"{labels[b.predictions[k]]} ({b['probs'][k].max():.0%})",
               t("predicted after"): f"{labels[after.predictions[k]]} ({after['probs'][k].max():.0%})"}
        if b.scored[k]:
            row[t("p(target) before → after")] = (f"{b['probs'][k, b.targets[k]]:.3f} → "
                                                  f"{after['probs'][k, b.targets[k]]:.3f}")
        rows.append(row)
    c2.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    if after.loss > b.loss:
        st.warning(t("The loss went up: this learning rate overshoots. Try a smaller one."), icon=":material/warning:")


def backward_view(setup, text: str) -> None:
    """The whole tab; ``setup`` carries ``weights`` (StepWeights) and ``model`` (None for typed weights)."""
    st.markdown(t(INTRO))
    loss, target = loss_ui(text)
    try:
        model = setup.model if setup.model is not None else model_from_weights(setup.weights)
        key = model.fingerprint()
        b = cached_bptt(model, key, text, target, loss)
    except RnnvizError as err:
        show_error(err)
        return
    labels = [token_label(tok) for tok in model.vocab.tokens]
    now = position_ui(b, (text, loss, target, key), labels)
    d = st.session_state.get(f"{KEY}_decimals", 3)
    st.subheader(t("Step {n}, going back: the error at {token}", n=now + 1,
                   token=repr(token_label(b.tokens[now]))), anchor=False)
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.markdown(words(b, now, tuple(model.vocab.tokens)))
    with right:
        chart_ui(b, now)
    formulas_ui(b, now, d)
    with st.expander(t("Every number of this backward step, to copy")):
        st.dataframe(step_table(b, now), hide_index=True, width="stretch")
    st.subheader(t("The weights' gradients, filling in as you go back"), anchor=False)
    gradients_ui(b, now, d, labels)
    descent_ui(model, key, text, target, loss, b, labels, textbook=setup.model is None)


INTRO = N_(
    "**Backward, in words.** The forward pass read the sequence from left to right; training reads it back from "
    "right to left. The loss L adds up, over the scored steps, how surprised the model was by the right answer "
    "(−log of the probability it gave it). The error δ_t = ∂L/∂h_t says how much L would change if h_t changed. "
    "It comes from two places: the output at step t, and step t+1, which read h_t through W_hh. Each step back "
    "multiplies it by the slope of tanh (σ′ for a gate) and by W_hhᵀ, which is why it shrinks or grows "
    "exponentially over many steps (Gradient flow shows how far). The same weights are used at every step, so each "
    "weight's gradient is the sum of one contribution per step. Press Next to go one step further back.")
