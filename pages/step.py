"""Step through (/step): the classic worked examples, one time step at a time, with every number shown.

Sections, top to bottom: where the weights come from (trained on the letter task on the spot, random, or typed) with
the cell and the sequence; then tabs, of which only the open one runs: Step by step (the textbook computation with
both notations), Backward (BPTT from the last step to the first, in pages/step_backward.py), One-hot or embedding,
Shapes, NumPy forward pass. All numbers come from rnnviz.stepthrough and rnnviz.bptt.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pages.i18n import lang, t
from pages.shared import (
    LINK,
    linked_text,
    named,
    number,
    one_of,
    plotly_chart,
    random_model,
    short_text,
    show_error,
    url_notice,
)
from pages.step_backward import backward_view
from pages.step_backward import link_checks as backward_links
from rnnviz import InitConfig, InputError, Model, ModelConfig, RnnvizError, Vocab
from rnnviz import stepthrough as S
from rnnviz.cells import GATES
from rnnviz.figures import matrix_html, sequence_html
from rnnviz.figures import text as FT
from rnnviz.i18n import N_
from rnnviz.vocab import token_label

KEY = "step"
CELLS = {"RNN": "rnn", "LSTM": "lstm", "GRU": "gru"}
SOURCES = {"Trained on letters": N_("Trained on letters"), "Random": N_("Random"),  # codes: the English labels
           "Type your own": N_("Type your own")}
MODES = {"four": N_("four letters in → the fifth (bcde → a)"), "one": N_("one letter in → the next (b → c)")}
ENCODERS = {"onehot": N_("one-hot"), "embedding": N_("embedding (2 numbers)")}
ENCODER_SHORT = {"onehot": N_("one-hot"), "embedding": N_("embedding")}
TABS = {"Step by step": N_("Step by step"), "Backward": N_("Backward"),
        "One-hot or embedding": N_("One-hot or embedding"), "Shapes": N_("Shapes"),
        "NumPy forward pass": N_("NumPy forward pass")}
DEFAULT_SEQUENCE = "bcde"


@dataclass
class Setup:
    """What the rest of the page reads: the weights in textbook layout, the model they came from (None when typed)."""

    weights: S.StepWeights
    model: Model | None
    label: str
    mode: str | None = None  # the letter task's mode, when trained on it


@st.cache_resource(max_entries=24, show_spinner=False)
def _letters_model(cell: str, mode: str, encoder: str, seed: int) -> tuple[Model, dict]:
    return S.train_letters(cell, mode, encoder, seed)


def letters_model(cell: str, mode: str, encoder: str, seed: int) -> tuple[Model, dict]:
    """A 3-unit model trained on the letter task. Shared by every session: read only."""
    with st.spinner(t("Training on the letter task…")):  # shown only when training takes a moment
        return _letters_model(cell, mode, encoder, seed)


# Model, weights and sequence ---------------------------------------------------------------------------------------


def typed_ui() -> S.StepWeights | None:
    """Five boxes in textbook layout, filled with the worked example; None (with the sentence) if one is wrong."""
    def load_example():
        for name, value in S.TEXTBOOK.items():
            st.session_state[f"{KEY}_{name}"] = value

    for name, value in S.TEXTBOOK.items():
        st.session_state.setdefault(f"{KEY}_{name}", value)  # a link's ?step_W_hh=… wins on a session's first run
    st.caption(t("Rows of W_xh and columns of W_hy / b_y are the letters a, b, c, d, e; one row per line, numbers "
                 "separated by commas or spaces. The number of memory units is read from b_h."))
    cols = st.columns([3, 3, 2, 4, 3])
    helps = {"W_xh": t("5 rows (a–e) × units"), "W_hh": t("units × units"), "b_h": t("one row: units"),
             "W_hy": t("units × 5 columns (a–e)"), "b_y": t("one row: 5 numbers")}
    for col, name in zip(cols, S.TEXTBOOK, strict=True):
        linked_text(col, "text_area", name, f"{KEY}_{name}", height=140, help=helps[name])
    st.button(t("Load the textbook example"), on_click=load_example, icon=":material/restart_alt:", key=f"{KEY}_load")
    try:
        return S.textbook_weights(*(st.session_state[f"{KEY}_{n}"] for n in S.TEXTBOOK))
    except InputError as err:
        show_error(err)
        return None


def model_ui(c1, c2) -> Setup | None:
    """Weights and cell in the two columns given; the rest of the controls below them."""
    source = c1.segmented_control(t("Weights"), list(SOURCES), default="Trained on letters", required=True,
                                  key=f"{KEY}_source", bind=LINK, format_func=named(SOURCES),
                                  help=t("Trained on letters: a 3-unit model trained right now on a→b, b→c, c→d, "
                                         "d→e, e→a. Random: untrained. Type your own: a vanilla RNN in textbook "
                                         "layout, filled with the worked example."))
    typed = source == "Type your own"
    if typed:  # a separate, fixed control, so the cell picked for the other sources is kept
        c2.segmented_control(t("Cell"), ["RNN"], default="RNN", required=True, key=f"{KEY}_cell_typed",
                             disabled=True, help=t("Typed matrices are a vanilla RNN, as in the textbook."))
        cell = "rnn"
    else:
        cell = CELLS[c2.segmented_control(t("Cell"), list(CELLS), default="RNN", required=True, key=f"{KEY}_cell",
                                          bind=LINK,
                                          help=t("RNN: the textbook example. LSTM and GRU: the same letters, gates "
                                                 "and all."))]
    if typed:
        weights = typed_ui()
        return None if weights is None else Setup(weights, None, t("typed RNN"))
    c1, c2, c3 = st.columns(3)
    encoder = c2.selectbox(t("Encoder"), list(ENCODERS), format_func=named(ENCODERS), key=f"{KEY}_encoder",
                           bind=LINK)
    seed = int(c3.number_input(t("Seed"), 0, 10_000, 0, key=f"{KEY}_seed", bind=LINK))
    vocab = Vocab(tuple(S.LETTERS), unk=False)  # five one-hot places, as in the textbook and the letter task
    if source == "Trained on letters":
        mode = c1.selectbox(t("Task"), list(MODES), format_func=named(MODES), key=f"{KEY}_mode", bind=LINK)
        model, metrics = letters_model(cell, mode, encoder, seed)
        acc = metrics.get("accuracy") or 0.0
        st.caption(t("{cell} with 3 units, trained just now for 150 steps on the letter task: accuracy {acc:.0%} "
                     "on the five cases, loss {loss:.3f}.", cell=cell.upper(), acc=acc, loss=metrics["loss"]))
        return Setup(S.StepWeights.from_model(model), model, t("{cell} trained on letters", cell=cell.upper()), mode)
    hidden = int(c1.number_input(t("Memory units"), 1, 4, 3, key=f"{KEY}_hidden", bind=LINK,
                                 help=t("Up to 4, so every vector of the step fits on a line.")))
    config = ModelConfig(cell=cell, hidden_size=hidden, encoder=encoder, embed_dim=2)
    model = random_model(config, InitConfig(), vocab, seed)
    st.caption(t("Untrained {cell} with {n} units: PyTorch's default init, U(−1/√H, 1/√H).", cell=cell.upper(),
                 n=hidden))
    return Setup(S.StepWeights.from_model(model), model, t("random {cell}", cell=cell.upper()))


def sequence_ui(column) -> str | None:
    # No max_chars: Streamlit's box silently drops a paste longer than that; here a long one is cut, and said so.
    text = linked_text(column, "text_input", t("Sequence"), f"{KEY}_sequence", value=DEFAULT_SEQUENCE,
                       help=t("Up to {most} characters; each one is a time step. These models know only the letters "
                              "a, b, c, d and e.", most=S.MAX_STEPS))
    if not text.strip():
        column.info(t("Type a sequence of letters to step through, e.g. bcde."), icon=":material/keyboard:")
        return None
    if len(text) > S.MAX_STEPS:
        column.warning(t("The sequence has {n:,} characters; only the first {most} are used (Inside the cell takes "
                         "up to 2,000).", n=len(text), most=S.MAX_STEPS), icon=":material/content_cut:")
        text = text[: S.MAX_STEPS]
    return text


# Step by step -------------------------------------------------------------------------------------------------------


def position_ui(text: str, chips) -> int:
    """Back / Next buttons over the sequence; the position lives in session_state and restarts with a new text."""
    key, T = f"{KEY}_t", len(text)
    if st.session_state.get(f"{KEY}_walked") != text:
        st.session_state[f"{KEY}_walked"] = text
        st.session_state[key] = 0

    def move(delta: int | None):
        now = st.session_state.get(key, 0)
        st.session_state[key] = 0 if delta is None else min(max(now + delta, 0), T - 1)

    now = min(st.session_state.get(key, 0), T - 1)
    row = st.container(horizontal=True, vertical_alignment="center")
    row.button(t("Back"), icon=":material/arrow_back:", on_click=move, args=(-1,), disabled=now == 0,
               key=f"{KEY}_back")
    row.button(t("Next"), icon=":material/arrow_forward:", on_click=move, args=(1,), disabled=now == T - 1,
               type="primary", key=f"{KEY}_next")
    row.button(t("Start over"), icon=":material/first_page:", on_click=move, args=(None,), disabled=now == 0,
               key=f"{KEY}_restart")
    row.markdown(t("Step **{n}** of **{T}**", n=now + 1, T=T))
    row.html(chips(now))
    return now


def weight_tables(w: S.StepWeights, x_index: int | None, decimals: int) -> None:
    """The layer's weights in both notations side by side; the row (column) that x_t selects is outlined."""
    H, gates = w.hidden, GATES[w.cell]
    units = FT.gate_labels(gates, H)
    hs = [f"h{u}" for u in range(H)]
    ins = FT.labels(w.tokens) if w.embedding is None else [f"e{k}" for k in range(w.input_size)]
    rows = [] if x_index is None else [x_index]
    left, right = st.columns([3, 2] if gates else [1, 1], gap="large")
    with left:
        st.markdown(t("**Textbook** · row vectors, x_t W"))
        blocks = " | ".join(f"W_x{g}" for g in gates) if gates else "W_xh"
        st.html(matrix_html(w.w_x, ins, units, f"W_x = [{blocks}]  {list(w.w_x.shape)}", rows, (), decimals) +
                matrix_html(w.w_h, hs, units, f"W_h  {list(w.w_h.shape)}", (), (), decimals, css=False) +
                matrix_html(w.b, None, units, f"b = b_ih + b_hh  [{w.b.size}]", (), (), decimals, css=False))
    with right:
        st.markdown(t("**PyTorch** · nn.{cell} stores the transposes", cell=w.cell.upper()))
        st.html(matrix_html(w.w_x.T, units, ins, f"weight_ih_l0 = W_xᵀ  {list(w.w_x.T.shape)}", (), rows,
                            decimals) +
                matrix_html(w.w_h.T, units, hs, f"weight_hh_l0 = W_hᵀ  {list(w.w_h.T.shape)}", (), (), decimals,
                            css=False) +
                matrix_html(np.stack([w.b_ih, w.b_hh], 1), units, ["bias_ih_l0", "bias_hh_l0"],
                            t("two biases, [{n}] each; their sum is b", n=w.b.size), (), (), decimals, css=False))


def input_view(w: S.StepWeights, s: S.Step, ids: np.ndarray, decimals: int) -> None:
    shown = token_label(s.token) + (" " + t("(unknown: read as <unk>)") if s.unknown else "")
    if w.embedding is None:
        st.html(matrix_html(s["x"], ["x_t"], FT.labels(w.tokens), t("x_t: one-hot of {token}, {n} places",
                            token=shown, n=w.input_size), (), (int(ids[s.t]),), 0))
    else:
        st.html(matrix_html(s["x"], ["x_t"], [f"e{k}" for k in range(w.input_size)],
                            t("x_t = E[{token}]: row {row} of the embedding table", token=shown, row=int(ids[s.t])),
                            (), (), decimals))


def output_view(w: S.StepWeights, s: S.Step, mode: str | None, decimals: int) -> None:
    if w.w_y is None:
        return
    st.latex(FT.output_latex(s.values, decimals))
    k = s.prediction
    st.html(matrix_html(s["probs"], ["y_t"], FT.labels(w.tokens), t("softmax output: the probability of each "
                        "token coming next"), (), (k,), decimals))
    guess = token_label(w.tokens[k])
    message = t("After reading {token}, the model predicts **{guess}** with {p:.0%}.",
                token=token_label(s.token), guess=guess, p=s["probs"][k])
    if s.token in S.LETTERS:
        expected = S.LETTERS[(S.LETTERS.index(s.token) + 1) % 5]
        message += " " + t("The letter task's answer is **{expected}**.", expected=expected)
    st.markdown(message)
    if mode == "four":
        st.caption(t("This model was trained to answer after the fourth letter; its guesses at earlier steps "
                     "were never scored."))


def history_view(w: S.StepWeights, steps: list[S.Step], now: int, decimals: int) -> None:
    names = ["h"] + (["c"] if w.cell == "lstm" else [])
    for name in names:
        hist = np.stack([s[name] for s in steps[: now + 1]])
        rows = [f"{s.t + 1}: {token_label(s.token)}" for s in steps[: now + 1]]
        st.html(matrix_html(hist, rows, [f"{name}{u}" for u in range(w.hidden)],
                            t("{name}_t after each step so far (memory starts at 0)", name=name), (now,), (),
                            decimals))


def step_table(s: S.Step) -> pd.DataFrame:
    """Every named vector of the step, one row each, for copying."""
    return pd.DataFrame([{t("quantity"): k, t("values"): ", ".join(f"{x:.6g}" for x in v)}
                         for k, v in s.values.items()])


def cell_view(w: S.StepWeights, s: S.Step, decimals: int) -> None:
    """The step's computation: the textbook block with numbers (RNN), or the equations and a gate table (LSTM, GRU)."""
    if w.cell == "rnn":
        st.latex(FT.rnn_latex(s.values, decimals, w.nonlinearity))
        st.caption(t("The same step in PyTorch's notation: column vectors, the weights stored transposed, and two "
                     "biases instead of one."))
        st.latex(FT.rnn_torch_latex(s.values, decimals, w.nonlinearity))
        return
    left, right = st.columns(2, gap="large")
    left.markdown(t("**Textbook** · row vectors"))
    left.latex(FT.equations_latex(w.cell))
    right.markdown(t("**PyTorch** · nn.{cell}, column vectors", cell=w.cell.upper()))
    right.latex(FT.equations_latex(w.cell, torch=True))
    st.markdown(t("Each gate from its own row of numbers: the parts added up inside the activation, their sum, "
                  "and the gate's value for each memory unit."))
    st.html(FT.gate_table_html(S.gate_rows(s, w.cell), S.GATE_PARTS[w.cell], decimals))
    st.latex(FT.state_latex(s.values, w.cell, decimals))
    if w.cell == "gru":
        st.caption(t("PyTorch (and cuDNN) multiply by r_t after h_t−1 W_hn + b_hn; the original paper applies r_t "
                     "to h_t−1 before the product. Same weights, different numbers: these are PyTorch's."))


def step_view(setup: Setup, text: str) -> None:
    w = setup.weights
    try:
        steps = S.walk(w, text)
    except InputError as err:
        show_error(err)
        return
    preds = [token_label(w.tokens[s.prediction]) for s in steps] if w.w_y is not None else None
    now = position_ui(text, lambda at: sequence_html([s.token for s in steps], at, preds, [s.unknown for s in steps]))
    decimals = st.session_state.get(f"{KEY}_decimals", 2)
    s = steps[now]
    ids = np.array([list(w.tokens).index(c) if c in w.tokens else 0 for c in text])
    st.subheader(t("Step {n}: reading {token}", n=now + 1, token=repr(token_label(s.token))), anchor=False)
    left, right = st.columns(2, gap="large")
    with left:
        input_view(w, s, ids, decimals)
    with right:
        history_view(w, steps, now, decimals)
    cell_view(w, s, decimals)
    output_view(w, s, setup.mode, decimals)
    c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
    c1.segmented_control(t("Decimals"), [2, 3, 4], default=2, required=True, key=f"{KEY}_decimals")
    with c2.expander(t("Every number of this step, to copy")):
        st.dataframe(step_table(s), hide_index=True, width="stretch")
    st.subheader(t("The weights, in both notations"), anchor=False)
    weight_tables(w, int(ids[now]) if w.embedding is None else None, decimals)


# One-hot or embedding --------------------------------------------------------------------------------------------


def encoding_view(setup: Setup, text: str) -> None:
    w = setup.weights
    try:
        xs, tokens, unknown = w.encode(text)
    except InputError as err:
        show_error(err)
        return
    vocab = list(w.tokens)
    ids = [vocab.index(c) if c in vocab else 0 for c in text]
    rows = [f"{t + 1}: {token_label(c)}" for t, c in enumerate(tokens)]
    cell = setup.weights.cell
    st.markdown(t("What the first layer reads at each step, for the same sequence. With one-hot input, "
                  "x_t W_xh simply picks the row of W_xh that belongs to the letter."))
    left, right = st.columns(2, gap="large")
    onehot = np.eye(len(vocab))[ids]
    with left:
        st.markdown(t("**One-hot** · {n} numbers per token, one of them 1", n=len(vocab)))
        st.html(matrix_html(onehot, rows, FT.labels(vocab), t("input [{T}, {n}]", T=len(text), n=len(vocab)), (), (),
                            0))
    with right:
        model, _ = letters_model(cell, setup.mode or "four", "embedding", 0)
        table = model.embedding.weight.detach().double().numpy()
        emb_vocab = list(model.vocab.tokens)
        emb_ids = model.vocab.encode(text).numpy()
        st.markdown(t("**Embedding** · {n} learned numbers per token ({cell} trained on letters with a 2-number "
                      "embedding)", n=table.shape[1], cell=cell.upper()))
        st.html(matrix_html(table[emb_ids], rows, ["e0", "e1"], t("input [{T}, {n}]: rows of E", T=len(text),
                            n=table.shape[1]), (), (), 2) +
                matrix_html(table, FT.labels(emb_vocab), ["e0", "e1"], t("the table E [{n}, 2], learned",
                            n=len(emb_vocab)), (), (), 2, css=False))
        fig = go.Figure(go.Scatter(x=table[:, 0], y=table[:, 1], mode="markers+text", text=FT.labels(emb_vocab),
                                   textposition="top center", marker=dict(size=10, color="#dc2626")))
        fig.update_layout(height=260, margin=dict(l=10, r=10, t=30, b=10), title=t("Each letter as a point in E"),
                          xaxis_title="e0", yaxis_title="e1")
        plotly_chart(st, fig, key=f"{KEY}_embedding_plot")
    st.markdown(t("**Sizes**, for these letters and for a word-level vocabulary"))
    c1, c2, c3 = st.columns(3)
    V = int(c1.number_input(t("Vocabulary"), 2, 1_000_000, 10_000, key=f"{KEY}_vocab"))
    E = int(c2.number_input(t("Embedding size"), 1, 4096, 100, key=f"{KEY}_edim"))
    H = int(c3.number_input(t("Hidden units"), 1, 4096, 128, key=f"{KEY}_ehidden"))
    G = len(GATES[cell]) or 1
    small = pd.DataFrame(S.encoding_sizes(len(vocab), 2, setup.weights.hidden, len(text), G, lang()))
    large = pd.DataFrame(S.encoding_sizes(V, E, H, len(text), G, lang()))
    case = t("case")
    st.dataframe(pd.concat([small.assign(**{case: t("these letters")}),
                            large.assign(**{case: t("vocabulary {V:,}", V=V)})]),
                 hide_index=True, column_order=[case, *small.columns], column_config={
                     t("parameters"): st.column_config.NumberColumn(t("parameters (table + W_xh)"),
                                                                    format="localized"),
                     t("numbers per token"): st.column_config.NumberColumn(format="localized")})


# Shapes ----------------------------------------------------------------------------------------------------------


def shapes_view(setup: Setup, text: str) -> None:
    w = setup.weights
    st.markdown(t("The shape of every tensor, in the words of frameworks that describe input as "
                  "**[samples, timesteps, features]** and in PyTorch's (batch_first=True). The defaults are the "
                  "model above; change them to see stacked and bidirectional networks."))
    c = st.columns(5)
    cell = CELLS[c[0].selectbox(t("Cell"), list(CELLS), index=list(CELLS.values()).index(w.cell),
                                key=f"{KEY}_s_cell")]
    hidden = int(c[1].number_input(t("Hidden units"), 1, 1024, w.hidden, key=f"{KEY}_s_hidden"))
    layers = int(c[2].number_input(t("Layers"), 1, 6, 1, key=f"{KEY}_s_layers"))
    batch = int(c[3].number_input(t("Samples"), 1, 4096, 32, key=f"{KEY}_s_batch"))
    steps = int(c[4].number_input(t("Timesteps"), 1, 10_000, min(len(text), S.MAX_STEPS), key=f"{KEY}_s_time"))
    c = st.columns(5)
    vocab = int(c[0].number_input(t("Vocabulary"), 1, 5000, len(w.tokens), key=f"{KEY}_s_vocab"))
    encoder = c[1].selectbox(t("Encoder"), list(ENCODERS), format_func=named(ENCODER_SHORT), key=f"{KEY}_s_enc")
    dim = int(c[2].number_input(t("Embedding size"), 1, 1024, 2, key=f"{KEY}_s_dim", disabled=encoder == "onehot"))
    bidirectional = c[3].checkbox(t("Bidirectional"), key=f"{KEY}_s_bi")
    sequences = c[4].checkbox(t("Return sequences"), True, key=f"{KEY}_s_seq",
                              help=t("On: the top layer's output at every step. Off: only the last."))
    try:
        spec = S.ShapeSpec(cell, hidden, layers, bidirectional, batch, steps, vocab, encoder, dim, sequences)
    except RnnvizError as err:
        show_error(err)
        return
    rows = S.shape_rows(spec, lang())
    data = [r for r in rows if not r.key.startswith(("weight", "bias"))]
    params = [r for r in rows if r.key.startswith(("weight", "bias"))]
    frame = pd.DataFrame([{t("stage"): r.stage, t("shape"): str(list(r.shape)), t("Keras (the notes' words)"):
                           r.keras, "PyTorch": r.torch} for r in data])
    st.dataframe(frame, hide_index=True, width="stretch")
    n_params = sum(int(np.prod(r.shape)) for r in params)
    if spec.time * spec.batch * max(spec.features, 2 * spec.hidden) > 2_000_000 or n_params > 2_000_000:
        st.caption(t("Too large to run here just to check the shapes: these are written out from the sizes alone."))
    else:
        measured = S.torch_shapes(spec)
        wrong = [r for r in rows if measured.get(r.key) != r.shape]
        if wrong:
            st.error(t("PyTorch disagrees on {which}", which=", ".join(f"{r.key}: {measured.get(r.key)}"
                                                                       for r in wrong)))
        else:
            st.success(t("Checked just now: PyTorch's modules produce exactly these shapes."), icon=":material/check:")
    with st.expander(t("Parameters: {n:,} in the recurrent layers", n=n_params)):
        st.dataframe(pd.DataFrame([{"PyTorch": r.torch, t("shape"): str(list(r.shape)), t("textbook / Keras"):
                                    r.keras} for r in params]), hide_index=True, width="stretch")


# NumPy forward pass ----------------------------------------------------------------------------------------------


def numpy_view(setup: Setup, text: str) -> None:
    w = setup.weights
    try:
        x = w.encode(text)[0]
    except InputError as err:
        show_error(err)
        return
    params = S.model_params(setup.model) if setup.model is not None else w.torch_params()
    st.markdown(t("The whole forward pass in plain NumPy, a loop over time like the textbook's, run just now on "
                  "the weights and sequence above and checked against PyTorch's own module. The code is below."))
    left, right = st.columns(2, gap="large")
    with left:
        result = S.check_numpy(params, x, w.cell, nonlinearity=w.nonlinearity)
        out = result["numpy"][0]
        st.html(matrix_html(out, [f"{t + 1}: {token_label(c)}" for t, c in enumerate(text)],
                            [f"h{u}" for u in range(w.hidden)], t("NumPy: h_t at every step"), (), (), 4))
    with right:
        walked = np.stack([s["h"] for s in S.walk(w, text)])
        diff = result["diff"] | {"step by step": float(np.abs(walked - out).max())}
        st.dataframe(pd.DataFrame([{t("compared with"): f"nn.{w.cell.upper()}: {k}" if k != "step by step" else
                                    t("the Step by step tab"), t("largest |difference|"): f"{v:.1e}"}
                                   for k, v in diff.items()]), hide_index=True, width="stretch")
        if max(diff.values()) < 1e-9:
            st.success(t("The numbers agree: NumPy and PyTorch, both in float64, differ only by rounding."),
                       icon=":material/check:")
        else:
            st.error(t("NumPy and PyTorch disagree: this is a bug in rnnviz; please report it."))
    st.code(inspect.getsource(S.sigmoid) + "\n\n" + inspect.getsource(S.numpy_layer) + "\n\n" +
            inspect.getsource(S.numpy_forward), language="python")


def link_checks() -> dict:
    """What the page keeps in its link: the weights' source, cell and settings, the typed weights, the sequence, the
    open tab (its label) and the Backward tab's loss, targets and learning rate."""
    return {f"{KEY}_source": one_of(SOURCES, named(SOURCES)), f"{KEY}_cell": one_of(CELLS),
            f"{KEY}_encoder": one_of(ENCODERS, named(ENCODERS)), f"{KEY}_seed": number(0, 10_000, integer=True),
            f"{KEY}_mode": one_of(MODES, named(MODES)), f"{KEY}_hidden": number(1, 4, integer=True),
            f"{KEY}_sequence": short_text(), **{f"{KEY}_{name}": short_text() for name in S.TEXTBOOK},
            f"{KEY}_view": one_of(TABS.values(), t), **backward_links()}


def main() -> None:
    st.title(t("Step through"))
    st.caption(t("The classic worked example, one time step at a time: what goes in, every multiplication, "
                 "what comes out, in textbook notation beside PyTorch's."))
    url_notice(f"{KEY}_", link_checks())
    c1, c2, c3 = st.columns([5, 3, 4])
    text = sequence_ui(c3)
    try:
        setup = model_ui(c1, c2)
    except RnnvizError as err:
        show_error(err)
        return
    if setup is None or text is None:
        return
    # The tabs' labels are in the session's language (st.tabs has no format_func); the key holds the open label.
    tabs = st.tabs([t(label) for label in TABS.values()], key=f"{KEY}_view", on_change="rerun", bind=LINK)
    views = {"Step by step": step_view, "Backward": backward_view, "One-hot or embedding": encoding_view,
             "Shapes": shapes_view, "NumPy forward pass": numpy_view}
    for tab, code in zip(tabs, TABS, strict=True):
        if tab.open:
            with tab:
                views[code](setup, text)


main()
