"""/step, Backward tab, through AppTest: the walk from the last step to the first, the loss and targets, the cells,
typed weights and the gradient-descent step. Expected numbers come from the forward pass (stepthrough.walk) and
PyTorch, not from rnnviz.bptt."""

import html as html_lib
import re

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from rnnviz import stepthrough as S
from rnnviz.figures.text import vec
from tests.app.helpers import ok, open_app_page


@pytest.fixture
def at() -> AppTest:
    at = open_app_page("pages/step.py")
    at.session_state["step_view"] = "Backward"
    return ok(at.run())


def subheaders(at: AppTest) -> list[str]:
    return [s.value for s in at.subheader]


def latex(at: AppTest) -> str:
    return "\n".join(x.value for x in at.latex)


def table(at: AppTest, caption: str) -> np.ndarray:
    """The numbers of the HTML table with this caption, row by row."""
    body = "\n".join(h.proto.body for h in at.get("html"))
    found = re.search(re.escape(html_lib.escape(caption)) + r"</caption>(.*?)</table>", body, re.S)
    assert found, caption
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", found.group(1), re.S)
    cells = [re.findall(r"<td[^>]*>([^<]*)</td>", r) for r in rows]
    return np.array([[float(x) for x in r] for r in cells if r])


def textbook_loss(p: dict) -> torch.Tensor:
    """The letter example's loss over bcde with every step scored, written out in torch (textbook layout)."""
    h, total = torch.zeros(3, dtype=torch.float64), 0
    for c, nxt in zip("bcde", "cdea", strict=True):
        h = torch.tanh(p["wx"]["abcde".index(c)] + h @ p["wh"] + p["b"])
        total = total - torch.log_softmax(h @ p["wy"] + p["by"], -1)["abcde".index(nxt)]
    return total


def textbook_params() -> dict:
    w = S.textbook_example()
    return {k: torch.tensor(v, requires_grad=True) for k, v in
            {"wx": w.w_x, "wh": w.w_h, "b": w.b, "wy": w.w_y, "by": w.b_y}.items()}


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click()
    return ok(at.run())


def typed(at: AppTest) -> AppTest:
    at.segmented_control(key="step_source").set_value("Type your own")
    return ok(at.run())


def test_walks_back_from_the_last_step_to_the_first(at):
    assert "Step 4, going back: the error at 'e'" in subheaders(at)
    assert at.button(key="step_bw_back").disabled and not at.button(key="step_bw_next").disabled
    assert "nothing comes back from after the last step" in latex(at)
    seen = [latex(at)]
    for n, letter in zip((3, 2, 1), "dcb", strict=True):
        click(at, "step_bw_next")
        assert f"Step {n}, going back: the error at '{letter}'" in subheaders(at)
        seen.append(latex(at))
    assert len(set(seen)) == 4  # every step has its own numbers
    assert at.button(key="step_bw_next").disabled
    assert any("sums are complete" in s.value for s in at.success)
    click(at, "step_bw_back")
    assert "Step 2, going back: the error at 'c'" in subheaders(at)
    click(at, "step_bw_restart")
    assert "Step 4, going back: the error at 'e'" in subheaders(at)


def test_typed_textbook_example_shows_the_output_error_of_the_forward_pass(at):
    typed(at)
    steps = S.walk(S.textbook_example(), "bcde")
    for t, answer in zip((3, 2), "ae", strict=True):  # the error at steps 4 and 3: ŷ_t minus the one-hot answer
        dy = steps[t]["probs"] - np.eye(5)["abcde".index(answer)]
        assert vec(dy, 3) in latex(at), t
        click(at, "step_bw_next")
    probs = np.stack([s["probs"] for s in steps])
    loss = sum(-np.log(probs[t, "abcde".index(c)]) for t, c in enumerate("cdea"))
    assert at.metric[0].value == f"{loss:.4f}"  # loss before the descent step: every step scored


def test_the_descent_step_lowers_the_loss_as_pytorch_does(at):
    typed(at)
    at.number_input(key="step_bw_lr").set_value(0.1)
    ok(at.run())
    params = textbook_params()
    before = textbook_loss(params)
    before.backward()
    after = textbook_loss({k: (v - 0.1 * v.grad).detach() for k, v in params.items()})
    assert [m.value for m in at.metric] == [f"{before.item():.4f}", f"{after.item():.4f}"]
    assert after < before


def test_at_step_1_the_tables_hold_autograds_gradients(at):
    typed(at)
    at.segmented_control(key="step_bw_decimals").set_value(4)
    ok(at.run())
    params = textbook_params()
    textbook_loss(params).backward()
    partial = table(at, "∂L/∂W_h summed over step 4")
    for _ in range(3):
        click(at, "step_bw_next")
    for name, key in (("W_h", "wh"), ("W_x", "wx"), ("W_hy", "wy")):
        shown = table(at, f"∂L/∂{name} summed over steps 4…1")
        assert np.abs(shown - params[key].grad.numpy()).max() <= 5e-5, name
    assert np.abs(partial - params["wh"].grad.numpy()).max() > 1e-3  # step 4 alone is not the whole gradient


def test_last_step_loss_scores_only_the_last_step(at):
    at.segmented_control(key="step_bw_loss").set_value("last")
    ok(at.run())
    assert any("scores the answer **a**" in m.value for m in at.markdown)  # bcde → a
    click(at, "step_bw_next")
    assert any("Step 3 is not scored" in m.value for m in at.markdown)
    assert "this step is not scored" in latex(at)


@pytest.mark.parametrize("targets, message", [("cdez", "'z'"), ("cd", "takes 4 target")])
def test_bad_targets_get_a_sentence(at, targets, message):
    at.text_input(key="step_bw_targets").set_value(targets)
    ok(at.run())
    assert any(message in e.value for e in at.error), [e.value for e in at.error]


def test_embedding_models_get_the_tables_gradient(at):
    at.selectbox(key="step_encoder").set_value("embedding")
    ok(at.run())
    grads = table(at, "∂L/∂E summed over step 4")
    assert grads.shape == (5, 2)
    assert np.all(grads[:4] == 0) and np.any(grads[4] != 0)  # at step 4 only e's row was read


@pytest.mark.parametrize("cell, formula", [("LSTM", r"\delta c_t &= \delta_t \odot o_t"),
                                           ("GRU", r"\delta n_t &= \delta_t \odot (1 - z_t)")])
@pytest.mark.parametrize("source", ["Trained on letters", "Random"])
def test_gated_cells_show_each_gate_delta(at, cell, formula, source):
    at.segmented_control(key="step_source").set_value(source)
    at.segmented_control(key="step_cell").set_value(cell)
    ok(at.run())
    click(at, "step_bw_next")
    assert formula in latex(at)
    assert "Step 3, going back" in subheaders(at)[0]
