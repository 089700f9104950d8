"""rnnviz.sentiment: every reading of a many-to-one classifier checked against running the model directly."""

import numpy as np
import pytest
import torch

from rnnviz import Model, ModelConfig, Vocab
from rnnviz import sentiment as S
from rnnviz.errors import InputError
from rnnviz.figures.common import ShapeError
from rnnviz.figures.sentiment import running_figure, sentiment_units_figure

TEXT = "东西不错，送货很快！就是包装有点差。"


def classifier(cell: str = "lstm", layers: int = 1, bidirectional: bool = False, seed: int = 0) -> Model:
    """A random embedding classifier with two outputs over the characters of TEXT (float64 for exact checks)."""
    config = ModelConfig(cell=cell, hidden_size=12, num_layers=layers, bidirectional=bidirectional,
                         encoder="embedding", embed_dim=5, head="classify", output_size=2)
    model = Model(config, Vocab.from_text(TEXT + "好坏"), generator=torch.Generator().manual_seed(seed))
    return model.double().eval()


def final_p(model: Model, text: str, positive: int = 1) -> float:
    """The model's own last-step p(positive) on ``text`` alone."""
    with torch.no_grad():
        return float(torch.softmax(model(model.ids(text)[None])[0][0, -1], -1)[positive])


@pytest.mark.parametrize("cell, layers", [("lstm", 1), ("gru", 2), ("rnn", 1)])
def test_running_prediction_is_the_prediction_on_each_prefix(cell, layers):
    model = classifier(cell, layers)
    p = S.running(model, TEXT)
    assert p.shape == (len(TEXT),)
    expected = [final_p(model, TEXT[:t + 1]) for t in range(len(TEXT))]
    np.testing.assert_allclose(p, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(S.running(model, TEXT, positive=0), 1 - p, atol=1e-12)


def test_occlusion_is_rerunning_the_edited_text():
    model = classifier("lstm", seed=3)
    s = S.occlusion(model, TEXT)
    base = final_p(model, TEXT)
    for t in range(len(TEXT)):
        ids = model.ids(TEXT).clone()
        ids[t] = 0
        with torch.no_grad():
            edited = float(torch.softmax(model(ids[None])[0][0, -1], -1)[1])
        assert s[t] == pytest.approx(base - edited, abs=1e-12)


def test_occlusion_runs_in_chunks_and_ignores_unknown_characters(monkeypatch):
    model = classifier("gru", seed=1)
    text = TEXT + "？" + TEXT  # ？ is not in the vocabulary: already <unk>, hiding it changes nothing
    whole = S.occlusion(model, text)
    monkeypatch.setattr(S, "CHUNK", 5)
    np.testing.assert_allclose(S.occlusion(model, text), whole, atol=1e-12)
    assert whole[len(TEXT)] == 0.0
    assert np.abs(whole).max() > 1e-6


def test_occlusion_refuses_long_text():
    model = classifier()
    with pytest.raises(InputError, match="at most"):
        S.occlusion(model, "好" * (S.MAX_OCCLUSION + 1))


def test_gradient_input_matches_autograd_through_the_whole_model():
    model = classifier("lstm", seed=2)
    g = S.gradient_input(model, TEXT)
    e = model.embedding(model.ids(TEXT)).detach().requires_grad_(True)  # [T, embed]
    out, _ = model.rnn(e[None])
    p = torch.softmax(model.head(out[0, -1]), -1)[1]
    p.backward()
    np.testing.assert_allclose(g, (e.grad * e).sum(-1).detach().numpy(), atol=1e-12)


def test_gradient_input_approximates_occlusion_of_a_zero_embedding():
    """g_t is the first-order change of p_T when e_t goes to zero: check it against the finite change for a tiny
    step along e_t (a directional derivative)."""
    model = classifier("gru", seed=4)
    g = S.gradient_input(model, TEXT)
    e = model.embedding(model.ids(TEXT)).detach()
    eps = 1e-6
    for t in (0, 5, len(TEXT) - 1):
        shrunk = e.clone()
        shrunk[t] *= 1 - eps
        with torch.no_grad():
            p0 = torch.softmax(model.head(model.rnn(e[None])[0][0, -1]), -1)[1]
            p1 = torch.softmax(model.head(model.rnn(shrunk[None])[0][0, -1]), -1)[1]
        assert float((p0 - p1) / eps) == pytest.approx(g[t], rel=1e-4, abs=1e-10)


def test_label_units_correlate_final_states_with_labels():
    model = classifier("lstm", layers=2)
    pairs = [(TEXT[i:i + 6 + i % 5], i % 2) for i in range(12)]
    r = S.label_units(model, pairs)
    assert r.shape == (2, 2, 1, 12)  # [quantity h c, layer, direction, unit]
    y = np.array([lab for _, lab in pairs], float)
    hs, cs = [], []
    with torch.no_grad():
        for text, _ in pairs:
            _, (h, c) = model.rnn(model.embedding(model.ids(text))[None])  # [layer, 1, H]
            hs.append(h[:, 0].numpy())
            cs.append(c[:, 0].numpy())
    for q, states in enumerate((np.array(hs), np.array(cs))):
        for layer in range(2):
            for u in range(12):
                expected = np.corrcoef(states[:, layer, u], y)[0, 1]
                assert r[q, layer, 0, u] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("cell, layers, bidirectional", [("lstm", 2, True), ("gru", 1, False), ("rnn", 2, True)])
def test_packed_final_states_are_each_traces_last_state(cell, layers, bidirectional, monkeypatch):
    model = classifier(cell, layers, bidirectional)
    texts = [TEXT[:n] for n in (3, 11, 1, 7)]
    packed = S.final_states(model, texts)
    monkeypatch.setattr(S, "LEAKY", (cell,))  # the trace-per-text path, which leaky and ESN cells take
    np.testing.assert_allclose(packed, S.final_states(model, texts), atol=1e-12)
    assert packed.shape == (4, 2 if cell == "lstm" else 1, layers, 2 if bidirectional else 1, 12)


def test_best_units_pick_the_largest_magnitude_per_unit():
    r = np.zeros((2, 1, 1, 4))
    r[0, 0, 0] = [0.1, -0.9, 0.3, 0.0]
    r[1, 0, 0] = [0.5, 0.2, -0.4, 0.05]
    assert S.best_units(r, 3) == [(0, 0, 0, 1, -0.9), (1, 0, 0, 0, 0.5), (1, 0, 0, 2, -0.4)]


def test_sample_pairs_is_seeded_balanced_and_cut():
    pairs = [(f"{'好' * (i % 7 + 1)}{i}", int(i % 3 == 0)) for i in range(90)]
    a, b = S.sample_pairs(pairs, 20, max_chars=4, seed=5), S.sample_pairs(pairs, 20, max_chars=4, seed=5)
    assert a == b and len(a) == 20
    assert sum(y for _, y in a) == 10
    assert all(len(t) <= 4 for t, _ in a)
    assert all(any(full.endswith(t) and y == lab for full, lab in pairs) for t, y in a)


def test_classifier_detection_and_positive_index():
    model = classifier()
    assert S.is_classifier(model)
    char = Model(ModelConfig(hidden_size=4), Vocab.from_text("abc"))
    assert not S.is_classifier(char)
    assert S.is_classifier(char, {"group": "sentiment"})
    assert S.positive_index({"classes": ["positive", "negative"]}) == 0
    assert S.positive_index({}) == 1


def test_running_figure_draws_p_on_the_token_axis():
    p = np.array([0.2, 0.7, 0.9])
    fig = running_figure(p, ["好", "，", "差"], lang="zh")
    np.testing.assert_allclose(np.asarray(fig.data[0].y, dtype=float), p, atol=1e-7)
    assert list(fig.layout.xaxis.ticktext) == ["好", "，", "差"]
    assert {a.text for a in fig.layout.annotations} == {"正面", "负面"}
    with pytest.raises(ShapeError, match=r"\[time\] = \[2\]"):
        running_figure(p, ["a", "b"])


def test_units_figure_draws_one_named_line_per_unit():
    values = np.arange(6.0).reshape(3, 2)
    fig = sentiment_units_figure(values, ["h[1] · r = +0.50", "c[4] · r = −0.40"], ["a", "b", "c"])
    assert [d.name for d in fig.data if d.name] == ["h[1] · r = +0.50", "c[4] · r = −0.40"]
    np.testing.assert_allclose(np.asarray(fig.data[1].y, dtype=float), values[:, 1])
    with pytest.raises(ShapeError):
        sentiment_units_figure(values, ["one"], ["a", "b", "c"])
