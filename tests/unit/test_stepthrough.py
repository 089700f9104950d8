"""rnnviz.stepthrough: the textbook numbers, the per-step tables against the trace, shapes against torch, and the
NumPy forward pass against torch.

Expected values are computed here again in plain NumPy, in PyTorch's column-vector form (W_ih @ x + b_ih + …),
not with the module's row-vector code, so a transposition or bias slip in the package cannot agree with itself.
"""

import time

import numpy as np
import pytest
import torch

from rnnviz import InputError, Model, ModelConfig, Vocab, trace
from rnnviz import stepthrough as S
from rnnviz.figures.text import gate_table_html, matrix_html, rnn_latex

# The worked example of the study notes, written out again (rows of W_xh and columns of W_hy: a b c d e).
W_XH = np.array([[0.9, -1.5, 1.6], [-2.3, 0.8, 1.1], [-1.5, 1.2, -1.3], [-1.8, -1.6, -0.3], [1.2, 1.1, 0.2]])
W_HH = np.array([[0.2, -0.4, 0.8], [-0.1, -0.7, -0.6], [-0.5, 0.7, 0.0]])
B_H = np.array([0.5, 0.3, -0.2])
W_HY = np.array([[3.2, 1.3, -0.9, -1.3, -2.6], [3.0, -2.1, 0.8, 2.5, -3.1], [-0.1, 3.2, 2.0, -3.5, -1.1]])
B_Y = np.array([0.0, 0.1, 0.4, -0.7, 0.1])


def softmax(a):
    e = np.exp(a - a.max())
    return e / e.sum()


def sig(a):
    return 1 / (1 + np.exp(-a))


def test_the_letter_example_has_the_numbers_of_the_notes():
    (step,) = S.walk(S.textbook_example(), "b")
    x = np.array([0, 1, 0, 0, 0.0])  # one-hot b
    xw = x @ W_XH
    a = xw + np.zeros(3) @ W_HH + B_H
    h = np.tanh(a)
    logits = h @ W_HY + B_Y
    probs = softmax(logits)
    for key, expected in {"x": x, "xW": xw, "a": a, "h": h, "logits": logits, "probs": probs}.items():
        np.testing.assert_allclose(step[key], expected, atol=1e-12, err_msg=key)
    # the notes' rounded figures
    np.testing.assert_allclose(step["xW"], [-2.3, 0.8, 1.1], atol=1e-12)
    np.testing.assert_allclose(step["a"], [-1.8, 1.1, 0.9], atol=1e-12)
    np.testing.assert_allclose(step["h"], [-0.9, 0.8, 0.7], atol=0.05)
    np.testing.assert_allclose(step["hWy"], [-0.7, -0.6, 2.9, 0.7, -0.8], atol=0.05)
    np.testing.assert_allclose(step["logits"], [-0.7, -0.5, 3.3, 0.0, -0.7], atol=0.05)
    np.testing.assert_allclose(step["probs"], [0.02, 0.02, 0.91, 0.03, 0.02], atol=0.006)
    assert "abcde"[step.prediction] == "c"


def test_the_typed_example_keeps_predicting_the_next_letter():
    steps = S.walk(S.textbook_example(), "bcdeabcde")
    h = np.zeros(3)
    for s, letter in zip(steps, "bcdeabcde", strict=True):
        h = np.tanh(np.eye(5)["abcde".index(letter)] @ W_XH + h @ W_HH + B_H)
        np.testing.assert_allclose(s["h"], h, atol=1e-12)
        assert "abcde"[s.prediction] == "abcde"[("abcde".index(letter) + 1) % 5]


def test_the_latex_shows_the_same_numbers():
    (step,) = S.walk(S.textbook_example(), "b")
    latex = rnn_latex(step.values, 1)
    assert r"\begin{bmatrix}-\!2.3 & 0.8 & 1.1\end{bmatrix}" in latex
    assert r"\begin{bmatrix}-\!1.8 & 1.1 & 0.9\end{bmatrix}" in latex
    assert r"\begin{bmatrix}-\!0.9 & 0.8 & 0.7\end{bmatrix}" in latex


def column_vector_walk(model: Model, text: str) -> list[dict]:
    """h_t (c_t) and the output probabilities, from the torch parameters with PyTorch's own equations."""
    p = {k: v.detach().double().numpy() for k, v in model.rnn.state_dict().items()}
    w_ih, w_hh, b_ih, b_hh = p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"]
    w_y, b_y = model.head.weight.detach().double().numpy(), model.head.bias.detach().double().numpy()
    if model.embedding is not None:
        xs = model.embedding.weight.detach().double().numpy()[model.vocab.encode(text).numpy()]
    else:
        xs = np.eye(len(model.vocab))[model.vocab.encode(text).numpy()]
    H = w_hh.shape[1]
    h, c, out = np.zeros(H), np.zeros(H), []
    for x in xs:
        if model.cell == "rnn":
            h = np.tanh(w_ih @ x + b_ih + w_hh @ h + b_hh)
            gates = {}
        elif model.cell == "lstm":
            a = w_ih @ x + b_ih + w_hh @ h + b_hh
            gates = dict(i=sig(a[:H]), f=sig(a[H:2 * H]), g=np.tanh(a[2 * H:3 * H]), o=sig(a[3 * H:]))
            c = gates["f"] * c + gates["i"] * gates["g"]
            h = gates["o"] * np.tanh(c)
            gates["c"] = c
        else:
            gi, gh = w_ih @ x + b_ih, w_hh @ h + b_hh
            gates = dict(r=sig(gi[:H] + gh[:H]), z=sig(gi[H:2 * H] + gh[H:2 * H]))
            gates["n"] = np.tanh(gi[2 * H:] + gates["r"] * gh[2 * H:])
            h = (1 - gates["z"]) * gates["n"] + gates["z"] * h
        out.append({**gates, "h": h, "probs": softmax(w_y @ h + b_y)})
    return out


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_a_trained_letter_model_steps_like_pytorchs_equations(cell):
    start = time.perf_counter()
    model, metrics = S.train_letters(cell, "four", "onehot", seed=0)
    print(f"train_letters({cell!r}): {time.perf_counter() - start:.2f} s")
    assert metrics["accuracy"] == 1.0
    steps = S.walk(S.StepWeights.from_model(model), "bcde")
    for s, expected in zip(steps, column_vector_walk(model, "bcde"), strict=True):
        for key, value in expected.items():
            np.testing.assert_allclose(s[key], value, atol=1e-12, err_msg=f"{cell} {key} at step {s.t}")
    assert S.LETTERS[steps[-1].prediction] == "a"  # bcde → a


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("encoder", ["onehot", "embedding"])
def test_lstm_and_gru_step_tables_agree_with_the_trace(cell, encoder):
    vocab = Vocab(tuple("abcde"), unk=False)
    model = Model(ModelConfig(cell=cell, hidden_size=4, encoder=encoder, embed_dim=2), vocab,
                  generator=torch.Generator().manual_seed(3))
    text = "bcdeab"
    tr = trace(model, text)
    w = S.StepWeights.from_model(model)
    np.testing.assert_allclose(w.encode(text)[0], tr.inputs, atol=1e-7)
    for s in S.walk(w, text):
        rows = S.gate_rows(s, cell)
        assert [r["gate"] for r in rows] == (list("ifgo") if cell == "lstm" else list("rzn"))
        for r in rows:
            np.testing.assert_allclose(r["value"], tr[r["gate"]][0, 0, s.t], atol=1e-6)
            np.testing.assert_allclose(sum(r["parts"].values()), r["pre"], atol=1e-12)
        for key in ("h", "c") if cell == "lstm" else ("h",):
            np.testing.assert_allclose(s[key], tr[key][0, 0, s.t], atol=1e-6)
        np.testing.assert_allclose(s["probs"], tr.probs[s.t], atol=1e-6)
    html = gate_table_html(rows, S.GATE_PARTS[cell])
    assert html.count("<tr>") == 1 + len(rows)


def test_the_biases_stay_apart_in_pytorch_layout_and_add_up_in_the_textbook():
    model = Model(ModelConfig(cell="lstm", hidden_size=3), Vocab(tuple("abcde"), unk=False))
    w = S.StepWeights.from_model(model)
    _, _, b_ih, b_hh = (p.detach().double().numpy() for p in model.layer_weights(0, 0))
    np.testing.assert_array_equal(w.b, b_ih + b_hh)
    np.testing.assert_array_equal(w.torch_params()["weight_ih_l0"], model.rnn.weight_ih_l0.detach().double().numpy())
    assert w.w_x.shape == (5, 12) and w.w_h.shape == (3, 12)


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("1, 2\n3", "same number of entries"),
    ("nan 1\n1 1", "NaN"),
    ("1 inf\n1 1", "NaN and infinity"),
    ("1 2 x\n1 1 1", "'x', is not a number"),
    ("1e308 1\n1 1", "too large"),
    ("1, 2 3\n1, 1", "mixes spaces and commas"),
    ("1 2 3\n4 5 6", "must be 2 × 2"),
    ("0x10 1\n1 1", "is not a number"),
    ("1 " * 5000, "at most 5,000"),
    ("1\x00 2\n3 4", "is not a number"),
])
def test_typed_matrices_are_parsed_strictly(text, message):
    with pytest.raises(InputError, match=message):
        S.parse_matrix(text, "W_hh", (2, 2))


@pytest.mark.parametrize("text", ["1, 2\n3, 4", "1 2; 3 4", "[[1, 2], [3, 4]]", "[1, 2]\n[3, 4]", " 1 2 \n\n 3 4 "])
def test_typed_matrices_accept_the_usual_layouts(text):
    np.testing.assert_array_equal(S.parse_matrix(text, "W", (2, 2)), [[1, 2], [3, 4]])


def test_typed_weights_name_the_matrix_and_the_shape_it_needs():
    t = dict(S.TEXTBOOK)
    with pytest.raises(InputError, match=r"W_xh must be 5 × 3"):
        S.textbook_weights(t["W_xh"].rsplit("\n", 1)[0], t["W_hh"], t["b_h"], t["W_hy"], t["b_y"])
    with pytest.raises(InputError, match=r"b_y needs 5 numbers"):
        S.textbook_weights(t["W_xh"], t["W_hh"], t["b_h"], t["W_hy"], "1 2 3")
    with pytest.raises(InputError, match="W_hy, row 2"):
        S.textbook_weights(t["W_xh"], t["W_hh"], t["b_h"], "1 2 3 4 5\n1 2 3 4 e\n1 2 3 4 5", t["b_y"])


@pytest.mark.parametrize("text", ["bcdx", "BCDE", "<script>"])
def test_a_closed_vocabulary_refuses_strangers_with_a_sentence(text):
    with pytest.raises(InputError, match="has no row in W_xh"):
        S.walk(S.textbook_example(), text)


def test_step_through_refuses_long_or_empty_sequences():
    with pytest.raises(InputError, match="at most"):
        S.walk(S.textbook_example(), "abcde" * 10)
    with pytest.raises(InputError, match="Type a sequence"):
        S.walk(S.textbook_example(), "  ")


SPECS = [S.ShapeSpec(cell, hidden, layers, bi, batch, time_, vocab, enc, 3, seq)
         for cell in ("rnn", "lstm", "gru")
         for hidden, layers, bi, batch, time_, vocab, enc, seq in (
             (3, 1, False, 32, 4, 5, "onehot", True),
             (3, 1, False, 1, 1, 5, "onehot", False),
             (4, 2, True, 2, 7, 11, "embedding", True),
             (5, 3, True, 3, 6, 9, "onehot", False),
             (2, 2, False, 5, 3, 4, "embedding", False))]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.cell}-L{s.layers}-{'bi' if s.bidirectional else 'uni'}-"
                                                      f"{'seq' if s.return_sequences else 'last'}-{s.encoder}")
def test_the_shapes_panel_matches_what_torch_produces(spec):
    written = {r.key: r.shape for r in S.shape_rows(spec)}
    measured = S.torch_shapes(spec)
    assert written == measured


def test_the_shapes_panel_names_stacked_bidirectional_shapes():
    rows = {r.key: r.shape for r in S.shape_rows(S.ShapeSpec("lstm", 3, 2, True, 32, 4, 5, "onehot", 2, False))}
    assert rows["encoded"] == (32, 4, 5)  # [samples, timesteps, features]
    assert rows["layer0"] == (32, 4, 6)  # both directions side by side
    assert rows["output"] == (32, 6)  # last step only
    assert rows["h_n"] == rows["c_n"] == (4, 32, 3)  # layers × directions
    assert rows["weight_ih_l0"] == (12, 5) and rows["weight_ih_l1_reverse"] == (12, 6)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, True), (3, False)])
def test_the_numpy_forward_pass_matches_torch(cell, layers, bidirectional):
    torch.manual_seed(1)
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        4, 5, layers, bidirectional=bidirectional).double()
    params = {k: v.detach().numpy() for k, v in module.state_dict().items()}
    x = np.random.default_rng(0).normal(size=(9, 4))
    out, h_n, c_n = S.numpy_forward(x, params, cell, layers, bidirectional)
    with torch.no_grad():
        t_out, state = module(torch.from_numpy(x))
    t_h = state[0] if cell == "lstm" else state
    np.testing.assert_allclose(out, t_out.numpy(), atol=1e-12)
    np.testing.assert_allclose(h_n, t_h.numpy(), atol=1e-12)
    if cell == "lstm":
        np.testing.assert_allclose(c_n, state[1].numpy(), atol=1e-12)
    result = S.check_numpy(params, x, cell, layers, bidirectional)
    assert max(result["diff"].values()) < 1e-12


def test_the_numpy_forward_pass_matches_a_model_and_the_typed_example():
    model, _ = S.train_letters("gru", "one", "embedding", seed=1)
    w = S.StepWeights.from_model(model)
    x = w.encode("cab")[0]
    assert max(S.check_numpy(S.model_params(model), x, "gru")["diff"].values()) < 1e-12
    np.testing.assert_allclose(S.numpy_forward(x, S.model_params(model), "gru")[0],
                               trace(model, "cab")["h"][0, 0], atol=1e-6)
    typed = S.textbook_example()
    result = S.check_numpy(typed.torch_params(), typed.encode("bcde")[0], "rnn")
    assert max(result["diff"].values()) < 1e-12
    np.testing.assert_allclose(result["numpy"][0][0], np.tanh([-1.8, 1.1, 0.9]), atol=1e-12)


def test_encoding_sizes():
    onehot, embedding = S.encoding_sizes(vocab=10_000, embed_dim=100, hidden=128, steps=4)
    assert onehot["numbers per token"] == 10_000 and onehot["parameters"] == 10_000 * 128
    assert embedding["numbers per token"] == 100 and embedding["parameters"] == 10_000 * 100 + 100 * 128


def test_tables_escape_their_labels():
    html = matrix_html(np.eye(2), ["<b>", "&"], ["<script>", '"q"'], caption="<img src=x onerror=alert(1)>")
    assert "<script>" not in html and "<img" not in html and "&lt;b&gt;" in html
    with pytest.raises(ValueError):
        matrix_html(np.eye(2), ["one"], None)
