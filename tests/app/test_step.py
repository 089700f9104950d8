"""/step through AppTest: stepping forward and back, every weight source and cell, typed matrices, and the tabs."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from pages.shared import markdown_literal
from rnnviz import stepthrough as S
from tests.app.helpers import ok, open_app_page

TIMEOUT_S = 120


@pytest.fixture
def at() -> AppTest:
    return open_app_page("pages/step.py")


def subheaders(at: AppTest) -> list[str]:
    return [s.value for s in at.subheader]


def html(at: AppTest) -> str:
    return "\n".join(h.proto.body for h in at.get("html"))


def latex(at: AppTest) -> str:
    return "\n".join(x.value for x in at.latex)


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click()
    return ok(at.run())


def test_steps_forward_and_back_through_bcde(at):
    assert at.text_input(key="step_sequence").value == "bcde"
    assert "Step 1: reading 'b'" in subheaders(at)
    assert at.button(key="step_back").disabled
    for t, letter in enumerate("cde", start=2):
        click(at, "step_next")
        assert f"Step {t}: reading '{letter}'" in subheaders(at)
    assert at.button(key="step_next").disabled
    # the 3-unit RNN trained on "four letters in" answers a after bcde
    assert any("predicts **a**" in m.value for m in at.markdown)
    click(at, "step_back")
    assert "Step 3: reading 'd'" in subheaders(at)
    click(at, "step_restart")
    assert "Step 1: reading 'b'" in subheaders(at)


def test_a_new_sequence_starts_from_its_first_step(at):
    click(at, "step_next")
    at.text_input(key="step_sequence").set_value("eab")
    ok(at.run())
    assert "Step 1: reading 'e'" in subheaders(at)


def test_the_typed_textbook_example_shows_the_notes_numbers(at):
    at.segmented_control(key="step_source").set_value("Type your own")
    ok(at.run())
    text = latex(at)
    for numbers in ("-\\!2.30 & 0.80 & 1.10", "0.50 & 0.30 & -\\!0.20", "-\\!1.80 & 1.10 & 0.90",
                    "-\\!0.95 & 0.80 & 0.72", "0.02 & 0.02 & 0.91 & 0.03 & 0.02"):
        assert numbers in text, numbers
    assert any("predicts **c** with 91%" in m.value for m in at.markdown)


@pytest.mark.parametrize("box, text, message", [
    ("step_W_xh", "0.9, -1.5, 1.6\n-2.3, 0.8, 1.1", "W_xh must be 5 × 3"),
    ("step_W_hh", "0.2 -0.4 0.8\n-0.1 nan -0.6\n-0.5 0.7 0", "W_hh, row 2: Entry 2 is nan"),
    ("step_b_h", "0.5, 0.3, x", "b_h, row 1: Entry 3, 'x', is not a number"),
    ("step_W_hy", "<script>alert(1)</script>", "W_hy, row 1"),
])
def test_typed_matrices_with_mistakes_say_what_is_wrong(at, box, text, message):
    at.segmented_control(key="step_source").set_value("Type your own")
    ok(at.run())
    at.text_area(key=box).set_value(text)
    ok(at.run())
    assert any(markdown_literal(message) in e.value for e in at.error), [e.value for e in at.error]  # shown literally
    at.button(key="step_load").click()
    ok(at.run())
    assert not at.error and at.text_area(key=box).value == S.TEXTBOOK[box.removeprefix("step_")]


def test_letters_outside_a_to_e_are_refused_with_a_sentence(at):
    at.text_input(key="step_sequence").set_value("bcdz")
    ok(at.run())
    assert any("'z'" in e.value and "closed" in e.value for e in at.error)


@pytest.mark.parametrize("cell, gates", [("LSTM", ["input gate", "forget gate", "candidate", "output gate"]),
                                         ("GRU", ["reset gate", "update gate", "candidate"])])
@pytest.mark.parametrize("source", ["Trained on letters", "Random"])
def test_lstm_and_gru_steps_show_each_gate_and_both_layouts(at, cell, gates, source):
    at.segmented_control(key="step_source").set_value(source)
    at.segmented_control(key="step_cell").set_value(cell)
    ok(at.run())
    click(at, "step_next")
    body = html(at)
    assert all(g in body for g in gates)
    assert "weight_ih_l0 = W_xᵀ  [" + ("12" if cell == "LSTM" else "9") + ", 5]" in body
    assert "W_x = [" in body
    assert ("c_t &= f_t" in latex(at)) == (cell == "LSTM")


def test_embedding_encoder_feeds_a_row_of_the_table(at):
    at.selectbox(key="step_encoder").set_value("embedding")
    ok(at.run())
    assert "row 1 of the embedding table" in html(at)  # b is row 1 (a is row 0)


def test_shapes_tab_agrees_with_torch_for_a_stacked_bidirectional_lstm(at):
    at.session_state["step_view"] = "Shapes"
    ok(at.run())
    at.selectbox(key="step_s_cell").set_value("LSTM")
    at.number_input(key="step_s_layers").set_value(3)
    at.checkbox(key="step_s_bi").check()
    at.checkbox(key="step_s_seq").uncheck()
    ok(at.run())
    assert [s.value for s in at.success] == ["Checked just now: PyTorch's modules produce exactly these shapes."]
    frame = at.dataframe[0].value
    shapes = dict(zip(frame["stage"], frame["shape"], strict=True))
    assert shapes["final hidden state, every layer and direction"] == "[6, 32, 3]"
    assert shapes["top layer, last step only"] == "[32, 6]"


def test_numpy_tab_agrees_with_torch(at):
    at.session_state["step_view"] = "NumPy forward pass"
    ok(at.run())
    assert any("The numbers agree" in s.value for s in at.success)
    assert "def numpy_layer(" in at.code[0].value
    diffs = at.dataframe[0].value["largest |difference|"].astype(float)
    assert np.all(diffs < 1e-9)


def test_one_hot_or_embedding_tab(at):
    at.session_state["step_view"] = "One-hot or embedding"
    ok(at.run())
    body = html(at)
    assert "input [4, 5]" in body and "input [4, 2]: rows of E" in body
    sizes = at.dataframe[0].value
    assert list(sizes["numbers per token"]) == [5, 2, 10_000, 100]


@pytest.mark.parametrize("text", ["   ", "é", "👍🏽‍", "<img src=x onerror=alert(1)>", "a\x00b", "مرحبا"])
def test_hostile_sequences_get_a_sentence_not_a_traceback(at, text):
    at.text_input(key="step_sequence").set_value(text)
    ok(at.run())
    assert at.error or at.info
    assert "<img" not in html(at)


def test_shapes_tab_writes_out_but_does_not_run_huge_models(at):
    at.session_state["step_view"] = "Shapes"
    ok(at.run())
    at.number_input(key="step_s_hidden").set_value(1024)
    at.number_input(key="step_s_layers").set_value(6)
    ok(at.run())
    assert not at.success and any("Too large to run here" in c.value for c in at.caption)
    frame = at.dataframe[0].value
    assert dict(zip(frame["stage"], frame["shape"], strict=True))["top layer, every step"] == "[32, 4, 1024]"
