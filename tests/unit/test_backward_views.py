"""The Backward tab's builders: the ‖δ_t‖ chart's traces, and formulas that carry the step's own numbers."""

import numpy as np
import pytest
import torch

from rnnviz import Model, ModelConfig, Vocab, bptt
from rnnviz.figures.backward import cell_latex, delta_figure, error_latex
from rnnviz.figures.text import vec


def backprop(cell, loss="every"):
    model = Model(ModelConfig(cell=cell, hidden_size=3), Vocab(tuple("abcde"), unk=False),
                  generator=torch.Generator().manual_seed(1))
    return bptt(model, "bcde", "cdea" if loss == "every" else "a", loss)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("loss", ["every", "last"])
def test_chart_draws_the_norms_and_the_bound_where_it_applies(cell, loss):
    b = backprop(cell, loss)
    fig = delta_figure(b, current=2)
    names = [tr.name for tr in fig.data if tr.name]
    assert names[0] == "‖δ_t‖" and np.allclose(fig.data[0].y, np.linalg.norm(b["delta"], axis=1))
    assert ("from the last step's loss" in names) == (loss == "every")
    assert ("bound" in names) == (cell == "rnn")
    assert ("‖δc_t‖" in names) == (cell == "lstm")
    assert list(fig.data[-1].x) == [3]  # the ring marks the current step
    if cell == "rnn":
        bound = next(tr for tr in fig.data if tr.name == "bound")
        assert np.all(np.linalg.norm(b.delta_last, axis=1) <= np.asarray(bound.y) * (1 + 1e-12))


@pytest.mark.parametrize("cell, result", [("rnn", "delta_a"), ("lstm", "delta_c"), ("gru", "delta_n")])
def test_formulas_carry_the_steps_numbers(cell, result):
    b = backprop(cell, "last")
    for t in range(4):
        text = error_latex(b, t, 3)
        assert vec(b["delta"][t], 3) in text and vec(b["delta_next"][t], 3) in text
        assert ("not scored" in text) == (t < 3)
        assert vec(b[result][t], 3) in cell_latex(b, t, 3)
