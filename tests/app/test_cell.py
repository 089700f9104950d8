"""/cell through AppTest: every control changes what the page computes and draws, and user errors are sentences."""

import json
import math
from html.parser import HTMLParser

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from pages.cell import HEATMAP_WINDOW, NUMBER_PRESETS, PRESETS, SNIPPET, UNIT_WINDOW, UNITS_TAB
from pages.shared import MAX_STEPS, TRAINED_KEY
from rnnviz import Model, ModelConfig, Vocab, trace
from rnnviz import probes as P
from rnnviz import units as U
from rnnviz.assets import list_pretrained, load_pretrained
from rnnviz.vocab import token_label
from tests.app.helpers import ok, open_app_page

TIMEOUT_S = 120


@pytest.fixture
def at() -> AppTest:
    """The page on its States tab (the heatmaps), where most tests here look."""
    return show(open_app_page("pages/cell.py"), "States")


def use_random(at: AppTest) -> AppTest:
    """Switch to the "Random" model source (seeded, vocabulary from the text), whatever is bundled."""
    at.radio(key="cell_source").set_value("Random")
    return ok(at.run())


@pytest.fixture(name="rand")
def rand_fixture(at) -> AppTest:
    """The page with the "Random" model source."""
    return use_random(at)


def figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def unit_ids(names: list[str]) -> list[int]:
    """Unit numbers from heatmap row names ("#12" or "#12 · indentation, r = 0.81")."""
    return [int(name.split(" · ")[0].lstrip("#")) for name in names]


def heatmaps(at: AppTest) -> list[dict]:
    """The traces of the stacked heatmap chart (the first chart on the States tab)."""
    return [t for t in figures(at)[0]["data"] if t["type"] == "heatmap"]


def ticktext(fig: dict, axis: str = "xaxis") -> list[str]:
    return fig["layout"][axis]["ticktext"]


def text_of(html: str) -> str:
    """The text a browser shows for ``html``; fails on any tag but div and span."""
    parser = HTMLParser()
    parser.text = []
    parser.handle_data = parser.text.append
    parser.handle_starttag = lambda tag, attrs: None if tag in ("div", "span") else pytest.fail(f"<{tag}> in {html}")
    parser.feed(html)
    return "".join(parser.text)


def set_text(at: AppTest, text: str) -> AppTest:
    at.text_area(key="cell_sequence").set_value(text)
    return ok(at.run())


def show(at: AppTest, tab: str) -> AppTest:
    at.session_state["cell_view"] = tab
    return ok(at.run())


def test_default_view_is_every_lstm_heatmap_of_the_python_snippet():
    """The bundled character LSTM when there is one (all its units), else a random LSTM of 128 units. The page
    opens on what the units learned; the heatmaps are one tab away, in a window of steps whose tokens can be read."""
    at = open_app_page("pages/cell.py")
    assert "Inside the cell" in [t.value for t in at.title]
    assert at.session_state["cell_view"] == UNITS_TAB and at.pills(key="cell_feature").value is not None
    show(at, "States")
    assert at.segmented_control(key="cell_mode").value == "Text"
    source = at.radio(key="cell_source").value
    assert source == ("Pretrained" if list_pretrained("char") else "Random")
    if source == "Pretrained":
        assert at.selectbox(key="cell_pretrained").value == "char_lstm"
    (fig,) = figures(at)
    assert [t["name"] for t in heatmaps(at)] == list("ifgoch")
    assert len(SNIPPET) > HEATMAP_WINDOW  # so the window shows
    assert ticktext(fig) == [token_label(c) for c in SNIPPET[:HEATMAP_WINDOW]]  # every step's token, for hover
    units = load_pretrained("char_lstm")[1]["hidden_size"] if source == "Pretrained" else 128
    assert len(heatmaps(at)[0]["y"]) == min(units, UNIT_WINDOW)  # a larger model gets a slider over its units
    assert not at.error and not at.warning
    use_random(at)
    assert at.number_input(key="cell_text_hidden").value == 128
    assert len(heatmaps(at)[0]["y"]) == 128


@pytest.mark.parametrize("preset", list(PRESETS))
def test_each_preset_fills_the_box_and_the_axis(rand, preset):
    rand.selectbox(key="cell_sequence_preset").select(preset)
    ok(rand.run())
    assert rand.text_area(key="cell_sequence").value == PRESETS[preset]
    assert ticktext(figures(rand)[0]) == [token_label(c) for c in PRESETS[preset][:HEATMAP_WINDOW]]


def test_blank_long_and_hostile_text(rand):
    set_text(rand, "  \n ")
    assert any("Type a sequence" in i.value for i in rand.info) and not rand.get("plotly_chart")
    show(set_text(rand, "ab" * 1500), "States")  # with no sequence there were no tabs; they open on the first
    assert "3,000" in rand.warning[0].value and "2,000" in rand.warning[0].value
    assert len(ticktext(figures(rand)[0])) == HEATMAP_WINDOW
    rand.select_slider(key=f"cell_steps_{MAX_STEPS}").set_value(MAX_STEPS - HEATMAP_WINDOW)
    ok(rand.run())
    fig = figures(rand)[0]
    assert fig["layout"]["xaxis"]["tickvals"] == list(range(MAX_STEPS - HEATMAP_WINDOW, MAX_STEPS))
    assert ticktext(fig) == ["a", "b"] * (HEATMAP_WINDOW // 2)
    rand.number_input(key="cell_text_hidden").set_value(256)
    ok(rand.run())
    assert not rand.info and len(heatmaps(rand)[0]["y"]) == 256  # a window of steps leaves room for every unit
    hostile = "<script>alert(1)</script><img src=x onerror=alert(1)>\x00\u200d👩‍🔬"
    set_text(rand, hostile)
    assert ticktext(figures(rand)[0]) == [token_label(c) for c in hostile]
    html = show(rand, "Colored text").html[0].value
    assert "<script" not in html and "<img" not in html
    assert text_of(html) == hostile.replace("\x00", "NUL").replace("\u200d", "ZWJ")  # each character as text


HOSTILE_TEXTS = [
    "x",  # one step
    "\x00\x01\x1b[31m\r\n\t",  # controls and NUL
    "👍🏽 👩‍👩‍👧 🇫🇷",  # skin tone, ZWJ family, flag
    "שלום عالم",  # right to left
    "e\u0301 n\u0303 \u200b\ufeff",  # combining marks, zero-width space, BOM
    "</textarea><b>**bold** $x^2$ \\(latex\\) [link](javascript:alert(1))</b>",
]


@pytest.mark.parametrize("source", ["Random", "Pretrained"])
def test_hostile_text_is_drawn_and_painted_as_text(at, source):
    if source == "Pretrained" and not list_pretrained("char"):
        pytest.skip("no bundled character model")
    at.radio(key="cell_source").set_value(source)
    ok(at.run())
    for text in HOSTILE_TEXTS:
        show(set_text(at, text), "States")
        assert ticktext(figures(at)[0]) == [token_label(c) for c in text], text
        html = show(at, "Colored text").html[0].value
        assert len(text_of(html)) >= len(text)  # every character painted (controls get visible names)
        assert not at.error


@pytest.mark.parametrize("cell, names", [("gru", list("rznh")), ("rnn", ["h"]), ("leaky", ["n", "h"]),
                                         ("esn", ["n", "h"])])
def test_cell_choice_changes_the_stack(rand, cell, names):
    rand.selectbox(key="cell_text_cell").select(cell)
    ok(rand.run())
    assert [t["name"] for t in heatmaps(rand)] == names


def test_hidden_size_layers_direction_and_seed(rand):
    rand.number_input(key="cell_text_hidden").set_value(16)
    rand.number_input(key="cell_text_layers").set_value(2)
    rand.checkbox(key="cell_text_bi").check()
    ok(rand.run())
    assert len(heatmaps(rand)[0]["y"]) == 16
    first = heatmaps(rand)[-1]["z"]
    rand.selectbox(key="cell_layer").select(1)
    rand.segmented_control(key="cell_direction").set_value("backward")
    ok(rand.run())
    assert heatmaps(rand)[-1]["z"] != first
    rand.number_input(key="cell_text_seed").set_value(7)
    ok(rand.run())
    assert heatmaps(rand)[-1]["z"] != first


def test_sort_and_filter_units(rand):
    rand.number_input(key="cell_text_hidden").set_value(12)
    ok(rand.run())
    model = Model(ModelConfig(hidden_size=12), Vocab.from_text(SNIPPET), generator=torch.Generator().manual_seed(0))
    tr = trace(model, SNIPPET)
    for by in ("variance", "keep"):
        rand.selectbox(key="cell_sort_lstm").select(by)
        ok(rand.run())
        assert unit_ids(heatmaps(rand)[0]["y"]) == U.unit_order(tr, 0, 0, by).tolist()
    probes = P.probe(tr, SNIPPET)
    rand.selectbox(key="cell_sort_lstm").select("feature")
    ok(rand.run())
    rows = heatmaps(rand)[0]["y"]
    assert unit_ids(rows) == probes.unit_order(0, 0).tolist()
    labels = probes.labels(0, 0)
    assert rows == [f"#{u} · {labels[u]}" if labels[u] else f"#{u}" for u in unit_ids(rows)]
    rand.text_input(key="cell_units").input("0-2, 9")
    ok(rand.run())
    assert sorted(unit_ids(heatmaps(rand)[0]["y"])) == [0, 1, 2, 9]
    rand.text_input(key="cell_units").input("3-1")
    ok(rand.run())
    assert "runs backwards" in rand.error[0].value
    assert len(heatmaps(rand)[0]["y"]) == 12  # a bad filter shows every unit


def test_predictions_tab(rand):
    set_text(rand, "abcabc")
    show(rand, "Predictions")
    rand.slider(key="cell_topk").set_value(3)
    ok(rand.run())
    (fig,) = figures(rand)
    (heat,) = [t for t in fig["data"] if t["type"] == "heatmap"]
    assert heat["y"] == ["actual", "#1", "#2", "#3"]
    assert ticktext(fig) == list("abcabc") and heat["texttemplate"] == "%{text}"
    assert heat["text"][0] == list("bcabc") + ["(end)"]
    rand.select_slider(key="cell_window_6").set_range(1, 3)
    ok(rand.run())
    (fig,) = figures(rand)
    assert ticktext(fig) == list("bca") and fig["layout"]["xaxis"]["tickvals"] == [1, 2, 3]
    assert [t for t in fig["data"] if t["type"] == "heatmap"][0]["text"][0] == list("cab")


def test_colored_text_and_unit_finder(rand):
    text = "aaaa(bb)aaaa"
    set_text(rand, text)
    rand.number_input(key="cell_text_hidden").set_value(16)
    show(rand, "Colored text")
    model = Model(ModelConfig(hidden_size=16), Vocab.from_text(text), generator=torch.Generator().manual_seed(0))
    probes = P.probe(trace(model, text), text)
    strongest = max((row for row in probes.summary() if probes.varies[probes.codes.index(row["code"])]),
                    key=lambda row: abs(row["best"].r))
    assert rand.selectbox(key="cell_paint_unit_16").value == strongest["best"].unit  # the selected unit
    rand.selectbox(key="cell_paint_unit_16").select(5)
    rand.selectbox(key="cell_paint_key").select("c")
    ok(rand.run())
    assert "c[5]" in rand.html[0].value
    rand.toggle(key="cell_stretch").set_value(True)
    rand.select_slider(key="cell_span_12").set_range(4, 7)
    rand.slider(key="cell_outside").set_value(0.5)
    rand.slider(key="cell_threshold_c").set_value(rand.slider(key="cell_threshold_c").max)
    ok(rand.run())
    closest = rand.pills[0]
    assert closest.label.startswith("No unit is on at every step of 4–7") and len(closest.options) == 8

    # a threshold just under some unit's lowest value on the span finds that unit
    c = trace(model, text)["c"][0, 0]
    thresholds = np.floor(c[4:8].min(0) * 100) / 100 - 0.01
    outside = [(np.delete(c[:, u], range(4, 8)) > t).mean() for u, t in enumerate(thresholds)]
    threshold = float(thresholds[int(np.argmin(outside))])
    found = U.find_units(c, 4, 7, threshold, max_outside=0.5)
    assert len(found), "precondition: the constructed threshold matches a unit"
    rand.slider(key="cell_threshold_c").set_value(threshold)
    ok(rand.run())
    pills = rand.pills[0]
    labels = probes.labels(0, 0)
    assert pills.options == [f"#{u} · {labels[u]}" if labels[u] else f"#{u}" for u in found.units[:24]]
    pills.set_value(int(found.units[0]))
    ok(rand.run())
    assert rand.selectbox(key="cell_paint_unit_16").value == int(found.units[0])
    assert f"c[{int(found.units[0])}]" in rand.html[0].value
    (finder,) = figures(rand)
    assert finder["layout"]["shapes"][0]["x0"] == 3.5


def test_saturation_memory_and_download_tabs(rand):
    show(rand, "Saturation")
    (fig,) = figures(rand)
    assert {t["name"] for t in fig["data"] if t.get("mode") == "markers"} == {"i · layer 0", "f · layer 0",
                                                                            "o · layer 0"}
    show(rand, "Memory")
    memory, horizon = figures(rand)
    assert ticktext(memory) == [token_label(c) for c in SNIPPET]
    assert len(horizon["data"][0]["x"]) == 128
    rand.selectbox(key="cell_memunit").select(3)
    ok(rand.run())
    assert "unit #3" in figures(rand)[0]["layout"]["yaxis"]["title"]["text"]
    show(rand, "Download")
    assert [b.proto.label for b in rand.get("download_button")] == ["Download NPZ", "Download CSV"]
    rand.selectbox(key="cell_text_cell").select("rnn")
    ok(rand.run())
    show(rand, "Saturation")
    assert "no gates" in rand.info[0].value and not rand.get("plotly_chart")
    show(rand, "Memory")
    assert "overwrites" in rand.info[0].value


def test_numbers_mode(at):
    at.segmented_control(key="cell_mode").set_value("Numbers")
    ok(at.run())
    sine = [float(v) for v in NUMBER_PRESETS["Sine wave, 60 steps"].split(", ")]
    fig = figures(at)[0]
    assert ticktext(fig) == [f"{v:.3g}" for v in sine]
    assert math.isclose(sine[4], math.sin(1), abs_tol=1e-3)
    show(at, "Predictions")
    assert "has no next-token head, so it predicts no next tokens" in at.info[0].value
    show(at, "States")
    at.selectbox(key="cell_numbers_preset").select("A step: 0 then 1 then 0")
    ok(at.run())
    assert len(ticktext(figures(at)[0])) == 45
    for bad, words in [("1, NaN", "NaN"), ("1e308", "too large"), ("1, 2x", "not a number"), ("1, 2 3", "mixes")]:
        at.text_area(key="cell_numbers").set_value(bad)
        ok(at.run())
        assert words in at.error[0].value and not at.get("plotly_chart")
    at.text_area(key="cell_numbers").set_value(" ".join(["0.5"] * 2500))
    show(ok(at.run()), "States")
    assert "2,500 numbers" in at.warning[0].value
    assert len(ticktext(figures(at)[0])) == HEATMAP_WINDOW


def test_other_model_sources(at):
    at.radio(key="cell_source").set_value("Trained here")
    ok(at.run())
    assert "No model has been trained" in at.info[0].value and not at.get("plotly_chart")
    text_model = Model(ModelConfig(cell="gru", hidden_size=6), Vocab.from_text("abc"))
    float_model = Model(ModelConfig(hidden_size=6, encoder="float", input_size=1, head="none"))
    at.session_state[TRAINED_KEY] = {"abc gru": {"model": text_model, "card": {}},
                                     "sine lstm": {"model": float_model, "card": {}}}
    set_text(at, "abzc")
    assert "1 character(s) are not in this model's vocabulary" in at.warning[0].value
    assert [t["name"] for t in heatmaps(show(at, "States"))] == list("rznh")
    html = show(at, "Colored text").html[0].value
    assert "wavy" in html and "not in the vocabulary" in html
    at.selectbox(key="cell_trained").select("sine lstm")
    ok(at.run())
    assert "switch the input to Numbers" in at.info[0].value
    at.segmented_control(key="cell_mode").set_value("Numbers")
    ok(at.run())
    assert at.radio(key="cell_num_source").options == ["Random", "Trained here", "Uploaded"]
    at.radio(key="cell_num_source").set_value("Trained here")
    ok(at.run())
    at.selectbox(key="cell_num_trained").select("abc gru")
    ok(at.run())
    assert "does not read a one-feature number series" in at.info[0].value
    at.selectbox(key="cell_num_trained").select("sine lstm")
    ok(at.run())
    assert [t["name"] for t in heatmaps(show(at, "States"))] == list("ifgoch")


def test_a_model_larger_than_the_window_draws_its_units_a_window_at_a_time_and_follows_the_selection(at):
    H = UNIT_WINDOW + 44
    model = Model(ModelConfig(hidden_size=H), Vocab.from_text(SNIPPET), generator=torch.Generator().manual_seed(3))
    at.session_state[TRAINED_KEY] = {"big lstm": {"model": model, "card": {}}}
    at.radio(key="cell_source").set_value("Trained here")
    show(ok(at.run()), "States")
    order = P.probe(trace(model, SNIPPET), SNIPPET).unit_order(0, 0)  # the page sorts by feature tracked
    window = at.select_slider(key=f"cell_unit_window_{H}")
    assert window.options == ["1–256 of 300", "257–300 of 300"]
    selected = at.session_state["cell_selected"][2]  # the best unit of the best feature, on the page it opens
    page = int(np.flatnonzero(order == selected)[0]) // UNIT_WINDOW
    assert window.value == page * UNIT_WINDOW
    rows = unit_ids(heatmaps(at)[0]["y"])
    assert rows == order[page * UNIT_WINDOW:(page + 1) * UNIT_WINDOW].tolist()
    window.set_value(UNIT_WINDOW if page == 0 else 0)
    ok(at.run())
    other = order[UNIT_WINDOW:] if page == 0 else order[:UNIT_WINDOW]
    assert unit_ids(heatmaps(at)[0]["y"]) == other.tolist()
    assert any(f"Rows are units ({len(other)} shown)" in c.value for c in at.caption)
    far = int(order[0] if page == 1 else order[-1])  # a unit in neither window seen first: on the page not shown
    show(at, "Colored text").selectbox(key=f"cell_paint_unit_{H}").select(far)
    show(ok(at.run()), "States")  # selected on another view: the window moves to the unit
    assert at.select_slider(key=f"cell_unit_window_{H}").value == (0 if page == 1 else UNIT_WINDOW)
    assert far in unit_ids(heatmaps(at)[0]["y"])
    at.text_input(key="cell_units").input("0-15")  # named units that fit: no slider
    ok(at.run())
    assert not at.get("select_slider") or all(s.key != f"cell_unit_window_{H}" for s in at.select_slider)
    assert sorted(unit_ids(heatmaps(at)[0]["y"])) == list(range(16))


def test_uploads_that_are_not_checkpoints_are_refused(at):
    at.radio(key="cell_source").set_value("Uploaded")
    ok(at.run())
    at.file_uploader(key="cell_upload").upload("model.safetensors", b"\x80\x04 not a checkpoint")
    ok(at.run())
    assert at.error and "model.safetensors" in at.error[0].value and not at.get("plotly_chart")


def test_pretrained_source_is_offered_when_bundled(at):
    at.radio(key="cell_source").set_value("Pretrained")
    ok(at.run())
    bundled = [card["name"] for card in list_pretrained("char") if card.get("language") != "zh"]  # Python source
    if not bundled:
        assert "No pretrained models" in at.info[0].value
        return
    for name in bundled:
        at.selectbox(key="cell_pretrained").select(name)
        ok(at.run())
        cell = name.split("_")[-1]
        assert [t["name"] for t in heatmaps(at)] == list({"lstm": "ifgoch", "gru": "rznh", "rnn": "h"}[cell])
    set_text(at, "数")  # not in a vocabulary of Python source: read as unknown, and said so
    assert "1 character(s) are not in this model's vocabulary" in at.warning[0].value
    show(at, "Predictions")
    assert figures(at)


def random_probes(text: str, hidden: int, layers: int = 1, bidirectional: bool = False) -> P.Probes:
    """The probes of the page's random LSTM (seed 0), computed here from its own trace."""
    config = ModelConfig(hidden_size=hidden, num_layers=layers, bidirectional=bidirectional)
    model = Model(config, Vocab.from_text(text), generator=torch.Generator().manual_seed(0))
    return P.probe(trace(model, text), text)


def test_units_view_opens_on_the_best_feature_and_a_feature_selects_its_unit_everywhere(rand):
    rand.number_input(key="cell_text_hidden").set_value(8)
    rand.number_input(key="cell_text_layers").set_value(2)
    rand.checkbox(key="cell_text_bi").check()
    show(ok(rand.run()), UNITS_TAB)
    probes = random_probes(SNIPPET, 8, 2, True)
    rows = {row["code"]: row for row in probes.summary()}
    varies = [c for c in probes.codes if probes.varies[probes.codes.index(c)]]
    pills = rand.pills(key="cell_feature")
    assert len(pills.options) == len(varies)  # every feature that varies on the snippet, with its best unit
    for option in pills.options:
        row = next(rows[c] for c in varies if option.startswith(rows[c]["feature"] + ":"))
        assert (f"#{row['best'].unit} " in option) == row["tracked"]
    strongest = max(varies, key=lambda c: abs(rows[c]["best"].r))
    assert pills.value == strongest
    best = rows[strongest]["best"]
    assert rand.selectbox(key="cell_units_pick_8").value == best.unit
    assert f"{best.quantity}[{best.unit}]" in rand.html[0].value

    # a feature whose best unit is in another layer or direction: the view controls follow it
    other = next(c for c in varies if (rows[c]["best"].layer, rows[c]["best"].direction) != (best.layer,
                                                                                            best.direction))
    target = rows[other]["best"]
    rand.pills(key="cell_feature").set_value(other)
    ok(rand.run())
    assert rand.session_state["cell_selected"] == (target.layer, target.direction, target.unit)
    assert rand.selectbox(key="cell_layer").value == target.layer
    assert rand.segmented_control(key="cell_direction").value == ("backward" if target.direction else "forward")
    assert rand.selectbox(key="cell_units_pick_8").value == target.unit
    (gates,) = figures(rand)
    names = [t["name"] for t in gates["data"] if t.get("name")]
    assert names[:6] == ["input gate i_t", "forget gate f_t", "candidate g_t", "output gate o_t", "cell state c_t",
                         "hidden state h_t"]
    assert names[6] == f"{P.feature_name(other)} (scaled to 0–1)"
    show(rand, "Colored text")
    assert rand.selectbox(key="cell_paint_unit_8").value == target.unit  # the same unit on the other views
    labels = probes.labels(target.layer, target.direction)
    if labels[target.unit]:
        assert labels[target.unit] in rand.html[0].value


def test_units_view_picker_and_plain_words_when_nothing_tracks(rand):
    text = "ab ab ab, ab. AB 12 ab"
    set_text(rand, text)
    rand.number_input(key="cell_text_hidden").set_value(2)
    show(ok(rand.run()), UNITS_TAB)
    probes = random_probes(text, 2)
    quiet = [row for row in probes.summary() if row["note"].startswith("Nothing tracks")]
    assert quiet, "precondition: a 2-unit random LSTM leaves some feature untracked"
    captions = " ".join(c.value for c in rand.caption)
    for row in quiet:
        assert row["note"] in captions
    assert "Not in this text (constant or not measured)" in captions and "inside a comment" in captions
    labels = probes.labels(0, 0)
    picker = rand.selectbox(key="cell_units_pick_2")
    other = 1 - picker.value
    picker.select(other)
    ok(rand.run())
    assert rand.session_state["cell_selected"] == (0, 0, other)
    assert f"[{other}]" in rand.html[0].value and (labels[other] in rand.html[0].value)

    set_text(rand, "a")  # one step: nothing can vary
    assert "No feature varies in this text" in rand.info[0].value
    rand.segmented_control(key="cell_mode").set_value("Numbers")
    ok(rand.run())  # numbers have no features a person can name: the page opens on the heatmaps, no units tab
    assert [tab.label for tab in rand.tabs][:2] == ["States", "Predictions"]
    assert heatmaps(rand) and not rand.pills


@pytest.mark.parametrize("cell", ["leaky", "esn"])
def test_leaky_and_esn_saturation_and_memory(rand, cell):
    rand.selectbox(key="cell_text_cell").select(cell)
    ok(rand.run())
    show(rand, "Saturation")
    assert "no gates" in rand.info[0].value and not rand.get("plotly_chart")
    show(rand, "Memory")
    memory, horizon = figures(rand)
    assert [t.get("name") for t in memory["data"] if t.get("name")] == ["kept (1 − α) ⊙ h_{t−1}", "written α ⊙ n"]
    assert len(horizon["data"][0]["x"]) == 128
    assert not rand.exception and not rand.error


def test_a_click_on_a_unit_s_square_or_bar_selects_it(monkeypatch):
    """The on_select callback of the heatmaps and the horizon bars: the clicked point's customdata is the unit.
    (AppTest cannot click a Plotly chart; tests/e2e/test_cell.py clicks one in Chromium.)"""
    from types import SimpleNamespace

    from pages import cell_units as CU

    state: dict = {}
    monkeypatch.setattr(CU, "st", SimpleNamespace(session_state=state))
    state["chart"] = {"selection": {"points": [{"curve_number": 3, "point_index": 1, "customdata": 17}]}}
    CU._clicked("chart", 1, 0)
    assert state[CU.SELECTED] == (1, 0, 17) and state["cell_layer"] == 1 and state["cell_direction"] == "forward"
    state["chart"] = {"selection": {"points": [{"customdata": [5]}]}}  # a list, as Plotly sends an array's row
    CU._clicked("chart", 0, 1)
    assert state[CU.SELECTED] == (0, 1, 5) and state["cell_direction"] == "backward"
    for points in ([], [{"x": 3}], [{"customdata": "5"}], [{"customdata": -1}], [{"customdata": 2.5}],
                   [{"customdata": True}]):  # no unit in the click: the selection stays
        state["chart"] = {"selection": {"points": points}}
        CU._clicked("chart", 2, 0)
        assert state[CU.SELECTED] == (0, 1, 5)
    state.pop("chart")
    CU._clicked("chart", 2, 0)
    assert state[CU.SELECTED] == (0, 1, 5)


def test_heatmaps_carry_a_square_per_unit_and_outline_the_selected_one(rand):
    rand.number_input(key="cell_text_hidden").set_value(8)
    ok(rand.run())
    rand.session_state["cell_selected"] = (0, 0, 5)
    show(ok(rand.run()), "States")
    (fig,) = figures(rand)
    squares = [t for t in fig["data"] if t["type"] == "bar" and "customdata" in t]
    assert len(squares) == 6
    outlined = [s for s in fig["layout"]["shapes"] if s["type"] == "rect"]
    assert len(outlined) == 6
    show(rand, "Memory")
    (bars,) = [f for f in figures(rand) if f["data"][0]["type"] == "bar"]
    assert bars["layout"]["clickmode"] == "event+select"
