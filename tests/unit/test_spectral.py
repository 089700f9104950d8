"""The per-step Jacobian norms, both solvers (deflating, the app's, and lockstep), against torch.linalg.svd of each
step's Jacobian by autograd in float64, on random input where every step's Jacobian differs."""

import numpy as np
import pytest
import torch

from rnnviz import InitConfig, Model, ModelConfig, cells
from rnnviz.gradients import gradient_flow
from rnnviz.spectral import spectral_norms

RTOL_FLOAT32 = 1e-5  # the solvers' own precision in float32 (they stop when the value stalls to ~1e-6)
RTOL_CLUSTERED = 1e-3  # orthogonal W_hh at gain 1: the top singular values cluster (see spectral_norms)


def autograd_svd_norms(model: Model, tr) -> np.ndarray:
    """‖dh_t/dh_{t−1}‖₂ of layer 0 at every step: the full Jacobian by autograd (float64), then the largest singular
    value from torch.linalg.svd (the LSTM's c_{t−1} held fixed, as rnnviz.gradients defines it)."""
    w = [None if p is None else p.detach().double() for p in model.layer_weights(0, 0)]
    leak = model.leak(0, 0).detach().double()
    x = torch.from_numpy(tr.inputs).double()
    H = tr["h"].shape[-1]
    zero = torch.zeros(H, dtype=torch.float64)
    out = []
    for t in range(len(x)):
        hp = torch.from_numpy(tr["h"][0, 0, t - 1]).double() if t else zero
        cp = torch.from_numpy(tr["c"][0, 0, t - 1]).double() if t and model.cell == "lstm" else zero
        xt = x[t]
        step = {"lstm": lambda h, xt=xt, cp=cp: cells.lstm_cell(xt, h, cp, *w)[0],
                "gru": lambda h, xt=xt: cells.gru_cell(xt, h, *w)[0],
                "rnn": lambda h, xt=xt: cells.rnn_cell(xt, h, *w),
                "leaky": lambda h, xt=xt: cells.leaky_cell(xt, h, *w, leak=leak)[0]}
        step["esn"] = step["leaky"]
        jac = torch.autograd.functional.jacobian(step[model.cell], hp)
        out.append(torch.linalg.svd(jac)[1][0].item())
    return np.array(out)


def random_input_model(cell: str, hidden: int = 48, scheme: str = "default") -> tuple[Model, torch.Tensor]:
    model = Model(ModelConfig(cell=cell, hidden_size=hidden, encoder="float", input_size=5, head="none"),
                  init=InitConfig(scheme), generator=torch.Generator().manual_seed(7))
    x = torch.randn(80, 5, generator=torch.Generator().manual_seed(8)) * 2
    return model, x


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "leaky", "esn"])
@pytest.mark.parametrize("deflate", [True, False])
def test_both_solvers_match_svd_on_random_input(cell, deflate):
    """48 units, more than the 40 products Lanczos may take: the values are exact only if it converged, so this
    tests the early stop (each step on its own, or all together), in float32 as the app runs it."""
    model, x = random_input_model(cell)
    gf = gradient_flow(model, x)
    q, d0, w = gf._jac_parts[0]
    got = spectral_norms(q, d0, w, deflate=deflate)
    exact = autograd_svd_norms(model, gf.trace)
    assert len(np.unique(q, axis=0)) == len(x)  # the premise: every step's Jacobian differs
    np.testing.assert_allclose(got, exact, rtol=RTOL_FLOAT32)


@pytest.mark.parametrize("cell", ["rnn", "gru", "leaky"])
def test_deflating_solver_with_clustered_singular_values(cell):
    model, x = random_input_model(cell, hidden=64, scheme="orthogonal")
    gf = gradient_flow(model, x)
    exact = autograd_svd_norms(model, gf.trace)
    np.testing.assert_allclose(gf.jacobian[0, 0], exact, rtol=RTOL_CLUSTERED)


def test_deflating_solver_skips_converged_steps():
    """The point of deflating: fewer row products than lockstep, for the same values. Counted, not timed."""
    model, x = random_input_model("lstm", hidden=64)
    q, d0, w = gradient_flow(model, x)._jac_parts[0]
    rows = {}
    for deflate in (True, False):
        count = []
        original = torch.Tensor.__matmul__

        def counting(a, b, count=count, original=original):
            count.append(a.shape[0])
            return original(a, b)

        torch.Tensor.__matmul__ = counting
        try:
            rows[deflate] = (spectral_norms(q, d0, w, deflate=deflate), sum(count))
        finally:
            torch.Tensor.__matmul__ = original
    np.testing.assert_allclose(rows[True][0], rows[False][0], rtol=RTOL_FLOAT32)
    assert rows[True][1] < rows[False][1]
