"""The /cell page's analysis (rnnviz.units, rnnviz.parse) and figure builders (rnnviz.figures.cell), on constructed
traces whose answers are known, and on real traces checked against the cell equations."""

import csv
import io
from html.parser import HTMLParser

import numpy as np
import pytest
import torch

from rnnviz import InputError, Model, ModelConfig, Trace, Vocab, trace
from rnnviz import units as U
from rnnviz.figures import (
    cell_heatmaps,
    color_range,
    finder_figure,
    horizon_figure,
    memory_figure,
    predictions_figure,
    saturation_figure,
    state_heatmaps,
)
from rnnviz.figures.common import ShapeError
from rnnviz.figures.states import label_stride
from rnnviz.parse import parse_numbers
from rnnviz.vocab import token_label

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(1)>"


def constructed(cell: str, arrays: dict, tokens=None) -> Trace:
    """A Trace from hand-made arrays [layer, direction, time, unit]."""
    T = next(iter(arrays.values())).shape[2]
    tokens = tokens or [chr(97 + t % 26) for t in range(T)]
    return Trace(cell, {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}, tokens, [False] * T,
                 np.zeros((T, 1), np.float32))


def real(cell: str, text: str = "hello, world", **config) -> tuple[Model, Trace]:
    model = Model(ModelConfig(cell=cell, hidden_size=8, **config), Vocab.from_text(text + "xyz"),
                  generator=torch.Generator().manual_seed(1))
    return model, trace(model, text)


# parse_numbers --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("1, 2.5, -3", [1, 2.5, -3]),
    ("1 2.5\n-3\t.5", [1, 2.5, -3, 0.5]),
    ("1,2,3,", [1, 2, 3]),
    ("  4e-2 , +1E3 ", [0.04, 1000]),
    ("7", [7]),
])
def test_parse_numbers_reads_commas_or_spaces(text, expected):
    values = parse_numbers(text)
    assert values.dtype == np.float32
    np.testing.assert_allclose(values, expected, rtol=1e-6)


@pytest.mark.parametrize("text, words", [
    ("", "Type some numbers"),
    ("   \n", "Type some numbers"),
    ("1, NaN, 2", "Entry 2 is NaN"),
    ("1 inf", "Entry 2 is inf"),
    ("-Infinity", "infinity cannot be fed"),
    ("1e308", "too large"),
    ("1, -2e7", "too large"),
    ("1, 2a, 3", "'2a', is not a number"),
    ("1, 2 3", "mixes spaces and commas"),
    ("1;2;3", "is not a number"),
    ("1,,2", "Entry 2 is empty"),
    ("١٢", "is not a number"),  # Arabic-Indic digits: Python's float() takes them, we do not
    ("1_000", "is not a number"),
    ("0x10", "is not a number"),
    ("1\x00", "is not a number"),
])
def test_parse_numbers_rejects_with_a_sentence(text, words):
    with pytest.raises(InputError, match=words.replace("(", r"\(")) as info:
        parse_numbers(text)
    message = str(info.value)
    assert message.endswith(".") and "\x00" not in message


def test_parse_numbers_quotes_long_entries_short():
    with pytest.raises(InputError) as info:
        parse_numbers("1, " + "x" * 10_000)
    assert len(str(info.value)) < 200


# unit order, filter, finder ---------------------------------------------------------------------------------------


def test_unit_order_by_variance_and_by_keep_gate():
    h = np.array([[0, 0, 0], [0, 1, -1], [0, -1, 0.5], [0, 1, 0.0]])[None, None]  # [1, 1, T=4, H=3]
    f = np.array([[0.9, 0.1, 0.5]] * 4)[None, None]
    tr = constructed("lstm", {"h": h, "c": h, "i": f, "f": f, "g": h, "o": f})
    assert U.unit_order(tr, by="index").tolist() == [0, 1, 2]
    assert U.unit_order(tr, by="variance").tolist() == [1, 2, 0]
    assert U.unit_order(tr, by="keep").tolist() == [0, 2, 1]
    rnn = constructed("rnn", {"h": h})
    assert "keep" not in U.sort_options("rnn") and U.sort_options("gru")["keep"] == "mean update gate"
    with pytest.raises(ValueError, match="cannot order"):
        U.unit_order(rnn, by="keep")


def test_parse_units():
    assert U.parse_units("", 8) is None and U.parse_units(" , ", 8) is None
    assert U.parse_units("5, 0-2, 1", 8).tolist() == [5, 0, 1, 2]
    assert U.parse_units("3 – 4", 8).tolist() == [3, 4]
    for spec, words in [("3-1", "runs backwards"), ("8", "Unit 8 does not exist"), ("a", "is not a unit"),
                        ("-1", "is not a unit"), ("1-", "is not a unit")]:
        with pytest.raises(InputError, match=words):
            U.parse_units(spec, 8)


def test_find_units_on_a_constructed_trace():
    T, span = 10, (3, 5)
    values = np.zeros((T, 5))
    values[3:6, 0] = 0.9  # on exactly on the span
    values[:, 1] = 0.9  # always on
    values[3:6, 3] = 0.9
    values[8, 3] = 0.9  # on the span and one step elsewhere
    values[3:5, 4] = 0.9  # on only part of the span
    found = U.find_units(values, *span, threshold=0.5)
    assert found.units.tolist() == [0]
    assert found.inside.tolist() == [1.0] and found.outside.tolist() == [0.0]
    found = U.find_units(values, *span, threshold=0.5, max_outside=1 / 7)
    assert found.units.tolist() == [0, 3]
    np.testing.assert_allclose(found.outside, [0, 1 / 7])
    found = U.find_units(values, *span, threshold=0.5, min_inside=0.6, max_outside=1.0)
    assert found.units.tolist() == [0, 3, 4, 1]  # ranked by inside − outside
    assert found[:2].units.tolist() == [0, 3] and found[:2].outside.tolist() == [0, 1 / 7]
    everyone = U.find_units(values, *span, threshold=0.5, min_inside=0.0, max_outside=1.0)
    assert everyone.units.tolist() == [0, 3, 4, 1, 2]  # the closest first, down to the never-on unit
    assert len(U.find_units(values, 0, T - 1, threshold=0.5)) == 1  # the whole sequence: only "always on"
    values[4, 0] = np.nan  # NaN counts as off
    assert 0 not in U.find_units(values, *span, threshold=0.5).units
    with pytest.raises(ValueError, match="outside"):
        U.find_units(values, 5, 3, 0.5)


# saturation, memory, predictions -----------------------------------------------------------------------------------


def test_saturation_fractions_on_a_constructed_trace():
    T = 10
    g = np.full((2, 1, T, 3), 0.5)
    g[0, 0, :3, 0] = 0.05  # 30% left
    g[0, 0, 3:, 0] = 0.95  # 70% right
    g[0, 0, :, 1] = 0.1  # exactly 0.1 is not saturated
    g[1, 0, :, 2] = 1.0
    tr = constructed("gru", {"h": g, "r": g, "z": 1 - g, "n": g})
    sat = U.gate_saturation(tr)
    assert set(sat) == {"r", "z"}
    left, right = sat["r"]
    assert left.shape == right.shape == (2, 1, 3)
    np.testing.assert_allclose(left[0, 0], [0.3, 0, 0])
    np.testing.assert_allclose(right[0, 0], [0.7, 0, 0])
    np.testing.assert_allclose(right[1, 0], [0, 0, 1])
    np.testing.assert_allclose(sat["z"][0][1, 0], [0, 0, 1])  # z = 1 − r
    assert U.gate_saturation(constructed("rnn", {"h": g})) == {}


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_kept_plus_written_is_the_new_state(cell):
    _, tr = real(cell, bidirectional=True, num_layers=2)
    state = "c" if cell == "lstm" else "h"
    for layer in range(2):
        for d in range(2):
            kept, written = U.memory_split(tr, layer, d)
            np.testing.assert_allclose(kept + written, tr[state][layer, d], atol=1e-5)
    with pytest.raises(ValueError, match="vanilla RNN"):
        U.memory_split(real("rnn")[1])


@pytest.mark.parametrize("cell, config", [("leaky", dict(leak=0.3)), ("esn", dict(leak=0.6, spectral_radius=0.95))])
def test_leaky_memory_split_against_its_equations(cell, config):
    """kept = (1 − α) ⊙ h_{t−1}, written = α ⊙ tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh), recomputed here in
    float64 from the model's own weights, in both directions (the backward one runs from the last step)."""
    model, tr = real(cell, bidirectional=True, **config)
    x = np.asarray(tr.inputs, dtype=np.float64)  # [T, in], layer 0's input
    for d in range(2):
        w_ih, w_hh, b_ih, b_hh = (np.zeros(8) if w is None else w.detach().double().numpy()
                                  for w in model.layer_weights(0, d))
        alpha = model.leak(0, d).detach().double().numpy()
        assert not np.allclose(alpha, 1)
        h, kept, written = np.zeros(8), np.zeros((len(x), 8)), np.zeros((len(x), 8))
        for t in (range(len(x)) if d == 0 else reversed(range(len(x)))):
            n = np.tanh(w_ih @ x[t] + b_ih + w_hh @ h + b_hh)
            kept[t], written[t] = (1 - alpha) * h, alpha * n
            h = kept[t] + written[t]
        got = U.memory_split(tr, 0, d)
        np.testing.assert_allclose(got[0], kept, atol=1e-5)
        np.testing.assert_allclose(got[1], written, atol=1e-5)
        np.testing.assert_allclose(U.leak_rate(tr, 0, d), alpha, atol=1e-6)


def test_memory_horizon_inverts_a_steady_gate():
    tau = np.array([1.0, 10.0, 100.0])
    f = np.broadcast_to(np.exp(-1 / tau), (50, 3))
    np.testing.assert_allclose(U.memory_horizon(f), tau, rtol=1e-6)
    always = U.memory_horizon(np.ones((5, 2)))
    assert np.isfinite(always).all() and always.min() > 1e8
    assert U.memory_horizon(np.zeros((5, 1)))[0] == pytest.approx(-1 / np.log(1e-12))


def test_top_k_matches_torch():
    probs = torch.softmax(torch.randn(7, 11, generator=torch.Generator().manual_seed(0)), -1).numpy()
    ids, p = U.top_k(probs, 3)
    want = torch.topk(torch.from_numpy(probs), 3)
    assert ids.tolist() == want.indices.tolist()
    np.testing.assert_allclose(p, want.values.numpy())
    assert U.top_k(probs, 99)[0].shape == (7, 11)


# colored text and export -------------------------------------------------------------------------------------------


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def test_colored_text_escapes_every_token_and_title():
    tokens = list(HOSTILE + '"\'&\n\x00')
    values = np.linspace(-1, 1, len(tokens))
    unknown = [t == "x" for t in tokens]
    out = U.colored_text_html(tokens, values, unknown=unknown)
    parser = Tags()
    parser.feed(out)
    assert {tag for tag, _ in parser.tags} == {"div", "span"}
    assert all(set(attrs) <= {"class", "style", "title"} for _, attrs in parser.tags)
    assert "".join(parser.text) == HOSTILE + "\"'&↵\nNUL"
    spans = [attrs for tag, attrs in parser.tags if tag == "span"]
    assert len(spans) == len(tokens)
    assert spans[0]["title"] == "step 0 · < · value = -1.000"
    assert "not in the vocabulary" in spans[tokens.index("x")]["title"] and "wavy" in spans[tokens.index("x")]["style"]
    with pytest.raises(ValueError, match="values must be"):
        U.colored_text_html(tokens, values[:-1])


def test_value_colors_run_blue_white_red():
    assert U.value_color(0.0, -1, 1)[0] == "rgb(255,255,255)"
    assert U.value_color(1.0, -1, 1) == ("rgb(214,39,40)", "#ffffff")
    assert U.value_color(-5.0, -1, 1)[0] == "rgb(31,119,180)"  # clipped
    assert U.value_color(0.5, 0, 1)[0] == "rgb(255,255,255)"  # a gate's midpoint
    assert U.value_color(float("nan"), -1, 1)[0] == "rgb(230,230,230)"


def test_npz_round_trip_without_pickle():
    model, tr = real("lstm", "日本 =1+1")
    data = np.load(io.BytesIO(U.trace_npz(tr)), allow_pickle=False)
    assert data["tokens"].tolist() == tr.tokens and str(data["cell"]) == "lstm"
    for key in tr.keys():
        np.testing.assert_array_equal(data[key], tr[key])
    np.testing.assert_array_equal(data["probs"], tr.probs)


def test_csv_has_a_row_per_step_and_defuses_formulas():
    _, tr = real("gru", "=1+1,\n\"x\"", num_layers=2)
    rows = list(csv.reader(io.StringIO(U.trace_csv(tr))))
    header, body = rows[0], rows[1:]
    L, D, T, H = tr.shape
    assert header[:5] == ["layer", "direction", "step", "token", "unknown"]
    assert len(header) == 5 + len(tr.keys()) * H and len(body) == L * D * T
    assert [r[3] for r in body[:T]] == ["'=", "1", "'+", "1", ",", "⏎", '"', "x", '"']
    column = header.index("h[3]")
    np.testing.assert_allclose([float(r[column]) for r in body[T:2 * T]], tr["h"][1, 0, :, 3], rtol=1e-5)


# figure builders ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell, keys", [("lstm", "ifgoch"), ("gru", "rznh"), ("rnn", "h")])
def test_cell_heatmaps_stack_every_quantity_on_the_token_axis(cell, keys):
    text = "abcab<é 中"
    _, tr = real(cell, text)
    fig = cell_heatmaps(tr)
    heatmaps = [t for t in fig.data if t.type == "heatmap"]
    assert [t.name for t in heatmaps] == list(keys)
    labels = [token_label(c) for c in text]
    axes = ["xaxis"] + [f"xaxis{r}" for r in range(2, len(keys) + 1)]
    for axis in axes:  # every axis maps every step to its token, so hover %{x} is the token
        assert list(fig.layout[axis].ticktext) == labels
        assert list(fig.layout[axis].tickvals) == list(range(len(text)))
    assert [fig.layout[a].showticklabels for a in axes] == [False] * (len(axes) - 1) + [True]
    for t in heatmaps:
        assert t.hovertemplate.startswith("token %{x} · step %{pointNumber[1]}<br>unit %{y}")
        if t.name in "ifozr":
            assert (t.zmin, t.zmax) == (0, 1)
        elif t.name in "hgn":
            assert (t.zmin, t.zmax) == (-1, 1)
        else:  # c: symmetric about 0, at least [-1, 1]
            assert t.zmin == -t.zmax and t.zmax >= 1
        assert t.z.dtype == np.float32 and t.z.shape == (8, len(text))


def test_gate_and_tanh_ranges_are_fixed_whatever_the_values():
    T, H = 50, 4
    arrays = {k: np.full((1, 1, T, H), 0.5) for k in "hcifgo"}
    arrays["c"][0, 0, :, 1] = np.linspace(-4, 4, T)
    arrays["c"][0, 0, 0, 0] = -90.0  # one outlier does not wash out the panel
    fig = cell_heatmaps(constructed("lstm", arrays))
    ranges = {t.name: (t.zmin, t.zmax, t.colorscale[0][1]) for t in fig.data if t.type == "heatmap"}
    assert ranges["i"][:2] == ranges["f"][:2] == ranges["o"][:2] == (0, 1)
    assert ranges["g"][:2] == ranges["h"][:2] == (-1, 1)
    c = np.abs(arrays["c"])
    assert ranges["c"][:2] == pytest.approx((-np.percentile(c, 99), np.percentile(c, 99)))
    assert 3.9 < ranges["c"][1] < 90
    assert ranges["f"][2] != ranges["h"][2]  # sequential for gates, diverging for tanh-range values
    assert color_range("c", np.full((3, 2), 0.1))[:2] == (-1, 1)  # at least [-1, 1]
    assert color_range("c", np.array([[np.nan, np.inf]]))[:2] == (-1, 1)


def test_long_sequences_label_every_nth_token_on_an_overlay_axis():
    text = "".join(chr(0x4E00 + i % 50) for i in range(300))
    _, tr = real("lstm", text)
    fig = cell_heatmaps(tr)
    labels = [token_label(c) for c in text]
    assert list(fig.layout.xaxis6.ticktext) == labels and fig.layout.xaxis6.showticklabels is False
    overlay = fig.layout.xaxis7
    step = label_stride(labels)
    assert step == -(-300 // (1100 // (7 * 2 + 6)))  # Chinese characters are two cells wide
    assert overlay.overlaying == "x6" and overlay.matches == "x"
    assert list(overlay.tickvals) == list(range(0, 300, step))
    assert list(overlay.ticktext) == labels[::step]
    assert tuple(overlay.range) == (-0.5, 299.5)


def test_label_stride_fits_labels_side_by_side():
    assert label_stride(list("a" * 80)) == 1 and label_stride(list("a" * 81)) == 2
    assert label_stride(list("a" * 2000)) == 25
    numbers = [f"{v:.3g}" for v in np.linspace(-1, 1, 60)]  # up to 5 characters: 26 fit
    assert label_stride(numbers) == 3
    assert label_stride(["x"] * 5) == 1 and label_stride([]) == 1


def test_units_pick_and_order_the_rows():
    _, tr = real("gru")
    fig = state_heatmaps(tr, ("h", "z"), units=[5, 0, 2])
    assert list(fig.data[0].y) == ["#5", "#0", "#2"]
    np.testing.assert_array_equal(fig.data[1].z, tr["z"][0, 0][:, [5, 0, 2]].T)
    assert fig.layout.yaxis.autorange == "reversed"  # first unit on top
    with pytest.raises(IndexError):
        state_heatmaps(tr, ("h",), units=[8])
    with pytest.raises(IndexError):
        state_heatmaps(tr, ("h",), layer=1)


def test_multi_character_labels_are_escaped_for_plotly():
    vocab = ["<unk>", "<b>", "a"]
    ids = np.array([[0, 1], [2, 0]])
    p = np.array([[0.6, 0.3], [0.5, 0.4]])
    fig = predictions_figure(ids, p, vocab, ["a", "b"], next_p=np.array([0.1, np.nan]))
    (heatmap,) = [t for t in fig.data if t.type == "heatmap"]
    assert list(heatmap.y) == ["actual", "#1", "#2"]
    assert heatmap.text[1].tolist() == ["&lt;unk&gt;", "a"]
    assert heatmap.text[2].tolist() == ["&lt;b&gt;", "&lt;unk&gt;"]
    assert heatmap.text[0].tolist() == ["b", "(end)"]
    assert (heatmap.zmin, heatmap.zmax) == (0, 1) and np.isnan(heatmap.z[0, 1])
    assert list(fig.layout.xaxis.ticktext) == ["a", "b"]
    with pytest.raises(ShapeError):
        predictions_figure(ids, p[:1], vocab, ["a", "b"])


def test_predictions_of_a_window_keep_their_step_numbers():
    ids, p = np.zeros((3, 1), int), np.full((3, 1), 0.5)
    fig = predictions_figure(ids, p, ["<unk>"], ["c", "a", "b"], np.array([0.2, 0.3, 0.4]), ["a", "b", "c"],
                             first_step=10)
    heatmap = fig.data[0]
    assert list(heatmap.x) == [10, 11, 12] and list(fig.layout.xaxis.tickvals) == [10, 11, 12]
    assert tuple(fig.layout.xaxis.range) == (9.5, 12.5)
    assert heatmap.customdata[0].tolist() == [10, 11, 12] and "step %{customdata}" in heatmap.hovertemplate
    assert heatmap.text[0].tolist() == ["a", "b", "c"]
    with pytest.raises(ShapeError, match="next_labels"):
        predictions_figure(ids, p, ["<unk>"], ["c", "a", "b"], np.array([0.2, 0.3, 0.4]), ["a"])


def test_predictions_of_a_real_model():
    model, tr = real("lstm", "abcabc")
    ids, p = U.top_k(tr.probs, 4)
    fig = predictions_figure(ids, p, model.vocab.tokens, tr.labels)
    (heatmap,) = [t for t in fig.data if t.type == "heatmap"]
    assert heatmap.z.shape == (4, 6) and heatmap.texttemplate == "%{text}"
    np.testing.assert_allclose(heatmap.z[0], tr.probs.max(1), rtol=1e-6)
    quiet = predictions_figure(*U.top_k(tr.probs, 2), model.vocab.tokens, tr.labels, max_text_steps=3)
    assert quiet.data[0].texttemplate == ""


def test_saturation_figure_has_one_series_per_gate_layer_and_direction():
    _, tr = real("lstm", num_layers=2, bidirectional=True)
    fig = saturation_figure(U.gate_saturation(tr))
    series = [t for t in fig.data if t.mode == "markers"]
    assert len(series) == 3 * 2 * 2
    assert {t.marker.symbol for t in series} == {"circle", "diamond"}
    i0 = next(t for t in series if t.name == "i · layer 0")
    np.testing.assert_allclose(i0.x, U.gate_saturation(tr)["i"][0][0, 0])
    assert len({t.marker.color for t in series}) == 3 and fig.layout.xaxis.range == (-0.03, 1.03)
    with pytest.raises(ShapeError):
        saturation_figure({"f": (np.zeros((1, 1, 3)), np.zeros((1, 1, 4)))})


def test_memory_horizon_and_finder_figures():
    _, tr = real("lstm", "abcdefgh")
    kept, written = U.memory_split(tr)
    fig = memory_figure(np.abs(kept).mean(1), np.abs(written).mean(1), tr.labels, "lstm")
    assert [t.name for t in fig.data if t.type == "scatter" and t.name] == ["kept f ⊙ c_{t−1}", "written i ⊙ g"]
    assert list(fig.layout.xaxis.ticktext) == list("abcdefgh")
    with pytest.raises(ShapeError):
        memory_figure(kept[:, 0], written[:-1, 0], tr.labels)
    horizon = U.memory_horizon(tr["f"][0, 0])
    bars = horizon_figure(horizon, [3, 1]).data[0]
    assert list(bars.x) == ["#3", "#1"] and np.allclose(bars.y, horizon[[3, 1]])
    fig = finder_figure(tr["h"][0, 0], tr.labels, [2, 5], 1, 3, "h")
    assert list(fig.data[0].y) == ["#2", "#5"] and (fig.data[0].zmin, fig.data[0].zmax) == (-1, 1)
    (rect,) = fig.layout.shapes
    assert (rect.x0, rect.x1) == (0.5, 3.5)
    with pytest.raises(ShapeError):
        finder_figure(tr["h"][0, 0], tr.labels, [0], 3, 9)
